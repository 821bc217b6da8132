"""Start, stop and query a local Neo4j 5.26 Community server without Docker.

The server is Neo4j embedded in a small Java launcher (``src/main/java/kgrec/neo4j/Launcher.java``)
whose dependencies Maven fetches from Maven Central (``pom.xml``, exact versions). :func:`build`
puts the compiled launcher and the jars in ``<cache_root>/neo4j-<hash>/`` (outside the clone,
keyed by the hash of ``pom.xml`` and the Java sources) and does nothing when that is already there.

A server lives in a *home* folder: ``data/`` (the databases), ``logs/`` (Neo4j's own logs and
``launcher.log``, the JVM's stdout/stderr), ``tmp/`` (the JVM's temporary files) and
``server.json`` (mode 0600: pid, ports, user and password). It listens on 127.0.0.1 only, with
authentication on. On a fresh home the initial password of user ``neo4j`` is set (generated with
:mod:`secrets` unless given) before the first start, and later starts on the same home reuse
it and keep the data. The JVM runs in its own session, so it outlives the Python process that
started it; :func:`stop` ends it cleanly.

Stdlib only; configuration comes in through arguments, never from environment variables
(``JAVA_HOME`` and ``PATH`` are only used to find ``java``, ``javac`` and ``mvn``).
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

__all__ = [
    "NEO4J_VERSION",
    "ServerInfo",
    "Neo4jServerError",
    "java_available",
    "build",
    "start",
    "stop",
    "status",
    "default_cache_root",
]

NEO4J_VERSION = "5.26.30"
USER = "neo4j"
LAUNCHER_CLASS = "kgrec.neo4j.Launcher"
MIN_JAVA = 17
MIN_PASSWORD_LENGTH = 8  # Neo4j's dbms.security.auth_minimum_password_length default

_PROJECT_DIR = Path(__file__).resolve().parent
_POM = _PROJECT_DIR / "pom.xml"
_SRC = _PROJECT_DIR / "src"
_STATE_FILE = "server.json"
_LOG_FILE = "launcher.log"

# -Xms = -Xmx keeps the heap from growing; the page cache (128 MiB, set in Launcher.java) is
# off-heap.
# The --add-opens flags are the ones Neo4j's own start script passes.
JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+ExitOnOutOfMemoryError",
    "-Dfile.encoding=UTF-8",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Dlog4j2.disable.jmx=true",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
)

Progress = Callable[[str], object]


class Neo4jServerError(RuntimeError):
    """The local Neo4j server could not be built, started or stopped; says what to do."""


@dataclass(frozen=True)
class ServerInfo:
    home: Path
    pid: int
    uri: str  # "bolt://127.0.0.1:PORT"
    user: str
    password: str = field(repr=False)
    bolt_port: int
    http_port: int | None
    browser: bool = True

    @property
    def browser_url(self) -> str | None:
        if self.http_port and self.browser:
            return f"http://127.0.0.1:{self.http_port}/browser/"
        return None

    @property
    def auth(self) -> tuple[str, str]:
        return (self.user, self.password)


def default_cache_root() -> Path:
    return Path.home() / ".cache" / "kgrec"


# --------------------------------------------------------------------------- tools


def _java_home_bin(name: str) -> str | None:
    # JAVA_HOME is read only to locate the JDK, as the brief allows.
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def _tool(name: str) -> str:
    path = _java_home_bin(name) if name in ("java", "javac") else shutil.which(name)
    if path is None:
        hint = {
            "java": f"java not found: install OpenJDK {MIN_JAVA} "
            "(e.g. apt-get install openjdk-17-jdk-headless)",
            "javac": f"javac not found: install the OpenJDK {MIN_JAVA} JDK, not only the JRE "
            "(e.g. apt-get install openjdk-17-jdk-headless)",
            "mvn": "mvn not found: install Maven 3.8+ (e.g. apt-get install maven); it fetches "
            "Neo4j from Maven Central on the first build",
        }[name]
        raise Neo4jServerError(hint)
    return path


def java_available() -> bool:
    """True when java, javac and mvn are on PATH (or java/javac under JAVA_HOME)."""
    return all(
        (_java_home_bin(n) if n != "mvn" else shutil.which(n)) is not None
        for n in ("java", "javac", "mvn")
    )


@functools.lru_cache(maxsize=None)
def _java_major(java: str) -> int:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.SubprocessError) as exc:
        raise Neo4jServerError(f"could not run {java} -version: {exc}") from exc
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        raise Neo4jServerError(
            f"could not read the Java version from `{java} -version`: {out.strip()}"
        )
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


def _check_java(java: str) -> None:
    major = _java_major(java)
    if major < MIN_JAVA:
        raise Neo4jServerError(
            f"{java} is Java {major}; Neo4j {NEO4J_VERSION} needs Java {MIN_JAVA} or 21: "
            f"install OpenJDK {MIN_JAVA} and put it first on PATH (or set JAVA_HOME)"
        )


# --------------------------------------------------------------------------- build


def _source_files() -> list[Path]:
    return [_POM] + sorted(p for p in _SRC.rglob("*") if p.is_file())


def _build_hash() -> str:
    h = hashlib.sha256()
    for path in _source_files():
        h.update(path.relative_to(_PROJECT_DIR).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def _build_dir(cache_root: Path) -> Path:
    return Path(cache_root).expanduser().resolve() / f"neo4j-{_build_hash()}"


_LAUNCHER_JAR = "kgrec-neo4j-launcher.jar"


def _classpath(build_dir: Path) -> list[Path]:
    return (
        [build_dir / _LAUNCHER_JAR]
        + sorted((build_dir / "lib").glob("*.jar"))
        + sorted((build_dir / "browser").glob("*.jar"))
    )


def _classpath_arg(build_dir: Path, browser: bool) -> str:
    # Wildcards keep the command line short; the JVM expands them (same order every time,
    # which the class-data-sharing archive relies on: its classpath must be a prefix of this one).
    cp = [str(build_dir / _LAUNCHER_JAR), str(build_dir / "lib" / "*")]
    if browser:
        cp.append(str(build_dir / "browser" / "*"))
    return os.pathsep.join(cp)


def _jvm_cmd(
    java: str, build_dir: Path, heap: str, browser: bool, extra: tuple[str, ...] = ()
) -> list[str]:
    return [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        *JVM_FLAGS,
        *extra,
        "-cp",
        _classpath_arg(build_dir, browser),
        LAUNCHER_CLASS,
    ]


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _run_tool(cmd: list[str], what: str, cwd: Path) -> None:
    try:
        proc = subprocess.run(
            cmd, cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=1800
        )
    except subprocess.TimeoutExpired as exc:
        raise Neo4jServerError(f"{what} took more than 30 minutes: {' '.join(cmd)}") from exc
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-30:])
        raise Neo4jServerError(
            f"{what} failed (exit code {proc.returncode}). The first build needs Maven Central "
            f"(https://repo.maven.apache.org) to be reachable; check the proxy settings in "
            f"~/.m2/settings.xml if it is not.\ncommand: {' '.join(cmd)}\n{tail}"
        )


def _compile(build_dir: Path, progress: Progress | None) -> None:
    java, javac, mvn = _tool("java"), _tool("javac"), _tool("mvn")
    _check_java(java)
    if progress:
        progress(
            f"kgrec: building the Neo4j {NEO4J_VERSION} launcher into {build_dir} "
            "(first run: Maven downloads about 140 MB from Maven Central)"
        )
    t0 = time.monotonic()
    tmp = build_dir.parent / f".{build_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    (tmp / "classes").mkdir(parents=True)
    try:
        # -f points Maven at pom.xml in the package; it writes only under -DoutputDirectory
        # (and ~/.m2), never a target/ folder next to the pom.
        _run_tool(
            [
                mvn,
                "-q",
                "-B",
                "-f",
                str(_POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={tmp / 'lib'}",
                "-DincludeScope=runtime",
            ],
            "Maven (fetching Neo4j jars)",
            cwd=tmp,
        )
        (tmp / "browser").mkdir()
        for jar in (tmp / "lib").glob("neo4j-browser-*.jar"):
            jar.rename(tmp / "browser" / jar.name)
        sources = [str(p) for p in sorted(_SRC.rglob("*.java"))]
        _run_tool(
            [
                javac,
                "--release",
                str(MIN_JAVA),
                "-nowarn",
                "-d",
                str(tmp / "classes"),
                "-cp",
                str(tmp / "lib" / "*"),
                *sources,
            ],
            "javac (compiling the Neo4j launcher)",
            cwd=tmp,
        )
        # A jar, not a folder: class-data-sharing archives accept only jars on the classpath.
        with zipfile.ZipFile(tmp / _LAUNCHER_JAR, "w", zipfile.ZIP_DEFLATED) as jar:
            for cls in sorted((tmp / "classes").rglob("*")):
                if cls.is_file():
                    jar.write(cls, cls.relative_to(tmp / "classes").as_posix())
        shutil.rmtree(tmp / "classes")
        (tmp / ".complete").write_text(f"neo4j {NEO4J_VERSION}\n")
        shutil.rmtree(build_dir, ignore_errors=True)  # an incomplete earlier attempt
        tmp.rename(build_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if progress:
        progress(f"kgrec: Neo4j launcher built in {time.monotonic() - t0:.1f} s")


def _cds_key(java: str) -> str:
    """Identifies the JVM a class-data-sharing archive was made with (no subprocess needed)."""
    real = Path(java).resolve()
    h = hashlib.sha256(str(real).encode())
    for candidate in (real.parent.parent / "lib" / "server" / "libjvm.so", real):
        with contextlib.suppress(OSError):
            st = candidate.stat()
            h.update(f"{candidate}:{st.st_size}:{st.st_mtime_ns}".encode())
            break
    return h.hexdigest()[:12]


def _cds_archive(build_dir: Path, java: str) -> Path:
    return build_dir / f"cds-{_cds_key(java)}.jsa"


def _cds_pending(build_dir: Path, java: str) -> bool:
    archive = _cds_archive(build_dir, java)
    return not archive.exists() and not archive.with_suffix(".failed").exists()


def _make_cds(build_dir: Path, java: str, progress: Progress | None, heap: str = "512m") -> None:
    """Record a class-data-sharing archive of a warmed-up start (Neo4j then starts ~35% faster).

    Once per build and JVM: the launcher starts on a throwaway home, runs a few typical queries
    and exits, and the JVM dumps the classes it loaded. On failure, a ``.failed`` note is left
    (and servers start without the archive).
    """
    archive = _cds_archive(build_dir, java)
    if progress:
        progress("kgrec: recording a class-data-sharing archive for faster Neo4j starts (once)")
    t0 = time.monotonic()
    train_home = build_dir / f".cds-train-{os.getpid()}"
    tmp_archive = build_dir / f".{archive.name}.tmp-{os.getpid()}"
    shutil.rmtree(train_home, ignore_errors=True)
    bolt, http = _free_ports(2)
    (train_home / "tmp").mkdir(parents=True)
    cmd = _jvm_cmd(
        java,
        build_dir,
        heap,
        browser=False,
        extra=(f"-XX:ArchiveClassesAtExit={tmp_archive}", f"-Djava.io.tmpdir={train_home / 'tmp'}"),
    )
    cmd += [str(train_home), str(bolt), str(http), "--warmup-and-exit"]
    try:
        proc = subprocess.run(
            cmd,
            input=b"warmup-" + secrets.token_hex(8).encode() + b"\n",
            capture_output=True,
            timeout=600,
            cwd=build_dir,
        )
        output = (proc.stdout + proc.stderr).decode(errors="replace")
        if proc.returncode == 0 and tmp_archive.exists() and "READY" in output:
            tmp_archive.rename(archive)
            if progress:
                progress(
                    f"kgrec: class-data-sharing archive recorded in {time.monotonic() - t0:.1f} s"
                )
            return
        note = f"exit code {proc.returncode}\n{output[-4000:]}"
    except (OSError, subprocess.SubprocessError) as exc:
        note = repr(exc)
    finally:
        shutil.rmtree(train_home, ignore_errors=True)
        with contextlib.suppress(OSError):
            tmp_archive.unlink()
    archive.with_suffix(".failed").write_text(note)
    if progress:
        progress(
            "kgrec: no class-data-sharing archive (Neo4j starts a little slower); see "
            f"{archive.with_suffix('.failed')}"
        )


def build(cache_root: Path, *, progress: Progress | None = None, cds: bool = True) -> list[Path]:
    """Build the launcher (once) and return its classpath entries.

    In ``<cache_root>/neo4j-<hash>/``: ``kgrec-neo4j-launcher.jar``, ``lib/*.jar`` (Neo4j and
    its dependencies), ``browser/*.jar`` (Neo4j Browser, kept apart so it can be left off) and,
    with ``cds``, a class-data-sharing archive for the current JVM. A no-op when all that is
    there; concurrent builds wait for each other.
    """
    build_dir = _build_dir(cache_root)
    done = build_dir / ".complete"
    java = _tool("java") if cds else None
    if done.exists() and not (java and _cds_pending(build_dir, java)):
        return _classpath(build_dir)
    with _flock(build_dir.parent / f".lock-{build_dir.name}"):
        if not done.exists():
            _compile(build_dir, progress)
        if java and _cds_pending(build_dir, java):
            _make_cds(build_dir, java, progress)
    return _classpath(build_dir)


# --------------------------------------------------------------------------- processes


_CHILDREN: dict[int, subprocess.Popen] = {}  # servers started by this process (to reap them)


def _pid_alive(pid: int) -> bool:
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie still answers kill(pid, 0)
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def _launcher_args(argv: list[str], home: Path) -> list[str] | None:
    """The Launcher's own arguments (HOME BOLT [HTTP]) if argv runs it on ``home``."""
    if LAUNCHER_CLASS not in argv:
        return None
    args = argv[argv.index(LAUNCHER_CLASS) + 1 :]
    return args if args and args[0] == str(home) else None


def _is_launcher(pid: int, home: Path) -> bool:
    if not _pid_alive(pid):
        return False
    argv = _cmdline(pid)
    if argv is None:  # no /proc (not Linux): trust the pid
        return not Path("/proc/self").exists()
    return _launcher_args(argv, home) is not None


def _find_launchers(home: Path) -> list[tuple[int, list[str]]]:
    """Launcher processes running on ``home`` (Linux: scans /proc)."""
    found = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        argv = _cmdline(int(entry.name))
        args = _launcher_args(argv, home) if argv else None
        if args is not None and _pid_alive(int(entry.name)):
            found.append((int(entry.name), args))
    return found


def _wait_exit(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _pid_alive(pid):
            _CHILDREN.pop(pid, None)
            return True
        time.sleep(0.05)
    return not _pid_alive(pid)


def _terminate(pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_exit(pid, timeout):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)  # the launcher leads its own session
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        _wait_exit(pid, 10)
    _CHILDREN.pop(pid, None)


# --------------------------------------------------------------------------- network


def _bolt_answers(port: int, timeout: float = 1.0) -> bool:
    """True when 127.0.0.1:port completes a Bolt handshake (no authentication needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            # magic, then 4 proposals: 5.0-5.8, 4.4, 4.3, 3
            sock.sendall(
                b"\x60\x60\xb0\x17"
                b"\x00\x08\x08\x05"
                b"\x00\x00\x04\x04"
                b"\x00\x00\x03\x04"
                b"\x00\x00\x00\x03"
            )
            reply = b""
            while len(reply) < 4:
                chunk = sock.recv(4 - len(reply))
                if not chunk:
                    return False
                reply += chunk
            return reply != b"\x00\x00\x00\x00"
    except OSError:
        return False


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_ports(n: int) -> list[int]:
    socks = []
    try:
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


# --------------------------------------------------------------------------- state


def _state_path(home: Path) -> Path:
    return home / _STATE_FILE


def _read_state(home: Path) -> dict:
    try:
        state = json.loads(_state_path(home).read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(home: Path, state: dict) -> None:
    tmp = home / f".{_STATE_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(state, fh, indent=2, sort_keys=True)
        fh.write("\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, _state_path(home))


def _info(home: Path, state: dict, pid: int) -> ServerInfo:
    return ServerInfo(
        home=home,
        pid=pid,
        uri=f"bolt://127.0.0.1:{state['bolt_port']}",
        user=state.get("user", USER),
        password=state.get("password", ""),
        bolt_port=int(state["bolt_port"]),
        http_port=int(state["http_port"]) if state.get("http_port") else None,
        browser=bool(state.get("browser", True)),
    )


def _running(home: Path, state: dict) -> tuple[int, dict] | None:
    """(pid, state) of a live launcher on ``home``; state ports corrected from its command line."""
    pid = state.get("pid")
    if isinstance(pid, int) and _is_launcher(pid, home):
        return pid, state
    for pid, args in _find_launchers(home):  # server.json lost or stale, server still up
        fixed = dict(state, pid=pid, bolt_port=int(args[1]) if len(args) > 1 else None)
        fixed["http_port"] = int(args[2]) if len(args) > 2 and args[2] != "0" else None
        if fixed["bolt_port"]:
            return pid, fixed
    return None


def _tail(path: Path, n: int = 20, start: int = 0) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            lines = fh.read().decode(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:]) or "(empty)"


def _log_excerpt(home: Path, start: int) -> str:
    logs = home / "logs"
    return (
        f"--- last lines of {logs / _LOG_FILE} ---\n{_tail(logs / _LOG_FILE, 20, start)}\n"
        f"--- last lines of {logs / 'debug.log'} ---\n{_tail(logs / 'debug.log', 20)}"
    )


# --------------------------------------------------------------------------- API


def status(home: Path) -> ServerInfo | None:
    """The server running on ``home`` if its process is alive and Bolt answers, else None."""
    home = Path(home).expanduser().resolve()
    found = _running(home, _read_state(home))
    if found is None:
        return None
    pid, state = found
    if not state.get("bolt_port") or not _bolt_answers(int(state["bolt_port"])):
        return None
    return _info(home, state, pid)


def start(
    home: Path,
    *,
    cache_root: Path,
    bolt_port: int | None = None,
    http_port: int | None = None,
    browser: bool = True,
    password: str | None = None,
    timeout: float = 90,
    heap: str = "512m",
    quick_start: bool = False,
    cds: bool = True,
    progress: Progress | None = None,
) -> ServerInfo:
    """Start Neo4j on ``home`` (or return the server already running there) and wait for Bolt.

    Ports: free loopback ports when None (the previous ones when still free). ``http_port=0``
    or ``browser=False`` without an ``http_port``: no HTTP connector. ``browser=False`` with an
    ``http_port``: HTTP API without Neo4j Browser. ``password``: used on a fresh home (else one
    is generated); on an existing home it must match the one recorded in server.json.
    ``heap``: JVM heap (-Xms = -Xmx). ``quick_start``: C1 JIT only (-XX:TieredStopAtLevel=1),
    about 40% less CPU to start but slower long-running queries: good for tests, not benchmarks.
    ``cds``: use (and on the first build, record: ~20-30 s once) a class-data-sharing archive,
    about 30% less CPU to start.
    ``progress``: called with a line of text during the first (slow) build.
    """
    home = Path(home).expanduser().resolve()
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    if password is not None and (
        len(password) < MIN_PASSWORD_LENGTH or "\n" in password or "\r" in password
    ):
        raise Neo4jServerError(
            f"the Neo4j password must have at least {MIN_PASSWORD_LENGTH} characters and no "
            "line breaks"
        )

    with _flock(home / ".server.lock"):
        state = _read_state(home)
        found = _running(home, state)
        if found is not None:
            pid, state = found
            if password is not None and state.get("password") not in (None, password):
                raise Neo4jServerError(
                    f"a server is already running on {home} with a different password than the one "
                    "given: leave password unset to use the recorded one"
                )
            if password is not None:
                state = dict(state, password=password)
            deadline = time.monotonic() + timeout
            while not _bolt_answers(int(state["bolt_port"])):
                if not _pid_alive(pid):
                    break
                if time.monotonic() > deadline:
                    raise Neo4jServerError(
                        f"a Neo4j process (pid {pid}) is running on {home} but Bolt does not "
                        f"answer on port {state['bolt_port']}: stop it (kgrec neo4j stop, or "
                        f"kg.neo4j_local.stop(home)) and start again.\n{_log_excerpt(home, 0)}"
                    )
                time.sleep(0.2)
            else:
                if state.get("pid") != pid:
                    _write_state(home, state)
                return _info(home, state, pid)

        classpath = build(cache_root, progress=progress, cds=cds)
        java = _tool("java")
        _check_java(java)

        # Password: generated on a fresh home, recorded in server.json, reused afterwards.
        fresh = not (home / "data" / "databases" / "system").exists()
        recorded = state.get("password")
        if fresh:
            pw = password or recorded or secrets.token_urlsafe(18)
        elif recorded:
            if password is not None and password != recorded:
                raise Neo4jServerError(
                    f"{home} was initialised with another password (recorded in "
                    f"{_state_path(home)}); leave password unset, or delete the home folder to "
                    "start over with a new one"
                )
            pw = recorded
        elif password is not None:
            pw = password
        else:
            raise Neo4jServerError(
                f"the password of the existing database in {home} is unknown "
                f"({_state_path(home)} is missing): pass password=..., or delete the home "
                "folder to start over"
            )

        # Ports.
        want_http = http_port != 0 and (browser or http_port is not None)
        if bolt_port is not None and not _port_free(bolt_port):
            raise Neo4jServerError(
                f"Bolt port {bolt_port} on 127.0.0.1 is busy: stop what uses it, or pass another "
                "port (or none to pick a free one)"
            )
        if want_http and http_port is not None and not _port_free(http_port):
            raise Neo4jServerError(
                f"HTTP port {http_port} on 127.0.0.1 is busy: stop what uses it, or pass another "
                "port (or none to pick a free one)"
            )
        spare = iter(_free_ports(2))
        if bolt_port is None:
            prev = state.get("bolt_port")
            bolt_port = (
                prev if isinstance(prev, int) and prev != http_port and _port_free(prev) else None
            )
            bolt_port = bolt_port or next(p for p in spare if p != http_port)
        if want_http and http_port is None:
            prev = state.get("http_port")
            http_port = (
                prev if isinstance(prev, int) and prev != bolt_port and _port_free(prev) else None
            )
            http_port = http_port or next(p for p in spare if p != bolt_port)
        if not want_http:
            http_port = None
        if http_port is not None and http_port == bolt_port:
            raise Neo4jServerError(f"Bolt and HTTP cannot share port {bolt_port}")

        build_dir = classpath[0].parent
        extra = []
        if quick_start:
            extra.append("-XX:TieredStopAtLevel=1")
        archive = _cds_archive(build_dir, java)
        if cds and archive.exists():
            extra.append(f"-XX:SharedArchiveFile={archive}")
        # Jetty unpacks the Browser jar into java.io.tmpdir: keep that in the home (emptied
        # here, as no server runs on it now) rather than leaving folders in /tmp after a kill.
        tmpdir = home / "tmp"
        shutil.rmtree(tmpdir, ignore_errors=True)
        tmpdir.mkdir()
        extra.append(f"-Djava.io.tmpdir={tmpdir}")
        cmd = _jvm_cmd(java, build_dir, heap, browser, tuple(extra))
        cmd += [str(home), str(bolt_port), str(http_port or 0)]
        state = {
            "home": str(home),
            "pid": None,
            "uri": f"bolt://127.0.0.1:{bolt_port}",
            "user": USER,
            "password": pw,
            "bolt_port": bolt_port,
            "http_port": http_port,
            "browser": bool(browser and http_port),
            "neo4j_version": NEO4J_VERSION,
        }
        _write_state(home, state)  # before launching: a generated password is never lost

        log_path = logs / _LOG_FILE
        with open(log_path, "ab") as log:
            log.write(
                f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} kgrec: starting Neo4j {NEO4J_VERSION}: "
                f"bolt={bolt_port} http={http_port or 0}"
                f"{' (fresh home)' if fresh else ''}\n".encode()
            )
            log.flush()
            log_start = log.tell()
            t0 = time.monotonic()
            try:
                proc = subprocess.Popen(
                    cmd,
                    cwd=home,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,  # outlives this Python process; not hit by its Ctrl-C
                    close_fds=True,
                )
            except OSError as exc:
                raise Neo4jServerError(f"could not run {java}: {exc}") from exc
        _CHILDREN[proc.pid] = proc
        try:
            # The initial password goes through stdin, never on the command line.
            if fresh:
                proc.stdin.write(pw.encode() + b"\n")
            proc.stdin.close()
        except BrokenPipeError:
            pass
        state["pid"] = proc.pid
        state["started_at"] = time.time()
        _write_state(home, state)

        deadline = t0 + timeout
        while True:
            rc = proc.poll()
            if rc is not None:
                _CHILDREN.pop(proc.pid, None)
                _write_state(home, dict(state, pid=None))
                excerpt = _log_excerpt(home, log_start)
                hint = ""
                if "Address already in use" in excerpt or "BindException" in excerpt:
                    hint = (
                        f" A port is busy (bolt {bolt_port}, http {http_port}): pass other ports."
                    )
                elif "StoreLockException" in excerpt or "Unable to get a lock" in excerpt:
                    hint = " Another Neo4j process holds this home's store lock: stop it first."
                raise Neo4jServerError(
                    f"Neo4j exited with code {rc} while starting on {home}.{hint}\n{excerpt}"
                )
            if "READY" in _tail(log_path, 50, log_start) and _bolt_answers(bolt_port):
                break
            if time.monotonic() > deadline:
                _terminate(proc.pid, 10)
                _write_state(home, dict(state, pid=None))
                raise Neo4jServerError(
                    f"Neo4j did not answer on bolt://127.0.0.1:{bolt_port} within {timeout:.0f} s "
                    f"and was stopped; pass a larger timeout if the machine is slow.\n"
                    f"{_log_excerpt(home, log_start)}"
                )
            time.sleep(0.1)
        state["ready_s"] = round(time.monotonic() - t0, 2)
        _write_state(home, state)
        return _info(home, state, proc.pid)


def stop(home: Path, *, timeout: float = 30) -> bool:
    """Stop the server on ``home``: SIGTERM (clean shutdown), SIGKILL after ``timeout`` seconds.

    Clears the pid in server.json (the password stays). True if a server was stopped.
    """
    home = Path(home).expanduser().resolve()
    state = _read_state(home)
    stopped = False
    for _ in range(3):  # the recorded pid, then any launcher on this home found in /proc
        found = _running(home, state)
        if found is None:
            break
        pid = found[0]
        _terminate(pid, timeout)
        if _pid_alive(pid):
            raise Neo4jServerError(f"could not stop Neo4j (pid {pid}) on {home}, even with SIGKILL")
        stopped = True
        state = dict(state, pid=None)
    if state.get("pid") is not None or (stopped and _state_path(home).exists()):
        _write_state(home, dict(state, pid=None))
    return stopped

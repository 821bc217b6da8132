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

The work is split by concern: :mod:`.jvm` (finding Java and Maven, the JVM command line),
:mod:`.build` and :mod:`.cds` (the build), :mod:`.process` and :mod:`.ports` (processes,
ports, the Bolt handshake), :mod:`.home` (the home's files) and :mod:`.launch` (running the
JVM until Neo4j is ready); this module ties them together and is the API callers use.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from .build import Progress, build, default_cache_root
from .cds import cds_archive
from .errors import Neo4jServerError
from .home import choose_password, log_excerpt, read_state, state_path, write_state
from .jvm import NEO4J_VERSION, check_java, java_available, jvm_cmd, tool
from .launch import launch
from .ports import bolt_answers, choose_ports
from .process import file_lock, find_running, pid_alive, terminate

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

USER = "neo4j"
MIN_PASSWORD_LENGTH = 8  # Neo4j's dbms.security.auth_minimum_password_length default


@dataclass(frozen=True)
class ServerInfo:
    """A running server: where it lives, how to reach it, how to log in (password not in repr)."""

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
        """Neo4j Browser's address, or None when the server has no HTTP connector or Browser."""
        if self.http_port and self.browser:
            return f"http://127.0.0.1:{self.http_port}/browser/"
        return None

    @property
    def auth(self) -> tuple[str, str]:
        """``(user, password)``, as the Neo4j driver's ``auth`` argument."""
        return (self.user, self.password)


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


def status(home: Path) -> ServerInfo | None:
    """The server running on ``home`` if its process is alive and Bolt answers, else None."""
    home = Path(home).expanduser().resolve()
    found = find_running(home, read_state(home))
    if found is None:
        return None
    pid, state = found
    if not state.get("bolt_port") or not bolt_answers(int(state["bolt_port"])):
        return None
    return _info(home, state, pid)


def _attach(
    home: Path, pid: int, state: dict, password: str | None, timeout: float
) -> ServerInfo | None:
    """The server already running on ``home`` once Bolt answers; None if the process exits."""
    if password is not None and state.get("password") not in (None, password):
        raise Neo4jServerError(
            f"a server is already running on {home} with a different password than the one "
            "given: leave password unset to use the recorded one"
        )
    if password is not None:
        state = dict(state, password=password)
    deadline = time.monotonic() + timeout
    while not bolt_answers(int(state["bolt_port"])):
        if not pid_alive(pid):
            return None
        if time.monotonic() > deadline:
            raise Neo4jServerError(
                f"a Neo4j process (pid {pid}) is running on {home} but Bolt does not "
                f"answer on port {state['bolt_port']}: stop it (kgrec neo4j stop, or "
                f"kg.neo4j_local.stop(home)) and start again.\n{log_excerpt(home, 0)}"
            )
        time.sleep(0.2)
    if state.get("pid") != pid:
        write_state(home, state)
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

    Args:
        home: the server's home folder (created if missing).
        cache_root: where the launcher is built (see :func:`build`).
        bolt_port: Bolt port; None for a free loopback port (the previous one when still free).
        http_port: HTTP port; None as for ``bolt_port``, 0 for no HTTP connector.
        browser: serve Neo4j Browser. ``browser=False`` without an ``http_port``: no HTTP
            connector; with an ``http_port``: HTTP API without Neo4j Browser.
        password: used on a fresh home (else one is generated); on an existing home it must
            match the one recorded in server.json.
        timeout: seconds to wait for Bolt to answer.
        heap: JVM heap (-Xms = -Xmx).
        quick_start: C1 JIT only (-XX:TieredStopAtLevel=1), about 40% less CPU to start but
            slower long-running queries: good for tests, not benchmarks.
        cds: use (and on the first build, record: ~20-30 s once) a class-data-sharing archive,
            about 30% less CPU to start.
        progress: called with a line of text during the first (slow) build.

    Returns:
        The running server.

    Raises:
        Neo4jServerError: bad password, busy port, failed build, or the server exited or did
            not answer in time (the message holds the end of its logs).
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

    with file_lock(home / ".server.lock"):
        state = read_state(home)
        found = find_running(home, state)
        if found is not None:
            pid, state = found
            info = _attach(home, pid, state, password, timeout)
            if info is not None:
                return info

        classpath = build(cache_root, progress=progress, cds=cds)
        java = tool("java")
        check_java(java)
        fresh = not (home / "data" / "databases" / "system").exists()
        pw = choose_password(home, state, password, fresh)
        bolt_port, http_port = choose_ports(state, bolt_port, http_port, browser)

        build_dir = classpath[0].parent
        extra = []
        if quick_start:
            extra.append("-XX:TieredStopAtLevel=1")
        archive = cds_archive(build_dir, java)
        if cds and archive.exists():
            extra.append(f"-XX:SharedArchiveFile={archive}")
        # Jetty unpacks the Browser jar into java.io.tmpdir: keep that in the home (emptied
        # here, as no server runs on it now) rather than leaving folders in /tmp after a kill.
        tmpdir = home / "tmp"
        shutil.rmtree(tmpdir, ignore_errors=True)
        tmpdir.mkdir()
        extra.append(f"-Djava.io.tmpdir={tmpdir}")
        cmd = jvm_cmd(java, build_dir, heap, browser, tuple(extra))
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
        write_state(home, state)  # before launching: a generated password is never lost

        state = launch(cmd, home, state, fresh, timeout)
        return _info(home, state, state["pid"])


def stop(home: Path, *, timeout: float = 30) -> bool:
    """Stop the server on ``home``: SIGTERM (clean shutdown), SIGKILL after ``timeout`` seconds.

    Clears the pid in server.json (the password stays).

    Args:
        home: the server's home folder.
        timeout: seconds to wait for a clean shutdown before SIGKILL.

    Returns:
        True if a server was stopped, False if none ran on ``home``.

    Raises:
        Neo4jServerError: the process survived SIGKILL.
    """
    home = Path(home).expanduser().resolve()
    state = read_state(home)
    stopped = False
    for _ in range(3):  # the recorded pid, then any launcher on this home found in /proc
        found = find_running(home, state)
        if found is None:
            break
        pid = found[0]
        terminate(pid, timeout)
        if pid_alive(pid):
            raise Neo4jServerError(f"could not stop Neo4j (pid {pid}) on {home}, even with SIGKILL")
        stopped = True
        state = dict(state, pid=None)
    if state.get("pid") is not None or (stopped and state_path(home).exists()):
        write_state(home, dict(state, pid=None))
    return stopped

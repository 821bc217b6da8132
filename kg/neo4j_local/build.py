"""Building the Neo4j launcher once: Maven fetches the jars, javac compiles, a jar is written.

The build goes to ``<cache_root>/neo4j-<hash>/`` (outside the clone), keyed by the hash of
``pom.xml`` and the Java sources next to this module, and is skipped when already there.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import zipfile
from pathlib import Path
from typing import Callable

from .cds import cds_pending, make_cds
from .errors import Neo4jServerError
from .jvm import LAUNCHER_JAR, MIN_JAVA, NEO4J_VERSION, check_java, tool
from .process import file_lock

Progress = Callable[[str], object]

_PROJECT_DIR = Path(__file__).resolve().parent
_POM = _PROJECT_DIR / "pom.xml"
_SRC = _PROJECT_DIR / "src"


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


def _classpath(build_dir: Path) -> list[Path]:
    return (
        [build_dir / LAUNCHER_JAR]
        + sorted((build_dir / "lib").glob("*.jar"))
        + sorted((build_dir / "browser").glob("*.jar"))
    )


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
    java, javac, mvn = tool("java"), tool("javac"), tool("mvn")
    check_java(java)
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
        with zipfile.ZipFile(tmp / LAUNCHER_JAR, "w", zipfile.ZIP_DEFLATED) as jar:
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


def build(cache_root: Path, *, progress: Progress | None = None, cds: bool = True) -> list[Path]:
    """Build the launcher (once) and return its classpath entries.

    In ``<cache_root>/neo4j-<hash>/``: ``kgrec-neo4j-launcher.jar``, ``lib/*.jar`` (Neo4j and
    its dependencies), ``browser/*.jar`` (Neo4j Browser, kept apart so it can be left off) and,
    with ``cds``, a class-data-sharing archive for the current JVM. A no-op when all that is
    there; concurrent builds wait for each other.

    Args:
        cache_root: folder that holds the builds (e.g. :func:`default_cache_root`).
        progress: called with a line of text during the first (slow) build.
        cds: also record the class-data-sharing archive (once, ~20-30 s).

    Returns:
        The launcher jar, then the Neo4j jars, then the Neo4j Browser jars.

    Raises:
        Neo4jServerError: java, javac or mvn is missing or too old, or a build step failed.
    """
    build_dir = _build_dir(cache_root)
    done = build_dir / ".complete"
    java = tool("java") if cds else None
    if done.exists() and not (java and cds_pending(build_dir, java)):
        return _classpath(build_dir)
    with file_lock(build_dir.parent / f".lock-{build_dir.name}"):
        if not done.exists():
            _compile(build_dir, progress)
        if java and cds_pending(build_dir, java):
            make_cds(build_dir, java, progress)
    return _classpath(build_dir)


def default_cache_root() -> Path:
    """``~/.cache/kgrec``: where builds go unless the caller says otherwise."""
    return Path.home() / ".cache" / "kgrec"

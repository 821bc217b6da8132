"""The class-data-sharing archive that makes the launcher's JVM start about 30% faster."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Callable

from .jvm import jvm_cmd
from .ports import free_ports


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


def cds_archive(build_dir: Path, java: str) -> Path:
    """Path of the archive for this build and JVM (it may not exist)."""
    return build_dir / f"cds-{_cds_key(java)}.jsa"


def cds_pending(build_dir: Path, java: str) -> bool:
    """True when neither the archive nor a note of a failed attempt exists yet."""
    archive = cds_archive(build_dir, java)
    return not archive.exists() and not archive.with_suffix(".failed").exists()


def make_cds(
    build_dir: Path, java: str, progress: Callable[[str], object] | None, heap: str = "512m"
) -> None:
    """Record a class-data-sharing archive of a warmed-up start (Neo4j then starts ~35% faster).

    Once per build and JVM: the launcher starts on a throwaway home, runs a few typical queries
    and exits, and the JVM dumps the classes it loaded. On failure, a ``.failed`` note is left
    (and servers start without the archive).

    Args:
        build_dir: a complete build folder.
        java: path of the ``java`` executable the servers will run on.
        progress: called with a line of text before and after (or None).
        heap: JVM heap size of the warm-up run.
    """
    archive = cds_archive(build_dir, java)
    if progress:
        progress("kgrec: recording a class-data-sharing archive for faster Neo4j starts (once)")
    t0 = time.monotonic()
    train_home = build_dir / f".cds-train-{os.getpid()}"
    tmp_archive = build_dir / f".{archive.name}.tmp-{os.getpid()}"
    shutil.rmtree(train_home, ignore_errors=True)
    bolt, http = free_ports(2)
    (train_home / "tmp").mkdir(parents=True)
    cmd = jvm_cmd(
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

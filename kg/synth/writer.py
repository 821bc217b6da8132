"""Writing the generated files: under temporary names, renamed into place once all are complete."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any


def write_atomically(
    out_dir: Path, writers: Sequence[tuple[str, bool, Callable[[IO[Any]], Any]]]
) -> list[Any]:
    """Write files into ``out_dir``, replacing existing files of the same names only at the end.

    Each file is written, in order, to a temporary file in ``out_dir``; only once all are
    complete are they made readable (mode 0644) and renamed into place. On any error (or
    interruption) the temporary files are removed and the existing files are left untouched.

    Args:
        out_dir: an existing folder.
        writers: ``(file name, binary, write)``: ``write`` gets the open file (bytes when
            ``binary``, else UTF-8 text with ``\\n`` line ends) and returns a result.

    Returns:
        The results of the ``write`` functions, in order.
    """
    results: list[Any] = []
    tmp_paths: list[str] = []
    try:
        for name, binary, write in writers:
            fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
            tmp_paths.append(tmp)
            if binary:
                f = os.fdopen(fd, "wb")
            else:
                f = os.fdopen(fd, "w", encoding="utf-8", newline="\n")
            with f:
                results.append(write(f))
        for tmp in tmp_paths:
            os.chmod(tmp, 0o644)
        for tmp, (name, _, _) in zip(tmp_paths, writers):
            os.replace(tmp, out_dir / name)
        tmp_paths.clear()
    finally:
        for tmp in tmp_paths:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
    return results


def progress_bar(enabled: bool, total: int, desc: str, unit: str) -> Any:
    """A tqdm progress bar when ``enabled``, else None."""
    if not enabled:
        return None
    from tqdm import tqdm  # imported lazily: only needed for progress bars

    return tqdm(total=total, desc=desc, unit=unit, unit_scale=True, leave=False)

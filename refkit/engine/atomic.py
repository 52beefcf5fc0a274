"""Write a file so that a reader, or a process killed half-way, never sees half of it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["write_atomic"]


def write_atomic(path: Path, text: str | bytes, *, durable: bool = False) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder, then rename it.

    Args:
        path: The file to write; its folder is created when missing.
        text: The whole new content: text, written as UTF-8, or bytes, written as they are.
        durable: Also ``fsync`` before the rename, so the entry survives a power cut (for
            caches that are read back as input).

    Returns:
        ``path``.

    Raises:
        OSError: The folder or file cannot be written; the old file, if any, is left whole.

    Examples:
        >>> folder = Path(tempfile.mkdtemp())
        >>> write_atomic(folder / "a" / "b.txt", "hello").read_text()
        'hello'
        >>> sorted(p.name for p in (folder / "a").iterdir())  # no temporary file left behind
        ['b.txt']
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        data = text.encode("utf-8") if isinstance(text, str) else text
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        Path(temp_name).replace(path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return path

"""Files written whole or not at all: a temporary file beside the target, flushed to disk, then renamed over it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["replacing", "write_whole"]


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write; when the block ends without error it replaces ``path``.

    The temporary file is synced to disk before the rename, so after a crash or a
    power cut ``path`` holds either its old content or the whole new one. On an
    error the temporary file is removed and ``path`` is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield temporary
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        temporary.replace(path)
    finally:
        temporary.unlink(missing_ok=True)


def write_whole(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` (UTF-8) through ``replacing``: never seen half-written."""
    with replacing(path) as temporary:
        temporary.write_text(text, encoding="utf-8")

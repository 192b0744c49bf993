"""The unit of work: one file in, one result out.

``read_file`` reads a file's pages and splits them into forms; extraction of
the forms' fields builds on it (the extractors are the next stage).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from pydantic import BaseModel, Field

from pipeline.exceptions import NoFormFoundError
from pipeline.ingest import read_pages
from pipeline.page import Page
from pipeline.schema import Source
from pipeline.segment import FormSpan, segment_forms
from pipeline.settings import Settings

__all__ = ["Reading", "file_sha256", "read_file"]


class Reading(BaseModel):
    """What the page reader and the segmenter made of one file."""

    source: Source
    pages: list[Page]
    spans: list[FormSpan]
    seconds: float = Field(description="Wall time to read and segment the file")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_file(path: Path | str, settings: Settings | None = None) -> Reading:
    """Read every page of ``path`` and find its forms; a file with no form is an error."""
    settings = settings or Settings()
    path = Path(path)
    started = time.perf_counter()
    pages = read_pages(path, settings)
    spans = segment_forms(pages)
    if not spans:
        raise NoFormFoundError(
            f"no 绩效自评表 found in {len(pages)} page(s): no form title or form table was recognised", path=path
        )
    source = Source(file=path.name, sha256=file_sha256(path), pages=len(pages))
    return Reading(source=source, pages=pages, spans=spans, seconds=round(time.perf_counter() - started, 3))

"""The unit of work: one file in, one result out.

``read_file`` reads a file's pages and splits them into forms;
``extract_file`` goes on to rebuild the tables and fill every form with an
extractor, returning an ``Extraction`` (the Document plus provenance and findings).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import time
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from pipeline.checks import SourceText, check_form, source_text, status_of
from pipeline.compare import align_rows, match_funds, merge_forms
from pipeline.exceptions import ConfigurationError, JixiaoError, NoFormFoundError
from pipeline.extractors import get_extractor
from pipeline.extractors._rows import grids_of
from pipeline.extractors.layout import extract_form as layout_extract
from pipeline.ingest import read_pages
from pipeline.llm.usage import Usage
from pipeline.page import Page
from pipeline.result import Extraction, FormResult
from pipeline.schema import Document, Form, Source
from pipeline.segment import FormSpan, segment_forms
from pipeline.settings import Settings, check_settings
from pipeline.tables import Grid

if TYPE_CHECKING:
    from pipeline.llm.extractor import LlmExtractor  # imports openai and instructor: only when a model is used

__all__ = [
    "Outcome",
    "Reading",
    "extract_file",
    "extract_many",
    "extract_reading",
    "extract_reading_llm",
    "file_sha256",
    "read_file",
    "sources_for",
]


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


def _assemble(reading: Reading, grids: dict[int, list[Grid]], results: list[FormResult], extractor: str) -> Extraction:
    """The Extraction of a file from its forms' results: each form checked against its own pages.

    A form the extractor could not build is left out with its findings (under
    ``spans[i]``). ``status`` is ``needs_review`` when any finding is an error.
    """
    result = Extraction(source=reading.source, extractor=extractor)
    checking = 0.0
    for span, form_result in zip(reading.spans, results, strict=True):
        prefix = f"forms[{len(result.forms)}]"
        findings = list(form_result.findings)
        if form_result.form is None:
            prefix = f"spans[{span.index}]"
        else:
            result.forms.append(form_result.form)
            started = time.perf_counter()
            findings += check_form(form_result.form, source_text(reading.pages, span, grids))
            checking += time.perf_counter() - started
        result.provenance.update({f"{prefix}.{path}": src for path, src in form_result.provenance.items()})
        result.findings.extend(f.under(prefix) for f in findings)
    result.status = status_of(result.findings)
    result.seconds = {"read": reading.seconds, "checks": round(checking, 4)}
    return result


def extract_reading(reading: Reading, extractor: str = "layout") -> Extraction:
    """Fill every form of a read file with a model-free ``extractor`` (layout) and check it."""
    started = time.perf_counter()
    extract_form = get_extractor(extractor)
    grids = grids_of(reading.pages)
    tables = time.perf_counter()
    results = [extract_form(span, reading.pages, grids) for span in reading.spans]
    done = time.perf_counter()
    result = _assemble(reading, grids, results, extractor)
    result.seconds = {
        "read": reading.seconds,
        "tables": round(tables - started, 4),
        "extract": round(done - tables, 4),
        "checks": result.seconds["checks"],
    }
    return result


async def extract_reading_llm(reading: Reading, llm: LlmExtractor, hybrid: bool = False) -> Extraction:
    """Fill every form of a read file with the model (forms concurrently), or with both extractors (hybrid).

    Hybrid runs the layout extractor too and merges field by field: agreement is
    kept, disagreement becomes a finding with both values, and the value the checks
    and the page text support is kept (``pipeline.compare.merge_forms``).
    """
    started = time.perf_counter()
    grids = grids_of(reading.pages)
    tables = time.perf_counter()
    replies = await asyncio.gather(*(llm.extract_form(span, reading.pages, grids) for span in reading.spans))
    done = time.perf_counter()
    results = [reply for reply, _ in replies]
    if hybrid:
        results = [
            _hybrid(layout_extract(span, reading.pages, grids), reply, source_text(reading.pages, span, grids))
            for span, reply in zip(reading.spans, results, strict=True)
        ]
    name = f"{'hybrid' if hybrid else 'llm'}:{llm.model}"
    result = _assemble(reading, grids, results, name)
    usage = Usage()
    for _, form_usage in replies:
        usage = usage.add(form_usage)
    result.llm = llm.run.model_copy(update={"usage": usage})
    result.seconds = {
        "read": reading.seconds,
        "tables": round(tables - started, 4),
        "extract": round(time.perf_counter() - tables - result.seconds["checks"], 4),
        "model": round(done - tables, 4),
        "checks": result.seconds["checks"],
    }
    return result


def _hybrid(layout: FormResult, llm: FormResult, source: SourceText) -> FormResult:
    """One form from both extractors: the merge where both built one, else whichever did."""
    if layout.form is None or llm.form is None:
        chosen = llm if llm.form is not None else layout
        return FormResult(form=chosen.form, provenance=chosen.provenance, findings=layout.findings + llm.findings)
    form, findings = merge_forms(layout.form, llm.form, source)
    provenance = {}
    moves = _row_moves(layout.form, form)
    for path, src in layout.provenance.items():
        moved = _moved(path, moves)
        if moved is not None and _value_at(form, moved) == _value_at(layout.form, path):
            provenance[moved] = src
    layout_notes = [f for f in layout.findings if f.severity == "info"]
    return FormResult(form=form, provenance=provenance, findings=layout_notes + llm.findings + findings)


def _row_moves(before: Form, after: Form) -> dict[str, dict[int, int]]:
    """Where each layout row went in the merged form, aligned as the merge aligns them."""
    pairs = {
        "indicators": align_rows(before.indicators, after.indicators),
        "funds": match_funds(before.funds, after.funds),
    }
    return {group: {i: j for i, j in found if i is not None and j is not None} for group, found in pairs.items()}


def _moved(path: str, moves: dict[str, dict[int, int]]) -> str | None:
    """A layout field path in the merged form; None for a row the merge dropped."""
    row = re.match(r"(indicators|funds)\[(\d+)\]", path)
    if row is None:
        return path
    target = moves[row[1]].get(int(row[2]))
    return None if target is None else f"{row[1]}[{target}]{path[row.end() :]}"


_STEP = re.compile(r"([a-z_0-9]+)(?:\[(\d+)\])?")


def _value_at(form: Form, path: str) -> object:
    """The value at a field path such as ``indicators[3].score``; a path that leads nowhere gives a sentinel."""
    value: object = form
    for step in path.split("."):
        match = _STEP.fullmatch(step)
        if match is None or not hasattr(value, match[1]):
            return _NOWHERE
        value = getattr(value, match[1])
        if match[2] is not None:
            items = value if isinstance(value, list) else []
            index = int(match[2])
            if index >= len(items):
                return _NOWHERE
            value = items[index]
    return value


_NOWHERE = object()


@dataclass
class Outcome:
    """One file of ``extract_many``: its reading and result, or the error that stopped it."""

    path: Path
    reading: Reading | None = None
    result: Extraction | None = None
    error: JixiaoError | None = None


async def extract_many(
    paths: Sequence[Path], settings: Settings, llm: LlmExtractor | None = None
) -> AsyncIterator[Outcome]:
    """Extract many files, yielding each outcome in input order as soon as it and those before it are done.

    Without ``llm`` the layout extractor fills each file in a worker thread, one
    file at a time. With it, files are read one at a time in a thread while earlier
    files wait on the model, whose calls run concurrently (``settings.concurrency``);
    ``settings.chosen_extractor()`` says llm or hybrid. A file's own error (bad
    input, no form, the model failing it) is its outcome and the others go on; a
    ``ConfigurationError`` (a refused key, an unknown model) would fail every file
    alike, so it stops the run and is raised.
    """
    if llm is None:
        for path in paths:
            yield await _outcome(path, asyncio.to_thread(_read_and_extract, path, settings))
        return
    hybrid = settings.chosen_extractor() == "hybrid"
    reading_slot = asyncio.Semaphore(1)

    async def one(path: Path) -> tuple[Reading, Extraction]:
        async with reading_slot:
            reading = await asyncio.to_thread(read_file, path, settings)
        return reading, await extract_reading_llm(reading, llm, hybrid=hybrid)

    tasks = [asyncio.create_task(one(path)) for path in paths]
    try:
        for path, task in zip(paths, tasks, strict=True):
            yield await _outcome(path, task)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _read_and_extract(path: Path, settings: Settings) -> tuple[Reading, Extraction]:
    reading = read_file(path, settings)
    return reading, extract_reading(reading)


async def _outcome(path: Path, work: Awaitable[tuple[Reading, Extraction]]) -> Outcome:
    """The file's outcome: its result, or its own error; a configuration error is raised."""
    try:
        reading, result = await work
    except ConfigurationError:
        raise
    except JixiaoError as e:
        return Outcome(path, error=e)
    return Outcome(path, reading, result)


def extract_file(path: Path | str, settings: Settings | None = None) -> Extraction:
    """Read ``path``, find its forms, and fill them with the extractor ``settings`` choose: the whole job for one file.

    Without a configured model that is the layout extractor; with one, the LLM
    (or hybrid) extractor, in an event loop of its own. For many files, share one
    ``LlmExtractor`` and call ``extract_reading_llm`` instead.
    """
    settings = check_settings(settings or Settings())
    reading = read_file(path, settings)
    chosen = settings.chosen_extractor()
    if chosen == "layout":
        return extract_reading(reading)

    async def with_model() -> Extraction:
        from pipeline.llm.extractor import LlmExtractor

        async with LlmExtractor(settings) as llm:
            return await extract_reading_llm(reading, llm, hybrid=chosen == "hybrid")

    return asyncio.run(with_model())


def sources_for(
    document: Document, json_path: Path, source: Path | None = None, settings: Settings | None = None
) -> tuple[list[SourceText] | None, str | None]:
    """The page text of each form of ``document``, for grounding, and a note for the user if any.

    The source is ``source`` if given, else the file ``document.source.file``
    beside ``json_path`` when its SHA-256 matches. When the source holds as many
    forms as the document, form ``i`` is looked up in its own pages; otherwise
    each form in every page. No source found: None, and grounding is skipped.
    """
    note = None
    if source is None:
        candidate = json_path.parent / document.source.file
        if not candidate.is_file():
            return None, f"{document.source.file} is not beside the JSON; values not looked up (use --source)"
        if file_sha256(candidate) != document.source.sha256:
            return None, f"{candidate} differs from the document's source (SHA-256); values not looked up"
        source = candidate
    elif source.is_file() and file_sha256(source) != document.source.sha256:
        note = f"{source} is not the file the document names (SHA-256 differs); values looked up in it anyway"
    reading = read_file(source, settings)
    grids = grids_of(reading.pages)
    if len(reading.spans) == len(document.forms):
        return [source_text(reading.pages, span, grids) for span in reading.spans], note
    whole = source_text(reading.pages, None, grids)
    mismatch = (
        f"{source.name} holds {len(reading.spans)} form(s), the document {len(document.forms)}: "
        "each form is looked up in every page"
    )
    return [whole] * len(document.forms), f"{note}; {mismatch}" if note else mismatch

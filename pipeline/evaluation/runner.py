"""An evaluation run: extract (or take stored outputs for) every labelled file, score it, record it.

``evaluate`` runs the extractor the settings choose over every file
``find_samples`` lists, or, given ``predictions``, scores the outputs stored
there without running anything; each file's output is written into the run
folder as soon as it is scored, and the run's record at the end
(``records.save_run``).
"""

from __future__ import annotations

import asyncio
import datetime
import time
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack
from functools import reduce
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline import __version__
from pipeline._io import write_whole
from pipeline.checks import check_document, status_of
from pipeline.evaluation.records import (
    PREDICTIONS,
    ChecksView,
    PageSourceKind,
    RunConfig,
    RunRecord,
    Sample,
    SampleResult,
    run_name,
    save_run,
)
from pipeline.evaluation.samples import find_samples, label_of, printed_of
from pipeline.exceptions import InputFileError, JixiaoError
from pipeline.ingest import page_sources
from pipeline.llm.usage import Usage
from pipeline.page import PageSource
from pipeline.result import Extraction
from pipeline.run import extract_many, file_sha256
from pipeline.schema import Document
from pipeline.scoring import DocumentScore, score_document
from pipeline.settings import Settings

if TYPE_CHECKING:
    pass  # imports openai and instructor: only when a model is used

__all__ = ["Progress", "checks_view", "evaluate", "new_run_folder"]

Progress = Callable[[SampleResult], None]


def evaluate(
    root: Path,
    settings: Settings,
    runs_dir: Path,
    *,
    variants: Sequence[str] | None = None,
    predictions: Path | None = None,
    on_start: Callable[[list[Sample]], None] | None = None,
    on_result: Progress | None = None,
) -> tuple[RunRecord, Path]:
    """Score every labelled file under ``root``; the run's record and its folder under ``runs_dir``.

    With ``predictions`` the outputs stored in that folder are scored (matched to
    files by SHA-256, else by path); otherwise the extractor ``settings`` choose
    runs. ``on_start`` hears the files to score, ``on_result`` each file's result.
    """
    started = datetime.datetime.now().astimezone()
    clock = time.perf_counter()
    samples, skipped = find_samples(root, variants)
    if not samples:
        raise InputFileError("holds no labelled file to score (a folder with label.json and a PDF or image)", path=root)
    if on_start is not None:
        on_start(samples)
    config = RunConfig(
        extractor="predictions" if predictions is not None else settings.chosen_extractor(),
        fixtures=str(root.resolve()),
        variants=list(variants) if variants else None,
        predictions=str(predictions.resolve()) if predictions is not None else None,
        jixiao=__version__,
    )
    if predictions is not None:
        stored, unreadable = _stored_predictions(predictions)
        skipped += unreadable
        folder = new_run_folder(runs_dir, started, config)
        results = [_score_stored(root, sample, stored, predictions, folder, on_result) for sample in samples]
    else:
        config, folder, results = asyncio.run(_run(root, samples, settings, runs_dir, started, config, on_result))
    record = RunRecord(
        name=folder.name,
        started=started,
        seconds=round(time.perf_counter() - clock, 3),
        config=config,
        samples=results,
        skipped=skipped,
        usage=_usage_total(results),
    )
    save_run(record, folder)
    return record, folder


def new_run_folder(runs_dir: Path, started: datetime.datetime, config: RunConfig) -> Path:
    """A new folder ``<time>-<extractor>-<prompt>-<model>`` under ``runs_dir`` (``-2``, ``-3`` … if taken)."""
    name = run_name(started, config)
    runs_dir.mkdir(parents=True, exist_ok=True)
    for attempt in range(1, 1000):
        folder = runs_dir / (name if attempt == 1 else f"{name}-{attempt}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise InputFileError("has no free run folder name left", path=runs_dir / name)


async def _run(
    root: Path,
    samples: list[Sample],
    settings: Settings,
    runs_dir: Path,
    started: datetime.datetime,
    config: RunConfig,
    on_result: Progress | None,
) -> tuple[RunConfig, Path, list[SampleResult]]:
    """Run the chosen extractor over the files, scoring each as it comes."""
    async with AsyncExitStack() as stack:
        llm = None
        if config.extractor != "layout":
            from pipeline.llm.extractor import LlmExtractor

            llm = await stack.enter_async_context(LlmExtractor(settings))
            config = config.model_copy(
                update={
                    "prompt": llm.prompt.version,
                    "prompt_sha256": llm.prompt.sha256,
                    "model": llm.model,
                    "endpoint": llm.run.endpoint,
                    "mode": settings.llm_mode,
                }
            )
        folder = new_run_folder(runs_dir, started, config)
        results: list[SampleResult] = []
        by_path = {root / sample.id: sample for sample in samples}
        async for outcome in extract_many(list(by_path), settings, llm):
            sample = by_path[outcome.path]
            if outcome.result is None:
                result = _failed(root, sample, outcome.error)
            else:
                assert outcome.reading is not None
                sources = {page.source for page in outcome.reading.pages}
                result = _scored(root, sample, outcome.result, folder, _kind(sources))
                result.seconds = round(sum(outcome.result.seconds.get(k, 0.0) for k in _STAGES), 3)
            results.append(result)
            if on_result is not None:
                on_result(result)
    return config, folder, results


_STAGES = ("read", "tables", "extract", "checks")  # their sum is the file's wall time, with or without a model


def _kind(sources: set[PageSource]) -> PageSourceKind:
    if sources == {"text"}:
        return "text"
    if sources == {"ocr"}:
        return "ocr"
    return "mixed"


def _scored(
    root: Path, sample: Sample, output: Document, folder: Path, page_source: PageSourceKind | None
) -> SampleResult:
    """Score one output, write it into the run folder, and say what its checks caught."""
    fixture = root / sample.fixture
    score = score_document(output, label_of(fixture), name=sample.id, printed=printed_of(fixture))
    target = Path(PREDICTIONS) / f"{sample.id}.json"
    write_whole(folder / target, output.model_dump_json(indent=1) + "\n")
    extraction = output if isinstance(output, Extraction) else None
    return SampleResult(
        sample=sample,
        page_source=page_source,
        prediction=target.as_posix(),
        status=extraction.status if extraction is not None else None,
        usage=extraction.llm.usage if extraction is not None and extraction.llm is not None else None,
        checks=checks_view(extraction, score),
        score=score,
    )


def _failed(root: Path, sample: Sample, error: JixiaoError | None) -> SampleResult:
    """A file without an output: every labelled value is missing."""
    label = label_of(root / sample.fixture)
    empty = Document(source=label.source)
    return SampleResult(
        sample=sample,
        error=str(error) if error is not None else "no output",
        score=score_document(empty, label, name=sample.id),
    )


def checks_view(output: Extraction | None, score: DocumentScore) -> ChecksView:
    """The findings of an output against its mismatches: how many wrong values the checks flagged."""
    findings = output.findings if output is not None else []
    wrong = {m.predicted_path for m in score.mismatches if m.got is not None and m.predicted_path is not None}
    flagged = {f.path for f in findings if f.severity != "info" and f.path is not None}
    not_in_source = [f for f in findings if f.code == "not_in_source"]
    return ChecksView(
        findings=len(findings),
        errors=sum(f.severity == "error" for f in findings),
        warnings=sum(f.severity == "warning" for f in findings),
        needs_review=int(output is not None and output.status == "needs_review"),
        not_in_source=len(not_in_source),
        not_in_source_wrong=sum(f.path in wrong for f in not_in_source),
        wrong_values=len(wrong),
        wrong_flagged=len(wrong & flagged),
    )


def _stored_predictions(folder: Path) -> tuple[dict[str, Document], list[str]]:
    """Every Document JSON under ``folder`` (a run folder's ``predictions/`` too), by its source's SHA-256."""
    if not folder.is_dir():
        raise InputFileError("is not a folder of predictions", path=folder)
    stored: dict[str, Document] = {}
    unreadable: list[str] = []
    for path in sorted(folder.rglob("*.json")):
        if path.name in ("run.json", "scores.json", "label.json"):
            continue
        try:
            document = _document(path.read_text(encoding="utf-8"))
        except ValueError as e:
            unreadable.append(f"{path}: not a Document JSON ({str(e).splitlines()[0]})")
            continue
        stored.setdefault(document.source.sha256, document)
    return stored, unreadable


def _document(text: str) -> Document:
    """An output as ``jixiao extract`` writes it (with findings), else a plain Document, checked here."""
    try:
        return Extraction.model_validate_json(text)
    except ValueError:
        document = Document.model_validate_json(text)
    findings = check_document(document)
    return Extraction(**document.model_dump(), extractor="unknown", findings=findings, status=status_of(findings))


def _score_stored(
    root: Path,
    sample: Sample,
    stored: dict[str, Document],
    predictions: Path,
    folder: Path,
    on_result: Progress | None,
) -> SampleResult:
    """Score the stored output of one file: the one whose source has the file's SHA-256, else ``<id>.json``."""
    path = root / sample.id
    found = stored.get(file_sha256(path))
    if found is None:
        candidates = [predictions / f"{sample.id}.json", predictions / PREDICTIONS / f"{sample.id}.json"]
        match = next((c for c in candidates if c.is_file()), None)
        if match is not None:
            found = _document(match.read_text(encoding="utf-8"))
    if found is None:
        result = _failed(root, sample, InputFileError("no stored output for this file", path=path))
    else:
        try:
            page_source: PageSourceKind | None = _kind(set(page_sources(path)))
        except JixiaoError:
            page_source = None  # unknown
        result = _scored(root, sample, found, folder, page_source)
    if on_result is not None:
        on_result(result)
    return result


def _usage_total(results: list[SampleResult]) -> Usage | None:
    """The model's usage summed over the files; None when no file used a model."""
    usages = [r.usage for r in results if r.usage is not None]
    return reduce(Usage.add, usages) if usages else None

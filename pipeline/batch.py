"""A whole archive: many files, in parallel, resumable, with nothing lost on a crash.

``process_file`` is the unit of work: a pure function from one file to one
``FileResult`` (the Extraction, or the reason it failed), so the same function
could run on a distributed engine. ``run_batch`` maps it over files found in
folders and globs:

- files are keyed by content (SHA-256) in the manifest (``pipeline.manifest``):
  a file already done is skipped, a failed one is retried only when asked, one
  whose result came from other settings (a changed ``--prompt``, ``--extractor``,
  OCR setting) is redone only when asked, and the same bytes under two names are
  extracted once;
- pages are read (and OCR'd) in a pool of worker processes; a model, when used,
  is called from the main process with up to ``settings.concurrency`` calls in
  flight, so the next files are read while earlier ones wait on the model. At
  most a few files per worker are held at once, however long the archive;
- each result is written whole: the Document JSON through a temporary file and a
  rename, then its manifest row and table rows in one transaction. A kill at any
  moment leaves every file done or still to do, never half-written.

A log of every file's outcome goes to ``<outdir>/logs/``.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import multiprocessing
import os
import re
import signal
import sqlite3
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import UTC, datetime
from glob import glob
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from pipeline._io import write_whole
from pipeline.exceptions import ConfigurationError, InputFileError, JixiaoError, OutputError
from pipeline.export import ExportFormat, export_tables
from pipeline.llm.usage import LlmRun, Usage
from pipeline.manifest import Manifest, recipe_key
from pipeline.result import Extraction
from pipeline.run import Reading, extract_reading, extract_reading_llm, file_sha256, read_file
from pipeline.settings import Settings

if TYPE_CHECKING:
    from pipeline.llm.extractor import LlmExtractor  # imports openai and instructor: only when a model is used

__all__ = [
    "SUFFIXES",
    "BatchOptions",
    "BatchSummary",
    "FileFailure",
    "FileResult",
    "Plan",
    "find_inputs",
    "plan_batch",
    "process_file",
    "recipe_of",
    "run_batch",
]

SUFFIXES = frozenset({".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})
DOCUMENTS = "documents"
TABLES = "tables"
LOGS = "logs"

log = logging.getLogger("jixiao.batch")


class FileFailure(BaseModel):
    """Why a file has no result: a reason code (``no_form``, ``input_file``, ``llm``, …) and the message."""

    reason: str
    message: str
    exit_code: int
    detail: str | None = Field(default=None, description="The traceback, for a failure that is a bug")


class FileResult(BaseModel):
    """What the unit of work made of one file: its Extraction, or why there is none."""

    path: str
    sha256: str
    extraction: Extraction | None = None
    failure: FileFailure | None = None
    seconds: float = 0.0


def _reason(error: BaseException) -> str:
    """``NoFormFoundError`` → ``no_form_found``; anything that is not a ``JixiaoError`` is ``internal``."""
    if not isinstance(error, JixiaoError):
        return "internal"
    name = type(error).__name__.removesuffix("Error")
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _failure(error: BaseException) -> FileFailure:
    if isinstance(error, JixiaoError):
        return FileFailure(reason=_reason(error), message=error.message, exit_code=int(error.exit_code))
    return FileFailure(
        reason="internal",
        message=f"{type(error).__name__}: {error} (a bug: please report it with the log)",
        exit_code=15,
        detail="".join(traceback.format_exception(error)),
    )


def process_file(path: Path, settings: Settings, sha256: str | None = None) -> FileResult:
    """Read, extract (layout) and check one file; its own failure is the result, never raised.

    ``sha256`` is the file's hash when the caller has it already (else it is computed).
    """
    started = time.perf_counter()
    try:
        sha256 = sha256 or file_sha256(path)
    except OSError as e:
        failure = FileFailure(reason="input_file", message=f"cannot read the file ({e.strerror})", exit_code=3)
        return FileResult(path=str(path), sha256="", failure=failure)
    try:
        reading = read_file(path, settings)
        extraction = extract_reading(reading)
    except Exception as e:  # the file's failure is its result: the batch goes on
        return FileResult(path=str(path), sha256=sha256, failure=_failure(e), seconds=time.perf_counter() - started)
    return FileResult(path=str(path), sha256=sha256, extraction=extraction, seconds=time.perf_counter() - started)


def read_stage(path: Path, settings: Settings, sha256: str) -> Reading | FileResult:
    """Read one file for the model: its Reading, or the failed ``FileResult``."""
    started = time.perf_counter()
    try:
        return read_file(path, settings)
    except Exception as e:
        return FileResult(path=str(path), sha256=sha256, failure=_failure(e), seconds=time.perf_counter() - started)


def recipe_of(settings: Settings, llm: LlmRun | None = None) -> dict[str, object]:
    """The settings that shape a result: a done file made with another recipe is stale."""
    recipe: dict[str, object] = {
        "extractor": settings.chosen_extractor(),
        **settings.model_dump(
            include={"ocr", "ocr_engine", "ocr_dpi", "ocr_mode", "deskew", "flatten_photos", "min_text_chars"}
        ),
    }
    if llm is not None:
        recipe.update(llm.model_dump(include={"model", "endpoint", "mode", "prompt_sha256", "schema_sha256"}))
        recipe.update(settings.model_dump(include={"llm_temperature", "llm_seed", "llm_reasks", "llm_max_chars"}))
    return recipe


def find_inputs(inputs: Sequence[str | Path], exclude: Path | None = None) -> tuple[list[Path], list[Path]]:
    """The files to process (sorted, each once) and the files skipped in folders for their type.

    An input is a file (taken whatever its type, so a wrong one is recorded with
    its reason), a folder (searched recursively for PDFs and images, hidden
    files and ``exclude`` left out) or a glob (``scans/**/*.pdf``). An input
    that is none of these is an error before anything starts.
    """
    found: set[Path] = set()
    ignored: set[Path] = set()
    outside = exclude.resolve() if exclude is not None else None
    for given in inputs:
        path = Path(given)
        folder = path.is_dir()
        if folder:
            candidates: Iterable[Path] = (p for p in path.rglob("*") if p.is_file())
        elif path.exists():
            found.add(path.resolve())
            continue
        elif any(mark in str(given) for mark in "*?["):
            candidates = [Path(p) for p in glob(str(given), recursive=True) if Path(p).is_file()]
            if not candidates:
                raise InputFileError("the pattern matches no file", path=str(given))
        else:
            raise InputFileError("no such file or folder", path=path)
        for candidate in candidates:
            resolved = candidate.resolve()
            if outside is not None and resolved.is_relative_to(outside):
                continue
            if folder and any(part.startswith(".") for part in candidate.relative_to(path).parts):
                continue  # hidden files and folders (a glob leaves them out itself)
            (found if candidate.suffix.lower() in SUFFIXES else ignored).add(resolved)
    return sorted(found), sorted(ignored)


@dataclass
class Plan:
    """What a batch will do: the files to process now and what it leaves as it is."""

    work: list[tuple[str, Path]] = field(default_factory=list)  # (sha256, the first path with those bytes)
    paths: int = 0
    duplicates: int = 0  # paths whose bytes another path already has
    done_before: int = 0
    failed_before: int = 0  # failed earlier, not retried (--retry-failed)
    stale: int = 0  # done with other settings, not redone (--redo-stale)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  # could not even be hashed


def plan_batch(
    files: Sequence[Path],
    manifest: Manifest,
    recipe: dict[str, object],
    retry_failed: bool = False,
    redo_stale: bool = False,
    on_hashed: Callable[[int], None] | None = None,
) -> Plan:
    """Hash each file (reusing the manifest's hash when its size and time are unchanged) and decide its fate."""
    plan = Plan(paths=len(files))
    key = recipe_key(recipe)
    seen: set[str] = set()
    entries: list[tuple[str, str, int, int]] = []
    first: dict[str, Path] = {}
    for path in files:
        try:
            stat = path.stat()
            sha = manifest.known_hash(str(path), stat.st_size, stat.st_mtime_ns) or file_sha256(path)
        except OSError as e:
            plan.unreadable.append((path, f"cannot read the file ({e.strerror})"))
            continue
        finally:
            if on_hashed is not None:
                on_hashed(1)
        entries.append((str(path), sha, stat.st_size, stat.st_mtime_ns))
        if sha in seen:
            plan.duplicates += 1
            continue
        seen.add(sha)
        first[sha] = path
        if len(entries) >= 500:
            manifest.add_paths(entries)
            entries = []
    manifest.add_paths(entries)
    for sha, path in first.items():
        recorded = manifest.recorded(sha)
        if recorded.state == "done":
            if recorded.recipe_key == key:
                plan.done_before += 1
                continue
            if not redo_stale:
                plan.stale += 1
                continue
        elif recorded.state == "failed" and not retry_failed:
            plan.failed_before += 1
            continue
        plan.work.append((sha, path))
    return plan


@dataclass
class BatchOptions:
    workers: int = field(default_factory=lambda: len(os.sched_getaffinity(0)))
    retry_failed: bool = False
    redo_stale: bool = False
    tables: Sequence[ExportFormat] = ("csv", "xlsx", "parquet")


@dataclass
class BatchSummary:
    """What one run of a batch did, and the state of the whole output folder after it."""

    plan: Plan
    done: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # by reason, this run
    needs_review: int = 0
    pages: int = 0
    usage: Usage = field(default_factory=Usage)
    seconds: float = 0.0
    states: dict[str, int] = field(default_factory=dict)  # the folder's files after the run, by state
    tables: list[Path] = field(default_factory=list)
    log: Path | None = None
    stopped: str | None = None  # why the run stopped early (an output that cannot be written)


class Events:
    """What a batch tells the person watching; the default tells nothing."""

    def hashing(self, total: int) -> None: ...

    def hashed(self, count: int) -> None: ...

    def planned(self, plan: Plan) -> None: ...

    def finished(self, result: FileResult, summary: BatchSummary) -> None: ...


def document_name(path: Path, sha256: str) -> str:
    """Where a file's Document JSON goes, relative to the output folder: ``documents/<stem>-<sha8>.json``."""
    return f"{DOCUMENTS}/{path.stem}-{sha256[:8]}.json"


class _Pool:
    """A process pool that is replaced when a worker dies; the files it held are retried one by one."""

    def __init__(self, workers: int, settings: Settings) -> None:
        self.workers = workers
        self.context = multiprocessing.get_context("spawn")  # no fork of a process with threads running
        self.settings = _worker_settings(settings, workers)
        self.pool = self._new()

    def _new(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            self.workers, mp_context=self.context, initializer=_ignore_interrupts, max_tasks_per_child=200
        )

    async def run(self, function: Callable[..., object], path: Path, sha: str) -> object:
        loop = asyncio.get_running_loop()
        pool = self.pool
        try:
            return await loop.run_in_executor(pool, function, path, self.settings, sha)
        except BrokenProcessPool:
            if self.pool is pool:
                log.warning("a worker process died; starting new workers and retrying its files one by one")
                pool.shutdown(wait=False, cancel_futures=True)
                self.pool = self._new()
            return await asyncio.to_thread(self._alone, function, path, sha)

    def _alone(self, function: Callable[..., object], path: Path, sha: str) -> object:
        with ProcessPoolExecutor(1, mp_context=self.context, initializer=_ignore_interrupts) as alone:
            try:
                return alone.submit(function, path, self.settings, sha).result()
            except BrokenProcessPool:
                failure = FileFailure(
                    reason="crashed",
                    message="the worker process died reading this file (a crash in a library, or out of memory)",
                    exit_code=15,
                )
                return FileResult(path=str(path), sha256=sha, failure=failure)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def stop(self) -> None:
        """Stop now (Ctrl-C): the workers are ended mid-file; those files are simply still to do."""
        # ProcessPoolExecutor has no public way to end its workers before Python 3.14 (terminate_workers).
        processes = list(getattr(self.pool, "_processes", {}).values())
        self.pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the main process, which stops the batch and keeps what is done."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _worker_settings(settings: Settings, workers: int) -> Settings:
    """The settings workers use: the cores shared among them for OCR, unless a thread count is set."""
    if settings.ocr_threads:
        return settings
    return settings.model_copy(update={"ocr_threads": max(1, len(os.sched_getaffinity(0)) // workers)})


@dataclass
class _Recorder:
    """Writes each finished file's outputs whole, then its manifest rows, counts it, and tells the watcher."""

    outdir: Path
    manifest: Manifest
    recipe: dict[str, object]
    summary: BatchSummary
    events: Events

    def __call__(self, result: FileResult) -> None:
        self._record(result)
        self.events.finished(result, self.summary)

    def _record(self, result: FileResult) -> None:
        summary = self.summary
        if result.extraction is None:
            failure = result.failure or FileFailure(reason="internal", message="no result", exit_code=15)
            self.manifest.fail(result.sha256, failure.reason, failure.message, self.recipe, result.seconds)
            summary.failed[failure.reason] += 1
            log.error("failed %s: %s: %s", result.path, failure.reason, failure.message)
            if failure.detail:
                log.error("%s", failure.detail)
            return
        extraction = result.extraction
        name = document_name(Path(result.path), result.sha256)
        write_whole(self.outdir / name, extraction.model_dump_json(indent=2) + "\n")
        self.manifest.finish(extraction, name, self.recipe, result.seconds)
        summary.done += 1
        summary.pages += extraction.source.pages
        summary.needs_review += extraction.status == "needs_review"
        model = ""
        if extraction.llm is not None:
            usage = extraction.llm.usage
            summary.usage = summary.usage.add(usage)
            model = f", {usage.prompt_tokens}+{usage.completion_tokens} tokens, {usage.cache_hits} cache hit(s)"
        log.info(
            "done %s: %d page(s), %d form(s), %s, %.2fs%s -> %s",
            result.path,
            extraction.source.pages,
            len(extraction.forms),
            extraction.status,
            result.seconds,
            model,
            name,
        )


async def _process(
    plan: Plan,
    settings: Settings,
    workers: int,
    llm: LlmExtractor | None,
    record: Callable[[FileResult], None],
) -> None:
    """Run every file of the plan: reading in worker processes, the model in this loop, each recorded when done."""
    pool = _Pool(workers, settings)
    hybrid = settings.chosen_extractor() == "hybrid"
    # Files held at once: two per worker being read, plus those waiting on the model.
    slots = asyncio.Semaphore(2 * workers + (settings.concurrency if llm is not None else 0))
    stop: list[BaseException] = []

    async def one(sha: str, path: Path) -> None:
        try:
            if llm is None:
                result = await pool.run(process_file, path, sha)
            else:
                result = await pool.run(read_stage, path, sha)
                if isinstance(result, Reading):
                    result = await _with_model(result, path, sha, llm, hybrid)
            assert isinstance(result, FileResult)
            try:
                record(result)
            except (OSError, sqlite3.Error):
                raise
            except Exception as e:  # a bug in recording this one file: it fails, the others go on
                record(FileResult(path=str(path), sha256=sha, failure=_failure(e)))
        except Exception as e:  # a configuration error, an output that cannot be written: stop the run
            stop.append(e)
        finally:
            slots.release()

    tasks: set[asyncio.Task[None]] = set()
    interrupted = True
    try:
        for sha, path in plan.work:
            await slots.acquire()
            if stop:
                break
            task = asyncio.create_task(one(sha, path))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        while tasks and not stop:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        interrupted = False
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if interrupted:  # Ctrl-C: the files being read are simply still to do
            pool.stop()
        else:
            await asyncio.to_thread(pool.close)
    if stop:
        raise stop[0]


async def _with_model(reading: Reading, path: Path, sha: str, llm: LlmExtractor, hybrid: bool) -> FileResult:
    started = time.perf_counter()
    result = FileResult(path=str(path), sha256=sha)
    try:
        result.extraction = await extract_reading_llm(reading, llm, hybrid=hybrid)
    except ConfigurationError:
        raise
    except Exception as e:
        result.failure = _failure(e)
    result.seconds = reading.seconds + time.perf_counter() - started
    return result


def _open_log(outdir: Path) -> tuple[logging.Handler, Path]:
    folder = outdir / LOGS
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"batch-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}-{os.getpid()}.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    log.propagate = False
    return handler, path


def run_batch(
    files: Sequence[Path],
    outdir: Path,
    settings: Settings,
    options: BatchOptions | None = None,
    events: Events | None = None,
    command: str = "",
) -> BatchSummary:
    """Extract every file not yet done into ``outdir``, recording each in its manifest; see the module text."""
    options = options or BatchOptions()
    events = events or Events()
    started = time.perf_counter()
    try:
        outdir.mkdir(parents=True, exist_ok=True)
        lock = (outdir / ".lock").open("a")
    except OSError as e:
        raise OutputError(f"cannot create the output folder ({e.strerror})", path=outdir) from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise OutputError(
            "another jixiao batch is writing to this folder; wait for it or choose another", path=outdir
        ) from None
    handler, log_path = _open_log(outdir)
    for leftover in (outdir / DOCUMENTS).glob(".*.partial"):  # a kill mid-write: never renamed, never recorded
        leftover.unlink(missing_ok=True)
    try:
        with Manifest(outdir) as manifest:
            summary = asyncio.run(_batch(files, outdir, settings, options, events, command, manifest))
            summary.log = log_path
            summary.seconds = time.perf_counter() - started
            return summary
    except KeyboardInterrupt:
        log.warning("interrupted: what is done is kept")
        raise
    finally:
        log.removeHandler(handler)
        handler.close()
        lock.close()


async def _batch(
    files: Sequence[Path],
    outdir: Path,
    settings: Settings,
    options: BatchOptions,
    events: Events,
    command: str,
    manifest: Manifest,
) -> BatchSummary:
    llm = None
    if settings.chosen_extractor() != "layout":
        from pipeline.llm.extractor import LlmExtractor

        llm = LlmExtractor(settings)
    try:
        recipe = recipe_of(settings, llm.run if llm is not None else None)
        run = manifest.start_run(command, recipe)
        log.info("batch: %s", command or "(library call)")
        log.info("recipe %s: %s", recipe_key(recipe), recipe)
        events.hashing(len(files))
        plan = plan_batch(files, manifest, recipe, options.retry_failed, options.redo_stale, events.hashed)
        summary = BatchSummary(plan=plan)
        for path, why in plan.unreadable:
            log.error("unreadable %s: %s", path, why)
        log.info(
            "%d file(s): %d to do, %d done before, %d failed before, %d stale, %d duplicate(s)",
            plan.paths,
            len(plan.work),
            plan.done_before,
            plan.failed_before,
            plan.stale,
            plan.duplicates,
        )
        events.planned(plan)
        record = _Recorder(outdir, manifest, recipe, summary, events)
        try:
            await _process(plan, settings, options.workers, llm, record)
        except (OSError, sqlite3.Error) as e:
            why = (e.strerror if isinstance(e, OSError) else None) or str(e)
            summary.stopped = f"cannot write the outputs ({why}); what is done is kept: run again to go on"
            log.error("stopped: %s", summary.stopped)
        summary.states = manifest.states()
        if options.tables and summary.stopped is None:
            summary.tables = export_tables(manifest.path, outdir / TABLES, options.tables)
        counts = {
            "done": summary.done,
            "failed": dict(summary.failed),
            "needs_review": summary.needs_review,
            "pages": summary.pages,
            "states": summary.states,
        }
        manifest.end_run(run, counts)
        log.info("finished: %s", counts)
        return summary
    finally:
        if llm is not None:
            await llm.aclose()

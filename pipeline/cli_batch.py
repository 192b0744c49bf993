"""``jixiao batch`` and ``jixiao export``: an archive into an output folder, with progress, and its tables."""

from __future__ import annotations

import shlex
import sqlite3
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pipeline.batch import BatchOptions, BatchSummary, Events, FileResult, Plan, find_inputs, run_batch
from pipeline.cli import (
    BaseUrl,
    Concurrency,
    Dpi,
    Extractor,
    Mode,
    Model,
    NoCache,
    Ocr,
    PromptVersion,
    Verbose,
    _model_flags,
    _reported,
    _settings,
    app,
    err,
)
from pipeline.exceptions import ConfigurationError, OutputError
from pipeline.export import FORMATS, ExportFormat, export_tables
from pipeline.manifest import NAME as MANIFEST


def _formats(text: str, flag: str) -> list[ExportFormat]:
    """``csv,xlsx`` → the formats; ``none`` → none; anything else a clear error."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if names == ["none"]:
        return []
    unknown = [name for name in names if name not in FORMATS]
    if unknown or not names:
        raise ConfigurationError(f"{flag} {text!r}: choose from {', '.join(FORMATS)} (comma-separated) or none")
    return list(dict.fromkeys(names))  # type: ignore[arg-type]


class _Watch(Events):
    """A rich progress bar on stderr: hashing, then files and pages done, rate, ETA, failures, tokens, cost."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            MofNCompleteColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[failed]}"),
            TextColumn("{task.fields[pages]}"),
            TextColumn("{task.fields[model]}"),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=quiet,
        )
        self.task: TaskID | None = None
        self.started = time.perf_counter()
        self.failed = 0

    def __enter__(self) -> _Watch:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def hashing(self, total: int) -> None:
        self.task = self.progress.add_task("hashing", total=total, pages="", failed="", model="")

    def hashed(self, count: int) -> None:
        assert self.task is not None
        self.progress.advance(self.task, count)

    def planned(self, plan: Plan) -> None:
        assert self.task is not None
        self.progress.reset(
            self.task, total=len(plan.work), description="extracting", pages="0 pages", failed="0 failed", model=""
        )
        self.started = time.perf_counter()
        if not self.quiet:
            err.print(_plan_line(plan), highlight=False)

    def finished(self, result: FileResult, summary: BatchSummary) -> None:
        assert self.task is not None
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        failures = sum(summary.failed.values())
        done = summary.done + failures
        usage = summary.usage
        model = ""
        if usage.forms:
            cost = f", {usage.cost:.2f} {usage.currency}" if usage.cost is not None else ""
            model = f"{usage.tokens:,} tokens{cost},"
        self.progress.update(
            self.task,
            advance=1,
            pages=f"{summary.pages:,} pages, {done / elapsed:.2f} files/s, {summary.pages / elapsed:.1f} pages/s",
            failed=f"[red]{failures} failed[/red]" if failures else "0 failed",
            model=model,
        )
        if result.failure is not None and not self.quiet:
            self.progress.console.print(
                f"[red]failed:[/red] {result.path}: {result.failure.message}", highlight=False, soft_wrap=True
            )


def _plan_line(plan: Plan) -> str:
    parts = [f"{plan.paths} file(s)"]
    if plan.duplicates:
        parts.append(f"{plan.duplicates} duplicate(s) of another file, extracted once")
    parts.append(f"{len(plan.work)} to do")
    if plan.done_before:
        parts.append(f"{plan.done_before} done before")
    if plan.failed_before:
        parts.append(f"{plan.failed_before} failed before (--retry-failed to retry)")
    if plan.stale:
        parts.append(f"{plan.stale} done with other settings (--redo-stale to redo)")
    if plan.unreadable:
        parts.append(f"{len(plan.unreadable)} unreadable")
    return ": ".join(parts[:1]) + ": " + ", ".join(parts[1:])


def _summary_table(summary: BatchSummary, outdir: Path) -> Table:
    plan = summary.plan
    table = Table(title=f"batch into {outdir}", title_justify="left", show_header=False, box=None, padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    table.add_row("files", f"{plan.paths} found, {plan.duplicates} duplicate(s), {len(plan.work)} to do")
    table.add_row("done", f"{summary.done} ({summary.pages:,} pages), {summary.needs_review} need review")
    failed = sum(summary.failed.values()) + len(plan.unreadable)
    by_reason = ", ".join(f"{reason} {count}" for reason, count in summary.failed.most_common())
    if plan.unreadable:
        by_reason = ", ".join(filter(None, [by_reason, f"unreadable {len(plan.unreadable)}"]))
    table.add_row("failed", f"[red]{failed}[/red] ({by_reason})" if failed else "0")
    left = [
        f"{plan.done_before} done before",
        f"{plan.failed_before} failed before (--retry-failed)",
        f"{plan.stale} stale (--redo-stale)",
    ]
    table.add_row("left as they were", ", ".join(left))
    if summary.usage.forms:
        for name, text in summary.usage.describe().items():
            table.add_row(f"model {name}", text)
    seconds = max(summary.seconds, 1e-6)
    rate = f"{(summary.done + failed) / seconds:.2f} files/s, {summary.pages / seconds:.1f} pages/s"
    table.add_row("wall time", f"{summary.seconds:.1f}s ({rate})")
    states = summary.states
    table.add_row(
        "output folder",
        f"{states.get('done', 0)} done, {states.get('failed', 0)} failed, {states.get('pending', 0)} pending "
        f"(distinct files in {MANIFEST})",
    )
    if summary.tables:
        kinds = sorted({p.suffix.lstrip(".") for p in summary.tables})
        table.add_row("tables", f"{summary.tables[0].parent} ({', '.join(kinds)})")
    if summary.log is not None:
        table.add_row("log", str(summary.log))
    return table


@app.command()
def batch(
    inputs: Annotated[
        list[str],
        typer.Argument(
            help="Files, folders (searched recursively for PDF, PNG, JPEG, TIFF) and globs ('scans/**/*.pdf').",
            show_default=False,
        ),
    ],
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            help="The output folder: documents/, tables/, logs/ and manifest.sqlite. Run again to go on.",
            show_default=False,
        ),
    ],
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Processes reading pages and OCR. \\[default: the cores]", show_default=False),
    ] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Try the files that failed before again.")
    ] = False,
    redo_stale: Annotated[
        bool,
        typer.Option(
            "--redo-stale", help="Redo files done with other settings (extractor, prompt, model, OCR) than these."
        ),
    ] = False,
    tables: Annotated[
        str,
        typer.Option(help="Table formats written at the end: csv, xlsx, parquet, jsonl, comma-separated, or none."),
    ] = "csv,xlsx,parquet",
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress or summary; errors only (for cron).")
    ] = False,
    extractor: Extractor = None,
    model: Model = None,
    base_url: BaseUrl = None,
    prompt: PromptVersion = None,
    llm_mode: Mode = None,
    concurrency: Concurrency = None,
    no_cache: NoCache = False,
    ocr: Ocr = None,
    ocr_dpi: Dpi = None,
    verbose: Verbose = False,
) -> None:
    """Extract a whole archive into OUTPUT: resumable, parallel, every file done or failed with its reason.

    Each distinct file (by SHA-256) is extracted once and recorded in
    OUTPUT/manifest.sqlite; its Document JSON goes to OUTPUT/documents/. Run the
    same command again to go on after a crash or a kill: what is done is skipped.
    Failed files are retried with --retry-failed; files done with other settings
    (a new --prompt, --extractor, model or OCR setting) are redone with
    --redo-stale. At the end the flat tables files, forms, funds, indicators and
    findings are written to OUTPUT/tables/ (rebuild them with `jixiao export`).
    A log of every file is kept in OUTPUT/logs/.

    Exits 0 when no file failed in this run, 1 when some did (each recorded with
    its reason), 10 when the outputs cannot be written (a full disk), 130 on
    Ctrl-C (what is done is kept).

    Example: jixiao batch archive/ -o extracted/ --workers 2
    """
    with _reported(verbose):
        settings = _settings(
            ocr, ocr_dpi, **_model_flags(extractor, model, base_url, prompt, llm_mode, concurrency, no_cache)
        )
        formats = _formats(tables, "--tables")
        files, ignored = find_inputs(inputs, exclude=output)
        options = BatchOptions(retry_failed=retry_failed, redo_stale=redo_stale, tables=formats)
        if workers is not None:
            options.workers = workers
        if not quiet:
            chosen = settings.chosen_extractor()
            why = "" if chosen != "layout" or settings.extractor == "layout" else " (no LLM endpoint is configured)"
            err.print(
                f"extractor: {chosen}{why}; {options.workers} worker(s)"
                + (f"; {len(ignored)} file(s) in the folders are not PDFs or images, ignored" if ignored else ""),
                highlight=False,
            )
        command = shlex.join(["jixiao", *sys.argv[1:]])
        try:
            with _Watch(quiet) as watch:
                summary = run_batch(files, output, settings, options, watch, command=command)
        except KeyboardInterrupt:
            err.print("interrupted: what is done is kept; run the same command again to go on", highlight=False)
            raise typer.Exit(130) from None
        if summary.stopped is not None:
            raise OutputError(summary.stopped, path=output)
    if not quiet:
        err.print(_summary_table(summary, output))
    if sum(summary.failed.values()) or summary.plan.unreadable:
        raise typer.Exit(1)


@app.command(name="export")
def export_(
    folder: Annotated[Path, typer.Argument(help="A batch's output folder (it holds manifest.sqlite).")],
    formats: Annotated[
        list[str],
        typer.Option("--format", "-f", help="csv, xlsx, parquet or jsonl; repeat or comma-separate for several."),
    ] = ["csv"],  # noqa: B006 - typer reads the default
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Where to write. \\[default: FOLDER/tables]", show_default=False),
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Write the tables of a batch (files, forms, funds, indicators, findings) from its manifest, at any time.

    Every table has the file's sha256; forms, funds, indicators and findings
    also have form (0-based), so (sha256, form) joins them. CSV is UTF-8 with a
    BOM, so Excel shows the Chinese; XLSX is one workbook with a sheet per table.

    Example: jixiao export extracted/ --format parquet
    """
    with _reported(verbose):
        chosen = _formats(",".join(formats), "--format")
        target = output or folder / "tables"
        try:
            written = export_tables(folder / MANIFEST, target, chosen)
        except sqlite3.DatabaseError as e:
            raise OutputError(f"cannot read {MANIFEST}: {e}", path=folder) from None
        except OSError as e:
            raise OutputError(f"cannot write the tables ({e.strerror or e})", path=target) from None
    for path in written:
        err.print(f"wrote {path}", highlight=False)

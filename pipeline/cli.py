"""The ``jixiao`` command line: it fills ``Settings`` from flags and calls the library."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from pipeline import __version__
from pipeline.checks import CATALOGUE, check_document, status_of
from pipeline.evaluation.diff import Comparison, compare_runs
from pipeline.evaluation.html import write_html
from pipeline.evaluation.records import Sample, SampleResult, load_run
from pipeline.evaluation.report import comparison_report, facts_table, run_report
from pipeline.evaluation.runner import evaluate
from pipeline.exceptions import ExitCode, InputFileError, JixiaoError
from pipeline.llm.usage import LlmRun, Usage
from pipeline.result import Extraction, Finding
from pipeline.run import Reading, extract_many, read_file, sources_for
from pipeline.schema import Document
from pipeline.settings import ExtractorName, LlmMode, OcrMode, Settings, check_settings

if TYPE_CHECKING:
    from pipeline.llm.extractor import LlmExtractor  # imports openai and instructor: only when a model is used

app = typer.Typer(
    name="jixiao",
    help="Turn Chinese fiscal performance self-assessment forms (绩效自评表) into checked, structured data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
err = Console(stderr=True)
out = Console()

Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks of errors.")]
Ocr = Annotated[
    OcrMode | None,
    typer.Option(help="auto: OCR pages without a text layer; always; never. \\[env: JIXIAO_OCR]", show_default=False),
]
Dpi = Annotated[int | None, typer.Option(help="Resolution for OCR. \\[env: JIXIAO_OCR_DPI] \\[default: 200]")]


def _settings(ocr: OcrMode | None, ocr_dpi: int | None, **more: Any) -> Settings:
    """Settings from the environment, overridden by the flags given (None: not given)."""
    overrides: dict[str, Any] = {name: value for name, value in more.items() if value is not None}
    if ocr is not None:
        overrides["ocr"] = ocr
    if ocr_dpi is not None:
        overrides["ocr_dpi"] = ocr_dpi
    return check_settings(Settings(**overrides))


@contextmanager
def _reported(verbose: bool) -> Iterator[None]:
    """One line per user-facing error, a traceback only with -v; other exceptions are bugs."""
    try:
        yield
    except JixiaoError as e:
        if verbose:
            err.print_exception()
        err.print(f"[red]error:[/red] {e}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(int(e.exit_code)) from None


def _summary_table(result: Extraction) -> Table:
    source = result.source
    table = Table(
        title=f"{source.file}: {source.pages} page(s), {len(result.forms)} form(s), extractor {result.extractor}"
    )
    for name in ("form", "type", "year", "name", "unit", "funds", "indicators", "errors", "warnings", "least sure"):
        table.add_column(name)
    for index, form in enumerate(result.forms):
        prefix = f"forms[{index}]."
        findings = [f for f in result.findings if (f.path or "").startswith(prefix)]
        errors = sum(f.severity == "error" for f in findings)
        confidences = [src.confidence for path, src in result.provenance.items() if path.startswith(prefix)]
        table.add_row(
            str(index + 1),
            form.form_type,
            str(form.year),
            form.project_name or form.department or "?",
            form.amount_unit,
            str(len(form.funds)),
            str(len(form.indicators)),
            f"[red]{errors}[/red]" if errors else "0",
            str(sum(f.severity == "warning" for f in findings)),
            f"{min(confidences):.2f}" if confidences else "-",
        )
    return table


_STYLE = {"error": "red", "warning": "yellow", "info": "dim"}


def _findings_table(title: str, findings: list[Finding], limit: int | None = None) -> Table:
    """Findings worst first (errors red, warnings yellow): code, field path, message; ``limit`` rows at most."""
    order = {"error": 0, "warning": 1, "info": 2}
    ranked = sorted(findings, key=lambda f: order[f.severity])
    table = Table(title=title, title_justify="left", box=None, padding=(0, 1))
    table.add_column("code", no_wrap=True)
    table.add_column("path", overflow="fold", max_width=36)
    table.add_column("message", overflow="fold", ratio=1)
    for f in ranked[:limit]:
        style = _STYLE[f.severity]
        table.add_row(f"[{style}]{f.code}[/{style}]", f.path or "", f.message)
    if limit is not None and len(ranked) > limit:
        table.caption = f"… {len(ranked) - limit} more in the JSON"
    return table


def _page_line(reading: Reading) -> str:
    ocr = [p for p in reading.pages if p.source == "ocr"]
    text = len(reading.pages) - len(ocr)
    parts = [f"{text} from the text layer"] if text else []
    if ocr:
        confs = [p.ocr_confidence for p in ocr if p.ocr_confidence is not None]
        mean = sum(confs) / len(confs) if confs else 0.0
        angles = ", ".join(f"{p.deskew_angle:+.2f}°" for p in ocr)
        parts.append(f"{len(ocr)} by OCR (mean confidence {mean:.3f}; straightened by {angles})")
    return f"read {len(reading.pages)} page(s) in {reading.seconds:.1f}s: " + "; ".join(parts)


def _exit_on_failures(failures: list[int], total: int) -> None:
    """All files failed: their own exit code when they agree; some failed: 1, so a batch script can tell."""
    if failures:
        agreed = failures[0] if len(set(failures)) == 1 else 1
        raise typer.Exit(agreed if len(failures) == total else 1)


def _output_path(output: Path | None, path: Path, several: bool, taken: set[Path]) -> Path | None:
    """Where one file's JSON goes: stdout (None), the file named, or ``<stem>.json`` in a folder.

    Two inputs with the same name (``a/form.pdf``, ``b/form.pdf``) never overwrite
    each other: the second is written as ``b-form.json``.
    """
    if output is None:
        return None
    if not several and output.suffix.lower() == ".json" and not output.is_dir():
        output.parent.mkdir(parents=True, exist_ok=True)
        return output
    output.mkdir(parents=True, exist_ok=True)
    target = output / f"{path.stem}.json"
    if target in taken:
        target = output / f"{path.parent.name}-{path.stem}.json"
    number = 2
    while target in taken:
        target = output / f"{path.parent.name}-{path.stem}-{number}.json"
        number += 1
    taken.add(target)
    return target


Extractor = Annotated[
    ExtractorName | None,
    typer.Option(
        help="layout: from the table structure, no model; llm: the model; hybrid: both, compared field by field. "
        "\\[env: JIXIAO_EXTRACTOR] \\[default: llm when a model and an endpoint are configured, else layout]",
        show_default=False,
    ),
]
Model = Annotated[str | None, typer.Option(help="Model name at the endpoint. \\[env: JIXIAO_LLM_MODEL]")]
BaseUrl = Annotated[
    str | None,
    typer.Option(
        help="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1. \\[env: JIXIAO_LLM_BASE_URL, OPENAI_BASE_URL]"
    ),
]
PromptVersion = Annotated[
    str | None,
    typer.Option("--prompt", help="Prompt version under prompts/ or a folder. \\[env: JIXIAO_PROMPT] \\[default: v1]"),
]
Mode = Annotated[
    LlmMode | None,
    typer.Option(
        "--llm-mode",
        help="tools (OpenAI, DeepSeek, Qwen); json_schema (vLLM, Ollama, llama.cpp); json; md_json. "
        "\\[env: JIXIAO_LLM_MODE] \\[default: tools]",
        show_default=False,
    ),
]
Concurrency = Annotated[
    int | None, typer.Option(min=1, help="Model calls in flight at once. \\[env: JIXIAO_CONCURRENCY] \\[default: 4]")
]
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="Ask the model again even for a reply in the cache (JIXIAO_CACHE_DIR).")
]


def _model_flags(
    extractor: ExtractorName | None,
    model: str | None,
    base_url: str | None,
    prompt: str | None,
    llm_mode: LlmMode | None,
    concurrency: int | None,
    no_cache: bool,
) -> dict[str, Any]:
    """The extractor and model flags as ``Settings`` fields (None: not given)."""
    return {
        "extractor": extractor,
        "llm_model": model,
        "llm_base_url": base_url,
        "prompt": prompt,
        "llm_mode": llm_mode,
        "concurrency": concurrency,
        "cache": False if no_cache else None,
    }


def _usage_table(runs: list[LlmRun]) -> Table:
    """What the model calls of a run cost, summed over its files."""
    usage = Usage()
    for run in runs:
        usage = usage.add(run.usage)
    first = runs[0]
    title = f"model {first.model} at {first.endpoint}, prompt {first.prompt} ({first.prompt_sha256[:8]})"
    return facts_table(title, usage.describe())


class _Writer:
    """Shows each file's result and writes its JSON, as soon as it is done."""

    def __init__(self, output: Path | None, several: bool) -> None:
        self.output = output
        self.several = several
        self.written: set[Path] = set()
        self.reviews = 0
        self.runs: list[LlmRun] = []
        self.announcement: str | None = None  # which extractor: said once, with the first result

    def __call__(self, path: Path, reading: Reading, result: Extraction) -> None:
        if self.announcement:
            err.print(self.announcement, highlight=False)
            self.announcement = None
        err.print(_page_line(reading), highlight=False)
        err.print(_summary_table(result))
        shown = [f for f in result.findings if f.severity != "info"]
        if shown:
            err.print(_findings_table(f"{result.source.file}: {result.status}", shown, limit=12))
        self.reviews += result.status == "needs_review"
        if result.llm is not None:
            self.runs.append(result.llm)
        target = _output_path(self.output, path, self.several, self.written)
        if target is None:
            sys.stdout.write(result.model_dump_json() + "\n")
            sys.stdout.flush()
        else:
            target.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
            err.print(f"wrote {target}", highlight=False)


async def _extract_all(
    files: list[Path], settings: Settings, write: _Writer, verbose: bool, failures: list[int]
) -> None:
    """Extract every file (``run.extract_many``), writing each result as soon as it is its turn."""
    async with AsyncExitStack() as stack:
        llm = None
        if settings.chosen_extractor() == "layout":
            why = (
                ""
                if settings.extractor == "layout"
                else " (no LLM endpoint is configured; fields come from the tables)"
            )
            write.announcement = f"extractor: layout{why}"
        else:
            from pipeline.llm.extractor import LlmExtractor

            llm = await stack.enter_async_context(LlmExtractor(settings))
            write.announcement = f"extractor: {_describe(llm, settings)}"
        async for outcome in extract_many(files, settings, llm):
            if outcome.error is not None:
                failures.append(_report(outcome.error, verbose))
                continue
            assert outcome.reading is not None and outcome.result is not None
            write(outcome.path, outcome.reading, outcome.result)


def _describe(llm: LlmExtractor, settings: Settings) -> str:
    """The model, its endpoint, prompt and mode, as the first line of a run says them."""
    describe = f"{llm.model} at {llm.run.endpoint}"
    if settings.chosen_extractor() == "hybrid":
        describe = f"hybrid (layout + {describe})"
    return (
        f"{describe}, prompt {llm.prompt.version} ({llm.prompt.sha256[:8]}), mode {settings.llm_mode}, "
        f"{settings.concurrency} call(s) at once" + ("" if settings.cache else ", no cache")
    )


def _report(error: JixiaoError, verbose: bool) -> int:
    """Print one file's error as ``_reported`` does and return its exit code."""
    try:
        with _reported(verbose):
            raise error
    except typer.Exit as e:
        return int(e.exit_code)
    raise AssertionError("unreachable")


@app.command()
def extract(
    files: Annotated[list[Path], typer.Argument(help="PDF or image files (PNG, JPEG, TIFF).", show_default=False)],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="A .json file (one input), or a folder for <name>.json per input. Default: stdout, one JSON per line.",
            show_default=False,
        ),
    ] = None,
    extractor: Extractor = None,
    model: Model = None,
    base_url: BaseUrl = None,
    prompt: PromptVersion = None,
    llm_mode: Mode = None,
    concurrency: Concurrency = None,
    no_cache: NoCache = False,
    ocr: Ocr = None,
    ocr_dpi: Dpi = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 5 when any document needs review (a check found an error).")
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Extract the forms of each FILE into the schema's JSON, with provenance and findings.

    Reads every page (OCR where there is no text layer), finds the forms, and
    fills each one. The layout extractor reads the table structure, no model;
    every value carries its page, box, raw text and confidence (`provenance`).
    The llm extractor sends each form's pages, tables kept as HTML rows, to an
    OpenAI-compatible model and re-asks when its reply fails a check; hybrid runs
    both and compares them field by field. A field that could not be read is
    null with a finding. Then the checks recompute every total and look every
    value up in the page text; `status` is needs_review when any finding is an
    error. A summary, the findings and the model's usage go to stderr.

    Example: jixiao extract fixtures/forms/sh-chongming-2023-project/scan.pdf -o out/
    """
    with _reported(verbose):
        settings = _settings(
            ocr, ocr_dpi, **_model_flags(extractor, model, base_url, prompt, llm_mode, concurrency, no_cache)
        )
    failures: list[int] = []
    write = _Writer(output, len(files) > 1)
    with _reported(verbose):
        asyncio.run(_extract_all(files, settings, write, verbose, failures))
    if write.runs:
        err.print(_usage_table(write.runs))
    _exit_on_failures(failures, len(files))
    if write.reviews:
        err.print(f"{write.reviews} of {len(files)} document(s) need review", highlight=False)
        if strict:
            raise typer.Exit(int(ExitCode.needs_review))


def _documents(path: Path) -> list[Document]:
    """The documents in a JSON file: one object (a label or extract's output), or one per line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError("no such file", path=path) from None
    except (IsADirectoryError, UnicodeDecodeError) as e:
        raise InputFileError(f"cannot read it as JSON text ({e.__class__.__name__})", path=path) from None
    try:
        items = [json.loads(text)]
    except json.JSONDecodeError:
        try:
            items = [json.loads(line) for line in text.splitlines() if line.strip()]
        except json.JSONDecodeError as e:
            raise InputFileError(f"not JSON: {e.msg} at line {e.lineno}", path=path) from None
    documents: list[Document] = []
    for item in items:
        if not isinstance(item, dict):
            raise InputFileError("not a Document: expected a JSON object", path=path)
        contract = {key: item[key] for key in ("source", "forms") if key in item}
        try:
            documents.append(Document.model_validate(contract))
        except ValueError as e:
            first = str(e).splitlines()
            raise InputFileError(f"not a valid Document: {' '.join(first[:3])}", path=path) from None
    return documents


@app.command()
def check(
    files: Annotated[
        list[Path], typer.Argument(help="Document JSON files: extract's output or hand labels.", show_default=False)
    ],
    source: Annotated[
        Path | None,
        typer.Option(
            help="The PDF or image the document was read from, to look values up in its text. "
            "Default: the file named in the document's source, beside the JSON, if its SHA-256 matches.",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON line per document: file, status, findings.")
    ] = False,
    ocr: Ocr = None,
    ocr_dpi: Dpi = None,
    verbose: Verbose = False,
) -> None:
    """Run the checks on Document JSON files, e.g. one corrected by hand.

    Recomputes every sum, rate, score and grade the form implies and, when the
    source file is at hand, looks every value up in its page text. Exits 5 when
    any document needs review (a finding of severity error), 0 when all are ok.

    Example: jixiao check out/form.json --source form.pdf
    """
    with _reported(verbose):
        settings = _settings(ocr, ocr_dpi)
        if source is not None and len(files) > 1:
            raise InputFileError("--source names one source file; check one JSON file with it")
    failures: list[int] = []
    reviews = 0
    for path in files:
        try:
            with _reported(verbose):
                for document in _documents(path):
                    sources, note = sources_for(document, path, source, settings)
                    if note:
                        err.print(f"{path}: {note}", highlight=False)
                    findings = check_document(document, sources)
                    status = status_of(findings)
                    reviews += status == "needs_review"
                    if as_json:
                        report = {
                            "file": str(path),
                            "source": document.source.file,
                            "status": status,
                            "findings": [f.model_dump(mode="json") for f in findings],
                        }
                        sys.stdout.write(json.dumps(report, ensure_ascii=False) + "\n")
                        continue
                    title = f"{path} ({document.source.file}): {status}"
                    shown = [f for f in findings if f.severity != "info"] or findings
                    if shown:
                        out.print(_findings_table(title, shown))
                    else:
                        out.print(title, highlight=False)
        except typer.Exit as e:
            failures.append(e.exit_code)
    _exit_on_failures(failures, len(files))
    if reviews:
        raise typer.Exit(int(ExitCode.needs_review))


def _run_folder(name: str, runs_dir: Path, exclude: Path | None = None) -> Path:
    """A recorded run: a folder holding run.json, a run name under ``runs_dir``, or ``latest``."""
    if name == "latest":
        runs = sorted((f for f in runs_dir.glob("*/run.json") if f.parent != exclude), key=lambda f: f.stat().st_mtime)
        if not runs:
            raise InputFileError("holds no recorded run to compare with", path=runs_dir)
        return runs[-1].parent
    for folder in (Path(name), runs_dir / name):
        if (folder / "run.json").is_file():
            return folder
    raise InputFileError(f"is not a recorded run (no run.json there, nor under {runs_dir})", path=name)


def _fail_under(f1: float, threshold: float | None) -> None:
    if threshold is not None and f1 < threshold:
        err.print(f"[red]F1 {f1:.4f} is below --fail-under {threshold:.4f}[/red]", highlight=False)
        raise typer.Exit(int(ExitCode.below_threshold))


@app.command(name="eval")
def eval_(
    fixtures: Annotated[
        Path, typer.Argument(help="Folder of labelled forms: every folder under it with a label.json.")
    ] = Path("fixtures"),
    extractor: Extractor = None,
    model: Model = None,
    base_url: BaseUrl = None,
    prompt: PromptVersion = None,
    llm_mode: Mode = None,
    concurrency: Concurrency = None,
    no_cache: NoCache = False,
    predictions: Annotated[
        Path | None,
        typer.Option(
            help="Score the outputs stored in this folder (jixiao extract JSON, or a run folder) and run nothing.",
            show_default=False,
        ),
    ] = None,
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            help="Only files of this stem, e.g. native or scan; repeat for several. \\[default: every labelled file]",
            show_default=False,
        ),
    ] = None,
    runs_dir: Annotated[Path, typer.Option(help="Where run folders are written.")] = Path("eval/runs"),
    baseline: Annotated[
        str | None,
        typer.Option(
            help="A recorded run to compare this run with: its folder, its name, or latest.", show_default=False
        ),
    ] = None,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(
            help="Compare two recorded runs A B (folders or names) and run nothing.",
            show_default=False,
            metavar="A B",
        ),
    ] = None,
    fail_under: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="Exit 9 when the overall F1 is below this, e.g. 0.98.", show_default=False),
    ] = None,
    fields: Annotated[bool, typer.Option(help="Show the per-field table.")] = True,
    html: Annotated[bool, typer.Option(help="Write report.html into the run folder.")] = True,
    ocr: Ocr = None,
    ocr_dpi: Dpi = None,
    verbose: Verbose = False,
) -> None:
    """Score an extractor against the hand labels, field by field, and record the run.

    Runs the extractor (layout, llm or hybrid; a prompt, a model) over every
    labelled file under FIXTURES, or scores stored outputs (--predictions), and
    scores each against its label.json: precision, recall and F1 per field,
    group, file, page source and form variant, and what the checks caught. The
    run is recorded in eval/runs/<time>-<extractor>-<prompt>-<model>/ (outputs,
    run.json, scores.json, report.html). --baseline or --compare list every field
    that flipped between two runs. Scoring rules: eval/README.md.

    Example: jixiao eval --extractor layout --variant native --fail-under 0.98
    """
    with _reported(verbose):
        if compare is not None:
            before = load_run(_run_folder(compare[0], runs_dir))
            folder = _run_folder(compare[1], runs_dir)
            after = load_run(folder)
            versus = compare_runs(before, after)
            out.print(comparison_report(versus))
            if html:
                written = write_html(after, folder, versus, folder / f"report-vs-{before.name}.html")
                err.print(f"wrote {written}", highlight=False)
            _fail_under(after.total().f1, fail_under)
            return
        settings = _settings(
            ocr, ocr_dpi, **_model_flags(extractor, model, base_url, prompt, llm_mode, concurrency, no_cache)
        )
        if baseline is not None:
            base_folder = _run_folder(baseline, runs_dir)
        with _progress() as progress:
            task = progress.add_task("scoring", total=None)

            def started(samples: list[Sample]) -> None:
                progress.update(task, total=len(samples))

            def scored(result: SampleResult) -> None:
                progress.update(task, advance=1, description=result.sample.id)

            record, folder = evaluate(
                fixtures,
                settings,
                runs_dir,
                variants=variant,
                predictions=predictions,
                on_start=started,
                on_result=scored,
            )
        out.print(run_report(record, fields=fields))
        comparison: Comparison | None = None
        if baseline is not None:
            comparison = compare_runs(load_run(base_folder), record)
            out.print(comparison_report(comparison))
        if html:
            write_html(record, folder, comparison)
        err.print(f"wrote {folder}", highlight=False)
        _fail_under(record.total().f1, fail_under)


@contextmanager
def _progress() -> Iterator[Progress]:
    """A progress bar on stderr for the files of a run, gone when it is done."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        yield progress


@app.command()
def checks() -> None:
    """List every finding code the checks report, with its severity and meaning."""
    table = Table(title="finding codes (docs/checks.md)")
    for name in ("code", "severity", "meaning"):
        table.add_column(name, overflow="fold")
    for entry in CATALOGUE.values():
        table.add_row(entry.code, entry.severity, entry.description)
    out.print(table)


@app.command()
def read(
    file: Annotated[Path, typer.Argument(help="A PDF or image file.", show_default=False)],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the JSON here, not to stdout.")] = None,
    words: Annotated[bool, typer.Option(help="Include every word with its box and every ruling line.")] = False,
    ocr: Ocr = None,
    ocr_dpi: Dpi = None,
    verbose: Verbose = False,
) -> None:
    """Show what the page reader and the segmenter made of FILE, as JSON.

    Per page: where its text came from (text layer or OCR), OCR confidence,
    the deskew angle, and the text in reading order; then each form's page span.

    Example: jixiao read --ocr always form.pdf -o form.read.json
    """
    with _reported(verbose):
        reading = read_file(file, _settings(ocr, ocr_dpi))
        exclude: dict[str, Any] = {} if words else {"pages": {"__all__": {"words", "rules"}}}
        data = reading.model_dump(mode="json", exclude=exclude)
        for page_data, page in zip(data["pages"], reading.pages, strict=True):
            page_data["text"] = page.text
        text = json.dumps(data, ensure_ascii=False, indent=2)
        if output:
            output.write_text(text + "\n", encoding="utf-8")
            err.print(f"wrote {output}")
        else:
            sys.stdout.write(text + "\n")


@app.command()
def schema() -> None:
    """Print the JSON Schema of a Document, the output contract (see ASSESSMENT_SCHEMA.md)."""
    sys.stdout.write(json.dumps(Document.model_json_schema(), ensure_ascii=False, indent=2) + "\n")


def _version(value: bool) -> None:
    if value:
        out.print(f"jixiao {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Turn Chinese fiscal performance self-assessment forms (绩效自评表) into checked, structured data."""


# The batch and export commands live in their own module; importing it registers them on ``app``.
from pipeline import cli_batch  # noqa: E402, F401

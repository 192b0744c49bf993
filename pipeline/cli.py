"""The ``jixiao`` command line: it fills ``Settings`` from flags and calls the library."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from pipeline import __version__
from pipeline.checks import CATALOGUE, check_document, status_of
from pipeline.exceptions import ExitCode, InputFileError, JixiaoError
from pipeline.llm.extractor import LlmExtractor
from pipeline.llm.usage import LlmRun, Usage
from pipeline.result import Extraction, Finding
from pipeline.run import Reading, extract_reading, extract_reading_llm, read_file, sources_for
from pipeline.schema import Document
from pipeline.settings import ExtractorName, LlmMode, OcrMode, Settings, check_settings

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


def _usage_table(runs: list[LlmRun]) -> Table:
    """What the model calls of a run cost, summed over its files."""
    usage = Usage()
    for run in runs:
        usage = usage.add(run.usage)
    first = runs[0]
    table = Table(
        title=f"model {first.model} at {first.endpoint}, prompt {first.prompt} ({first.prompt_sha256[:8]})",
        title_justify="left",
        show_header=False,
        box=None,
        padding=(0, 1),
    )
    table.add_column(justify="right", style="dim")
    table.add_column()
    cost = f"{usage.cost:.4f} {usage.currency} (estimate)" if usage.cost is not None else "no price for this model"
    rows = {
        "forms": f"{usage.forms} ({usage.cache_hits} from the cache)",
        "requests": f"{usage.requests} ({usage.retries} retried, {usage.reasks} re-asked)",
        "tokens": f"{usage.prompt_tokens:,} in, {usage.completion_tokens:,} out",
        "model time": f"{usage.seconds:.1f}s",
        "cost": cost,
    }
    for name, value in rows.items():
        table.add_row(name, value)
    return table


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


async def _extract_with_model(
    files: list[Path], settings: Settings, write: _Writer, verbose: bool, failures: list[int]
) -> None:
    """Read files one at a time while earlier files wait on the model; write results in input order."""
    hybrid = settings.chosen_extractor() == "hybrid"
    reading_slot = asyncio.Semaphore(1)

    async with LlmExtractor(settings) as llm:
        describe = f"{llm.model} at {llm.run.endpoint}"
        if hybrid:
            describe = f"hybrid (layout + {describe})"
        write.announcement = (
            f"extractor: {describe}, prompt {llm.prompt.version} ({llm.prompt.sha256[:8]}), mode {settings.llm_mode}, "
            f"{settings.concurrency} call(s) at once" + ("" if settings.cache else ", no cache")
        )

        async def one(path: Path) -> tuple[Reading, Extraction]:
            async with reading_slot:
                reading = await asyncio.to_thread(read_file, path, settings)
            return reading, await extract_reading_llm(reading, llm, hybrid=hybrid)

        tasks = [asyncio.create_task(one(path)) for path in files]
        try:
            for path, task in zip(files, tasks, strict=True):
                try:
                    with _reported(verbose):
                        reading, result = await task
                except typer.Exit as e:
                    failures.append(e.exit_code)
                    if e.exit_code == ExitCode.config:  # a refused key or unknown model fails every file alike
                        raise
                    continue
                write(path, reading, result)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


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
            ocr,
            ocr_dpi,
            extractor=extractor,
            llm_model=model,
            llm_base_url=base_url,
            prompt=prompt,
            llm_mode=llm_mode,
            concurrency=concurrency,
            cache=False if no_cache else None,
        )
    failures: list[int] = []
    write = _Writer(output, len(files) > 1)
    chosen = settings.chosen_extractor()
    if chosen == "layout":
        why = "" if settings.extractor == "layout" else " (no LLM endpoint is configured; fields come from the tables)"
        write.announcement = f"extractor: layout{why}"
        for path in files:
            try:
                with _reported(verbose):
                    reading = read_file(path, settings)
                    result = extract_reading(reading)
            except typer.Exit as e:
                failures.append(e.exit_code)
                continue
            write(path, reading, result)
    else:
        with _reported(verbose):
            asyncio.run(_extract_with_model(files, settings, write, verbose, failures))
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

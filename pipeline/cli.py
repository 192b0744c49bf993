"""The ``jixiao`` command line: it fills ``Settings`` from flags and calls the library."""

from __future__ import annotations

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
from pipeline.exceptions import JixiaoError
from pipeline.result import Extraction
from pipeline.run import Reading, extract_reading, read_file
from pipeline.schema import Document
from pipeline.settings import OcrMode, Settings, check_settings

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
    typer.Option(help="auto: OCR pages without a text layer; always; never. [env: JIXIAO_OCR]", show_default=False),
]
Dpi = Annotated[int | None, typer.Option(help="Resolution for OCR. [env: JIXIAO_OCR_DPI] [default: 200]")]


def _settings(ocr: OcrMode | None, ocr_dpi: int | None) -> Settings:
    overrides: dict[str, Any] = {}
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
    for name in ("form", "type", "year", "name", "unit", "funds", "indicators", "findings", "least sure"):
        table.add_column(name)
    for index, form in enumerate(result.forms):
        prefix = f"forms[{index}]."
        findings = [f for f in result.findings if (f.path or "").startswith(prefix) and f.severity != "info"]
        confidences = [src.confidence for path, src in result.provenance.items() if path.startswith(prefix)]
        table.add_row(
            str(index + 1),
            form.form_type,
            str(form.year),
            form.project_name or form.department or "?",
            form.amount_unit,
            str(len(form.funds)),
            str(len(form.indicators)),
            str(len(findings)),
            f"{min(confidences):.2f}" if confidences else "-",
        )
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
    ocr: Ocr = None,
    ocr_dpi: Dpi = None,
    verbose: Verbose = False,
) -> None:
    """Extract the forms of each FILE into the schema's JSON, with provenance and findings.

    Reads every page (OCR where there is no text layer), finds the forms, and
    fills each with the layout extractor: from the table structure alone, no
    model. Every value carries its page, box, raw text and confidence
    (`provenance`); every field that could not be read is null with a finding.
    A summary table goes to stderr.

    Example: jixiao extract fixtures/forms/sh-chongming-2023-project/scan.pdf -o out/
    """
    with _reported(verbose):
        settings = _settings(ocr, ocr_dpi)
    failures: list[int] = []
    announced = False
    written: set[Path] = set()
    for path in files:
        try:
            with _reported(verbose):
                reading = read_file(path, settings)
                result = extract_reading(reading)
        except typer.Exit as e:
            failures.append(e.exit_code)
            continue
        if not announced:
            err.print("extractor: layout (no LLM endpoint is configured; fields come from the tables)", highlight=False)
            announced = True
        err.print(_page_line(reading), highlight=False)
        err.print(_summary_table(result))
        target = _output_path(output, path, len(files) > 1, written)
        if target is None:
            sys.stdout.write(result.model_dump_json() + "\n")
        else:
            target.write_text(result.model_dump_json(indent=2) + "\n", encoding="utf-8")
            err.print(f"wrote {target}", highlight=False)
    if failures:
        # All failed: their own code when they agree; some failed: 1, so a batch script can tell.
        agreed = failures[0] if len(set(failures)) == 1 else 1
        raise typer.Exit(agreed if len(failures) == len(files) else 1)


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

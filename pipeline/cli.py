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
from pipeline.run import Reading, read_file
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


def _summary_table(reading: Reading) -> Table:
    table = Table(title=f"{reading.source.file}: {reading.source.pages} page(s), {len(reading.spans)} form(s)")
    for name in ("form", "type", "year", "pages", "title"):
        table.add_column(name)
    for span in reading.spans:
        pages = str(span.first_page) if span.first_page == span.last_page else f"{span.first_page}-{span.last_page}"
        table.add_row(str(span.index + 1), span.form_type, str(span.year or "?"), pages, span.title or "(none)")
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


@app.command()
def extract(
    files: Annotated[list[Path], typer.Argument(help="PDF or image files (PNG, JPEG, TIFF).", show_default=False)],
    ocr: Ocr = None,
    ocr_dpi: Dpi = None,
    verbose: Verbose = False,
) -> None:
    """Extract the forms of each FILE.

    Reads every page (OCR where there is no text layer), finds the forms, and
    reports them. Field extraction is not available yet: the layout extractor
    is the next stage. Use `jixiao read` for what the reader saw.

    Example: jixiao extract fixtures/forms/sh-chongming-2023-project/scan.pdf
    """
    with _reported(verbose):
        settings = _settings(ocr, ocr_dpi)
    failures: list[int] = []
    for path in files:
        try:
            with _reported(verbose):
                reading = read_file(path, settings)
        except typer.Exit as e:
            failures.append(e.exit_code)
            continue
        err.print(_page_line(reading), highlight=False)
        out.print(_summary_table(reading))
    if len(failures) < len(files):
        err.print(
            "[yellow]note:[/yellow] no extractor is available yet; pages were read and forms found, "
            "but their fields are not filled. See `jixiao read FILE` for the text and layout.",
            highlight=False,
            soft_wrap=True,
        )
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

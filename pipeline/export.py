"""Flat tables of a batch, for a data team: ``files``, ``forms``, ``funds``, ``indicators``, ``findings``.

A batch keeps these tables in its manifest database (``manifest.sqlite``) as each
file is done; ``export`` writes them out as CSV (UTF-8 with a BOM, so Excel reads
the Chinese), XLSX, Parquet or JSON Lines at any time. Every table has the file's
``sha256``; the form-level tables have ``form`` (0-based, in reading order), so
``(sha256, form)`` joins forms to their funds, indicators and findings, and
``files`` maps each input path to its ``sha256``.

The columns come from the schema's models, so a field added to ``schema.py`` is a
column here without another list to keep in step.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import types
import typing
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from pipeline._io import replacing
from pipeline.exceptions import InputFileError
from pipeline.result import Extraction
from pipeline.schema import Form, FundRow, Indicator

__all__ = [
    "FORMATS",
    "TABLES",
    "Column",
    "ExportFormat",
    "export_tables",
    "flatten",
]

ExportFormat = Literal["csv", "xlsx", "parquet", "jsonl"]
FORMATS: tuple[str, ...] = ExportFormat.__args__  # type: ignore[attr-defined]
ColumnType = Literal["text", "integer", "real"]
# Rows of a file's bytes that some input path still has (the manifest's paths table): a file since
# changed or replaced keeps its old rows in the database, out of the tables.
CURRENT = "sha256 IN (SELECT sha256 FROM paths)"

_XLSX_ROWS = 1_048_575  # Excel's row limit, less the header: a longer table continues on a second sheet
_BATCH = 10_000  # rows per Parquet row group and per fetch from the database


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    description: str = ""


def _type_of(annotation: Any) -> ColumnType:
    """text, integer or real for a schema field's annotation (``float | None`` → real; Literal, dict → text)."""
    args = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    kinds = {arg for arg in args if arg is not type(None)}
    if kinds == {int}:
        return "integer"
    if kinds == {float}:
        return "real"
    return "text"


def _columns_of(model: type[BaseModel], skip: Sequence[str] = ()) -> tuple[Column, ...]:
    return tuple(
        Column(name, _type_of(field.annotation), field.description or "")
        for name, field in model.model_fields.items()
        if name not in skip
    )


_FILE_KEY = Column("sha256", "text", "SHA-256 of the file's bytes: the file key")
_FORM_KEY = Column("form", "integer", "The form's place in its file, from 0: with sha256, the form key")
_ROW = Column("row", "integer", "The row's place in its table, from 0")

TABLES: dict[str, tuple[Column, ...]] = {
    "files": (
        Column("path", "text", "The input file, as given or found under a folder given"),
        _FILE_KEY,
        Column("state", "text", "done, failed or pending"),
        Column("reason", "text", "Why a failed file failed: input_file, no_form, ocr, llm, internal, …"),
        Column("error", "text", "The error's message"),
        Column("pages", "integer"),
        Column("forms", "integer"),
        Column("status", "text", "ok, or needs_review when a check found an error"),
        Column("errors", "integer", "Findings of severity error"),
        Column("warnings", "integer", "Findings of severity warning"),
        Column("extractor", "text"),
        Column("prompt", "text", "Prompt version, when a model was used"),
        Column("model", "text"),
        Column("seconds", "real", "Wall time to extract the file"),
        Column("prompt_tokens", "integer"),
        Column("completion_tokens", "integer"),
        Column("cost", "real", "Estimated model cost, in currency"),
        Column("currency", "text"),
        Column("document", "text", "The Document JSON, relative to the output folder"),
        Column("finished", "text", "When the file was done or failed (UTC, ISO 8601)"),
    ),
    "forms": (
        _FILE_KEY,
        _FORM_KEY,
        Column("file", "text", "The file's name as the Document records it"),
        *_columns_of(Form, skip=("funds", "indicators")),
        Column("funds", "integer", "Rows in the money table"),
        Column("indicators", "integer", "Rows in the indicator table"),
        Column("errors", "integer", "Findings of severity error on this form"),
        Column("warnings", "integer", "Findings of severity warning on this form"),
    ),
    "funds": (_FILE_KEY, _FORM_KEY, _ROW, *_columns_of(FundRow)),
    "indicators": (_FILE_KEY, _FORM_KEY, _ROW, *_columns_of(Indicator)),
    "findings": (
        _FILE_KEY,
        Column("form", "integer", "The form the finding is about; null for the file as a whole"),
        Column("path", "text", "The field path, e.g. forms[0].indicators[3].score"),
        Column("code", "text"),
        Column("severity", "text", "info, warning or error"),
        Column("message", "text"),
        Column("expected", "text"),
        Column("found", "text"),
    ),
}


def _cell(value: object) -> object:
    """A value as a table cell: dicts as JSON text, the rest as is."""
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True)
    return value


def _form_of(path: str | None) -> int | None:
    if path and path.startswith("forms["):
        return int(path[6 : path.index("]")])
    return None


def flatten(result: Extraction) -> dict[str, list[tuple[object, ...]]]:
    """The rows one extracted file adds to ``forms``, ``funds``, ``indicators`` and ``findings``.

    Each row is a tuple in the order of ``TABLES[name]``; ``files`` rows come
    from the manifest, which knows the paths.
    """
    sha = result.source.sha256
    rows: dict[str, list[tuple[object, ...]]] = {"forms": [], "funds": [], "indicators": [], "findings": []}
    counts: dict[tuple[int | None, str], int] = {}
    for finding in result.findings:
        place = _form_of(finding.path)
        counts[place, finding.severity] = counts.get((place, finding.severity), 0) + 1
        rows["findings"].append(
            (sha, place, finding.path, finding.code, finding.severity, finding.message, finding.expected, finding.found)
        )
    header = [c.name for c in TABLES["forms"][3:-4]]
    for index, form in enumerate(result.forms):
        values = [_cell(getattr(form, column)) for column in header]
        rows["forms"].append(
            (
                sha,
                index,
                result.source.file,
                *values,
                len(form.funds),
                len(form.indicators),
                counts.get((index, "error"), 0),
                counts.get((index, "warning"), 0),
            )
        )
        for table, items in (("funds", form.funds), ("indicators", form.indicators)):
            fields = [c.name for c in TABLES[table][3:]]
            for row, item in enumerate(items):
                rows[table].append((sha, index, row, *(getattr(item, field) for field in fields)))
    return rows


def _write_csv(path: Path, columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([c.name for c in columns])
        writer.writerows(rows)


def _write_jsonl(path: Path, columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> None:
    names = [c.name for c in columns]
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(dict(zip(names, row, strict=True)), ensure_ascii=False) + "\n")


def _write_parquet(path: Path, columns: Sequence[Column], rows: Iterable[Sequence[object]]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    kinds = {"text": pa.string(), "integer": pa.int64(), "real": pa.float64()}
    schema = pa.schema([pa.field(c.name, kinds[c.type]) for c in columns])
    with pq.ParquetWriter(path, schema) as writer:
        for batch in _batches(rows):
            arrays = [pa.array([row[i] for row in batch], type=kinds[c.type]) for i, c in enumerate(columns)]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))


def _batches(rows: Iterable[Sequence[object]]) -> Iterator[list[Sequence[object]]]:
    batch: list[Sequence[object]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == _BATCH:
            yield batch
            batch = []
    yield batch  # an empty table still gets its schema


def _write_xlsx(path: Path, tables: Iterable[tuple[str, Sequence[Column], Iterable[Sequence[object]]]]) -> None:
    """One workbook, a sheet per table; a table longer than Excel allows continues on ``name (2)``."""
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    bold = workbook.add_format({"bold": True})
    try:
        for name, columns, rows in tables:
            sheet, written, part = None, _XLSX_ROWS, 0
            for row in rows:
                if written == _XLSX_ROWS:
                    part += 1
                    sheet = workbook.add_worksheet(name if part == 1 else f"{name} ({part})")
                    sheet.write_row(0, 0, [c.name for c in columns], bold)
                    sheet.freeze_panes(1, 0)
                    written = 0
                written += 1
                assert sheet is not None
                sheet.write_row(written, 0, row)
            if part == 0:
                workbook.add_worksheet(name).write_row(0, 0, [c.name for c in columns], bold)
    finally:
        workbook.close()


_WRITERS = {"csv": _write_csv, "jsonl": _write_jsonl, "parquet": _write_parquet}


def _select(db: sqlite3.Connection, table: str) -> Iterator[tuple[object, ...]]:
    names = ", ".join(f'"{c.name}"' for c in TABLES[table])
    order = {"files": "path", "findings": "sha256, form, rowid"}.get(
        table, "sha256, form" + (", row" * (table != "forms"))
    )
    current = "" if table == "files" else f"WHERE {CURRENT} "
    cursor = db.execute(f'SELECT {names} FROM "{table}" {current}ORDER BY {order}')
    while batch := cursor.fetchmany(_BATCH):
        yield from batch


def export_tables(database: Path, folder: Path, formats: Sequence[ExportFormat]) -> list[Path]:
    """Write every table of a manifest ``database`` into ``folder`` in each of ``formats``; the paths written.

    CSV, Parquet and JSON Lines give a file per table (``forms.csv``); XLSX gives
    one workbook (``tables.xlsx``) with a sheet per table. Rows are streamed from
    the database, so memory does not grow with the archive.
    """
    if not database.is_file():
        raise InputFileError("no manifest.sqlite here: not a batch output folder", path=database.parent)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    db = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        for fmt in formats:
            if fmt == "xlsx":
                target = folder / "tables.xlsx"
                with replacing(target) as temporary:  # written whole or not at all
                    _write_xlsx(temporary, [(name, columns, _select(db, name)) for name, columns in TABLES.items()])
                written.append(target)
                continue
            for name, columns in TABLES.items():
                target = folder / f"{name}.{fmt}"
                with replacing(target) as temporary:
                    _WRITERS[fmt](temporary, columns, _select(db, name))
                written.append(target)
    finally:
        db.close()
    return written

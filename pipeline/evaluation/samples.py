"""The labelled files of a fixtures folder: every PDF or image beside a ``label.json`` that holds the labelled pages.

A folder anywhere under the fixtures folder that holds a ``label.json`` (a
Document, exactly per the schema) is a labelled form set. Each PDF or image in
it with as many pages as the label's source is a file to score against that
label (``native.pdf``, ``scan.pdf``, a one-page form's photo); a file with
another page count holds only part of the forms and is skipped, with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from decimal import Decimal
from functools import cache
from pathlib import Path

from pipeline.checks.grounding import printed_places
from pipeline.evaluation.records import Sample
from pipeline.exceptions import InputFileError, JixiaoError
from pipeline.ingest import count_pages, text_layer
from pipeline.schema import Document

__all__ = ["LABEL", "find_samples", "label_of", "printed_of"]

LABEL = "label.json"
_SUFFIXES = frozenset({".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff"})


def find_samples(root: Path, variants: Sequence[str] | None = None) -> tuple[list[Sample], list[str]]:
    """The files to score under ``root``, sorted, and the files skipped with their reason.

    ``variants`` keeps only files of those stems (``native``, ``scan``). A label
    that is not a valid Document is an error naming the file.
    """
    if not root.is_dir():
        raise InputFileError("is not a folder of labelled fixtures", path=root)
    samples: list[Sample] = []
    skipped: list[str] = []
    for label_path in sorted(root.rglob(LABEL)):
        folder = label_path.parent
        label = label_of(folder)
        layout = _layout(folder, label)
        for path in sorted(p for p in folder.iterdir() if p.suffix.lower() in _SUFFIXES and p.is_file()):
            if variants and path.stem not in variants:
                continue
            sample_id = path.relative_to(root).as_posix()
            try:
                pages = count_pages(path)
            except JixiaoError as e:
                skipped.append(f"{sample_id}: {e.message}")
                continue
            if pages != label.source.pages:
                skipped.append(f"{sample_id}: {pages} page(s), the label's source has {label.source.pages}")
                continue
            samples.append(
                Sample(
                    id=sample_id,
                    fixture=folder.relative_to(root).as_posix(),
                    variant=path.stem,
                    layout=layout,
                    pages=pages,
                )
            )
    return samples, skipped


@cache
def label_of(folder: Path) -> Document:
    """The hand label of a labelled folder."""
    path = folder / LABEL
    try:
        return Document.model_validate_json(path.read_text(encoding="utf-8"))
    except ValueError as e:
        first = str(e).splitlines()[0]
        raise InputFileError(f"is not a valid label (a Document per the schema): {first}", path=path) from e


@cache
def printed_of(folder: Path) -> dict[Decimal, int]:
    """Decimal places of each number printed on the label's source pages (its text layer), for the tolerance.

    Empty when the source file is missing or has no text layer: the label's own
    numbers then say their precision.
    """
    source = folder / label_of(folder).source.file
    if not source.is_file():
        return {}
    try:
        return printed_places(text_layer(source))
    except JixiaoError:
        return {}


def _layout(folder: Path, label: Document) -> str:
    """The form variant: ``print.json``'s ``variant`` where the generator left one, else the form types."""
    printing = folder / "print.json"
    if printing.is_file():
        variant = json.loads(printing.read_text(encoding="utf-8")).get("variant")
        if isinstance(variant, str) and variant:
            return variant
    return "+".join(sorted({form.form_type for form in label.forms})) or "empty"

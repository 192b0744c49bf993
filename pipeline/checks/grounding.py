"""Grounding: is every extracted value printed on its form's pages?

The page text is read twice over: line by line (words of one visual line) and
cell by cell (each ruled cell's text, lines joined, so a wrapped cell is one
string, and the cells of a row follow each other, so a target split over
指标性质 / 指标值 / 度量单位 reads as one). Both are folded: NFKC (full and half
width), every whitespace removed.

A number is grounded when the page prints the same value in any format
(939500 ↔ 939,500.00, 100 ↔ 100.00%); a text when it appears verbatim. A text
found only in pieces is reported as a warning; a value printed nowhere is an
error, ``not_in_source``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal

from pipeline.checks._base import dec, finding, fmt
from pipeline.labels import printed_fund_item, unit_in, vocabulary
from pipeline.page import Page, lines_of
from pipeline.result import Finding
from pipeline.schema import DIGIT_SLIPS, Form, fold_text
from pipeline.segment import FormSpan
from pipeline.tables import Grid

__all__ = ["SourceText", "grounding", "printed_places", "source_text", "unit_statements"]

_NUMBER = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_MIN_PIECE = 2
_PARTLY = 0.8


@dataclass(frozen=True)
class SourceText:
    """The text of one form's pages, folded for lookup, and every number printed on them."""

    lines: str
    cells: str
    numbers: frozenset[Decimal]
    units: frozenset[str]
    pages: tuple[int, ...]
    fund_items: frozenset[str] = frozenset()

    def has_number(self, value: float) -> bool:
        return dec(value) in self.numbers

    def has_text(self, text: str) -> bool:
        return self._contains(fold_text(text))

    def coverage(self, text: str) -> float:
        """Share of ``text``'s characters found on the pages in pieces of 2+ characters (the ends may be 1)."""
        flat = fold_text(text)
        if not flat:
            return 1.0
        covered, i = 0, 0
        while i < len(flat):
            length = 0
            while i + length < len(flat) and self._contains(flat[i : i + length + 1]):
                length += 1
            at_end = i == 0 or i + length == len(flat)
            if length >= _MIN_PIECE or (length == 1 and at_end):
                covered += length
                i += length
            else:
                i += 1
        return covered / len(flat)

    def _contains(self, piece: str) -> bool:
        return piece in self.cells or piece in self.lines


def _numbers_in(text: str) -> set[Decimal]:
    """Every number printed in ``text`` (whitespace separates numbers), also read through OCR digit slips."""
    normalized = unicodedata.normalize("NFKC", text)
    found: set[Decimal] = set()
    for variant in {normalized, normalized.translate(DIGIT_SLIPS)}:
        found.update(Decimal(token.replace(",", "")) for token in _NUMBER.findall(variant))
    return found


def printed_places(text: str) -> dict[Decimal, int]:
    """Each number printed in ``text`` and the most decimal places it is printed with.

    >>> printed_places("167.00 167 100.00% 1,000")
    {Decimal('167'): 2, Decimal('100'): 2, Decimal('1000'): 0}

    Read as ``_numbers_in`` reads (NFKC, thousands separators dropped), without the
    OCR digit slips: the places are counted on the token as printed. Keys are
    normalized, so 167, 167.0 and 167.00 are one key.
    """
    found: dict[Decimal, int] = {}
    for token in _NUMBER.findall(unicodedata.normalize("NFKC", text)):
        value = _plain(Decimal(token.replace(",", "")))
        _, _, decimals = token.partition(".")
        found[value] = max(found.get(value, 0), len(decimals))
    return found


def _plain(value: Decimal) -> Decimal:
    """The value without trailing zeros and without an exponent: 167.00 → 167, 100 → 100 (not 1E+2)."""
    normalized = value.normalize()
    exponent = normalized.as_tuple().exponent
    return normalized.quantize(Decimal(1)) if isinstance(exponent, int) and exponent > 0 else normalized


def unit_statements(texts: Iterable[str]) -> frozenset[str]:
    """Money units the form states for its table: 项目资金（万元）, 整体支出规模（元）, 金额单位：万元."""
    labels = vocabulary()
    heads = [*labels["fund_table"]["caption"], *(v for values in labels["fund_columns"].values() for v in values)]
    units: set[str] = set()
    for text in texts:
        if "元" not in text:
            continue
        unit = unit_in(text)
        if unit is None:
            continue
        flat = fold_text(text)
        stated_line = any(flat.startswith(p) for p in labels["units"]["line_patterns"])
        if stated_line or any(head in flat for head in heads):
            units.add(unit)
    return frozenset(units)


def source_text(
    pages: list[Page], span: FormSpan | None = None, grids: dict[int, list[Grid]] | None = None
) -> SourceText:
    """The folded text of ``span``'s pages (every page without a span), with their grids' cells."""
    wanted = set(span.pages) if span is not None else {p.number for p in pages}
    lines: list[str] = []
    cells: list[str] = []
    numbers: set[Decimal] = set()
    for page in pages:
        if page.number not in wanted:
            continue
        words = span.words_on(page) if span is not None else page.words
        for line in lines_of(words):
            lines.append("".join(w.text for w in line))
        numbers |= _numbers_in("\n".join(w.text for w in words))
        page_cells = [
            cell.text
            for grid in (grids or {}).get(page.number, [])
            for cell in grid.cells
            if span is None or span.holds(page.number, (cell.bbox[1] + cell.bbox[3]) / 2)
        ]
        numbers |= _numbers_in("\n".join(page_cells))
        cells.extend(page_cells)
    return SourceText(
        lines=fold_text("".join(lines)),
        cells=fold_text("".join(cells)),
        numbers=frozenset(numbers),
        units=unit_statements([*lines, *cells]),
        pages=tuple(sorted(wanted)),
        fund_items=frozenset(item for item in map(printed_fund_item, cells) if item is not None),
    )


def _values(form: Form) -> Iterator[tuple[str, str | float]]:
    """Every non-null printed value of ``form`` with its path (form_type and amount_unit are not printed values)."""
    for name in ("year", "project_name", "department", "implementing_unit", "subordinate_units"):
        yield name, getattr(form, name)
    for i, row in enumerate(form.funds):
        for name in ("label", "initial_budget", "adjusted_budget", "executed", "weight", "execution_rate", "score"):
            yield f"funds[{i}].{name}", getattr(row, name)
    for name in ("goal_expected", "goal_actual"):
        yield name, getattr(form, name)
    for i, ind in enumerate(form.indicators):
        for name in ("level1", "level2", "level3", "target", "actual", "weight", "score", "deviation"):
            yield f"indicators[{i}].{name}", getattr(ind, name)
    for key, weight in (form.level1_weights or {}).items():
        yield f"level1_weights.{key}", key
        yield f"level1_weights.{key}", weight
    for name in ("total_weight", "total_score", "grade"):
        yield name, getattr(form, name)


def _pages(source: SourceText) -> str:
    first, last = source.pages[0], source.pages[-1]
    return f"page {first}" if first == last else f"pages {first}–{last}"


def grounding(form: Form, source: SourceText) -> Iterator[Finding]:
    """Every non-null value of ``form`` looked up in ``source``; the fund rows and the unit the text prints."""
    where = _pages(source) if source.pages else "the pages"
    for path, value in _values(form):
        if value is None:
            continue
        if isinstance(value, int | float):
            if not source.has_number(value):
                yield finding("not_in_source", path, f"{fmt(value)} is printed nowhere on {where}", found=value)
            continue
        if source.has_text(value):
            continue
        share = source.coverage(value) if len(fold_text(value)) > 2 else 0.0
        if share >= _PARTLY:
            yield finding(
                "text_not_verbatim",
                path,
                f"{value!r} is found on {where} only in part ({share:.0%} of it)",
                found=value,
            )
        else:
            yield finding("not_in_source", path, f"{value!r} is printed nowhere on {where}", found=value)
    for item in sorted(source.fund_items - {row.item for row in form.funds}):
        yield finding(
            "fund_row_missing",
            "funds",
            f"{where} print a {item} row in the money table, but no extracted fund row is one",
            expected=item,
        )
    if source.units and form.amount_unit not in source.units:
        yield finding(
            "amount_unit_text",
            "amount_unit",
            f"the form states its amounts in {' / '.join(sorted(source.units))}, but amount_unit is {form.amount_unit}",
            expected=" / ".join(sorted(source.units)),
            found=form.amount_unit,
        )

"""The layout extractor: fill the schema from table structure alone, with no model.

It reads the grids ``tables.rebuild_grids`` rebuilt from ruling lines and words,
row by row through a form's pages. Labels are looked up in the synonym table
(``labels.toml``), never in code: a header field's value is the cell right of its
label (or under it); a header row of the money table or the indicator table fixes
which column holds which field, and every later row is read through those
columns, on the next page too. A value is taken only from a cell that starts
where its column starts, so a cell of an unknown or shifted layout is reported,
never read into the wrong field. Every value carries its page, box, raw text and
a confidence; everything not read is null with a finding.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from pipeline.extractors._rows import Row, Slot, form_rows
from pipeline.labels import Match, fund_item, is_known_label, match_columns, match_label, unit_in
from pipeline.page import Page, Word, lines_of
from pipeline.result import FieldSource, Finding, FormResult, Severity
from pipeline.schema import AMOUNT_UNITS, DIGIT_SLIPS, Form, FundRow, Indicator, parse_number, squash_text
from pipeline.segment import FormSpan
from pipeline.tables import Cell, Grid

__all__ = ["NAME", "extract_form"]

NAME = "layout"

_AMOUNTS = frozenset({"initial_budget", "adjusted_budget", "executed"})
_LEVEL_FIELDS = ("level1", "level2", "level3")
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")
# What OCR confuses in digits, and units printed after a number in its cell.
_NUMBER_SUFFIX = re.compile(r"(万元|元|分|个|人|次)$")
_UNIT_DEFAULT = "元"
# A printed dash (—) as OCR reads it alone in a number cell: the CJK 一 and its kin.
_DASH_READINGS = frozenset({"一", "ー", "─", "━", "_"})


@dataclass(frozen=True)
class _Column:
    """A column of a table as its header row defines it; ``field`` None for one the table does not know."""

    field: str | None
    x0: float
    x1: float
    match: Match | None


@dataclass
class _Table:
    """A header row's columns, and where the header sits (page, grid) to align later grids with it."""

    columns: list[_Column]
    key: tuple[int, int]
    header_cells: frozenset[int]


class _FormReader:
    """Reads one form's rows into schema values, provenance and findings."""

    def __init__(self, span: FormSpan, pages: list[Page], grids: dict[int, list[Grid]]) -> None:
        self.span = span
        self.pages = [p for p in pages if span.first_page <= p.number <= span.last_page]
        self.grids = grids
        self.rows = form_rows(span, self.pages, grids)
        self.tol = 2.5 if all(p.source == "text" for p in self.pages) else 6.0
        self.values: dict[str, Any] = {}
        self.funds: list[FundRow] = []
        self.indicators: list[Indicator] = []
        self.level1_weights: dict[str, float] = {}
        self.provenance: dict[str, FieldSource] = {}
        self.findings: list[Finding] = []
        self.fund_table: _Table | None = None
        self.indicator_table: _Table | None = None
        self._offsets: dict[tuple[int, tuple[int, int]], float] = {}
        self._seen_labels: set[int] = set()

    # -- recording ----------------------------------------------------------------------------

    def note(self, code: str, severity: Severity, path: str | None, message: str, found: str | None = None) -> None:
        self.findings.append(Finding(code=code, severity=severity, path=path, message=message, found=found))

    def record(self, path: str, slots: Slot | list[Slot], factor: float = 1.0, how: str = "cell") -> None:
        parts = slots if isinstance(slots, list) else [slots]
        boxes = [s.cell.bbox for s in parts]
        self.provenance[path] = FieldSource(
            page=parts[0].page,
            bbox=(
                round(min(b[0] for b in boxes), 2),
                round(min(b[1] for b in boxes), 2),
                round(max(b[2] for b in boxes), 2),
                round(max(b[3] for b in boxes), 2),
            ),
            text="\n".join(s.raw for s in parts),
            confidence=round(max(0.0, min(1.0, min(s.conf for s in parts) * factor)), 3),
            how=how,
        )

    def text_of(self, slot: Slot | None) -> str | None:
        if slot is None:
            return None
        value = squash_text(slot.text)
        return value if isinstance(value, str) else None

    def number_of(self, slot: Slot | None, path: str, text: str | None = None) -> tuple[float | None, float]:
        """The cell's number (or ``text``'s) and a confidence factor; an unreadable one is null with a finding."""
        if slot is None:
            return None, 1.0
        text = slot.text if text is None else text
        if text in _DASH_READINGS:
            return None, 1.0
        try:
            return parse_number(text), 1.0
        except ValueError:
            pass
        cleaned = _NUMBER_SUFFIX.sub("", "".join(unicodedata.normalize("NFKC", text).split()))
        for candidate, factor in ((cleaned, 0.9), (cleaned.translate(DIGIT_SLIPS), 0.7)):
            try:
                return parse_number(candidate), factor
            except ValueError:
                continue
        self.note("unreadable_number", "warning", path, f"not a number: {text!r}; left null", found=text)
        return None, 1.0

    # -- the pass over the rows ---------------------------------------------------------------

    def read(self) -> FormResult:
        state = "start"
        skip: set[int] = set()
        for i, row in enumerate(self.rows):
            if i in skip:
                continue
            following = self.rows[i + 1] if i + 1 < len(self.rows) else None
            table, two_rows = self._header(row, following, "indicator_columns")
            if table is not None:
                self.indicator_table, state = table, "indicators"
                if two_rows:
                    skip.add(i + 1)
                continue
            table, _ = self._header(row, None, "fund_columns")
            if table is not None:
                self.fund_table, state = table, "funds"
                self._unit_from(row)
                continue
            if state == "funds":
                if self._fund_row(row):
                    continue
                state = "start"
            if state == "indicators":
                kind = self._indicator_row(row)
                if kind == "total":
                    state = "closed"
                    self._key_values(row, following)  # 总分 | 100 | 98.59 | 自评等级 | 优
                if kind != "other":
                    continue
            self._key_values(row, following)
        return self._finish()

    # -- header rows --------------------------------------------------------------------------

    def _header(self, row: Row, following: Row | None, section: str) -> tuple[_Table | None, bool]:
        """The table a header row defines, and whether the next row is part of the header (sub-columns)."""
        texts = [s.text for s in row.slots]
        found = {m.field for m in (match_label(section, t) for t in texts) if m is not None}
        if section == "indicator_columns":
            if len(found) < 3 or not found & set(_LEVEL_FIELDS):
                return None, False
        elif len(found) < 2 or not found & _AMOUNTS:
            return None, False
        matches = match_columns(section, texts)
        columns = self._columns(row.slots, matches, section)
        two_rows = False
        if following is not None and section == "indicator_columns":
            sub = [s for s in following.slots if s.cell.row == following.index and s.text]
            sub_matches = match_columns(section, [s.text for s in sub])
            if sub and all(m is not None for m in sub_matches):
                kept = [c for c in columns if not any(c.x0 - self.tol <= s.x0 < c.x1 - self.tol for s in sub)]
                columns = sorted(kept + self._columns(sub, sub_matches, section), key=lambda c: c.x0)
                two_rows = True
        header_cells = frozenset(id(s.cell) for s in row.slots)
        return _Table(columns, (row.page, row.grid), header_cells), two_rows

    def _columns(self, slots: Iterable[Slot], matches: list[Match | None], section: str) -> list[_Column]:
        columns: list[_Column] = []
        taken: set[str] = set()
        for slot, match in zip(slots, matches, strict=True):
            name = match.field if match is not None else None
            if name is not None and name in taken and not (section == "indicator_columns" and name == "weight"):
                self.note("duplicate_column", "info", None, f"a second {name} column {slot.text!r} is ignored")
                name = None
            if name is None and slot.text and not is_known_label(slot.text):
                self.note("unrecognised_column", "info", None, f"column {slot.text!r} is not in the label table")
            if name is not None:
                taken.add(name)
                if match is not None and match.how != "exact":
                    self.note("fuzzy_label", "info", None, f"column {slot.text!r} read as {name} ({match.how})")
            columns.append(_Column(name, slot.x0, slot.x1, match if name else None))
        if section == "indicator_columns":
            columns = _weights_beside_level1(columns)
        return columns

    # -- columns of later rows ----------------------------------------------------------------

    def _offset(self, table: _Table, row: Row) -> float:
        """How far a later grid's columns sit from the header's (0 on the header's own grid)."""
        key = (row.page, row.grid)
        if key == table.key:
            return 0.0
        cache_key = (id(table), key)
        if cache_key not in self._offsets:
            edges = sorted({round(s.x0, 1) for r in self.rows if (r.page, r.grid) == key for s in r.slots})
            heads = [c.x0 for c in table.columns]
            best = (0, 0.0)
            for dx in sorted({round(e - h, 1) for e in edges for h in heads if abs(e - h) <= 40}, key=abs):
                hits = sum(1 for e in edges if any(abs(e - dx - h) <= self.tol for h in heads))
                if hits > best[0]:
                    best = (hits, dx)
            self._offsets[cache_key] = best[1]
        return self._offsets[cache_key]

    def _assign(self, row: Row, table: _Table) -> tuple[dict[str, Slot], list[Slot]]:
        """Each field's cell in ``row``: the cell that starts where the field's column starts."""
        dx = self._offset(table, row)
        cells: dict[str, Slot] = {}
        stray: list[Slot] = []
        for slot in row.slots:
            x = slot.x0 - dx
            column = min(table.columns, key=lambda c: abs(c.x0 - x))
            if abs(column.x0 - x) > self.tol:
                stray.append(slot)
            elif column.field is not None and column.field not in cells:
                cells[column.field] = slot
        return cells, stray

    # -- the money table ----------------------------------------------------------------------

    def _unit_from(self, row: Row) -> None:
        for slot in row.slots:
            unit = unit_in(slot.text)
            if unit in AMOUNT_UNITS and "amount_unit" not in self.values:
                self.values["amount_unit"] = unit
                self.record("amount_unit", slot)

    def _fund_row(self, row: Row) -> bool:
        table = self.fund_table
        assert table is not None
        cells, _ = self._assign(row, table)
        # The row's label: its own cells left of the first known column that are not numbers (an unknown
        # amount column is not a label); the caption (项目资金) spans the header row and is not part of it.
        first = min((c.x0 for c in table.columns if c.field), default=0.0) + self._offset(table, row)
        parts = [
            s
            for s in row.slots
            if id(s.cell) not in table.header_cells and s.x0 < first - self.tol and s.text and not _numeric(s.text)
        ]
        label = "".join(s.text for s in parts) or None
        if label is None:
            if not any(self.text_of(cells.get(c.field)) for c in table.columns if c.field):
                return False
            self.note(
                "unlabelled_row", "warning", None, f"a money-table row on page {row.page} has values but no label"
            )
            return True
        label_slot: Slot | list[Slot] = parts if len(parts) > 1 else parts[0]
        item = fund_item(label)
        if item is None:
            numbers = any(_numeric(s.text) for s in row.slots if id(s.cell) not in table.header_cells)
            if not numbers or any(is_known_label(s.text) for s in parts):
                return False  # the money table has ended
            self.note(
                "unrecognised_fund_row", "warning", None, f"fund row {label!r} is not in the label table; skipped"
            )
            return True
        index = len(self.funds)
        path = f"funds[{index}]"
        values: dict[str, Any] = {"item": item.field, "label": label}
        self.record(f"{path}.item", label_slot, item.score)
        self.record(f"{path}.label", label_slot)
        for column in table.columns:
            if column.field is None or column.field not in cells:
                continue
            slot = cells[column.field]
            number, factor = self.number_of(slot, f"{path}.{column.field}")
            values[column.field] = number
            if number is not None:
                self.record(f"{path}.{column.field}", slot, factor * _match_score(column.match))
        self._append(FundRow, values, self.funds, path)
        return True

    # -- the indicator table ------------------------------------------------------------------

    def _indicator_row(self, row: Row) -> str:
        table = self.indicator_table
        assert table is not None
        cells, stray = self._assign(row, table)
        if any(match_label("totals", s.text, fuzzy=False) for s in row.slots):
            self._total(cells, "cell")
            return "total"
        texts = {name: self.text_of(cells.get(name)) for name in ("level3", "target", "actual", "target_nature")}
        has_numbers = any(self.text_of(cells.get(name)) for name in ("weight", "score"))
        if not any(texts.values()):
            level_texts = [self.text_of(cells.get(n)) for n in ("level1", "level2")]
            if has_numbers and not any(level_texts):
                self._total(cells, "inferred")
                self.note("unlabelled_total", "info", "total_weight", "the last row prints no 总分/合计 label")
                return "total"
            if any(level_texts) or has_numbers:
                self.note("no_level3", "warning", None, f"an indicator row on page {row.page} has no 三级指标; skipped")
                return "row"
            return "other" if any(s.text for s in row.slots) else "row"
        for slot in stray:
            if slot.text:
                self.note("unplaced_cell", "info", None, f"cell {slot.text!r} on page {slot.page} is under no column")
        self._indicator(cells, row)
        return "row"

    def _total(self, cells: dict[str, Slot], how: str) -> None:
        for name, target in (("weight", "total_weight"), ("score", "total_score")):
            number, factor = self.number_of(cells.get(name), target)
            if number is not None and target not in self.values:
                self.values[target] = number
                self.record(target, cells[name], factor * (0.8 if how == "inferred" else 1.0), how)

    def _indicator(self, cells: dict[str, Slot], row: Row) -> None:
        index = len(self.indicators)
        path = f"indicators[{index}]"
        values: dict[str, Any] = {}
        for name in ("level1", "level2", "level3", "actual", "deviation"):
            value = self.text_of(cells.get(name))
            values[name] = value
            if value is not None:
                slot = cells[name]
                self.record(f"{path}.{name}", slot, _column_score(self.indicator_table, name), _how(slot))
        if values["level1"] is None:
            if not self.indicators:
                self.note("no_level1", "warning", path, "the first indicator row has no 一级指标; skipped")
                return
            values["level1"] = self.indicators[-1].level1
            previous = self.provenance.get(f"indicators[{index - 1}].level1")
            if previous is not None:
                self.provenance[f"{path}.level1"] = previous.model_copy(
                    update={"confidence": round(previous.confidence * 0.8, 3), "how": "continued"}
                )
            self.note("level1_continued", "info", f"{path}.level1", "blank 一级指标 cell: continued from the row above")
        self._target(cells, row, path, values)
        for name in ("weight", "score"):
            number, factor = self.number_of(cells.get(name), f"{path}.{name}")
            values[name] = number
            if number is not None:
                self.record(f"{path}.{name}", cells[name], factor * _column_score(self.indicator_table, name))
        self._level1_weight(cells, values["level1"])
        self._append(Indicator, values, self.indicators, path)

    def _append(self, model: type[Any], values: dict[str, Any], rows: list[Any], path: str) -> None:
        """Add a row that makes a valid model; one that does not is dropped with a finding, never half-kept."""
        try:
            rows.append(model.model_validate(values))
        except ValidationError as e:
            for key in [k for k in self.provenance if k.startswith(path + ".")]:
                del self.provenance[key]
            self.note("invalid_row", "warning", path, f"row dropped: {e.errors()[0]['msg']}")

    def _target(self, cells: dict[str, Slot], row: Row, path: str, values: dict[str, Any]) -> None:
        parts = [cells[n] for n in ("target_nature", "target", "target_unit") if n in cells]
        split = any(c.field in ("target_nature", "target_unit") for c in self._columns_of("indicator"))
        slots = parts if split else [cells["target"]] if "target" in cells else []
        joined = "".join(self.text_of(s) or "" for s in slots)
        values["target"] = joined or None
        if joined:
            self.record(f"{path}.target", slots, _column_score(self.indicator_table, "target"), _how(slots[0]))

    def _columns_of(self, kind: str) -> list[_Column]:
        table = self.indicator_table if kind == "indicator" else self.fund_table
        return table.columns if table is not None else []

    def _level1_weight(self, cells: dict[str, Slot], level1: str) -> None:
        slot = cells.get("level1_weight")
        if slot is None:
            return
        path = f"level1_weights.{level1}"
        number, factor = self.number_of(slot, path)
        if number is None:
            return
        known = self.level1_weights.get(level1)
        if known is None:
            self.level1_weights[level1] = number
            self.record(path, slot, factor)
        elif abs(known - number) > 1e-9:
            self.note("level1_weight_conflict", "warning", path, f"{level1} printed with weights {known} and {number}")

    # -- header fields and goals --------------------------------------------------------------

    def _key_values(self, row: Row, following: Row | None) -> None:
        for slot in row.slots:
            if id(slot.cell) in self._seen_labels:
                continue
            label, inline = _split_inline(slot.text)
            for section in ("header", "goals"):
                match = match_label(section, label)
                if match is None or match.field in self.values:
                    continue
                self._seen_labels.add(id(slot.cell))
                if inline is not None:  # 项目名称：一网统管 in one cell
                    self._header_value(match, slot, inline)
                    break
                value = row.after(slot)
                if value is None or is_known_label(value.text):
                    value = following.below(slot) if following is not None else None
                    if value is not None and (value is slot or is_known_label(value.text)):
                        value = None
                self._header_value(match, value)
                break

    def _loose_key_values(self) -> None:
        """Header fields printed as lines outside the tables (单位名称：…) when the tables lack them."""
        for page in self.pages:
            inside = [g.bbox for g in self.grids.get(page.number, [])]
            for word in self.span.words_on(page):
                if any(_within(word.bbox, b) for b in inside):
                    continue
                label, inline = _split_inline(word.text)
                match = match_label("header", label) if inline else None
                if match is not None and match.field not in self.values:
                    self._header_value(match, _word_slot(word, page.number), inline, factor=0.9)

    def _header_value(self, match: Match, slot: Slot | None, inline: str | None = None, factor: float = 1.0) -> None:
        name = match.field
        how = "cell" if inline is None else "after-colon"
        if name == "subordinate_units":
            number, number_factor = self.number_of(slot, name, inline)
            if number is not None and not number.is_integer():
                self.note("unreadable_number", "warning", name, f"not a whole number: {number}")
                number = None
            self.values[name] = int(number) if number is not None else None
            if number is not None and slot is not None:
                self.record(name, slot, factor * number_factor * match.score, how)
            return
        text = squash_text(inline) if inline is not None else self.text_of(slot)
        self.values[name] = text if isinstance(text, str) else None
        if isinstance(text, str) and slot is not None:
            self.record(name, slot, factor * match.score, how)

    # -- the form -----------------------------------------------------------------------------

    def _finish(self) -> FormResult:
        year = self._year()
        if year is None:
            self.note("no_year", "error", "year", "the form prints no year (2023年度); the form is not extracted")
            return FormResult(form=None, provenance=self.provenance, findings=self.findings)
        self._loose_key_values()
        self._infer_name()
        self._unit()
        form_values: dict[str, Any] = {
            "form_type": self.span.form_type,
            "year": year,
            **{k: v for k, v in self.values.items() if k in Form.model_fields},
            "funds": self.funds,
            "indicators": self.indicators,
            "level1_weights": self.level1_weights or None,
        }
        self._report_missing(form_values)
        try:
            form = Form.model_validate(form_values)
        except ValidationError as e:  # pragma: no cover - every value above was validated on its own
            self.note("invalid_form", "error", None, f"the form could not be built: {e.errors()[0]['msg']}")
            return FormResult(form=None, provenance=self.provenance, findings=self.findings)
        return FormResult(form=form, provenance=self.provenance, findings=self.findings)

    def _year(self) -> int | None:
        title = self._title_words()
        if self.span.year is not None:
            if title:
                self.record("year", title)
                self.record("form_type", title)
            return self.span.year
        for page in self.pages[:1]:
            for line in lines_of(self.span.words_on(page)):
                found = _YEAR.search(unicodedata.normalize("NFKC", "".join(w.text for w in line)))
                if found:
                    return int(found.group(1))
        return None

    def _title_words(self) -> list[Slot]:
        page = next((p for p in self.pages if p.number == self.span.first_page), None)
        if page is None:
            return []
        words = [
            w
            for w in page.words
            if abs(w.bbox[1] - self.span.y_start) < 2
            or (self.span.y_start <= w.y_center <= self.span.y_start + 40 and _YEAR.search(w.text))
        ]
        return [_word_slot(w, page.number) for w in words]

    def _infer_name(self) -> None:
        """A project form whose first row prints its name with a blank label: the name is that value."""
        name_field = "project_name" if self.span.form_type == "project" else "department"
        if self.values.get(name_field) is not None or not self.rows:
            return
        first = self.rows[0].slots
        if len(first) == 2 and not first[0].text and first[1].text and not is_known_label(first[1].text):
            self.values[name_field] = self.text_of(first[1])
            self.record(name_field, first[1], 0.5, "inferred")
            self.note(
                "unlabelled_value",
                "warning",
                name_field,
                f"the first row prints {first[1].text!r} under a blank label; taken as the {name_field}",
            )

    def _unit(self) -> None:
        if "amount_unit" in self.values:
            return
        for row in self.rows:
            for slot in row.slots:
                unit = unit_in(slot.text) if match_label("fund_table", slot.text) else None
                if unit is not None:
                    self.values["amount_unit"] = unit
                    self.record("amount_unit", slot)
                    return
        for page in self.pages:
            inside = [g.bbox for g in self.grids.get(page.number, [])]
            loose = [w for w in self.span.words_on(page) if not any(_within(w.bbox, b) for b in inside)]
            for line in lines_of(loose):
                unit = unit_in("".join(w.text for w in line))
                if unit is not None:
                    self.values["amount_unit"] = unit
                    self.record("amount_unit", [_word_slot(w, page.number) for w in line], 0.9, "line")
                    return
        self.values["amount_unit"] = _UNIT_DEFAULT
        self.note(
            "amount_unit_not_printed",
            "warning",
            "amount_unit",
            f"the form states no unit (元 / 万元) that was found; {_UNIT_DEFAULT} assumed, check the amounts",
        )

    def _report_missing(self, form: dict[str, Any]) -> None:
        expected = ["department", "goal_expected", "goal_actual"]
        if self.span.form_type == "project":
            expected += ["project_name", "implementing_unit"]
        for name in expected:
            if form.get(name) is None:
                self.note("field_not_found", "warning", name, f"{name} was not found on the form; left null")
        fund_fields = {c.field for c in self._columns_of("fund")}
        for name in sorted(_AMOUNTS - fund_fields) if self.fund_table is not None else []:
            self.note("column_not_found", "info", f"funds[*].{name}", f"the money table has no column read as {name}")
        for name, label in (("funds", "money table"), ("indicators", "indicator table")):
            if not form[name]:
                self.note("table_not_found", "warning", name, f"no {label} was recognised; left empty")
        if form["indicators"] and form.get("total_weight") is None and form.get("total_score") is None:
            self.note("field_not_found", "info", "total_score", "no 总分/合计 row was found")


def _weights_beside_level1(columns: list[_Column]) -> list[_Column]:
    """A weight column left of the 三级指标 (or 二级指标) column is the weight of the 一级指标."""
    anchor = next((c.x0 for c in columns if c.field == "level2"), None)
    anchor = anchor if anchor is not None else next((c.x0 for c in columns if c.field == "level3"), None)
    if anchor is None:
        return columns
    fixed = [
        _Column("level1_weight", c.x0, c.x1, c.match) if c.field == "weight" and c.x0 < anchor else c for c in columns
    ]
    weights = [c for c in fixed if c.field == "weight"]
    return [c for c in fixed if c.field != "weight" or c is weights[0]]


def _split_inline(text: str) -> tuple[str, str | None]:
    """``项目名称：一网统管`` → (``项目名称``, ``一网统管``); text with no colon, or nothing after it, stays whole."""
    for colon in ("：", ":"):
        label, sep, value = text.partition(colon)
        if sep and label and value.strip():
            return label, value
    return text, None


def _numeric(text: str) -> bool:
    try:
        return parse_number(text) is not None
    except ValueError:
        return False


def _match_score(match: Match | None) -> float:
    return match.score if match is not None else 1.0


def _column_score(table: _Table | None, name: str) -> float:
    if table is None:
        return 1.0
    return next((_match_score(c.match) for c in table.columns if c.field == name), 1.0)


def _how(slot: Slot) -> str:
    return "merged" if slot.cell.row_span > 1 else "cell"


def _within(box: tuple[float, float, float, float], outer: tuple[float, float, float, float]) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    return outer[0] <= cx <= outer[2] and outer[1] <= cy <= outer[3]


def _word_slot(word: Word, page: int) -> Slot:
    """A word outside the tables as a one-line slot, so provenance reads it like a cell."""
    cell = Cell(row=0, col=0, bbox=word.bbox, text=word.text, lines=[word.text], conf=word.conf)
    return Slot(cell, page, -1, word.conf)


def extract_form(span: FormSpan, pages: list[Page], grids: dict[int, list[Grid]]) -> FormResult:
    """Fill one form from its table structure; what is not read is null with a finding."""
    return _FormReader(span, pages, grids).read()

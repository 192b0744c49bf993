"""Field-level scoring of an extracted Document against its hand label.

``score_document(predicted, truth, printed=...)`` counts, for every field of the
schema, how many slots were right, wrong, missing or spurious, and lists each
mismatch with its paths, so a run over many documents adds up (``sum_scores``)
and explains itself (``DocumentScore.mismatches``). ``jixiao eval`` and the
extractor tests both build on it.

Fields are named by schema group and name: ``form.project_name``,
``funds.executed``, ``indicators.target``; ``source`` is not scored. Each key of
``form.level1_weights`` is a slot of its own, keys matched (and shown in paths)
after folding; both sides null or empty is one correct null.

Each field reports under one group (``FIELD_GROUPS``; ``DocumentScore.groups()``
sums the counts per group, in ``GROUPS`` order): ``totals`` is
``form.total_weight``, ``form.total_score``, ``form.grade`` and
``form.level1_weights``; ``funds`` every ``funds.*`` field; ``indicators`` every
``indicators.*`` field; ``header`` every other ``form.*`` field, goals included.

Per slot, with truth T and prediction P:

- equal, both non-null: TP; both null: TN (a correct null, reported, not in F1);
- P non-null, T null: FP (``spurious``); T non-null, P null: FN (``missing``);
- both non-null but unequal: FP and FN (``wrong``): one wrong value costs both.

Equality:

- Numbers, ints (``year``, ``subordinate_units``) included: the label's value E
  and the found value F are equal when |E − F| ≤ 0.5 × 10^(−d), d being the
  number of decimal places E is printed with, computed in exact decimals (each
  float as the decimal it was parsed from, so float noise such as 0.1 + 0.2
  never matters). d is ``printed[|E|]`` when the ``printed`` map holds E: every
  value printed on the labelled document's pages with the most decimal places
  it is printed with (``checks.grounding.printed_places`` of the page text;
  167, 167.0 and 167.00 are one key). Otherwise d is the places E itself shows
  (96.33 → 2, 100.0 → 0), so a label 167.0 without ``printed`` takes 167.4 and
  refuses 167.6, and an int must match exactly.
- Long texts, ``LONG_TEXT_FIELDS`` (``form.goal_expected``, ``form.goal_actual``,
  ``indicators.deviation``): equal when the Indel normalized similarity of the
  two folded texts, (|a| + |b| − indel distance) / (|a| + |b|), is at least
  ``LONG_TEXT_SIMILARITY`` (0.9); one character replaced in 40 is 0.975.
- Every other text: equal when equal after ``schema.fold_text`` (NFKC, every
  whitespace removed), so full and half width are alike (``（100%）`` = ``(100%)``,
  ``ＡＢＣ１２`` = ``ABC12``); the literals (``form_type``, ``item``,
  ``amount_unit``) are words NFKC leaves as they are, so they match exactly.

Alignment, so that one missing or extra row costs only that row:

- forms: paired in order when both sides hold as many; otherwise by a sequence
  alignment on (``form_type``, ``project_name`` or ``department``), which never
  pairs forms of different types;
- fund rows: by (``item``, folded ``label``), then by label alone, then by item
  alone, the k-th match with the k-th match (order is the tie-break);
- indicator rows: a Needleman–Wunsch alignment maximising the summed similarity
  of paired rows (gaps cost nothing), the similarity mixing folded ``level3``
  (weight 3), ``level2``, ``level1`` and ``target`` (1 each); rows less than half
  similar are never paired.

An unpaired truth row (or form) counts each of its non-null fields FN, an
unpaired predicted one each non-null field FP; their nulls count nothing.

Each mismatch has two paths. ``path`` indexes the label
(``forms[1].indicators[3].target``), except in a form or row only the
prediction holds, which is indexed as the prediction holds it.
``predicted_path`` is the slot as the prediction holds it, form and row indices
both the prediction's (``forms[1].indicators[4].target`` when label row 3 was
paired with predicted row 4), so it matches the paths of findings on the
prediction; it is None where the prediction holds no form or row there (a
``missing`` row or form). A level-1 weight is ``forms[i].level1_weights[<folded
key>]`` on both, each with its own side's form index.

F1 = 2TP / (2TP + FP + FN); precision and recall are TP over their denominators.
Each is 1.0 when its denominator is 0: nothing to get wrong. The overall F1 is
micro-averaged over every slot of every field.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import reduce
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz.distance import Indel

from pipeline.checks._base import dec, places
from pipeline.compare import SCALE, align
from pipeline.schema import Document, Form, FundRow, Indicator, fold_text

__all__ = [
    "FIELD_GROUPS",
    "FIELD_NAMES",
    "GROUPS",
    "LONG_TEXT_FIELDS",
    "LONG_TEXT_SIMILARITY",
    "TABLE_HEADER",
    "DocumentScore",
    "FieldCounts",
    "Mismatch",
    "MismatchKind",
    "format_table",
    "score_document",
    "sum_scores",
    "table_rows",
]

Value = str | float | int | None
MismatchKind = Literal["wrong", "missing", "spurious"]
_Row = TypeVar("_Row")
_Pair = tuple[int | None, int | None]

_HALF = Decimal("0.5")
_MIN_ROW_SIMILARITY = 0.5
_WEIGHTS = "form.level1_weights"
_FORM_SCALARS = tuple(name for name in Form.model_fields if name not in ("funds", "indicators", "level1_weights"))
_FUND_FIELDS = tuple(FundRow.model_fields)
_INDICATOR_FIELDS = tuple(Indicator.model_fields)
_TOTAL_FIELDS = ("form.total_weight", "form.total_score", "form.grade", _WEIGHTS)
_TABLES = ("funds", "indicators")
# What pairs fund rows, strictest first.
_FUND_KEYS: tuple[Callable[[FundRow], Hashable], ...] = (
    lambda row: (row.item, fold_text(row.label)),
    lambda row: fold_text(row.label),
    lambda row: row.item,
)


# Every scored field: the form's own, then the fund rows', then the indicator rows'.
FIELD_NAMES: tuple[str, ...] = (
    *(f"form.{name}" for name in Form.model_fields if name not in ("funds", "indicators")),
    *(f"funds.{name}" for name in _FUND_FIELDS),
    *(f"indicators.{name}" for name in _INDICATOR_FIELDS),
)

# Free texts compared by similarity, not exactly.
LONG_TEXT_FIELDS: tuple[str, ...] = ("form.goal_expected", "form.goal_actual", "indicators.deviation")
LONG_TEXT_SIMILARITY = 0.9

# The report's groups of fields, in report order.
GROUPS: tuple[str, ...] = ("header", "funds", "indicators", "totals")


def _group_of(field: str) -> str:
    """The group a field reports under: its row table, the form's totals, else the header."""
    table = field.split(".", 1)[0]
    if table in _TABLES:
        return table
    return "totals" if field in _TOTAL_FIELDS else "header"


FIELD_GROUPS: dict[str, str] = {name: _group_of(name) for name in FIELD_NAMES}


class FieldCounts(BaseModel):
    """Slot counts of one field; counts add, so they aggregate over forms, documents and runs."""

    model_config = ConfigDict(frozen=True)

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: FieldCounts) -> FieldCounts:
        return FieldCounts(tp=self.tp + other.tp, fp=self.fp + other.fp, fn=self.fn + other.fn, tn=self.tn + other.tn)

    @property
    def precision(self) -> float:
        """TP / (TP + FP); 1.0 when nothing was predicted."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        """TP / (TP + FN); 1.0 when the label holds nothing."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        """2TP / (2TP + FP + FN); 1.0 when all three are 0."""
        denominator = 2 * self.tp + self.fp + self.fn
        return 2 * self.tp / denominator if denominator else 1.0


class Mismatch(BaseModel):
    """One slot where the prediction differs from the label."""

    document: str = Field(description="The scored document's name")
    path: str = Field(description="Where, indexed as the label holds it, e.g. forms[1].indicators[3].target")
    predicted_path: str | None = Field(
        description="Where the prediction holds it, e.g. forms[1].indicators[4].target; None: it holds no such row"
    )
    field: str = Field(description="The field it counts under, e.g. indicators.target")
    expected: Value
    got: Value
    kind: MismatchKind


class DocumentScore(BaseModel):
    """Per-field counts and every mismatch of one or more scored documents."""

    documents: int = 0
    fields: dict[str, FieldCounts] = Field(default_factory=lambda: {name: FieldCounts() for name in FIELD_NAMES})
    mismatches: list[Mismatch] = Field(default_factory=list)

    @property
    def overall(self) -> FieldCounts:
        """All fields' counts summed: the micro average."""
        return sum(self.fields.values(), FieldCounts())

    @property
    def f1(self) -> float:
        """Micro-averaged F1 over every slot of every field."""
        return self.overall.f1

    def groups(self) -> dict[str, FieldCounts]:
        """The fields' counts summed per group (``FIELD_GROUPS``), in ``GROUPS`` order."""
        totals = dict.fromkeys(GROUPS, FieldCounts())
        for name, counts in self.fields.items():
            group = _group_of(name)
            totals[group] = totals[group] + counts
        return totals

    def merge(self, other: DocumentScore) -> DocumentScore:
        """Both scores as one: counts added field by field, mismatches concatenated."""
        names = dict.fromkeys([*self.fields, *other.fields])
        zero = FieldCounts()
        return DocumentScore(
            documents=self.documents + other.documents,
            fields={name: self.fields.get(name, zero) + other.fields.get(name, zero) for name in names},
            mismatches=[*self.mismatches, *other.mismatches],
        )


def sum_scores(scores: Iterable[DocumentScore]) -> DocumentScore:
    """Merge many documents' scores into one; no scores give an empty score."""
    return reduce(DocumentScore.merge, scores, DocumentScore())


def score_document(
    predicted: Document,
    truth: Document,
    *,
    name: str | None = None,
    printed: Mapping[Decimal, int] | None = None,
) -> DocumentScore:
    """Score every field of ``predicted`` against the hand label ``truth``.

    ``name`` identifies the document in mismatches (default: the label's file name).
    ``printed`` maps each value printed on the labelled document's pages to the most
    decimal places it is printed with (``checks.grounding.printed_places``); it sets
    how close a number must be. Without it, a label's number is taken as printed
    with the places it shows.
    """
    tally = _Tally(name if name is not None else truth.source.file, printed or {})
    for ti, pj in _align_forms(truth.forms, predicted.forms):
        place = _DOCUMENT.row("forms", ti, pj)
        _score_form(tally, place, _at(truth.forms, ti), _at(predicted.forms, pj))
    return DocumentScore(documents=1, fields=tally.counts, mismatches=tally.mismatches)


TABLE_HEADER = ("field", "tp", "fp", "fn", "tn", "precision", "recall", "f1")


def table_rows(score: DocumentScore) -> list[tuple[str, ...]]:
    """The per-field report as rows of text: the header, one row a field, then ``overall``."""
    rows = [(name, *_cells(counts)) for name, counts in score.fields.items()]
    return [TABLE_HEADER, *rows, ("overall", *_cells(score.overall))]


def format_table(score: DocumentScore) -> str:
    """The per-field report as a plain-text table."""
    rows = table_rows(score)
    widths = [max(len(row[column]) for row in rows) for column in range(len(TABLE_HEADER))]
    return "\n".join("  ".join(_aligned(row, widths)) for row in rows)


def _aligned(row: Sequence[str], widths: Sequence[int]) -> list[str]:
    """The field name left-aligned, the numbers right-aligned."""
    return [row[0].ljust(widths[0]), *(cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True))]


def _cells(counts: FieldCounts) -> tuple[str, ...]:
    numbers = (counts.tp, counts.fp, counts.fn, counts.tn)
    return (*map(str, numbers), f"{counts.precision:.4f}", f"{counts.recall:.4f}", f"{counts.f1:.4f}")


# --- slots --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    """Where a slot is: its path as shown (label-indexed) and as the prediction holds it (None: it holds none)."""

    path: str
    predicted: str | None

    def row(self, group: str, ti: int | None, pj: int | None) -> _Place:
        """Row ``ti`` of the label and ``pj`` of the prediction in ``group``, either None where that side has none."""
        predicted = None if self.predicted is None or pj is None else _join(self.predicted, f"{group}[{pj}]")
        return _Place(_join(self.path, f"{group}[{_index(ti, pj)}]"), predicted)

    def child(self, name: str) -> _Place:
        """A field of this form or row."""
        return _Place(_join(self.path, name), None if self.predicted is None else _join(self.predicted, name))


# The document itself: the root of every path.
_DOCUMENT = _Place("", "")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _index(ti: int | None, pj: int | None) -> int:
    """The index a path shows: the label's, or the prediction's for what only it holds."""
    index = ti if ti is not None else pj
    assert index is not None
    return index


class _Tally:
    """Counts and mismatches, filled slot by slot."""

    def __init__(self, document: str, printed: Mapping[Decimal, int]) -> None:
        self.document = document
        self.printed = printed
        self.counts = {name: FieldCounts() for name in FIELD_NAMES}
        self.mismatches: list[Mismatch] = []

    def slot(self, field: str, place: _Place, expected: Value, got: Value) -> None:
        """Count one slot under its field and record it if it is not right."""
        counts, kind = self._judge(field, expected, got)
        self.counts[field] = self.counts[field] + counts
        if kind is not None:
            self.mismatches.append(
                Mismatch(
                    document=self.document,
                    path=place.path,
                    predicted_path=place.predicted,
                    field=field,
                    expected=expected,
                    got=got,
                    kind=kind,
                )
            )

    def _judge(self, field: str, expected: Value, got: Value) -> tuple[FieldCounts, MismatchKind | None]:
        """One slot's counts, and its kind of mismatch if any."""
        if expected is None and got is None:
            return FieldCounts(tn=1), None
        if expected is None:
            return FieldCounts(fp=1), "spurious"
        if got is None:
            return FieldCounts(fn=1), "missing"
        if _equal(field, expected, got, self.printed):
            return FieldCounts(tp=1), None
        return FieldCounts(fp=1, fn=1), "wrong"


# --- equality -----------------------------------------------------------------------------------------------------


def _equal(field: str, expected: str | float | int, got: str | float | int, printed: Mapping[Decimal, int]) -> bool:
    """Texts folded (long ones alike enough), numbers within half a unit of the label's printed last place."""
    if isinstance(expected, str) and isinstance(got, str):
        return _same_text(field, expected, got)
    if isinstance(expected, int | float) and isinstance(got, int | float):
        return _same_number(expected, got, printed)
    return expected == got


def _same_text(field: str, expected: str, got: str) -> bool:
    """Equal folded; a long text when at least ``LONG_TEXT_SIMILARITY`` alike."""
    if field in LONG_TEXT_FIELDS:
        return _text_similarity(expected, got) >= LONG_TEXT_SIMILARITY
    return fold_text(expected) == fold_text(got)


def _same_number(expected: float, got: float, printed: Mapping[Decimal, int]) -> bool:
    """|E − F| ≤ 0.5 × 10^(−d) in exact decimals, d the places E is printed with."""
    return abs(dec(expected) - dec(got)) <= _HALF.scaleb(-_printed_places(expected, printed))


def _printed_places(value: float, printed: Mapping[Decimal, int]) -> int:
    """The places ``value`` is printed with on the pages, else the places it shows."""
    return printed.get(abs(dec(value)), places(value))


# --- forms and rows -----------------------------------------------------------------------------------------------


def _at(rows: Sequence[_Row], index: int | None) -> _Row | None:
    return None if index is None else rows[index]


def _score_form(tally: _Tally, place: _Place, truth: Form | None, predicted: Form | None) -> None:
    """Score one form's fields, fund rows, indicator rows and level-1 weights."""
    _score_fields(tally, "form", _FORM_SCALARS, place, truth, predicted)
    _score_weights(tally, place, truth, predicted)
    truth_funds = truth.funds if truth is not None else []
    predicted_funds = predicted.funds if predicted is not None else []
    for ti, pj in _align_funds(truth_funds, predicted_funds):
        row = place.row("funds", ti, pj)
        _score_fields(tally, "funds", _FUND_FIELDS, row, _at(truth_funds, ti), _at(predicted_funds, pj))
    truth_rows = truth.indicators if truth is not None else []
    predicted_rows = predicted.indicators if predicted is not None else []
    for ti, pj in _align_sequences(truth_rows, predicted_rows, _indicator_similarity):
        row = place.row("indicators", ti, pj)
        _score_fields(tally, "indicators", _INDICATOR_FIELDS, row, _at(truth_rows, ti), _at(predicted_rows, pj))


def _score_fields(
    tally: _Tally, group: str, names: Sequence[str], place: _Place, truth: BaseModel | None, predicted: BaseModel | None
) -> None:
    """Score the named fields of a paired row; of an unpaired one, only its non-null fields."""
    paired = truth is not None and predicted is not None
    for name in names:
        expected = getattr(truth, name) if truth is not None else None
        got = getattr(predicted, name) if predicted is not None else None
        if paired or expected is not None or got is not None:
            tally.slot(f"{group}.{name}", place.child(name), expected, got)


def _score_weights(tally: _Tally, place: _Place, truth: Form | None, predicted: Form | None) -> None:
    """Score each key of level1_weights as a slot; two empty or null dicts are one correct null."""
    expected = _folded_keys(truth.level1_weights if truth is not None else None)
    got = _folded_keys(predicted.level1_weights if predicted is not None else None)
    if not expected and not got:
        if truth is not None and predicted is not None:
            tally.slot(_WEIGHTS, place.child("level1_weights"), None, None)
        return
    for key in dict.fromkeys([*expected, *got]):
        tally.slot(_WEIGHTS, place.child(f"level1_weights[{key}]"), expected.get(key), got.get(key))


def _folded_keys(weights: dict[str, float] | None) -> dict[str, float]:
    """The weights under their folded keys."""
    return {fold_text(key): weight for key, weight in (weights or {}).items()}


def _align_forms(truth: Sequence[Form], predicted: Sequence[Form]) -> list[_Pair]:
    """Forms in order when the counts agree, else aligned on type and name."""
    if len(truth) == len(predicted):
        return [(index, index) for index in range(len(truth))]
    return _align_sequences(truth, predicted, _form_similarity)


def _form_similarity(truth: Form, predicted: Form) -> float:
    if truth.form_type != predicted.form_type:
        return 0.0
    return 0.5 + 0.5 * _text_similarity(_form_name(truth), _form_name(predicted))


def _form_name(form: Form) -> str | None:
    return form.project_name or form.department


def _indicator_similarity(truth: Indicator, predicted: Indicator) -> float:
    similarity = (
        3 * _text_similarity(truth.level3, predicted.level3)
        + _text_similarity(truth.level2, predicted.level2)
        + _text_similarity(truth.level1, predicted.level1)
        + _text_similarity(truth.target, predicted.target)
    ) / 6
    return similarity if similarity >= _MIN_ROW_SIMILARITY else 0.0


def _text_similarity(left: str | None, right: str | None) -> float:
    """Indel similarity of the folded texts, 0..1; two nulls are alike."""
    return float(Indel.normalized_similarity(fold_text(left or ""), fold_text(right or "")))


def _align_sequences(
    truth: Sequence[_Row], predicted: Sequence[_Row], similarity: Callable[[_Row, _Row], float]
) -> list[_Pair]:
    """The order-keeping pairing with the largest summed similarity (``compare.align``); a pair of 0 is never made."""

    def gain(t: _Row, p: _Row) -> int | None:
        alike = similarity(t, p)
        return round(alike * SCALE) if alike > 0 else None

    return align(truth, predicted, gain)


def _align_funds(truth: Sequence[FundRow], predicted: Sequence[FundRow]) -> list[_Pair]:
    """Pair fund rows on equal keys, strictest key first, the k-th match with the k-th."""
    partner: dict[int, int] = {}
    free = list(range(len(predicted)))
    for key in _FUND_KEYS:
        for ti, row in enumerate(truth):
            if ti in partner:
                continue
            pj = next((pj for pj in free if key(predicted[pj]) == key(row)), None)
            if pj is not None:
                partner[ti] = pj
                free.remove(pj)
    return [(ti, partner.get(ti)) for ti in range(len(truth))] + [(None, pj) for pj in free]

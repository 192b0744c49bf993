"""Field-level scoring of an extracted Document against its hand label.

``score_document(predicted, truth)`` counts, for every field of the schema, how
many slots were right, wrong, missing or spurious, and lists each mismatch with
its path, so a run over many documents adds up (``sum_scores``) and explains
itself (``DocumentScore.mismatches``). ``jixiao eval`` and the extractor tests
both build on it.

Fields are named by schema group and name: ``form.project_name``,
``funds.executed``, ``indicators.target``; ``source`` is not scored. Each key of
``form.level1_weights`` is a slot of its own, keys matched (and shown in paths)
after folding; both sides null or empty is one correct null.

Per slot, with truth T and prediction P:

- equal, both non-null: TP; both null: TN (a correct null, reported, not in F1);
- P non-null, T null: FP (``spurious``); T non-null, P null: FN (``missing``);
- both non-null but unequal: FP and FN (``wrong``): one wrong value costs both.

Equality: text after NFKC folding with all whitespace removed (the schema keeps
widths as printed and says a comparison folds them); numbers within 1e-6, since
both sides parse the same printed text, so ints compare exactly; the literals
(``form_type``, ``item``, ``amount_unit``) are words NFKC leaves as they are, so
they too must match exactly.

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
A mismatch's path indexes the label (``forms[1].indicators[3].target``), except
in a form or row only the prediction holds, which is indexed as the prediction
holds it.

F1 = 2TP / (2TP + FP + FN); precision and recall are TP over their denominators.
Each is 1.0 when its denominator is 0: nothing to get wrong. The overall F1 is
micro-averaged over every slot of every field.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from functools import reduce
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz.distance import Indel

from pipeline.compare import SCALE, align
from pipeline.schema import Document, Form, FundRow, Indicator, fold_text

__all__ = [
    "FIELD_NAMES",
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

_TOLERANCE = 1e-6
_MIN_ROW_SIMILARITY = 0.5
_WEIGHTS = "form.level1_weights"
_FORM_SCALARS = tuple(name for name in Form.model_fields if name not in ("funds", "indicators", "level1_weights"))
_FUND_FIELDS = tuple(FundRow.model_fields)
_INDICATOR_FIELDS = tuple(Indicator.model_fields)
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
    path: str = Field(description="Where, e.g. forms[1].indicators[3].target")
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


def score_document(predicted: Document, truth: Document, *, name: str | None = None) -> DocumentScore:
    """Score every field of ``predicted`` against the hand label ``truth``.

    ``name`` identifies the document in mismatches (default: the label's file name).
    """
    tally = _Tally(name if name is not None else truth.source.file)
    for ti, pj in _align_forms(truth.forms, predicted.forms):
        _score_form(tally, f"forms[{_index(ti, pj)}]", _at(truth.forms, ti), _at(predicted.forms, pj))
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


class _Tally:
    """Counts and mismatches, filled slot by slot."""

    def __init__(self, document: str) -> None:
        self.document = document
        self.counts = {name: FieldCounts() for name in FIELD_NAMES}
        self.mismatches: list[Mismatch] = []

    def slot(self, field: str, path: str, expected: Value, got: Value) -> None:
        """Count one slot under its field and record it if it is not right."""
        counts, kind = _judge(expected, got)
        self.counts[field] = self.counts[field] + counts
        if kind is not None:
            self.mismatches.append(
                Mismatch(document=self.document, path=path, field=field, expected=expected, got=got, kind=kind)
            )


def _judge(expected: Value, got: Value) -> tuple[FieldCounts, MismatchKind | None]:
    """One slot's counts, and its kind of mismatch if any."""
    if expected is None and got is None:
        return FieldCounts(tn=1), None
    if expected is None:
        return FieldCounts(fp=1), "spurious"
    if got is None:
        return FieldCounts(fn=1), "missing"
    if _equal(expected, got):
        return FieldCounts(tp=1), None
    return FieldCounts(fp=1, fn=1), "wrong"


def _equal(expected: Value, got: Value) -> bool:
    if isinstance(expected, str) and isinstance(got, str):
        return fold_text(expected) == fold_text(got)
    if isinstance(expected, int | float) and isinstance(got, int | float):
        return abs(expected - got) <= _TOLERANCE
    return expected == got


def _index(ti: int | None, pj: int | None) -> int:
    """The index a path shows: the label's, or the prediction's for what only it holds."""
    index = ti if ti is not None else pj
    assert index is not None
    return index


def _at(rows: Sequence[_Row], index: int | None) -> _Row | None:
    return None if index is None else rows[index]


def _score_form(tally: _Tally, path: str, truth: Form | None, predicted: Form | None) -> None:
    """Score one form's fields, fund rows, indicator rows and level-1 weights."""
    _score_fields(tally, "form", _FORM_SCALARS, path, truth, predicted)
    _score_weights(tally, path, truth, predicted)
    truth_funds = truth.funds if truth is not None else []
    predicted_funds = predicted.funds if predicted is not None else []
    for ti, pj in _align_funds(truth_funds, predicted_funds):
        row_path = f"{path}.funds[{_index(ti, pj)}]"
        _score_fields(tally, "funds", _FUND_FIELDS, row_path, _at(truth_funds, ti), _at(predicted_funds, pj))
    truth_rows = truth.indicators if truth is not None else []
    predicted_rows = predicted.indicators if predicted is not None else []
    for ti, pj in _align_sequences(truth_rows, predicted_rows, _indicator_similarity):
        row_path = f"{path}.indicators[{_index(ti, pj)}]"
        _score_fields(tally, "indicators", _INDICATOR_FIELDS, row_path, _at(truth_rows, ti), _at(predicted_rows, pj))


def _score_fields(
    tally: _Tally, group: str, names: Sequence[str], path: str, truth: BaseModel | None, predicted: BaseModel | None
) -> None:
    """Score the named fields of a paired row; of an unpaired one, only its non-null fields."""
    paired = truth is not None and predicted is not None
    for name in names:
        expected = getattr(truth, name) if truth is not None else None
        got = getattr(predicted, name) if predicted is not None else None
        if paired or expected is not None or got is not None:
            tally.slot(f"{group}.{name}", f"{path}.{name}", expected, got)


def _score_weights(tally: _Tally, path: str, truth: Form | None, predicted: Form | None) -> None:
    """Score each key of level1_weights as a slot; two empty or null dicts are one correct null."""
    expected = _folded_keys(truth.level1_weights if truth is not None else None)
    got = _folded_keys(predicted.level1_weights if predicted is not None else None)
    if not expected and not got:
        if truth is not None and predicted is not None:
            tally.slot(_WEIGHTS, f"{path}.level1_weights", None, None)
        return
    for key in dict.fromkeys([*expected, *got]):
        tally.slot(_WEIGHTS, f"{path}.level1_weights[{key}]", expected.get(key), got.get(key))


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

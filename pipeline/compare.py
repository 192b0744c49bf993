"""Field-by-field comparison of two Forms: align their rows, list what differs, merge two extractions.

Rows first. Indicator rows are aligned by a monotonic sequence alignment
(Needleman–Wunsch): a pair's gain is how similar the two 三级指标 texts are
beyond ``threshold`` (Indel similarity after NFKC and whitespace removal), plus
a little for each of 一级指标 / 二级指标 that agree; texts less similar than
``threshold`` are never paired, and a row left unpaired costs nothing. So one
missed or extra row stays one unpaired row instead of shifting every row after
it. Among alignments of equal gain the one whose pairs sit closest to the same
position wins, so identical repeated texts pair first with first. Fund rows
are paired by ``item``, the k-th row of an item with the k-th.

The aligned rows form the *merged* row sequence: entry k of ``align_rows`` (or
``match_funds``) is row k. ``diff_forms`` names rows by that index, so one
missing row is one whole-row difference, not a difference in every row after it.

Values are equal when they say the same: texts after NFKC (full and half width
alike) with all whitespace removed, numbers as the decimals they print
(``Decimal(repr(x))``, so 100 == 100.0).

``merge_forms`` builds the hybrid extraction from the layout and the LLM forms.
It takes the LLM form's structure, keeps every value the two agree on, and for
each disagreement keeps the value the checks and the page text support; each
disagreement is reported as a finding with both values, so nothing is decided
silently and no value is made up.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeGuard, TypeVar

from pydantic import BaseModel, ConfigDict, JsonValue
from rapidfuzz.distance import Indel

from pipeline.checks import SourceText, check_form
from pipeline.checks._base import dec, finding, fmt
from pipeline.checks.grounding import grounding
from pipeline.result import Finding, field_path
from pipeline.schema import Form, FundRow, Indicator, fold_text

__all__ = ["SCALE", "FieldDiff", "Pair", "align", "align_rows", "diff_forms", "match_funds", "merge_forms"]

Pair = tuple[int | None, int | None]
T = TypeVar("T")
_Row = FundRow | Indicator
_Entry = tuple[_Row | None, _Row | None]
_Where = tuple[str | int, ...]
_ROW_GROUPS = ("funds", "indicators")
# What one agreeing 一级指标 or 二级指标 adds to a pair's gain, beside the 三级指标 similarity (0..1).
_SUPPORT = 0.1
# Gains are summed as integers (ten-thousandths) so that equal alignments tie exactly and position decides.
SCALE = 10_000


class FieldDiff(BaseModel):
    """One value that differs between form ``a`` and form ``b``; None where a side has nothing.

    ``path`` is relative to the form: ``project_name``, ``funds[0].executed``,
    ``level1_weights.产出指标``; a row only one side holds is ``indicators[5]``
    with the row as a dict, the index counting rows of the merged sequence.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    path: str
    a: JsonValue = None
    b: JsonValue = None


def align_rows(a: Sequence[Indicator], b: Sequence[Indicator], *, threshold: float = 0.6) -> list[Pair]:
    """Indicator rows of ``a`` and ``b`` paired in order: ``(i, j)``, ``(i, None)`` or ``(None, j)``.

    Rows pair when their folded 三级指标 texts are at least ``threshold`` alike
    (Indel similarity, 0..1); the alignment maximises the summed similarity beyond
    the threshold, each agreeing 一级指标 and 二级指标 adding 0.1; among equal ones,
    the pairs nearest the same position win. Every index of ``a`` and ``b``
    appears exactly once, both in increasing order.
    """
    return align(a, b, lambda x, y: _gain(x, y, threshold))


def align(a: Sequence[T], b: Sequence[T], gain: Callable[[T, T], int | None]) -> list[Pair]:
    """Needleman–Wunsch: the order-keeping pairing of ``a`` and ``b`` with the largest summed ``gain``.

    ``gain(x, y)`` is what pairing two items adds (an integer, so equal sums tie
    exactly), or None when they must never pair; leaving an item unpaired costs
    nothing. Among alignments of equal gain, the one whose pairs sit nearest the
    same position wins. Returns every index of both sides once, in order.
    """
    gains = [[gain(x, y) for y in b] for x in a]
    best = [[(0, 0)] * (len(b) + 1) for _ in range(len(a) + 1)]
    moves = [[""] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        for j in range(len(b) + 1):
            options: list[tuple[tuple[int, int], str]] = []
            pair_gain = gains[i - 1][j - 1] if i and j else None
            if pair_gain is not None:
                score, shift = best[i - 1][j - 1]
                options.append(((score + pair_gain, shift - abs(i - j)), "pair"))
            if j:
                options.append((best[i][j - 1], "b"))
            if i:
                options.append((best[i - 1][j], "a"))
            if options:
                best[i][j], moves[i][j] = max(options, key=lambda option: option[0])
    return _trace(moves, len(a), len(b))


def _gain(x: Indicator, y: Indicator, threshold: float) -> int | None:
    """What pairing ``x`` with ``y`` adds to an alignment, in ten-thousandths; None: never pair them."""
    similarity = Indel.normalized_similarity(fold_text(x.level3), fold_text(y.level3))
    if similarity < threshold:
        return None
    support = _SUPPORT * (_same(x.level1, y.level1) + _same(x.level2, y.level2))
    return round((similarity - threshold + support) * SCALE)


def _trace(moves: list[list[str]], i: int, j: int) -> list[Pair]:
    """Walk the alignment's moves back from the end: the pairs in order."""
    pairs: list[Pair] = []
    while i or j:
        move = moves[i][j]
        if move == "pair":
            i, j = i - 1, j - 1
            pairs.append((i, j))
        elif move == "a":
            i -= 1
            pairs.append((i, None))
        else:
            j -= 1
            pairs.append((None, j))
    return pairs[::-1]


def match_funds(a: Sequence[FundRow], b: Sequence[FundRow]) -> list[Pair]:
    """Fund rows paired by ``item``, the k-th row of an item in ``a`` with the k-th in ``b``.

    The pairs follow ``b``'s order; a row only ``a`` holds comes just before the
    next row of ``a`` that is paired (or at the end). Every index of ``a`` and
    ``b`` appears exactly once.
    """
    waiting: defaultdict[str, deque[int]] = defaultdict(deque)
    for j, row in enumerate(b):
        waiting[row.item].append(j)
    partner: dict[int, int] = {}
    for i, row in enumerate(a):
        if waiting[row.item]:
            partner[waiting[row.item].popleft()] = i
    paired = set(partner.values())
    pairs: list[Pair] = []
    start = 0
    for j in range(len(b)):
        mate = partner.get(j)
        if mate is not None:
            pairs.extend((k, None) for k in range(start, mate) if k not in paired)
            start = max(start, mate + 1)
        pairs.append((mate, j))
    pairs.extend((k, None) for k in range(start, len(a)) if k not in paired)
    return pairs


def diff_forms(a: Form, b: Form) -> list[FieldDiff]:
    """Every value that differs between ``a`` and ``b``, in the order of the form's fields.

    Rows are aligned first (``align_rows``, ``match_funds``) and named by their
    index in the merged row sequence; a row only one side holds is one whole-row
    difference. ``level1_weights`` is compared key by key, keys folded.
    """
    return [
        FieldDiff(path=field_path(slot.where), a=slot.a, b=slot.b)
        for slot in _slots(a, b, _entries(a, b))
        if _whole_row(slot) or not _same(slot.a, slot.b)
    ]


def merge_forms(layout: Form, llm: Form, source: SourceText | None = None) -> tuple[Form, list[Finding]]:
    """The hybrid form: the LLM form's structure, each disagreement settled by the checks; and what was settled.

    Values the two agree on are kept (as the layout extractor read them). The rest:

    - A row only one extractor found is kept when none of its values is
      ``not_in_source`` (always, without ``source``), else dropped;
      ``extractors_disagree`` on the row's path says which did which.
    - Two different values: each is put in the merged form in turn and the whole
      form checked (``check_form`` with ``source``). The value kept is the one
      that (1) is printed on the pages (no ``not_in_source`` at its path), then
      (2) leaves fewer errors in the whole form, then (3) fewer warnings; on a
      tie, the layout value, read from the cell verbatim. Counting over the whole
      form catches a value's effect elsewhere (a wrong score breaks the total's
      sum); only that value differs between the two runs, so the findings about
      other values count the same for both. ``extractors_disagree``: expected
      is the kept value, found the other.
    - One null, one value: the value is kept when it is printed on the pages and
      leaves no more errors than the null; ``extractor_gap`` (info).

    Disagreements are settled one by one in the form's field order (header
    fields, fund rows, goals, indicator rows, 一级指标 weights, then the totals
    and grade, so a total is judged with its rows settled), each against the
    values settled before it; a field not yet settled holds the layout value,
    or the only value read. Two check runs per disagreement, one grounding run
    for the rows.
    """
    entries, findings = _settle_rows(layout, llm, _entries(layout, llm), source)
    slots = [slot for slot in _slots(layout, llm, entries) if not _whole_row(slot)]
    state = _start(layout, llm, entries, slots)
    for slot in slots:
        if not _same(slot.a, slot.b):
            settle = _settle_dispute if slot.a is not None and slot.b is not None else _settle_gap
            findings.append(settle(state, slot, source))
    return Form.model_validate(state), findings


# --- slots: the aligned values of two forms --------------------------------------------------------------------


@dataclass(frozen=True)
class _Slot:
    """One place of the form and the value each side holds there (a whole row as a dict)."""

    where: _Where
    a: JsonValue
    b: JsonValue


def _entries(a: Form, b: Form) -> dict[str, list[_Entry]]:
    """Each row group's aligned rows: (row of a, row of b), None on the side that has none."""
    funds = match_funds(a.funds, b.funds)
    indicators = align_rows(a.indicators, b.indicators)
    return {
        "funds": [(_at(a.funds, i), _at(b.funds, j)) for i, j in funds],
        "indicators": [(_at(a.indicators, i), _at(b.indicators, j)) for i, j in indicators],
    }


def _at(rows: Sequence[_Row], index: int | None) -> _Row | None:
    return None if index is None else rows[index]


def _slots(a: Form, b: Form, entries: dict[str, list[_Entry]]) -> Iterator[_Slot]:
    """Every aligned value of ``a`` and ``b`` in the form's field order."""
    for name in Form.model_fields:
        if name in entries:
            yield from _row_slots(name, entries[name])
        elif name == "level1_weights":
            yield from _weight_slots(a.level1_weights, b.level1_weights)
        else:
            yield _Slot((name,), getattr(a, name), getattr(b, name))


def _row_slots(group: str, entries: list[_Entry]) -> Iterator[_Slot]:
    """A paired row's fields one by one; a row one side lacks as a whole."""
    for k, (x, y) in enumerate(entries):
        if x is None or y is None:
            yield _Slot((group, k), _dump(x), _dump(y))
            continue
        for name in type(x).model_fields:
            yield _Slot((group, k, name), getattr(x, name), getattr(y, name))


def _dump(row: _Row | None) -> JsonValue:
    return None if row is None else row.model_dump(mode="json")


def _weight_slots(a: dict[str, float] | None, b: dict[str, float] | None) -> Iterator[_Slot]:
    """Each 一级指标 weight, keys matched folded and named as ``a`` spells them (else ``b``)."""
    folded_a = {fold_text(key): (key, value) for key, value in (a or {}).items()}
    folded_b = {fold_text(key): (key, value) for key, value in (b or {}).items()}
    for folded in dict.fromkeys([*folded_a, *folded_b]):
        key = (folded_a.get(folded) or folded_b[folded])[0]
        yield _Slot(("level1_weights", key), _value(folded_a.get(folded)), _value(folded_b.get(folded)))


def _value(item: tuple[str, float] | None) -> float | None:
    return None if item is None else item[1]


def _whole_row(slot: _Slot) -> bool:
    return isinstance(slot.where[-1], int)


def _number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same(x: object, y: object) -> bool:
    """Texts equal folded, numbers equal as printed decimals, anything else equal as is."""
    if _number(x) and _number(y):
        return dec(x) == dec(y)
    if isinstance(x, str) and isinstance(y, str):
        return fold_text(x) == fold_text(y)
    return x == y


# --- merging ------------------------------------------------------------------------------------------------------


class _Verdict(NamedTuple):
    """How a candidate value fares, worst first: compared as a tuple, smaller is better."""

    unprinted: bool
    errors: int
    warnings: int


_NAMES = ("layout extractor", "LLM")


def _settle_rows(
    layout: Form, llm: Form, entries: dict[str, list[_Entry]], source: SourceText | None
) -> tuple[dict[str, list[_Entry]], list[Finding]]:
    """Keep a row only one extractor found when its values are printed on the pages (or there are no pages)."""
    unprinted: defaultdict[str, list[str]] = defaultdict(list)
    if source is not None:
        every_row = [slot for slot in _slots(layout, llm, entries) if not _whole_row(slot)]
        form = Form.model_validate(_start(layout, llm, entries, every_row))
        for found in grounding(form, source):
            if found.code == "not_in_source" and found.path and found.found:
                unprinted[found.path.split(".")[0]].append(repr(found.found))
    kept: dict[str, list[_Entry]] = {}
    findings: list[Finding] = []
    for group in _ROW_GROUPS:
        kept[group] = []
        for k, (x, y) in enumerate(entries[group]):
            if x is None or y is None:
                missing = unprinted[field_path((group, k))]
                path = field_path((group, len(kept[group])))
                findings.append(_row_finding(path, x, y, missing, source is not None))
                if missing:
                    continue
            kept[group].append((x, y))
    return kept, findings


def _either(x: _Row | None, y: _Row | None) -> _Row:
    """The LLM's row, or the layout's where only it has one."""
    row = y if y is not None else x
    assert row is not None, "an aligned entry holds a row on at least one side"
    return row


def _row_finding(path: str, x: _Row | None, y: _Row | None, missing: list[str], checked: bool) -> Finding:
    """``extractors_disagree`` for a row only one extractor found: which, and whether it was kept."""
    row = _either(x, y)
    who = _NAMES[0] if x is not None else _NAMES[1]
    name = row.level3 if isinstance(row, Indicator) else row.label
    if missing:
        message = f"only the {who} read this row ({name}); dropped: {', '.join(missing)} printed nowhere on the pages"
        return finding("extractors_disagree", path, message, found=name)
    why = "its values are printed on the pages" if checked else "no page text to check it against"
    return finding("extractors_disagree", path, f"only the {who} read this row ({name}); kept: {why}", expected=name)


def _start(layout: Form, llm: Form, entries: dict[str, list[_Entry]], slots: list[_Slot]) -> dict[str, Any]:
    """The merged form before any disagreement is settled: the layout value where both read one, else the one read."""
    state = llm.model_dump()
    for group, rows in entries.items():
        state[group] = [_either(x, y).model_dump() for x, y in rows]
    if layout.level1_weights is not None or llm.level1_weights is not None:
        state["level1_weights"] = {}
    for slot in slots:
        _put(state, slot.where, slot.a if slot.a is not None else slot.b)
    return state


def _put(state: dict[str, Any], where: _Where, value: JsonValue) -> None:
    """Set the value at ``where``; a null 一级指标 weight is no key at all."""
    *parents, last = where
    target: Any = state
    for key in parents:
        target = target[key]
    if value is None and parents == ["level1_weights"]:
        target.pop(last, None)
    else:
        target[last] = value


def _verdict(state: dict[str, Any], where: _Where, value: JsonValue, source: SourceText | None) -> _Verdict:
    """Put ``value`` at ``where`` and check the whole form."""
    _put(state, where, value)
    found = check_form(Form.model_validate(state), source)
    path = field_path(where)
    return _Verdict(
        unprinted=any(f.code == "not_in_source" and f.path == path for f in found),
        errors=sum(f.severity == "error" for f in found),
        warnings=sum(f.severity == "warning" for f in found),
    )


def _settle_dispute(state: dict[str, Any], slot: _Slot, source: SourceText | None) -> Finding:
    """Two different values: keep the better verdict, the layout value on a tie."""
    verdicts = (_verdict(state, slot.where, slot.a, source), _verdict(state, slot.where, slot.b, source))
    keep = 1 if verdicts[1] < verdicts[0] else 0
    values = (slot.a, slot.b)
    kept, other = values[keep], values[1 - keep]
    _put(state, slot.where, kept)
    message = (
        f"the layout extractor read {_show(slot.a)}, the LLM {_show(slot.b)}; kept {_show(kept)} ({_NAMES[keep]}): "
        f"{_why(verdicts[keep], verdicts[1 - keep], other)}"
    )
    return finding("extractors_disagree", field_path(slot.where), message, expected=kept, found=other)


def _why(kept: _Verdict, other: _Verdict, other_value: JsonValue) -> str:
    if kept.unprinted != other.unprinted:
        return f"{_show(other_value)} is printed nowhere on the pages"
    if kept.errors != other.errors:
        return f"the form has {kept.errors} check error(s) with it, {other.errors} with {_show(other_value)}"
    if kept.warnings != other.warnings:
        return f"the form has {kept.warnings} check warning(s) with it, {other.warnings} with {_show(other_value)}"
    return "the checks do not tell them apart, and the layout extractor reads the cell verbatim"


def _settle_gap(state: dict[str, Any], slot: _Slot, source: SourceText | None) -> Finding:
    """One value, one null: keep the value when it is printed on the pages.

    A printed value is data even when the form's own sums then disagree (the checks
    report that); only without page text does adding no check error decide.
    """
    reader = 0 if slot.a is not None else 1
    value = slot.a if reader == 0 else slot.b
    with_it, without = _verdict(state, slot.where, value, source), _verdict(state, slot.where, None, source)
    keep = not with_it.unprinted if source is not None else with_it.errors <= without.errors
    _put(state, slot.where, value if keep else None)
    if keep:
        outcome = "kept"
    elif with_it.unprinted:
        outcome = "left null: it is printed nowhere on the pages"
    else:
        outcome = f"left null: the form has {with_it.errors} check error(s) with it, {without.errors} without"
    path = field_path(slot.where)
    message = f"the {_NAMES[1 - reader]} left {path} null; the {_NAMES[reader]} read {_show(value)}; {outcome}"
    if keep:
        return finding("extractor_gap", path, message, expected=value)
    return finding("extractor_gap", path, message, found=value)


def _show(value: JsonValue) -> str:
    if _number(value):
        return fmt(value)
    return "null" if value is None else f"'{value}'"

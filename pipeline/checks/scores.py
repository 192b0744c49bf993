"""Checks of weights and scores: each row, the totals, the 一级指标 weights, the grade."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from decimal import Decimal
from functools import cache, lru_cache

from pipeline.checks._base import dec, finding, fmt, printed_as, quantize, rules
from pipeline.labels import fold
from pipeline.result import Finding
from pipeline.schema import Form, Indicator

__all__ = [
    "grades",
    "indicator_scores",
    "level1_weights",
    "measure",
    "missing_deviations",
    "negative_numbers",
    "scores_within_weights",
    "totals",
]

_TOLERANCE = Decimal("0.01")
_ROUNDING = Decimal("0.005")
_MEASURE = re.compile(r"(\d+(?:\.\d+)?)([^\d]*)")
_QUALIFIERS = ("定性", "定量")


@cache
def _operator_words() -> tuple[tuple[str, str], ...]:
    """(word, operator) pairs, longest word first, so 不低于 wins over 低于."""
    pairs = [(">=", ">="), ("<=", "<=")]
    pairs += [(unicodedata.normalize("NFKC", w), op) for op, words in rules()["operators"].items() for w in words]
    return tuple(sorted(pairs, key=lambda pair: -len(pair[0])))


@lru_cache(maxsize=8192)
def measure(text: str | None) -> tuple[str | None, Decimal, str] | None:
    """A target or actual read as (operator, number, unit): ``≥85%`` → (">=", 85, "%"); None if not one number.

    ``=100.00(%)`` → ("=", 100.00, "%"); ``90%以上`` → (">=", 90, "%"); ``2023年12月31日前`` → None.
    """
    if not text:
        return None
    flat = "".join(unicodedata.normalize("NFKC", text).split()).replace(",", "")
    for qualifier in _QUALIFIERS:
        flat = flat.removeprefix(qualifier)
    operator: str | None = None
    for word, op in _operator_words():
        if flat.startswith(word):
            operator, flat = op, flat[len(word) :]
            break
    else:
        for op, words in rules()["operator_suffixes"].items():
            suffix = next((str(w) for w in words if flat.endswith(w)), "")
            if suffix:
                operator, flat = op, flat[: -len(suffix)]
                break
    match = _MEASURE.fullmatch(flat)
    if match is None:
        return None
    unit = match.group(2).replace("(", "").replace(")", "")
    return operator, Decimal(match.group(1)), unit


@cache
def _met_words() -> frozenset[str]:
    return frozenset(fold(w) for w in rules()["met"]["words"])


def _implied_score(row: Indicator) -> tuple[Decimal, str] | None:
    """The score the common rule implies for ``row``, and why; None where the rule says nothing."""
    if row.weight is None:
        return None
    weight = dec(row.weight)
    target, actual = measure(row.target), measure(row.actual)
    if target is not None and actual is not None:
        op, goal, unit = target
        _, got, actual_unit = actual
        if unit and actual_unit and fold(unit) != fold(actual_unit):
            return None
        if op in ("<=", "<") or (op == "=" and goal == 0):  # =0起: nothing may happen, like ≤0
            ratio = Decimal(1) if got <= goal else (goal / got if got else Decimal(0))
        else:
            ratio = Decimal(1) if got >= goal or goal == 0 else got / goal
        return weight * min(ratio, Decimal(1)), f"target {row.target}, actual {row.actual}"
    if row.actual is None:
        return None
    folded_actual = fold(row.actual)
    folded_target = fold(row.target or "")
    for qualifier in _QUALIFIERS:
        folded_target = folded_target.removeprefix(qualifier)
    if folded_actual in _met_words() or (folded_target and folded_actual == folded_target.lstrip("=")):
        return weight, f"actual {row.actual} says the target ({row.target}) was met"
    return None


def indicator_scores(form: Form) -> Iterator[Finding]:
    """Each indicator's score against what its target and actual imply by the common rule."""
    for i, row in enumerate(form.indicators):
        implied = _implied_score(row)
        if implied is None or row.score is None:
            continue
        value, why = implied
        if printed_as(row.score, value, 2, slack=_TOLERANCE):
            continue
        yield finding(
            "indicator_score_rule",
            f"indicators[{i}].score",
            f"{row.level3}: {why}, so the common rule gives {fmt(quantize(value, 2))} of {fmt(row.weight or 0)}; "
            f"printed {fmt(row.score)}",
            expected=quantize(value, 2),
            found=row.score,
        )


def scores_within_weights(form: Form) -> Iterator[Finding]:
    """No score above its weight, on a fund row, an indicator or the total."""
    rows: list[tuple[str, float | None, float | None]] = [
        (f"funds[{i}]", r.weight, r.score) for i, r in enumerate(form.funds)
    ]
    rows += [(f"indicators[{i}]", r.weight, r.score) for i, r in enumerate(form.indicators)]
    rows.append(("total", form.total_weight, form.total_score))
    for where, weight, score in rows:
        if weight is not None and score is not None and dec(score) > dec(weight):
            path = "total_score" if where == "total" else f"{where}.score"
            yield finding(
                "score_over_weight",
                path,
                f"score {fmt(score)} is higher than its weight {fmt(weight)}",
                expected=f"≤ {fmt(weight)}",
                found=score,
            )


def negative_numbers(form: Form) -> Iterator[Finding]:
    """No amount, rate, weight or score is negative."""
    numbers: list[tuple[str, float | None]] = []
    for i, row in enumerate(form.funds):
        for name in ("initial_budget", "adjusted_budget", "executed", "weight", "execution_rate", "score"):
            numbers.append((f"funds[{i}].{name}", getattr(row, name)))
    for i, ind in enumerate(form.indicators):
        numbers += [(f"indicators[{i}].weight", ind.weight), (f"indicators[{i}].score", ind.score)]
    numbers += [("total_weight", form.total_weight), ("total_score", form.total_score)]
    numbers += [(f"level1_weights.{k}", v) for k, v in (form.level1_weights or {}).items()]
    for path, value in numbers:
        if value is not None and value < 0:
            yield finding("negative_number", path, f"{fmt(value)} is negative", expected="≥ 0", found=value)


def missing_deviations(form: Form) -> Iterator[Finding]:
    """An indicator that lost points should say why."""
    for i, row in enumerate(form.indicators):
        if row.weight is None or row.score is None or row.deviation is not None:
            continue
        if dec(row.score) < dec(row.weight):
            yield finding(
                "missing_deviation",
                f"indicators[{i}].deviation",
                f"{row.level3}: scored {fmt(row.score)} of {fmt(row.weight)} with no 偏差原因分析",
                found=None,
            )


def _fund_part(form: Form, name: str) -> Decimal | None:
    """The money table's weight or score: the total row's, else the sum over the rows that print one."""
    for row in form.funds:
        if row.item == "total" and getattr(row, name) is not None:
            return dec(getattr(row, name))
    values = [dec(getattr(row, name)) for row in form.funds if getattr(row, name) is not None]
    return sum(values, Decimal(0)) if values else None


def totals(form: Form) -> Iterator[Finding]:
    """Fund weight + indicator weights = the total's 分值; fund score + indicator scores = its 得分."""
    for name, printed, code in (("weight", form.total_weight, "weight_sum"), ("score", form.total_score, "score_sum")):
        values = [getattr(row, name) for row in form.indicators]
        present = [dec(v) for v in values if v is not None]
        if printed is None or not present:
            continue
        fund = _fund_part(form, name)
        total = sum(present, fund or Decimal(0))
        gap = abs(total - dec(printed))
        if gap <= _TOLERANCE:
            continue
        terms = len(present) + (fund is not None)
        if name == "score" and gap <= terms * _ROUNDING:
            code = "score_sum_rounding"
        blanks = len(values) - len(present)
        missing = f" ({blanks} indicator row(s) print no {name})" if blanks else ""
        fund_text = f"fund {fmt(fund)} + " if fund is not None else ""
        yield finding(
            code,
            f"total_{name}",
            f"{fund_text}indicator {name}s {fmt(sum(present))} = {fmt(total)}{missing}, "
            f"but the total row prints {fmt(printed)}",
            expected=total,
            found=printed,
        )


def level1_weights(form: Form) -> Iterator[Finding]:
    """Each printed 一级指标 weight against its rows; together with the fund weight, against the total."""
    if not form.level1_weights:
        return
    printed = {fold(name): (name, dec(value)) for name, value in form.level1_weights.items()}
    sums: dict[str, Decimal] = {}
    for i, row in enumerate(form.indicators):
        key = fold(row.level1)
        if key not in printed:
            yield finding(
                "level1_unweighted",
                f"indicators[{i}].level1",
                f"{row.level3}: 一级指标 {row.level1} has no printed weight in level1_weights",
                found=row.level1,
            )
            continue
        sums[key] = sums.get(key, Decimal(0)) + (dec(row.weight) if row.weight is not None else Decimal(0))
    for key, (name, weight) in printed.items():
        rows = sums.get(key, Decimal(0))
        if abs(rows - weight) > _TOLERANCE:
            yield finding(
                "level1_weight_sum",
                f"level1_weights.{name}",
                f"{name}: printed 权重 {fmt(weight)}, but the indicators under it weigh {fmt(rows)}",
                expected=rows,
                found=weight,
            )
    if form.total_weight is not None:
        fund = _fund_part(form, "weight") or Decimal(0)
        together = sum((w for _, w in printed.values()), fund)
        if abs(together - dec(form.total_weight)) > _TOLERANCE:
            summed = f"{fmt(together - fund)} + fund {fmt(fund)} = {fmt(together)}" if fund else fmt(together)
            yield finding(
                "level1_weights_total",
                "level1_weights",
                f"the 一级指标 weights sum to {summed}, but the total row prints {fmt(form.total_weight)}",
                expected=form.total_weight,
                found=together,
            )


def grade_of(score: float) -> str:
    """The grade a total score implies: the first band whose floor it reaches."""
    for grade, floor in rules()["grades"]["bands"]:
        if score >= floor:
            return str(grade)
    return str(rules()["grades"]["bands"][-1][0])


def grades(form: Form) -> Iterator[Finding]:
    """The printed 评分等级 against the grade the printed total score implies."""
    if form.grade is None:
        return
    synonyms = {fold(word): grade for grade, words in rules()["grades"]["synonyms"].items() for word in words}
    printed = synonyms.get(fold(form.grade))
    if printed is None:
        message = f"评分等级 {form.grade!r} is not a grade this check knows"
        yield finding("grade_unknown", "grade", message, found=form.grade)
        return
    if form.total_score is None:
        return
    implied = grade_of(form.total_score)
    if printed != implied:
        yield finding(
            "grade_mismatch",
            "grade",
            f"评分等级 printed {form.grade}, but a total score of {fmt(form.total_score)} is {implied}",
            expected=implied,
            found=form.grade,
        )

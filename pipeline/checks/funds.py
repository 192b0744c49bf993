"""Checks of the money table: the rows' sums, each 执行率, the fund score.

Amounts in 元 are exact (to the cent). Amounts in 万元 are rounded from 元, so a
sum may miss its total by up to half a unit of the last printed place per
non-zero term; a miss larger than that cannot come from rounding and is reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from pipeline.checks._base import dec, finding, fmt, places, printed_as, quantize
from pipeline.result import Finding
from pipeline.schema import Form, FundRow

__all__ = ["execution_rates", "fund_scores", "fund_sums", "fund_weights"]

AMOUNTS = ("initial_budget", "adjusted_budget", "executed")
SOURCES = ("appropriation", "carryover", "special_account", "unit_funds", "other")
STRUCTURE = ("basic", "project")
_CENT = Decimal("0.01")


def _amount_unit(form: Form) -> Decimal:
    """The unit of the last printed place of the money table: 0.01 when an amount shows 2 decimals, 0.1 for 1.

    A float keeps no trailing zero (22.20 is 22.2), so the places are the most any amount shows.
    """
    shown = [places(v) for row in form.funds for column in AMOUNTS if (v := getattr(row, column)) is not None]
    return Decimal(1).scaleb(-max(shown, default=0))


def _agree(form: Form, total: Decimal, parts: list[Decimal]) -> bool:
    """Do ``parts`` add up to ``total``, allowing for the rounding of amounts in 万元?"""
    gap = abs(sum(parts, Decimal(0)) - total)
    if form.amount_unit == "元":
        return gap < _CENT
    rounded_terms = sum(1 for value in [*parts, total] if value != 0)
    return gap < max(rounded_terms, 1) * _amount_unit(form) / 2


def _rows(form: Form, items: tuple[str, ...]) -> list[tuple[int, FundRow]]:
    return [(i, row) for i, row in enumerate(form.funds) if row.item in items]


def _column_sum(rows: list[tuple[int, FundRow]], column: str) -> list[Decimal] | None:
    """The column's values over ``rows``, a blank counting as 0; None when every row is blank."""
    values = [getattr(row, column) for _, row in rows]
    if all(v is None for v in values):
        return None
    return [dec(v) if v is not None else Decimal(0) for v in values]


def _names(rows: list[tuple[int, FundRow]]) -> str:
    return " + ".join(row.label for _, row in rows)


def fund_sums(form: Form) -> Iterator[Finding]:
    """Source rows add up to the total row; 基本支出 + 项目支出 to the total (or to the sources)."""
    totals = _rows(form, ("total",))
    sources = _rows(form, SOURCES)
    structure = _rows(form, STRUCTURE)
    total_index, total_row = totals[0] if totals else (None, None)
    for column in AMOUNTS:
        total = getattr(total_row, column) if total_row is not None else None
        source_values = _column_sum(sources, column) if sources else None
        if total is not None and source_values is not None and not _agree(form, dec(total), source_values):
            yield finding(
                "fund_parts_sum",
                f"funds[{total_index}].{column}",
                f"{_names(sources)} = {fmt(sum(source_values))}, but the total row prints {fmt(total)}",
                expected=sum(source_values),
                found=total,
            )
        structure_values = _column_sum(structure, column) if structure else None
        if structure_values is None:
            continue
        first = structure[0][0]
        if total is not None:
            reference, what = dec(total), "the total row prints"
        elif source_values is not None:
            reference, what = sum(source_values, Decimal(0)), f"{_names(sources)} ="
        else:
            continue
        if not _agree(form, reference, structure_values):
            yield finding(
                "fund_structure_sum",
                f"funds[{first}].{column}",
                f"{_names(structure)} = {fmt(sum(structure_values))}, but {what} {fmt(reference)}",
                expected=reference,
                found=sum(structure_values),
            )


def _recomputed_rate(row: FundRow) -> Decimal | None:
    """执行数 / 预算数 × 100 (全年预算数, else 年初预算数); None when it cannot be computed (a 0 budget)."""
    budget = row.adjusted_budget if row.adjusted_budget is not None else row.initial_budget
    if budget is None or row.executed is None or budget == 0:
        return None
    return dec(row.executed) / dec(budget) * 100


def _rate_places(form: Form) -> int:
    """Rates are printed to 2 places when any shows decimals; a form printing only whole rates is read as 0."""
    rates = [row.execution_rate for row in form.funds if row.execution_rate is not None]
    return 2 if any(not float(r).is_integer() for r in rates) else 0


def execution_rates(form: Form) -> Iterator[Finding]:
    """Each printed 执行率 against 执行数 / 预算数, at the printed precision; a capped 100 is info."""
    digits = _rate_places(form)
    for i, row in enumerate(form.funds):
        exact = _recomputed_rate(row)
        path = f"funds[{i}].execution_rate"
        if row.execution_rate is not None and exact is None:
            yield from _rate_without_budget(row, path)
        if row.execution_rate is None or exact is None:
            continue
        if row.execution_rate == 100 and quantize(exact, 2) > 100:
            yield finding(
                "execution_rate_capped",
                path,
                f"{row.label}: 执行数 {fmt(row.executed or 0)} exceeds the budget ({fmt(quantize(exact, 2))}%); "
                "the rate is printed as 100",
                expected=quantize(exact, 2),
                found=row.execution_rate,
            )
        elif not printed_as(row.execution_rate, exact, digits):
            yield finding(
                "execution_rate",
                path,
                f"{row.label}: 执行率 printed {fmt(row.execution_rate)}, but 执行数 / 预算数 = "
                f"{fmt(quantize(exact, 2))}%",
                expected=quantize(exact, 2),
                found=row.execution_rate,
            )


def _rate_without_budget(row: FundRow, path: str) -> Iterator[Finding]:
    """A 0 budget gives no rate: with nothing spent, a form prints 0 (or 100); anything else is suspicious."""
    budget = row.adjusted_budget if row.adjusted_budget is not None else row.initial_budget
    if budget != 0 or row.execution_rate is None:
        return
    if row.execution_rate in (0, 100) and not row.executed:  # nothing budgeted, nothing spent: 0, or "all done"
        return
    yield finding(
        "execution_rate_zero_budget",
        path,
        f"{row.label}: the budget is 0, so no 执行率 follows from it; printed {fmt(row.execution_rate)}",
        expected="0 or blank",
        found=row.execution_rate,
    )


def fund_weights(form: Form) -> Iterator[Finding]:
    """The money table's 分值 and 得分 belong to the total row; a sub-row printing them too is suspicious."""
    total = next((row for row in form.funds if row.item == "total"), None)
    if total is None:
        return
    for i, row in enumerate(form.funds):
        if row is total:
            continue
        for name, on_total in (("weight", total.weight), ("score", total.score)):
            value = getattr(row, name)
            if value is not None and on_total is not None:
                yield finding(
                    "fund_subrow_weight",
                    f"funds[{i}].{name}",
                    f"{row.label}: a sub-row prints a {name} ({fmt(value)}) beside the total row's {fmt(on_total)}",
                    found=value,
                )


def fund_scores(form: Form) -> Iterator[Finding]:
    """A fund row's score against weight × min(rate, 100%), from the recomputed or the printed rate."""
    for i, row in enumerate(form.funds):
        if row.weight is None or row.score is None:
            continue
        rates = [r for r in (_recomputed_rate(row), row.execution_rate) if r is not None]
        if not rates:
            continue
        implied = [dec(row.weight) * min(dec(rate), Decimal(100)) / 100 for rate in rates]
        if any(printed_as(row.score, value, 2, slack=_CENT) for value in implied):
            continue
        yield finding(
            "fund_score",
            f"funds[{i}].score",
            f"{row.label}: 得分 printed {fmt(row.score)}, but 分值 {fmt(row.weight)} × 执行率 "
            f"{fmt(quantize(dec(rates[0]), 2))}% = {fmt(quantize(implied[0], 2))}",
            expected=quantize(implied[0], 2),
            found=row.score,
        )

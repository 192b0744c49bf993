"""Checks of plausibility: the year, the money unit, which 二级指标 stands under which 一级指标."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from functools import cache

from pipeline.checks._base import finding, fmt, rules
from pipeline.labels import fold
from pipeline.result import Finding
from pipeline.schema import Form

__all__ = ["amount_magnitude", "level_pairing", "year_range"]

_SMALLEST_YUAN = 1_000  # no assessed project or department spends less than 1,000 元
_LARGEST_WAN = 1_000_000  # 1,000,000 万元 is 100 亿元: more than any one form's budget


def year_range(form: Form, today: datetime.date | None = None) -> Iterator[Finding]:
    """The assessed year lies between 2000 and this year (a form assesses a year that has ended or is ending)."""
    this_year = (today or datetime.date.today()).year
    if not 2000 <= form.year <= this_year:
        yield finding(
            "year_implausible",
            "year",
            f"assessed year {form.year} is outside 2000–{this_year}",
            expected=f"2000–{this_year}",
            found=form.year,
        )


def amount_magnitude(form: Form) -> Iterator[Finding]:
    """The largest amount fits the unit: at least 1,000 元, at most 1,000,000 万元."""
    amounts = [
        value
        for row in form.funds
        for value in (row.initial_budget, row.adjusted_budget, row.executed)
        if value is not None and value > 0
    ]
    if not amounts:
        return
    largest = max(amounts)
    if form.amount_unit == "元" and largest < _SMALLEST_YUAN:
        yield finding(
            "amount_unit_magnitude",
            "amount_unit",
            f"the largest amount is {fmt(largest)} 元; amounts this small are usually in 万元",
            expected="万元",
            found=form.amount_unit,
        )
    elif form.amount_unit == "万元" and largest > _LARGEST_WAN:
        yield finding(
            "amount_unit_magnitude",
            "amount_unit",
            f"the largest amount is {fmt(largest)} 万元 (over 100 亿元); amounts this large are usually in 元",
            expected="元",
            found=form.amount_unit,
        )


@cache
def _pairing() -> tuple[tuple[str, tuple[str, ...]], ...]:
    table = [(fold(key), tuple(fold(w) for w in words)) for key, words in rules()["pairing"].items()]
    return tuple(sorted(table, key=lambda pair: -len(pair[0])))


def level_pairing(form: Form) -> Iterator[Finding]:
    """A 二级指标 of a known kind stands under a 一级指标 of the matching kind."""
    for i, row in enumerate(form.indicators):
        if row.level2 is None:
            continue
        level2, level1 = fold(row.level2), fold(row.level1)
        for key, parents in _pairing():
            if key in level2:
                if not any(parent in level1 for parent in parents):
                    yield finding(
                        "level_pairing",
                        f"indicators[{i}].level1",
                        f"{row.level3}: 二级指标 {row.level2} stands under 一级指标 {row.level1}",
                        expected=" / ".join(f"{p}…" for p in parents),
                        found=row.level1,
                    )
                break

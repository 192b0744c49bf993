"""What every check shares: the catalogue of finding codes, the rules file, exact decimal arithmetic.

Numbers are compared as the decimals the form printed, never as binary floats:
``Decimal(repr(3.52))`` is exactly 3.52, so "3.52 + 0.01 = 3.53" holds exactly and
a rate can be rounded the way the form rounded it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from functools import cache
from importlib import resources
from typing import Any

from pipeline.result import Finding, Severity

__all__ = [
    "CATALOGUE",
    "CheckCode",
    "dec",
    "finding",
    "fmt",
    "places",
    "printed_as",
    "quantize",
    "rules",
]


@dataclass(frozen=True)
class CheckCode:
    """One kind of finding the checks report: a stable code, its severity and what it means."""

    code: str
    severity: Severity
    description: str


@cache
def rules() -> dict[str, Any]:
    """``rules.toml``: the finding codes, grade bands, level pairing, operator words, 'met' words."""
    return tomllib.loads(resources.files("pipeline").joinpath("rules.toml").read_text(encoding="utf-8"))


def _catalogue() -> dict[str, CheckCode]:
    return {code: CheckCode(code, entry["severity"], entry["description"]) for code, entry in rules()["codes"].items()}


CATALOGUE: dict[str, CheckCode] = _catalogue()


def finding(code: str, path: str | None, message: str, expected: object = None, found: object = None) -> Finding:
    """A finding of catalogue ``code``; its severity comes from the catalogue."""
    entry = CATALOGUE[code]
    return Finding(
        code=code,
        severity=entry.severity,
        path=path,
        message=message,
        expected=None if expected is None else _text(expected),
        found=None if found is None else _text(found),
    )


def _text(value: object) -> str:
    if isinstance(value, Decimal | float | int) and not isinstance(value, bool):
        return fmt(value)
    return str(value)


def dec(value: Decimal | float | int) -> Decimal:
    """The decimal a float was parsed from: ``dec(3.52) == Decimal("3.52")``."""
    return Decimal(repr(value)) if isinstance(value, float) else Decimal(value)


def places(value: float) -> int:
    """Decimal places the value shows: 96.33 → 2, 100.0 → 0."""
    exponent = dec(value).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def quantize(value: Decimal, digits: int, rounding: str = ROUND_HALF_UP) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-digits), rounding=rounding)


def printed_as(printed: float, exact: Decimal, digits: int, slack: Decimal = Decimal(0)) -> bool:
    """Could ``exact`` have been printed as ``printed`` at ``digits`` places (rounded either way, or truncated)?"""
    shown = dec(printed)
    if abs(shown - exact) <= slack:
        return True
    return any(shown == quantize(exact, digits, mode) for mode in (ROUND_HALF_UP, ROUND_HALF_EVEN, ROUND_DOWN))


def fmt(value: Decimal | float | int) -> str:
    """A number as a person writes it: no exponent, no trailing zeros (``96.290`` → ``96.29``)."""
    number = value if isinstance(value, Decimal) else dec(value)
    return f"{number.normalize():f}"

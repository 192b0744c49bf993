"""Deterministic checks: recompute what a form implies, look every value up in the page text.

Each check is a small pure function over a ``Form`` (grounding also takes the
form's ``SourceText``) that yields ``Finding``s with a stable code from
``CATALOGUE``. The checks never change a value: they report. A document with
any error finding needs a human (``needs_review``).

    >>> findings = check_document(document, sources)   # doctest: +SKIP
    >>> status_of(findings)                             # doctest: +SKIP
    'needs_review'
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from pipeline.checks._base import CATALOGUE, CheckCode, finding
from pipeline.checks.funds import execution_rates, fund_scores, fund_sums, fund_weights
from pipeline.checks.grounding import SourceText, grounding, source_text
from pipeline.checks.plausible import amount_magnitude, level_pairing, year_range
from pipeline.checks.scores import (
    grades,
    indicator_scores,
    level1_weights,
    missing_deviations,
    negative_numbers,
    scores_within_weights,
    totals,
)
from pipeline.result import Finding, Status
from pipeline.schema import Document, Form

__all__ = [
    "CATALOGUE",
    "FORM_CHECKS",
    "CheckCode",
    "SourceText",
    "Status",
    "check_document",
    "check_form",
    "source_text",
    "status_of",
]

# The checks that need nothing but the form, in the order their findings are listed.
FORM_CHECKS: tuple[Callable[[Form], Iterator[Finding]], ...] = (
    fund_sums,
    execution_rates,
    fund_scores,
    fund_weights,
    scores_within_weights,
    negative_numbers,
    missing_deviations,
    indicator_scores,
    totals,
    level1_weights,
    grades,
    year_range,
    amount_magnitude,
    level_pairing,
)


def check_form(form: Form, source: SourceText | None = None) -> list[Finding]:
    """Every finding about ``form``; with ``source``, every value is also looked up in the page text."""
    findings = [f for check in FORM_CHECKS for f in check(form)]
    if source is not None:
        findings.extend(grounding(form, source))
    return findings


def check_document(document: Document, sources: Sequence[SourceText | None] | None = None) -> list[Finding]:
    """Every finding about every form of ``document``, paths under ``forms[i]``.

    ``sources[i]`` is the text of form ``i``'s pages; without sources, grounding
    is skipped and one info finding says so.
    """
    findings: list[Finding] = []
    for i, form in enumerate(document.forms):
        source = sources[i] if sources is not None and i < len(sources) else None
        findings.extend(f.under(f"forms[{i}]") for f in check_form(form, source))
    if sources is None and document.forms:
        findings.append(finding("grounding_skipped", None, "no source pages: values were not looked up"))
    return findings


def status_of(findings: Iterable[Finding]) -> Status:
    """``needs_review`` when any finding is an error, else ``ok``."""
    return "needs_review" if any(f.severity == "error" for f in findings) else "ok"

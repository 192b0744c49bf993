"""Text measures the tests report: OCR character accuracy against the label's own text."""

from __future__ import annotations

from rapidfuzz.distance import Levenshtein

from pipeline.page import Page, normalize_for_match


def page_text(page: Page) -> str:
    """The page's text in reading order with whitespace removed and width folded."""
    return normalize_for_match(page.text)


def char_accuracy(found: str, expected: str) -> float:
    """1 − edit distance / length of the expected text (whitespace already removed)."""
    if not expected:
        return 1.0 if not found else 0.0
    return max(0.0, 1.0 - Levenshtein.distance(found, expected) / len(expected))

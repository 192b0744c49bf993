"""Text measures the tests report: OCR character accuracy against the label's own text."""

from __future__ import annotations

from rapidfuzz.distance import Levenshtein

from pipeline.page import Page, Word, lines_of, normalize_for_match


def page_text(page: Page) -> str:
    """The page's text in reading order with whitespace removed and width folded."""
    return normalize_for_match(page.text)


def char_accuracy(found: str, expected: str) -> float:
    """1 − edit distance / length of the expected text (whitespace already removed)."""
    if not expected:
        return 1.0 if not found else 0.0
    return max(0.0, 1.0 - Levenshtein.distance(found, expected) / len(expected))


def _runs(page: Page) -> list[Word]:
    """Words on one line closer than a character's height, joined: a space inside a cell."""
    verticals = [r for r in page.rules if not r.horizontal]

    def ruled_between(left: Word, right: Word) -> bool:
        return any(
            left.bbox[2] - 1 <= r.x0 <= right.bbox[0] + 1 and min(r.y0, r.y1) <= left.y_center <= max(r.y0, r.y1)
            for r in verticals
        )

    runs: list[Word] = []
    for line in lines_of(page.words):
        current = line[0]
        for word in line[1:]:
            if word.bbox[0] - current.bbox[2] < max(current.height, word.height) and not ruled_between(current, word):
                box = (
                    current.bbox[0],
                    min(current.bbox[1], word.bbox[1]),
                    word.bbox[2],
                    max(current.bbox[3], word.bbox[3]),
                )
                current = Word(text=current.text + word.text, bbox=box)
            else:
                runs.append(current)
                current = word
        runs.append(current)
    return runs


def stacked_texts(page: Page) -> list[str]:
    """Texts of runs stacked in a column, as a wrapped cell prints them.

    From each run of words, follow the next run straight below it (overlapping
    in x, within a line and a half) and join their texts: a cell's wrapped lines
    join back into the cell's text without knowing the table's grid.
    """
    words = sorted(_runs(page), key=lambda w: (w.bbox[1], w.bbox[0]))
    chains: list[str] = []
    for start, word in enumerate(words):
        text, current = word.text, word
        for below in words[start + 1 :]:
            if below.bbox[1] > current.bbox[3] + 1.5 * current.height:
                break
            overlap = min(current.bbox[2], below.bbox[2]) - max(current.bbox[0], below.bbox[0])
            if below.bbox[1] >= current.y_center and overlap > 0.5 * min(
                current.bbox[2] - current.bbox[0], below.bbox[2] - below.bbox[0]
            ):
                text += below.text
                current = below
        chains.append(normalize_for_match(text))
    return chains


def cell_ordered_text(page: Page, rules_from: Page) -> str:
    """The page's text read cell by cell, cells placed by the ruling lines of ``rules_from``.

    Reading order by lines alone depends on a few points of height where wrapped
    cells sit side by side; a scan and its text layer share a frame, so keying
    every word by the cell the same rules enclose it in gives both one order.
    """
    horizontals = [r for r in rules_from.rules if r.horizontal]
    verticals = [r for r in rules_from.rules if not r.horizontal]

    def cell_of(word: Word) -> tuple[float, float]:
        cx, cy = word.x_center, word.y_center
        top = max((r.y0 for r in horizontals if r.y0 <= cy and min(r.x0, r.x1) <= cx <= max(r.x0, r.x1)), default=0.0)
        left = max((r.x0 for r in verticals if r.x0 <= cx and min(r.y0, r.y1) <= cy <= max(r.y0, r.y1)), default=0.0)
        return round(top), round(left)

    cells: dict[tuple[float, float], list[Word]] = {}
    for word in page.words:
        cells.setdefault(cell_of(word), []).append(word)
    parts = []
    for key in sorted(cells):
        parts += [w.text for line in lines_of(cells[key]) for w in line]
    return normalize_for_match("".join(parts))

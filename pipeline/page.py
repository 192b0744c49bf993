"""What the page reader yields: the same structure for a text layer and for OCR.

Coordinates are PDF points with the origin at the top left of the page. For a
scanned page they are the coordinates of the *straightened* page: the reader
flattens a photographed sheet and removes a small rotation before OCR, and
words, rules and ``render_page`` all use that frame, so later stages never care
where text came from.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["BBox", "Page", "PageSource", "Rule", "Word", "lines_of", "normalize_for_match"]

BBox = tuple[float, float, float, float]
PageSource = Literal["text", "ocr"]


class Word(BaseModel):
    """A run of text with its box: a PyMuPDF word, or an OCR text line."""

    model_config = ConfigDict(frozen=True)

    text: str
    bbox: BBox
    conf: float = Field(default=1.0, ge=0.0, le=1.0, description="1.0 for a text layer; the OCR score otherwise")

    @property
    def x_center(self) -> float:
        return (self.bbox[0] + self.bbox[2]) / 2

    @property
    def y_center(self) -> float:
        return (self.bbox[1] + self.bbox[3]) / 2

    @property
    def height(self) -> float:
        return self.bbox[3] - self.bbox[1]


class Rule(BaseModel):
    """A ruling line segment of a table: horizontal (y0 == y1) or vertical (x0 == x1)."""

    model_config = ConfigDict(frozen=True)

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def horizontal(self) -> bool:
        return abs(self.y1 - self.y0) <= abs(self.x1 - self.x0)


class Page(BaseModel):
    """One page as read: text, words with boxes, ruling lines, and how it was read."""

    path: str = Field(description="The file the page belongs to")
    number: int = Field(ge=1, description="1-based page number in the file")
    width: float
    height: float
    source: PageSource
    words: list[Word] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
    ocr_confidence: float | None = Field(default=None, description="Mean OCR score over characters; None for text")
    deskew_angle: float = Field(default=0.0, description="Degrees the scan was rotated by to straighten it")
    sheet: list[tuple[float, float]] | None = Field(
        default=None, description="Corners of a photographed sheet (points of the original image) that was flattened"
    )
    dpi: int | None = Field(default=None, description="Resolution the page image was read at (OCR pages)")
    seconds: float = Field(default=0.0, description="Time spent reading this page")

    @property
    def text(self) -> str:
        """The page's text in reading order, one line per visual line."""
        return "\n".join(" ".join(w.text for w in line) for line in lines_of(self.words))


def lines_of(words: list[Word], tolerance: float = 0.5) -> list[list[Word]]:
    """Group words into visual lines (vertical overlap), each sorted left to right.

    Two words share a line when their vertical centres differ by less than
    ``tolerance`` times the smaller height, so wrapped cells side by side
    interleave the same way on a text layer and on OCR.
    """
    lines: list[list[Word]] = []
    for word in sorted(words, key=lambda w: (w.y_center, w.bbox[0])):
        if lines:
            last = lines[-1]
            ref = sum(w.y_center for w in last) / len(last)
            height = min(word.height, min(w.height for w in last))
            if abs(word.y_center - ref) < tolerance * max(height, 1.0):
                last.append(word)
                continue
        lines.append([word])
    return [sorted(line, key=lambda w: w.bbox[0]) for line in lines]


def normalize_for_match(text: str) -> str:
    """Fold what varies between printings: width (NFKC), whitespace and case."""
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()

"""Table reconstruction: a page's ruling lines and words rebuilt into a grid of cells.

The same for a text layer (vector lines) and a scan (lines detected on the
image): collinear rule segments are merged, rules that touch are grouped into
tables, and each table's base grid (every distinct row and column line) is
joined into cells wherever no rule separates two neighbours, which recovers
merged cells and their row and column spans. A cell's text comes from the words
whose centres fall inside it, read in lines, so wrapped text and vertical
headers (绩/效/指/标) come back whole.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from pydantic import BaseModel, Field

from pipeline.page import BBox, Page, Rule, Word, lines_of

__all__ = ["Cell", "Grid", "rebuild_grids"]


class Cell(BaseModel):
    """One cell of a table, possibly merged over several rows and columns of its grid."""

    row: int = Field(ge=0)
    col: int = Field(ge=0)
    row_span: int = Field(default=1, ge=1)
    col_span: int = Field(default=1, ge=1)
    bbox: BBox
    text: str = Field(description="The cell's words in reading order, lines joined without spaces")
    lines: list[str] = Field(default_factory=list, description="The cell's text line by line, as printed")
    conf: float = Field(default=1.0, description="The lowest confidence of the cell's words (1.0 if empty)")


class Grid(BaseModel):
    """One ruled table on one page: its cells, top to bottom, left to right."""

    page: int = Field(ge=1)
    bbox: BBox
    n_rows: int
    n_cols: int
    cells: list[Cell]

    def cell_at(self, row: int, col: int) -> Cell | None:
        """The cell covering base position (row, col), merged or not."""
        for cell in self.cells:
            if cell.row <= row < cell.row + cell.row_span and cell.col <= col < cell.col + cell.col_span:
                return cell
        return None


def _merge_collinear(rules: list[Rule], horizontal: bool, tol: float, gap: float) -> list[Rule]:
    """Join segments on the same line (within ``tol``) that overlap or nearly touch (``gap``)."""

    def pos(r: Rule) -> float:
        return (r.y0 + r.y1) / 2 if horizontal else (r.x0 + r.x1) / 2

    def span(r: Rule) -> tuple[float, float]:
        a, b = (r.x0, r.x1) if horizontal else (r.y0, r.y1)
        return min(a, b), max(a, b)

    merged: list[Rule] = []
    for line in _clusters(sorted(rules, key=pos), pos, tol):
        at = sum(pos(r) for r in line) / len(line)
        intervals = sorted(span(r) for r in line)
        start, end = intervals[0]
        for lo, hi in intervals[1:]:
            if lo <= end + gap:
                end = max(end, hi)
                continue
            merged.append(_rule(horizontal, at, start, end))
            start, end = lo, hi
        merged.append(_rule(horizontal, at, start, end))
    return merged


def _rule(horizontal: bool, at: float, start: float, end: float) -> Rule:
    if horizontal:
        return Rule(x0=start, y0=at, x1=end, y1=at)
    return Rule(x0=at, y0=start, x1=at, y1=end)


def _clusters(items: list[Rule], key: Callable[[Rule], float], tol: float) -> list[list[Rule]]:
    """Split ``items`` (sorted by ``key``) wherever two neighbours are more than ``tol`` apart."""
    groups: list[list[Rule]] = []
    for item in items:
        value = key(item)
        if groups and value - key(groups[-1][-1]) <= tol:
            groups[-1].append(item)
        else:
            groups.append([item])
    return groups


def _touches(h: Rule, v: Rule, tol: float) -> bool:
    return (
        min(h.x0, h.x1) - tol <= v.x0 <= max(h.x0, h.x1) + tol
        and min(v.y0, v.y1) - tol <= h.y0 <= max(v.y0, v.y1) + tol
    )


def _tables(horizontals: list[Rule], verticals: list[Rule], tol: float) -> list[tuple[list[Rule], list[Rule]]]:
    """Group rules into tables: rules that touch, directly or through others."""
    parent = list(range(len(horizontals) + len(verticals)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, h in enumerate(horizontals):
        for j, v in enumerate(verticals):
            if _touches(h, v, tol):
                parent[find(i)] = find(len(horizontals) + j)
    groups: dict[int, tuple[list[Rule], list[Rule]]] = {}
    for i, h in enumerate(horizontals):
        groups.setdefault(find(i), ([], []))[0].append(h)
    for j, v in enumerate(verticals):
        groups.setdefault(find(len(horizontals) + j), ([], []))[1].append(v)
    return [g for g in groups.values() if len(g[0]) >= 2 and len(g[1]) >= 2]


def _line_positions(values: list[float], tol: float) -> list[float]:
    positions: list[float] = []
    for value in sorted(values):
        if positions and value - positions[-1] <= tol:
            continue
        positions.append(value)
    return positions


def _covered(rules: list[Rule], horizontal: bool, lo: float, hi: float) -> bool:
    """Is the boundary from ``lo`` to ``hi`` drawn (mostly) by one of ``rules`` (the rules on that line)?"""
    need = 0.6 * (hi - lo)
    for r in rules:
        a, b = (min(r.x0, r.x1), max(r.x0, r.x1)) if horizontal else (min(r.y0, r.y1), max(r.y0, r.y1))
        if min(b, hi) - max(a, lo) >= need:
            return True
    return False


def _on_line(rules: list[Rule], positions: list[float], horizontal: bool, tol: float) -> list[list[Rule]]:
    """The rules lying on each line position."""
    return [[r for r in rules if abs((r.y0 if horizontal else r.x0) - at) <= tol] for at in positions]


def _grid(page: Page, horizontals: list[Rule], verticals: list[Rule], tol: float) -> Grid:
    ys = _line_positions([r.y0 for r in horizontals], tol)
    xs = _line_positions([r.x0 for r in verticals], tol)
    n_rows, n_cols = len(ys) - 1, len(xs) - 1
    row_lines = _on_line(horizontals, ys, True, tol)
    col_lines = _on_line(verticals, xs, False, tol)
    parent = list(range(n_rows * n_cols))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for r in range(n_rows):
        for c in range(n_cols):
            if c + 1 < n_cols and not _covered(col_lines[c + 1], False, ys[r], ys[r + 1]):
                parent[find(r * n_cols + c)] = find(r * n_cols + c + 1)
            if r + 1 < n_rows and not _covered(row_lines[r + 1], True, xs[c], xs[c + 1]):
                parent[find(r * n_cols + c)] = find((r + 1) * n_cols + c)
    members: dict[int, list[tuple[int, int]]] = {}
    for r in range(n_rows):
        for c in range(n_cols):
            members.setdefault(find(r * n_cols + c), []).append((r, c))

    # Each word goes to the base cell its centre falls in, and so to the (merged) cell owning it.
    words_of: dict[int, list[Word]] = {}
    for word in page.words:
        r = bisect_right(ys, word.y_center) - 1
        c = bisect_right(xs, word.x_center) - 1
        if 0 <= r < n_rows and 0 <= c < n_cols:
            words_of.setdefault(find(r * n_cols + c), []).append(word)
    cells: list[Cell] = []
    for root, group in members.items():
        r0, r1 = min(r for r, _ in group), max(r for r, _ in group)
        c0, c1 = min(c for _, c in group), max(c for _, c in group)
        box = (xs[c0], ys[r0], xs[c1 + 1], ys[r1 + 1])
        cells.append(_cell(r0, c0, r1 - r0 + 1, c1 - c0 + 1, box, words_of.get(root, [])))
    cells.sort(key=lambda cell: (cell.row, cell.col))
    return Grid(page=page.number, bbox=(xs[0], ys[0], xs[-1], ys[-1]), n_rows=n_rows, n_cols=n_cols, cells=cells)


def _cell(row: int, col: int, row_span: int, col_span: int, box: BBox, words: list[Word]) -> Cell:
    lines = ["".join(w.text for w in line) for line in lines_of(words)]
    return Cell(
        row=row,
        col=col,
        row_span=row_span,
        col_span=col_span,
        bbox=box,
        text="".join("".join(line.split()) for line in lines),
        lines=lines,
        conf=min((w.conf for w in words), default=1.0),
    )


def rebuild_grids(page: Page) -> list[Grid]:
    """Every ruled table on ``page`` as a grid of (possibly merged) cells, top to bottom."""
    tol = 1.5 if page.source == "text" else 3.0
    rules = [r for r in page.rules if max(abs(r.x1 - r.x0), abs(r.y1 - r.y0)) >= 4]
    horizontals = _merge_collinear([r for r in rules if r.horizontal], True, tol, 3 * tol)
    verticals = _merge_collinear([r for r in rules if not r.horizontal], False, tol, 3 * tol)
    grids = [_grid(page, hs, vs, tol) for hs, vs in _tables(horizontals, verticals, 2 * tol)]
    return sorted(grids, key=lambda g: g.bbox[1])

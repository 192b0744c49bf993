"""A form's table rows, page after page: the view of the grids the layout extractor reads.

Each base row of a grid becomes a ``Row`` of the distinct cells that cover it,
left to right; a cell merged over several rows is part of each of them, which is
how a merged 一级指标 gives its value to every row it spans. Rows of every grid
inside a form's span are taken in reading order, so a table continued on the
next page simply goes on.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.page import Page
from pipeline.segment import FormSpan
from pipeline.tables import Cell, Grid, rebuild_grids

__all__ = ["Row", "Slot", "form_rows", "grids_of"]


@dataclass(frozen=True, eq=False)
class Slot:
    """One cell as seen from a row: the cell, its page, and how surely its text was read."""

    cell: Cell
    page: int
    grid: int
    conf: float

    @property
    def x0(self) -> float:
        return self.cell.bbox[0]

    @property
    def x1(self) -> float:
        return self.cell.bbox[2]

    @property
    def text(self) -> str:
        return self.cell.text

    @property
    def raw(self) -> str:
        """The cell's text line by line, as printed."""
        return "\n".join(self.cell.lines)


@dataclass(frozen=True, eq=False)
class Row:
    """One base row of a grid: the cells covering it, left to right."""

    page: int
    grid: int
    index: int
    top: float
    bottom: float
    slots: tuple[Slot, ...]

    def after(self, slot: Slot) -> Slot | None:
        """The cell right of ``slot`` in this row."""
        for i, candidate in enumerate(self.slots):
            if candidate is slot:
                return self.slots[i + 1] if i + 1 < len(self.slots) else None
        return None

    def below(self, slot: Slot) -> Slot | None:
        """The cell of this row that stands under ``slot`` (most horizontal overlap, at least half)."""
        width = max(slot.x1 - slot.x0, 1e-6)
        best, best_overlap = None, 0.0
        for candidate in self.slots:
            overlap = min(candidate.x1, slot.x1) - max(candidate.x0, slot.x0)
            if overlap > best_overlap:
                best, best_overlap = candidate, overlap
        if best is None or best_overlap < 0.5 * min(width, best.x1 - best.x0):
            return None
        return best


def grids_of(pages: list[Page]) -> dict[int, list[Grid]]:
    """Every page's grids, by page number."""
    return {page.number: rebuild_grids(page) for page in pages}


def _rows_of(grid: Grid, grid_index: int) -> list[Row]:
    occupancy: list[list[Cell | None]] = [[None] * grid.n_cols for _ in range(grid.n_rows)]
    for cell in grid.cells:
        for r in range(cell.row, cell.row + cell.row_span):
            for c in range(cell.col, cell.col + cell.col_span):
                occupancy[r][c] = cell
    slots = {id(cell): Slot(cell, grid.page, grid_index, cell.conf) for cell in grid.cells}
    rows: list[Row] = []
    for r, line in enumerate(occupancy):
        distinct: list[Slot] = []
        for covering in line:
            if covering is not None and (not distinct or distinct[-1].cell is not covering):
                distinct.append(slots[id(covering)])
        starting = [s.cell for s in distinct if s.cell.row == r] or [s.cell for s in distinct]
        ending = [s.cell for s in distinct if s.cell.row + s.cell.row_span - 1 == r] or [s.cell for s in distinct]
        top = min(c.bbox[1] for c in starting)
        bottom = max(c.bbox[3] for c in ending)
        rows.append(Row(grid.page, grid_index, r, top, bottom, tuple(distinct)))
    return rows


def form_rows(span: FormSpan, pages: list[Page], grids: dict[int, list[Grid]]) -> list[Row]:
    """The rows of every grid inside ``span``, in reading order."""
    present = {page.number for page in pages}
    rows: list[Row] = []
    for number in span.pages:
        if number not in present:
            continue
        for index, grid in enumerate(grids.get(number, [])):
            rows.extend(row for row in _rows_of(grid, index) if span.holds(number, (row.top + row.bottom) / 2))
    return rows

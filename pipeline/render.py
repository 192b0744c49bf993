"""A form's pages as text that keeps their layout: what a model reads instead of wrapped lines.

Each page of a form's span becomes its lines of free text (title, year, unit
lines, footers) and its ruled tables as HTML, top to bottom in the order they
are printed. A table keeps its merged cells (``rowspan`` / ``colspan``), so a
merged 一级指标 visibly covers its rows and a wrapped cell is one string, not
pieces interleaved with its neighbours' lines.

    <table>
    <tr><td>项目名称</td><td colspan="5">一网统管</td></tr>
    <tr><td rowspan="3">产出指标</td><td>数量指标</td>…</tr>
    </table>
"""

from __future__ import annotations

from html import escape

from pipeline.page import Page, Word, lines_of
from pipeline.segment import FormSpan
from pipeline.tables import Grid

__all__ = ["render_form", "render_grid"]


def render_grid(grid: Grid) -> str:
    """One ruled table as HTML rows; a row whose every cell is merged from above is an empty ``<tr>``."""
    rows: list[list[str]] = [[] for _ in range(grid.n_rows)]
    for cell in grid.cells:
        spans = ""
        if cell.row_span > 1:
            spans += f' rowspan="{cell.row_span}"'
        if cell.col_span > 1:
            spans += f' colspan="{cell.col_span}"'
        rows[cell.row].append(f"<td{spans}>{escape(cell.text, quote=False)}</td>")
    body = "\n".join(f"<tr>{''.join(cells)}</tr>" for cells in rows)
    return f"<table>\n{body}\n</table>"


def _inside(word: Word, grid: Grid) -> bool:
    x0, y0, x1, y1 = grid.bbox
    return x0 <= word.x_center <= x1 and y0 <= word.y_center <= y1


def render_form(span: FormSpan, pages: list[Page], grids: dict[int, list[Grid]]) -> str:
    """The text of ``span``'s pages, page by page: free lines as text, ruled tables as HTML."""
    parts: list[str] = []
    for page in pages:
        if not span.first_page <= page.number <= span.last_page:
            continue
        tables = [g for g in grids.get(page.number, []) if span.holds(page.number, (g.bbox[1] + g.bbox[3]) / 2)]
        free = [w for w in span.words_on(page) if not any(_inside(w, g) for g in tables)]
        blocks: list[tuple[float, str]] = [
            (line[0].y_center, " ".join(w.text for w in line)) for line in lines_of(free)
        ]
        blocks += [(grid.bbox[1], render_grid(grid)) for grid in tables]
        blocks.sort(key=lambda block: block[0])
        parts.append(f"## page {page.number}\n\n" + "\n".join(text for _, text in blocks))
    return "\n\n".join(parts)

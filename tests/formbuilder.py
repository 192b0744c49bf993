"""Draw small ruled forms as real PDFs, for tests of layouts the fixtures do not have.

A table is given like an HTML table: rows of cells, each ``text`` or
``(text, colspan, rowspan)``, placed at the first free base column of its row.
Every cell gets its own ruled rectangle (vector lines), its text in the CJK font.
"""

from __future__ import annotations

from pathlib import Path

import pymupdf

CellSpec = str | tuple[str, int, int]


def _layout(rows: list[list[CellSpec]]) -> list[tuple[int, int, int, int, str]]:
    """Cells as (row, col, rowspan, colspan, text), placed like an HTML table."""
    taken: set[tuple[int, int]] = set()
    placed = []
    for r, row in enumerate(rows):
        c = 0
        for spec in row:
            text, colspan, rowspan = (spec, 1, 1) if isinstance(spec, str) else spec
            while (r, c) in taken:
                c += 1
            for dr in range(rowspan):
                for dc in range(colspan):
                    taken.add((r + dr, c + dc))
            placed.append((r, c, rowspan, colspan, text))
            c += colspan
    return placed


def draw_form(
    path: Path,
    tables: list[list[list[CellSpec]]],
    *,
    title: str = "项目支出绩效自评表",
    lines_above: tuple[str, ...] = ("（2024年度）",),
    row_height: float = 22,
    width: float = 515,
) -> Path:
    """Write a one-page PDF: the title, lines of text, then each table below the last."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_font(fontname="cjk", fontbuffer=pymupdf.Font("cjk").buffer)
    y = 40.0
    for text in (title, *lines_above):
        page.insert_textbox(pymupdf.Rect(40, y, 555, y + 20), text, fontname="cjk", fontsize=11, align=1)
        y += 22
    for rows in tables:
        placed = _layout(rows)
        n_cols = max(c + span for _, c, _, span, _ in placed)
        n_rows = max(r + span for r, _, span, _, _ in placed)
        step = width / n_cols
        for r, c, rowspan, colspan, text in placed:
            rect = pymupdf.Rect(
                40 + c * step, y + r * row_height, 40 + (c + colspan) * step, y + (r + rowspan) * row_height
            )
            page.draw_rect(rect, color=(0, 0, 0), width=0.6)
            if text:
                box = pymupdf.Rect(rect.x0 + 2, rect.y0 + 2, rect.x1 - 2, rect.y1 - 2)
                page.insert_textbox(box, text, fontname="cjk", fontsize=7, align=1)
        y += n_rows * row_height + 16
    doc.save(path)
    doc.close()
    return path

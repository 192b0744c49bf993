"""Table reconstruction: the grid of cells, merged cells included, from ruling lines and words."""

from __future__ import annotations

import pytest
from conftest import FIXTURE_IDS, label_of, native_pages, reading_of

from pipeline.page import Page, Rule, Word, normalize_for_match
from pipeline.tables import rebuild_grids


def _cell_texts(fixture_id: str) -> list[str]:
    """Label values that print in one cell each (split targets span three cells: left out)."""
    texts: list[str] = []
    for form in label_of(fixture_id)["forms"]:
        keys = ("project_name", "department", "implementing_unit", "goal_expected", "goal_actual")
        texts += [form[k] for k in keys if form[k]]
        for row in form["indicators"]:
            fields = ("level1", "level2", "level3", "actual", "deviation")
            if fixture_id != "inv-zhejiang-2024-split":
                fields += ("target",)
            texts += [row[k] for k in fields if row[k]]
        texts += [row["label"] for row in form["funds"]]
    return texts


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
def test_every_label_text_is_exactly_one_cell_on_native_pages(fixture_id: str) -> None:
    cells = {normalize_for_match(c.text) for p in native_pages(fixture_id) for g in rebuild_grids(p) for c in g.cells}
    texts = _cell_texts(fixture_id)
    assert len(texts) > 100
    assert [t for t in texts if normalize_for_match(t) not in cells] == []


@pytest.mark.slow
@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
def test_scans_rebuild_the_same_grids_as_the_text_layer(fixture_id: str) -> None:
    scans = reading_of(fixture_id, "scan").pages
    for scan, native in zip(scans, native_pages(fixture_id), strict=True):
        # The same cells in the same places; the base grid may differ where two column lines of
        # different sections lie closer than a scan's line detection can tell apart (~2 pt).
        scan_grids, native_grids = rebuild_grids(scan), rebuild_grids(native)
        assert len(scan_grids) == len(native_grids)
        for found, expected in zip(scan_grids, native_grids, strict=True):
            assert len(found.cells) == len(expected.cells)
            for a, b in zip(found.cells, expected.cells, strict=True):
                assert a.bbox == pytest.approx(b.bbox, abs=4)
    cells = {normalize_for_match(c.text) for p in scans for g in rebuild_grids(p) for c in g.cells}
    texts = _cell_texts(fixture_id)
    exact = sum(normalize_for_match(t) in cells for t in texts) / len(texts)
    print(f"{fixture_id}: {exact:.3f} of label texts read exactly as one cell from the scan")
    assert exact >= 0.95  # measured 0.97-1.0; long goals lose a “ to OCR


def _page(rules: list[tuple[float, float, float, float]], words: list[tuple[str, float, float]]) -> Page:
    return Page(
        path="t.pdf",
        number=1,
        width=595,
        height=842,
        source="text",
        rules=[Rule(x0=a, y0=b, x1=c, y1=d) for a, b, c, d in rules],
        words=[Word(text=t, bbox=(x, y, x + 9 * len(t), y + 9)) for t, x, y in words],
    )


def test_a_merged_cell_spans_its_rows_and_a_vertical_header_reads_whole() -> None:
    # 3 rows x 3 columns; column 0 merged over all rows (a vertical 绩效指标), column 2 merged over rows 1-2.
    rules = [(0, 0, 300, 0), (0, 100, 300, 100), (100, 20, 300, 20), (100, 60, 200, 60)]
    rules += [(0, 0, 0, 100), (100, 0, 100, 100), (200, 0, 200, 100), (300, 0, 300, 100)]
    words = [("绩", 45, 10), ("效", 45, 30), ("指", 45, 50), ("标", 45, 70)]
    words += [("数量指标", 110, 5), ("质量指标", 110, 30), ("质量", 110, 70), ("说明", 210, 5), ("偏差原因", 210, 50)]
    (grid,) = rebuild_grids(_page(rules, words))
    assert (grid.n_rows, grid.n_cols) == (3, 3)
    header = grid.cell_at(2, 0)
    assert header is not None and (header.row, header.row_span, header.text) == (0, 3, "绩效指标")
    assert [c.text for c in grid.cells if c.col == 1] == ["数量指标", "质量指标", "质量"]
    right = grid.cell_at(1, 2)
    assert right is not None and (right.row, right.row_span, right.text) == (1, 2, "偏差原因")


def test_two_tables_on_one_page_are_two_grids() -> None:
    box = [(0, 0, 200, 0), (0, 50, 200, 50), (0, 0, 0, 50), (200, 0, 200, 50), (100, 0, 100, 50)]
    lower = [(a, b + 300, c, d + 300) for a, b, c, d in box]
    grids = rebuild_grids(_page(box + lower, [("总分", 10, 20), ("项目名称", 10, 320)]))
    assert [(g.n_rows, g.n_cols, g.cells[0].text) for g in grids] == [(1, 2, "总分"), (1, 2, "项目名称")]

"""The layout-preserving rendering of a form's pages: every printed word kept, merged cells marked."""

from __future__ import annotations

import json
import re
from functools import cache

from conftest import FORMS

from pipeline.extractors._rows import grids_of
from pipeline.render import render_form
from pipeline.run import Reading, read_file


@cache
def _read(fixture_id: str) -> Reading:
    return read_file(FORMS / fixture_id / "native.pdf")


def _flat(text: str) -> str:
    return "".join(text.split())


def test_every_word_of_the_form_is_in_its_rendering_once_tables_are_html() -> None:
    reading = _read("sh-chongming-2023-project")
    grids = grids_of(reading.pages)
    text = render_form(reading.spans[0], reading.pages, grids)
    flat = _flat(text)
    assert text.startswith("## page 1") and "<table>" in text
    words = [w for w in reading.pages[0].words if reading.spans[0].y_start - 1 <= w.y_center <= reading.spans[0].y_end]
    missing = [w.text for w in words if _flat(w.text) not in flat]
    assert not missing
    # The merged 一级指标 visibly covers its rows, and the wrapped department is one cell.
    assert re.search(r'<td rowspan="\d+"( colspan="\d+")?>产出指标</td>', text)
    assert '<td colspan="3">上海市崇明区向化镇人民政府（汇总）</td>' in text


def test_forms_sharing_a_page_are_rendered_apart() -> None:
    reading = _read("sh-chongming-2023-project")
    label = json.loads((FORMS / "sh-chongming-2023-project" / "label.json").read_text(encoding="utf-8"))
    first, second = reading.spans
    assert first.last_page == second.first_page  # page 2 holds the end of one form and the start of the next
    grids = grids_of(reading.pages)
    names = [form["project_name"] for form in label["forms"]]
    texts = [render_form(span, reading.pages, grids) for span in reading.spans]
    assert f">{names[0]}<" in texts[0] and f">{names[1]}<" not in texts[0]
    assert f">{names[1]}<" in texts[1] and f">{names[0]}<" not in texts[1]
    assert "2023 年度" in texts[1] and texts[1].count("总分") == 1


def test_a_table_continued_on_the_next_page_is_rendered_under_that_page() -> None:
    reading = _read("inv-zhejiang-2024-split")
    span = reading.spans[1]
    assert len(span.pages) == 2
    text = render_form(span, reading.pages, grids_of(reading.pages))
    first, second = text.split(f"## page {span.pages[1]}")
    assert "<table>" in first and "<table>" in second
    assert "合计" in second

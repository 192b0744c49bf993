"""Segmentation: every fixture splits into its labelled forms with the right page spans."""

from __future__ import annotations

import pytest
from conftest import FIXTURE_IDS, label_of, reading_of, spans_of

from pipeline.page import Page, Word
from pipeline.segment import segment_forms


@pytest.mark.parametrize("variant", ["native", pytest.param("scan", marks=pytest.mark.slow)])
@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
def test_fixture_splits_into_its_forms(fixture_id: str, variant: str) -> None:
    spans = reading_of(fixture_id, variant).spans
    expected = spans_of(fixture_id)
    forms = label_of(fixture_id)["forms"]
    assert len(spans) == len(forms) == len(expected)
    for span, where, form in zip(spans, expected, forms, strict=True):
        assert (span.first_page, span.last_page) == (where["first_page"], where["last_page"])
        assert span.y_start == pytest.approx(where["y_start"], abs=12)
        assert span.y_end == pytest.approx(where["y_end"], abs=12)
        assert span.form_type == form["form_type"]
        assert span.year == form["year"]


def _page(number: int, lines: list[tuple[float, str]]) -> Page:
    words = [Word(text=text, bbox=(100.0, y, 100.0 + 10 * len(text), y + 12)) for y, text in lines]
    return Page(path="x.pdf", number=number, width=595, height=842, source="ocr", words=words)


def test_a_title_garbled_by_ocr_still_starts_a_form() -> None:
    pages = [
        _page(1, [(40, "财政项目支出绩效自评衣"), (60, "(2023 年度)"), (90, "项目名称 一网统管")]),
        _page(2, [(40, "项目支出绩效白评表"), (60, "（2024年度）"), (90, "项目名称 走访")]),
    ]
    spans = segment_forms(pages)
    assert [(s.first_page, s.last_page, s.year) for s in spans] == [(1, 1, 2023), (2, 2, 2024)]


def test_a_goal_sentence_mentioning_the_form_is_not_a_title() -> None:
    sentence = "按要求认真填报项目支出绩效自评表并对照年度目标逐项分析偏差原因，形成整改清单报送财政部门备案"
    pages = [_page(1, [(40, "项目支出绩效自评表"), (60, "2023年度"), (200, sentence)])]
    assert len(segment_forms(pages)) == 1


def test_a_form_running_over_a_page_and_the_next_starting_mid_page() -> None:
    pages = [
        _page(1, [(40, "部门（单位）整体支出绩效自评表"), (60, "(2023年度)"), (700, "一级指标")]),
        _page(2, [(40, "满意度指标"), (300, "财政项目支出绩效自评表"), (320, "(2023年度)"), (400, "项目名称")]),
    ]
    first, second = segment_forms(pages)
    assert (first.form_type, first.first_page, first.last_page) == ("department", 1, 2)
    assert first.y_end < 300 <= second.y_start + 1
    assert (second.form_type, second.first_page, second.last_page) == ("project", 2, 2)
    assert [w.text for w in first.words_on(pages[1])] == ["满意度指标"]


def test_no_title_falls_back_on_the_table_labels() -> None:
    pages = [_page(1, [(40, "项目名称 道路养护"), (60, "主管部门 区交通委"), (80, "一级指标 二级指标 三级指标")])]
    (span,) = segment_forms(pages)
    assert (span.title, span.form_type, span.first_page) == ("", "project", 1)


def test_a_page_with_no_form_gives_no_span() -> None:
    assert segment_forms([_page(1, [(40, "关于做好防汛防台工作的通知"), (60, "各村、居委会：")])]) == []

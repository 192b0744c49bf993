"""Comparing two Forms: row alignment, fund matching, field diffs and the hybrid merge.

Hand-built rows show each rule of the alignment; the fixtures' hand labels,
altered the way an extractor errs (a row missed or invented, a number misread,
a text in other widths or spacing), show the diff and the merge on real forms,
the merge grounded in the fixture's native PDF.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Any

import pytest
from conftest import label_of, reading_of

from pipeline.checks import SourceText, check_form, source_text
from pipeline.compare import FieldDiff, Pair, align_rows, diff_forms, match_funds, merge_forms
from pipeline.extractors._rows import grids_of
from pipeline.result import Finding
from pipeline.schema import Form, FundRow, Indicator

SICHUAN = "inv-sichuan-2024-department"  # one form, 20 rows; its printed total (98.21) is not its scores' sum (99.21)
CHONGMING = "sh-chongming-2023-project"  # form 0: 22 rows, no finding at all
PUJIN = "sh-minhang-pujin-2023-department"  # 7 rows share one 三级指标 text; level1_weights printed


def row(level3: str, level1: str = "产出指标", level2: str | None = "数量指标", **values: Any) -> Indicator:
    return Indicator(level1=level1, level2=level2, level3=level3, **values)


def fund(item: str, label: str, **amounts: float) -> FundRow:
    return FundRow.model_validate({"item": item, "label": label, **amounts})


def label_form(fixture_id: str, index: int = 0) -> Form:
    return Form.model_validate(label_of(fixture_id)["forms"][index])


@cache
def page_text(fixture_id: str, index: int = 0) -> SourceText:
    """The text of form ``index``'s pages in the fixture's native PDF, as grounding reads it."""
    reading = reading_of(fixture_id, "native")
    return source_text(reading.pages, reading.spans[index], grids_of(reading.pages))


def with_rows(form: Form, rows: list[Indicator]) -> Form:
    return form.model_copy(update={"indicators": rows})


def with_row_values(form: Form, index: int, **values: Any) -> Form:
    rows = list(form.indicators)
    rows[index] = rows[index].model_copy(update=values)
    return with_rows(form, rows)


def without_row(form: Form, index: int) -> Form:
    return with_rows(form, [r for k, r in enumerate(form.indicators) if k != index])


def codes(findings: list[Finding]) -> list[tuple[str, str, str | None]]:
    return [(f.code, f.severity, f.path) for f in findings]


def assert_covers(pairs: list[Pair], n: int, m: int) -> None:
    """Every index of both sides exactly once, each side in increasing order."""
    left = [i for i, _ in pairs if i is not None]
    right = [j for _, j in pairs if j is not None]
    assert left == list(range(n)) and right == list(range(m))


INVENTED = row("预算编制科学性", "投入管理指标", "预算管理", target="科学", actual="科学", weight=3, score=3)


# --- align_rows ----------------------------------------------------------------------------------------------------


def test_a_missed_row_leaves_only_that_row_unpaired() -> None:
    label = label_form(SICHUAN)
    pairs = align_rows(label.indicators, without_row(label, 9).indicators)
    assert pairs == [(i, i) for i in range(9)] + [(9, None)] + [(i, i - 1) for i in range(10, 20)]


def test_an_extra_row_leaves_only_that_row_unpaired() -> None:
    label = label_form(SICHUAN)
    rows = list(label.indicators)
    rows.insert(4, INVENTED)
    pairs = align_rows(label.indicators, rows)
    assert pairs == [(i, i) for i in range(4)] + [(None, 4)] + [(i, i + 1) for i in range(4, 20)]


def test_texts_read_with_slips_widths_and_spaces_still_pair() -> None:
    a = [row("培训人次"), row("2023年培训合格率"), row("参训人员满意度", "满意度指标", "服务对象满意度指标")]
    b = [row("培训 人次"), row("２０２３年培训合格率"), row("参训人员满意程度", "满意度指标", "服务对象满意度指标")]
    assert align_rows(a, b) == [(0, 0), (1, 1), (2, 2)]


def test_rows_less_alike_than_the_threshold_are_not_paired() -> None:
    a, b = [row("培训人次")], [row("培训合格率")]  # Indel similarity 4/9
    assert align_rows(a, b) == [(0, None), (None, 0)]
    assert align_rows(a, b, threshold=0.4) == [(0, 0)]


def test_the_closer_text_wins_over_an_earlier_similar_one() -> None:
    a = [row("群众满意度"), row("用户满意度")]
    assert align_rows(a, [row("用户满意度")]) == [(0, None), (1, 0)]
    near = [row("农村供水用水户总体满意度"), row("农村供水用水户满意度")]  # 0.91 alike, at the pair's own position
    assert align_rows(near, near[1:]) == [(0, None), (1, 0)]


def test_swapped_rows_are_never_paired_across_each_other() -> None:
    a = [row("培训人次"), row("群众满意度", "满意度指标", "服务对象满意度指标")]
    pairs = align_rows(a, a[::-1])
    assert_covers(pairs, 2, 2)
    assert len([p for p in pairs if None not in p]) == 1


def test_identical_repeated_texts_pair_by_position() -> None:
    same = [row("无"), row("无"), row("无")]
    assert align_rows(same, same[:2]) == [(0, 0), (1, 1), (2, None)]
    assert align_rows(same[:2], same) == [(0, 0), (1, 1), (None, 2)]


def test_identical_texts_pair_where_the_levels_agree() -> None:
    a = [row("无", "产出指标", "数量指标"), row("无", "效益指标", "社会效益指标")]
    assert align_rows(a, a[1:]) == [(0, None), (1, 0)]


def test_seven_rows_of_one_text_pair_by_their_level2() -> None:
    # Pujin's 投入管理指标 rows all print the same 三级指标; only 二级指标 tells them apart.
    label = label_form(PUJIN)
    assert len({r.level3 for r in label.indicators[:7]}) == 1
    pairs = align_rows(label.indicators, without_row(label, 2).indicators)
    assert pairs == [(0, 0), (1, 1), (2, None)] + [(i, i - 1) for i in range(3, 24)]


@pytest.mark.parametrize("fixture_id", [SICHUAN, CHONGMING, PUJIN])
def test_every_index_is_covered_once_and_in_order(fixture_id: str) -> None:
    rows = label_form(fixture_id).indicators
    changed = [*rows[:3], INVENTED, *rows[4:10], *rows[11:]]
    assert_covers(align_rows(rows, changed), len(rows), len(changed))
    assert_covers(align_rows(changed, rows), len(changed), len(rows))


# --- match_funds ---------------------------------------------------------------------------------------------------


def test_rows_of_one_item_pair_in_order() -> None:
    a = [fund("total", "合计"), fund("other", "单位资金"), fund("other", "其他资金"), fund("other", "社会资金")]
    assert match_funds(a, a[:3]) == [(0, 0), (1, 1), (2, 2), (3, None)]
    assert match_funds(a[:3], a) == [(0, 0), (1, 1), (2, 2), (None, 3)]


def test_a_row_only_a_holds_stays_before_the_next_paired_row() -> None:
    a = [fund("total", "年度资金总额"), fund("appropriation", "当年财政拨款"), fund("carryover", "上年结转资金")]
    assert match_funds(a, [a[0], a[2]]) == [(0, 0), (1, None), (2, 1)]


def test_funds_follow_the_order_of_b() -> None:
    a = [fund("total", "年度资金总额"), fund("basic", "基本支出"), fund("other", "其他"), fund("project", "项目支出")]
    assert match_funds(a, [a[0], a[3], a[1]]) == [(0, 0), (2, None), (3, 1), (1, 2)]


# --- diff_forms ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fixture_id", [SICHUAN, CHONGMING, PUJIN])
def test_a_form_does_not_differ_from_itself(fixture_id: str) -> None:
    form = label_form(fixture_id)
    assert diff_forms(form, form) == []


def test_numbers_are_equal_as_printed_decimals() -> None:
    form = label_form(CHONGMING)
    assert diff_forms(form, form.model_copy(update={"total_weight": 100})) == []
    assert diff_forms(form, form.model_copy(update={"total_weight": 100.5})) == [
        FieldDiff(path="total_weight", a=100.0, b=100.5)
    ]


def test_texts_are_equal_in_any_width_and_spacing() -> None:
    form = label_form(CHONGMING)
    spaced = with_row_values(form, 0, target="＝７７８．９８ 平方米", actual="778.98\u3000平方米")
    assert diff_forms(form, spaced.model_copy(update={"project_name": "一网 统管"})) == []
    assert diff_forms(form, form.model_copy(update={"project_name": "一网统筹"})) == [
        FieldDiff(path="project_name", a="一网统管", b="一网统筹")
    ]


def test_a_misread_number_is_one_diff() -> None:
    form = label_form(SICHUAN)
    assert diff_forms(form, with_row_values(form, 3, score=2.5)) == [
        FieldDiff(path="indicators[3].score", a=3.0, b=2.5)
    ]


def test_a_missed_row_is_one_whole_row_diff_and_later_rows_keep_their_merged_index() -> None:
    form = label_form(SICHUAN)
    other = with_row_values(without_row(form, 9), 11, score=4.5)  # label row 12
    assert diff_forms(form, other) == [
        FieldDiff(path="indicators[9]", a=form.indicators[9].model_dump(mode="json"), b=None),
        FieldDiff(path="indicators[12].score", a=4.0, b=4.5),
    ]


def test_a_fund_row_only_one_side_holds_is_one_whole_row_diff() -> None:
    form = label_form(SICHUAN)
    other = form.model_copy(update={"funds": [r for r in form.funds if r.item != "other"]})
    assert [r.item for r in form.funds].index("other") == 2
    assert diff_forms(other, form) == [FieldDiff(path="funds[2]", a=None, b=form.funds[2].model_dump(mode="json"))]


def test_level1_weights_differ_key_by_key() -> None:
    form = label_form(PUJIN)
    weights = dict(form.level1_weights or {})
    weights["产出指标"] = 20.0
    del weights["满意度指标"]
    weights["社会 效益指标"] = weights.pop("社会效益指标")
    assert diff_forms(form, form.model_copy(update={"level1_weights": weights})) == [
        FieldDiff(path="level1_weights.产出指标", a=25.0, b=20.0),
        FieldDiff(path="level1_weights.满意度指标", a=10.0, b=None),
    ]


# --- merge_forms ---------------------------------------------------------------------------------------------------


def test_agreement_gives_the_layout_reading_and_no_finding() -> None:
    form = label_form(SICHUAN)
    llm = with_row_values(form, 0, target="≥９５%", actual="97.56 %").model_copy(update={"total_weight": 100})
    assert merge_forms(form, llm, page_text(SICHUAN)) == (form, [])


@pytest.mark.parametrize("grounded", [True, False])
def test_a_wrong_llm_total_loses_to_the_right_layout_total(grounded: bool) -> None:
    form = label_form(CHONGMING)
    llm = form.model_copy(update={"total_score": 10.0})  # 10 is printed on the page: only the sum tells
    merged, findings = merge_forms(form, llm, page_text(CHONGMING) if grounded else None)
    assert merged.total_score == 100.0
    assert codes(findings) == [("extractors_disagree", "warning", "total_score")]
    assert (findings[0].expected, findings[0].found) == ("100", "10")
    assert "read 100, the LLM 10; kept 100 (layout extractor)" in findings[0].message


def test_a_right_llm_score_beats_a_misread_layout_score() -> None:
    form = label_form(CHONGMING)
    layout = with_row_values(form, 0, score=4.0)  # weight 2: over its weight, and the scores miss the total
    merged, findings = merge_forms(layout, form, page_text(CHONGMING))
    assert merged == form
    assert codes(findings) == [("extractors_disagree", "warning", "indicators[0].score")]
    assert (findings[0].expected, findings[0].found) == ("2", "4")
    assert "(LLM)" in findings[0].message


def test_a_printed_value_beats_one_printed_nowhere_even_when_it_breaks_more_checks() -> None:
    rows = [
        row("培训人次", target="≥500人次", actual="520人次", weight=5, score=5),
        row(
            "培训合格率", level2="质量指标", target="=100%", actual="90%", weight=5, score=4.5, deviation="部分学员缺考"
        ),
    ]
    llm = Form(form_type="project", year=2024, amount_unit="元", indicators=rows, total_weight=10, total_score=9.5)
    layout = with_row_values(llm, 1, score=6.5)  # over its weight, and the scores miss the total: two errors
    texts = [
        "产出指标",
        "数量指标",
        "质量指标",
        *(t for r in rows for t in (r.level3, r.target, r.actual, r.deviation)),
    ]
    numbers = frozenset(Decimal(n) for n in ("2024", "5", "6.5", "10", "9.5", "500", "520", "100", "90"))
    page = SourceText(lines="".join(t or "" for t in texts), cells="", numbers=numbers, units=frozenset(), pages=(1,))
    merged, findings = merge_forms(layout, llm, page)
    assert merged == layout
    assert "4.5 is printed nowhere" in findings[0].message
    assert merge_forms(layout, llm)[0] == llm


def test_a_value_printed_nowhere_loses_even_when_it_makes_the_sums_add_up() -> None:
    form = label_form(SICHUAN)  # prints 98.21 as the total; its scores add up to 99.21
    llm = form.model_copy(update={"total_score": 99.21})
    merged, findings = merge_forms(form, llm, page_text(SICHUAN))
    assert merged.total_score == 98.21
    assert "99.21 is printed nowhere" in findings[0].message
    merged, findings = merge_forms(form, llm)  # without the pages only the arithmetic speaks
    assert merged.total_score == 99.21
    assert (findings[0].expected, findings[0].found) == ("99.21", "98.21")


def test_values_the_checks_cannot_tell_apart_keep_the_layout_reading() -> None:
    form = label_form(CHONGMING)
    llm = with_row_values(form, 5, target="一次性验收合格")
    merged, findings = merge_forms(form, llm)
    assert merged == form
    assert codes(findings) == [("extractors_disagree", "warning", "indicators[5].target")]
    assert "do not tell them apart" in findings[0].message


def test_a_null_in_the_layout_is_filled_by_the_llm() -> None:
    form = label_form(SICHUAN)
    deviation = form.indicators[9].deviation
    assert deviation is not None
    merged, findings = merge_forms(with_row_values(form, 9, deviation=None), form, page_text(SICHUAN))
    assert merged == form
    assert codes(findings) == [("extractor_gap", "info", "indicators[9].deviation")]
    assert findings[0].message.startswith("the layout extractor left indicators[9].deviation null; the LLM read")
    assert findings[0].expected == deviation


def test_a_null_in_the_llm_is_filled_by_the_layout() -> None:
    form = label_form(SICHUAN)
    merged, findings = merge_forms(form, with_row_values(form, 9, actual=None), page_text(SICHUAN))
    assert merged == form
    assert codes(findings) == [("extractor_gap", "info", "indicators[9].actual")]
    assert findings[0].message.startswith("the LLM left indicators[9].actual null; the layout extractor read")


def test_a_value_printed_nowhere_does_not_fill_a_null() -> None:
    form = label_form(SICHUAN)
    llm = with_row_values(form, 0, deviation="资金拨付滞后")
    merged, findings = merge_forms(form, llm, page_text(SICHUAN))
    assert merged == form
    assert codes(findings) == [("extractor_gap", "info", "indicators[0].deviation")]
    assert "printed nowhere" in findings[0].message and findings[0].found == "资金拨付滞后"


def test_a_printed_value_fills_a_null_even_when_it_breaks_the_sums() -> None:
    """A printed value is data; the checks, not the merge, report that the sums then disagree."""
    form = label_form(CHONGMING)
    layout = form.model_copy(update={"total_score": None})
    llm = form.model_copy(update={"total_score": 10.0})  # 10 is printed on the page, as another row's score
    merged, findings = merge_forms(layout, llm, page_text(CHONGMING))
    assert merged.total_score == 10.0
    assert codes(findings) == [("extractor_gap", "info", "total_score")]
    assert "score_sum" in {f.code for f in check_form(merged)}


def test_without_page_text_a_value_that_breaks_the_sums_does_not_fill_a_null() -> None:
    form = label_form(CHONGMING)
    layout = form.model_copy(update={"total_score": None})
    merged, findings = merge_forms(layout, form.model_copy(update={"total_score": 10.0}))
    assert merged.total_score is None
    assert codes(findings) == [("extractor_gap", "info", "total_score")]


def test_level1_weights_merge_key_by_key() -> None:
    form = label_form(SICHUAN)
    weights = dict(form.level1_weights or {})
    merged, findings = merge_forms(form, form.model_copy(update={"level1_weights": None}), page_text(SICHUAN))
    assert merged == form
    assert codes(findings) == [("extractor_gap", "info", f"level1_weights.{key}") for key in weights]
    weights["效益 指标"] = weights.pop("效益指标")
    assert merge_forms(form, form.model_copy(update={"level1_weights": weights}), page_text(SICHUAN)) == (form, [])


def test_a_row_the_llm_invented_is_dropped_when_the_pages_do_not_print_it() -> None:
    form = label_form(SICHUAN)
    rows = list(form.indicators)
    rows.insert(4, INVENTED)
    merged, findings = merge_forms(form, with_rows(form, rows), page_text(SICHUAN))
    assert merged == form
    assert codes(findings) == [("extractors_disagree", "warning", "indicators[4]")]
    assert "only the LLM read this row (预算编制科学性); dropped" in findings[0].message
    merged, findings = merge_forms(form, with_rows(form, rows))  # no pages to look it up in: kept
    assert merged.indicators == rows
    assert "kept" in findings[0].message


def test_a_printed_row_only_the_llm_found_is_kept() -> None:
    form = label_form(SICHUAN)
    merged, findings = merge_forms(without_row(form, 4), form, page_text(SICHUAN))
    assert merged == form
    assert codes(findings) == [("extractors_disagree", "warning", "indicators[4]")]
    assert "only the LLM read this row (部门预决算信息公开); kept" in findings[0].message


def test_a_row_only_the_layout_found_is_kept() -> None:
    form = label_form(SICHUAN)
    other = form.model_copy(update={"funds": [r for r in form.funds if r.item != "other"]})
    merged, findings = merge_forms(form, without_row(other, 15), page_text(SICHUAN))
    assert merged == form
    assert codes(findings) == [
        ("extractors_disagree", "warning", "funds[2]"),
        ("extractors_disagree", "warning", "indicators[15]"),
    ]
    assert all("only the layout extractor read this row" in f.message for f in findings)


def test_several_errors_of_both_extractors_merge_back_to_the_label() -> None:
    form = label_form(PUJIN)
    layout = with_row_values(without_row(form, 2), 10, score=2.0)  # label row 11 scores 1
    llm = with_row_values(form, 19, actual="９５．００(％)", deviation=None)
    llm = with_rows(llm, [*llm.indicators[:8], INVENTED, *llm.indicators[8:]])
    merged, findings = merge_forms(layout, llm, page_text(PUJIN))
    assert merged == form
    assert codes(findings) == [
        ("extractors_disagree", "warning", "indicators[2]"),
        ("extractors_disagree", "warning", "indicators[8]"),
        ("extractors_disagree", "warning", "indicators[11].score"),
        ("extractor_gap", "info", "indicators[19].deviation"),
    ]
    assert "dropped" in findings[1].message and (findings[2].expected, findings[2].found) == ("1", "2")

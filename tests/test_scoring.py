"""Field-level scoring: a label scores perfectly against itself, and each kind of error costs exactly its slots."""

from __future__ import annotations

from decimal import Decimal

import pytest
from conftest import FIXTURE_IDS, FORMS

from pipeline.checks.grounding import printed_places
from pipeline.schema import Document, Indicator
from pipeline.scoring import (
    FIELD_GROUPS,
    FIELD_NAMES,
    GROUPS,
    LONG_TEXT_FIELDS,
    LONG_TEXT_SIMILARITY,
    DocumentScore,
    FieldCounts,
    format_table,
    score_document,
    sum_scores,
    table_rows,
)


def load(fixture_id: str) -> Document:
    return Document.model_validate_json((FORMS / fixture_id / "label.json").read_text(encoding="utf-8"))


def errors(score: DocumentScore) -> dict[str, tuple[int, int]]:
    """Each field with any error, as (fp, fn)."""
    return {name: (c.fp, c.fn) for name, c in score.fields.items() if c.fp or c.fn}


def non_null_fields(row: Indicator) -> list[str]:
    return [f"indicators.{name}" for name, value in row if value is not None]


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
def test_a_label_against_itself_scores_one_on_every_field(fixture_id: str) -> None:
    label = load(fixture_id)
    score = score_document(label.model_copy(deep=True), label)
    assert score.f1 == 1.0
    assert all(counts.f1 == 1.0 for counts in score.fields.values())
    assert score.mismatches == []
    assert errors(score) == {}
    assert score.overall.tp > 100
    assert set(score.fields) == set(FIELD_NAMES)


def test_one_changed_number_is_one_fp_and_one_fn_on_that_field() -> None:
    label = load("inv-sichuan-2024-department")
    predicted = label.model_copy(deep=True)
    predicted.forms[0].funds[2].executed = 175.83  # label: 175.82
    score = score_document(predicted, label, name="sichuan")
    assert errors(score) == {"funds.executed": (1, 1)}
    [mismatch] = score.mismatches
    assert (mismatch.document, mismatch.path) == ("sichuan", "forms[0].funds[2].executed")
    assert mismatch.field == "funds.executed"
    assert (mismatch.expected, mismatch.got, mismatch.kind) == (175.82, 175.83, "wrong")
    assert score.overall.tp == 187


def test_a_number_within_a_millionth_is_equal() -> None:
    label = load("inv-sichuan-2024-department")
    predicted = label.model_copy(deep=True)
    predicted.forms[0].funds[2].executed = 175.82 + 1e-9
    assert score_document(predicted, label).mismatches == []


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
def test_a_dropped_indicator_row_costs_only_that_rows_fields(fixture_id: str) -> None:
    label = load(fixture_id)
    for form_index, form in enumerate(label.forms):
        for row_index in range(len(form.indicators)):
            predicted = label.model_copy(deep=True)
            dropped = predicted.forms[form_index].indicators.pop(row_index)
            score = score_document(predicted, label)
            assert errors(score) == {name: (0, 1) for name in non_null_fields(dropped)}, (form_index, row_index)
            assert {m.path.rsplit(".", 1)[0] for m in score.mismatches} == {
                f"forms[{form_index}].indicators[{row_index}]"
            }
            assert {m.kind for m in score.mismatches} == {"missing"}


def test_an_extra_indicator_row_is_false_positives_only() -> None:
    label = load("sh-chongming-2023-project")
    predicted = label.model_copy(deep=True)
    extra = Indicator(level1="产出指标", level2="数量指标", level3="巡查覆盖街镇数", target="≥18个", weight=2)
    predicted.forms[1].indicators.insert(4, extra)
    score = score_document(predicted, label)
    assert errors(score) == {name: (1, 0) for name in non_null_fields(extra)}
    assert {m.path for m in score.mismatches} == {
        f"forms[1].indicators[4].{name}" for name in ("level1", "level2", "level3", "target", "weight")
    }
    assert {(m.kind, m.expected) for m in score.mismatches} == {("spurious", None)}


def test_a_dropped_and_a_wrong_indicator_row_do_not_shift_the_rest() -> None:
    label = load("sh-minhang-pujin-2023-department")
    predicted = label.model_copy(deep=True)
    rows = predicted.forms[0].indicators
    rows.pop(9)
    rows[13].actual = "99.00(%)"  # label row 14
    score = score_document(predicted, label)
    assert score.fields["indicators.actual"].fn == 2  # row 9 missing, row 14 wrong
    assert score.fields["indicators.actual"].fp == 1
    assert score.fields["indicators.level3"].fn == 1
    assert score.fields["indicators.level3"].tp == len(label.forms[0].indicators) - 1
    assert {(m.path, m.kind) for m in score.mismatches if m.field == "indicators.actual"} == {
        ("forms[0].indicators[9].actual", "missing"),
        ("forms[0].indicators[14].actual", "wrong"),
    }


def test_a_dropped_row_among_misread_rows_still_costs_only_that_row() -> None:
    label = load("inv-sichuan-2024-department")
    predicted = label.model_copy(deep=True)
    rows = predicted.forms[0].indicators
    for row in rows:
        row.level3 = row.level3[:-1] + "口"  # a scan misreads every indicator's last character
    dropped = rows.pop(3)
    score = score_document(predicted, label)
    others = len(label.forms[0].indicators) - 1
    assert errors(score) == {
        name: (others, others + 1) if name == "indicators.level3" else (0, 1) for name in non_null_fields(dropped)
    }


def test_a_null_where_the_label_has_a_value_is_a_false_negative() -> None:
    label = load("sh-minhang-wujing-2024-project")
    predicted = label.model_copy(deep=True)
    predicted.forms[3].total_score = None
    score = score_document(predicted, label)
    assert errors(score) == {"form.total_score": (0, 1)}
    [mismatch] = score.mismatches
    assert (mismatch.path, mismatch.expected, mismatch.got, mismatch.kind) == (
        "forms[3].total_score",
        label.forms[3].total_score,
        None,
        "missing",
    )


def test_a_value_where_the_label_has_null_is_a_false_positive_and_nulls_are_true_negatives() -> None:
    label = load("inv-sichuan-2024-department")
    assert label.forms[0].project_name is None
    predicted = label.model_copy(deep=True)
    predicted.forms[0].project_name = "龙溪县水利局"
    score = score_document(predicted, label)
    assert errors(score) == {"form.project_name": (1, 0)}
    assert score.mismatches[0].kind == "spurious"
    assert score_document(label, label).fields["form.project_name"] == FieldCounts(tn=1)


def test_width_and_whitespace_do_not_count() -> None:
    label = load("inv-sichuan-2024-department")
    form = label.forms[0]
    assert (form.funds[1].label, form.indicators[0].target, form.indicators[0].actual) == (
        "按收入性质分：财政拨款",
        "≥95%",
        "97.56%",
    )
    predicted = label.model_copy(deep=True)
    changed = predicted.forms[0]
    changed.department = "龙溪县 水利局\n"
    changed.funds[1].label = "按收入性质分:财政拨款"
    changed.indicators[0].target = "≥ ９５％"
    changed.indicators[0].actual = "９７.５６ %"
    changed.level1_weights = {f"{key} ": weight for key, weight in (form.level1_weights or {}).items()}
    score = score_document(predicted, label)
    assert score.mismatches == []
    assert score.f1 == 1.0


def test_fund_rows_pair_by_item_and_label_not_position() -> None:
    label = load("sh-chongming-2023-project")
    predicted = label.model_copy(deep=True)
    predicted.forms[0].funds.reverse()
    assert score_document(predicted, label).mismatches == []
    dropped = predicted.forms[0].funds.pop(1)
    score = score_document(predicted, label)
    assert {m.kind for m in score.mismatches} == {"missing"}
    assert score.overall.fn == sum(value is not None for _, value in dropped)
    assert score.overall.fp == 0


def test_level1_weights_score_each_key() -> None:
    label = load("inv-sichuan-2024-department")
    predicted = label.model_copy(deep=True)
    weights = dict(label.forms[0].level1_weights or {})
    assert weights["产出指标"] == 40
    weights["产出指标"] = 45
    del weights["满意度指标"]
    weights["成本指标"] = 10
    predicted.forms[0].level1_weights = weights
    score = score_document(predicted, label)
    assert score.fields["form.level1_weights"] == FieldCounts(tp=2, fp=2, fn=2)
    assert {(m.path, m.kind) for m in score.mismatches} == {
        ("forms[0].level1_weights[产出指标]", "wrong"),
        ("forms[0].level1_weights[满意度指标]", "missing"),
        ("forms[0].level1_weights[成本指标]", "spurious"),
    }


def test_a_missing_form_costs_only_its_own_fields() -> None:
    label = load("sh-minhang-wujing-2024-project")
    predicted = label.model_copy(deep=True)
    predicted.forms.pop(4)
    score = score_document(predicted, label)
    assert score.overall.fp == 0
    assert {m.path.split(".")[0] for m in score.mismatches} == {"forms[4]"}
    alone = label.model_copy(update={"forms": [label.forms[4]]})
    assert score.overall.fn == score_document(alone, alone).overall.tp
    assert score.overall.tp + score.overall.fn == score_document(label, label).overall.tp


def test_an_extra_form_is_false_positives_at_its_own_index() -> None:
    label = load("sh-chongming-2023-project")
    predicted = label.model_copy(deep=True)
    predicted.forms.insert(0, load("inv-sichuan-2024-department").forms[0])
    score = score_document(predicted, label)
    assert score.overall.fn == 0
    assert score.overall.tp == score_document(label, label).overall.tp
    assert {m.path.split(".")[0] for m in score.mismatches} == {"forms[0]"}
    assert {m.kind for m in score.mismatches} == {"spurious"}


def test_no_forms_found_is_every_labelled_value_missing() -> None:
    label = load("inv-zhejiang-2024-split")
    score = score_document(label.model_copy(update={"forms": []}), label)
    assert score.overall == FieldCounts(fn=score_document(label, label).overall.tp)
    assert score.f1 == 0.0


def test_counts_and_scores_add_up() -> None:
    counts = FieldCounts(tp=3, fp=1, fn=1, tn=2)
    assert (counts.precision, counts.recall, counts.f1) == (0.75, 0.75, 0.75)
    assert counts + FieldCounts(fn=2) == FieldCounts(tp=3, fp=1, fn=3, tn=2)
    assert FieldCounts().f1 == 1.0
    assert FieldCounts(fn=1).f1 == 0.0

    label = load("inv-sichuan-2024-department")
    predicted = label.model_copy(deep=True)
    predicted.forms[0].grade = "良"
    wrong, right = score_document(predicted, label, name="a"), score_document(label, label, name="b")
    total = sum_scores([wrong, right])
    assert total == wrong.merge(right)
    assert total.documents == 2
    assert total.fields["form.grade"] == FieldCounts(tp=1, fp=1, fn=1)
    assert total.overall.tp == wrong.overall.tp + right.overall.tp
    assert [m.document for m in total.mismatches] == ["a"]
    assert total.f1 == pytest.approx(2 * total.overall.tp / (2 * total.overall.tp + 2))
    assert sum_scores([]) == DocumentScore()
    assert DocumentScore.model_validate_json(total.model_dump_json()) == total


def test_the_report_has_a_row_per_field_and_an_overall_row() -> None:
    label = load("inv-sichuan-2024-department")
    predicted = label.model_copy(deep=True)
    predicted.forms[0].grade = "良"
    score = score_document(predicted, label)
    rows = table_rows(score)
    assert rows[0] == ("field", "tp", "fp", "fn", "tn", "precision", "recall", "f1")
    assert [row[0] for row in rows[1:]] == [*FIELD_NAMES, "overall"]
    assert dict((row[0], row[1:]) for row in rows)["form.grade"] == ("0", "1", "1", "0", "0.0000", "0.0000", "0.0000")
    lines = format_table(score).splitlines()
    assert len(lines) == len(rows)
    assert lines[-1].split()[0] == "overall"
    assert len({len(line) for line in lines}) == 1


# --- hand-built pairs: rows shifted, missing, extra; tolerances; groups ----------------------------------------------

WUJING = "sh-minhang-wujing-2024-project"  # form 0: 巡查员工作经费, 8 indicator rows, funds 167.00 / 148.79 万元


def stranger() -> Indicator:
    """A row like no row of any label: it never pairs."""
    return Indicator(
        level1="其他指标", level2="其他", level3="与本项目无关的新增指标行", target="≥1次", weight=3, score=3
    )


def wujing_with(change: str, value: float) -> tuple[Document, Document]:
    """The wujing label and a copy whose form 0 funds[0] has ``change`` set to ``value``."""
    label = load(WUJING)
    predicted = label.model_copy(deep=True)
    setattr(predicted.forms[0].funds[0], change, value)
    return predicted, label


def test_a_row_inserted_at_the_front_costs_only_that_row_and_shifts_only_predicted_paths() -> None:
    label = load(WUJING)
    predicted = label.model_copy(deep=True)
    extra = stranger()
    predicted.forms[0].indicators.insert(0, extra)
    score = score_document(predicted, label)
    assert errors(score) == {name: (1, 0) for name in non_null_fields(extra)}
    assert score.overall.tp == score_document(label, label).overall.tp  # every label row still right
    assert score.overall.fn == 0
    assert {(m.path, m.predicted_path, m.kind) for m in score.mismatches} == {
        (f"forms[0].indicators[0].{name}", f"forms[0].indicators[0].{name}", "spurious")
        for name in ("level1", "level2", "level3", "target", "weight", "score")
    }

    assert predicted.forms[0].indicators[8].actual == "82.56(%)"  # label row 7
    predicted.forms[0].indicators[8].actual = "82.65(%)"
    score = score_document(predicted, label)
    [wrong] = [m for m in score.mismatches if m.kind == "wrong"]
    assert (wrong.path, wrong.predicted_path) == ("forms[0].indicators[7].actual", "forms[0].indicators[8].actual")
    assert errors(score)["indicators.actual"] == (1, 1)


def test_a_missing_row_is_exactly_its_non_null_fields_false_negative_with_no_predicted_path() -> None:
    label = load(WUJING)
    predicted = label.model_copy(deep=True)
    dropped = predicted.forms[0].indicators.pop(4)
    assert len(non_null_fields(dropped)) == 8  # deviation included
    score = score_document(predicted, label)
    assert errors(score) == {name: (0, 1) for name in non_null_fields(dropped)}
    assert score.overall == FieldCounts(
        tp=score_document(label, label).overall.tp - 8, fn=8, tn=score_document(label, label).overall.tn
    )
    assert {(m.path.rsplit(".", 1)[0], m.predicted_path, m.kind) for m in score.mismatches} == {
        ("forms[0].indicators[4]", None, "missing")
    }


def test_an_extra_row_is_only_false_positives_indexed_as_the_prediction_holds_it() -> None:
    label = load(WUJING)
    predicted = label.model_copy(deep=True)
    extra = stranger()
    predicted.forms[0].indicators.insert(5, extra)
    score = score_document(predicted, label)
    assert errors(score) == {name: (1, 0) for name in non_null_fields(extra)}
    assert (score.overall.fp, score.overall.fn) == (6, 0)
    assert score.overall.tp == score_document(label, label).overall.tp
    assert {(m.path, m.predicted_path) for m in score.mismatches} == {
        (f"forms[0].indicators[5].{name}", f"forms[0].indicators[5].{name}")
        for name in ("level1", "level2", "level3", "target", "weight", "score")
    }


def test_predicted_paths_carry_the_predictions_form_index_and_none_for_a_missing_form() -> None:
    label = load("inv-sichuan-2024-department")
    predicted = label.model_copy(deep=True)
    extra_form = load("sh-chongming-2023-project").forms[0]  # a project form never pairs with a department form
    predicted.forms.insert(0, extra_form)
    weights = dict(label.forms[0].level1_weights or {})
    weights["产出指标"] = 45
    predicted.forms[1].level1_weights = weights
    predicted.forms[1].total_score = 90.0
    score = score_document(predicted, label)
    assert {(m.path, m.predicted_path) for m in score.mismatches if m.kind == "wrong"} == {
        ("forms[0].level1_weights[产出指标]", "forms[1].level1_weights[产出指标]"),
        ("forms[0].total_score", "forms[1].total_score"),
    }
    spurious = [m for m in score.mismatches if m.kind == "spurious"]
    assert all(m.path == m.predicted_path and m.path.startswith("forms[0].") for m in spurious)
    alone = label.model_copy(update={"forms": [extra_form]})
    assert len(spurious) == score_document(alone, alone).overall.tp
    assert len(score.mismatches) == len(spurious) + 2

    dropped = load(WUJING)
    shorter = dropped.model_copy(deep=True)
    shorter.forms.pop(4)
    missing = score_document(shorter, dropped).mismatches
    assert missing and {(m.path.split(".")[0], m.predicted_path, m.kind) for m in missing} == {
        ("forms[4]", None, "missing")
    }


def test_a_number_within_half_a_unit_of_its_printed_last_place_is_right() -> None:
    printed = printed_places("年初预算数 167.00 全年预算数 148.79 执行率 100.00% 分值 10")
    assert printed == {Decimal("167"): 2, Decimal("148.79"): 2, Decimal("100"): 2, Decimal("10"): 0}
    for found, right in ((148.794, True), (148.795, True), (148.796, False), (148.78, False)):
        predicted, label = wujing_with("adjusted_budget", found)
        expected = {} if right else {"funds.adjusted_budget": (1, 1)}
        assert errors(score_document(predicted, label, printed=printed)) == expected, found
        assert errors(score_document(predicted, label)) == expected, found  # 148.79 shows its 2 places
    for found, right in ((167.004, True), (166.995, True), (167.01, False), (167.4, False)):
        predicted, label = wujing_with("initial_budget", found)
        expected = {} if right else {"funds.initial_budget": (1, 1)}
        assert errors(score_document(predicted, label, printed=printed)) == expected, found


def test_without_printed_a_label_167_0_shows_no_places_so_167_4_is_right_and_167_6_is_wrong() -> None:
    predicted, label = wujing_with("initial_budget", 167.4)
    assert label.forms[0].funds[0].initial_budget == 167.0
    assert score_document(predicted, label).mismatches == []
    assert errors(score_document(predicted, label, printed={Decimal("167.00"): 2})) == {"funds.initial_budget": (1, 1)}
    predicted, label = wujing_with("initial_budget", 167.6)
    assert errors(score_document(predicted, label)) == {"funds.initial_budget": (1, 1)}


def test_exactly_half_a_unit_is_right_in_decimal_arithmetic_where_floats_say_more() -> None:
    label = load("inv-sichuan-2024-department")
    assert label.forms[0].funds[0].executed == 3052.17
    assert abs(3052.175 - 3052.17) > 0.005  # binary floats: 0.005000000000109
    predicted = label.model_copy(deep=True)
    predicted.forms[0].funds[0].executed = 3052.175
    assert score_document(predicted, label).mismatches == []
    predicted.forms[0].funds[0].executed = 3052.1751
    assert errors(score_document(predicted, label)) == {"funds.executed": (1, 1)}


def test_an_int_must_match_to_the_unit() -> None:
    label = load(WUJING)
    predicted = label.model_copy(deep=True)
    predicted.forms[0].year = 2025
    assert errors(score_document(predicted, label)) == {"form.year": (1, 1)}
    predicted.forms[0].year = 2024
    assert score_document(predicted, label).mismatches == []


def test_full_and_half_width_are_alike_and_other_characters_are_not() -> None:
    label = load(WUJING)
    label.forms[0].indicators[0].target = "（100%）"
    label.forms[0].project_name = "ＡＢＣ１２"
    predicted = label.model_copy(deep=True)
    predicted.forms[0].indicators[0].target = "(100%)"
    predicted.forms[0].project_name = "ABC12"
    assert score_document(predicted, label).mismatches == []
    predicted.forms[0].indicators[0].target = "(90%)"
    predicted.forms[0].project_name = "ABC13"
    score = score_document(predicted, label)
    assert errors(score) == {"indicators.target": (1, 1), "form.project_name": (1, 1)}


def test_a_long_text_with_one_character_changed_is_right_a_short_one_or_half_rewritten_is_wrong() -> None:
    assert LONG_TEXT_FIELDS == ("form.goal_expected", "form.goal_actual", "indicators.deviation")
    assert LONG_TEXT_SIMILARITY == 0.9
    label = load(WUJING)
    goal = label.forms[0].goal_actual
    deviation = label.forms[0].indicators[4].deviation
    assert goal is not None and len(goal) > 40 and "覆盖率" in goal
    assert deviation is not None and len(deviation) >= 40 and "旧改" in deviation
    predicted = label.model_copy(deep=True)
    predicted.forms[0].goal_actual = goal.replace("覆盖率", "覆盖律", 1)
    predicted.forms[0].indicators[4].deviation = deviation.replace("旧改", "旧政", 1)
    assert score_document(predicted, label).mismatches == []

    predicted.forms[0].project_name = "巡查员工作经费".replace("经费", "经废")  # one character of a short field
    assert errors(score_document(predicted, label)) == {"form.project_name": (1, 1)}
    label.forms[0].project_name = goal  # the very same text and change, in a field compared exactly
    predicted.forms[0].project_name = goal.replace("覆盖率", "覆盖律", 1)
    assert errors(score_document(predicted, label)) == {"form.project_name": (1, 1)}

    rewritten = label.model_copy(deep=True)
    half = len(goal) // 2
    rewritten.forms[0].goal_actual = goal[:half] + "本年度按计划完成各项巡查任务并及时处置上报案件" * 3
    [mismatch] = score_document(rewritten, label).mismatches
    assert (mismatch.field, mismatch.kind, mismatch.path) == ("form.goal_actual", "wrong", "forms[0].goal_actual")


def test_printed_places_keeps_the_most_places_each_value_is_printed_with() -> None:
    text = "金额 939,500.00 元；执行率 100.00%，共 10 项，得分 10.5；１２３．４５ 万元；100；939500；3。52"
    found = printed_places(text)
    assert {str(value): digits for value, digits in found.items()} == {
        "939500": 2,
        "100": 2,
        "10": 0,
        "10.5": 1,
        "123.45": 2,
        "3": 0,  # 。 is not a decimal point here: no OCR digit slips
        "52": 0,
    }
    assert printed_places("167 167.0 167.00") == {Decimal("167"): 2}
    assert printed_places("无") == {}


def test_every_field_has_one_group_and_the_groups_sum_to_overall() -> None:
    assert list(FIELD_GROUPS) == list(FIELD_NAMES)
    assert set(FIELD_GROUPS.values()) == set(GROUPS) == {"header", "funds", "indicators", "totals"}
    assert [name for name, group in FIELD_GROUPS.items() if group == "totals"] == [
        "form.level1_weights",
        "form.total_weight",
        "form.total_score",
        "form.grade",
    ]
    assert FIELD_GROUPS["form.goal_actual"] == FIELD_GROUPS["form.year"] == "header"
    assert all(FIELD_GROUPS[name] == name.split(".")[0] for name in FIELD_NAMES if not name.startswith("form."))

    label = load(WUJING)
    predicted = label.model_copy(deep=True)
    predicted.forms[2].total_score = 98.0
    score = score_document(predicted, label)
    groups = score.groups()
    assert list(groups) == list(GROUPS)
    assert sum(groups.values(), FieldCounts()) == score.overall
    assert {name: (c.fp, c.fn) for name, c in groups.items()} == {
        "header": (0, 0),
        "funds": (0, 0),
        "indicators": (0, 0),
        "totals": (1, 1),
    }
    assert groups["totals"].tp == 10 * 3 - 1  # total_weight, total_score, grade on ten forms; no weights printed
    total = sum_scores([score, score_document(label, label)])
    assert sum(total.groups().values(), FieldCounts()) == total.overall

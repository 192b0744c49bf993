"""The deterministic checks: small hand-built forms that trip each check, and forms that pass it."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
from formbuilder import draw_form

from pipeline.checks import CATALOGUE, SourceText, check_document, check_form, source_text, status_of
from pipeline.checks.plausible import year_range
from pipeline.extractors._rows import grids_of
from pipeline.result import Finding
from pipeline.run import read_file
from pipeline.schema import Document, Form, FundRow, Indicator, Source

Triple = tuple[str, str, str | None]


def fund(item: str, label: str, *amounts: float | None, **extra: Any) -> dict[str, Any]:
    """A fund row as a dict: (initial_budget, adjusted_budget, executed), then weight, rate, score by name."""
    initial, adjusted, executed = amounts
    return {
        "item": item,
        "label": label,
        "initial_budget": initial,
        "adjusted_budget": adjusted,
        "executed": executed,
        **extra,
    }


def indicator(
    level1: str, level2: str, level3: str, target: str | None, actual: str | None, weight: float, score: float
) -> dict[str, Any]:
    return {
        "level1": level1,
        "level2": level2,
        "level3": level3,
        "target": target,
        "actual": actual,
        "weight": weight,
        "score": score,
    }


FUNDS = [
    fund("total", "年度资金总额", 1_000_000, 1_000_000, 950_000, weight=10, execution_rate=95, score=9.5),
    fund("appropriation", "当年财政拨款", 800_000, 800_000, 760_000, execution_rate=95),
    fund("carryover", "上年结转资金", 200_000, 200_000, 190_000, execution_rate=95),
]
INDICATORS = [
    indicator("产出指标", "数量指标", "培训人次", "≥500人次", "520人次", 30, 30),
    indicator("产出指标", "质量指标", "培训合格率", "≥95%", "98%", 20, 20),
    indicator("效益指标", "社会效益指标", "群众技能水平", "有效提升", "达成指标", 20, 20),
    indicator("满意度指标", "服务对象满意度指标", "参训人员满意度", "≥90%", "92%", 20, 20),
]
LEVEL1 = {"产出指标": 50, "效益指标": 20, "满意度指标": 20}


def make_form(**overrides: Any) -> Form:
    """A project form in which every check passes; ``overrides`` replace whole fields (dicts are validated)."""
    data: dict[str, Any] = {
        "form_type": "project",
        "year": 2024,
        "project_name": "高素质农民培训",
        "department": "某县农业农村局",
        "implementing_unit": "某县农业技术推广中心",
        "amount_unit": "元",
        "funds": FUNDS,
        "indicators": INDICATORS,
        "total_weight": 100,
        "total_score": 99.5,
        "grade": "优",
    }
    data.update(overrides)
    return Form.model_validate(data)


def with_fund(form: Form, index: int, **changes: Any) -> Form:
    funds = list(form.funds)
    funds[index] = FundRow.model_validate({**funds[index].model_dump(), **changes})
    return form.model_copy(update={"funds": funds})


def with_indicator(form: Form, index: int, **changes: Any) -> Form:
    indicators = list(form.indicators)
    indicators[index] = Indicator.model_validate({**indicators[index].model_dump(), **changes})
    return form.model_copy(update={"indicators": indicators})


def rate_form(budget: float, executed: float, rate: float, *, unit: str = "元", initial: float | None = None) -> Form:
    """A form whose money table is one total row; its score follows the printed rate, so only the rate is judged."""
    score = round(10 * min(rate, 100) / 100, 2)
    row = fund("total", "年度资金总额", initial, budget, executed, weight=10, execution_rate=rate, score=score)
    return make_form(amount_unit=unit, funds=[row], total_score=round(score + 90, 2))


def department_form(*, total: bool = True, **structure: tuple[float | None, float | None, float | None]) -> Form:
    """A department form: sources 800,000 + 200,000 and structure 600,000 + 400,000, with or without a total row."""
    basic = structure.get("basic", (600_000, 600_000, 570_000))
    project = structure.get("project", (400_000, 400_000, 380_000))
    funds = [
        fund("total", "年度资金总额", 1_000_000, 1_000_000, 950_000),
        fund("appropriation", "财政拨款", 800_000, 800_000, 760_000),
        fund("carryover", "上年结转", 200_000, 200_000, 190_000),
        fund("basic", "基本支出", *basic),
        fund("project", "项目支出", *project),
    ]
    indicators = [dict(INDICATORS[0], weight=40, score=40), *INDICATORS[1:]]
    return make_form(
        form_type="department",
        project_name=None,
        funds=funds if total else funds[1:],
        indicators=indicators,
        total_score=100,
    )


def found(findings: list[Finding]) -> set[Triple]:
    """Each finding as (code, severity, path)."""
    return {(f.code, f.severity, f.path) for f in findings}


def of(findings: list[Finding], *codes: str) -> set[Triple]:
    return {t for t in found(findings) if t[0] in codes}


def test_the_clean_forms_have_no_findings() -> None:
    """The base forms every other test changes in one place are themselves consistent."""
    assert check_form(make_form()) == []
    assert check_form(make_form(amount_unit="万元")) == []
    assert check_form(department_form()) == []
    assert check_form(department_form(total=False)) == []
    assert check_form(make_form(level1_weights=LEVEL1)) == []


def test_the_catalogue_has_one_severity_per_code() -> None:
    """The codes, and the severity each one always carries."""
    assert {code: entry.severity for code, entry in CATALOGUE.items()} == {
        "fund_parts_sum": "error",
        "fund_structure_sum": "error",
        "execution_rate": "error",
        "execution_rate_capped": "info",
        "execution_rate_zero_budget": "warning",
        "fund_subrow_weight": "warning",
        "fund_row_missing": "warning",
        "fund_score": "warning",
        "score_over_weight": "error",
        "negative_number": "error",
        "missing_deviation": "warning",
        "indicator_score_rule": "warning",
        "weight_sum": "error",
        "score_sum": "error",
        "score_sum_rounding": "warning",
        "level1_weight_sum": "error",
        "level1_unweighted": "warning",
        "level1_weights_total": "error",
        "grade_mismatch": "error",
        "grade_unknown": "info",
        "level_pairing": "warning",
        "year_implausible": "warning",
        "amount_unit_text": "error",
        "amount_unit_magnitude": "warning",
        "not_in_source": "error",
        "text_not_verbatim": "warning",
        "grounding_skipped": "info",
        "llm_invalid_reply": "error",
        "llm_reasked": "info",
        "extractors_disagree": "warning",
        "extractor_gap": "info",
    }
    assert all(entry.description for entry in CATALOGUE.values())


# --- fund_parts_sum -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["initial_budget", "adjusted_budget", "executed"])
def test_source_rows_that_miss_the_total_by_a_cent_are_an_error_in_yuan(column: str) -> None:
    """In 元 the sum is exact: one cent off in any column is reported at the total row's cell."""
    form = with_fund(make_form(), 1, **{column: getattr(make_form().funds[1], column) + 0.01})
    findings = check_form(form)
    assert of(findings, "fund_parts_sum") == {("fund_parts_sum", "error", f"funds[0].{column}")}
    [finding] = [f for f in findings if f.code == "fund_parts_sum"]
    assert finding.found == str(int(getattr(form.funds[0], column)))


def test_the_total_row_itself_off_is_reported_with_the_sum_expected() -> None:
    form = with_fund(make_form(), 0, initial_budget=1_100_000)
    findings = check_form(form)
    assert found(findings) == {("fund_parts_sum", "error", "funds[0].initial_budget")}
    assert (findings[0].expected, findings[0].found) == ("1000000", "1100000")


def test_blank_source_cells_count_as_zero() -> None:
    """A blank 上年结转 cell adds 0; the column is still checked because another part prints it."""
    funds = [
        fund("total", "年度资金总额", 1_000_000, 1_000_000, 950_000, weight=10, execution_rate=95, score=9.5),
        fund("appropriation", "当年财政拨款", 800_000, 1_000_000, 950_000),
        fund("carryover", "上年结转资金", 200_000, None, None),
    ]
    assert check_form(make_form(funds=funds)) == []
    funds[1] = fund("appropriation", "当年财政拨款", None, 1_000_000, 950_000)
    assert found(check_form(make_form(funds=funds))) == {("fund_parts_sum", "error", "funds[0].initial_budget")}


def test_a_column_blank_in_every_part_or_in_the_total_is_not_checked() -> None:
    funds = [
        fund("total", "年度资金总额", 1_000_000, 1_000_000, 950_000, weight=10, execution_rate=95, score=9.5),
        fund("appropriation", "当年财政拨款", None, 800_000, 760_000),
        fund("carryover", "上年结转资金", None, 200_000, 190_000),
    ]
    assert check_form(make_form(funds=funds)) == []
    funds[0] = fund("total", "年度资金总额", None, 1_000_000, 950_000, weight=10, execution_rate=95, score=9.5)
    funds[1] = fund("appropriation", "当年财政拨款", 123, 800_000, 760_000)
    assert check_form(make_form(funds=funds)) == []


@pytest.mark.parametrize(
    ("total", "parts", "ok"),
    [
        (3.48, (1.23, 2.24), True),  # 1.225 + 2.235 ≤ x < 1.235 + 2.245: 3.475–3.48 rounds to 3.48
        (3.46, (1.23, 2.24), True),
        (3.49, (1.23, 2.24), False),  # two cents off: more than three roundings explain
        (3.52, (3.53, 0), False),  # one non-zero part equals the total exactly before rounding
        (3.52, (3.52, 0), True),
        (3.5, (1.2, 2.2), True),  # printed to 0.1 万元: half of 0.1 per term (1.24 + 2.24 = 3.48)
        (3.6, (1.2, 2.2), False),
        (3.5, (1.2, 2.25), False),  # one amount shows 2 places: the table is printed to 0.01
        (120, (100, 21), True),  # whole 万元: half a 万元 per term
        (120, (100, 22), False),
    ],
)
def test_sums_in_wan_yuan_allow_what_rounding_could_explain(total: float, parts: tuple[float, float], ok: bool) -> None:
    funds = [
        fund("total", "年度资金总额", total, None, None, weight=10, execution_rate=95, score=9.5),
        fund("appropriation", "当年财政拨款", parts[0], None, None),
        fund("carryover", "上年结转资金", parts[1], None, None),
    ]
    expected = set() if ok else {("fund_parts_sum", "error", "funds[0].initial_budget")}
    assert found(check_form(make_form(amount_unit="万元", funds=funds))) == expected


# --- fund_structure_sum -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("total", "first_structure_row"), [(True, "funds[3]"), (False, "funds[2]")])
def test_basic_plus_project_must_equal_the_total_or_the_sources(total: bool, first_structure_row: str) -> None:
    """With a total row 基本支出 + 项目支出 is held to it; without one, to the sum of the source rows."""
    form = department_form(total=total, project=(400_000, 400_000, 390_000))
    findings = check_form(form)
    assert found(findings) == {("fund_structure_sum", "error", f"{first_structure_row}.executed")}
    assert (findings[0].expected, findings[0].found) == ("950000", "960000")


def test_a_blank_structure_cell_counts_as_zero_and_a_blank_structure_column_is_skipped() -> None:
    assert check_form(department_form(basic=(600_000, 600_000, None), project=(400_000, 400_000, 950_000))) == []
    assert check_form(department_form(basic=(None, 600_000, 570_000), project=(None, 400_000, 380_000))) == []
    assert found(check_form(department_form(basic=(None, 600_000, 570_000)))) == {
        ("fund_structure_sum", "error", "funds[3].initial_budget")
    }


# --- execution_rate / execution_rate_capped -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("budget", "executed", "rate", "ok"),
    [
        (652.40, 628.47, 96.33, True),  # 96.3320…
        (652.40, 628.47, 96.34, False),
        (652.40, 628.47, 96.32, False),
        (100, 99.929, 99.92, True),  # truncated
        (100, 99.929, 99.93, True),  # rounded
        (100, 99.929, 99.90, False),
        (100, 99.925, 99.92, True),  # half to even
        (100, 99.925, 99.93, True),  # half up
        (100, 95, 95, True),
        (100, 95, 59, False),
    ],
)
def test_a_printed_rate_is_the_recomputed_rate_at_its_printed_precision(
    budget: float, executed: float, rate: float, ok: bool
) -> None:
    form = rate_form(budget, executed, rate, unit="万元")
    expected = set() if ok else {("execution_rate", "error", "funds[0].execution_rate")}
    assert found(check_form(form)) == expected


def test_a_wrong_rate_reports_the_recomputed_rate_to_two_places() -> None:
    [finding] = check_form(rate_form(652.40, 628.47, 96.34, unit="万元"))
    assert (finding.code, finding.expected, finding.found) == ("execution_rate", "96.33", "96.34")


@pytest.mark.parametrize(("rate", "ok"), [(96, True), (97, False)])
def test_a_form_printing_whole_rates_is_judged_to_whole_percent(rate: float, ok: bool) -> None:
    funds = [
        fund("total", "年度资金总额", None, 652.40, 628.47, weight=10, execution_rate=rate, score=9.6),
        fund("appropriation", "当年财政拨款", None, 652.40, 628.47, execution_rate=rate),
    ]
    form = make_form(amount_unit="万元", funds=funds, total_score=99.6)
    expected = set() if ok else {("execution_rate", "error", f"funds[{i}].execution_rate") for i in (0, 1)}
    assert of(check_form(form), "execution_rate") == expected


def test_one_rate_with_decimals_makes_a_whole_rate_elsewhere_wrong() -> None:
    """The printed precision is the form's: 96 beside 96.33 was not rounded from 96.33."""
    funds = [
        fund("total", "年度资金总额", None, 652.40, 628.47, weight=10, execution_rate=96, score=9.6),
        fund("appropriation", "当年财政拨款", None, 652.40, 628.47, execution_rate=96.33),
    ]
    form = make_form(amount_unit="万元", funds=funds, total_score=99.6)
    assert found(check_form(form)) == {("execution_rate", "error", "funds[0].execution_rate")}


def test_the_rate_falls_back_to_the_initial_budget() -> None:
    assert check_form(rate_form(None, 950_000, 95, initial=1_000_000)) == []
    assert found(check_form(rate_form(None, 950_000, 90, initial=1_000_000))) == {
        ("execution_rate", "error", "funds[0].execution_rate")
    }


@pytest.mark.parametrize(
    ("budget", "spent", "rate", "ok"),
    [
        (0, 0, 0, True),  # nothing budgeted, nothing spent: 0 …
        (0, 0, 100, True),  # … or "all done"
        (0, 0, None, True),
        (0, None, 100, True),
        (None, None, 100, True),  # no budget printed at all: nothing to judge
        (0, 0, 50, False),
        (0, 1_000, 100, False),  # money spent against a 0 budget
        (0, 1_000, 0, False),
    ],
)
def test_a_zero_budget_row_prints_0_or_100_or_nothing(
    budget: float | None, spent: float | None, rate: float | None, ok: bool
) -> None:
    """0 / 0 cannot be recomputed: 0 or 100 is what forms print for it; any other rate, or spending, is suspicious."""
    funds = [
        FUNDS[0],
        fund("appropriation", "当年财政拨款", 1_000_000, 1_000_000, 950_000 - (spent or 0), execution_rate=95),
        fund("carryover", "上年结转资金", budget, budget, spent, execution_rate=rate),
    ]
    expected = set() if ok else {("execution_rate_zero_budget", "warning", "funds[2].execution_rate")}
    assert found(check_form(make_form(funds=funds))) == expected


def test_an_overspent_budget_printed_as_100_is_capped_info() -> None:
    """Executed 22.24 of 22.2 is 100.18%; a form printing 100 caps the rate, which is no error."""
    findings = check_form(rate_form(22.2, 22.24, 100, unit="万元"))
    assert found(findings) == {("execution_rate_capped", "info", "funds[0].execution_rate")}
    assert (findings[0].expected, findings[0].found) == ("100.18", "100")
    assert status_of(findings) == "ok"


@pytest.mark.parametrize(
    ("executed", "rate", "expected"),
    [
        (1_001_800, 100.18, set()),  # the true rate over 100 printed as it is
        (1_001_800, 100, {("execution_rate_capped", "info", "funds[0].execution_rate")}),
        (1_000_040, 100, set()),  # 100.004% rounds to 100.00: plainly right, not capped
        (1_001_800, 100.2, {("execution_rate", "error", "funds[0].execution_rate")}),
        (1_001_800, 99.99, {("execution_rate", "error", "funds[0].execution_rate")}),
    ],
)
def test_rates_over_100(executed: float, rate: float, expected: set[Triple]) -> None:
    assert of(check_form(rate_form(1_000_000, executed, rate)), "execution_rate", "execution_rate_capped") == expected


# --- fund_score ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("score", "ok"), [(9.5, True), (9.49, True), (9.51, True), (9.48, False), (10, False)])
def test_the_fund_score_is_weight_times_rate(score: float, ok: bool) -> None:
    form = with_fund(make_form(total_score=round(90 + score, 2)), 0, score=score)
    expected = set() if ok else {("fund_score", "warning", "funds[0].score")}
    assert found(check_form(form)) == expected


def test_the_fund_score_caps_the_rate_at_100() -> None:
    assert check_form(rate_form(1_000_000, 1_001_800, 100.18)) == []
    form = with_fund(rate_form(1_000_000, 1_001_800, 100.18), 0, score=10.02)
    assert {("fund_score", "warning", "funds[0].score"), ("score_over_weight", "error", "funds[0].score")} <= found(
        check_form(form)
    )


def test_the_fund_score_of_a_zero_budget_follows_the_printed_rate() -> None:
    assert check_form(rate_form(0, 0, 100)) == []
    form = with_fund(rate_form(0, 0, 100), 0, score=5)
    assert of(check_form(form), "fund_score") == {("fund_score", "warning", "funds[0].score")}


# --- fund_subrow_weight --------------------------------------------------------------------------------------------


def test_a_sub_row_weighted_beside_the_total_row_is_a_warning() -> None:
    """The money table's 分值 and 得分 are the total row's; a sub-row printing them too is counted once."""
    assert found(check_form(with_fund(make_form(), 1, weight=10))) == {
        ("fund_subrow_weight", "warning", "funds[1].weight")
    }
    assert found(check_form(with_fund(make_form(), 2, weight=10, score=9.5))) == {
        ("fund_subrow_weight", "warning", "funds[2].weight"),
        ("fund_subrow_weight", "warning", "funds[2].score"),
    }


def test_sub_rows_may_carry_the_weight_when_the_total_row_does_not() -> None:
    """No 分值 on the total row: the rows that print one are the money table's part of the totals."""
    funds = [
        fund("total", "年度资金总额", 1_000_000, 1_000_000, 950_000),
        fund("appropriation", "当年财政拨款", 800_000, 800_000, 760_000, weight=8, execution_rate=95, score=7.6),
        fund("carryover", "上年结转资金", 200_000, 200_000, 190_000, weight=2, execution_rate=95, score=1.9),
    ]
    assert check_form(make_form(funds=funds)) == []
    assert of(check_form(make_form(funds=funds[:2])), "weight_sum", "score_sum") == {
        ("weight_sum", "error", "total_weight"),
        ("score_sum", "error", "total_score"),
    }


# --- score_over_weight / negative_number --------------------------------------------------------------------------


def test_a_score_above_its_weight_is_an_error_on_rows_and_the_total() -> None:
    form = with_indicator(make_form(total_score=100.5), 2, actual=None, score=21)
    assert found(check_form(form)) == {
        ("score_over_weight", "error", "indicators[2].score"),
        ("score_over_weight", "error", "total_score"),
    }


NEGATIVES = {
    "funds[1].executed": lambda form: with_fund(form, 1, executed=-760_000),
    "funds[0].weight": lambda form: with_fund(form, 0, weight=-10),
    "funds[2].execution_rate": lambda form: with_fund(form, 2, execution_rate=-95),
    "indicators[0].score": lambda form: with_indicator(form, 0, score=-30),
    "indicators[3].weight": lambda form: with_indicator(form, 3, weight=-20),
    "total_weight": lambda form: form.model_copy(update={"total_weight": -100}),
    "level1_weights.产出指标": lambda form: form.model_copy(update={"level1_weights": {**LEVEL1, "产出指标": -50}}),
}


@pytest.mark.parametrize("path", list(NEGATIVES))
def test_a_negative_number_is_an_error_where_it_stands(path: str) -> None:
    """Amounts, rates, weights, scores and 一级指标 weights: the sign is reported at the cell that has it."""
    form = NEGATIVES[path](make_form(level1_weights=LEVEL1))
    assert of(check_form(form), "negative_number") == {("negative_number", "error", path)}


# --- missing_deviation --------------------------------------------------------------------------------------------


def test_a_row_below_its_weight_must_say_why() -> None:
    """20 × 90 / 95 = 18.95: the score is right, but a lost point needs a 偏差原因分析."""
    form = with_indicator(make_form(total_score=98.45), 1, actual="90%", score=18.95)
    assert found(check_form(form)) == {("missing_deviation", "warning", "indicators[1].deviation")}
    assert check_form(with_indicator(form, 1, deviation="部分学员未参加结业考核")) == []


def test_a_row_without_weight_or_score_needs_no_deviation() -> None:
    form = with_indicator(make_form(total_weight=80, total_score=79.5, grade="中"), 1, weight=None, score=None)
    assert check_form(form) == []


# --- indicator_score_rule -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "actual", "weight", "score", "implied"),
    [
        ("≥500人次", "520人次", 30, 30, None),
        ("≥500人次", "500人次", 30, 30, None),
        ("≥500人次", "450人次", 30, 27, None),
        ("≥500人次", "450人次", 30, 30, "27"),
        ("≥500人次", "520人次", 30, 25, "30"),
        ("不低于500人次", "450人次", 30, 30, "27"),
        ("500人次以上", "450人次", 30, 30, "27"),
        ("≤5%", "4%", 20, 20, None),
        ("≤5%", "8%", 20, 12.5, None),
        ("≤5%", "8%", 20, 20, "12.5"),
        ("5%以内", "8%", 20, 20, "12.5"),
        ("=100%", "100%", 20, 20, None),
        ("=100%", "95%", 20, 19, None),
        ("=100%", "95%", 20, 20, "19"),
        ("=0起", "0起", 20, 20, None),  # =0: nothing may happen, like ≤0
        ("=0起", "1起", 20, 0, None),
        ("=0起", "1起", 20, 20, "0"),
        ("≥0个", "0个", 20, 20, None),
        ("≥90%", "89.99%", 20, 20, None),  # 19.9978: within a hundredth of full weight
        ("≥90%", "85%", 20, 18.89, None),
        ("≥90%", "85%", 20, 18.88, None),  # 18.8889: within the 0.01 slack
        ("≥90%", "85%", 20, 18.87, "18.89"),
        ("≥500人次", "450人", 30, 30, None),  # units differ: not judged
        ("≥500人次", "450", 30, 27, None),  # actual without a unit is compared
        ("≥500人次", "450", 30, 30, "27"),
        ("有效提升", "达成指标", 20, 20, None),
        ("有效提升", "达成指标", 20, 18, "20"),
        ("有效提升", "已完成", 20, 18, "20"),
        ("定性优良", "优良", 20, 18, "20"),
        ("有效提升", "基本达成", 20, 18, None),  # not a 'met' word: not judged
        ("2024年12月31日前", "2024年11月30日", 20, 15, None),  # dates are not judged
        ("2024年12月31日前", "2025年3月1日", 20, 20, None),
        (None, None, 20, 15, None),
    ],
)
def test_the_common_indicator_scoring_rule(
    target: str | None, actual: str | None, weight: float, score: float, implied: str | None
) -> None:
    """Full weight when the target is met, else weight × actual / target (target / actual for ≤)."""
    form = with_indicator(make_form(), 1, target=target, actual=actual, weight=weight, score=score, deviation="原因")
    findings = [f for f in check_form(form) if f.code == "indicator_score_rule"]
    assert [(f.severity, f.path, f.expected) for f in findings] == (
        [] if implied is None else [("warning", "indicators[1].score", implied)]
    )


def test_a_row_without_a_score_is_not_judged() -> None:
    form = with_indicator(make_form(total_score=79.5, grade="中"), 1, actual="50%", score=None)
    assert of(check_form(form), "indicator_score_rule", "missing_deviation") == set()


# --- weight_sum / score_sum / score_sum_rounding ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total_weight", "ok"), [(100, True), (100.01, True), (99.99, True), (100.02, False), (110, False)]
)
def test_fund_and_indicator_weights_add_up_to_the_total(total_weight: float, ok: bool) -> None:
    expected = set() if ok else {("weight_sum", "error", "total_weight")}
    assert found(check_form(make_form(total_weight=total_weight))) == expected


def test_a_null_weight_row_is_left_out_of_the_sum() -> None:
    """A row printing no weight (and no score) adds nothing; the total of the rest is checked."""
    form = with_indicator(make_form(total_weight=80, total_score=79.5, grade="中"), 3, weight=None, score=None)
    assert check_form(form) == []
    form = form.model_copy(update={"total_weight": 100})
    findings = check_form(form)
    assert found(findings) == {("weight_sum", "error", "total_weight")}
    assert (findings[0].expected, findings[0].found) == ("80", "100")


@pytest.mark.parametrize(
    ("total_score", "expected"),
    [
        (99.5, set()),
        (99.51, set()),
        (99.49, set()),
        (99.52, {("score_sum_rounding", "warning", "total_score")}),
        (99.525, {("score_sum_rounding", "warning", "total_score")}),  # 5 scores × 0.005
        (99.475, {("score_sum_rounding", "warning", "total_score")}),
        (99.53, {("score_sum", "error", "total_score")}),
        (98, {("score_sum", "error", "total_score")}),
    ],
)
def test_fund_and_indicator_scores_add_up_to_the_total(total_score: float, expected: set[Triple]) -> None:
    assert found(check_form(make_form(total_score=total_score))) == expected


# --- level1_weight_sum / level1_unweighted / level1_weights_total -------------------------------------------------


def test_a_level1_weight_must_be_what_its_rows_weigh() -> None:
    form = make_form(level1_weights={**LEVEL1, "产出指标": 55, "效益指标": 15})
    findings = check_form(form)
    assert found(findings) == {
        ("level1_weight_sum", "error", "level1_weights.产出指标"),
        ("level1_weight_sum", "error", "level1_weights.效益指标"),
    }
    by_path = {f.path: (f.expected, f.found) for f in findings}
    assert by_path["level1_weights.产出指标"] == ("50", "55")


def test_a_level1_weight_with_no_rows_under_it_is_an_error() -> None:
    form = make_form(level1_weights={"产出指标": 40, "成本指标": 10, "效益指标": 20, "满意度指标": 20})
    assert found(check_form(form)) == {
        ("level1_weight_sum", "error", "level1_weights.产出指标"),
        ("level1_weight_sum", "error", "level1_weights.成本指标"),
    }


def test_a_level1_missing_from_the_printed_weights() -> None:
    form = make_form(level1_weights={"产出指标": 50, "效益指标": 20})
    assert found(check_form(form)) == {
        ("level1_unweighted", "warning", "indicators[3].level1"),
        ("level1_weights_total", "error", "level1_weights"),
    }


def test_the_level1_weights_and_the_fund_weight_add_up_to_the_total() -> None:
    form = make_form(level1_weights=LEVEL1, total_weight=110)
    findings = check_form(form)
    assert found(findings) == {
        ("weight_sum", "error", "total_weight"),
        ("level1_weights_total", "error", "level1_weights"),
    }
    [total] = [f for f in findings if f.code == "level1_weights_total"]
    assert (total.expected, total.found) == ("110", "100")


def test_level1_names_match_after_folding() -> None:
    """A printed 一级指标 with its weight in brackets is the same 一级指标."""
    form = make_form(level1_weights={"产出指标（50分）": 50, "效益指标": 20, "满意度指标": 20})
    assert check_form(form) == []


# --- grade_mismatch / grade_unknown -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total_score", "grade", "expected"),
    [
        (90, "优", None),
        (89.99, "优", "良"),
        (89.99, "良", None),
        (90, "良", "优"),
        (80, "良", None),
        (79.99, "良", "中"),
        (60, "中", None),
        (59.99, "中", "差"),
        (59.99, "差", None),
        (0, "差", None),
        (100, "优秀", None),
        (85, "良好", None),
        (70, "合格", None),
        (45, "不合格", None),
        (95, "A", None),
        (95, "B", "优"),
    ],
)
def test_the_grade_is_the_band_the_total_score_reaches(total_score: float, grade: str, expected: str | None) -> None:
    findings = [f for f in check_form(make_form(total_score=total_score, grade=grade)) if f.path == "grade"]
    assert [(f.code, f.severity, f.expected) for f in findings] == (
        [] if expected is None else [("grade_mismatch", "error", expected)]
    )


def test_an_unknown_grade_is_info_and_not_judged() -> None:
    findings = check_form(make_form(grade="满分"))
    assert found(findings) == {("grade_unknown", "info", "grade")}
    assert status_of(findings) == "ok"


def test_no_grade_or_no_total_score_is_not_judged() -> None:
    assert check_form(make_form(grade=None)) == []
    assert of(check_form(make_form(total_score=None, grade="差")), "grade_mismatch") == set()


# --- level_pairing ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("level1", "level2", "ok"),
    [
        ("产出指标", "社会效益指标", False),
        ("效益指标", "社会效益指标", True),
        ("产出指标", "成本指标", True),
        ("成本指标", "成本指标", True),
        ("产出指标", "经济成本指标", False),
        ("成本指标", "社会成本指标", True),
        ("效益指标", "数量指标", False),
        ("满意度指标", "服务对象满意度指标", True),
        ("产出指标", "其他指标", True),  # a kind the table does not know is not judged
    ],
)
def test_a_level2_stands_under_its_level1(level1: str, level2: str, ok: bool) -> None:
    form = with_indicator(make_form(), 2, level1=level1, level2=level2)
    expected = set() if ok else {("level_pairing", "warning", "indicators[2].level1")}
    assert of(check_form(form), "level_pairing") == expected


def test_a_row_without_level2_is_not_paired() -> None:
    assert check_form(with_indicator(make_form(), 2, level1="产出指标", level2=None)) == []


# --- year_implausible / amount_unit_magnitude ---------------------------------------------------------------------


@pytest.mark.parametrize(("year", "ok"), [(1999, False), (2000, True), (2024, True), (2025, True), (2026, False)])
def test_the_year_lies_between_2000_and_this_year(year: int, ok: bool) -> None:
    findings = list(year_range(make_form(year=year), today=datetime.date(2025, 3, 1)))
    assert found(findings) == (set() if ok else {("year_implausible", "warning", "year")})


def test_check_form_reports_an_implausible_year() -> None:
    assert found(check_form(make_form(year=1999))) == {("year_implausible", "warning", "year")}


@pytest.mark.parametrize(
    ("unit", "amount", "ok"),
    [
        ("元", 999, False),
        ("元", 1000, True),
        ("万元", 1_000_000, True),
        ("万元", 1_000_001, False),
        ("万元", 3.48, True),
    ],
)
def test_amounts_fit_their_unit(unit: str, amount: float, ok: bool) -> None:
    form = rate_form(amount, amount, 100, unit=unit)
    expected = set() if ok else {("amount_unit_magnitude", "warning", "amount_unit")}
    assert found(check_form(form)) == expected


def test_a_money_table_of_zeros_or_blanks_says_nothing_about_its_unit() -> None:
    assert check_form(rate_form(0, 0, 0, unit="元")) == []
    funds = [fund("total", "年度资金总额", None, None, None, weight=10, score=9.5)]
    assert of(check_form(make_form(funds=funds)), "amount_unit_magnitude") == set()


# --- grounding: not_in_source / text_not_verbatim / amount_unit_text ----------------------------------------------


def draw_source(path: Path, unit: str) -> SourceText:
    """A one-page form PDF, read as the pipeline reads it: lines and ruled cells."""
    header = ["一级指标", "二级指标", "三级指标", "指标性质", "指标值", "度量单位", "实际完成值", "分值", "得分"]
    pdf = draw_form(
        path,
        [
            [["项目名称", ("农村公路养护工程", 3, 1)], ["主管部门", ("某县交通运输局", 3, 1)]],
            [
                [f"项目资金（{unit}）", "年初预算数", "全年预算数", "全年执行数", "分值", "执行率", "得分"],
                ["年度资金总额", "939,500.00", "939,500.00", "939,500.00", "10", "100.00%", "10"],
                ["其中：当年财政拨款", "939,500.00", "939,500.00", "939,500.00", "—", "100.00%", "—"],
            ],
            [
                header,
                ["产出指标", "数量指标", "完成道路养护里程", "≥", "5000", "公里", "5200公里", "40", "40"],
                ["效益指标", "社会效益指标", "群众出行便利程度明显提升", "", "有效提升", "", "达成指标", "30", "30"],
                ["满意度指标", "服务对象满意度指标", "群众满意度", "≥", "90", "%", "95%", "20", "20"],
                [("总分", 7, 1), "100", "100"],
                [("评分等级", 7, 1), ("优", 2, 1)],
            ],
        ],
        row_height=30,
    )
    reading = read_file(pdf)
    return source_text(reading.pages, reading.spans[0], grids_of(reading.pages))


@pytest.fixture(scope="module")
def page_source(tmp_path_factory: pytest.TempPathFactory) -> SourceText:
    return draw_source(tmp_path_factory.mktemp("grounding") / "form.pdf", "元")


def printed_form(**overrides: Any) -> Form:
    """The form ``draw_source`` prints, value for value."""
    amounts = (939_500, 939_500, 939_500)
    data: dict[str, Any] = {
        "form_type": "project",
        "year": 2024,
        "project_name": "农村公路养护工程",
        "department": "某县交通运输局",
        "amount_unit": "元",
        "funds": [
            fund("total", "年度资金总额", *amounts, weight=10, execution_rate=100, score=10),
            fund("appropriation", "其中：当年财政拨款", *amounts, execution_rate=100),
        ],
        "indicators": [
            indicator("产出指标", "数量指标", "完成道路养护里程", "≥5000公里", "5200公里", 40, 40),
            indicator("效益指标", "社会效益指标", "群众出行便利程度明显提升", "有效提升", "达成指标", 30, 30),
            indicator("满意度指标", "服务对象满意度指标", "群众满意度", "≥90%", "95%", 20, 20),
        ],
        "total_weight": 100,
        "total_score": 100,
        "grade": "优",
    }
    data.update(overrides)
    return Form.model_validate(data)


def grounding_of(form: Form, source: SourceText) -> set[Triple]:
    """The findings the page text adds to the form's own."""
    return found(check_form(form, source)) - found(check_form(form))


def test_every_printed_value_is_found_in_any_printed_format(page_source: SourceText) -> None:
    """939500 ↔ 939,500.00, 100 ↔ 100.00%, a wrapped cell, a target over three cells ≥ | 5000 | 公里."""
    assert "939,500.00" in page_source.cells and "100.00%" in page_source.cells
    assert "群众出行便利程度明显提升" not in page_source.lines  # wrapped: whole only in its cell
    assert check_form(printed_form()) == []
    assert check_form(printed_form(), page_source) == []


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"year": 2023}, "year"),
        ({"total_score": 99}, "total_score"),
        ({"project_name": "城市绿化提升工程"}, "project_name"),
        ({"grade": "良"}, "grade"),
    ],
)
def test_a_value_printed_nowhere_is_not_in_source(page_source: SourceText, overrides: dict, path: str) -> None:
    assert grounding_of(printed_form(**overrides), page_source) == {("not_in_source", "error", path)}


def test_an_invented_amount_is_not_in_source(page_source: SourceText) -> None:
    form = with_fund(printed_form(), 0, executed=939_600)
    assert grounding_of(form, page_source) == {("not_in_source", "error", "funds[0].executed")}


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"target": "≤3个"}, "indicators[0].target"),
        ({"actual": "未完成"}, "indicators[0].actual"),
        ({"deviation": "资金拨付滞后导致进度延迟"}, "indicators[0].deviation"),
    ],
)
def test_an_invented_indicator_text_is_not_in_source(page_source: SourceText, changes: dict, path: str) -> None:
    form = with_indicator(printed_form(), 0, **changes)
    assert grounding_of(form, page_source) == {("not_in_source", "error", path)}


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"level3": "群众出行便捷程度明显提升"}, "indicators[1].level3"),
        ({"level3": "群众出行便利程度明显提高"}, "indicators[1].level3"),
        ({"level2": "社会效益措标"}, "indicators[1].level2"),
    ],
)
def test_a_long_text_with_one_character_changed_is_not_verbatim(
    page_source: SourceText, changes: dict, path: str
) -> None:
    form = with_indicator(printed_form(), 1, **changes)
    assert grounding_of(form, page_source) == {("text_not_verbatim", "warning", path)}


def test_a_text_whose_characters_are_printed_only_apart_is_not_in_source(page_source: SourceText) -> None:
    """路, 程, 县, 众 are each on the page, but never two of them together."""
    form = with_indicator(printed_form(), 0, deviation="路程县众")
    assert grounding_of(form, page_source) == {("not_in_source", "error", "indicators[0].deviation")}


def test_full_and_half_width_forms_are_the_same_text(page_source: SourceText) -> None:
    """The page prints 其中：当年财政拨款 and ≥ | 90 | %; half-width : and full-width ％ are the same text."""
    form = with_fund(printed_form(), 1, label="其中:当年财政拨款")
    form = with_indicator(form, 2, target="≥90％", actual="９５%")
    assert check_form(form, page_source) == []


def test_a_fund_row_the_page_prints_but_the_form_lacks_is_a_warning(page_source: SourceText) -> None:
    """The page prints 其中：当年财政拨款; a form with only the total row has lost it."""
    form = printed_form(funds=printed_form().model_dump()["funds"][:1])
    findings = check_form(form, page_source)
    assert found(findings) == {("fund_row_missing", "warning", "funds")}
    assert findings[0].expected == "appropriation"


def test_a_stated_unit_other_than_amount_unit_is_an_error(tmp_path: Path) -> None:
    """The page prints 项目资金（万元）: amount_unit 元 contradicts it, 万元 agrees."""
    source = draw_source(tmp_path / "wan.pdf", "万元")
    findings = check_form(printed_form(), source)
    assert found(findings) == {("amount_unit_text", "error", "amount_unit")}
    assert (findings[0].expected, findings[0].found) == ("万元", "元")
    assert check_form(printed_form(amount_unit="万元"), source) == []


def test_the_yuan_page_agrees_with_amount_unit_yuan_only(page_source: SourceText) -> None:
    assert of(check_form(printed_form(amount_unit="万元"), page_source), "amount_unit_text") == {
        ("amount_unit_text", "error", "amount_unit")
    }


# --- check_document / status_of -----------------------------------------------------------------------------------


def document(*forms: Form) -> Document:
    return Document(source=Source(file="form.pdf", sha256="0" * 64, pages=1), forms=list(forms))


def test_check_document_places_paths_under_each_form_and_says_grounding_was_skipped() -> None:
    findings = check_document(document(make_form(), make_form(total_score=98)))
    assert found(findings) == {
        ("score_sum", "error", "forms[1].total_score"),
        ("grounding_skipped", "info", None),
    }
    assert findings[-1].code == "grounding_skipped"
    assert status_of(findings) == "needs_review"


def test_check_document_of_a_clean_document_is_ok() -> None:
    findings = check_document(document(make_form(), department_form()))
    assert found(findings) == {("grounding_skipped", "info", None)}
    assert status_of(findings) == "ok"
    assert check_document(document()) == []


def test_check_document_with_sources_grounds_each_form(page_source: SourceText) -> None:
    form = with_fund(printed_form(), 0, executed=939_600)
    assert check_document(document(printed_form()), [page_source]) == []
    findings = check_document(document(printed_form(), form), [page_source, page_source])
    assert ("not_in_source", "error", "forms[1].funds[0].executed") in found(findings)
    assert all(f.path and f.path.startswith("forms[1].") for f in findings)


@pytest.mark.parametrize(
    ("severities", "status"),
    [((), "ok"), (("info",), "ok"), (("info", "warning"), "ok"), (("warning", "error"), "needs_review")],
)
def test_status_is_needs_review_iff_any_finding_is_an_error(severities: tuple[str, ...], status: str) -> None:
    findings = [Finding(code="x", severity=s, message="m") for s in severities]  # type: ignore[arg-type]
    assert status_of(findings) == status

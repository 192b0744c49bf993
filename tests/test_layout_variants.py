"""Layouts none of the fixtures has, drawn as real PDFs: the extractor reads what it knows, never guesses."""

from __future__ import annotations

from pathlib import Path

from formbuilder import draw_form

from pipeline.result import Extraction
from pipeline.run import extract_file

HEADER = ["一级指标", "二级指标", "三级指标", "年度指标值", "实际完成值", "分值", "得分", "偏差原因分析及改进措施"]


def extracted(path: Path) -> Extraction:
    result = extract_file(path)
    assert len(result.forms) == 1
    return result


def codes(result: Extraction) -> set[str]:
    return {f.code for f in result.findings}


def test_labels_and_values_in_one_cell_and_a_unit_line_outside_the_table(tmp_path: Path) -> None:
    pdf = draw_form(
        tmp_path / "inline.pdf",
        [
            [[("项目名称：乡村道路养护", 4, 1), ("实施单位：平安镇农业服务中心", 4, 1)]],
            [
                ["资金", "年初预算数", "全年预算数", "全年执行数", "执行率", "", "", ""],
                ["年度资金总额", "120.00", "118.50", "110.20", "93.00%", "", "", ""],
                ["财政拨款", "100", "100", "95.2", "95.20%", "", "", ""],
            ],
            [
                HEADER,
                [("产出指标", 1, 2), "数量指标", "养护里程", "≥35公里", "36公里", "20", "20", ""],
                ["质量指标", "路面完好率", "≥90%", "92%", "20", "20", ""],
                [("总分", 5, 1), "100", "95.5", ""],
            ],
        ],
        lines_above=("（2024年度）", "金额单位：万元"),
    )
    result = extracted(pdf)
    form = result.forms[0]
    assert form.project_name == "乡村道路养护"
    assert form.implementing_unit == "平安镇农业服务中心"
    assert form.amount_unit == "万元"
    assert result.provenance["forms[0].amount_unit"].how == "line"
    assert [(r.item, r.initial_budget, r.executed, r.execution_rate) for r in form.funds] == [
        ("total", 120.0, 110.2, 93.0),
        ("appropriation", 100.0, 95.2, 95.2),
    ]
    assert [(i.level1, i.level2, i.level3, i.target, i.weight) for i in form.indicators] == [
        ("产出指标", "数量指标", "养护里程", "≥35公里", 20.0),
        ("产出指标", "质量指标", "路面完好率", "≥90%", 20.0),
    ]
    assert (form.total_weight, form.total_score) == (100.0, 95.5)
    assert "department" in {f.path.split(".")[-1] for f in result.findings if f.code == "field_not_found"}


def test_an_unknown_column_between_known_ones_never_leaks_into_a_field(tmp_path: Path) -> None:
    header = ["一级指标", "二级指标", "三级指标", "评分标准", "年度指标值", "完成值", "分值", "得分"]
    pdf = draw_form(
        tmp_path / "extra.pdf",
        [
            [["项目名称", ("河道保洁", 3, 1)], ["主管部门", ("某县水利局", 3, 1)]],
            [header, ["产出指标", "数量指标", "保洁河道长度", "完成得满分", "≥20公里", "21公里", "30", "30"]],
        ],
    )
    result = extracted(pdf)
    row = result.forms[0].indicators[0]
    assert (row.level3, row.target, row.actual, row.weight, row.score) == ("保洁河道长度", "≥20公里", "21公里", 30, 30)
    assert "完成得满分" not in result.model_dump_json()
    assert "unrecognised_column" in codes(result)
    assert "amount_unit_not_printed" in codes(result)  # no unit anywhere: 元 assumed, and said so


def test_a_target_split_over_a_two_row_header_is_joined(tmp_path: Path) -> None:
    pdf = draw_form(
        tmp_path / "split.pdf",
        [
            [["项目名称", ("农机补贴", 5, 1)], ["主管部门", ("某县农业农村局", 5, 1)]],
            [
                [("一级指标", 1, 2), ("二级指标", 1, 2), ("三级指标", 1, 2), ("年度指标值", 3, 1), ("得分", 1, 2)],
                ["指标性质", "指标值", "度量单位"],
                ["产出指标", "数量指标", "补贴台数", "≥", "500", "台", "18"],
            ],
        ],
    )
    row = extracted(pdf).forms[0].indicators[0]
    assert (row.level3, row.target, row.score) == ("补贴台数", "≥500台", 18)


def test_fund_labels_over_two_cells_and_department_rows(tmp_path: Path) -> None:
    pdf = draw_form(
        tmp_path / "dept.pdf",
        [
            [["部门（单位）名称", ("某县文化广电旅游局", 3, 1), "下属单位个数", "2"]],
            [
                [("整体支出规模（万元）", 2, 1), "全年预算数", "全年执行数", "执行率", ""],
                [("资金来源", 1, 2), "财政拨款", "800", "780", "97.5%", ""],
                ["其他资金", "50", "40", "80%", ""],
                [("资金结构", 1, 2), "基本支出", "600", "590", "98.33%", ""],
                ["项目支出", "250", "230", "92%", ""],
            ],
        ],
        title="部门（单位）整体支出绩效自评表",
    )
    form = extracted(pdf).forms[0]
    assert form.form_type == "department" and form.department == "某县文化广电旅游局"
    assert form.subordinate_units == 2 and form.amount_unit == "万元"
    assert [(r.item, r.label, r.adjusted_budget) for r in form.funds] == [
        ("appropriation", "资金来源财政拨款", 800),
        ("other", "资金来源其他资金", 50),
        ("basic", "资金结构基本支出", 600),
        ("project", "资金结构项目支出", 250),
    ]

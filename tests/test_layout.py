"""The layout extractor against the hand labels: field-level F1, provenance, confidence, findings."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
from conftest import FIXTURE_IDS, FORMS, ROOT, reading_of

from pipeline.labels import fund_item, match_columns, match_label, unit_in
from pipeline.result import Extraction
from pipeline.run import extract_file, extract_reading
from pipeline.schema import Document, parse_number, squash_text
from pipeline.scoring import DocumentScore, format_table, score_document, sum_scores

UNSEEN = ROOT / "fixtures" / "unseen"
UNSEEN_IDS = sorted(p.name for p in UNSEEN.iterdir() if (p / "label.json").exists())


def label_document(folder: Path) -> Document:
    return Document.model_validate_json((folder / "label.json").read_text(encoding="utf-8"))


@cache
def extraction(fixture_id: str, variant: str) -> Extraction:
    return extract_reading(reading_of(fixture_id, variant))


def scored(variant: str) -> DocumentScore:
    return sum_scores(
        score_document(extraction(f, variant), label_document(FORMS / f), name=f"{f}/{variant}") for f in FIXTURE_IDS
    )


def test_native_pdfs_reach_field_f1_099() -> None:
    score = scored("native")
    print(format_table(score))
    assert score.f1 >= 0.99, [m.model_dump() for m in score.mismatches[:20]]
    for name, counts in score.fields.items():
        assert counts.f1 >= 0.95, (name, counts)


@pytest.mark.slow
def test_scans_reach_field_f1_097() -> None:
    score = scored("scan")
    print(format_table(score))
    assert score.f1 >= 0.97, [m.model_dump() for m in score.mismatches[:20]]


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
def test_every_value_has_provenance_that_prints_it(fixture_id: str) -> None:
    result = extraction(fixture_id, "native")
    data = result.contract()
    checked = 0
    for path, source in result.provenance.items():
        if path.endswith((".item", ".form_type", ".year", ".amount_unit", ".target")) or ".level1_weights." in path:
            continue
        value = _value_at(data, path)
        raw = "".join(source.text.split())
        if isinstance(value, str):
            assert squash_text(value) == raw, path
        elif isinstance(value, float | int):
            assert parse_number(raw) == value, path
        checked += 1
        assert 1 <= source.page <= result.source.pages
    assert checked > 20
    for index, form in enumerate(result.forms):
        for i, row in enumerate(form.indicators):
            for name in ("level1", "level3", "weight"):
                if getattr(row, name) is not None:
                    assert f"forms[{index}].indicators[{i}].{name}" in result.provenance


def _value_at(data: object, path: str) -> object:
    for part in path.replace("]", "").replace("[", ".").split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]  # type: ignore[index]
    return data


def test_a_clean_text_layer_with_exact_labels_reads_with_full_confidence() -> None:
    result = extraction("inv-zhejiang-2024-split", "native")
    assert result.extractor == "layout"
    assert result.provenance and all(s.confidence == 1.0 for s in result.provenance.values())
    assert result.low_confidence() == []


def test_inferred_values_are_less_sure_and_say_why() -> None:
    result = extraction("sh-minhang-wujing-2024-project", "native")
    name = result.provenance["forms[0].project_name"]
    assert name.how == "inferred" and name.confidence <= 0.5
    assert result.low_confidence()[0][0] == "forms[0].project_name"
    assert any(f.code == "unlabelled_value" and f.path == "forms[0].project_name" for f in result.findings)
    truncated = result.provenance["forms[1].funds[0].adjusted_budget"]  # header printed as 全年
    assert truncated.confidence < 1.0


def test_merged_cells_give_their_value_to_every_row_they_span() -> None:
    form = extraction("sh-minhang-pujin-2023-department", "native").forms[0]
    shared = "根据沪财预【2022】13号文的规定要求设置三级指标和指标值"
    assert [row.level3 for row in form.indicators[:7]] == [shared] * 7
    assert all(row.target is None and row.actual is None for row in form.indicators[:7])  # merged over them
    assert form.level1_weights == {
        "投入管理指标": 30,
        "产出指标": 25,
        "社会效益指标": 35,
        "可持续影响指标": 5,
        "满意度指标": 10,
    }


def test_unit_is_read_from_the_form() -> None:
    assert {f.amount_unit for f in extraction("sh-chongming-2023-project", "native").forms} == {"元"}
    assert {f.amount_unit for f in extraction("sh-minhang-wujing-2024-project", "native").forms} == {"万元"}


@pytest.mark.parametrize("fixture_id", UNSEEN_IDS)
def test_an_unseen_layout_degrades_to_nulls_with_findings_never_wrong_values(fixture_id: str) -> None:
    result = extract_file(UNSEEN / fixture_id / "native.pdf")
    score = score_document(result, label_document(UNSEEN / fixture_id), name=fixture_id)
    print(format_table(score))
    wrong = [m for m in score.mismatches if m.kind != "missing"]
    assert wrong == [], [m.model_dump() for m in wrong]  # what it read is right
    assert score.overall.recall >= 0.8  # and it read most of it
    for miss in score.mismatches:  # every field left out is explained by a finding on that field
        field = miss.field.split(".")[-1]
        assert any((f.path or "").endswith(field) for f in result.findings), miss


@pytest.mark.parametrize(
    ("printed", "field"),
    [
        ("年初预算数", "initial_budget"),
        ("年初预算", "initial_budget"),
        ("全年预算数", "adjusted_budget"),
        ("调整后预算数", "adjusted_budget"),
        ("全年执行数", "executed"),
        ("预算执行数", "executed"),
        ("分值", "weight"),
        ("权重", "weight"),
        ("执行率", "execution_rate"),
        ("年初预\n算数（万元）", "initial_budget"),  # wrapped, with its unit
        ("全 年 执 行 数", "executed"),  # spaced out
        ("年初预算敬", "initial_budget"),  # one OCR slip
    ],
)
def test_money_headers_map_through_the_synonym_table(printed: str, field: str) -> None:
    match = match_label("fund_columns", printed)
    assert match is not None and match.field == field


@pytest.mark.parametrize(
    ("printed", "field"),
    [
        ("年度指标值", "target"),
        ("指标值", "target"),
        ("指标性质", "target_nature"),
        ("度量单位", "target_unit"),
        ("实际完成值", "actual"),
        ("全年完成值", "actual"),
        ("完成值", "actual"),
        ("偏差原因分析及改进措施", "deviation"),
        ("偏差及原因分析", "deviation"),
        ("未完成原因分析", "deviation"),
        ("三级\n指标", "level3"),
    ],
)
def test_indicator_headers_map_through_the_synonym_table(printed: str, field: str) -> None:
    match = match_label("indicator_columns", printed)
    assert match is not None and match.field == field


def test_a_truncated_header_takes_the_one_field_left_and_an_unknown_one_none() -> None:
    matches = match_columns("fund_columns", ["", "年初预算数", "全年", "全年执行数", "备注"])
    assert [m.field if m else None for m in matches] == [None, "initial_budget", "adjusted_budget", "executed", None]
    assert matches[2] is not None and matches[2].score < 1.0
    # Ambiguous: 预算数 could be the initial or the adjusted budget, so it is not guessed.
    assert match_columns("fund_columns", ["预算数", "执行数"])[0] is None


@pytest.mark.parametrize(
    ("label", "item"),
    [
        ("年度资金总额", "total"),
        ("其中：当年财政拨款", "appropriation"),
        ("其中:本年财政拨款", "appropriation"),
        ("其中：财政资金", "appropriation"),
        ("资金来源：（1）财政拨款", "appropriation"),
        ("上年结转资金", "carryover"),
        ("财政专户管理资金", "special_account"),
        ("单位资金", "unit_funds"),
        ("（2）其他资金", "other"),
        ("按支出性质分：基本支出", "basic"),
        ("（2）项目支出", "project"),
    ],
)
def test_fund_rows_map_to_their_item(label: str, item: str) -> None:
    match = fund_item(label)
    assert match is not None and match.field == item


@pytest.mark.parametrize(
    ("text", "unit"),
    [
        ("项目资金（元）", "元"),
        ("项目资金 (万元)", "万元"),
        ("整体支出规模（万元）", "万元"),
        ("金额单位：万元", "万元"),
        ("单位:元", "元"),
    ],
)
def test_the_amount_unit_is_read_where_forms_print_it(text: str, unit: str) -> None:
    assert unit_in(text) == unit


def test_no_unit_and_project_name_are_not_units() -> None:
    assert unit_in("项目资金") is None and unit_in("实施单位") is None


def test_extract_prints_one_json_document_per_file_and_says_which_extractor(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from pipeline.cli import app

    runner = CliRunner()
    native = FORMS / "inv-sichuan-2024-department" / "native.pdf"
    result = runner.invoke(app, ["extract", str(native)])
    assert result.exit_code == 0, result.output
    document = Extraction.model_validate_json(result.stdout)
    assert document.extractor == "layout"
    assert document.forms[0].subordinate_units == 3
    assert "extractor: layout" in result.stderr
    assert score_document(document, label_document(FORMS / "inv-sichuan-2024-department")).f1 == 1.0

    out = tmp_path / "out"
    result = runner.invoke(
        app, ["extract", str(native), str(FORMS / "sh-chongming-2023-project" / "native.pdf"), "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    written = sorted(p.name for p in out.iterdir())  # two inputs named native.pdf: neither overwritten
    assert written == ["native.json", "sh-chongming-2023-project-native.json"]
    chongming = Extraction.model_validate_json((out / written[1]).read_text(encoding="utf-8"))
    assert [f.project_name for f in chongming.forms] == ["一网统管", "巡查员专项工作经费"]

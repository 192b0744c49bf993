"""The schema parses every number format the seed forms print, and nothing else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from pipeline.schema import Document, Form, FundRow, Indicator, parse_number

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "forms"


@pytest.mark.parametrize(
    ("printed", "expected"),
    [
        ("939500.00", 939500.0),  # seed 002 total row
        ("939500", 939500.0),  # seed 002 appropriation row
        ("934785.52", 934785.52),
        ("2372389", 2372389.0),
        ("100.00%", 100.0),  # 执行率 with a percent sign
        ("100.0", 100.0),  # seed 003 执行率 without one
        ("99.97", 99.97),  # seed 004
        ("82.56(%)", 82.56),  # seed 003 完成值 style
        ("=100.00(%)", None),  # not a number: checked separately below
        ("8,278,261.03", 8278261.03),  # thousands separators
        ("0.00", 0.0),  # a printed zero is zero, not null
        ("0", 0.0),
        ("10", 10.0),
        ("10.00", 10.0),
        ("7.50", 7.5),
        (" 96 ", 96.0),
        ("８，２７８，２６１．０３", 8278261.03),  # full-width digits and comma
        ("１００％", 100.0),
        ("—", None),  # dashes and blanks are null
        ("-", None),
        ("/", None),
        ("", None),
        ("  ", None),
        (None, None),
        (5, 5.0),
    ],
)
def test_parse_number_reads_what_forms_print(printed: object, expected: float | None) -> None:
    if printed == "=100.00(%)":
        with pytest.raises(ValueError):
            parse_number(printed)
        return
    assert parse_number(printed) == expected


@pytest.mark.parametrize("garbage", ["abc", "12.3.4", "1,2x", "约100", "100万元", "≥85%", True])
def test_parse_number_refuses_garbage(garbage: object) -> None:
    with pytest.raises(ValueError, match="not a number"):
        parse_number(garbage)


def test_unparseable_number_is_a_validation_error_not_a_null() -> None:
    with pytest.raises(ValidationError, match="not a number"):
        FundRow(item="total", label="年度资金总额", executed="9395OO")


def test_fund_row_parses_printed_cells() -> None:
    row = FundRow.model_validate(
        {
            "item": "total",
            "label": "年度资金 总额",
            "initial_budget": "939500.00",
            "adjusted_budget": "934,785.52",
            "executed": "934785.52",
            "weight": "—",
            "execution_rate": "100.00%",
            "score": "10",
        }
    )
    assert row.label == "年度资金总额"
    assert (row.initial_budget, row.adjusted_budget, row.weight, row.execution_rate, row.score) == (
        939500.0,
        934785.52,
        None,
        100.0,
        10.0,
    )


def test_text_fields_lose_the_pdfs_line_breaks_but_keep_punctuation() -> None:
    ind = Indicator(level1="产出指标", level3="可恢复性", target="在设计规定时间内\n\n数的恢复 能力", actual="＞85%")
    assert ind.target == "在设计规定时间内数的恢复能力"
    assert ind.actual == "＞85%"


def test_enums_and_unknown_keys_are_refused() -> None:
    with pytest.raises(ValidationError):
        FundRow(item="grant", label="x")  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Form(form_type="project", year=2023, amount_unit="千元")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="Extra inputs"):
        Indicator.model_validate({"level1": "产出指标", "level3": "x", "level_3": "typo"})
    with pytest.raises(ValidationError):
        Form(form_type="project", year=2023, amount_unit="元", subordinate_units="2.5")  # type: ignore[arg-type]


@pytest.mark.parametrize("label", sorted(FIXTURES.glob("*/label.json")), ids=lambda p: p.parent.name)
def test_every_fixture_label_is_a_valid_document(label: Path) -> None:
    raw = json.loads(label.read_text(encoding="utf-8"))
    doc = Document.model_validate(raw)
    assert doc.forms, "a label with no forms labels nothing"
    # A label states every field: re-dumping it changes nothing.
    assert doc.model_dump(mode="json") == raw


def test_jixiao_schema_prints_the_contract() -> None:
    result = subprocess.run([sys.executable, "-m", "pipeline", "schema"], capture_output=True, text=True, check=True)
    schema = json.loads(result.stdout)
    form = schema["$defs"]["Form"]["properties"]
    assert set(form) == {
        "form_type",
        "year",
        "project_name",
        "department",
        "implementing_unit",
        "subordinate_units",
        "amount_unit",
        "funds",
        "goal_expected",
        "goal_actual",
        "indicators",
        "level1_weights",
        "total_weight",
        "total_score",
        "grade",
    }
    assert set(schema["$defs"]["FundRow"]["properties"]["item"]["enum"]) == {
        "total",
        "appropriation",
        "carryover",
        "special_account",
        "unit_funds",
        "other",
        "basic",
        "project",
    }

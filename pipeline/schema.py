"""The assessment schema: the output contract of ``jixiao extract``.

These models are the source of truth for field names, types, units and nulls;
``ASSESSMENT_SCHEMA.md`` describes the same contract in prose. Hand labels in
``fixtures/`` validate against exactly these models, so a label and an
extraction compare field by field.

Numbers are parsed from what forms print (``8,278,261.03``, ``100.00%``,
``82.56(%)``, full-width digits); a printed dash or an empty cell is null; any
other value that does not parse is a validation error, never a silent null.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

__all__ = [
    "AMOUNT_UNITS",
    "DIGIT_SLIPS",
    "FUND_ITEMS",
    "Document",
    "Form",
    "FundRow",
    "Indicator",
    "Source",
    "fold_text",
    "parse_number",
    "squash_text",
]

FundItem = Literal[
    "total",
    "appropriation",
    "carryover",
    "special_account",
    "unit_funds",
    "other",
    "basic",
    "project",
]
FUND_ITEMS: tuple[str, ...] = FundItem.__args__  # type: ignore[attr-defined]
AmountUnit = Literal["元", "万元"]
AMOUNT_UNITS: tuple[str, ...] = AmountUnit.__args__  # type: ignore[attr-defined]
FormType = Literal["project", "department"]

# A cell that prints one of these holds no value.
_NULL_MARKS = frozenset({"", "—", "–", "-", "－", "/", "／", "——", "--", "…"})
_WHITESPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
# What OCR reads in place of a digit or a decimal point: 1O0 → 100, 3。52 → 3.52.
DIGIT_SLIPS = str.maketrans({"O": "0", "o": "0", "D": "0", "l": "1", "I": "1", "|": "1", "。": ".", "，": ","})


def squash_text(value: object) -> object:
    """Remove every whitespace character: the PDF wrapped the cell, the form did not."""
    if isinstance(value, str):
        squashed = _WHITESPACE.sub("", value.replace("\u3000", ""))
        return squashed or None
    return value


def fold_text(text: str) -> str:
    """A text as compared: NFKC (full and half width alike) with every whitespace removed."""
    return "".join(unicodedata.normalize("NFKC", text).split())


def parse_number(value: object) -> float | None:
    """Parse a number as forms print it; dashes and blanks are ``None``.

    >>> parse_number("8,278,261.03"), parse_number("100.00%"), parse_number("82.56(%)")
    (8278261.03, 100.0, 82.56)

    Raises ``ValueError`` for anything else, so a misread cell is never a silent null.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value!r}")
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"not a number: {value!r}")
    text = _WHITESPACE.sub("", unicodedata.normalize("NFKC", value))
    if text in _NULL_MARKS:
        return None
    for suffix in ("(%)", "%"):
        if text.endswith(suffix):
            text = text[: -len(suffix)]
            break
    text = text.replace(",", "")
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"not a number: {value!r}")
    return float(text)


def _number_or_null(value: object) -> float | None:
    return parse_number(value)


def _int_or_null(value: object) -> int | None:
    number = parse_number(value)
    if number is None:
        return None
    if not number.is_integer():
        raise ValueError(f"not a whole number: {value!r}")
    return int(number)


Number = Annotated[float | None, BeforeValidator(_number_or_null)]
WholeNumber = Annotated[int | None, BeforeValidator(_int_or_null)]
Text = Annotated[str | None, BeforeValidator(squash_text)]
RequiredText = Annotated[str, BeforeValidator(squash_text), Field(min_length=1)]


class _Contract(BaseModel):
    """Contract models reject unknown keys, so a typo in a label is an error."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FundRow(_Contract):
    """One row of the money table (项目资金 / 整体支出规模)."""

    item: FundItem = Field(description="Which fund row: 年度资金总额 → total, 当年财政拨款 → appropriation, …")
    label: RequiredText = Field(description="The row's label as printed, whitespace removed")
    initial_budget: Number = Field(default=None, description="年初预算数 / 年初预算")
    adjusted_budget: Number = Field(default=None, description="全年预算数 / 调整后预算数")
    executed: Number = Field(default=None, description="全年执行数 / 预算执行数")
    weight: Number = Field(default=None, description="分值 / 权重; a dash is null")
    execution_rate: Number = Field(default=None, description="执行率 in percent: 100.00% → 100.0")
    score: Number = Field(default=None, description="得分")


class Indicator(_Contract):
    """One row of the indicator table (绩效指标)."""

    level1: RequiredText = Field(description="一级指标; a merged cell gives its value to every row it spans")
    level2: Text = Field(default=None, description="二级指标")
    level3: RequiredText = Field(description="三级指标, the indicator itself; 无 stays 无")
    target: Text = Field(default=None, description="年度指标值 as printed, e.g. ≥85%; 指标性质+指标值+度量单位 joined")
    actual: Text = Field(default=None, description="实际完成值 / 全年完成值 / 完成值 as printed")
    weight: Number = Field(default=None, description="分值 / 权重")
    score: Number = Field(default=None, description="得分")
    deviation: Text = Field(default=None, description="偏差原因分析及改进措施 / 偏差及原因分析 / 未完成原因分析")


class Form(_Contract):
    """One assessment form: a project (项目支出) or department (部门整体支出) self-assessment."""

    form_type: FormType = Field(description="project: 项目支出绩效自评表; department: 部门（单位）整体支出绩效自评表")
    year: int = Field(ge=1990, le=2100, description="The assessed year, (2023 年度) → 2023")
    project_name: Text = Field(default=None, description="项目名称; null on department forms")
    department: Text = Field(default=None, description="主管部门; on department forms 部门（单位）名称")
    implementing_unit: Text = Field(default=None, description="实施单位")
    subordinate_units: WholeNumber = Field(default=None, description="下属单位个数 (department forms)")
    amount_unit: AmountUnit = Field(description="The unit of every amount in funds, as the form states it")
    funds: list[FundRow] = Field(default_factory=list, description="The money table, top to bottom")
    goal_expected: Text = Field(default=None, description="预期目标 / 年初设定目标 / 项目年度目标")
    goal_actual: Text = Field(default=None, description="实际完成情况 / 全年完成情况 / 年度目标完成情况")
    indicators: list[Indicator] = Field(default_factory=list, description="The indicator table, top to bottom")
    level1_weights: dict[str, float] | None = Field(
        default=None, description="Weights printed beside a 一级指标 itself (department forms)"
    )
    total_weight: Number = Field(default=None, description="The 总分 / 合计 row's 分值")
    total_score: Number = Field(default=None, description="The 总分 / 合计 row's 得分")
    grade: Text = Field(default=None, description="评分等级 (优, 良, 中, 差) where printed")


class Source(_Contract):
    """The input file a Document was read from."""

    file: str = Field(description="The file's name")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the file's bytes")
    pages: int = Field(ge=0, description="Number of pages")


class Document(BaseModel):
    """What one input file holds: its forms, in reading order.

    The pipeline's own keys (findings, provenance, extractor, timings) live on
    subclasses beside these; labels carry only ``source`` and ``forms``.
    """

    model_config = ConfigDict(extra="forbid")

    source: Source
    forms: list[Form] = Field(default_factory=list)

    def contract(self) -> dict[str, Any]:
        """The document as the schema defines it, without the pipeline's own keys."""
        return Document.model_validate(self.model_dump(include={"source", "forms"})).model_dump(mode="json")

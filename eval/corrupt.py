"""Deliberately corrupted labels: does ``pipeline.checks`` catch them?

Each case copies one fixture's hand label (in memory; no file is written),
makes one error of the kind an extractor makes (an OCR slip, an LLM
hallucination), runs the checks against the fixture's own page text, and asks
whether the checks now say something they did not say about the clean label.

Kinds of corruption, each with its ways (``how``):

- ``number``: one non-null number changed (fund amounts, rates, weights, scores,
  totals, ``level1_weights`` values, year, subordinate_units). The digits are the
  number as the page prints it (175.8 printed ``175.80`` is perturbed as
  ``175.80``): ``digit`` one digit replaced by another, ``transpose`` two adjacent
  different digits swapped, ``shift`` the decimal point moved (×10 or ÷10),
  ``last_digit`` ± one unit of the last printed place, ``swap`` the value of
  another number of the same form copied in (a misplaced cell).
- ``drop_row``: one fund row (``fund_row``) or indicator row (``indicator_row``)
  removed, the two chosen equally often.
- ``invent``: a made-up value. ``fill_guess``: a null fund amount, rate,
  weight or score filled with the value the rest of the form suggests (the
  neighbouring amount, the recomputed rate, the total row's weight or score
  copied into a sub-row, as if a merged cell were read into every row).
  ``fill_number``: the same nulls filled with a fresh number of the right size
  (an amount below the row's budget, a rate of 85–100, a usual weight, a score
  a little under its weight). ``fill_text``: a null deviation, target, actual
  or grade filled (an invented sentence, target or actual; the grade the total
  score implies).
  ``replace_text``: a project name, goal text, level3, target or actual
  replaced by an invented text. ``insert_row``: an invented indicator row
  (name, target, actual, the form's usual weight, full score) inserted among
  the real ones, under its neighbour's 一级/二级指标. An invented text is
  taken from a small pool of plausible ones and is never a text the label holds
  anywhere on that form, so it is not a copy of something printed there; it may
  still share words with the page (目标, 满意度, 下一步将…), as a real invention
  would.

Each case first picks its ``how`` at random, then its target uniformly among
all the fixtures' candidates (every number, every row, every null of that
sort), so a fixture with ten forms is corrupted more often than one with one. A
number the schema would reject (year 20240, 2.5 subordinate units) and a change
that leaves the value as it was are redrawn: the first is caught before any
check runs, the second is no corruption.

Caught: the checks on the corrupted document report at least one warning or
error whose (code, path) the clean label's checks did not report (the baseline;
info findings never count). The baseline holds genuine inconsistencies of the
forms, so a corruption that only alters a finding already reported at that
path (another expected value for the same ``score_sum``) or removes one counts
as missed: a reviewer is told nothing new. When a row is dropped or inserted,
the baseline's paths into that table are shifted first (``indicators[5]`` is
``indicators[4]`` after dropping row 2; findings about the dropped row itself
are forgotten), so a finding that merely moved with its row is not new.
Caught by an error: at least one new finding is an error, so the document
needs review for a new reason. By family: ``grounding`` when a new finding is
``not_in_source`` or ``text_not_verbatim``, ``arithmetic`` when any other code
is new (sums, rates, scores, grades, plausibility); a case can be both.

    .venv/bin/python eval/corrupt.py [--cases 400] [--seed 0] [--json] [--show-missed]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from pipeline.checks import SourceText, check_document
from pipeline.checks._base import dec, fmt
from pipeline.checks.scores import grade_of
from pipeline.result import Finding, field_path
from pipeline.run import sources_for
from pipeline.schema import Document, squash_text

ROOT = Path(__file__).resolve().parents[1]
FORMS = ROOT / "fixtures" / "forms"

KINDS = ("number", "drop_row", "invent")
PERTURBATIONS = ("digit", "transpose", "shift", "last_digit", "swap")
DROPS = ("fund_row", "indicator_row")
INVENTIONS = ("fill_guess", "fill_number", "fill_text", "replace_text", "insert_row")
GROUNDING = frozenset({"not_in_source", "text_not_verbatim"})
# Default split of --cases over the kinds: 2 numbers for each drop and each invention.
SHARES = {"number": 2, "drop_row": 1, "invent": 1}
_ATTEMPTS = 200

FUND_NUMBERS = ("initial_budget", "adjusted_budget", "executed", "weight", "execution_rate", "score")
INDICATOR_NUMBERS = ("weight", "score")

# Invented texts: what an extractor plausibly makes up for a cell it could not read.
LEVEL3 = (
    "资金拨付及时率",
    "项目验收合格率",
    "设施设备完好率",
    "政策知晓率",
    "服务对象满意度",
    "培训覆盖人次",
    "信息公开及时率",
    "安全事故发生次数",
    "问题整改完成率",
    "档案资料完整率",
    "群众投诉办结率",
    "宣传活动开展次数",
    "工程质量达标率",
    "长效管理机制健全性",
    "绿化养护面积",
    "监督检查覆盖率",
    "应急响应时间",
    "数据上报准确率",
)
TARGETS = (
    "≥95%",
    "≥98%",
    "=100%",
    "≤5%",
    "≥90%",
    "≥12次",
    "≥500人次",
    "≤30分钟",
    "按时完成",
    "有效提升",
    "≥3个",
    "≥85%",
)
ACTUALS = ("96%", "98.5%", "100%", "99.2%", "12次", "520人次", "25分钟", "已完成", "有效提升", "达到预期", "3个", "87%")
# Targets with an actual that meets them, for an invented row that is consistent in itself.
MET_PAIRS = (
    ("≥95%", "98%"),
    ("≥90%", "96.5%"),
    ("=100%", "100%"),
    ("≤5%", "3%"),
    ("≥12次", "12次"),
    ("≥500人次", "526人次"),
    ("≤30分钟", "25分钟"),
    ("按时完成", "已完成"),
)
PROJECT_NAMES = (
    "城乡环境综合整治专项经费",
    "社区公共服务能力提升项目",
    "农村人居环境改善补助资金",
    "基层治理数字化建设经费",
    "老旧小区综合改造项目",
    "防汛防台应急物资储备经费",
    "公共文化服务体系建设项目",
    "河道长效保洁管理经费",
)
GOAL_PARTS = (
    ("全年完成{n}个社区服务设施改造", "计划开展{n}场专项培训", "累计巡查{n}次", "新建绿地{n}平方米"),
    ("群众满意度达到{p}%以上", "资金执行率不低于{p}%", "设施完好率保持在{p}%", "问题整改率达到{p}%"),
    (
        "确保项目按期完工并通过验收。",
        "进一步提升基层治理水平。",
        "有效改善辖区人居环境。",
        "保障各项工作平稳有序推进。",
    ),
)
DEVIATION_PARTS = (
    ("资金到位较晚", "汛期持续降雨", "人员调整", "项目招标延期", "原材料价格上涨"),
    ("部分工作进度滞后", "实际完成值略低于目标", "个别指标未达预期", "项目实施周期延长"),
    (
        "加强统筹调度，确保按期完成",
        "完善考核机制，压实工作责任",
        "提前谋划，加快预算执行进度",
        "加强跟踪问效，及时整改到位",
    ),
)

Key = tuple[str | int, ...]


@dataclass(frozen=True, eq=False)
class Fixture:
    """One labelled fixture: its label, the text of each form's pages, and what the checks say of the label."""

    name: str
    document: Document
    sources: tuple[SourceText, ...]
    baseline: frozenset[tuple[str, str | None]]


@dataclass(frozen=True, eq=False)
class Corruption:
    """One corrupted copy of a label and what was done to it."""

    kind: str
    how: str
    field: str  # the schema field, named as scoring names it: funds.executed, form.year, indicators
    path: str
    before: Any
    after: Any
    document: Document
    # (table path, row index, +1 inserted / -1 dropped): how the baseline's row paths move.
    shift: tuple[str, int, int] | None = None

    def describe(self) -> str:
        return f"{self.kind}/{self.how} {self.path}: {_show(self.before)} → {_show(self.after)}"


@dataclass(frozen=True, eq=False)
class Outcome:
    """A corruption and the findings the checks report about it that the clean label did not get."""

    fixture: str
    corruption: Corruption
    new: tuple[Finding, ...]

    @property
    def caught(self) -> bool:
        return bool(self.new)

    @property
    def by_error(self) -> bool:
        return any(f.severity == "error" for f in self.new)

    @property
    def arithmetic(self) -> bool:
        return any(f.code not in GROUNDING for f in self.new)

    @property
    def grounding(self) -> bool:
        return any(f.code in GROUNDING for f in self.new)


def _show(value: Any) -> str:
    if isinstance(value, float | int) and not isinstance(value, bool):
        return fmt(value)
    if isinstance(value, str) and len(value) > 40:
        return repr(value[:38] + "…")
    return repr(value)


def _reportable(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity in ("warning", "error")]


def load_fixture(folder: Path) -> Fixture:
    """Read the fixture's native PDF once: its label, one page text per form, the label's own findings."""
    document = Document.model_validate_json((folder / "label.json").read_text(encoding="utf-8"))
    found, _ = sources_for(document, folder / "label.json", folder / "native.pdf")
    sources = tuple(found or ())
    baseline = frozenset((f.code, f.path) for f in _reportable(check_document(document, sources)))
    return Fixture(folder.name, document, sources, baseline)


def load_fixtures(root: Path = FORMS) -> list[Fixture]:
    return [load_fixture(folder) for folder in sorted(root.iterdir()) if (folder / "label.json").exists()]


# --- paths into a dumped document -------------------------------------------------------------


def field_of(keys: Key) -> str:
    """The schema field a path counts under: funds.executed, indicators.score, form.level1_weights."""
    if len(keys) >= 5 and keys[2] in ("funds", "indicators"):
        return f"{keys[2]}.{keys[4]}"
    return f"form.{keys[2]}"


def _get(data: Any, keys: Key) -> Any:
    for key in keys:
        data = data[key]
    return data


def _set(data: Any, keys: Key, value: Any) -> None:
    _get(data, keys[:-1])[keys[-1]] = value


def _valid(data: dict[str, Any]) -> Document | None:
    """The corrupted dump as a Document; None when the schema itself rejects it."""
    try:
        return Document.model_validate(data)
    except ValidationError:
        return None


def _texts(form: dict[str, Any]) -> set[str]:
    """Every text the label holds for one form, squashed: what the page is known to print."""
    values = [*form.values(), *(v for row in form["funds"] for v in row.values())]
    values += [v for row in form["indicators"] for v in row.values()]
    values += list(form["level1_weights"] or {})
    return {str(squash_text(v)) for v in values if isinstance(v, str)}


def _unused(pool: Iterable[str], form: dict[str, Any], rng: random.Random) -> str | None:
    """A text from ``pool`` the label holds nowhere on ``form``."""
    known = _texts(form)
    fresh = [text for text in pool if squash_text(text) not in known]
    return rng.choice(fresh) if fresh else None


# --- number --------------------------------------------------------------------------------


def number_slots(document: Document) -> list[Key]:
    """Every non-null number of every form, as keys into ``document.model_dump()``."""
    slots: list[Key] = []
    for f, form in enumerate(document.forms):
        for name in ("year", "subordinate_units", "total_weight", "total_score"):
            if getattr(form, name) is not None:
                slots.append(("forms", f, name))
        for i, fund in enumerate(form.funds):
            slots += [("forms", f, "funds", i, n) for n in FUND_NUMBERS if getattr(fund, n) is not None]
        for i, row in enumerate(form.indicators):
            slots += [("forms", f, "indicators", i, n) for n in INDICATOR_NUMBERS if getattr(row, n) is not None]
        slots += [("forms", f, "level1_weights", key) for key in form.level1_weights or {}]
    return slots


def printed(value: float, source: SourceText) -> str:
    """The number as the page prints it, with its trailing zeros (148.8 → ``148.80``); plain digits if not found."""
    shown = [n for n in source.numbers if n == dec(value)]
    if not shown:
        return fmt(value)
    return str(min(shown, key=lambda n: int(n.as_tuple().exponent)))


def _digit(text: str, rng: random.Random) -> str | None:
    positions = [i for i, c in enumerate(text) if c.isdigit()]
    i = rng.choice(positions)
    digit = rng.choice([d for d in "0123456789" if d != text[i]])
    return text[:i] + digit + text[i + 1 :]


def _transpose(text: str, rng: random.Random) -> str | None:
    pairs = [i for i in range(len(text) - 1) if text[i].isdigit() and text[i + 1].isdigit() and text[i] != text[i + 1]]
    if not pairs:
        return None
    i = rng.choice(pairs)
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


def _shift(text: str, rng: random.Random) -> str | None:
    value = Decimal(text)
    return f"{value * 10 if rng.random() < 0.5 else value / 10:f}"


def _last_digit(text: str, rng: random.Random) -> str | None:
    value = Decimal(text)
    unit = Decimal(1).scaleb(int(value.as_tuple().exponent))
    changed = value + unit if rng.random() < 0.5 or value < unit else value - unit
    return f"{changed:f}"


PERTURB: dict[str, Callable[[str, random.Random], str | None]] = {
    "digit": _digit,
    "transpose": _transpose,
    "shift": _shift,
    "last_digit": _last_digit,
}


def corrupt_number(fixtures: Sequence[Fixture], rng: random.Random) -> tuple[Fixture, Corruption] | None:
    """One number of one form changed by a random perturbation; None when the draw changes nothing."""
    how = rng.choice(PERTURBATIONS)
    fixture, keys = rng.choice([(fx, keys) for fx in fixtures for keys in number_slots(fx.document)])
    data = fixture.document.model_dump()
    before = _get(data, keys)
    form = int(keys[1])
    if how == "swap":
        others = {_get(data, k) for k in number_slots(fixture.document) if k[1] == form and k != keys}
        candidates = sorted(v for v in others if dec(v) != dec(before))
        if not candidates:
            return None
        after: float | int = rng.choice(candidates)
    else:
        text = PERTURB[how](printed(before, fixture.sources[form]), rng)
        if text is None:
            return None
        after = float(text)
    if dec(after) == dec(before):
        return None
    if isinstance(before, int):
        if not float(after).is_integer():
            return None
        after = int(after)
    _set(data, keys, after)
    document = _valid(data)
    if document is None:
        return None
    return fixture, Corruption("number", how, field_of(keys), field_path(keys), before, after, document)


# --- drop_row ------------------------------------------------------------------------------


def drop_row(fixtures: Sequence[Fixture], rng: random.Random) -> tuple[Fixture, Corruption] | None:
    """One fund or indicator row removed."""
    how = rng.choice(DROPS)
    table = "funds" if how == "fund_row" else "indicators"
    rows = [
        (fx, f, i)
        for fx in fixtures
        for f, form in enumerate(fx.document.forms)
        for i in range(len(getattr(form, table)))
    ]
    fixture, f, i = rng.choice(rows)
    data = fixture.document.model_dump()
    row = data["forms"][f][table].pop(i)
    document = _valid(data)
    if document is None:
        return None
    name = row["label"] if table == "funds" else row["level3"]
    shift = (field_path(("forms", f, table)), i, -1)
    return fixture, Corruption("drop_row", how, table, field_path(("forms", f, table, i)), name, None, document, shift)


# --- invent --------------------------------------------------------------------------------


def _total_row(form: dict[str, Any]) -> dict[str, Any] | None:
    return next((row for row in form["funds"] if row["item"] == "total"), None)


def _usual_weight(form: dict[str, Any]) -> float:
    weights = [row["weight"] for row in form["indicators"] if row["weight"] is not None]
    return float(Counter(weights).most_common(1)[0][0]) if weights else 5.0


def plausible_number(form: dict[str, Any], keys: Key) -> float:
    """What an extractor guesses for a null number: a value the rest of the form makes look right (fill_guess)."""
    name = keys[-1]
    if keys[2] == "indicators":
        row = form["indicators"][keys[3]]
        return float(row["weight"]) if name == "score" and row["weight"] is not None else _usual_weight(form)
    row = form["funds"][keys[3]]
    total = _total_row(form) or row
    if name == "execution_rate":
        budget = row["adjusted_budget"] if row["adjusted_budget"] is not None else row["initial_budget"]
        if budget and row["executed"] is not None:
            return round(float(row["executed"]) / float(budget) * 100, 2)
        return 100.0
    if name in ("initial_budget", "adjusted_budget", "executed"):
        for neighbour in ("adjusted_budget", "initial_budget", "executed"):
            if row[neighbour] is not None:
                return float(row[neighbour])
        return float(total[name] or 0)
    if name == "weight":
        return float(total["weight"] or 10)
    if row["weight"] is not None and row["execution_rate"] is not None:
        return round(float(row["weight"]) * min(float(row["execution_rate"]), 100.0) / 100, 2)
    return float(total["score"] if total["score"] is not None else total["weight"] or 10)


def made_up_number(form: dict[str, Any], keys: Key, rng: random.Random) -> float:
    """A fresh number of the right size for a null (fill_number): printed on the page only by chance."""
    name = keys[-1]
    row = form[str(keys[2])][int(keys[3])]
    if name in ("initial_budget", "adjusted_budget", "executed"):
        total = _total_row(form) or row
        sizes = [v for v in (row["adjusted_budget"], row["initial_budget"], total[name]) if v]
        return round((sizes[0] if sizes else 100.0) * rng.uniform(0.3, 1.0), 2)
    if name == "execution_rate":
        return round(rng.uniform(85, 100), 2)
    if name == "weight":
        return float(rng.choice((2, 3, 5, 10, 15, 20)))
    weight = row["weight"] if row["weight"] is not None else rng.choice((5, 10))
    return round(weight * rng.uniform(0.8, 1.0), 2)


def _sentence(parts: tuple[tuple[str, ...], ...], rng: random.Random) -> str:
    first, second, third = (rng.choice(options) for options in parts)
    return f"{first}，{second}，{third}".format(n=rng.choice((3, 6, 12, 20, 150)), p=rng.choice((90, 95, 98)))


def _deviation(rng: random.Random) -> str:
    reason, what, fix = (rng.choice(options) for options in DEVIATION_PARTS)
    return f"受{reason}影响，{what}；下一步将{fix}。"


def invented_text(form: dict[str, Any], name: str, rng: random.Random) -> str | None:
    """A plausible text for field ``name`` that the label holds nowhere on ``form``."""
    if name == "grade":
        return grade_of(form["total_score"]) if form["total_score"] is not None else "优"
    pools: dict[str, Callable[[], Iterable[str]]] = {
        "project_name": lambda: PROJECT_NAMES,
        "goal_expected": lambda: [_sentence(GOAL_PARTS, rng) for _ in range(5)],
        "goal_actual": lambda: [_sentence(GOAL_PARTS, rng) for _ in range(5)],
        "level3": lambda: LEVEL3,
        "target": lambda: TARGETS,
        "actual": lambda: ACTUALS,
        "deviation": lambda: [_deviation(rng) for _ in range(5)],
    }
    return _unused(pools[name](), form, rng)


def _null_numbers(document: Document) -> list[Key]:
    slots: list[Key] = []
    for f, form in enumerate(document.forms):
        for i, fund in enumerate(form.funds):
            slots += [("forms", f, "funds", i, n) for n in FUND_NUMBERS if getattr(fund, n) is None]
        for i, row in enumerate(form.indicators):
            slots += [("forms", f, "indicators", i, n) for n in INDICATOR_NUMBERS if getattr(row, n) is None]
    return slots


def _null_texts(document: Document) -> list[Key]:
    slots: list[Key] = []
    for f, form in enumerate(document.forms):
        if form.grade is None:
            slots.append(("forms", f, "grade"))
        for i, row in enumerate(form.indicators):
            nulls = [name for name in ("target", "actual", "deviation") if getattr(row, name) is None]
            slots += [("forms", f, "indicators", i, name) for name in nulls]
    return slots


def _texts_to_replace(document: Document) -> list[Key]:
    slots: list[Key] = []
    for f, form in enumerate(document.forms):
        slots += [("forms", f, n) for n in ("project_name", "goal_expected", "goal_actual") if getattr(form, n)]
        for i, row in enumerate(form.indicators):
            slots += [("forms", f, "indicators", i, n) for n in ("level3", "target", "actual") if getattr(row, n)]
    return slots


def _invented_row(form: dict[str, Any], at: int, rng: random.Random) -> dict[str, Any] | None:
    rows = form["indicators"]
    if not rows:
        return None
    level3 = _unused(LEVEL3, form, rng)
    if level3 is None:
        return None
    known = _texts(form)
    target, actual = rng.choice([pair for pair in MET_PAIRS if squash_text(pair[0]) not in known] or MET_PAIRS)
    neighbour = rows[min(at, len(rows) - 1)]
    weight = _usual_weight(form)
    return {
        "level1": neighbour["level1"],
        "level2": neighbour["level2"],
        "level3": level3,
        "target": target,
        "actual": actual,
        "weight": weight,
        "score": weight,
        "deviation": None,
    }


def invent(fixtures: Sequence[Fixture], rng: random.Random) -> tuple[Fixture, Corruption] | None:
    """One made-up value: a null filled, a text replaced, or a whole indicator row inserted."""
    how = rng.choice(INVENTIONS)
    if how == "insert_row":
        fixture, f = rng.choice([(fx, f) for fx in fixtures for f in range(len(fx.document.forms))])
        data = fixture.document.model_dump()
        form = data["forms"][f]
        at = rng.randint(0, len(form["indicators"]))
        row = _invented_row(form, at, rng)
        if row is None:
            return None
        form["indicators"].insert(at, row)
        document = _valid(data)
        if document is None:
            return None
        table = field_path(("forms", f, "indicators"))
        shift = (table, at, 1)
        return fixture, Corruption("invent", how, "indicators", f"{table}[{at}]", None, row["level3"], document, shift)
    slots_of = {
        "fill_guess": _null_numbers,
        "fill_number": _null_numbers,
        "fill_text": _null_texts,
        "replace_text": _texts_to_replace,
    }[how]
    candidates = [(fx, keys) for fx in fixtures for keys in slots_of(fx.document)]
    if not candidates:
        return None
    fixture, keys = rng.choice(candidates)
    data = fixture.document.model_dump()
    form = data["forms"][keys[1]]
    after: float | str | None
    if how == "fill_guess":
        after = plausible_number(form, keys)
    elif how == "fill_number":
        after = made_up_number(form, keys, rng)
    else:
        after = invented_text(form, str(keys[-1]), rng)
    before = _get(data, keys)
    if after is None or after == before:
        return None
    _set(data, keys, after)
    document = _valid(data)
    if document is None:
        return None
    return fixture, Corruption("invent", how, field_of(keys), field_path(keys), before, after, document)


GENERATORS: dict[str, Callable[[Sequence[Fixture], random.Random], tuple[Fixture, Corruption] | None]] = {
    "number": corrupt_number,
    "drop_row": drop_row,
    "invent": invent,
}


def corrupt(kind: str, fixtures: Sequence[Fixture], rng: random.Random) -> tuple[Fixture, Corruption]:
    """One corruption of ``kind``, redrawn until it is a real change the schema accepts."""
    for _ in range(_ATTEMPTS):
        made = GENERATORS[kind](fixtures, rng)
        if made is not None:
            return made
    raise RuntimeError(f"no {kind} corruption could be made in {_ATTEMPTS} draws")


# --- judging -------------------------------------------------------------------------------

_INDEX = re.compile(r"^(?P<table>.+?)\[(?P<index>\d+)\](?P<rest>.*)$")


def shifted(path: str | None, shift: tuple[str, int, int] | None) -> str | None:
    """Where a baseline path lies after a row was dropped (-1) or inserted (+1); None for the dropped row."""
    if path is None or shift is None:
        return path
    table, at, delta = shift
    if not path.startswith(table + "["):
        return path
    index_text, _, rest = path[len(table) + 1 :].partition("]")
    index = int(index_text)
    if delta < 0 and index == at:
        return None
    if index > at or (delta > 0 and index == at):
        index += delta
    return f"{table}[{index}]{rest}"


def judge(fixture: Fixture, corruption: Corruption) -> Outcome:
    """The warnings and errors the checks report about the corrupted copy that the clean label did not get."""
    known = {(code, shifted(path, corruption.shift)) for code, path in fixture.baseline}
    findings = _reportable(check_document(corruption.document, fixture.sources))
    seen: set[tuple[str, str | None]] = set()
    new: list[Finding] = []
    for f in findings:
        key = (f.code, f.path)
        if key not in known and key not in seen:
            seen.add(key)
            new.append(f)
    return Outcome(fixture.name, corruption, tuple(new))


def split_cases(cases: int) -> dict[str, int]:
    """``cases`` over the kinds in the proportions of SHARES (400 → 200 numbers, 100 drops, 100 inventions)."""
    whole = sum(SHARES.values())
    counts = {kind: cases * share // whole for kind, share in SHARES.items()}
    counts["number"] += cases - sum(counts.values())
    return counts


def run(fixtures: Sequence[Fixture], counts: dict[str, int], seed: int = 0) -> list[Outcome]:
    """Make and judge ``counts[kind]`` corruptions of each kind, reproducibly from ``seed``."""
    rng = random.Random(seed)
    outcomes: list[Outcome] = []
    for kind in KINDS:
        for _ in range(counts.get(kind, 0)):
            fixture, corruption = corrupt(kind, fixtures, rng)
            outcomes.append(judge(fixture, corruption))
    return outcomes


# --- reporting -----------------------------------------------------------------------------


def rates(outcomes: Sequence[Outcome]) -> dict[str, float | int]:
    n = len(outcomes)

    def share(hits: Iterable[bool]) -> float:
        return sum(hits) / n if n else 0.0

    return {
        "cases": n,
        "caught": share(o.caught for o in outcomes),
        "by_error": share(o.by_error for o in outcomes),
        "arithmetic": share(o.arithmetic for o in outcomes),
        "grounding": share(o.grounding for o in outcomes),
    }


def grouped(outcomes: Sequence[Outcome], key: Callable[[Outcome], str]) -> dict[str, dict[str, float | int]]:
    groups: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        groups.setdefault(key(outcome), []).append(outcome)
    return {name: rates(group) for name, group in groups.items()}


def summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Rates per kind, per kind/how, per number field, and the missed cases."""
    return {
        "kinds": grouped(outcomes, lambda o: o.corruption.kind),
        "hows": grouped(outcomes, lambda o: f"{o.corruption.kind}/{o.corruption.how}"),
        "number_fields": grouped([o for o in outcomes if o.corruption.kind == "number"], lambda o: o.corruption.field),
        "missed": [
            {
                "fixture": o.fixture,
                "kind": o.corruption.kind,
                "how": o.corruption.how,
                "path": o.corruption.path,
                "before": o.corruption.before,
                "after": o.corruption.after,
            }
            for o in outcomes
            if not o.caught
        ],
    }


def _percent(value: float | int) -> str:
    return f"{100 * value:5.1f}%"


def _table(title: str, first: str, groups: dict[str, dict[str, float | int]]) -> Table:
    table = Table(title=title)
    table.add_column(first)
    for column in ("cases", "caught", "by error", "arithmetic", "grounding"):
        table.add_column(column, justify="right")
    for name, stats in groups.items():
        numbers = [_percent(stats[k]) for k in ("caught", "by_error", "arithmetic", "grounding")]
        table.add_row(name, str(stats["cases"]), *numbers)
    return table


def show(outcomes: Sequence[Outcome], seconds: float, show_missed: bool, console: Console) -> None:
    report = summary(outcomes)
    kinds_and_hows: dict[str, dict[str, float | int]] = {}
    for kind, stats in report["kinds"].items():
        kinds_and_hows[f"[bold]{kind}[/bold]"] = stats
        kinds_and_hows.update({how: s for how, s in report["hows"].items() if how.startswith(f"{kind}/")})
    console.print(_table("Corruptions caught (new warning or error)", "kind", kinds_and_hows))
    console.print(_table("Changed numbers, by field", "field", dict(sorted(report["number_fields"].items()))))
    console.print(f"{len(outcomes)} cases in {seconds:.1f} s; {len(report['missed'])} missed")
    if show_missed:
        for outcome in outcomes:
            if not outcome.caught:
                print(f"  {outcome.fixture}  {outcome.corruption.describe()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=400, help="corruptions in all, split 2:1:1 number/drop/invent")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the rates and missed cases as JSON")
    parser.add_argument("--show-missed", action="store_true", help="list every corruption that was not caught")
    args = parser.parse_args()
    started = time.perf_counter()
    fixtures = load_fixtures()
    outcomes = run(fixtures, split_cases(args.cases), seed=args.seed)
    seconds = time.perf_counter() - started
    if args.json:
        report = {"seed": args.seed, "cases": len(outcomes), "seconds": round(seconds, 2), **summary(outcomes)}
        print(json.dumps(report, ensure_ascii=False, indent=1))
    else:
        show(outcomes, seconds, args.show_missed, Console())


if __name__ == "__main__":
    main()

"""Corrupted labels are caught by the checks: a seeded sample of eval/corrupt.py, with floors on its rates."""

from __future__ import annotations

import importlib.util
import random
import sys
from types import ModuleType
from typing import Any

import pytest
from conftest import FORMS, ROOT

from pipeline.checks import check_document
from pipeline.schema import Document


def _load_corrupt() -> ModuleType:
    """eval/ is a folder of scripts, not a package: load corrupt.py by its path."""
    spec = importlib.util.spec_from_file_location("corrupt", ROOT / "eval" / "corrupt.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["corrupt"] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


corrupt = _load_corrupt()
SAMPLE = {"number": 100, "drop_row": 40, "invent": 60}
SEED = 7


@pytest.fixture(scope="module")
def fixtures() -> list[Any]:
    return corrupt.load_fixtures()


@pytest.fixture(scope="module")
def outcomes(fixtures: list[Any]) -> list[Any]:
    return corrupt.run(fixtures, SAMPLE, seed=SEED)


def by_name(fixtures: list[Any], name: str) -> Any:
    return next(fx for fx in fixtures if fx.name == name)


def unchanged(fixture: Any) -> Any:
    """A 'corruption' that changes nothing: it must never count as caught."""
    document = fixture.document.model_copy(deep=True)
    return corrupt.Corruption("none", "none", "form", "forms[0]", None, None, document)


def test_clean_labels_are_not_caught(fixtures: list[Any]) -> None:
    assert len(fixtures) == 5
    assert any(fx.baseline for fx in fixtures), "the labels' genuine inconsistencies make a baseline"
    for fixture in fixtures:
        outcome = corrupt.judge(fixture, unchanged(fixture))
        assert outcome.new == ()
        assert not (outcome.caught or outcome.by_error or outcome.arithmetic or outcome.grounding)


def test_a_changed_number_is_caught_by_arithmetic_and_grounding(fixtures: list[Any]) -> None:
    fixture = by_name(fixtures, "inv-sichuan-2024-department")
    data = fixture.document.model_dump()
    data["forms"][0]["funds"][2]["executed"] = 175.28  # printed 175.82
    document = Document.model_validate(data)
    corruption = corrupt.Corruption(
        "number", "transpose", "funds.executed", "forms[0].funds[2].executed", 175.82, 175.28, document
    )
    outcome = corrupt.judge(fixture, corruption)
    codes = {(f.code, f.path) for f in outcome.new}
    assert ("not_in_source", "forms[0].funds[2].executed") in codes
    assert ("execution_rate", "forms[0].funds[2].execution_rate") in codes
    assert ("fund_parts_sum", "forms[0].funds[0].executed") in codes
    assert outcome.caught and outcome.by_error and outcome.arithmetic and outcome.grounding


def test_a_dropped_row_moves_the_baseline_with_it(fixtures: list[Any]) -> None:
    fixture = by_name(fixtures, "sh-minhang-wujing-2024-project")
    assert ("indicator_score_rule", "forms[0].indicators[4].score") in fixture.baseline
    data = fixture.document.model_dump()
    data["forms"][0]["indicators"].pop(0)
    document = Document.model_validate(data)
    shift = ("forms[0].indicators", 0, -1)
    moved = corrupt.Corruption(
        "drop_row", "indicator_row", "indicators", "forms[0].indicators[0]", "x", None, document, shift
    )
    outcome = corrupt.judge(fixture, moved)
    codes = {(f.code, f.path) for f in outcome.new}
    assert ("indicator_score_rule", "forms[0].indicators[3].score") not in codes
    assert ("weight_sum", "forms[0].total_weight") in codes
    # Without the shift, the finding that merely moved with its row would pass for a new one.
    unshifted = corrupt.judge(fixture, corrupt.Corruption("drop_row", "x", "x", "x", None, None, document))
    assert ("indicator_score_rule", "forms[0].indicators[3].score") in {(f.code, f.path) for f in unshifted.new}


def test_shifted_paths() -> None:
    drop = ("forms[0].indicators", 2, -1)
    insert = ("forms[0].indicators", 2, 1)
    assert corrupt.shifted("forms[0].indicators[5].score", drop) == "forms[0].indicators[4].score"
    assert corrupt.shifted("forms[0].indicators[2].score", drop) is None
    assert corrupt.shifted("forms[0].indicators[1].score", drop) == "forms[0].indicators[1].score"
    assert corrupt.shifted("forms[0].indicators[2].score", insert) == "forms[0].indicators[3].score"
    assert corrupt.shifted("forms[0].indicators[1].level1", insert) == "forms[0].indicators[1].level1"
    assert corrupt.shifted("forms[1].indicators[5].score", drop) == "forms[1].indicators[5].score"
    assert corrupt.shifted("forms[0].total_score", drop) == "forms[0].total_score"
    assert corrupt.shifted(None, drop) is None


def test_perturbations_are_the_slips_they_name() -> None:
    rng = random.Random(0)
    assert corrupt._transpose("148.79", rng) in {"418.79", "184.79", "148.97"}
    assert corrupt._transpose("0.00", rng) is None
    assert corrupt._shift("148.79", rng) in {"1487.90", "14.879"}
    assert corrupt._last_digit("0.00", rng) == "0.01"
    assert corrupt._last_digit("97.56", rng) in {"97.55", "97.57"}
    changed = corrupt._digit("2024", rng)
    assert changed is not None and len(changed) == 4
    assert sum(a != b for a, b in zip(changed, "2024", strict=True)) == 1


def test_every_corruption_changes_the_label(fixtures: list[Any]) -> None:
    rng = random.Random(SEED)
    for kind in corrupt.KINDS:
        for _ in range(30):
            fixture, corruption = corrupt.corrupt(kind, fixtures, rng)
            assert corruption.document.contract() != fixture.document.contract(), corruption.describe()


def test_the_sample_is_reproducible(fixtures: list[Any], outcomes: list[Any]) -> None:
    again = corrupt.run(fixtures, SAMPLE, seed=SEED)
    assert [o.corruption.describe() for o in again] == [o.corruption.describe() for o in outcomes]
    assert [len(o.new) for o in again] == [len(o.new) for o in outcomes]


def test_changed_numbers_are_caught(outcomes: list[Any]) -> None:
    numbers = corrupt.rates([o for o in outcomes if o.corruption.kind == "number"])
    assert numbers["cases"] == SAMPLE["number"]
    assert numbers["caught"] >= 0.93
    assert numbers["by_error"] >= 0.9
    assert numbers["arithmetic"] >= 0.8
    assert numbers["grounding"] >= 0.4


def test_dropped_indicator_rows_and_invented_texts_are_caught(outcomes: list[Any]) -> None:
    hows = corrupt.summary(outcomes)["hows"]
    assert hows["drop_row/indicator_row"]["caught"] >= 0.8
    assert hows["invent/insert_row"]["caught"] >= 0.9
    assert hows["invent/fill_text"]["caught"] >= 0.9
    assert hows["invent/replace_text"]["caught"] >= 0.8


def test_the_labels_are_left_as_they_were(fixtures: list[Any], outcomes: list[Any]) -> None:
    """Corruptions are made on copies: after a run, the labels in memory and on disk are unchanged."""
    assert outcomes
    for fixture in fixtures:
        on_disk = Document.model_validate_json((FORMS / fixture.name / "label.json").read_text(encoding="utf-8"))
        assert fixture.document.contract() == on_disk.contract()
        findings = check_document(fixture.document, fixture.sources)
        assert {(f.code, f.path) for f in findings if f.severity != "info"} == fixture.baseline

"""The checks on the fixtures: every inconsistency of fixtures/NOTES.md is flagged, nothing else is an error.

The hand labels are checked against their own native PDFs (grounding included),
and the exact set of findings is asserted per fixture: a new check that fires
on a correct form, or a lost finding, fails here.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import FORMS, ROOT
from typer.testing import CliRunner

from pipeline.checks import CATALOGUE, check_document, status_of
from pipeline.cli import app
from pipeline.exceptions import ExitCode
from pipeline.result import Finding
from pipeline.run import extract_file, sources_for
from pipeline.schema import Document

UNSEEN = ROOT / "fixtures" / "unseen"

# (severity, code, path) per fixture: the genuine inconsistencies listed in NOTES.md
# (errors, and the warnings of rows that contradict themselves) and the deductions
# made by a region's own rule (warnings). Nothing else.
EXPECTED: dict[str, set[tuple[str, str, str]]] = {
    "sh-chongming-2023-project": set(),
    "inv-zhejiang-2024-split": set(),
    "inv-sichuan-2024-department": {("error", "score_sum", "forms[0].total_score")},
    "sh-minhang-pujin-2023-department": {
        ("error", "level1_weight_sum", "forms[0].level1_weights.社会效益指标"),
        ("error", "level1_weight_sum", "forms[0].level1_weights.可持续影响指标"),
        ("error", "level1_weights_total", "forms[0].level1_weights"),
        # 35 printed against a target of =33, 97% and 95% against =100%: the region's own deductions.
        ("warning", "indicator_score_rule", "forms[0].indicators[11].score"),
        ("warning", "indicator_score_rule", "forms[0].indicators[13].score"),
        ("warning", "indicator_score_rule", "forms[0].indicators[19].score"),
    },
    "sh-minhang-wujing-2024-project": {
        ("warning", "indicator_score_rule", "forms[0].indicators[4].score"),
        ("info", "execution_rate_capped", "forms[2].funds[0].execution_rate"),
        ("info", "execution_rate_capped", "forms[2].funds[1].execution_rate"),
        ("error", "weight_sum", "forms[2].total_weight"),
        ("error", "score_sum", "forms[2].total_score"),
        ("error", "weight_sum", "forms[3].total_weight"),
        ("error", "score_sum", "forms[3].total_score"),
        ("warning", "level_pairing", "forms[5].indicators[3].level1"),
        ("warning", "level_pairing", "forms[5].indicators[4].level1"),
        ("warning", "level_pairing", "forms[7].indicators[2].level1"),
        ("warning", "level_pairing", "forms[7].indicators[3].level1"),
        ("warning", "indicator_score_rule", "forms[7].indicators[4].score"),
        ("error", "fund_parts_sum", "forms[9].funds[0].adjusted_budget"),
        ("error", "fund_parts_sum", "forms[9].funds[0].executed"),
    },
    "gd-fenghe-2025-project": {("error", "execution_rate", "forms[0].funds[0].execution_rate")},
}


def _folder(fixture_id: str) -> Path:
    return FORMS / fixture_id if (FORMS / fixture_id).exists() else UNSEEN / fixture_id


def _found(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return {(f.severity, f.code, f.path or "") for f in findings}


@pytest.mark.parametrize("fixture_id", sorted(EXPECTED))
def test_the_labels_give_exactly_the_known_findings(fixture_id: str) -> None:
    folder = _folder(fixture_id)
    document = Document.model_validate_json((folder / "label.json").read_text(encoding="utf-8"))
    sources, note = sources_for(document, folder / "label.json", folder / "native.pdf")
    assert note is None
    findings = check_document(document, sources)
    assert _found(findings) == EXPECTED[fixture_id]
    assert status_of(findings) == ("needs_review" if any(s == "error" for s, _, _ in EXPECTED[fixture_id]) else "ok")


def test_every_finding_says_what_was_expected_and_found() -> None:
    folder = _folder("sh-minhang-wujing-2024-project")
    document = Document.model_validate_json((folder / "label.json").read_text(encoding="utf-8"))
    sources, _ = sources_for(document, folder / "label.json", folder / "native.pdf")
    by_path = {f.path: f for f in check_document(document, sources)}
    total = by_path["forms[9].funds[0].adjusted_budget"]
    assert (total.expected, total.found) == ("3.53", "3.52")
    capped = by_path["forms[2].funds[0].execution_rate"]
    assert (capped.expected, capped.found) == ("100.18", "100")
    assert "110" in by_path["forms[2].total_weight"].message


@pytest.mark.parametrize("fixture_id", ["sh-minhang-wujing-2024-project", "inv-sichuan-2024-department"])
def test_extraction_of_a_native_pdf_is_checked_like_its_label(fixture_id: str) -> None:
    result = extract_file(_folder(fixture_id) / "native.pdf")
    errors = {(s, c, p) for s, c, p in _found(result.findings) if s == "error"}
    assert errors == {item for item in EXPECTED[fixture_id] if item[0] == "error"}
    assert result.status == "needs_review"
    assert "checks" in result.seconds


def test_a_clean_native_pdf_extracts_as_ok() -> None:
    result = extract_file(FORMS / "inv-zhejiang-2024-split" / "native.pdf")
    assert result.status == "ok"
    assert not [f for f in result.findings if f.severity == "error"]


runner = CliRunner()


def test_check_cli_finds_the_source_beside_the_json_and_exits_5_on_errors(tmp_path: Path) -> None:
    folder = FORMS / "inv-sichuan-2024-department"
    shutil.copy(folder / "native.pdf", tmp_path / "native.pdf")
    shutil.copy(folder / "label.json", tmp_path / "doc.json")
    result = runner.invoke(app, ["check", str(tmp_path / "doc.json"), "--json"])
    assert result.exit_code == ExitCode.needs_review, result.output
    report = json.loads(result.stdout)
    assert report["status"] == "needs_review"
    assert {(f["code"], f["path"]) for f in report["findings"]} == {("score_sum", "forms[0].total_score")}


def test_check_cli_on_a_corrected_document_exits_0(tmp_path: Path) -> None:
    folder = FORMS / "inv-sichuan-2024-department"
    data = json.loads((folder / "label.json").read_text(encoding="utf-8"))
    data["forms"][0]["total_score"] = 99.21  # the reviewer's correction: what the scores add up to
    (tmp_path / "doc.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    result = runner.invoke(app, ["check", str(tmp_path / "doc.json"), "--source", str(folder / "native.pdf")])
    # 99.21 is printed nowhere on the page: grounding says so, and that is an error too.
    assert result.exit_code == ExitCode.needs_review
    assert "not_in_source" in result.stdout and "score_sum" not in result.stdout
    result = runner.invoke(app, ["check", str(tmp_path / "doc.json")])  # no source: arithmetic only
    assert result.exit_code == 0, result.output
    assert "values not looked up" in result.stderr


def test_check_cli_refuses_a_file_that_is_not_a_document(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"forms": [{"year": 2023}]}', encoding="utf-8")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json", encoding="utf-8")
    for path, reason in ((bad, "not a valid Document"), (broken, "not JSON"), (tmp_path / "none.json", "no such")):
        result = runner.invoke(app, ["check", str(path)])
        assert result.exit_code == ExitCode.input_file, result.output
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith(f"error: {path}: ") and reason in lines[0], result.stderr


def test_extract_strict_exits_5_when_a_document_needs_review(tmp_path: Path) -> None:
    folder = FORMS / "inv-sichuan-2024-department"
    result = runner.invoke(app, ["extract", str(folder / "native.pdf"), "-o", str(tmp_path)])
    assert result.exit_code == 0
    assert "score_sum" in result.stderr and "need review" in result.stderr
    written = json.loads((tmp_path / "native.json").read_text(encoding="utf-8"))
    assert written["status"] == "needs_review"
    result = runner.invoke(app, ["extract", "--strict", str(folder / "native.pdf")])
    assert result.exit_code == ExitCode.needs_review
    result = runner.invoke(app, ["extract", "--strict", str(FORMS / "inv-zhejiang-2024-split" / "native.pdf")])
    assert result.exit_code == 0


def test_the_docs_list_every_finding_code_as_the_catalogue_has_it() -> None:
    text = (ROOT / "docs" / "checks.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| (.+) \|$", text, flags=re.MULTILINE)
    assert rows == [(c.code, c.severity, c.description) for c in CATALOGUE.values()]
    result = runner.invoke(app, ["checks"])
    assert result.exit_code == 0 and all(code in result.stdout for code in CATALOGUE)

"""``jixiao eval`` end to end: the layout extractor gated at its level, the LLM extractor over real HTTP
with two prompt versions, stored predictions, run folders, and the comparison of two runs.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from chatserver import ChatServer, Recorded, Reply, Status, Step
from conftest import FORMS, ROOT
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.evaluation.diff import compare_runs
from pipeline.evaluation.records import load_run
from pipeline.evaluation.samples import find_samples
from pipeline.exceptions import ExitCode
from pipeline.llm.prompts import PROMPTS

FIXTURES = ROOT / "fixtures"
JIXIAO = Path(sys.executable).with_name("jixiao")
CHONGMING = "sh-chongming-2023-project"
SICHUAN = "inv-sichuan-2024-department"
# The layout extractor's level on the native PDFs (forms/ and unseen/), the CI gate: eval/README.md.
NATIVE_GATE = 0.999
SCAN_GATE = 0.97


def gate(runs: Path, level: float) -> list[str]:
    return ["--runs-dir", str(runs), "--fail-under", str(level), "--no-html"]


def run_dirs(runs: Path) -> list[Path]:
    return sorted(p for p in runs.iterdir() if (p / "run.json").is_file())


def test_the_layout_extractor_holds_its_level_on_the_native_pdfs(tmp_path: Path) -> None:
    """The CI gate: the installed ``jixiao eval`` in its own process, below the gate it fails."""
    runs = tmp_path / "runs"
    command = [str(JIXIAO), "eval", str(FIXTURES), "--extractor", "layout", "--variant", "native"]
    done = subprocess.run(
        [*command, "--runs-dir", str(runs), "--fail-under", str(NATIVE_GATE)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (folder,) = run_dirs(runs)
    assert folder.name.endswith("-layout-none-none")
    scores = json.loads((folder / "scores.json").read_text(encoding="utf-8"))
    assert scores["overall"]["f1"] >= NATIVE_GATE
    assert set(scores["groups"]) == {"header", "funds", "indicators", "totals"}
    assert set(scores["page_sources"]) == {"text"} and set(scores["variants"]) == {"native"}
    samples, _ = find_samples(FIXTURES, ["native"])
    assert set(scores["files"]) == {s.id for s in samples} and len(samples) >= 6
    for sample in samples:
        assert (folder / "predictions" / f"{sample.id}.json").is_file()
    assert (folder / "report.html").is_file()
    assert "per field" in done.stdout and "indicators.target" in done.stdout

    # Scoring the stored outputs again runs nothing and gives the same score; a gate above it fails.
    again = subprocess.run(
        [
            *command[:3],
            "--predictions",
            str(folder),
            *command[5:],
            "--runs-dir",
            str(runs),
            "--fail-under",
            "1",
            "--no-html",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert again.returncode == ExitCode.below_threshold, again.stderr
    assert "is below --fail-under 1.0000" in again.stderr
    stored = [p for p in run_dirs(runs) if p != folder]
    assert len(stored) == 1 and stored[0].name.endswith("-predictions-none-none")
    rescored = json.loads((stored[0] / "scores.json").read_text(encoding="utf-8"))
    assert rescored["overall"] == scores["overall"]


@pytest.mark.slow
def test_the_layout_extractor_holds_its_level_on_the_scans(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["eval", str(FIXTURES / "forms"), "--extractor", "layout", "--variant", "scan", *gate(tmp_path, SCAN_GATE)],
    )
    assert result.exit_code == 0, result.output
    scores = json.loads((run_dirs(tmp_path)[0] / "scores.json").read_text(encoding="utf-8"))
    assert set(scores["page_sources"]) == {"ocr"}


def two_fixtures(tmp_path: Path) -> Path:
    """A fixtures folder of chongming (2 forms) and sichuan (1 form), native PDFs only."""
    root = tmp_path / "fixtures"
    for fixture in (CHONGMING, SICHUAN):
        folder = root / fixture
        folder.mkdir(parents=True)
        for name in ("label.json", "print.json", "native.pdf"):
            shutil.copy(FORMS / fixture / name, folder / name)
    return root


def labelled_forms() -> list[dict[str, Any]]:
    forms: list[dict[str, Any]] = []
    for fixture in (CHONGMING, SICHUAN):
        forms += json.loads((FORMS / fixture / "label.json").read_text(encoding="utf-8"))["forms"]
    return forms


UNIT = "上海市崇明区向化镇城市运行管理中心"  # chongming form 2's 实施单位
INVENTED_UNIT = "上海市崇明区虚构事务中心"  # printed nowhere: what v1 "hallucinates"
V2_MARKER = "Read every 实际完成值 twice."


def two_prompt_model(request: Recorded) -> Step:
    """A scripted model: each request gets the label of the form it carries, with one mistake per prompt.

    Prompt v1 invents chongming form 2's 实施单位; prompt v2 (system prompt marked) gets
    that right but misreads sichuan's first 实际完成值.
    """
    text = request.last_user_text
    v2 = V2_MARKER in str(request.messages[0]["content"])
    for form in labelled_forms():
        name = form["project_name"] or form["department"]
        if name in text and sum(row["level3"] in text for row in form["indicators"]) >= 3:
            answer = copy.deepcopy(form)
            if not v2 and form["project_name"] == labelled_forms()[1]["project_name"]:
                answer["implementing_unit"] = INVENTED_UNIT
            if v2 and form["form_type"] == "department":
                answer["indicators"][0]["actual"] = "87.5%"
            return Reply(answer)
    return Status(400, "no labelled form in this request")


def prompt_v2(tmp_path: Path) -> Path:
    folder = tmp_path / "v2"
    shutil.copytree(PROMPTS / "v1", folder)
    system = folder / "system.md"
    system.write_text(system.read_text(encoding="utf-8") + f"\n{V2_MARKER}\n", encoding="utf-8")
    return folder


def eval_with_model(server: ChatServer, tmp_path: Path, *more: str) -> tuple[int, str]:
    root = tmp_path / "fixtures"
    args = ["eval", str(root if root.exists() else two_fixtures(tmp_path))]
    args += ["--extractor", "llm", "--model", "test-model", "--base-url", server.url, "--concurrency", "1"]
    args += ["--runs-dir", str(tmp_path / "runs"), *more]
    result = CliRunner().invoke(app, args, env={"JIXIAO_CACHE_DIR": str(tmp_path / "cache"), "COLUMNS": "200"})
    return result.exit_code, result.output


def test_eval_with_a_model_records_each_prompt_and_compares_them(chat_server: ChatServer, tmp_path: Path) -> None:
    chat_server.responder = two_prompt_model
    code, output = eval_with_model(chat_server, tmp_path, "--prompt", "v1")
    assert code == 0, output
    (first,) = run_dirs(tmp_path / "runs")
    assert first.name.endswith("-llm-v1-test-model")
    v1 = load_run(first)
    assert v1.config.model == "test-model" and v1.config.prompt == "v1" and v1.config.mode == "tools"
    assert v1.usage is not None and v1.usage.forms == 3 and v1.usage.requests >= 3
    assert v1.usage.prompt_tokens > 0 and v1.usage.cache_hits == 0
    checks = v1.checks()
    assert checks.wrong_values == 1 and checks.not_in_source_wrong == 1  # the invented unit, caught
    (wrong,) = [m for r in v1.samples for m in r.score.mismatches]
    assert (wrong.path, wrong.expected, wrong.got) == ("forms[1].implementing_unit", UNIT, INVENTED_UNIT)

    code, output = eval_with_model(chat_server, tmp_path, "--prompt", str(prompt_v2(tmp_path)), "--baseline", "latest")
    assert code == 0, output
    second = next(p for p in run_dirs(tmp_path / "runs") if p != first)
    v2 = load_run(second)
    assert v2.config.prompt_sha256 != v1.config.prompt_sha256
    assert "fixed" in output and "broken" in output and "87.5%" in output

    comparison = compare_runs(v1, v2)
    flips = {(f.kind, f.sample, f.path, f.expected, f.before, f.after) for f in comparison.flips}
    assert flips == {
        ("fixed", f"{CHONGMING}/native.pdf", "forms[1].implementing_unit", UNIT, INVENTED_UNIT, UNIT),
        ("broken", f"{SICHUAN}/native.pdf", "forms[0].indicators[0].actual", "97.56%", "97.56%", "87.5%"),
    }

    # --compare reads the two records and runs nothing; a repeat of v1 is answered from the cache.
    requests = len(chat_server.requests)
    result = CliRunner().invoke(
        app,
        ["eval", "--compare", str(first), str(second), "--runs-dir", str(tmp_path / "runs")],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    assert "1 fixed, 1 broken, 0 changed" in " ".join(result.output.split())
    assert (second / f"report-vs-{first.name}.html").is_file()
    assert len(chat_server.requests) == requests
    code, output = eval_with_model(chat_server, tmp_path, "--prompt", "v1", "--no-html")
    assert code == 0, output
    (repeat,) = [p for p in run_dirs(tmp_path / "runs") if p not in (first, second)]
    third = load_run(repeat)
    assert third.usage is not None and third.usage.cache_hits == 3 and len(chat_server.requests) == requests
    assert third.total().f1 == v1.total().f1


def test_stored_outputs_are_matched_to_files_by_their_hash(tmp_path: Path) -> None:
    root = two_fixtures(tmp_path)
    out = tmp_path / "outputs"
    extracted = CliRunner().invoke(app, ["extract", str(root / CHONGMING / "native.pdf"), "-o", str(out / "a.json")])
    assert extracted.exit_code == 0, extracted.output
    result = CliRunner().invoke(
        app, ["eval", str(root), "--predictions", str(out), "--runs-dir", str(tmp_path / "runs"), "--no-html"]
    )
    assert result.exit_code == 0, result.output
    record = load_run(run_dirs(tmp_path / "runs")[0])
    by_id = {r.sample.id: r for r in record.samples}
    assert by_id[f"{CHONGMING}/native.pdf"].score.f1 == 1.0
    missing = by_id[f"{SICHUAN}/native.pdf"]
    assert missing.error is not None and "no stored output" in missing.error
    assert missing.score.overall.tp == 0 and missing.score.overall.fn > 100
    assert record.summary().failed_files == [f"{SICHUAN}/native.pdf"]
    assert record.latencies() == []  # nothing was extracted: no latency to report, not zeros


def test_files_that_do_not_hold_the_labelled_pages_are_skipped_with_the_reason(tmp_path: Path) -> None:
    samples, skipped = find_samples(FIXTURES / "forms" / "sh-minhang-pujin-2023-department")
    assert {s.variant for s in samples} == {"native", "scan"}
    assert any(line.startswith("page1.png: 1 page(s), the label's source has 2") for line in skipped)


def test_bad_arguments_get_one_line_errors(tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["eval", str(tmp_path / "nowhere")])
    assert missing.exit_code == ExitCode.input_file and "is not a folder of labelled fixtures" in missing.output
    empty = CliRunner().invoke(app, ["eval", str(tmp_path), "--runs-dir", str(tmp_path / "runs")])
    assert empty.exit_code == ExitCode.input_file and "holds no labelled file" in empty.output
    unknown = CliRunner().invoke(app, ["eval", "--compare", "a", "b", "--runs-dir", str(tmp_path)])
    assert unknown.exit_code == ExitCode.input_file and "is not a recorded run" in unknown.output
    broken = two_fixtures(tmp_path)
    (broken / SICHUAN / "label.json").write_text('{"forms": []}', encoding="utf-8")
    bad_label = CliRunner().invoke(app, ["eval", str(broken), "--runs-dir", str(tmp_path / "runs")])
    assert bad_label.exit_code == ExitCode.input_file and "is not a valid label" in bad_label.output

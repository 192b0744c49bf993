"""Bad input gets one clear line naming the file and the reason, and a non-zero exit."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FIXTURE_IDS, FORMS
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.exceptions import ExitCode

runner = CliRunner()

REASONS = {
    "empty": ("the file is empty", ExitCode.input_file),
    "truncated": ("damaged (truncated?)", ExitCode.input_file),
    "encrypted": ("encrypted with a password", ExitCode.input_file),
    "not_pdf": ("not a PDF or an image", ExitCode.input_file),
    "no_form": ("no 绩效自评表 found", ExitCode.no_form),
    "missing": ("no such file", ExitCode.input_file),
    "folder": ("is a folder", ExitCode.input_file),
    "bad_image": ("cannot decode the image", ExitCode.input_file),
}


@pytest.mark.parametrize("kind", sorted(REASONS))
def test_bad_input_gives_one_line_naming_file_and_reason(kind: str, bad_inputs: dict[str, Path]) -> None:
    path = bad_inputs[kind]
    result = runner.invoke(app, ["extract", str(path)])
    reason, code = REASONS[kind]
    assert result.exit_code == code, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path}: ")
    assert reason in lines[0]
    assert "Traceback" not in result.output


def test_verbose_shows_the_traceback(bad_inputs: dict[str, Path]) -> None:
    result = runner.invoke(app, ["extract", "-v", str(bad_inputs["truncated"])])
    assert result.exit_code == ExitCode.input_file
    assert "Traceback" in result.stderr


def test_good_files_go_on_past_a_bad_one(bad_inputs: dict[str, Path]) -> None:
    good = FORMS / FIXTURE_IDS[0] / "native.pdf"
    result = runner.invoke(app, ["extract", str(bad_inputs["empty"]), str(good)])
    assert result.exit_code == 1  # some failed, not all
    assert "the file is empty" in result.stderr
    assert "native.pdf" in result.stderr and "form(s)" in result.stderr  # the summary
    assert json.loads(result.stdout)["source"]["file"] == "native.pdf"  # the good file's JSON


def test_read_writes_pages_and_spans_as_json(tmp_path: Path) -> None:
    out = tmp_path / "read.json"
    native = FORMS / "sh-minhang-pujin-2023-department" / "native.pdf"
    result = runner.invoke(app, ["read", str(native), "-o", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text(encoding="utf-8"))
    assert data["pages"][0]["source"] == "text"
    assert "浦锦街道城市运行管理中心" in data["pages"][0]["text"]
    assert [s["form_type"] for s in data["spans"]] == ["department"]


def test_bad_settings_are_refused_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JIXIAO_OCR_ENGINE", "tesseract-9")
    result = runner.invoke(app, ["extract", str(FORMS / FIXTURE_IDS[0] / "native.pdf")])
    assert result.exit_code == ExitCode.config
    assert "unknown OCR engine 'tesseract-9'" in result.stderr


def test_installed_console_script_runs(bad_inputs: dict[str, Path]) -> None:
    script = shutil.which("jixiao", path=str(Path(sys.executable).parent)) or shutil.which("jixiao")
    assert script, "the console script `jixiao` is not installed"
    env = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run([script, "extract", str(bad_inputs["not_pdf"])], capture_output=True, text=True, env=env)
    assert done.returncode == ExitCode.input_file
    assert done.stderr.strip() == f"error: {bad_inputs['not_pdf']}: not a PDF or an image (PNG, JPEG, TIFF)"
    version = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert version.stdout.startswith("jixiao ")

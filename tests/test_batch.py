"""``jixiao batch`` and ``jixiao export`` end to end: real files through real worker processes.

Bad files are recorded with their reasons while the good ones are extracted; a
batch killed with SIGKILL and run again ends exactly where an uninterrupted one
does; a changed prompt redoes files only with ``--redo-stale``; a model that
keeps failing fails its file only; the tables load in CSV, XLSX, Parquet, JSONL.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pymupdf
import pytest
from chatserver import ChatServer, Recorded, Reply, Status, Step
from conftest import FORMS, ROOT, label_of
from typer.testing import CliRunner

from pipeline.batch import FileResult, _Pool, process_file
from pipeline.cli import app
from pipeline.export import TABLES
from pipeline.run import extract_file, file_sha256
from pipeline.settings import Settings

JIXIAO = Path(sys.executable).with_name("jixiao")
NATIVE = sorted([*FORMS.glob("*/native.pdf"), *(ROOT / "fixtures" / "unseen").glob("*/native.pdf")])
CHONGMING = "sh-chongming-2023-project"
SICHUAN = "inv-sichuan-2024-department"


def batch(*args: str | Path, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["batch", *map(str, args)], env={"COLUMNS": "200", **(env or {})})
    return result.exit_code, result.output


def copies(folder: Path, rounds: int) -> list[Path]:
    """Each native fixture ``rounds`` times, each copy with its own bytes (a different title in the metadata)."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for copy in range(rounds):
        for source in NATIVE:
            target = folder / f"{source.parent.name}-{copy}.pdf"
            with pymupdf.open(source) as doc:
                doc.set_metadata({**(doc.metadata or {}), "title": f"copy {copy}"})
                doc.save(target)
            made.append(target)
    return made


def database(out: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{out / 'manifest.sqlite'}?mode=ro", uri=True)


def states(out: Path) -> dict[str, tuple[str, str | None]]:
    """Each input path's (state, reason)."""
    with database(out) as db:
        return {Path(p).name: (s, r) for p, s, r in db.execute("SELECT path, state, reason FROM files")}


def snapshot(out: Path) -> dict[str, Any]:
    """Everything a batch leaves that must not depend on timing: documents (less their timings), rows, states."""
    documents = {}
    for path in sorted((out / "documents").iterdir()):
        data = json.loads(path.read_text(encoding="utf-8"))
        data.pop("seconds")
        documents[path.name] = data
    with database(out) as db:
        tables = {
            name: sorted(map(repr, db.execute(f'SELECT * FROM "{name}"').fetchall()))
            for name in TABLES
            if name != "files"
        }
        files = sorted(
            db.execute("SELECT path, sha256, state, reason, error, pages, forms, status, document FROM files")
        )
    return {"documents": documents, "tables": tables, "files": files}


def test_a_batch_extracts_the_good_files_and_records_each_bad_one_with_its_reason(
    tmp_path: Path, bad_inputs: dict[str, Path]
) -> None:
    archive = tmp_path / "archive"
    (archive / "sub").mkdir(parents=True)
    good = {}
    for source in NATIVE:
        good[f"{source.parent.name}.pdf"] = source
        (archive / "sub" / f"{source.parent.name}.pdf").write_bytes(source.read_bytes())
    (archive / "same-bytes-other-name.pdf").write_bytes(NATIVE[0].read_bytes())
    for kind in ("empty", "truncated", "encrypted", "not_pdf", "no_form", "bad_image"):
        (archive / bad_inputs[kind].name).write_bytes(bad_inputs[kind].read_bytes())
    (archive / "readme.txt").write_text("not an input", encoding="utf-8")
    (archive / ".hidden.pdf").write_bytes(b"")
    out = tmp_path / "out"

    code, output = batch(archive, "-o", out, "--workers", "2", "--extractor", "layout")

    assert code == 1, output  # some files failed, each recorded
    recorded = states(out)
    assert recorded == {
        **{name: ("done", None) for name in good},
        "same-bytes-other-name.pdf": ("done", None),
        "empty.pdf": ("failed", "input_file"),
        "truncated.pdf": ("failed", "input_file"),
        "encrypted.pdf": ("failed", "encrypted_pdf"),
        "notes.pdf": ("failed", "unsupported_file"),
        "notice.pdf": ("failed", "no_form_found"),
        "broken.png": ("failed", "input_file"),
    }
    with database(out) as db:
        errors = dict(db.execute("SELECT path, error FROM files WHERE state = 'failed'").fetchall())
        distinct = db.execute("SELECT count(*) FROM files_state").fetchone()[0]
    assert distinct == len(recorded) - 1  # the same bytes under two names: extracted once
    assert "empty" in errors[str(archive / "empty.pdf")] and "password" in errors[str(archive / "encrypted.pdf")]
    assert "1 duplicate" in " ".join(output.split()) and "readme.txt" not in output

    # Each good file's Document is what `jixiao extract` makes of it.
    documents = sorted((out / "documents").iterdir())
    assert len(documents) == len(good)
    settings = Settings(extractor="layout")
    for path in documents:
        document = json.loads(path.read_text(encoding="utf-8"))
        name = document["source"]["file"]
        expected = extract_file(
            archive / "sub" / name if (archive / "sub" / name).exists() else archive / name, settings
        )
        assert document["forms"] == expected.model_dump(mode="json")["forms"]
        assert document["findings"] == expected.model_dump(mode="json")["findings"]

    # The tables: one row per form / fund row / indicator / finding, keyed to join.
    forms = [json.loads(p.read_text(encoding="utf-8")) for p in documents]
    counts = {
        "forms": sum(len(d["forms"]) for d in forms),
        "funds": sum(len(f["funds"]) for d in forms for f in d["forms"]),
        "indicators": sum(len(f["indicators"]) for d in forms for f in d["forms"]),
        "findings": sum(len(d["findings"]) for d in forms),
        "files": len(recorded),
    }
    tables = out / "tables"
    raw = (tables / "indicators.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a BOM: Excel reads the Chinese
    with (tables / "indicators.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == counts["indicators"]
    chongming = label_of(CHONGMING)["forms"][1]["indicators"]
    sha = next(d["source"]["sha256"] for d in forms if CHONGMING in d["source"]["file"])
    mine = [r for r in rows if r["sha256"] == sha]
    assert [r["level3"] for r in mine if r["form"] == "1"] == [i["level3"] for i in chongming]
    for name, expected_rows in counts.items():
        table = pq.read_table(tables / f"{name}.parquet")
        assert table.num_rows == expected_rows, name
        assert table.column_names == [c.name for c in TABLES[name]]
    assert pq.read_table(tables / "forms.parquet").schema.field("total_score").type == "double"
    workbook = openpyxl.load_workbook(tables / "tables.xlsx", read_only=True)
    assert workbook.sheetnames == list(TABLES)
    sheet = list(workbook["indicators"].iter_rows(values_only=True))
    assert list(sheet[0]) == [c.name for c in TABLES["indicators"]] and len(sheet) == counts["indicators"] + 1
    assert [row[5] for row in sheet[1:]] == [r["level3"] for r in rows]
    scores = [row[-2] for row in sheet[1:]]
    assert all(score is None or isinstance(score, float | int) for score in scores)
    workbook.close()
    log = next((out / "logs").iterdir()).read_text(encoding="utf-8")
    assert "failed" in log and "encrypted.pdf" in log and "done" in log

    # Run again: nothing to do. The failed files stay failed unless retried; a fixed file is new bytes.
    (archive / "empty.pdf").write_bytes(copies(tmp_path / "fixed", rounds=1)[1].read_bytes())
    code, output = batch(archive, "-o", out, "--extractor", "layout", "--tables", "none")
    assert code == 0, output
    flat = " ".join(output.split())
    assert "1 to do" in flat and f"{len(good)} done before" in flat and "5 failed before" in flat
    assert states(out)["empty.pdf"] == ("done", None)
    code, output = batch(archive, "-o", out, "--extractor", "layout", "--retry-failed", "--tables", "none")
    assert code == 1 and "5 to do" in " ".join(output.split())


def test_a_batch_killed_part_way_and_run_again_ends_as_an_uninterrupted_one(tmp_path: Path) -> None:
    inputs = copies(tmp_path / "in", rounds=4)
    command = [str(JIXIAO), "batch", str(tmp_path / "in"), "--workers", "1", "--extractor", "layout", "--quiet"]

    whole = tmp_path / "whole"
    done = subprocess.run([*command, "-o", str(whole)], capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr

    killed = tmp_path / "killed"
    process = subprocess.Popen([*command, "-o", str(killed)], start_new_session=True, stderr=subprocess.PIPE, text=True)
    wait_for_done(killed, process, 3)
    os.killpg(process.pid, signal.SIGKILL)  # the batch and its workers, mid-way
    process.wait()
    with database(killed) as db:
        at_kill = db.execute("SELECT count(*) FROM files_state WHERE state = 'done'").fetchone()[0]
    assert 3 <= at_kill < len(inputs), "the kill did not land part-way"

    again = subprocess.run([*command, "-o", str(killed)], capture_output=True, text=True, timeout=600, check=False)
    assert again.returncode == 0, again.stderr
    assert snapshot(killed) == snapshot(whole)
    assert len(snapshot(killed)["documents"]) == len(inputs)
    assert not [p for p in killed.rglob("*") if p.name.endswith(".partial")]
    for name in ("forms", "indicators"):
        assert pq.read_table(killed / "tables" / f"{name}.parquet").equals(
            pq.read_table(whole / "tables" / f"{name}.parquet")
        )


def wait_for_done(out: Path, process: subprocess.Popen[str], count: int) -> None:
    """Until ``count`` files are done in ``out`` (or the process ends, or 5 minutes pass)."""
    finished = 0
    deadline = time.monotonic() + 300
    while finished < count and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
        try:
            with database(out) as db:
                finished = db.execute("SELECT count(*) FROM files_state WHERE state = 'done'").fetchone()[0]
        except sqlite3.Error:
            continue


def test_ctrl_c_stops_at_once_and_a_second_batch_may_not_share_the_folder(tmp_path: Path) -> None:
    inputs = copies(tmp_path / "in", rounds=4)
    out = tmp_path / "out"
    command = [str(JIXIAO), "batch", str(tmp_path / "in"), "-o", str(out), "--workers", "1", "--extractor", "layout"]
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.PIPE, text=True)
    wait_for_done(out, process, 2)
    code, output = batch(tmp_path / "in", "-o", out)
    assert code == 10 and "another jixiao batch is writing to this folder" in output
    os.killpg(process.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130, stderr
    assert "interrupted: what is done is kept" in stderr and "Traceback" not in stderr
    with database(out) as db:
        done = db.execute("SELECT count(*) FROM files_state WHERE state = 'done'").fetchone()[0]
    assert 2 <= done < len(inputs)
    code, output = batch(tmp_path / "in", "-o", out, "--tables", "none")
    assert code == 0 and f"{len(inputs) - done} to do" in " ".join(output.split())
    assert len(list((out / "documents").iterdir())) == len(inputs)


def test_a_full_disk_stops_the_batch_and_loses_nothing(tmp_path: Path) -> None:
    """Writes past a file-size limit fail as on a full disk; the batch stops (exit 10) and a rerun completes."""
    import resource

    copies(tmp_path / "in", rounds=2)
    command = [str(JIXIAO), "batch", str(tmp_path / "in"), "--workers", "1", "--extractor", "layout", "--quiet"]
    command += ["--tables", "csv"]

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))

    out = tmp_path / "out"
    full = subprocess.run(
        [*command, "-o", str(out)], capture_output=True, text=True, timeout=600, check=False, preexec_fn=small_disk
    )
    assert full.returncode == 10, full.stderr
    assert "cannot write the outputs" in full.stderr and len(full.stderr.strip().splitlines()) == 1
    with database(out) as db:
        before = dict(db.execute("SELECT state, count(*) FROM files_state GROUP BY state").fetchall())
    assert before.get("pending", 0) > 0 and before.get("failed", 0) == 0

    whole = tmp_path / "whole"
    for folder in (out, whole):
        rerun = subprocess.run([*command, "-o", str(folder)], capture_output=True, text=True, timeout=600, check=False)
        assert rerun.returncode == 0, rerun.stderr
    assert snapshot(out) == snapshot(whole)


def test_inputs_are_folders_globs_and_files_and_a_wrong_one_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    copies(folder, rounds=1)
    out = tmp_path / "out"
    code, output = batch(str(folder / "sh-*.pdf"), "-o", out, "--workers", "1", "--tables", "none")
    assert code == 0, output
    assert {name for name in states(out)} == {p.name for p in folder.glob("sh-*.pdf")}
    assert "no LLM endpoint is configured" in output

    for wrong in (tmp_path / "nowhere", str(tmp_path / "nothing-*.pdf")):
        code, output = batch(wrong, "-o", out)
        assert code == 3
        assert output.strip().count("\n") == 0 and str(wrong) in output
    code, output = batch(folder, "-o", out, "--tables", "docx")
    assert code == 7 and "--tables 'docx'" in output


def test_export_rebuilds_the_tables_in_each_format(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "chongming.pdf").write_bytes((FORMS / CHONGMING / "native.pdf").read_bytes())
    out = tmp_path / "out"
    code, output = batch(folder, "-o", out, "--tables", "none")
    assert code == 0, output
    assert not (out / "tables").exists()

    result = CliRunner().invoke(
        app, ["export", str(out), "--format", "jsonl,xlsx", "-f", "csv", "-o", str(tmp_path / "t")]
    )
    assert result.exit_code == 0, result.output
    written = {p.name for p in (tmp_path / "t").iterdir()}
    assert written == {"tables.xlsx"} | {f"{name}.{ext}" for name in TABLES for ext in ("csv", "jsonl")}
    lines = (tmp_path / "t" / "forms.jsonl").read_text(encoding="utf-8").splitlines()
    forms = [json.loads(line) for line in lines]
    label = label_of(CHONGMING)["forms"]
    assert [f["project_name"] for f in forms] == [f["project_name"] for f in label]
    assert [f["form"] for f in forms] == [0, 1]
    funds = [json.loads(line) for line in (tmp_path / "t" / "funds.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [(f["form"], f["item"], f["executed"]) for f in funds] == [
        (i, row["item"], row["executed"]) for i, form in enumerate(label) for row in form["funds"]
    ]

    # The file is replaced by another form: its old rows leave the tables.
    (folder / "chongming.pdf").write_bytes((FORMS / SICHUAN / "native.pdf").read_bytes())
    code, output = batch(folder, "-o", out, "--tables", "jsonl")
    assert code == 0 and "1 to do" in " ".join(output.split()), output
    lines = (out / "tables" / "forms.jsonl").read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["department"] for line in lines] == [label_of(SICHUAN)["forms"][0]["department"]]
    assert "1 done, 0 failed, 0 pending" in " ".join(output.split())

    result = CliRunner().invoke(app, ["export", str(tmp_path), "--format", "csv"])
    assert result.exit_code == 3 and "not a batch output folder" in result.output


UNIT_V2 = "Answer in the schema."


def label_model(request: Recorded) -> Step:
    """Each request gets the label of the form it carries; sichuan's requests fail with 500."""
    text = request.last_user_text
    for fixture in (CHONGMING, SICHUAN):
        for form in label_of(fixture)["forms"]:
            name = form["project_name"] or form["department"]
            if name in text and sum(row["level3"] in text for row in form["indicators"]) >= 3:
                return Status(500) if fixture == SICHUAN else Reply(form)
    return Status(400, "no form in the request")


def test_a_changed_prompt_redoes_files_only_with_redo_stale(chat_server: ChatServer, tmp_path: Path) -> None:
    chat_server.responder = label_model
    folder = tmp_path / "in"
    folder.mkdir()
    for fixture in (CHONGMING, SICHUAN):
        (folder / f"{fixture}.pdf").write_bytes((FORMS / fixture / "native.pdf").read_bytes())
    out = tmp_path / "out"
    model = ["--extractor", "llm", "--model", "test-model", "--base-url", chat_server.url, "--tables", "csv"]
    env = {"JIXIAO_CACHE_DIR": str(tmp_path / "cache"), "JIXIAO_LLM_ATTEMPTS": "2", "JIXIAO_LLM_BACKOFF": "0"}

    code, output = batch(folder, "-o", out, *model, env=env)
    assert code == 1, output  # sichuan: the model keeps failing; chongming goes on
    assert states(out) == {f"{CHONGMING}.pdf": ("done", None), f"{SICHUAN}.pdf": ("failed", "llm")}
    document = json.loads(next((out / "documents").iterdir()).read_text(encoding="utf-8"))
    assert document["llm"]["prompt"] == "v1" and document["llm"]["usage"]["prompt_tokens"] > 0
    assert [f["project_name"] for f in document["forms"]] == [f["project_name"] for f in label_of(CHONGMING)["forms"]]
    flat = " ".join(output.split())
    assert "model tokens" in flat

    v2 = tmp_path / "v2"
    v2.mkdir()
    for part in (ROOT / "prompts" / "v1").iterdir():
        (v2 / part.name).write_text(part.read_text(encoding="utf-8") + f"\n{UNIT_V2}\n", encoding="utf-8")
    requests = len(chat_server.requests)
    code, output = batch(folder, "-o", out, *model, "--prompt", str(v2), env=env)
    assert code == 0, output
    assert "1 done with other settings (--redo-stale to redo)" in " ".join(output.split())
    assert len(chat_server.requests) == requests  # nothing redone, the failed file not retried

    code, output = batch(folder, "-o", out, *model, "--prompt", str(v2), "--redo-stale", env=env)
    assert code == 0, output
    assert len(chat_server.requests) == requests + 2  # chongming's two forms, with the new prompt
    document = json.loads(next((out / "documents").iterdir()).read_text(encoding="utf-8"))
    assert document["llm"]["prompt"] == str(v2)
    with database(out) as db:
        (recipe,) = db.execute("SELECT recipe FROM files_state WHERE state = 'done'").fetchone()
    assert json.loads(recipe)["prompt_sha256"] == document["llm"]["prompt_sha256"]

    code, output = batch(folder, "-o", out, *model, "--prompt", str(v2), "--redo-stale", env=env)
    assert code == 0 and "0 to do" in " ".join(output.split()) and len(chat_server.requests) == requests + 2


@pytest.mark.slow
def test_a_batch_of_scans_reads_them_in_worker_processes(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "scan.pdf").write_bytes((FORMS / CHONGMING / "scan.pdf").read_bytes())
    (folder / "native.pdf").write_bytes((FORMS / CHONGMING / "native.pdf").read_bytes())
    out = tmp_path / "out"
    code, output = batch(folder, "-o", out, "--workers", "2", "--tables", "csv")
    assert code == 0, output
    with (out / "tables" / "forms.csv").open(encoding="utf-8-sig", newline="") as handle:
        names = sorted(r["project_name"] for r in csv.DictReader(handle))
    label = sorted(f["project_name"] for f in label_of(CHONGMING)["forms"])
    assert names == sorted(label * 2)


def reads_unless_named_crash(path: Path, settings: Settings, sha256: str) -> FileResult:
    """The unit of work, except that a file named crash* kills its worker process, as a segfault would."""
    if path.name.startswith("crash"):
        os._exit(1)
    return process_file(path, settings, sha256)


def test_a_worker_that_dies_fails_only_its_own_file(tmp_path: Path) -> None:
    made = copies(tmp_path / "in", rounds=1)[:4]
    crash = made[1].rename(made[1].with_name("crash.pdf"))
    paths = [made[0], crash, *made[2:]]
    pool = _Pool(2, Settings(extractor="layout"))

    async def all_of_them() -> list[object]:
        return await asyncio.gather(*(pool.run(reads_unless_named_crash, p, file_sha256(p)) for p in paths))

    try:
        results = asyncio.run(all_of_them())
    finally:
        pool.close()
    by_name = {Path(r.path).name: r for r in results if isinstance(r, FileResult)}
    assert len(by_name) == len(paths)
    failure = by_name.pop("crash.pdf").failure
    assert failure is not None and failure.reason == "crashed"
    assert all(r.extraction is not None and r.failure is None for r in by_name.values())

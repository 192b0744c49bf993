"""The LLM extractor over real HTTP: a scripted chat-completions server on 127.0.0.1, the real openai
client and instructor, real PDFs. Each test scripts what the "model" says and asserts what the
pipeline made of it, and how many requests it took.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from chatserver import ChatServer, Drop, Recorded, Reply, Stall, Status, Step
from conftest import FORMS, ROOT, label_of, reading_of
from typer.testing import CliRunner

from pipeline.cli import app
from pipeline.exceptions import ConfigurationError, ExitCode, LlmError
from pipeline.llm.extractor import LlmExtractor, split_sections
from pipeline.llm.prompts import PROMPTS, load_prompt
from pipeline.result import Extraction
from pipeline.run import Reading, extract_reading_llm
from pipeline.settings import Settings

CHONGMING = "sh-chongming-2023-project"  # two forms, no finding at all in its label
INDICATOR_FIELDS = ("indicators", "level1_weights", "total_weight", "total_score", "grade")


def settings_for(server: ChatServer, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "llm_model": "test-model",
        "llm_base_url": server.url,
        "cache_dir": tmp_path / "cache",
        "llm_backoff": 0.01,
        "llm_timeout": 5.0,
    }
    values.update(overrides)
    return Settings(**values)


def extract(reading: Reading, settings: Settings, hybrid: bool = False) -> Extraction:
    async def go() -> Extraction:
        async with LlmExtractor(settings) as llm:
            return await extract_reading_llm(reading, llm, hybrid=hybrid)

    return asyncio.run(go())


def forms_of(fixture_id: str) -> list[dict[str, Any]]:
    forms: list[dict[str, Any]] = label_of(fixture_id)["forms"]
    return forms


def answer_by_form(fixture_id: str, delay: float = 0.0) -> Any:
    """A responder that answers each request with the label of the form whose pages it carries."""
    forms = forms_of(fixture_id)

    def respond(request: Recorded) -> Step:
        text = request.last_user_text

        def evidence(form: dict[str, Any]) -> tuple[int, int]:
            name = form["project_name"] or form["department"]
            return (len(name) if name in text else 0, sum(row["level3"] in text for row in form["indicators"]))

        form = max(forms, key=evidence)
        if evidence(form) == (0, 0):
            return Status(400, "no form of the fixture in this request")
        if _tool(request) == "IndicatorTable":
            return Reply({key: form[key] for key in INDICATOR_FIELDS}, delay=delay)
        if "leave `indicators` empty" in text:
            return Reply({**form, "indicators": [], "total_weight": None, "total_score": None}, delay=delay)
        return Reply(form, delay=delay)

    return respond


def _tool(request: Recorded) -> str | None:
    tools = request.body.get("tools")
    return tools[0]["function"]["name"] if tools else None


def contract(result: Extraction) -> list[dict[str, Any]]:
    forms: list[dict[str, Any]] = result.contract()["forms"]
    return forms


# --- right answers, in every mode ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "shape"),
    [("tools", "tools"), ("json_schema", "json_schema"), ("json", "json"), ("md_json", "text")],
)
def test_a_right_answer_in_each_mode(chat_server: ChatServer, tmp_path: Path, mode: str, shape: str) -> None:
    chat_server.responder = answer_by_form(CHONGMING)
    result = extract(reading_of(CHONGMING, "native"), settings_for(chat_server, tmp_path, llm_mode=mode))

    assert contract(result) == forms_of(CHONGMING)
    assert result.status == "ok" and not [f for f in result.findings if f.severity != "info"]
    assert len(chat_server.requests) == 2 and chat_server.unexpected == 0
    assert {r.mode for r in chat_server.requests} == {shape}
    body = chat_server.requests[0].body
    assert body["model"] == "test-model" and body["temperature"] == 0 and body["seed"] == 0
    if mode == "tools":
        assert body["tools"][0]["function"]["name"] == "AssessmentForm"
        assert "indicators" in body["tools"][0]["function"]["parameters"]["properties"]
    if mode == "json_schema":
        assert "indicators" in json.dumps(body["response_format"]["json_schema"])


def test_the_request_carries_the_prompt_files_and_the_rendered_tables(chat_server: ChatServer, tmp_path: Path) -> None:
    chat_server.responder = answer_by_form(CHONGMING)
    result = extract(
        reading_of(CHONGMING, "native"), settings_for(chat_server, tmp_path, concurrency=1)
    )  # form 1 first

    prompt = load_prompt("v1")
    messages = chat_server.requests[0].messages
    assert messages[0]["content"].startswith(prompt.system.strip())  # instructor may append a schema note
    user = chat_server.requests[0].last_user_text
    assert user.startswith("Copy this form into the record.") and "{{" not in user
    assert "<table>" in user and "rowspan=" in user and "## page 1" in user
    assert result.extractor == "llm:test-model"
    assert result.llm is not None
    assert (result.llm.prompt, result.llm.prompt_sha256) == ("v1", prompt.sha256)
    assert result.llm.mode == "tools" and result.llm.endpoint.startswith("127.0.0.1:")
    usage = result.llm.usage
    assert (usage.forms, usage.requests, usage.retries, usage.reasks, usage.cache_hits) == (2, 2, 0, 0, 0)
    assert usage.prompt_tokens > 1000 and usage.completion_tokens > 500  # the server's counts, summed
    assert usage.cost is None  # no price for test-model, never a made-up one


def test_cost_is_estimated_from_a_price_table_and_never_guessed(chat_server: ChatServer, tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('currency = "CNY"\n[models."test-model"]\ninput = 2.0\noutput = 8.0\n', encoding="utf-8")
    form = forms_of("inv-zhejiang-2024-split")
    usage = {"prompt_tokens": 4000, "completion_tokens": 1000, "total_tokens": 5000}
    chat_server.script(Reply(form[0], usage=usage), Reply(form[1], usage=usage))
    reading = reading_of("inv-zhejiang-2024-split", "native")
    result = extract(reading, settings_for(chat_server, tmp_path, llm_prices=prices, cache=False, concurrency=1))
    assert result.llm is not None
    priced = result.llm.usage
    assert (priced.prompt_tokens, priced.completion_tokens) == (8000, 2000)
    assert (priced.cost, priced.currency) == (pytest.approx(2 * (4000 * 2.0 + 1000 * 8.0) / 1e6), "CNY")

    chat_server.script(Reply(form[0], usage=usage), Reply(form[1], usage={}))  # one reply without a count
    result = extract(reading, settings_for(chat_server, tmp_path, llm_prices=prices, cache=False, concurrency=1))
    assert result.llm is not None and result.llm.usage.cost is None and not result.llm.usage.tokens_known


def test_a_run_answered_partly_from_the_cache_still_has_a_cost(chat_server: ChatServer, tmp_path: Path) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."test-model"]\ninput = 1.0\noutput = 1.0\n', encoding="utf-8")
    usage = {"prompt_tokens": 1000, "completion_tokens": 500, "total_tokens": 1500}
    form = forms_of("inv-zhejiang-2024-split")
    reading = reading_of("inv-zhejiang-2024-split", "native")
    settings = settings_for(chat_server, tmp_path, llm_prices=prices, concurrency=1)
    chat_server.script(Reply(form[0], usage=usage), Reply(form[1], usage=usage))
    first = extract(reading, settings)
    second = extract(reading, settings)  # every form from the cache: no tokens, no cost, but a known one
    assert first.llm is not None and second.llm is not None
    assert first.llm.usage.cost == pytest.approx(0.003)
    assert (second.llm.usage.cache_hits, second.llm.usage.cost, second.llm.usage.currency) == (2, 0.0, "USD")


# --- re-asks: the checks and the schema -----------------------------------------------------------


def test_a_hallucinated_total_is_caught_by_the_checks_and_corrected_by_a_reask(
    chat_server: ChatServer, tmp_path: Path
) -> None:
    good = forms_of(CHONGMING)
    bad = copy.deepcopy(good[0])
    bad["total_score"] = round(bad["total_score"] - 3.5, 2)
    chat_server.script(Reply(bad), Reply(good[0]), Reply(good[1]))
    result = extract(reading_of(CHONGMING, "native"), settings_for(chat_server, tmp_path, concurrency=1))

    assert contract(result) == good
    assert result.status == "ok"
    assert len(chat_server.requests) == 3
    reask = chat_server.requests[1].messages[-1]
    assert "total_score" in json.dumps(reask, ensure_ascii=False) and "never change" in json.dumps(reask)
    assert [(f.code, f.path) for f in result.findings] == [("llm_reasked", "forms[0]")]
    assert result.llm is not None and result.llm.usage.reasks == 1 and result.llm.usage.requests == 3


def test_a_value_not_in_the_page_text_stays_as_an_error_when_the_model_insists(
    chat_server: ChatServer, tmp_path: Path
) -> None:
    good = forms_of(CHONGMING)
    invented = copy.deepcopy(good[1])
    invented["implementing_unit"] = "绿洲鲸鱼研究所"
    chat_server.script(Reply(good[0]), Reply(invented), Reply(invented))
    result = extract(reading_of(CHONGMING, "native"), settings_for(chat_server, tmp_path, concurrency=1))

    assert len(chat_server.requests) == 3  # asked once about it; the same value again ends the conversation
    assert result.forms[1].implementing_unit == "绿洲鲸鱼研究所"  # kept as the model said, not "fixed"
    errors = [(f.code, f.path) for f in result.findings if f.severity == "error"]
    assert errors == [("not_in_source", "forms[1].implementing_unit")]
    assert result.status == "needs_review"


def test_a_changing_hallucination_is_reasked_until_the_limit(chat_server: ChatServer, tmp_path: Path) -> None:
    form = forms_of("inv-sichuan-2024-department")[0]
    replies = []
    for n in range(4):
        wrong = copy.deepcopy(form)
        wrong["department"] = f"虚构单位{n}"
        replies.append(Reply(wrong))
    chat_server.script(*replies)
    settings = settings_for(chat_server, tmp_path, llm_reasks=2)
    result = extract(reading_of("inv-sichuan-2024-department", "native"), settings)

    assert len(chat_server.requests) == 3 and chat_server.unexpected == 0  # 1 + 2 re-asks, no more
    assert result.forms[0].department == "虚构单位2"
    assert ("not_in_source", "forms[0].department") in [(f.code, f.path) for f in result.findings]


def test_broken_json_then_a_good_answer(chat_server: ChatServer, tmp_path: Path) -> None:
    good = forms_of(CHONGMING)
    chat_server.script(Reply('{"form_type": "project", "year": 20'), Reply(good[0]), Reply(good[1]))
    result = extract(reading_of(CHONGMING, "native"), settings_for(chat_server, tmp_path, concurrency=1))

    assert contract(result) == good
    assert len(chat_server.requests) == 3
    assert result.llm is not None and result.llm.usage.reasks == 1


def test_a_reply_that_never_fits_the_schema_leaves_the_form_out(chat_server: ChatServer, tmp_path: Path) -> None:
    chat_server.script(*[Reply({"form_type": "项目", "year": "last year"})] * 3)
    result = extract(reading_of("inv-sichuan-2024-department", "native"), settings_for(chat_server, tmp_path))

    assert len(chat_server.requests) == 3 and result.forms == []
    assert [(f.code, f.severity, f.path) for f in result.findings] == [("llm_invalid_reply", "error", "spans[0]")]
    assert result.status == "needs_review"


# --- transport faults: each retried once, then success ---------------------------------------------


@pytest.mark.parametrize(
    ("fault", "counter"),
    [
        (Status(429, "slow down", headers={"Retry-After": "1"}), "throttled"),
        (Status(500, "boom"), "server_errors"),
        (Status(503, "overloaded"), "server_errors"),
        (Stall(10), "timeouts"),
        (Drop(), "dropped"),
    ],
    ids=["429", "500", "503", "timeout", "dropped"],
)
def test_a_transient_fault_is_retried_then_succeeds(
    chat_server: ChatServer, tmp_path: Path, fault: Step, counter: str
) -> None:
    form = forms_of("inv-zhejiang-2024-split")
    chat_server.script(fault, Reply(form[0]), Reply(form[1]))
    settings = settings_for(chat_server, tmp_path, llm_timeout=0.5, concurrency=1)
    started = time.monotonic()

    async def go() -> tuple[Extraction, Any]:
        async with LlmExtractor(settings) as llm:
            return await extract_reading_llm(reading_of("inv-zhejiang-2024-split", "native"), llm), llm.stats

    result, stats = asyncio.run(go())
    elapsed = time.monotonic() - started

    assert contract(result) == form
    assert len(chat_server.requests) == 3 and chat_server.unexpected == 0
    assert stats.retries == 1 and getattr(stats, counter) == 1
    assert result.llm is not None and result.llm.usage.retries == 1 and result.llm.usage.requests == 3
    assert result.llm.usage.reasks == 0  # a retry is not a re-ask: the model never saw the failure
    if counter == "throttled":
        assert elapsed >= 1.0  # Retry-After: 1 was honoured


def test_retries_stop_at_the_attempt_limit_with_a_clear_error(chat_server: ChatServer, tmp_path: Path) -> None:
    chat_server.script(*[Status(503, "overloaded")] * 3)
    settings = settings_for(chat_server, tmp_path, llm_attempts=3)
    with pytest.raises(LlmError, match="answered 503 after retries: overloaded") as raised:
        extract(reading_of("inv-sichuan-2024-department", "native"), settings)
    assert len(chat_server.requests) == 3 and chat_server.unexpected == 0
    assert raised.value.exit_code == ExitCode.llm


@pytest.mark.parametrize(
    ("status", "message"),
    [(401, "refused the API key"), (403, "refused the API key"), (404, "model 'test-model'"), (400, "rejected")],
)
def test_a_refused_key_or_unknown_model_fails_at_once(
    chat_server: ChatServer, tmp_path: Path, status: int, message: str
) -> None:
    chat_server.script(Status(status, "The model `test-model` does not exist or you do not have access to it."))
    with pytest.raises(ConfigurationError, match=message):
        extract(reading_of("inv-sichuan-2024-department", "native"), settings_for(chat_server, tmp_path))
    assert len(chat_server.requests) == 1


# --- cache -----------------------------------------------------------------------------------------


def test_a_second_run_is_answered_from_the_cache(chat_server: ChatServer, tmp_path: Path) -> None:
    chat_server.responder = answer_by_form(CHONGMING)
    reading = reading_of(CHONGMING, "native")
    first = extract(reading, settings_for(chat_server, tmp_path))
    assert len(chat_server.requests) == 2

    second = extract(reading, settings_for(chat_server, tmp_path))
    assert len(chat_server.requests) == 2  # no request at all
    assert contract(second) == contract(first) and second.findings == first.findings
    assert second.llm is not None and second.llm.usage.cache_hits == 2 and second.llm.usage.requests == 0

    extract(reading, settings_for(chat_server, tmp_path, cache=False))
    assert len(chat_server.requests) == 4

    extract(reading, settings_for(chat_server, tmp_path, llm_mode="json_schema"))  # another mode: another key
    assert len(chat_server.requests) == 6


def test_a_changed_prompt_misses_the_cache(chat_server: ChatServer, tmp_path: Path) -> None:
    chat_server.responder = answer_by_form(CHONGMING)
    reading = reading_of(CHONGMING, "native")
    extract(reading, settings_for(chat_server, tmp_path))
    edited = tmp_path / "v1-edited"
    shutil.copytree(PROMPTS / "v1", edited)
    (edited / "system.md").write_text(load_prompt("v1").system + "\nBe brief.\n", encoding="utf-8")

    result = extract(reading, settings_for(chat_server, tmp_path, prompt=str(edited)))
    assert len(chat_server.requests) == 4
    assert result.llm is not None and result.llm.prompt_sha256 != load_prompt("v1").sha256
    assert chat_server.requests[-1].messages[0]["content"].startswith(load_prompt("v1").system + "\nBe brief.")


def test_a_failed_reply_is_not_cached(chat_server: ChatServer, tmp_path: Path) -> None:
    chat_server.script(*[Reply("not json")] * 3)
    reading = reading_of("inv-sichuan-2024-department", "native")
    extract(reading, settings_for(chat_server, tmp_path))
    chat_server.script(Reply(forms_of("inv-sichuan-2024-department")[0]))
    result = extract(reading, settings_for(chat_server, tmp_path, llm_reasks=0))
    assert len(chat_server.requests) == 4 and len(result.forms) == 1


# --- concurrency -----------------------------------------------------------------------------------


@pytest.mark.parametrize("limit", [1, 3])
def test_forms_are_sent_concurrently_up_to_the_limit(chat_server: ChatServer, tmp_path: Path, limit: int) -> None:
    fixture = "sh-minhang-wujing-2024-project"  # ten forms
    chat_server.responder = answer_by_form(fixture, delay=0.2)
    result = extract(reading_of(fixture, "native"), settings_for(chat_server, tmp_path, concurrency=limit))

    assert chat_server.max_in_flight == limit
    assert len(result.forms) == 10
    assert [f["project_name"] for f in contract(result)] == [f["project_name"] for f in forms_of(fixture)]


# --- long forms ------------------------------------------------------------------------------------


def test_a_long_form_is_sent_in_two_parts_and_merged(chat_server: ChatServer, tmp_path: Path) -> None:
    chat_server.responder = answer_by_form(CHONGMING)
    result = extract(reading_of(CHONGMING, "native"), settings_for(chat_server, tmp_path, llm_max_chars=1000))

    assert contract(result) == forms_of(CHONGMING)
    assert len(chat_server.requests) == 4
    tools = sorted(_tool(r) or "" for r in chat_server.requests)
    assert tools == ["AssessmentForm", "AssessmentForm", "IndicatorTable", "IndicatorTable"]
    for request in chat_server.requests:
        text = request.last_user_text
        if _tool(request) == "IndicatorTable":
            assert "三级指标" in text and "项目资金" not in text
        else:
            assert "项目资金" in text and "三级指标" not in text


def test_split_sections_reopens_the_table_under_its_page() -> None:
    rendered = "## page 2\n\ntitle\n<table>\n<tr><td>资金</td></tr>\n<tr><td>一级指标</td></tr>\n</table>"
    parts = split_sections(rendered)
    assert parts == (
        "## page 2\n\ntitle\n<table>\n<tr><td>资金</td></tr>\n</table>",
        "## page 2\n\n<table>\n<tr><td>一级指标</td></tr>\n</table>",
    )
    assert split_sections("## page 1\n\n<table>\n<tr><td>资金</td></tr>\n</table>") is None


# --- hybrid ----------------------------------------------------------------------------------------


def test_hybrid_keeps_agreement_and_reports_disagreement(chat_server: ChatServer, tmp_path: Path) -> None:
    good = forms_of(CHONGMING)
    wrong = copy.deepcopy(good[0])
    wrong["funds"][0]["executed"] = round(wrong["funds"][0]["executed"] + 1000, 2)
    chat_server.script(Reply(wrong), Reply(wrong), Reply(good[1]))  # the model stands by its misreading
    result = extract(reading_of(CHONGMING, "native"), settings_for(chat_server, tmp_path, concurrency=1), hybrid=True)

    assert result.extractor == "hybrid:test-model"
    assert contract(result) == good  # the layout value, printed and adding up, was kept
    disagreements = [f for f in result.findings if f.code == "extractors_disagree"]
    assert [f.path for f in disagreements] == ["forms[0].funds[0].executed"]
    assert disagreements[0].found == str(wrong["funds"][0]["executed"]).removesuffix(".0")
    assert result.status == "ok"
    assert any(path.startswith("forms[1].") for path in result.provenance)  # layout provenance kept


def test_hybrid_provenance_follows_rows_that_moved(chat_server: ChatServer, tmp_path: Path) -> None:
    """A row only the model gave shifts every later row: each box kept must still be the cell of its value."""
    good = forms_of(CHONGMING)
    doubled = copy.deepcopy(good[0])
    doubled["indicators"].insert(1, copy.deepcopy(doubled["indicators"][1]))  # printed, so the merge keeps it
    chat_server.script(Reply(doubled), Reply(doubled), Reply(good[1]))  # asked about the sums, it insists
    result = extract(reading_of(CHONGMING, "native"), settings_for(chat_server, tmp_path, concurrency=1), hybrid=True)

    assert len(result.forms[0].indicators) == len(good[0]["indicators"]) + 1
    checked = 0
    for path, src in result.provenance.items():
        if not path.startswith("forms[0].indicators[") or not path.endswith(".level3"):
            continue
        row = int(path.split("[")[2].split("]")[0])
        assert result.forms[0].indicators[row].level3 == "".join(src.text.split()), path
        checked += 1
    assert checked == len(good[0]["indicators"])  # every layout row kept its box; the extra row has none


# --- command line ----------------------------------------------------------------------------------


def test_the_cli_extracts_with_a_model_and_reports_usage(
    chat_server: ChatServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JIXIAO_CACHE_DIR", str(tmp_path / "cache"))
    chat_server.responder = answer_by_form(CHONGMING)
    pdf = FORMS / CHONGMING / "native.pdf"
    args = ["extract", "--extractor", "llm", "--base-url", chat_server.url, "--model", "test-model", str(pdf)]
    result = CliRunner().invoke(app, args)

    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["llm"]["prompt"] == "v1" and document["llm"]["usage"]["requests"] == 2
    assert document["forms"] == forms_of(CHONGMING)
    assert "extractor: test-model at 127.0.0.1" in result.stderr and "tokens" in result.stderr


def test_the_cli_without_a_model_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    pdf = FORMS / CHONGMING / "native.pdf"
    result = CliRunner().invoke(app, ["extract", "--extractor", "llm", str(pdf)])
    assert result.exit_code == ExitCode.config
    assert result.stderr.strip() == "error: the llm extractor needs a model: set JIXIAO_LLM_MODEL or pass --model"


def test_the_cli_stops_a_batch_on_a_refused_key(chat_server: ChatServer, tmp_path: Path) -> None:
    chat_server.script(Status(401, "Incorrect API key provided"))
    pdfs = [str(FORMS / fixture / "native.pdf") for fixture in ("inv-sichuan-2024-department", CHONGMING)]
    options = ["--extractor", "llm", "--base-url", chat_server.url, "--model", "m", "--no-cache", "--concurrency", "1"]
    args = ["extract", *options, *pdfs]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == ExitCode.config
    assert "refused the API key (401)" in result.stderr and result.stderr.count("error:") == 1
    assert len(chat_server.requests) == 1


def test_the_console_script_against_a_local_server(chat_server: ChatServer, tmp_path: Path) -> None:
    """The installed ``jixiao`` in its own process, configured by environment variables only."""
    chat_server.responder = answer_by_form(CHONGMING)
    env = _console_env(chat_server, tmp_path, JIXIAO_LLM_MODE="json_schema")
    jixiao = Path(sys.executable).with_name("jixiao")
    out = tmp_path / "out.json"
    done = subprocess.run(
        [str(jixiao), "extract", str(FORMS / CHONGMING / "native.pdf"), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["extractor"] == "llm:local-model" and document["forms"] == forms_of(CHONGMING)
    assert {r.mode for r in chat_server.requests} == {"json_schema"}


def test_a_run_killed_mid_way_keeps_every_reply_it_had(chat_server: ChatServer, tmp_path: Path) -> None:
    """kill -9 while the second form waits on the model: the rerun asks only for the second form."""
    forms = forms_of(CHONGMING)
    chat_server.script(Reply(forms[0]), Stall(60))
    env = _console_env(chat_server, tmp_path, JIXIAO_CONCURRENCY="1")
    command = [str(Path(sys.executable).with_name("jixiao")), "extract", str(FORMS / CHONGMING / "native.pdf")]
    process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(chat_server.requests) < 2 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        assert len(chat_server.requests) == 2, "the second form's request never arrived"
    finally:
        process.kill()
        process.wait()

    chat_server.script(Reply(forms[1]))
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["forms"] == forms
    assert len(chat_server.requests) == 3 and chat_server.unexpected == 0
    assert forms[1]["project_name"] in chat_server.requests[2].last_user_text


def _console_env(server: ChatServer, tmp_path: Path, **more: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JIXIAO_", "OPENAI_"))}
    env.update(JIXIAO_LLM_BASE_URL=server.url, JIXIAO_CACHE_DIR=str(tmp_path / "cache"), JIXIAO_LLM_MODEL="local-model")
    env.update(more)
    return env


# --- prompts ---------------------------------------------------------------------------------------


def test_prompt_versions_are_folders_and_their_hash_follows_every_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no prompt 'v9'"):
        load_prompt("v9")
    folder = tmp_path / "p"
    shutil.copytree(PROMPTS / "v1", folder)
    base = load_prompt(str(folder)).sha256
    assert base == load_prompt("v1").sha256
    for name in ("reask.md", "part_header.md"):
        changed = tmp_path / f"p-{name}"
        shutil.copytree(PROMPTS / "v1", changed)
        (changed / name).write_text((changed / name).read_text(encoding="utf-8") + ".", encoding="utf-8")
        assert load_prompt(str(changed)).sha256 != base
    broken = tmp_path / "broken"
    shutil.copytree(PROMPTS / "v1", broken)
    (broken / "user.md").write_text("no placeholder", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"user.md lacks the placeholder \{\{pages\}\}"):
        load_prompt(str(broken))

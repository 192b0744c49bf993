"""The LLM extractor: one instructor-constrained call per form, checked, re-asked, cached.

For each form the pages are rendered with their layout (``render_form``: free
lines, tables as HTML rows with merged cells), put into the prompt version's user
message, and sent to any OpenAI-compatible endpoint through ``instructor``, which
constrains the reply to the ``Form`` schema (tool calling, a JSON schema, or JSON).

The reply is validated twice: by the schema, and by the deterministic checks
(sums, rates, scores within weights, values found in the page text). Failures go
back to the model as instructor re-asks, at most ``llm_reasks`` times. A re-ask
asks the model to look again, not to agree: a sum, rate or score that does not
add up is asked about once per place (the form itself may not add up), a value
not printed on the pages each time it is a new value. What is still wrong after
that stays in the output as findings.

A form whose rendering is longer than ``llm_max_chars`` is sent in two parts:
header, money table and goals; then the indicator table. The parts are merged.

Replies are cached on disk (``diskcache``, SQLite: a crash mid-write loses at
most that entry) under a key of endpoint, model, prompt hash, schema hash, mode,
sampling and the exact messages, so re-running an unchanged prompt over
unchanged files makes no request at all.
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import json
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import urlsplit

import diskcache
import httpx2
import instructor
import openai
from instructor.core.exceptions import InstructorRetryException
from instructor.v2.core.hooks import Hooks
from pydantic import BaseModel, Field, ValidationInfo, model_validator

from pipeline.checks import SourceText, check_form, source_text
from pipeline.checks._base import finding
from pipeline.exceptions import ConfigurationError, LlmError
from pipeline.llm.prompts import Prompt, load_prompt
from pipeline.llm.transport import RetryingTransport, RetryStats
from pipeline.llm.usage import LlmRun, Price, Usage, price_of
from pipeline.page import Page
from pipeline.render import render_form
from pipeline.result import Finding, FormResult
from pipeline.schema import Form, Indicator, Number, Text
from pipeline.segment import FormSpan
from pipeline.settings import Settings
from pipeline.tables import Grid

__all__ = ["AssessmentForm", "IndicatorTable", "LlmExtractor", "split_sections"]

MODES = {
    "tools": instructor.Mode.TOOLS,
    "json_schema": instructor.Mode.JSON_SCHEMA,
    "json": instructor.Mode.JSON,
    "md_json": instructor.Mode.MD_JSON,
}
# Retry statistics of the form whose call is running in this task (the transport is shared).
# instructor logs every failed attempt at ERROR; jixiao reports them as findings and usage instead.
logging.getLogger("instructor").addHandler(logging.NullHandler())
logging.getLogger("instructor").propagate = False
_FORM_STATS: contextvars.ContextVar[RetryStats | None] = contextvars.ContextVar("form_stats", default=None)
_INDICATOR_FIELDS = ("indicators", "level1_weights", "total_weight", "total_score", "grade")
_HEADER_FIELDS = tuple(name for name in Form.model_fields if name not in _INDICATOR_FIELDS)


@dataclass
class _Review:
    """The deterministic checks as a validator: what to tell the model, and when to stop asking."""

    source: SourceText | None
    prompt: Prompt
    last_attempt: int
    scope: tuple[str, ...] | None = None  # only findings under these paths (a part of a split form)
    header: dict[str, Any] | None = None  # a split form's header part, to judge its indicator part within
    attempts: int = 0
    seen: set[tuple[str, str | None, str | None]] = field(default_factory=set)  # errors already asked about
    asked: list[Finding] = field(default_factory=list)

    def judge(self, form: Form) -> None:
        """Raise with the re-ask message if the checks find an error the model has not yet stood by."""
        errors = [f for f in check_form(form, self.source) if f.severity == "error" and self._in_scope(f.path)]
        new = [f for f in errors if _signature(f) not in self.seen]
        self.seen.update(_signature(f) for f in errors)
        if not new or self.attempts >= self.last_attempt:
            return
        self.asked.extend(new)
        lines = "\n".join(f"- {f.path or 'form'}: {f.message}" for f in new)
        raise ValueError(self.prompt.reask_message(lines))

    def _in_scope(self, path: str | None) -> bool:
        return self.scope is None or any((path or "").startswith(prefix) for prefix in self.scope)


def _signature(f: Finding) -> tuple[str, str | None, str | None]:
    """What makes an error worth another question: a sum or rate once per place; a value not printed, per value."""
    return (f.code, f.path, f.found if f.code == "not_in_source" else None)


def _review_of(info: ValidationInfo) -> _Review | None:
    review = (info.context or {}).get("review")
    return review if isinstance(review, _Review) else None


class AssessmentForm(Form):
    """One 绩效自评表 exactly as printed: copy every value from the pages, never compute or guess one."""

    @model_validator(mode="after")
    def _checked(self, info: ValidationInfo) -> Self:
        review = _review_of(info)
        if review is not None:
            review.judge(self)
        return self


class IndicatorTable(BaseModel):
    """The indicator table (绩效指标) of one 绩效自评表 and its 总分 row, exactly as printed."""

    indicators: list[Indicator] = Field(description="Every row of the indicator table, top to bottom")
    level1_weights: dict[str, float] | None = Field(
        default=None, description="Weights printed beside a 一级指标 itself (department forms)"
    )
    total_weight: Number = Field(default=None, description="The 总分 / 合计 row's 分值")
    total_score: Number = Field(default=None, description="The 总分 / 合计 row's 得分")
    grade: Text = Field(default=None, description="评分等级 (优, 良, 中, 差) where printed")

    @model_validator(mode="after")
    def _checked(self, info: ValidationInfo) -> Self:
        review = _review_of(info)
        if review is not None:
            review.judge(_with_header(self, review.header))
        return self


def _with_header(table: IndicatorTable, header: dict[str, Any] | None) -> Form:
    """The indicator part inside its form's header part, or inside a form that claims nothing else."""
    base = header or {"form_type": "project", "year": 2000, "amount_unit": "元"}
    return Form.model_validate({**base, **table.model_dump()})


_TABLE_HEAD = re.compile(r"^<tr>.*(一级指标|三级指标)")


def split_sections(rendered: str) -> tuple[str, str] | None:
    """Split a rendered form before its indicator table's header row: (header part, indicator part).

    A split inside an HTML table closes the table in the first part and reopens it,
    under the same page heading, in the second. None when no indicator header is found.
    """
    lines = rendered.split("\n")
    at = next((i for i, line in enumerate(lines) if _TABLE_HEAD.search(line)), None)
    if at is None:
        return None
    heading = next((line for line in reversed(lines[:at]) if line.startswith("## page ")), "")
    inside = lines[:at].count("<table>") > lines[:at].count("</table>")
    head = "\n".join(lines[:at] + (["</table>"] if inside else []))
    tail = "\n".join([heading, ""] + (["<table>"] if inside else []) + lines[at:])
    return head, tail.strip("\n")


def _endpoint(base_url: str | None) -> str:
    parts = urlsplit(base_url or "https://api.openai.com/v1")
    return parts.hostname + (f":{parts.port}" if parts.port else "") if parts.hostname else "?"


def _schema_sha(*models: type[BaseModel]) -> str:
    schemas = [m.model_json_schema() for m in models]
    return hashlib.sha256(json.dumps(schemas, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class LlmExtractor:
    """Fills forms with a model behind an OpenAI-compatible endpoint; one instance per run.

    ``await extract_form(span, pages, grids)`` returns the form's ``FormResult`` and
    its ``Usage``; calls in flight are bounded by ``settings.concurrency``.
    """

    def __init__(self, settings: Settings) -> None:
        if not settings.llm_model:
            raise ConfigurationError("the llm extractor needs a model: set JIXIAO_LLM_MODEL or pass --model")
        self.settings = settings
        self.model = settings.llm_model
        self.prompt = load_prompt(settings.prompt)
        self.stats = RetryStats()
        transport = RetryingTransport(
            attempts=settings.llm_attempts,
            max_wait=settings.llm_max_wait,
            backoff=settings.llm_backoff,
            stats=self.stats,
            context_stats=_FORM_STATS,
        )
        timeout = httpx2.Timeout(settings.llm_timeout, connect=min(10.0, settings.llm_timeout))
        self.client = openai.AsyncOpenAI(
            base_url=settings.llm_base_url,
            api_key=settings.llm_api_key or "none",  # local servers take any key
            max_retries=0,  # one retry policy: the transport's
            timeout=timeout,
            http_client=openai.DefaultAsyncHttpxClient(transport=transport, timeout=timeout),
        )
        self.instructor = instructor.from_openai(self.client, mode=MODES[settings.llm_mode])
        self.price: Price | None = price_of(self.model, settings.llm_prices)
        self.run = LlmRun(
            model=self.model,
            endpoint=_endpoint(settings.llm_base_url),
            mode=settings.llm_mode,
            prompt=self.prompt.version,
            prompt_sha256=self.prompt.sha256,
            schema_sha256=_schema_sha(AssessmentForm, IndicatorTable),
        )
        self.cache = self._open_cache() if settings.cache else None
        self._limit = asyncio.Semaphore(settings.concurrency)
        self._last = settings.llm_reasks + 1  # the attempt whose reply stands, whatever the checks say
        self._refused: ConfigurationError | None = None  # a refused key or unknown model: no more requests

    def _open_cache(self) -> diskcache.Cache:
        folder = Path(self.settings.cache_dir) / "llm"
        try:
            return diskcache.Cache(str(folder), size_limit=2**32)
        except OSError as e:
            raise ConfigurationError(
                f"cannot open the cache in {folder}: {e} (set JIXIAO_CACHE_DIR or --no-cache)"
            ) from None

    async def aclose(self) -> None:
        await self.client.close()
        if self.cache is not None:
            self.cache.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def extract_form(
        self, span: FormSpan, pages: list[Page], grids: dict[int, list[Grid]]
    ) -> tuple[FormResult, Usage]:
        """Fill one form from its rendered pages; a reply that never fits the schema gives no form."""
        source = source_text(pages, span, grids)
        rendered = render_form(span, pages, grids)
        parts = split_sections(rendered) if len(rendered) > self.settings.llm_max_chars else None
        if parts is None:
            return await self._call(AssessmentForm, rendered, "", source, None)
        # In turn: the indicator part is checked inside the header part (the fund weight counts in 总分).
        header, header_usage = await self._call(AssessmentForm, parts[0], "header", source, _HEADER_FIELDS)
        known = None if header.form is None else header.form.model_dump(exclude=set(_INDICATOR_FIELDS))
        table, table_usage = await self._call(IndicatorTable, parts[1], "indicators", source, _INDICATOR_FIELDS, known)
        usage = header_usage.add(table_usage)
        findings = header.findings + table.findings
        if header.form is None or table.form is None:
            return FormResult(form=None, findings=findings), usage
        merged = {**header.form.model_dump(), **table.form.model_dump(include=set(_INDICATOR_FIELDS))}
        return FormResult(form=Form.model_validate(merged), findings=findings), usage

    def _messages(self, rendered: str, part: str) -> list[dict[str, str]]:
        return [
            {"role": "system", "content": self.prompt.system.strip()},
            {"role": "user", "content": self.prompt.user_message(rendered, part).strip()},
        ]

    def _key(self, model: type[BaseModel], messages: list[dict[str, str]]) -> str:
        settings = self.settings
        material = {
            "endpoint": self.run.endpoint,
            "model": self.model,
            "mode": settings.llm_mode,
            "prompt": self.prompt.sha256,
            "schema": self.run.schema_sha256,
            "response_model": model.__name__,
            "temperature": settings.llm_temperature,
            "seed": settings.llm_seed,
            "reasks": settings.llm_reasks,
            "messages": messages,
        }
        return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    async def _call(
        self,
        model: type[AssessmentForm] | type[IndicatorTable],
        rendered: str,
        part: str,
        source: SourceText,
        scope: tuple[str, ...] | None,
        header: dict[str, Any] | None = None,
    ) -> tuple[FormResult, Usage]:
        messages = self._messages(rendered, part)
        key = self._key(model, messages)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            cached = _Cached.model_validate_json(hit)
            return _as_result(model, cached.reply, cached.findings), Usage(forms=1, cache_hits=1).priced(self.price)
        async with self._limit:
            if self._refused is not None:
                raise self._refused
            reply, findings, usage = await self._ask(
                model, messages, _Review(source, self.prompt, self._last, scope, header)
            )
        if reply is not None and self.cache is not None:
            self.cache.set(key, _Cached(reply=reply, findings=findings).model_dump_json())
        return _as_result(model, reply, findings), usage.priced(self.price)

    async def _ask(
        self,
        model: type[AssessmentForm] | type[IndicatorTable],
        messages: list[dict[str, str]],
        review: _Review,
    ) -> tuple[dict[str, Any] | None, list[Finding], Usage]:
        """One form's conversation with the model: the first request and its re-asks."""
        settings = self.settings
        usage = Usage(forms=1)
        hooks = Hooks()

        def on_response(response: Any) -> None:
            review.attempts += 1
            tokens = getattr(response, "usage", None)
            if tokens is None:
                usage.tokens_known = False
            else:
                usage.prompt_tokens += int(getattr(tokens, "prompt_tokens", 0) or 0)
                usage.completion_tokens += int(getattr(tokens, "completion_tokens", 0) or 0)

        hooks.on("completion:response", on_response)
        extra: dict[str, Any] = {"temperature": settings.llm_temperature}
        if settings.llm_seed is not None:
            extra["seed"] = settings.llm_seed
        stats = RetryStats()
        token = _FORM_STATS.set(stats)
        started = time.perf_counter()
        findings: list[Finding] = []
        reply: dict[str, Any] | None = None
        try:
            parsed = await self.instructor.create(
                model=self.model,
                response_model=model,
                messages=messages,  # type: ignore[arg-type]
                max_retries=settings.llm_reasks,
                context={"review": review},
                strict=False,
                hooks=hooks,
                **extra,
            )
            reply = parsed.model_dump(mode="json")
        except InstructorRetryException as e:
            cause = e.__cause__
            if isinstance(cause, openai.APIError):
                raise self._api_error(cause) from None
            message = str(cause or e).splitlines()
            findings.append(
                finding(
                    "llm_invalid_reply",
                    None,
                    f"the model's reply did not fit the schema after {e.n_attempts} attempt(s): "
                    + " ".join(message[:3])[:300],
                )
            )
        finally:
            _FORM_STATS.reset(token)
        if review.asked:
            summary = "; ".join(f"{f.path or 'form'} ({f.code})" for f in review.asked[:6])
            findings.append(finding("llm_reasked", None, f"re-asked {review.attempts - 1} time(s) about: {summary}"))
        usage.requests = stats.requests
        usage.retries = stats.retries
        usage.reasks = max(review.attempts - 1, 0)
        usage.seconds = round(time.perf_counter() - started, 3)
        return reply, findings, usage

    def _api_error(self, error: openai.APIError) -> Exception:
        """A clear one-line error: configuration problems stop the run, an unreachable model fails the file."""
        failure = self._failure(error)
        if isinstance(failure, ConfigurationError):
            self._refused = failure
        return failure

    def _failure(self, error: openai.APIError) -> Exception:
        endpoint = self.run.endpoint
        if isinstance(error, openai.AuthenticationError | openai.PermissionDeniedError):
            return ConfigurationError(f"{endpoint} refused the API key ({error.status_code}): check JIXIAO_LLM_API_KEY")
        if isinstance(error, openai.NotFoundError | openai.BadRequestError | openai.UnprocessableEntityError):
            detail = _detail(error)
            return ConfigurationError(
                f"{endpoint} rejected the request ({error.status_code}): {detail} "
                f"(model {self.model!r}, mode {self.settings.llm_mode})"
            )
        if isinstance(error, openai.APIStatusError):
            return LlmError(f"{endpoint} answered {error.status_code} after retries: {_detail(error)}")
        if isinstance(error, openai.APITimeoutError):
            return LlmError(f"{endpoint} did not answer within {self.settings.llm_timeout:g}s, after retries")
        return LlmError(f"cannot reach {endpoint}: {error.message}")


def _detail(error: openai.APIError) -> str:
    body = error.body
    if isinstance(body, dict):
        nested = body.get("error", body)
        if isinstance(nested, dict) and nested.get("message"):
            return str(nested["message"])[:200]
    return error.message[:200]


class _Cached(BaseModel):
    """What the cache keeps per call: the validated reply and the re-ask findings."""

    reply: dict[str, Any]
    findings: list[Finding]


def _as_result(
    model: type[AssessmentForm] | type[IndicatorTable], reply: dict[str, Any] | None, findings: list[Finding]
) -> FormResult:
    if reply is None:
        return FormResult(form=None, findings=findings)
    if model is IndicatorTable:  # a part of a split form: its fields travel in a form that claims nothing else
        return FormResult(form=_with_header(IndicatorTable.model_validate(reply), None), findings=findings)
    # The cache key holds the schema's hash, so a cached reply always fits the schema it was validated by.
    return FormResult(form=Form.model_validate(reply), findings=findings)

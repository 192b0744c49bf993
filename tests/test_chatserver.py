"""The scripted chat server, proven with the real openai client (and instructor) over 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import instructor
import openai
import pytest
from chatserver import ChatServer, Drop, Recorded, Reply, Stall, Status, Step
from pydantic import BaseModel

USER = [{"role": "user", "content": "Rex is 3"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "Pet",
        "parameters": {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}},
    },
}


class Pet(BaseModel):
    name: str
    age: int


@pytest.fixture
def client(chat_server: ChatServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=chat_server.url, api_key="test", max_retries=0, timeout=5) as client:
        yield client


def ask(client: openai.OpenAI, **extra: Any) -> Any:
    return client.chat.completions.create(model="m", messages=USER, **extra)  # type: ignore[call-overload]


def test_text_reply_is_the_content(chat_server: ChatServer, client: openai.OpenAI) -> None:
    chat_server.script(Reply({"名称": "一网统管"}))
    completion = ask(client)
    assert json.loads(completion.choices[0].message.content) == {"名称": "一网统管"}
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "m"
    text = '{"名称": "一网统管"}'
    assert completion.usage.model_dump(include={"prompt_tokens", "completion_tokens", "total_tokens"}) == {
        "prompt_tokens": len("Rex is 3"),
        "completion_tokens": len(text),
        "total_tokens": len("Rex is 3") + len(text),
    }
    recorded = chat_server.requests[0]
    assert (recorded.mode, recorded.last_user_text, recorded.headers["authorization"]) == (
        "text",
        "Rex is 3",
        "Bearer test",
    )
    assert recorded.finished is not None and recorded.finished >= recorded.started


def test_tool_reply_is_a_call_of_the_requested_tool(chat_server: ChatServer, client: openai.OpenAI) -> None:
    other = {"type": "function", "function": {"name": "Other", "parameters": {"type": "object"}}}
    chat_server.script(Reply({"name": "Rex", "age": 3}), Reply("{broken", usage={"prompt_tokens": 1}))
    completion = ask(client, tools=[other, TOOL], tool_choice={"type": "function", "function": {"name": "Pet"}})
    message = completion.choices[0].message
    assert message.content is None and completion.choices[0].finish_reason == "tool_calls"
    (call,) = message.tool_calls
    assert (call.id, call.function.name) == ("call_0", "Pet")
    assert json.loads(call.function.arguments) == {"name": "Rex", "age": 3}
    assert completion.usage.prompt_tokens == len("Rex is 3") + len(json.dumps([other, TOOL]))
    assert chat_server.requests[0].mode == "tools"

    second = ask(client, tools=[other, TOOL])  # no tool_choice: the first tool is called
    assert second.choices[0].message.tool_calls[0].function.name == "Other"
    assert second.choices[0].message.tool_calls[0].function.arguments == "{broken"
    assert second.usage.prompt_tokens == 1


def test_empty_usage_sends_none(chat_server: ChatServer, client: openai.OpenAI) -> None:
    chat_server.script(Reply("x", usage={}))
    assert ask(client).usage is None


def test_recorded_texts_and_modes() -> None:
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "a"},
        {"role": "user", "content": [{"type": "text", "text": "b"}, {"type": "image_url", "image_url": {}}]},
    ]
    recorded = Recorded(0, {"messages": messages, "response_format": {"type": "json_object"}}, {}, 0.0)
    assert (recorded.user_text, recorded.last_user_text, recorded.mode) == ("a\nb", "b", "json")
    assert Recorded(0, {"response_format": {"type": "json_schema"}}, {}, 0.0).mode == "json_schema"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (Status(429, "slow down", headers={"Retry-After": "1"}), openai.RateLimitError),
        (Status(500), openai.InternalServerError),
        (Status(401), openai.AuthenticationError),
        (Status(400), openai.BadRequestError),
    ],
)
def test_status_raises_the_openai_error(
    chat_server: ChatServer, client: openai.OpenAI, status: Status, error: type[openai.APIStatusError]
) -> None:
    chat_server.script(status)
    with pytest.raises(error) as caught:
        ask(client)
    assert caught.value.status_code == status.code
    if status.headers:
        assert caught.value.response.headers["retry-after"] == "1"
        assert caught.value.body == {
            "message": "slow down",
            "type": "rate_limit_exceeded",
            "param": None,
            "code": "rate_limit_exceeded",
        }


def test_stall_times_out_and_the_server_serves_on(chat_server: ChatServer) -> None:
    chat_server.script(Stall(5), Reply("after"))
    with openai.OpenAI(base_url=chat_server.url, api_key="test", max_retries=0, timeout=0.5) as client:
        start = time.monotonic()
        with pytest.raises(openai.APITimeoutError):
            ask(client)
        assert time.monotonic() - start < 3
        assert ask(client).choices[0].message.content == "after"


def test_drop_is_a_connection_error_and_the_server_serves_on(chat_server: ChatServer, client: openai.OpenAI) -> None:
    chat_server.script(Reply("before"), Drop(), Reply("after"))
    assert ask(client).choices[0].message.content == "before"  # leaves a kept-alive connection to drop
    with pytest.raises(openai.APIConnectionError):
        ask(client)
    assert ask(client).choices[0].message.content == "after"
    assert len(chat_server.requests) == 3


def test_exhausted_script_is_418_and_counted(chat_server: ChatServer, client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        ask(client)
    assert caught.value.status_code == 418
    assert "script exhausted" in caught.value.message
    assert chat_server.unexpected == 1


def test_responder_answers_when_the_script_is_empty(chat_server: ChatServer, client: openai.OpenAI) -> None:
    def echo(recorded: Recorded) -> Step:
        if recorded.last_user_text == "fail":
            raise ValueError("no answer for fail")
        return Reply(recorded.last_user_text.upper())

    chat_server.responder = echo
    chat_server.script(Reply("scripted"))
    assert ask(client).choices[0].message.content == "scripted"
    assert ask(client).choices[0].message.content == "REX IS 3"
    with pytest.raises(openai.APIStatusError, match="no answer for fail"):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "fail"}])
    assert chat_server.unexpected == 0


def test_models_are_listed(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["chatserver"]


@pytest.mark.parametrize(("limit", "expected"), [(None, 4), (2, 2)])
def test_max_in_flight_counts_overlapping_requests(chat_server: ChatServer, limit: int | None, expected: int) -> None:
    chat_server.script(*[Reply(str(i), delay=0.3) for i in range(4)])

    async def run() -> list[str | None]:
        gate = asyncio.Semaphore(limit or 4)
        async with openai.AsyncOpenAI(base_url=chat_server.url, api_key="test", max_retries=0, timeout=5) as client:

            async def one() -> str | None:
                async with gate:
                    completion = await client.chat.completions.create(model="m", messages=USER)  # type: ignore[arg-type]
                    return completion.choices[0].message.content

            return list(await asyncio.gather(*[one() for _ in range(4)]))

    assert sorted(c or "" for c in asyncio.run(run())) == ["0", "1", "2", "3"]
    assert chat_server.max_in_flight == expected


@pytest.mark.parametrize("mode", [instructor.Mode.TOOLS, instructor.Mode.JSON_SCHEMA])
def test_instructor_extracts_through_the_server(chat_server: ChatServer, mode: instructor.Mode) -> None:
    chat_server.script(Reply({"name": "Rex", "age": 3}))
    with openai.OpenAI(base_url=chat_server.url, api_key="t", max_retries=0) as client:
        patched = instructor.from_openai(client, mode=mode)
        pet = patched.chat.completions.create(model="m", response_model=Pet, messages=USER, max_retries=0)  # type: ignore[arg-type]
    # instructor hands back a subclass of Pet (mixed with its ResponseSchema), so compare by value
    assert isinstance(pet, Pet) and pet.model_dump() == {"name": "Rex", "age": 3}
    body = chat_server.requests[0].body
    if mode is instructor.Mode.TOOLS:
        assert chat_server.requests[0].mode == "tools"
        assert body["tool_choice"] == {"type": "function", "function": {"name": "Pet"}}
        assert [t["function"]["name"] for t in body["tools"]] == ["Pet"]
    else:
        assert chat_server.requests[0].mode == "json_schema"
        assert body["response_format"]["json_schema"]["name"] == "Pet"
        assert set(body["response_format"]["json_schema"]["schema"]["properties"]) == {"name", "age"}

"""A scripted OpenAI chat-completions server on 127.0.0.1, for testing LLM clients over real HTTP.

Each ``POST /v1/chat/completions`` consumes the next scripted step, in arrival order:

- ``Reply(answer)``: a completion. ``answer`` is JSON-encoded unless it is a ``str`` (sent verbatim, so
  broken JSON can be scripted). If the request has ``tools``, the text becomes the arguments of a call
  to the requested tool; otherwise it is the message content.
- ``Status(code)``: an OpenAI-style error body with that HTTP status (and optional headers).
- ``Stall(seconds)``: send nothing for that long, then close the connection.
- ``Drop()``: close the connection without any response.

When the script is empty, ``responder`` (if set) chooses the step from the request; otherwise the
request counts as ``unexpected`` and gets ``418 chatserver: script exhausted``, which clients do not retry.
``GET /v1/models`` lists one model. All sleeping is cut short by ``stop()``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Reply:
    """A successful completion; ``usage`` overrides the counted one (``{}``: none sent), ``delay`` is slept first."""

    answer: dict[str, Any] | list[Any] | str
    usage: dict[str, int] | None = None
    delay: float = 0.0


@dataclass
class Status:
    """An error response with an OpenAI-style ``{"error": {...}}`` body."""

    code: int
    message: str = "chatserver: scripted error"
    headers: dict[str, str] | None = None
    delay: float = 0.0


@dataclass
class Stall:
    """Send nothing for ``seconds``, then close the connection."""

    seconds: float


@dataclass
class Drop:
    """Close the connection after reading the request, without any response."""


Step = Reply | Status | Stall | Drop


def _text_of(content: Any) -> str:
    """The text of a message content: a string, or the ``text`` of its text parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))
    return ""


@dataclass
class Recorded:
    """One chat-completions request as the server saw it; header names are lower-cased."""

    index: int
    body: dict[str, Any]
    headers: dict[str, str]
    started: float
    finished: float | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = self.body.get("messages", [])
        return messages

    @property
    def user_text(self) -> str:
        """The text of all user messages, joined by newlines."""
        return "\n".join(_text_of(m.get("content")) for m in self.messages if m.get("role") == "user")

    @property
    def last_user_text(self) -> str:
        users = [m for m in self.messages if m.get("role") == "user"]
        return _text_of(users[-1].get("content")) if users else ""

    @property
    def mode(self) -> str:
        """``tools``, ``json_schema``, ``json`` or ``text``: how the request asks to be answered."""
        if "tools" in self.body:
            return "tools"
        kind = (self.body.get("response_format") or {}).get("type")
        return {"json_schema": "json_schema", "json_object": "json"}.get(kind, "text")


def _error_kind(code: int) -> tuple[str, str | None]:
    """The OpenAI error ``type`` and ``code`` for an HTTP status."""
    if code == 401:
        return "authentication_error", "invalid_api_key"
    if code == 403:
        return "permission_error", None
    if code == 429:
        return "rate_limit_exceeded", "rate_limit_exceeded"
    if code >= 500:
        return "server_error", None
    return "invalid_request_error", None


def _default_usage(body: dict[str, Any], text: str) -> dict[str, int]:
    """Characters in, characters out: prompt counts message texts plus ``json.dumps`` of tools/response_format."""
    prompt = sum(len(_text_of(m.get("content"))) for m in body.get("messages", []))
    prompt += sum(len(json.dumps(body[key])) for key in ("tools", "response_format") if key in body)
    return {"prompt_tokens": prompt, "completion_tokens": len(text), "total_tokens": prompt + len(text)}


def _completion(recorded: Recorded, reply: Reply) -> dict[str, Any]:
    """The ``chat.completion`` object answering ``recorded`` with ``reply``."""
    body = recorded.body
    text = reply.answer if isinstance(reply.answer, str) else json.dumps(reply.answer, ensure_ascii=False)
    message: dict[str, Any] = {"role": "assistant", "content": text}
    finish_reason = "stop"
    if body.get("tools"):
        choice = body.get("tool_choice")
        if isinstance(choice, dict) and "function" in choice:
            name = choice["function"]["name"]
        else:
            name = body["tools"][0]["function"]["name"]
        call = {"id": f"call_{recorded.index}", "type": "function", "function": {"name": name, "arguments": text}}
        message = {"role": "assistant", "content": None, "tool_calls": [call]}
        finish_reason = "tool_calls"
    completion = {
        "id": f"chatcmpl-{recorded.index}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "chatserver"),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}],
        "usage": reply.usage or _default_usage(body, text),
    }
    if reply.usage == {}:  # an endpoint that reports no usage
        del completion["usage"]
    return completion


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    chat: ChatServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.chat._connection_opened(self.connection)

    def finish(self) -> None:
        self.server.chat._connection_closed(self.connection)
        super().finish()

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:  # the client went away (broken pipe, reset) or stop() shut the socket
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read ``requests``, not an access log."""

    def do_GET(self) -> None:
        if self.path.split("?")[0].rstrip("/") == "/v1/models":
            model = {"id": "chatserver", "object": "model", "created": 0, "owned_by": "chatserver"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_json(404, _error_body(Status(404, f"chatserver: no route GET {self.path}")))

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0].rstrip("/") != "/v1/chat/completions":
            self._send_json(404, _error_body(Status(404, f"chatserver: no route POST {self.path}")))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        recorded, step = self.server.chat._arrive(json.loads(raw or b"{}"), headers)
        try:
            self._answer(recorded, step)
        finally:
            self.server.chat._leave(recorded)

    def _answer(self, recorded: Recorded, step: Step) -> None:
        chat = self.server.chat
        if isinstance(step, Stall | Drop):
            if isinstance(step, Stall):
                chat._stopping.wait(step.seconds)
            chat._leave(recorded)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        chat._stopping.wait(step.delay)
        if isinstance(step, Status):
            payload, code, headers = _error_body(step), step.code, step.headers
        else:
            payload, code, headers = _completion(recorded, step), 200, None
        chat._leave(recorded)  # before writing, so a client holding the answer never still counts in flight
        self._send_json(code, payload, headers)

    def _send_json(self, code: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def _error_body(status: Status) -> dict[str, Any]:
    kind, code = _error_kind(status.code)
    return {"error": {"message": status.message, "type": kind, "param": None, "code": code}}


class ChatServer:
    """The server; use as a context manager, or ``start()``/``stop()``."""

    def __init__(self, responder: Callable[[Recorded], Step] | None = None) -> None:
        self.responder = responder
        self.requests: list[Recorded] = []
        self.max_in_flight = 0
        self.unexpected = 0
        self._lock = threading.Lock()
        self._steps: deque[Step] = deque()
        self._in_flight = 0
        self._open: set[socket.socket] = set()
        self._stopping = threading.Event()
        self._http = _Server(("127.0.0.1", 0), _Handler)
        self._http.chat = self
        self._thread = threading.Thread(target=self._http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.url = f"http://127.0.0.1:{self._http.server_address[1]}/v1"

    def script(self, *steps: Step) -> None:
        """Queue steps; each chat request takes the next one."""
        with self._lock:
            self._steps.extend(steps)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, cut stalls and delays short, and close every open connection."""
        self._stopping.set()
        self._http.shutdown()
        self._http.server_close()
        with self._lock:
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
        self._thread.join()

    def __enter__(self) -> ChatServer:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _arrive(self, body: dict[str, Any], headers: dict[str, str]) -> tuple[Recorded, Step]:
        """Record a chat request and take its step."""
        with self._lock:
            recorded = Recorded(len(self.requests), body, headers, time.monotonic())
            self.requests.append(recorded)
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            if self._steps:
                return recorded, self._steps.popleft()
            responder = self.responder
            if responder is None:
                self.unexpected += 1
                return recorded, Status(418, "chatserver: script exhausted")
        try:
            return recorded, responder(recorded)
        except Exception as exc:
            return recorded, Status(418, f"chatserver: responder raised {exc!r}")

    def _leave(self, recorded: Recorded) -> None:
        """The request is answered (idempotent)."""
        with self._lock:
            if recorded.finished is None:
                recorded.finished = time.monotonic()
                self._in_flight -= 1

    def _connection_opened(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.add(conn)

    def _connection_closed(self, conn: socket.socket) -> None:
        with self._lock:
            self._open.discard(conn)


__all__ = ["ChatServer", "Drop", "Recorded", "Reply", "Stall", "Status", "Step"]

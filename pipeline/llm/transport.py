"""One retry policy for every request to the model, at the HTTP transport.

The openai client's own retries are off (``max_retries=0``); this transport retries
what is worth retrying: 429 (waiting at least what ``Retry-After`` asks), 5xx,
timeouts and dropped connections, with exponential backoff and jitter, a cap on
attempts and on the total time. Anything else (401, 400 for a bad model name)
returns at once, so the client raises its clear error. Because it sits below the
client, a retried request is invisible to instructor's re-ask loop: a re-ask is
about what the model said, a retry about whether it could say anything.
"""

from __future__ import annotations

import contextvars
import email.utils
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    retry_if_result,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

__all__ = ["RETRYABLE_STATUS", "RetryStats", "RetryingTransport", "retry_after"]

RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 520, 522, 524, 529})
_MAX_RETRY_AFTER = 120.0


@dataclass
class RetryStats:
    """What the transport did: requests sent, of which retries, and why they were retried."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    server_errors: int = 0
    timeouts: int = 0
    dropped: int = 0


def retry_after(response: httpx2.Response) -> float | None:
    """Seconds the server asks to wait (``retry-after-ms``, ``Retry-After`` in seconds or as a date)."""
    headers = response.headers
    if (ms := headers.get("retry-after-ms")) is not None:
        try:
            return float(ms) / 1000
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        when = email.utils.parsedate_to_datetime(value) if value.strip() else None
        return max(when.timestamp() - time.time(), 0.0) if when else None


class RetryingTransport(httpx2.AsyncBaseTransport):
    """An ``AsyncHTTPTransport`` that retries transient failures (see the module docstring)."""

    def __init__(
        self,
        *,
        attempts: int = 6,
        max_wait: float = 600.0,
        backoff: float = 1.0,
        stats: RetryStats | None = None,
        context_stats: contextvars.ContextVar[RetryStats | None] | None = None,
        inner: httpx2.AsyncBaseTransport | None = None,
    ) -> None:
        self.inner = inner or httpx2.AsyncHTTPTransport()
        self.attempts = attempts
        self.max_wait = max_wait
        self.backoff = backoff
        self.stats = stats or RetryStats()
        self.context_stats = context_stats
        self._jitter = wait_random_exponential(multiplier=backoff, max=60.0)

    def _wait(self, state: RetryCallState) -> float:
        """Backoff with jitter; after a 429 or 503 with Retry-After, at least what the server asked."""
        wait = float(self._jitter(state))
        outcome = state.outcome
        if outcome is not None and not outcome.failed:
            asked = retry_after(outcome.result())
            if asked is not None:
                wait = max(wait, min(asked, _MAX_RETRY_AFTER))
        return wait

    def _counters(self) -> Iterator[RetryStats]:
        """The run's statistics, and those of the call running in this task, if it keeps its own."""
        yield self.stats
        own = self.context_stats.get() if self.context_stats is not None else None
        if own is not None:
            yield own

    async def _count(self, state: RetryCallState) -> None:
        """Before a retry: count why, and release the failed response's connection."""
        outcome = state.outcome
        response: httpx2.Response | None = None
        if outcome is not None and not outcome.failed:
            response = outcome.result()
        error = outcome.exception() if outcome is not None and outcome.failed else None
        for stats in self._counters():
            stats.retries += 1
            if isinstance(error, httpx2.TimeoutException):
                stats.timeouts += 1
            elif error is not None:
                stats.dropped += 1
            elif response is not None and response.status_code == 429:
                stats.throttled += 1
            elif response is not None:
                stats.server_errors += 1
        if response is not None:
            await response.aclose()

    async def _send(self, request: httpx2.Request) -> httpx2.Response:
        for stats in self._counters():
            stats.requests += 1
        return await self.inner.handle_async_request(request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.max_wait),
            wait=self._wait,
            retry=retry_if_exception_type(httpx2.TransportError)
            | retry_if_result(lambda response: response.status_code in RETRYABLE_STATUS),
            before_sleep=self._count,
            retry_error_callback=_last_outcome,
            reraise=True,
        )
        response: httpx2.Response = await retrying(self._send, request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


def _last_outcome(state: RetryCallState) -> httpx2.Response:
    """Out of attempts: hand the last response (or error) to the client, which reports it."""
    assert state.outcome is not None
    result: httpx2.Response = state.outcome.result()
    return result

"""What model calls cost: tokens, requests, retries, re-asks, cache hits, latency, and an estimate in money.

``Usage`` adds up per form, per file and per run; a price table
(``prices.toml``, overridable with ``JIXIAO_LLM_PRICES``) turns tokens into an
estimated cost. A model without a price gets no cost, never a made-up one.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from pydantic import BaseModel, Field

from pipeline.exceptions import ConfigurationError

__all__ = ["LlmRun", "Price", "Usage", "price_of"]

_BUILT_IN = Path(__file__).with_name("prices.toml")


class Price(BaseModel):
    """Per million tokens."""

    input: float = Field(ge=0)
    output: float = Field(ge=0)
    currency: str = "USD"


class Usage(BaseModel):
    """Model usage, summed over whatever it describes (a form, a file, a run)."""

    forms: int = Field(default=0, description="Forms (or form parts) sent to the model or found in the cache")
    cache_hits: int = Field(default=0, description="Of those, answered from the cache: no request at all")
    requests: int = Field(default=0, description="HTTP requests sent, retries and re-asks included")
    retries: int = Field(default=0, description="Requests repeated after a 429, 5xx, timeout or dropped connection")
    reasks: int = Field(default=0, description="Replies sent back to the model because they failed validation/checks")
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = Field(default=0.0, description="Time spent waiting on the model, summed over forms")
    tokens_known: bool = Field(default=True, description="False when some reply came without a token count")
    cost: float | None = Field(default=None, description="Estimated from the price table; null without a price")
    currency: str | None = None

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def add(self, other: Usage) -> Usage:
        """The sum of two usages (costs add when both are known in the same currency)."""
        counted = [usage for usage in (self, other) if usage.forms]  # an empty usage adds nothing, not "unknown"
        costs = [usage.cost for usage in counted if usage.cost is not None]
        currencies = {usage.currency for usage in counted}
        cost = sum(costs) if counted and len(costs) == len(counted) and len(currencies) == 1 else None
        currency = currencies.pop() if len(currencies) == 1 else None
        return Usage(
            forms=self.forms + other.forms,
            cache_hits=self.cache_hits + other.cache_hits,
            requests=self.requests + other.requests,
            retries=self.retries + other.retries,
            reasks=self.reasks + other.reasks,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            seconds=round(self.seconds + other.seconds, 3),
            tokens_known=self.tokens_known and other.tokens_known,
            cost=None if cost is None else round(cost, 6),
            currency=currency,
        )

    def describe(self) -> dict[str, str]:
        """The usage as a person reads it, row name to text: forms, requests, tokens, model time, cost."""
        tokens = f"{self.prompt_tokens:,} in, {self.completion_tokens:,} out"
        cost = f"{self.cost:.4f} {self.currency} (estimate)" if self.cost is not None else "no price for this model"
        return {
            "forms": f"{self.forms} ({self.cache_hits} from the cache)",
            "requests": f"{self.requests} ({self.retries} retried, {self.reasks} re-asked)",
            "tokens": tokens if self.tokens_known else f"{tokens} (some replies without a count)",
            "model time": f"{self.seconds:.1f}s",
            "cost": cost,
        }

    def priced(self, price: Price | None) -> Usage:
        """This usage with its cost estimated at ``price`` (None: no estimate)."""
        if price is None or not self.tokens_known:
            return self.model_copy(update={"cost": None, "currency": None})
        cost = (self.prompt_tokens * price.input + self.completion_tokens * price.output) / 1_000_000
        return self.model_copy(update={"cost": round(cost, 6), "currency": price.currency})


@cache
def _table(path: Path | None) -> dict[str, Price]:
    prices: dict[str, Price] = {}
    for source in (_BUILT_IN, path):
        if source is None:
            continue
        try:
            data = tomllib.loads(source.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigurationError(f"price table {source}: {e}") from None
        currency = str(data.get("currency", "USD"))
        for model, entry in data.get("models", {}).items():
            try:
                prices[model] = Price(currency=currency, **entry)
            except (TypeError, ValueError) as e:
                raise ConfigurationError(f"price table {source}: model {model!r}: {e}") from None
    return prices


def price_of(model: str, table: Path | None = None) -> Price | None:
    """The price of ``model``: the longest key it starts with, in the built-in table or ``table``."""
    prices = _table(table)
    keys = [key for key in prices if model.lower().startswith(key.lower())]
    return prices[max(keys, key=len)] if keys else None


class LlmRun(BaseModel):
    """Which model and prompt produced an extraction, and what it cost: stored with every output."""

    model: str
    endpoint: str = Field(description="The endpoint's host, without credentials or path")
    mode: str
    prompt: str = Field(description="Prompt version (prompts/v1) or folder")
    prompt_sha256: str
    schema_sha256: str
    usage: Usage = Field(default_factory=Usage)

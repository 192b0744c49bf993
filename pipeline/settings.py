"""One settings model for the whole pipeline.

Filled from environment variables with the prefix ``JIXIAO_`` (``JIXIAO_OCR=always``),
then from CLI flags; explicit arguments win. ``check_settings`` validates the
combination before any work starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.exceptions import ConfigurationError

__all__ = ["ExtractorName", "LlmMode", "OcrLayout", "OcrMode", "Settings", "check_settings"]

OcrMode = Literal["auto", "always", "never"]
OcrLayout = Literal["cells", "page"]
ExtractorName = Literal["auto", "layout", "llm", "hybrid"]
# How the reply is constrained: tool calling (OpenAI, DeepSeek, Qwen), a JSON schema in
# response_format (vLLM, Ollama, llama.cpp), JSON mode, or JSON in a markdown fence (anything).
LlmMode = Literal["tools", "json_schema", "json", "md_json"]


def _cache_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "jixiao"


class Settings(BaseSettings):
    """Everything a run can be told; every field has an env var ``JIXIAO_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="JIXIAO_", extra="ignore", env_parse_none_str="none")

    ocr: OcrMode = Field(
        default="auto",
        description="auto: OCR pages without a usable text layer; always: OCR every page; never: text layer only",
    )
    ocr_engine: str = Field(default="rapidocr", description="Name of a registered OCR engine")
    ocr_dpi: int = Field(default=200, ge=72, le=600, description="Resolution pages are rendered at for OCR")
    ocr_threads: int = Field(default=0, ge=0, description="Threads for the OCR engine; 0 lets it choose")
    ocr_mode: OcrLayout = Field(
        default="cells",
        description="cells: read table cells line by line from their ruling lines, detect text only around the "
        "tables; page: detect and read text over the whole page (slower)",
    )
    deskew: bool = Field(default=True, description="Straighten slightly rotated scans before OCR")
    flatten_photos: bool = Field(
        default=True, description="Find a photographed sheet on a darker background and warp it flat before OCR"
    )
    min_text_chars: int = Field(
        default=20, ge=0, description="A page whose text layer has fewer characters is treated as a scan"
    )

    extractor: ExtractorName = Field(
        default="auto",
        description="layout: from the table structure, no model; llm: an OpenAI-compatible model; hybrid: both, "
        "compared field by field; auto: llm when a model and an endpoint are configured, else layout",
    )
    llm_base_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("JIXIAO_LLM_BASE_URL", "OPENAI_BASE_URL", "llm_base_url"),
        description="The endpoint's base URL, e.g. http://localhost:11434/v1; unset: OpenAI's",
    )
    llm_api_key: str | None = Field(
        default=None,
        validation_alias=AliasChoices("JIXIAO_LLM_API_KEY", "OPENAI_API_KEY", "llm_api_key"),
        description="The endpoint's API key (local servers take any)",
        repr=False,
    )
    llm_model: str | None = Field(default=None, description="The model name the endpoint knows, e.g. gpt-4o-mini")
    llm_mode: LlmMode = Field(default="tools", description="How the reply is constrained to the schema")
    prompt: str = Field(default="v1", description="A prompt version under prompts/ (v1) or a folder of prompt files")
    llm_temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    llm_seed: int | None = Field(default=0, description="Sent as seed where the endpoint takes one")
    llm_timeout: float = Field(default=180.0, gt=0, description="Seconds one request may take")
    llm_attempts: int = Field(default=6, ge=1, description="Attempts per request on 429, 5xx, timeouts, drops")
    llm_max_wait: float = Field(default=600.0, gt=0, description="Seconds one request may spend retrying in all")
    llm_backoff: float = Field(default=1.0, ge=0, description="First backoff in seconds; doubles, with jitter")
    llm_reasks: int = Field(default=2, ge=0, description="Times a reply that fails validation or checks is re-asked")
    llm_max_chars: int = Field(
        default=40000, ge=1000, description="A form rendered longer than this is sent in two parts"
    )
    concurrency: int = Field(default=4, ge=1, description="Model calls in flight at once")
    cache: bool = Field(default=True, description="Reuse a reply for the same model, prompt, schema, mode and input")
    cache_dir: Path = Field(default_factory=_cache_home, description="Where replies are cached")
    llm_prices: Path | None = Field(
        default=None, description="A TOML price table (per million tokens) that overrides the built-in one"
    )

    def llm_configured(self) -> bool:
        """A model is named and there is somewhere to send it: an endpoint or an API key."""
        return bool(self.llm_model and (self.llm_base_url or self.llm_api_key))

    def chosen_extractor(self) -> str:
        """The extractor ``auto`` stands for: llm when configured, else layout."""
        if self.extractor == "auto":
            return "llm" if self.llm_configured() else "layout"
        return self.extractor


def check_settings(settings: Settings) -> Settings:
    """Reject combinations that cannot work, with a message that says what to change."""
    from pipeline.ocr import available_engines

    if settings.ocr != "never" and settings.ocr_engine not in available_engines():
        names = ", ".join(available_engines())
        raise ConfigurationError(f"unknown OCR engine {settings.ocr_engine!r}; choose one of: {names}")
    if settings.chosen_extractor() in ("llm", "hybrid"):
        if not settings.llm_model:
            raise ConfigurationError(
                f"the {settings.extractor} extractor needs a model: set JIXIAO_LLM_MODEL or pass --model"
            )
        if not (settings.llm_base_url or settings.llm_api_key):
            raise ConfigurationError(
                "no LLM endpoint: set JIXIAO_LLM_BASE_URL (a local server) or JIXIAO_LLM_API_KEY (OpenAI), "
                "or pass --base-url"
            )
    return settings

"""One settings model for the whole pipeline.

Filled from environment variables with the prefix ``JIXIAO_`` (``JIXIAO_OCR=always``),
then from CLI flags; explicit arguments win. ``check_settings`` validates the
combination before any work starts.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.exceptions import ConfigurationError

__all__ = ["OcrLayout", "OcrMode", "Settings", "check_settings"]

OcrMode = Literal["auto", "always", "never"]
OcrLayout = Literal["cells", "page"]


class Settings(BaseSettings):
    """Everything a run can be told; every field has an env var ``JIXIAO_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="JIXIAO_", extra="ignore")

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


def check_settings(settings: Settings) -> Settings:
    """Reject combinations that cannot work, with a message that says what to change."""
    from pipeline.ocr import available_engines

    if settings.ocr != "never" and settings.ocr_engine not in available_engines():
        names = ", ".join(available_engines())
        raise ConfigurationError(f"unknown OCR engine {settings.ocr_engine!r}; choose one of: {names}")
    return settings

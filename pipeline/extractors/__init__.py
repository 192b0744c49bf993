"""Extractors fill the schema for one form from its pages: a small registry, built-ins registered like plugins.

An extractor is a function ``(span, pages, grids) -> FormResult``. The layout
extractor (no model) is built in and is the default; the LLM extractor
registers itself the same way.
"""

from __future__ import annotations

from collections.abc import Callable

from pipeline.exceptions import ConfigurationError
from pipeline.extractors import layout
from pipeline.page import Page
from pipeline.result import FormResult
from pipeline.segment import FormSpan
from pipeline.tables import Grid

__all__ = ["FormExtractor", "available_extractors", "get_extractor", "register_extractor"]

FormExtractor = Callable[[FormSpan, list[Page], dict[int, list[Grid]]], FormResult]

_REGISTRY: dict[str, FormExtractor] = {}


def register_extractor(name: str, extractor: FormExtractor) -> None:
    """Make ``extractor`` available as ``--extractor NAME``."""
    _REGISTRY[name] = extractor


def available_extractors() -> list[str]:
    return sorted(_REGISTRY)


def get_extractor(name: str) -> FormExtractor:
    if name not in _REGISTRY:
        raise ConfigurationError(f"unknown extractor {name!r}; available: {', '.join(available_extractors())}")
    return _REGISTRY[name]


register_extractor(layout.NAME, layout.extract_form)

"""The OCR engine: a small base class, a registry, and the RapidOCR built-in.

An engine takes a grayscale or BGR page image (numpy array) and returns text
lines with their boxes in image pixels and a confidence. Third-party engines
register themselves the same way the built-in does (``register_engine``).
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.exceptions import OcrError

__all__ = ["OcrEngine", "OcrLine", "RapidOcrEngine", "available_engines", "get_engine", "register_engine"]


@dataclass(frozen=True)
class OcrLine:
    """One recognised text line: axis-aligned box in image pixels, text, score in [0, 1]."""

    box: tuple[float, float, float, float]
    text: str
    score: float


class OcrEngine(ABC):
    """Recognise the text lines of a page image."""

    name: str = "base"

    @abstractmethod
    def read_lines(self, image: np.ndarray) -> list[OcrLine]:
        """All text lines of ``image`` with boxes in its pixel coordinates."""


_REGISTRY: dict[str, Callable[[int], OcrEngine]] = {}
_INSTANCES: dict[tuple[str, int], OcrEngine] = {}
_LOCK = threading.Lock()


def register_engine(name: str, factory: Callable[[int], OcrEngine]) -> None:
    """Make an engine available as ``--ocr-engine NAME``; ``factory(threads)`` builds it."""
    _REGISTRY[name] = factory


def available_engines() -> list[str]:
    return sorted(_REGISTRY)


def get_engine(name: str, threads: int = 0) -> OcrEngine:
    """The engine ``name``, built once per process (models load once)."""
    with _LOCK:
        key = (name, threads)
        if key not in _INSTANCES:
            if name not in _REGISTRY:
                raise OcrError(f"unknown OCR engine {name!r}; available: {', '.join(available_engines())}")
            _INSTANCES[key] = _REGISTRY[name](threads)
        return _INSTANCES[key]


class RapidOcrEngine(OcrEngine):
    """RapidOCR (PP-OCRv4 Chinese models inside the wheel, ONNX Runtime, offline)."""

    name = "rapidocr"

    def __init__(self, threads: int = 0) -> None:
        try:
            from rapidocr_onnxruntime import RapidOCR
        except ImportError as e:  # pragma: no cover - depends on the install
            raise OcrError("the OCR engine is not installed: pip install rapidocr_onnxruntime") from e
        params: dict[str, Any] = {"print_verbose": False}
        if threads > 0:
            params["intra_op_num_threads"] = threads
        # A 200-dpi A4 scan is ~2340 px tall; keep it whole instead of shrinking to 2000.
        params["max_side_len"] = 4000
        self._engine = RapidOCR(**params)

    def read_lines(self, image: np.ndarray) -> list[OcrLine]:
        try:
            result, _ = self._engine(image)
        except Exception as e:  # the engine's own failures, kept as the cause
            raise OcrError(f"OCR failed: {e}") from e
        lines: list[OcrLine] = []
        for points, text, score in result or []:
            xs = [float(p[0]) for p in points]
            ys = [float(p[1]) for p in points]
            lines.append(OcrLine((min(xs), min(ys), max(xs), max(ys)), str(text), float(score)))
        return lines


register_engine("rapidocr", RapidOcrEngine)

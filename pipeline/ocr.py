"""The OCR engine: a small base class, a registry, and the RapidOCR built-in.

An engine takes a grayscale or BGR page image (numpy array) and returns text
lines with their boxes in image pixels and a confidence (``read_lines``); or,
given images that each hold one line of text already cut out (a table cell's
line), just reads them (``read_line_images``), which skips text detection.
Third-party engines register themselves the same way the built-in does
(``register_engine``).
"""

from __future__ import annotations

import copy
import math
import re
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from pipeline.exceptions import OcrError

__all__ = [
    "OcrEngine",
    "OcrLine",
    "OcrText",
    "OcrTimes",
    "RapidOcrEngine",
    "available_engines",
    "get_engine",
    "register_engine",
]


@dataclass(frozen=True)
class OcrLine:
    """One recognised text line: axis-aligned box in image pixels, text, score in [0, 1]."""

    box: tuple[float, float, float, float]
    text: str
    score: float


@dataclass(frozen=True)
class OcrText:
    """The text read in one line image, and its score in [0, 1]."""

    text: str
    score: float


@dataclass
class OcrTimes:
    """Seconds an engine has spent finding text lines and reading them, for benchmarks."""

    detect: float = 0.0
    recognize: float = 0.0


class OcrEngine(ABC):
    """Recognise the text lines of a page image."""

    name: str = "base"

    def __init__(self) -> None:
        self.times = OcrTimes()

    @abstractmethod
    def read_lines(self, image: np.ndarray) -> list[OcrLine]:
        """All text lines of ``image`` with boxes in its pixel coordinates."""

    def read_line_images(self, images: Sequence[np.ndarray]) -> list[OcrText]:
        """The text of each image, each one line of text cut out by the caller (a table cell's line).

        This default detects text in each image and joins what it finds left to
        right; an engine that can recognise without detecting does it faster.
        """
        texts: list[OcrText] = []
        for image in images:
            lines = sorted(self.read_lines(image), key=lambda line: line.box[0])
            score = min((line.score for line in lines), default=0.0)
            texts.append(OcrText("".join(line.text for line in lines), score))
        return texts


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
        super().__init__()
        params: dict[str, Any] = {"print_verbose": False}
        if threads > 0:
            params["intra_op_num_threads"] = threads
        # A 200-dpi A4 scan is ~2340 px tall; keep it whole instead of shrinking to 2000.
        params["max_side_len"] = 4000
        self._engine = RapidOCR(**params)
        self._recognizer = self._engine.text_rec
        # The detector enlarges any image whose short side is under 736 px to 736: a strip of
        # text cut from above a table would cost as much as a page. Small images go to a view of
        # the same models whose detector takes them as they are (its "max" rule never enlarges).
        self._small = copy.copy(self._engine)
        self._small.text_det = copy.copy(self._engine.text_det)
        self._small.text_det.limit_type = "max"

    def read_lines(self, image: np.ndarray) -> list[OcrLine]:
        engine = self._engine
        if min(image.shape[:2]) < self._engine.text_det.limit_side_len:
            # The detector also resizes to multiples of 32 px; on a small image that rounding
            # squashes the text (79 px high to 64) and its boxes come back off by a few pixels.
            # Padded with paper below and to the right, it keeps its scale and its coordinates.
            engine = self._small
            height, width = image.shape[:2]
            image = cv2.copyMakeBorder(
                image, 0, -height % 32, 0, -width % 32, cv2.BORDER_CONSTANT, value=(255, 255, 255)
            )
        try:
            result, elapsed = engine(image)
        except Exception as e:  # the engine's own failures, kept as the cause
            raise OcrError(f"OCR failed: {e}") from e
        if elapsed and len(elapsed) == 3:
            det, cls, rec = elapsed
            self.times.detect += det + cls
            self.times.recognize += rec
        lines: list[OcrLine] = []
        for points, text, score in result or []:
            xs = [float(p[0]) for p in points]
            ys = [float(p[1]) for p in points]
            lines.append(OcrLine((min(xs), min(ys), max(xs), max(ys)), str(text), float(score)))
        return lines

    def read_line_images(self, images: Sequence[np.ndarray]) -> list[OcrText]:
        """Recognition only: the lines packed side by side into strips, each strip one model run.

        The model reads a lone symbol (≥, -, a single digit) badly and a symbol
        among other text well, and every run costs a few milliseconds on top of
        its width; so short lines are read together, in the order given (the
        caller's reading order, which keeps ≥ next to its 90%), and each line gets
        the characters the model placed over it. One strip at a time is faster
        than batches on a CPU: a batch pads every line to the widest.
        """
        started = time.perf_counter()
        try:
            grays = [image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) for image in images]
            texts = self._read_packed([_to_model_height(gray, _SQUEEZE) for gray in grays])
            # Narrowed, an amount now and then loses a comma or reads it as a point; when its
            # digits no longer group by three, the line is read again at its full width.
            garbled = [i for i, text in enumerate(texts) if _garbled_amount(text.text)]
            again = self._read_packed([_to_model_height(grays[i], 1.0) for i in garbled])
            for i, text in zip(garbled, again, strict=True):
                if not _garbled_amount(text.text):
                    texts[i] = text
        except Exception as e:  # the engine's own failures, kept as the cause
            raise OcrError(f"OCR failed: {e}") from e
        self.times.recognize += time.perf_counter() - started
        return texts

    def _read_packed(self, scaled: list[np.ndarray]) -> list[OcrText]:
        """Lines already at model height, read a strip of neighbours at a time."""
        texts: list[OcrText] = []
        for group in _pack([line.shape[1] for line in scaled], _STRIP_WIDTH, _STRIP_GAP):
            texts += self._read_strip([scaled[i] for i in group])
        return texts

    def _read_strip(self, lines: list[np.ndarray]) -> list[OcrText]:
        """Read lines (already model height) side by side; give each the characters the model placed over it."""
        gap = np.full((_REC_HEIGHT, _STRIP_GAP), 255, dtype=np.uint8)
        strip = np.hstack([piece for line in lines for piece in (gap, line)][1:])
        (probabilities,) = self._recognizer.session(_model_input(strip))
        found = _ctc_characters(probabilities[0], self._recognizer.postprocess_op.character, strip.shape[1])
        texts: list[OcrText] = []
        start = 0
        for line in lines:
            end = start + line.shape[1]
            mine = [(char, score) for char, score, x in found if start - _STRIP_GAP / 2 <= x < end + _STRIP_GAP / 2]
            text = "".join(char for char, _ in mine)
            texts.append(OcrText(text, float(np.mean([score for _, score in mine])) if mine else 0.0))
            start = end + _STRIP_GAP
        return texts


_REC_HEIGHT = 48  # the PP-OCR recognition model's input height
_STRIP_WIDTH = 1600  # pixels at model height: a strip of short lines (longer lines are read alone)
_STRIP_GAP = 8  # white pixels between lines in a strip: one step of the model's output
# Lines are narrowed to 3/4 of their width before reading. The model's time grows with the
# width it reads, and it was trained on lines squeezed into 320 px, so it reads narrowed
# characters as well (measured on the fixtures: the same accuracy for a quarter less time;
# at 0.65 it starts to drop characters).
_SQUEEZE = 0.75
_AMOUNT_LIKE = re.compile(r"[-+]?[\d,.]*\d[\d,.]*%?")
_AMOUNT = re.compile(r"[-+]?\d{1,3}(,\d{3})*(\.\d+)?%?")


def _garbled_amount(text: str) -> bool:
    """An amount (digits with commas and points) whose digits do not group the way amounts are written."""
    return bool(_AMOUNT_LIKE.fullmatch(text)) and ("," in text or text.count(".") > 1) and not _AMOUNT.fullmatch(text)


def _to_model_height(gray: np.ndarray, squeeze: float) -> np.ndarray:
    """A grayscale line image 48 px high, its width to scale and narrowed by ``squeeze``."""
    height, width = gray.shape
    scaled_width = max(_REC_HEIGHT // 4, math.ceil(_REC_HEIGHT * width / height * squeeze))
    return cv2.resize(gray, (scaled_width, _REC_HEIGHT), interpolation=cv2.INTER_LINEAR)


def _pack(widths: list[int], limit: int, gap: int) -> list[list[int]]:
    """Indices of consecutive lines grouped so each group's total width (with gaps) stays within ``limit``."""
    groups: list[list[int]] = []
    used = limit + 1
    for i, width in enumerate(widths):
        if used + gap + width > limit:
            groups.append([])
            used = -gap
        groups[-1].append(i)
        used += gap + width
    return groups


def _model_input(strip: np.ndarray) -> np.ndarray:
    """A grayscale strip as the recognition model takes it: three channels, NCHW, scaled to [-1, 1]."""
    scaled = strip.astype(np.float32) / 127.5 - 1.0
    return np.ascontiguousarray(np.broadcast_to(scaled, (1, 3, *scaled.shape)))


def _ctc_characters(probabilities: np.ndarray, alphabet: list[str], width: int) -> list[tuple[str, float, float]]:
    """Greedy CTC decoding that keeps where each character was read: (character, score, x in input pixels).

    As RapidOCR decodes: the best class at each step, repeats collapsed, blanks
    (class 0) dropped; the score is the class probability.
    """
    best = probabilities.argmax(axis=1)
    scores = probabilities.max(axis=1)
    step = width / len(best)
    found: list[tuple[str, float, float]] = []
    for t, index in enumerate(best):
        if index != 0 and (t == 0 or index != best[t - 1]):
            found.append((alphabet[index], float(scores[t]), (t + 0.5) * step))
    return found


register_engine("rapidocr", RapidOcrEngine)

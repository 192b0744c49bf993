"""Image work for scanned pages: straighten a slightly rotated scan, find ruling lines and lines of text."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = [
    "MIN_SKEW",
    "Box",
    "Quad",
    "binarize",
    "drop_specks",
    "estimate_skew",
    "find_sheet",
    "flatten",
    "ink_line_height",
    "lone_dash",
    "rotate",
    "rule_masks",
    "rule_segments",
    "sheet_size",
    "text_blocks",
    "text_lines",
]

MIN_SKEW = 0.1  # degrees


def _profile_score(binary: np.ndarray, angle: float) -> float:
    """How sharply the ink falls into rows when the image is turned by ``angle``."""
    h, w = binary.shape
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    turned = cv2.warpAffine(binary, matrix, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
    rows = turned.sum(axis=1, dtype=np.float64)
    return float(np.var(rows))


def estimate_skew(gray: np.ndarray, max_angle: float = 3.0) -> float:
    """Degrees to turn ``gray`` (counter-clockwise, OpenCV's sense) so its lines run level.

    Projection profiles: ruling lines and text rows give the sharpest horizontal
    histogram when level. A coarse search over ±``max_angle`` on a half-size
    image, then a fine one around the best coarse angle at full size.
    """
    h, w = gray.shape[:2]
    scale = min(1.0, 1000.0 / max(w, 1))
    small = cv2.resize(gray, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    _, binary = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if binary.sum() == 0:
        return 0.0
    half_size = (max(1, binary.shape[1] // 2), max(1, binary.shape[0] // 2))
    half = cv2.resize(binary, half_size, interpolation=cv2.INTER_AREA)
    coarse = np.arange(-max_angle, max_angle + 1e-9, 0.2)
    best = max(coarse, key=lambda a: _profile_score(half, float(a)))
    # The coarse steps are 0.2 apart: the best angle lies within half a step of the best one.
    fine = np.arange(best - 0.12, best + 0.12 + 1e-9, 0.02)
    best = max(fine, key=lambda a: _profile_score(binary, float(a)))
    # Below ~0.1 degree the estimate is noise, and turning the image would only blur it.
    return 0.0 if abs(best) < MIN_SKEW else round(float(best), 2)


def rotate(gray: np.ndarray, angle: float) -> np.ndarray:
    """Turn ``gray`` by ``angle`` degrees about its centre, filling the corners white."""
    if abs(angle) < 0.01:
        return gray
    h, w = gray.shape[:2]
    matrix = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    return cv2.warpAffine(gray, matrix, (w, h), flags=cv2.INTER_LINEAR, borderValue=255)


def _segments(mask: np.ndarray, horizontal: bool, min_length: int) -> list[tuple[int, int, int, int]]:
    # Outer contours box the same blobs as connected components, at a fraction of the cost on a page.
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found: list[tuple[int, int, int, int]] = []
    for contour in contours:
        x, y, w, h = cv2.boundingRect(contour)
        if horizontal and w >= min_length:
            mid = y + h // 2
            found.append((x, mid, x + w - 1, mid))
        elif not horizontal and h >= min_length:
            mid = x + w // 2
            found.append((mid, y, mid, y + h - 1))
    return found


def binarize(gray: np.ndarray) -> np.ndarray:
    """Ink (255) and paper (0): a local threshold, so shading and a photo's uneven light do not matter."""
    return cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 15)


def rule_masks(binary: np.ndarray, dpi: int) -> tuple[np.ndarray, np.ndarray]:
    """The ruling lines of a straightened page's ``binarize`` image as two masks (255 = line): horizontal, vertical.

    Morphological opening with long thin kernels keeps lines and drops text; a
    short closing bridges the gaps that noise and JPEG leave in a printed line.
    """
    span = _rule_span(dpi)
    bridge = max(3, dpi // 60)
    horiz = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (span, 1)))
    horiz = cv2.morphologyEx(horiz, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (bridge * 3, 1)))
    vert = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, span)))
    vert = cv2.morphologyEx(vert, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, bridge * 3)))
    return horiz, vert


def _rule_span(dpi: int) -> int:
    return max(15, int(dpi * 0.16))  # ~11.5 pt: longer than any stroke of a 9-pt glyph


def rule_segments(masks: tuple[np.ndarray, np.ndarray], dpi: int) -> list[tuple[int, int, int, int]]:
    """The segments (x0, y0, x1, y1), in pixels, of the line masks from ``rule_masks``."""
    span = _rule_span(dpi)
    return _segments(masks[0], True, span) + _segments(masks[1], False, span)


Box = tuple[int, int, int, int]  # pixels: x0, y0, x1, y1, the end exclusive


def drop_specks(binary: np.ndarray, max_area: int) -> np.ndarray:
    """``binary`` without isolated specks of at most ``max_area`` pixels: scanner noise, not print.

    A pixel goes when its 5×5 neighbourhood holds no more than ``max_area`` ink
    pixels: a speck that far from any other ink. Print keeps all but the odd
    last pixel of a hairline stroke; counting connected components instead costs
    ten times as much on a page of text.
    """
    _, ink = cv2.threshold(binary, 0, 1, cv2.THRESH_BINARY)
    around = cv2.boxFilter(ink, -1, (5, 5), normalize=False, borderType=cv2.BORDER_CONSTANT)
    _, crowded = cv2.threshold(around, max_area, 255, cv2.THRESH_BINARY)
    return cv2.bitwise_and(binary, crowded)


def _runs(profile: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) of every run of non-zero values, the end exclusive."""
    on = np.concatenate(([0], (profile > 0).astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(on))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def _join_runs(runs: list[tuple[int, int]], gap: float) -> list[tuple[int, int]]:
    """Join neighbouring runs separated by less than ``gap``."""
    joined: list[tuple[int, int]] = []
    for start, end in runs:
        if joined and start - joined[-1][1] < gap:
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return joined


def ink_line_height(inks: list[np.ndarray], dpi: int) -> float:
    """The usual height (pixels) of a line of text's ink over many ink crops.

    The median height of the ink's row runs that could be a line of 6- to 20-pt
    type; 10 pt when there are none (an empty table).
    """
    low, high = 6 * dpi / 72, 20 * dpi / 72
    heights = [end - start for ink in inks for start, end in _runs(ink.sum(axis=1)) if low <= end - start <= high]
    return float(np.median(heights)) if heights else 10 * dpi / 72


def _merge_slivers(runs: list[tuple[int, int]], height: float) -> list[tuple[int, int]]:
    """Join a run much thinner than a line to its nearest neighbour when together they still make one line.

    A character like 二 or 三 alone on a line falls apart into strokes; a dash
    (—) alone has no neighbour close enough and stays a line of its own.
    """
    runs = list(runs)
    changed = True
    while changed:
        changed = False
        for i, (start, end) in enumerate(runs):
            if end - start >= 0.5 * height:
                continue
            options = [j for j in (i - 1, i + 1) if 0 <= j < len(runs)]
            options = [j for j in options if max(end, runs[j][1]) - min(start, runs[j][0]) <= 1.3 * height]
            if options:
                j = min(options, key=lambda k: max(runs[k][0] - end, start - runs[k][1]))
                lo, hi = sorted((i, j))
                runs[lo : hi + 1] = [(min(start, runs[j][0]), max(end, runs[j][1]))]
                changed = True
                break
    return runs


def _split_tall(run: tuple[int, int], rows: np.ndarray, height: float) -> list[tuple[int, int]]:
    """Cut a run taller than a line where its ink is thinnest: lines that touch (a low comma, a high quote)."""
    start, end = run
    if end - start <= 1.6 * height:
        return [run]
    lo, hi = start + round(0.6 * height), end - round(0.6 * height)
    cut = lo + int(np.argmin(rows[lo:hi]))
    return _split_tall((start, cut), rows, height) + _split_tall((cut, end), rows, height)


def text_lines(ink: np.ndarray, height: float) -> list[Box]:
    """The text lines in a table cell's ink (1 or 255 = ink), top to bottom, as tight ink boxes.

    A horizontal projection profile separates the wrapped lines of a cell, and
    the characters of a vertical header (绩/效/指/标), each its own line. A line
    with a gap wider than two characters is two pieces, each boxed on its own:
    text from two cells whose dividing rule was missed stays apart.
    """
    rows = (ink > 0).sum(axis=1)
    runs = _merge_slivers(_runs(rows), height)
    boxes: list[Box] = []
    for run in runs:
        for y0, y1 in _split_tall(run, rows, height):
            band = ink[y0:y1] > 0
            for x0, x1 in _join_runs(_runs(band.sum(axis=0)), 2 * height):
                ys = _runs(band[:, x0:x1].sum(axis=1))
                boxes.append((x0, y0 + ys[0][0], x1, y0 + ys[-1][1]))
    return boxes


def lone_dash(ink: np.ndarray, height: float) -> str | None:
    """The dash a table cell holds alone (— or -), told by its shape; ``None`` if ``ink`` is anything else.

    ``ink`` is the cell's only line of text, cut tight. Recognition reads a lone
    dash badly (nothing, or *), and forms put one in every cell that does not
    apply: a single low, filled bar (wider than high) is a dash; as wide as a character, an em dash.
    """
    rows, cols = ink.shape
    bar = rows <= max(3.0, 0.3 * height) and cols >= max(1.5 * rows, 0.25 * height)
    if not bar or np.count_nonzero(ink) < 0.5 * ink.size:
        return None
    return "—" if cols >= 0.6 * height else "-"


def text_blocks(ink: np.ndarray, height: float) -> list[Box]:
    """Boxes around the clusters of ink on a page (1 or 255 = ink): paragraphs, a title, a note.

    Rows of ink closer than a line apart form one block; within it, a gap wider
    than four characters starts another block, so a block hugs its text and the
    detector reads no more blank paper than it must. Blocks thinner than a
    quarter of a line (a stub of a ruling line, a speck) hold no text and are left out.
    """
    blocks: list[Box] = []
    binary = ink > 0
    for y0, y1 in _join_runs(_runs(binary.sum(axis=1)), height):
        for x0, x1 in _join_runs(_runs(binary[y0:y1].sum(axis=0)), 4 * height):
            ys = _runs(binary[y0:y1, x0:x1].sum(axis=1))
            box = (x0, y0 + ys[0][0], x1, y0 + ys[-1][1])
            if min(box[2] - box[0], box[3] - box[1]) >= 0.25 * height:
                blocks.append(box)
    return blocks


Quad = tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]


def _order_corners(points: np.ndarray) -> Quad:
    """Top-left, top-right, bottom-right, bottom-left."""
    sums = points.sum(axis=1)
    diffs = np.diff(points, axis=1).ravel()
    tl, br = points[np.argmin(sums)], points[np.argmax(sums)]
    tr, bl = points[np.argmin(diffs)], points[np.argmax(diffs)]
    return tuple((float(p[0]), float(p[1])) for p in (tl, tr, br, bl))  # type: ignore[return-value]


def find_sheet(gray: np.ndarray) -> Quad | None:
    """Corners (pixels) of a sheet of paper photographed on a darker background.

    ``None`` when the image is a flat scan: the bright region fills the frame,
    or it is not a clear four-cornered sheet, and then nothing is warped.
    """
    h, w = gray.shape[:2]
    scale = 800.0 / max(h, w)
    small = cv2.resize(gray, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    blurred = cv2.GaussianBlur(small, (5, 5), 0)
    _, mask = cv2.threshold(blurred, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 15)))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    sheet = max(contours, key=cv2.contourArea)
    share = cv2.contourArea(sheet) / float(small.shape[0] * small.shape[1])
    if not 0.3 <= share <= 0.93:
        return None
    corners = cv2.approxPolyDP(sheet, 0.02 * cv2.arcLength(sheet, True), True)
    if len(corners) != 4 or not cv2.isContourConvex(corners):
        return None
    return _order_corners(corners.reshape(4, 2).astype(np.float64) / scale)


def sheet_size(quad: Quad, page_width_pt: float = 595.0) -> tuple[float, float]:
    """The flattened sheet's size in points: A4 width (or height, if landscape), the photo's aspect."""
    tl, tr, br, bl = (np.array(p) for p in quad)
    width = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    height = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    if width <= height:
        return page_width_pt, page_width_pt * float(height / width)
    return page_width_pt * float(width / height), page_width_pt


def flatten(gray: np.ndarray, quad: Quad, size_px: tuple[int, int]) -> np.ndarray:
    """Warp the photographed sheet ``quad`` onto an upright rectangle of ``size_px`` (w, h)."""
    width, height = size_px
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(np.array(quad, dtype=np.float32), target)
    return cv2.warpPerspective(gray, matrix, (width, height), flags=cv2.INTER_LINEAR, borderValue=255)

"""Image work for scanned pages: straighten a slightly rotated scan, find ruling lines."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["MIN_SKEW", "Quad", "estimate_skew", "find_rules", "find_sheet", "flatten", "rotate", "sheet_size"]

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
    histogram when level. A coarse search over ±``max_angle`` then a fine one.
    """
    h, w = gray.shape[:2]
    scale = min(1.0, 1000.0 / max(w, 1))
    small = cv2.resize(gray, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
    _, binary = cv2.threshold(small, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if binary.sum() == 0:
        return 0.0
    coarse = np.arange(-max_angle, max_angle + 1e-9, 0.2)
    best = max(coarse, key=lambda a: _profile_score(binary, float(a)))
    fine = np.arange(best - 0.2, best + 0.2 + 1e-9, 0.02)
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
    count, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    found: list[tuple[int, int, int, int]] = []
    for x, y, w, h, _area in stats[1:count]:
        if horizontal and w >= min_length:
            mid = y + h // 2
            found.append((int(x), int(mid), int(x + w - 1), int(mid)))
        elif not horizontal and h >= min_length:
            mid = x + w // 2
            found.append((int(mid), int(y), int(mid), int(y + h - 1)))
    return found


def find_rules(gray: np.ndarray, dpi: int) -> list[tuple[int, int, int, int]]:
    """Ruling-line segments of a straightened page image, in pixels: (x0, y0, x1, y1).

    Morphological opening with long thin kernels keeps lines and drops text; a
    short closing bridges the gaps that noise and JPEG leave in a printed line.
    """
    binary = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 15)
    span = max(15, int(dpi * 0.16))  # ~11.5 pt: longer than any stroke of a 9-pt glyph
    bridge = max(3, dpi // 60)
    horiz = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (span, 1)))
    horiz = cv2.morphologyEx(horiz, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (bridge * 3, 1)))
    vert = cv2.morphologyEx(binary, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, span)))
    vert = cv2.morphologyEx(vert, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, bridge * 3)))
    return _segments(horiz, True, span) + _segments(vert, False, span)


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

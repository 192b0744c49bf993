"""Reading pages: a PDF's text layer where it is usable, OCR where it is not.

``read_pages(path)`` opens a PDF or an image (PNG, JPEG, TIFF) and returns one
``Page`` per page with its words, boxes and ruling lines. Scans are straightened
before OCR; their words come back in the straightened page's coordinates, in
points, exactly like a text layer's.

A scan's ruling lines are found before its text: each table cell is then cut
out and read line by line by recognition alone (the rules already say where the
text is), and only the text around the tables goes through text detection
(``Settings.ocr_mode``: "cells", or "page" to detect over the whole page).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pymupdf
from pydantic import BaseModel, ConfigDict, Field

from pipeline._imaging import (
    Box,
    Quad,
    binarize,
    drop_specks,
    estimate_skew,
    find_sheet,
    flatten,
    ink_line_height,
    lone_dash,
    rotate,
    rule_masks,
    rule_segments,
    sheet_size,
    text_blocks,
    text_lines,
)
from pipeline.exceptions import EncryptedPdfError, InputFileError, UnsupportedFileError
from pipeline.ocr import OcrEngine, OcrLine, get_engine
from pipeline.page import BBox, Page, PageSource, Rule, Word
from pipeline.settings import Settings
from pipeline.tables import Grid, rebuild_grids

__all__ = [
    "count_pages",
    "detect_kind",
    "iter_pages",
    "open_document",
    "page_sources",
    "read_pages",
    "render_page",
    "text_layer",
]

_MAGIC = {
    b"%PDF": "pdf",
    b"\x89PNG": "image",
    b"\xff\xd8\xff": "image",
    b"II*\x00": "image",
    b"MM\x00*": "image",
}
_RULE_MAX_THICKNESS = 2.5  # points; a filled rectangle thinner than this is a line
# White margins around a cell's text line for recognition, in line heights: above and below,
# and at the ends. The model scales every line to 48 px high: a wider margin shrinks the text,
# which reads faster but worse; a narrower one costs time and reads no better (measured on the
# fixtures).
_LINE_MARGIN = 0.2
_LINE_SIDE = 0.1
_MIN_CELL_SIZE = 12.0  # points: a grid whose typical cell is smaller is a large character's strokes
_DOUBLE_QUOTES = '“”"'
_MIN_LINE_SCORE = 0.5  # a cell line read with less confidence is noise (RapidOCR's own cut for detected lines)

# MuPDF prints its own complaints about damaged files to stderr; we report them as one line instead.
pymupdf.TOOLS.mupdf_display_errors(False)
pymupdf.TOOLS.mupdf_display_warnings(False)


def detect_kind(path: Path) -> str:
    """``"pdf"`` or ``"image"`` by the file's first bytes, or a clear error."""
    if not path.exists():
        raise InputFileError("no such file", path=path)
    if path.is_dir():
        raise InputFileError("is a folder, not a file", path=path)
    try:
        with path.open("rb") as handle:
            head = handle.read(1024)
    except OSError as e:
        raise InputFileError(f"cannot read the file ({e.strerror})", path=path) from e
    if not head:
        raise InputFileError("the file is empty (0 bytes)", path=path)
    for magic, kind in _MAGIC.items():
        if head.startswith(magic):
            return kind
    if b"%PDF" in head:  # some PDFs carry junk before the header
        return "pdf"
    raise UnsupportedFileError("not a PDF or an image (PNG, JPEG, TIFF)", path=path)


def open_document(path: Path) -> pymupdf.Document:
    """Open ``path`` as a PDF (images are converted to one), refusing damaged or locked files."""
    kind = detect_kind(path)
    try:
        doc = pymupdf.open(path)
    except Exception as e:
        raise InputFileError(f"cannot open the file: it is damaged or not really a {kind} ({e})", path=path) from e
    if kind == "image":
        try:
            pdf_bytes = doc.convert_to_pdf()
        except Exception as e:
            raise InputFileError(f"cannot decode the image ({e})", path=path) from e
        finally:
            doc.close()
        doc = pymupdf.open("pdf", pdf_bytes)
    if doc.needs_pass:
        doc.close()
        raise EncryptedPdfError("the PDF is encrypted with a password; decrypt it first (qpdf --decrypt)", path=path)
    if doc.page_count == 0:
        doc.close()
        raise InputFileError("the PDF has no pages (truncated or damaged)", path=path)
    if doc.is_repaired:
        # MuPDF rebuilt a broken cross-reference table: a truncated download is the usual cause.
        _check_pages_load(doc, path)
    return doc


def _check_pages_load(doc: pymupdf.Document, path: Path) -> None:
    try:
        pages = (doc.load_page(i) for i in range(doc.page_count))
        has_content = [bool(page.get_text("text").strip() or page.get_images()) for page in pages]
    except Exception as e:
        doc.close()
        raise InputFileError(f"the PDF is damaged (truncated?): {e}", path=path) from e
    if not any(has_content):
        doc.close()
        raise InputFileError("the PDF is damaged (truncated?): no page has any content", path=path)


def read_pages(path: Path | str, settings: Settings | None = None) -> list[Page]:
    """Every page of ``path`` as a ``Page``; OCR where the text layer is missing."""
    return list(iter_pages(path, settings))


def iter_pages(path: Path | str, settings: Settings | None = None) -> Iterator[Page]:
    """Like ``read_pages`` but one page at a time, so a long file never sits in memory."""
    settings = settings or Settings()
    path = Path(path)
    doc = open_document(path)
    try:
        for index in range(doc.page_count):
            yield _read_page(doc, index, path, settings)
    finally:
        doc.close()


def _read_page(doc: pymupdf.Document, index: int, path: Path, settings: Settings) -> Page:
    started = time.perf_counter()
    try:
        page = doc.load_page(index)
    except Exception as e:
        raise InputFileError(f"page {index + 1} cannot be read: {e}", path=path) from e
    words = _text_layer_words(page)
    if _reads_text_layer(words, settings):
        result = Page(
            path=str(path),
            number=index + 1,
            width=page.rect.width,
            height=page.rect.height,
            source="text",
            words=words,
            rules=_vector_rules(page),
        )
    else:
        result = _ocr_page(page, index, path, settings)
    result.seconds = round(time.perf_counter() - started, 4)
    return result


def _reads_text_layer(words: list[Word], settings: Settings) -> bool:
    """Whether a page is read from its text layer (else by OCR): a usable layer, unless OCR is forced."""
    usable = sum(len(w.text) for w in words) >= settings.min_text_chars and not _garbled(words)
    return settings.ocr == "never" or (settings.ocr == "auto" and usable)


def page_sources(path: Path | str, settings: Settings | None = None) -> list[PageSource]:
    """How each page of ``path`` would be read (``text`` or ``ocr``), without running OCR."""
    settings = settings or Settings()
    path = Path(path)
    doc = open_document(path)
    try:
        return [
            "text" if _reads_text_layer(_text_layer_words(doc.load_page(i)), settings) else "ocr"
            for i in range(doc.page_count)
        ]
    finally:
        doc.close()


def count_pages(path: Path | str) -> int:
    """Pages of a PDF or image file (an image is one page, a multi-page TIFF more)."""
    doc = open_document(Path(path))
    try:
        return int(doc.page_count)
    finally:
        doc.close()


def text_layer(path: Path | str) -> str:
    """The text layer of every page, as PyMuPDF prints it (empty for a scan); no OCR."""
    doc = open_document(Path(path))
    try:
        return "\n".join(doc.load_page(i).get_text("text") for i in range(doc.page_count))
    finally:
        doc.close()


def _text_layer_words(page: pymupdf.Page) -> list[Word]:
    x0, y0 = page.rect.x0, page.rect.y0
    return [
        Word(text=text, bbox=(wx0 - x0, wy0 - y0, wx1 - x0, wy1 - y0))
        for wx0, wy0, wx1, wy1, text, *_ in page.get_text("words", sort=True)
        if text.strip()
    ]


def _garbled(words: list[Word]) -> bool:
    """A text layer of replacement or private-use characters is no text layer."""
    chars = "".join(w.text for w in words)
    bad = sum(1 for c in chars if c == "\ufffd" or 0xE000 <= ord(c) <= 0xF8FF)
    return bool(chars) and bad / len(chars) > 0.1


def _vector_rules(page: pymupdf.Page) -> list[Rule]:
    rules: list[Rule] = []
    ox, oy = page.rect.x0, page.rect.y0
    for drawing in page.get_drawings():
        for item in drawing["items"]:
            if item[0] == "l":
                p, q = item[1], item[2]
                if abs(p.x - q.x) < 0.5 or abs(p.y - q.y) < 0.5:
                    rules.append(Rule(x0=p.x - ox, y0=p.y - oy, x1=q.x - ox, y1=q.y - oy))
            elif item[0] == "re":
                rect = item[1]
                if rect.height <= _RULE_MAX_THICKNESS and rect.width > rect.height:
                    y = (rect.y0 + rect.y1) / 2 - oy
                    rules.append(Rule(x0=rect.x0 - ox, y0=y, x1=rect.x1 - ox, y1=y))
                elif rect.width <= _RULE_MAX_THICKNESS and rect.height > rect.width:
                    x = (rect.x0 + rect.x1) / 2 - ox
                    rules.append(Rule(x0=x, y0=rect.y0 - oy, x1=x, y1=rect.y1 - oy))
                elif drawing.get("color") is not None:  # a stroked box: its four sides
                    x0, y0, x1, y1 = rect.x0 - ox, rect.y0 - oy, rect.x1 - ox, rect.y1 - oy
                    rules += [
                        Rule(x0=x0, y0=y0, x1=x1, y1=y0),
                        Rule(x0=x0, y0=y1, x1=x1, y1=y1),
                        Rule(x0=x0, y0=y0, x1=x0, y1=y1),
                        Rule(x0=x1, y0=y0, x1=x1, y1=y1),
                    ]
    return rules


def _page_image(page: pymupdf.Page, dpi: int) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """The page as a grayscale image, and the box (points) the image covers on the page.

    A scan is one image filling the page: take its own pixels (no resampling)
    when its resolution is near ``dpi``; otherwise render the page at ``dpi``.
    """
    area = page.rect.width * page.rect.height
    # One image placed once is the scan; its xref comes from the page's image list, which is
    # free, where asking get_image_info for xrefs decodes every image to hash it.
    infos, images = page.get_image_info(), page.get_images()
    if len(infos) == 1 and len(images) == 1 and page.rotation == 0:
        info = infos[0]
        bbox = pymupdf.Rect(info["bbox"])
        a, b, c, d = info["transform"][:4]
        axis_aligned = abs(b) < 1e-6 and abs(c) < 1e-6 and a > 0 and d > 0
        image_dpi = info["width"] / max(bbox.width / 72.0, 1e-6)
        if axis_aligned and bbox.width * bbox.height >= 0.85 * area and 0.75 * dpi <= image_dpi <= 1.6 * dpi:
            gray = _image_pixels(page.parent, images[0][0])
            if gray is not None and gray.shape[1] == info["width"]:
                ox, oy = page.rect.x0, page.rect.y0
                return gray, (bbox.x0 - ox, bbox.y0 - oy, bbox.x1 - ox, bbox.y1 - oy)
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
    gray = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.stride)[:, : pix.width].copy()
    return gray, (0.0, 0.0, page.rect.width, page.rect.height)


def _image_pixels(doc: pymupdf.Document, xref: int) -> np.ndarray | None:
    """An embedded image's pixels in grayscale, decoded the quickest way.

    A JPEG stream goes to OpenCV as it is. Anything else MuPDF decodes itself:
    ``extract_image`` would first re-encode it as a PNG, a second for a page-sized
    scan. Only odd colour spaces (CMYK, indexed) take that road.
    """
    if doc.xref_get_key(xref, "Filter") != ("name", "/DCTDecode"):
        pix = pymupdf.Pixmap(doc, xref)
        channels = pix.n - pix.alpha
        if channels in (1, 3):
            pixels = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, pix.n)
            if channels == 1:
                return pixels[:, :, 0].copy()
            return cv2.cvtColor(np.ascontiguousarray(pixels[:, :, :3]), cv2.COLOR_RGB2GRAY)
    raw = doc.extract_image(xref)["image"]
    return cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_GRAYSCALE)


def _straighten(
    page: pymupdf.Page,
    dpi: int,
    *,
    sheet: list[tuple[float, float]] | None = None,
    find_photo_sheet: bool = False,
    angle: float | None = None,
) -> tuple[np.ndarray, tuple[float, float, float, float], tuple[float, float], float, list[tuple[float, float]] | None]:
    """The page image made upright: a photographed sheet flattened, a tilted scan turned level.

    Returns the image, the box (points) it covers in the page frame, the page size
    (points), the angle it was turned by, and the sheet's corners (points of the
    original page) if it was flattened. Reading finds the sheet and the angle;
    rendering passes them back in, so both produce the same frame.
    """
    gray, (bx0, by0, bx1, by1) = _page_image(page, dpi)
    sx, sy = (bx1 - bx0) / gray.shape[1], (by1 - by0) / gray.shape[0]
    size = (page.rect.width, page.rect.height)
    if sheet is None and find_photo_sheet:
        quad = find_sheet(gray)
        if quad is not None:
            sheet = [(bx0 + x * sx, by0 + y * sy) for x, y in quad]
    if sheet is not None:
        quad_px: Quad = tuple(((x - bx0) / sx, (y - by0) / sy) for x, y in sheet)  # type: ignore[assignment]
        size = sheet_size(quad_px)
        gray = flatten(gray, quad_px, (round(size[0] * dpi / 72), round(size[1] * dpi / 72)))
        bx0, by0, bx1, by1 = 0.0, 0.0, size[0], size[1]
    if angle is None:
        angle = estimate_skew(gray)
    return rotate(gray, angle), (bx0, by0, bx1, by1), size, angle, sheet


class _Frame(BaseModel):
    """Where the straightened page image lies in the page frame: its pixel (0, 0) at (x0, y0), in points."""

    model_config = ConfigDict(frozen=True)

    x0: float
    y0: float
    sx: float = Field(description="Points per pixel across")
    sy: float = Field(description="Points per pixel down")

    def to_points(self, box: tuple[float, float, float, float]) -> BBox:
        x0, y0, x1, y1 = box
        return (self.x0 + x0 * self.sx, self.y0 + y0 * self.sy, self.x0 + x1 * self.sx, self.y0 + y1 * self.sy)

    def to_pixels(self, box: BBox) -> Box:
        x0, y0, x1, y1 = box
        return (
            round((x0 - self.x0) / self.sx),
            round((y0 - self.y0) / self.sy),
            round((x1 - self.x0) / self.sx),
            round((y1 - self.y0) / self.sy),
        )


class _Scan(BaseModel):
    """A straightened page image and what the image work found on it, shared by the reading steps."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    gray: np.ndarray
    ink: np.ndarray = Field(description="Ink (255) without scanner specks")
    lines: np.ndarray = Field(description="Ruling lines (255), grown by their blurred edge")
    frame: _Frame
    dpi: int


def _ocr_page(page: pymupdf.Page, index: int, path: Path, settings: Settings) -> Page:
    straight, (bx0, by0, bx1, by1), (width, height), angle, sheet = _straighten(
        page,
        settings.ocr_dpi,
        find_photo_sheet=settings.flatten_photos,
        angle=None if settings.deskew else 0.0,
    )
    height_px, width_px = straight.shape[:2]
    frame = _Frame(x0=bx0, y0=by0, sx=(bx1 - bx0) / width_px, sy=(by1 - by0) / height_px)
    dpi = round(72.0 / frame.sx)
    binary = binarize(straight)
    horizontal, vertical = rule_masks(binary, dpi)
    rules = [_rule(frame.to_points(segment)) for segment in rule_segments((horizontal, vertical), dpi)]
    engine = get_engine(settings.ocr_engine, settings.ocr_threads)
    layout = Page(path=str(path), number=index + 1, width=width, height=height, source="ocr", rules=rules)
    grids = [grid for grid in rebuild_grids(layout) if _is_table(grid)] if settings.ocr_mode == "cells" else []
    if grids:
        scan = _Scan(
            gray=straight,
            ink=drop_specks(binary, round((dpi / 100) ** 2)),
            lines=cv2.dilate(cv2.bitwise_or(horizontal, vertical), np.ones((5, 5), np.uint8)),
            frame=frame,
            dpi=dpi,
        )
        words = _reading_order(grids, _read_cells(scan, grids, engine), _read_around(scan, grids, engine))
    else:
        words = _words(engine.read_lines(straight), frame, (0, 0))
    chars = sum(len(w.text) for w in words)
    confidence = sum(w.conf * len(w.text) for w in words) / chars if chars else None
    return layout.model_copy(
        update={
            "words": words,
            "ocr_confidence": round(confidence, 4) if confidence is not None else None,
            "deskew_angle": angle,
            "sheet": sheet,
            "dpi": dpi,
        }
    )


def _is_table(grid: Grid) -> bool:
    """Whether a grid found on a scan is a table, not the strokes of a large title's characters.

    At 20 pt a character's strokes are long enough to pass for ruling lines, and
    they cross into a tiny grid. A table's cells hold text: their typical size is
    well above a line of body text. What is not a table is read by detection.
    """
    widths = [cell.bbox[2] - cell.bbox[0] for cell in grid.cells]
    heights = [cell.bbox[3] - cell.bbox[1] for cell in grid.cells]
    return min(statistics.median(widths), statistics.median(heights)) >= _MIN_CELL_SIZE


def _rule(box: BBox) -> Rule:
    x0, y0, x1, y1 = box
    return Rule(x0=x0, y0=y0, x1=x1, y1=y1)


def _words(lines: list[OcrLine], frame: _Frame, offset: tuple[int, int]) -> list[Word]:
    """Detected text lines as words in the page frame; ``offset`` is where their image lies in the page image."""
    dx, dy = offset
    return [
        Word(
            text=line.text,
            bbox=frame.to_points((line.box[0] + dx, line.box[1] + dy, line.box[2] + dx, line.box[3] + dy)),
            conf=min(1.0, max(0.0, line.score)),
        )
        for line in lines
        if line.text.strip()
    ]


def _read_cells(scan: _Scan, grids: list[Grid], engine: OcrEngine) -> list[list[Word]]:
    """Every table cell read line by line, one list of words a grid: no text detection, the rules box the text.

    Each cell is cut just inside its ruling lines; what is left of a line at its
    edges is wiped, a blank cell is skipped, and the rest is split into text lines
    by its ink profile; the lines of the whole page are recognised in one call.
    """
    inset = max(2, round(scan.dpi / 50))
    cells = [(g, _inset(scan.frame.to_pixels(cell.bbox), inset)) for g, grid in enumerate(grids) for cell in grid.cells]
    cells = [(g, box) for g, box in cells if box[2] > box[0] and box[3] > box[1]]
    inks = [_cell_ink(scan, box, 2 * inset) for _, box in cells]
    height = ink_line_height(inks, scan.dpi)
    words: list[list[Word]] = [[] for _ in grids]
    to_read: list[tuple[int, list[Box]]] = []  # each cell's text lines (page pixels) with its grid
    for (g, (cx, cy, _, _)), ink in zip(cells, inks, strict=True):
        if not ink.any():
            continue  # a blank cell
        found = text_lines(ink, height)
        x0, y0, x1, y1 = found[0]
        dash = lone_dash(ink[y0:y1, x0:x1], height) if len(found) == 1 else None
        lines = [(cx + x0, cy + y0, cx + x1, cy + y1) for x0, y0, x1, y1 in found]
        if dash:
            words[g].append(Word(text=dash, bbox=scan.frame.to_points(lines[0])))
        else:
            to_read.append((g, lines))
    slack = max(1, scan.dpi // 100)
    texts = engine.read_line_images([_line_image(scan.gray, box, height, slack) for _, c in to_read for box in c])
    start = 0
    for g, lines in to_read:
        mine, start = texts[start : start + len(lines)], start + len(lines)
        read = [(box, t) for box, t in zip(lines, mine, strict=True) if t.text.strip() and t.score >= _MIN_LINE_SCORE]
        paired = _pair_quotes([text.text.strip() for _, text in read])
        words[g] += [
            Word(text=line, bbox=scan.frame.to_points(box), conf=min(1.0, max(0.0, text.score)))
            for (box, text), line in zip(read, paired, strict=True)
        ]
    return words


def _reading_order(grids: list[Grid], tables: list[list[Word]], around: list[Word]) -> list[Word]:
    """The words around the tables and each table's words, by where they start down the page.

    A table's words stay together, cell by cell and line by line, so a vertical
    header (绩/效/指/标) joins up again like the detected line it used to be.
    """
    words, rest = [], list(around)
    for grid, table in zip(grids, tables, strict=True):
        while rest and rest[0].y_center < grid.bbox[1]:
            words.append(rest.pop(0))
        words += table
    return words + rest


def _pair_quotes(lines: list[str]) -> list[str]:
    """A cell's lines with its double quotes turned to alternate “ and ”, when they pair up.

    At recognition size “ and ” are two specks that differ only in which way they
    curl, and the model often gets the way wrong, or reads a straight ". Chinese
    text quotes with “…”, so an even number of quotes in a cell is re-curled in
    order; an odd number means one was missed, and then they are left as read.
    """
    if sum(line.count(q) for line in lines for q in _DOUBLE_QUOTES) % 2:
        return lines
    opened = False
    paired: list[str] = []
    for line in lines:
        chars = list(line)
        for i, char in enumerate(chars):
            if char in _DOUBLE_QUOTES:
                chars[i] = "”" if opened else "“"
                opened = not opened
        paired.append("".join(chars))
    return paired


def _inset(box: Box, by: int) -> Box:
    x0, y0, x1, y1 = box
    return (x0 + by, y0 + by, x1 - by, y1 - by)


def _cell_ink(scan: _Scan, box: Box, edge: int) -> np.ndarray:
    """The ink inside a cell, without the bits of its ruling lines that reach in along its edges.

    Only line pixels near the edges are wiped: a rule found where it is not (a
    long dash in the cell) must not erase the cell's own text.
    """
    x0, y0, x1, y1 = box
    ink = scan.ink[y0:y1, x0:x1].copy()
    lines = scan.lines[y0:y1, x0:x1].copy()
    lines[edge:-edge, edge:-edge] = 0
    ink[lines > 0] = 0
    return ink


def _line_image(gray: np.ndarray, box: Box, height: float, slack: int) -> np.ndarray:
    """One text line cut from the page onto white, centred, with a margin (recognition reads it better).

    Only the line's own ink box (and ``slack`` pixels for the antialiased edge) is
    copied, so neither the lines above and below nor the ruling lines come with it.
    Short marks (a dash, a digit) get the height of a full line, so all lines are
    read at one scale.
    """
    x0, y0, x1, y1 = box
    margin, side = max(slack, round(_LINE_MARGIN * height)), max(slack, round(_LINE_SIDE * height))
    full = max(y1 - y0, round(height))
    canvas = np.full((full + 2 * margin, x1 - x0 + 2 * side), 255, dtype=np.uint8)
    top = margin + (full - (y1 - y0)) // 2
    sy0, sy1 = max(0, y0 - slack), min(gray.shape[0], y1 + slack)
    sx0, sx1 = max(0, x0 - slack), min(gray.shape[1], x1 + slack)
    ty0, tx0 = top - (y0 - sy0), side - (x0 - sx0)
    canvas[ty0 : ty0 + sy1 - sy0, tx0 : tx0 + sx1 - sx0] = gray[sy0:sy1, sx0:sx1]
    return canvas


def _read_around(scan: _Scan, grids: list[Grid], engine: OcrEngine) -> list[Word]:
    """The text outside the tables (title, year, notes) by detection and recognition, block by block.

    The tables are painted out; what ink is left is grouped into blocks and only
    those are given to the detector, a small part of the page.
    """
    pad, border = max(4, round(scan.dpi / 10)), max(4, round(scan.dpi / 25))
    outside = scan.ink.copy()
    paper = scan.gray.copy()
    for grid in grids:  # painted out up to just past its border lines: text right by a table stays
        x0, y0, x1, y1 = _inset(scan.frame.to_pixels(grid.bbox), -border)
        outside[max(0, y0) : y1, max(0, x0) : x1] = 0
        paper[max(0, y0) : y1, max(0, x0) : x1] = 255
    height = 10 * scan.dpi / 72  # a line of body text: rows of ink closer than this are one block
    words: list[Word] = []
    for x0, y0, x1, y1 in text_blocks(outside, height):
        bx0, by0 = max(0, x0 - pad), max(0, y0 - pad)
        block = paper[by0 : y1 + pad, bx0 : x1 + pad]
        words += _words(engine.read_lines(block), scan.frame, (bx0, by0))
    return words


def render_page(page: Page, dpi: int = 150) -> np.ndarray:
    """The page image (grayscale) in the same frame as its words: flattened and straightened like its scan."""
    doc = open_document(Path(page.path))
    try:
        image, *_ = _straighten(doc.load_page(page.number - 1), dpi, sheet=page.sheet, angle=page.deskew_angle)
    finally:
        doc.close()
    return image

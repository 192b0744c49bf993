"""Reading pages: a PDF's text layer where it is usable, OCR where it is not.

``read_pages(path)`` opens a PDF or an image (PNG, JPEG, TIFF) and returns one
``Page`` per page with its words, boxes and ruling lines. Scans are straightened
before OCR; their words come back in the straightened page's coordinates, in
points, exactly like a text layer's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pymupdf

from pipeline._imaging import Quad, estimate_skew, find_rules, find_sheet, flatten, rotate, sheet_size
from pipeline.exceptions import EncryptedPdfError, InputFileError, UnsupportedFileError
from pipeline.ocr import get_engine
from pipeline.page import Page, Rule, Word
from pipeline.settings import Settings

__all__ = ["detect_kind", "iter_pages", "open_document", "read_pages", "render_page"]

_MAGIC = {
    b"%PDF": "pdf",
    b"\x89PNG": "image",
    b"\xff\xd8\xff": "image",
    b"II*\x00": "image",
    b"MM\x00*": "image",
}
_RULE_MAX_THICKNESS = 2.5  # points; a filled rectangle thinner than this is a line

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
    usable = sum(len(w.text) for w in words) >= settings.min_text_chars and not _garbled(words)
    if settings.ocr == "never" or (settings.ocr == "auto" and usable):
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
    infos = [i for i in page.get_image_info(xrefs=True) if i.get("xref")]
    if len(infos) == 1 and page.rotation == 0:
        info = infos[0]
        bbox = pymupdf.Rect(info["bbox"])
        a, b, c, d = info["transform"][:4]
        axis_aligned = abs(b) < 1e-6 and abs(c) < 1e-6 and a > 0 and d > 0
        image_dpi = info["width"] / max(bbox.width / 72.0, 1e-6)
        if axis_aligned and bbox.width * bbox.height >= 0.85 * area and 0.75 * dpi <= image_dpi <= 1.6 * dpi:
            raw = page.parent.extract_image(info["xref"])["image"]
            gray = cv2.imdecode(np.frombuffer(raw, np.uint8), cv2.IMREAD_GRAYSCALE)
            if gray is not None and gray.shape[1] == info["width"]:
                ox, oy = page.rect.x0, page.rect.y0
                return gray, (bbox.x0 - ox, bbox.y0 - oy, bbox.x1 - ox, bbox.y1 - oy)
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
    gray = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.stride)[:, : pix.width].copy()
    return gray, (0.0, 0.0, page.rect.width, page.rect.height)


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


def _ocr_page(page: pymupdf.Page, index: int, path: Path, settings: Settings) -> Page:
    straight, (bx0, by0, bx1, by1), (width, height), angle, sheet = _straighten(
        page,
        settings.ocr_dpi,
        find_photo_sheet=settings.flatten_photos,
        angle=None if settings.deskew else 0.0,
    )
    height_px, width_px = straight.shape[:2]
    sx, sy = (bx1 - bx0) / width_px, (by1 - by0) / height_px
    dpi = round(72.0 / sx)
    lines = get_engine(settings.ocr_engine, settings.ocr_threads).read_lines(straight)
    words = [
        Word(
            text=line.text,
            bbox=(bx0 + line.box[0] * sx, by0 + line.box[1] * sy, bx0 + line.box[2] * sx, by0 + line.box[3] * sy),
            conf=min(1.0, max(0.0, line.score)),
        )
        for line in lines
        if line.text.strip()
    ]
    rules = [
        Rule(x0=bx0 + x0 * sx, y0=by0 + y0 * sy, x1=bx0 + x1 * sx, y1=by0 + y1 * sy)
        for x0, y0, x1, y1 in find_rules(straight, dpi)
    ]
    chars = sum(len(w.text) for w in words)
    confidence = sum(w.conf * len(w.text) for w in words) / chars if chars else None
    return Page(
        path=str(path),
        number=index + 1,
        width=width,
        height=height,
        source="ocr",
        words=words,
        rules=rules,
        ocr_confidence=round(confidence, 4) if confidence is not None else None,
        deskew_angle=angle,
        sheet=sheet,
        dpi=dpi,
    )


def render_page(page: Page, dpi: int = 150) -> np.ndarray:
    """The page image (grayscale) in the same frame as its words: flattened and straightened like its scan."""
    doc = open_document(Path(page.path))
    try:
        image, *_ = _straighten(doc.load_page(page.number - 1), dpi, sheet=page.sheet, angle=page.deskew_angle)
    finally:
        doc.close()
    return image

"""Reading pages: text layer and OCR give the same structure, and the OCR reads right."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURE_IDS, FORMS, label_of, native_pages, reading_of
from textmetrics import char_accuracy, page_text

from pipeline.exceptions import NoFormFoundError
from pipeline.ingest import read_pages, render_page
from pipeline.page import normalize_for_match
from pipeline.run import read_file
from pipeline.settings import Settings

# The floor for OCR character accuracy on our 200-dpi noisy, rotated scans. Measured
# at 0.99+ on every fixture page; the floor leaves room for a different CPU's float
# rounding in ONNX Runtime, not for a real regression (one misread row costs ~1%).
OCR_ACCURACY_FLOOR = 0.97


def _label_texts(fixture_id: str) -> list[str]:
    """Every text value the label holds (names, goals, indicator texts)."""
    texts: list[str] = []
    for form in label_of(fixture_id)["forms"]:
        texts += [form[k] for k in ("project_name", "department", "implementing_unit") if form[k]]
        texts += [form[k] for k in ("goal_expected", "goal_actual") if form[k]]
        for row in form["indicators"]:
            texts += [row[k] for k in ("level1", "level2", "level3", "actual", "deviation") if row[k]]
        texts += [row["label"] for row in form["funds"]]
    return texts


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
def test_native_pages_read_from_the_text_layer(fixture_id: str) -> None:
    pages = native_pages(fixture_id)
    assert pages and all(p.source == "text" for p in pages)
    assert all(p.ocr_confidence is None and p.deskew_angle == 0.0 for p in pages)
    assert all(len(p.rules) >= 20 for p in pages), "bordered tables have ruling lines"
    whole = "".join(page_text(p) for p in pages)
    missing = [t for t in _label_texts(fixture_id) if normalize_for_match(t) not in whole]
    # Line wraps in a cell can interleave with a neighbour cell's lines, so a long
    # text may not appear contiguously; short values always must.
    assert [t for t in missing if len(t) <= 12] == []


@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
def test_scanned_pages_are_ocred_straightened_and_accurate(fixture_id: str) -> None:
    scan = reading_of(fixture_id, "scan").pages
    native = native_pages(fixture_id)
    assert len(scan) == len(native)
    for ocr_page, text_page in zip(scan, native, strict=True):
        assert ocr_page.source == "ocr" and ocr_page.dpi == 200
        assert 0.3 <= abs(ocr_page.deskew_angle) <= 2.0, "fixture scans are rotated by 0.4-1.8 degrees"
        assert ocr_page.ocr_confidence is not None and ocr_page.ocr_confidence > 0.9
        assert (ocr_page.width, ocr_page.height) == pytest.approx((text_page.width, text_page.height))
        accuracy = char_accuracy(page_text(ocr_page), page_text(text_page))
        print(f"{fixture_id} p{ocr_page.number}: OCR accuracy {accuracy:.4f}, {ocr_page.seconds:.2f}s")
        assert accuracy >= OCR_ACCURACY_FLOOR
        # Words land where the text layer has them: the frame is the page's, in points.
        title = min(text_page.words, key=lambda w: w.bbox[1])
        ocr_title = min(ocr_page.words, key=lambda w: w.bbox[1])
        assert ocr_title.bbox[1] == pytest.approx(title.bbox[1], abs=6)
        assert len(ocr_page.rules) >= 20, "ruling lines are found on the scan image too"


def test_scanned_page_renders_in_the_frame_of_its_words() -> None:
    page = reading_of("sh-minhang-pujin-2023-department", "scan").pages[0]
    image = render_page(page, dpi=100)
    assert image.shape == (round(page.height * 100 / 72), round(page.width * 100 / 72))


@pytest.mark.parametrize("name", ["page1.png", "page1.jpg", "page1.tiff"])
def test_image_files_are_read_like_scans(name: str) -> None:
    path = FORMS / "sh-minhang-pujin-2023-department" / name
    reading = read_file(path)
    assert [p.source for p in reading.pages] == ["ocr"]
    assert "浦锦街道城市运行管理中心" in page_text(reading.pages[0])
    assert [s.form_type for s in reading.spans] == ["department"]


def test_ocr_mode_never_on_a_scan_finds_no_text_and_says_so() -> None:
    path = FORMS / "sh-minhang-pujin-2023-department" / "scan.pdf"
    with pytest.raises(NoFormFoundError, match="no 绩效自评表 found"):
        read_file(path, Settings(ocr="never"))


def test_ocr_mode_always_reads_a_native_pdf_by_ocr_with_the_same_text() -> None:
    path: Path = FORMS / "sh-minhang-pujin-2023-department" / "native.pdf"
    (page, *_) = read_pages(path, Settings(ocr="always"))
    assert page.source == "ocr" and page.deskew_angle == 0.0
    assert char_accuracy(page_text(page), page_text(native_pages("sh-minhang-pujin-2023-department")[0])) > 0.97

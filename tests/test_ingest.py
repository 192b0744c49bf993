"""Reading pages: text layer and OCR give the same structure, and the OCR reads right."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FIXTURE_IDS, FORMS, label_of, native_pages, reading_of
from textmetrics import cell_ordered_text, char_accuracy, page_text, stacked_texts

from pipeline.exceptions import NoFormFoundError
from pipeline.ingest import read_pages, render_page
from pipeline.page import normalize_for_match
from pipeline.run import read_file
from pipeline.settings import Settings

# The floor for OCR character accuracy on our 200-dpi noisy, rotated scans, read cell by
# cell. Measured 0.982-1.000 per page (mean 0.991) on every fixture page; most of what is
# lost is “ ” read as ". The floor leaves a little room for ONNX Runtime's float rounding
# on another CPU, not for a regression: one misread row costs about 1%.
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
    assert all(len(p.rules) >= 10 for p in pages), "bordered tables have ruling lines"
    chains = [chain for p in pages for chain in stacked_texts(p)]
    missing = [t for t in _label_texts(fixture_id) if not any(normalize_for_match(t) in c for c in chains)]
    assert missing == []


@pytest.mark.slow
@pytest.mark.parametrize("fixture_id", FIXTURE_IDS)
def test_scanned_pages_are_ocred_straightened_and_accurate(fixture_id: str) -> None:
    scan = reading_of(fixture_id, "scan").pages
    native = native_pages(fixture_id)
    assert len(scan) == len(native)
    for ocr_page, text_page in zip(scan, native, strict=True):
        assert ocr_page.source == "ocr" and ocr_page.dpi == 200
        assert ocr_page.sheet is None, "a flat scan is never warped as if photographed"
        assert 0.3 <= abs(ocr_page.deskew_angle) <= 2.0, "fixture scans are rotated by 0.4-1.8 degrees"
        assert ocr_page.ocr_confidence is not None and ocr_page.ocr_confidence > 0.9
        assert (ocr_page.width, ocr_page.height) == pytest.approx((text_page.width, text_page.height))
        accuracy = char_accuracy(cell_ordered_text(ocr_page, text_page), cell_ordered_text(text_page, text_page))
        print(f"{fixture_id} p{ocr_page.number}: OCR accuracy {accuracy:.4f}, {ocr_page.seconds:.2f}s")
        assert accuracy >= OCR_ACCURACY_FLOOR
        # Words land where the text layer has them: the frame is the page's, in points.
        title = min(text_page.words, key=lambda w: w.bbox[1])
        ocr_title = min(ocr_page.words, key=lambda w: w.bbox[1])
        assert ocr_title.bbox[1] == pytest.approx(title.bbox[1], abs=6)
        assert len(ocr_page.rules) >= 10, "ruling lines are found on the scan image too"


@pytest.mark.slow
def test_scanned_page_renders_in_the_frame_of_its_words() -> None:
    page = reading_of("sh-minhang-pujin-2023-department", "scan").pages[0]
    image = render_page(page, dpi=100)
    height, width = image.shape
    assert height == pytest.approx(page.height * 100 / 72, abs=1.5)
    assert width == pytest.approx(page.width * 100 / 72, abs=1.5)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["page1.png", "page1.jpg", "page1.tiff"])
def test_image_files_are_read_like_scans(name: str) -> None:
    path = FORMS / "sh-minhang-pujin-2023-department" / name
    reading = read_file(path)
    assert [p.source for p in reading.pages] == ["ocr"]
    assert "浦锦街道城市运行管理中心" in page_text(reading.pages[0])
    assert [s.form_type for s in reading.spans] == ["department"]


@pytest.mark.slow
def test_a_photographed_page_is_flattened_then_read() -> None:
    """Stretch goal: a sheet photographed at an angle on a dark desk (perspective of a few percent)."""
    (page,) = read_pages(FORMS / "sh-minhang-pujin-2023-department" / "photo1.jpg")
    assert page.sheet is not None and len(page.sheet) == 4
    assert (page.width, page.height) == pytest.approx((595, 842), abs=10), "flattened to an A4 sheet"
    text_page = native_pages("sh-minhang-pujin-2023-department")[0]
    accuracy = char_accuracy(cell_ordered_text(page, text_page), cell_ordered_text(text_page, text_page))
    print(f"photographed page: OCR accuracy {accuracy:.4f}")  # measured 0.993; unflattened 0.848
    assert accuracy >= OCR_ACCURACY_FLOOR
    image = render_page(page, dpi=72)
    assert image.shape == pytest.approx((round(page.height), round(page.width)), abs=1.5)


def test_ocr_mode_never_on_a_scan_finds_no_text_and_says_so() -> None:
    path = FORMS / "sh-minhang-pujin-2023-department" / "scan.pdf"
    with pytest.raises(NoFormFoundError, match="no 绩效自评表 found"):
        read_file(path, Settings(ocr="never"))


@pytest.mark.slow
def test_ocr_mode_always_reads_a_native_pdf_by_ocr_with_the_same_text() -> None:
    path: Path = FORMS / "sh-minhang-pujin-2023-department" / "native.pdf"
    (page, *_) = read_pages(path, Settings(ocr="always"))
    assert page.source == "ocr" and page.deskew_angle == 0.0
    text_page = native_pages("sh-minhang-pujin-2023-department")[0]
    assert char_accuracy(cell_ordered_text(page, text_page), cell_ordered_text(text_page, text_page)) > 0.97

"""The evaluation report (``pipeline.evaluation.html``): one self-contained page, built from a real fixture's outputs.

The run records are made by hand from a real extraction of
``sh-chongming-2023-project/native.pdf`` with two values changed (a fund row's
``executed``, an indicator row's ``target`` dropped), scored against the label,
and the page is rendered with real PyMuPDF crops of the real PDF.
"""

from __future__ import annotations

import base64
import datetime
import struct
from dataclasses import dataclass, field
from functools import cache
from html.parser import HTMLParser
from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest

from pipeline.evaluation.diff import compare_runs
from pipeline.evaluation.html import render_html, write_html
from pipeline.evaluation.records import RunConfig, RunRecord, Sample, SampleResult
from pipeline.result import Extraction
from pipeline.run import extract_file
from pipeline.schema import Document
from pipeline.scoring import score_document

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
FIXTURE = "forms/sh-chongming-2023-project"
SAMPLE_ID = f"{FIXTURE}/native.pdf"
PREDICTION = "predictions/native.json"

EXECUTED = "forms[0].funds[0].executed"
TARGET = "forms[0].indicators[3].target"
WRONG_EXECUTED = 934758.52  # the label's 934785.52 with two digits swapped


# --- reading the page back ----------------------------------------------------------------------------------------


@dataclass
class Element:
    """A start tag with its attributes, and the text inside it up to its end tag."""

    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[Element] = field(default_factory=list)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def find_all(self, tag: str, cls: str | None = None) -> list[Element]:
        found = [e for e in self.children if e.tag == tag and (cls is None or cls in e.classes())]
        return found + [hit for child in self.children for hit in child.find_all(tag, cls)]


_VOID = {"meta", "img", "br", "hr", "link", "input", "line", "rect"}


class _Tree(HTMLParser):
    """A small element tree from Python's own HTML parser: enough to find sections, bars, rows and images."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.stack[-1].children.append(element)
        if tag not in _VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return
        raise AssertionError(f"</{tag}> closes nothing open")

    def handle_data(self, data: str) -> None:
        for element in self.stack[1:]:
            element.text += data


def parse(page: str) -> Element:
    tree = _Tree()
    tree.feed(page)
    tree.close()
    open_tags = [e.tag for e in tree.stack[1:] if e.tag not in ("html", "body")]
    assert not open_tags, f"left open: {open_tags}"
    return tree.root


def section(root: Element, name: str) -> Element:
    (found,) = [s for s in root.find_all("section") if s.attrs.get("id") == name]
    return found


def png_of(img: Element) -> bytes:
    prefix = "data:image/png;base64,"
    src = img.attrs["src"]
    assert src.startswith(prefix)
    return base64.b64decode(src[len(prefix) :], validate=True)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


# --- the runs -----------------------------------------------------------------------------------------------------


@cache
def original() -> Extraction:
    """The layout extractor's output of the native PDF: it matches the label exactly."""
    return extract_file(FIXTURES / SAMPLE_ID)


@cache
def label() -> Document:
    return Document.model_validate_json((FIXTURES / FIXTURE / "label.json").read_text(encoding="utf-8"))


def changed() -> Extraction:
    """Two slots made wrong: a fund row's executed (its box kept), an indicator's target dropped (and its box)."""
    extraction = original().model_copy(deep=True)
    extraction.forms[0].funds[0].executed = WRONG_EXECUTED
    extraction.forms[0].indicators[3].target = None
    del extraction.provenance[TARGET]
    return extraction


def make_record(name: str, extraction: Extraction, folder: Path) -> RunRecord:
    """A run of one file: the extraction written as its prediction in ``folder`` and scored against the label."""
    (folder / "predictions").mkdir(parents=True, exist_ok=True)
    (folder / PREDICTION).write_text(extraction.model_dump_json(indent=1), encoding="utf-8")
    sample = Sample(id=SAMPLE_ID, fixture=FIXTURE, variant="native", layout="sh-2023", pages=3)
    result = SampleResult(
        sample=sample,
        page_source="text",
        prediction=PREDICTION,
        status=extraction.status,
        seconds=2.0,
        score=score_document(extraction, label(), name=SAMPLE_ID),
    )
    config = RunConfig(extractor="layout", fixtures=str(FIXTURES), jixiao="0.1.0")
    started = datetime.datetime(2025, 1, 2, 3, 4, 5)
    return RunRecord(name=name, started=started, seconds=3.5, config=config, samples=[result])


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunRecord, Path, RunRecord, Path]:
    """The changed run and its folder, the original run and its folder."""
    base = tmp_path_factory.mktemp("runs")
    before = make_record("run-changed", changed(), base / "changed")
    after = make_record("run-original", original(), base / "original")
    return before, base / "changed", after, base / "original"


@pytest.fixture(scope="module")
def report(runs: tuple[RunRecord, Path, RunRecord, Path]) -> str:
    record, folder, _, _ = runs
    return render_html(record, folder)


@pytest.fixture(scope="module")
def compared(runs: tuple[RunRecord, Path, RunRecord, Path]) -> str:
    """The changed run's report with the comparison changed (A) → original (B)."""
    before, folder, after, _ = runs
    return render_html(before, folder, compare_runs(before, after))


# --- tests --------------------------------------------------------------------------------------------------------


def test_the_scored_runs_are_what_the_tests_assume(runs: tuple[RunRecord, Path, RunRecord, Path]) -> None:
    before, _, after, _ = runs
    assert {(m.path, m.kind) for m in before.samples[0].score.mismatches} == {(EXECUTED, "wrong"), (TARGET, "missing")}
    assert after.samples[0].score.mismatches == []


def test_the_page_parses_and_holds_its_sections_in_order(compared: str) -> None:
    root = parse(compared)
    assert compared.startswith("<!DOCTYPE html>")
    assert [s.attrs["id"] for s in root.find_all("section")] == [
        "headline",
        "fields",
        "breakdowns",
        "checks",
        "comparison",
        "wrong",
    ]
    (header,) = root.find_all("header")
    assert "run-changed" in header.text
    assert "layout" in header.text


def test_the_page_is_self_contained(compared: str) -> None:
    root = parse(compared)
    for element in _every(root):
        for name in ("src", "href"):
            value = element.attrs.get(name, "").strip().lower()
            assert not value.startswith(("http://", "https://", "//")), f"<{element.tag} {name}={value[:60]}>"
    assert "<script" not in compared.lower()
    assert "@import" not in compared and "url(" not in compared
    images = [e for e in _every(root) if e.tag == "img"]
    assert images and all(img.attrs["src"].startswith("data:image/png;base64,") for img in images)


def _every(element: Element) -> list[Element]:
    return [element, *(e for child in element.children for e in _every(child))]


def test_one_bar_per_field(report: str, runs: tuple[RunRecord, Path, RunRecord, Path]) -> None:
    record = runs[0]
    bars = [e for e in _every(section(parse(report), "fields")) if e.tag == "rect" and "bar" in e.classes()]
    fields = list(record.total().fields)
    assert sorted(bar.attrs["data-field"] for bar in bars) == sorted(fields)
    widths = {bar.attrs["data-field"]: float(bar.attrs["width"]) for bar in bars}
    assert widths["funds.executed"] < widths["funds.item"]  # one of its 8 slots is wrong: a shorter bar
    assert widths["form.subordinate_units"] == 0  # no slots at all: no bar


def test_two_bars_per_field_with_a_comparison(compared: str, runs: tuple[RunRecord, Path, RunRecord, Path]) -> None:
    comparison = compare_runs(runs[0], runs[2])
    chart = section(parse(compared), "fields")
    bars = [e for e in _every(chart) if e.tag == "rect" and "bar" in e.classes()]
    fields = sorted(runs[0].total().fields)
    assert sorted(b.attrs["data-field"] for b in bars if "bar-a" in b.classes()) == fields
    assert sorted(b.attrs["data-field"] for b in bars if "bar-b" in b.classes()) == fields
    assert {b.attrs["fill"] for b in bars if "bar-a" in b.classes()}.isdisjoint(
        b.attrs["fill"] for b in bars if "bar-b" in b.classes()
    )
    deltas = [e.text for e in _every(chart) if e.tag == "text" and "delta" in e.classes()]
    executed = next(d for d in comparison.fields if d.name == "funds.executed")
    assert executed.delta > 0 and f"{executed.delta:+.3f}" in deltas
    assert deltas.count("0") == len(deltas) - 2  # only executed and target changed
    assert "A:" in chart.text and "B:" in chart.text


def test_the_wrong_fields_show_expected_and_found(report: str) -> None:
    cards = section(parse(report), "wrong").find_all("div", "mismatch")
    assert len(cards) == 2
    by_path = {_fact(card, "path"): card for card in cards}
    assert set(by_path) == {EXECUTED, TARGET}
    assert _fact(by_path[EXECUTED], "expected") == "934785.52"
    assert _fact(by_path[EXECUTED], "found") == str(WRONG_EXECUTED)
    assert _fact(by_path[TARGET], "expected") == "=12个月"
    assert _fact(by_path[TARGET], "found") == "null"


def _fact(card: Element, name: str) -> str:
    """The value in a mismatch card's row ``name``."""
    for row in card.find_all("tr"):
        cells = row.children
        if cells and cells[0].tag == "th" and cells[0].text.strip() == name:
            return cells[1].text.strip()
    raise AssertionError(f"no {name} in the card")


def test_both_wrong_fields_have_a_crop_with_the_box_drawn(report: str) -> None:
    cards = section(parse(report), "wrong").find_all("div", "mismatch")
    for card in cards:
        (img,) = card.find_all("img")
        data = png_of(img)
        width, height = png_size(data)
        # at least 300 pt wide at 110 dpi, a row or two high, never a whole page
        assert 440 <= width <= 1000 and 60 <= height <= 700, (width, height)
        assert (int(img.attrs["width"]), int(img.attrs["height"])) == (width, height)
        assert _has_box_colour(data)
    captions = {_fact(card, "path"): card.find_all("figcaption")[0].text for card in cards}
    assert "where the output read it" in captions[EXECUTED]
    assert "its row" in captions[TARGET]  # no box for a dropped value: found on its row's line


def _has_box_colour(png: bytes) -> bool:
    """Whether the crop holds the marker's red or orange, colours a black-and-white form never has."""
    pixmap = pymupdf.Pixmap(png)
    samples = pixmap.samples
    step = pixmap.n
    colours = {(214, 0, 0), (230, 120, 0)}
    return any(tuple(samples[i : i + 3]) in colours for i in range(0, len(samples), step))


def test_each_crop_is_the_page_around_the_printed_value(report: str) -> None:
    """Each crop is a piece of the real page render, its box round the printed value; the file is left untouched."""
    before = (FIXTURES / SAMPLE_ID).read_bytes()
    doc = pymupdf.open(FIXTURES / SAMPLE_ID)
    page = doc[0]
    whole = pixels(page.get_pixmap(dpi=DPI, alpha=False))
    cards = {_fact(c, "path"): c for c in section(parse(report), "wrong").find_all("div", "mismatch")}
    for path, printed in ((EXECUTED, "934785.52"), (TARGET, "=12个月")):
        crop = pixels(pymupdf.Pixmap(png_of(cards[path].find_all("img")[0])))
        marked = marked_box(crop, whole)
        inside = [r for r in page.search_for(printed) if marked.contains(r)]
        assert len(inside) == 1, (path, marked)
        assert marked.width < 120, (path, marked)  # the cell, not the row
    doc.close()
    assert (FIXTURES / SAMPLE_ID).read_bytes() == before


DPI = 110  # the report's crops are rendered at this resolution


def pixels(pixmap: pymupdf.Pixmap) -> np.ndarray:
    """A pixmap's RGB pixels, height × width × 3."""
    array = np.frombuffer(pixmap.samples, np.uint8).reshape(pixmap.height, pixmap.width, pixmap.n)
    return array[:, :, :3].astype(np.int16)


def marked_box(crop: np.ndarray, whole: np.ndarray) -> pymupdf.Rect:
    """Where the crop's red box lies on the page, in points: the crop found in the whole page's render.

    The crop must equal the render outside its box (up to anti-aliasing), so it is found by template
    matching, without relying on the report's margins.
    """
    red = np.all(crop == (214, 0, 0), axis=2)
    ys, xs = np.nonzero(red)
    assert len(xs), "no red box in the crop"
    mask = (~red).astype(np.float32)
    gray_crop = crop.mean(axis=2).astype(np.float32)
    gray_whole = whole.mean(axis=2).astype(np.float32)
    scores = cv2.matchTemplate(gray_whole, gray_crop, cv2.TM_SQDIFF, mask=mask)
    least, _, (ox, oy), _ = cv2.minMaxLoc(scores)
    assert least / mask.sum() < 9.0, "the crop is not a piece of the page"  # mean squared difference per pixel
    scale = DPI / 72
    return pymupdf.Rect(
        (xs.min() + ox) / scale, (ys.min() + oy) / scale, (xs.max() + ox) / scale, (ys.max() + oy) / scale
    )


def test_a_missing_row_is_found_by_searching_its_values(tmp_path: Path) -> None:
    """A row the output lacks has no path there: each of its values is searched on the pages instead."""
    extraction = original().model_copy(deep=True)
    del extraction.forms[0].indicators[3]
    record = make_record("run-row", extraction, tmp_path)
    mismatches = record.samples[0].score.mismatches
    assert mismatches and all(m.predicted_path is None and m.kind == "missing" for m in mismatches)
    cards = {
        _fact(c, "path"): c for c in section(parse(render_html(record, tmp_path)), "wrong").find_all("div", "mismatch")
    }
    level3 = cards["forms[0].indicators[3].level3"]
    assert "“电费保障区间段” on the line of its row" in level3.find_all("figcaption")[0].text
    doc = pymupdf.open(FIXTURES / SAMPLE_ID)
    crop = pixels(pymupdf.Pixmap(png_of(level3.find_all("img")[0])))
    marked = marked_box(crop, pixels(doc[0].get_pixmap(dpi=DPI, alpha=False)))
    assert [r for r in doc[0].search_for("电费保障区间段") if marked.contains(r)]
    doc.close()


def test_the_flips_are_listed_as_fixed(compared: str) -> None:
    comparison = section(parse(compared), "comparison")
    rows = comparison.find_all("tr", "flip")
    assert len(rows) == 2
    cells = [[cell.text.strip() for cell in row.children] for row in rows]
    assert {(c[0], c[1], c[2]) for c in cells} == {("fixed", SAMPLE_ID, EXECUTED), ("fixed", SAMPLE_ID, TARGET)}
    executed = next(c for c in cells if c[2] == EXECUTED)
    assert executed[3:] == ["934785.52", str(WRONG_EXECUTED), "934785.52"]  # expected, before, after
    assert "2 fixed, 0 broken, 0 changed" in comparison.text


def test_the_field_deltas_list_only_fields_that_changed(compared: str) -> None:
    comparison = section(parse(compared), "comparison")
    tables = comparison.find_all("table")
    field_table = next(t for t in tables if t.find_all("th") and t.find_all("th")[0].text == "field")
    names = [row.children[0].text for row in field_table.find_all("tr")[1:]]
    assert sorted(names) == ["funds.executed", "indicators.target"]


def test_max_crops_caps_the_crops(runs: tuple[RunRecord, Path, RunRecord, Path]) -> None:
    record, folder, _, _ = runs
    page = render_html(record, folder, max_crops=1)
    wrong = section(parse(page), "wrong")
    assert page.count("data:image/png;base64,") == 1
    assert len(wrong.find_all("img")) == 1
    assert len(wrong.find_all("div", "mismatch")) == 2  # the second is still listed
    assert "1 wrong fields past the first 1 crops" in " ".join(wrong.text.split())


def test_document_text_is_escaped(tmp_path: Path) -> None:
    extraction = original().model_copy(deep=True)
    extraction.forms[0].project_name = '<script>alert("x")</script><img src="https://example.com/x.png">'
    record = make_record("run-<b>hostile</b>", extraction, tmp_path)
    page = render_html(record, tmp_path)
    assert "<script" not in page
    assert "https://example.com" not in page.replace("&quot;https://example.com", "")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "run-&lt;b&gt;hostile&lt;/b&gt;" in page
    parse(page)


def test_a_form_field_without_a_box_is_shown_on_its_neighbours_line(tmp_path: Path) -> None:
    """A spurious grade the output holds no box for: shown beside the total score, printed on the same line."""
    extraction = original().model_copy(deep=True)
    extraction.forms[0].grade = "卓越无比"
    record = make_record("run-grade", extraction, tmp_path)
    (card,) = section(parse(render_html(record, tmp_path)), "wrong").find_all("div", "mismatch")
    assert _fact(card, "kind") == "spurious"
    assert len(card.find_all("img")) == 1
    assert "total_score" in card.find_all("figcaption")[0].text


def test_a_value_found_nowhere_is_not_located(tmp_path: Path) -> None:
    """An output without any box, and a value printed nowhere: listed, with no crop."""
    extraction = original().model_copy(deep=True)
    extraction.forms[0].grade = "卓越无比"
    extraction.provenance = {}
    record = make_record("run-grade", extraction, tmp_path)
    (card,) = section(parse(render_html(record, tmp_path)), "wrong").find_all("div", "mismatch")
    assert card.find_all("img") == []
    assert "not located" in card.text


def test_without_boxes_a_value_is_placed_by_its_row_or_searched(tmp_path: Path) -> None:
    """An output without any box: a row's value on its row's line (the row in orange when the line prints it twice);
    a form field's value searched on the text layer where the pages print it once."""
    extraction = original().model_copy(deep=True)
    extraction.forms[0].funds[0].executed = WRONG_EXECUTED  # the line prints 934785.52 as budget and as executed
    extraction.forms[0].project_name = "一网"
    extraction.provenance = {}
    record = make_record("run-search", extraction, tmp_path)
    cards = {
        _fact(c, "path"): c for c in section(parse(render_html(record, tmp_path)), "wrong").find_all("div", "mismatch")
    }
    assert len(cards) == 2 and all(len(c.find_all("img")) == 1 for c in cards.values())
    assert "its row “年度资金总额” in orange" in cards[EXECUTED].find_all("figcaption")[0].text
    assert "“一网统管” found by searching" in cards["forms[0].project_name"].find_all("figcaption")[0].text


def test_write_html_writes_the_report_whole(runs: tuple[RunRecord, Path, RunRecord, Path], tmp_path: Path) -> None:
    record, folder, _, _ = runs
    written = write_html(record, folder)
    assert written == folder / "report.html"
    assert written.read_text(encoding="utf-8") == render_html(record, folder)
    assert not list(folder.glob("*.partial"))
    elsewhere = write_html(record, folder, path=tmp_path / "out" / "r.html")
    assert elsewhere == tmp_path / "out" / "r.html" and elsewhere.is_file()


def test_an_output_without_boxes_is_placed_on_its_label_rows_line(tmp_path: Path) -> None:
    """A model's output has no provenance: a wrong indicator value is boxed on the line of the label row's
    三级指标, not at the first place the same text is printed (97.56% is also a fund row's 执行率)."""
    fixture = "inv-sichuan-2024-department"
    truth = Document.model_validate_json((ROOT / "fixtures" / "forms" / fixture / "label.json").read_text("utf-8"))
    output = Extraction(**truth.model_dump(), extractor="llm:test")
    output.forms[0].indicators[0].actual = "87.5%"
    (tmp_path / "predictions").mkdir()
    (tmp_path / "predictions" / "p.json").write_text(output.model_dump_json(), encoding="utf-8")
    sample = Sample(id=f"forms/{fixture}/native.pdf", fixture=f"forms/{fixture}", variant="native", layout="x", pages=2)
    score = score_document(output, truth, name=sample.id)
    result = SampleResult(sample=sample, prediction="predictions/p.json", score=score)
    config = RunConfig(extractor="llm", fixtures=str(ROOT / "fixtures"), jixiao="0")
    record = RunRecord(name="r", started=datetime.datetime(2026, 1, 1), seconds=1, config=config, samples=[result])

    (card,) = section(parse(render_html(record, tmp_path)), "wrong").find_all("div", "mismatch")
    assert "“97.56%” on the line of its row “预算执行率”" in card.find_all("figcaption")[0].text
    doc = pymupdf.open(ROOT / "fixtures" / sample.id)
    marked = marked_box(pixels(pymupdf.Pixmap(png_of(card.find_all("img")[0]))), pixels(doc[0].get_pixmap(dpi=DPI)))
    printed = doc[0].search_for("97.56%")
    assert len(printed) == 3 and len(doc[0].search_for("预算执行率")) == 3  # either text alone is ambiguous
    target = doc[0].search_for("≥95%")[0]  # the indicator row's target, on its line
    (inside,) = [r for r in printed if marked.contains(r)]
    assert inside.y0 < target.y1 and inside.y1 > target.y0 and inside.x0 > target.x1
    doc.close()

"""Benchmark the page reader on the fixtures.

Native pages: seconds per page for ``read_pages`` against bare PyMuPDF
``page.get_text("words")`` on the same pages in the same run (the ratio is the
figure to watch; absolute times vary with the machine). Scanned pages: seconds
per page for OCR, with the share spent in the OCR engine, and character accuracy
against the native text layer of the same page, read cell by cell.

    .venv/bin/python bench/read_speed.py [--repeat 5] [--scans]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pymupdf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from textmetrics import cell_ordered_text, char_accuracy  # noqa: E402

from pipeline.ingest import read_pages  # noqa: E402
from pipeline.ocr import get_engine  # noqa: E402
from pipeline.settings import Settings  # noqa: E402

FORMS = ROOT / "fixtures" / "forms"


def bare_words(path: Path) -> int:
    with pymupdf.open(path) as doc:
        return sum(len(page.get_text("words")) for page in doc)


def best_of(repeat: int, func: object, *args: object) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        func(*args)  # type: ignore[operator]
        times.append(time.perf_counter() - started)
    return min(times)


def bench_native(repeat: int) -> None:
    files = sorted(FORMS.glob("*/native.pdf"))
    pages = sum(pymupdf.open(p).page_count for p in files)
    settings = Settings()
    baseline = sum(best_of(repeat, bare_words, p) for p in files)
    ours = sum(best_of(repeat, read_pages, p, settings) for p in files)
    print(f"native: {pages} pages in {len(files)} files (best of {repeat})")
    print(f"  bare get_text('words'): {1000 * baseline / pages:7.2f} ms/page")
    print(f"  read_pages:             {1000 * ours / pages:7.2f} ms/page  ({pages / ours:6.1f} pages/s)")
    print(f"  ratio read_pages / bare: {ours / baseline:.2f}x")


def bench_scans() -> None:
    settings = Settings()
    engine = get_engine(settings.ocr_engine)
    ocr_seconds = 0.0
    real = engine.read_lines

    def timed(image):  # type: ignore[no-untyped-def]
        nonlocal ocr_seconds
        started = time.perf_counter()
        try:
            return real(image)
        finally:
            ocr_seconds += time.perf_counter() - started

    engine.read_lines = timed  # type: ignore[method-assign]
    total_pages, total_seconds, accuracies = 0, 0.0, []
    for scan in sorted(FORMS.glob("*/scan.pdf")):
        started = time.perf_counter()
        pages = read_pages(scan, settings)
        seconds = time.perf_counter() - started
        native = read_pages(scan.with_name("native.pdf"), settings)
        acc = [
            char_accuracy(cell_ordered_text(o, n), cell_ordered_text(n, n)) for o, n in zip(pages, native, strict=True)
        ]
        accuracies += acc
        total_pages += len(pages)
        total_seconds += seconds
        print(
            f"  {scan.parent.name:36s} {len(pages):2d} pages {seconds / len(pages):5.2f} s/page "
            f"accuracy min {min(acc):.4f} mean {statistics.mean(acc):.4f}"
        )
    print(
        f"scans: {total_pages} pages, {total_seconds / total_pages:.2f} s/page, OCR engine "
        f"{100 * ocr_seconds / total_seconds:.0f}% of it; accuracy mean {statistics.mean(accuracies):.4f} "
        f"min {min(accuracies):.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scans", action="store_true", help="also OCR every scanned fixture (slow)")
    args = parser.parse_args()
    bench_native(args.repeat)
    if args.scans:
        bench_scans()


if __name__ == "__main__":
    main()

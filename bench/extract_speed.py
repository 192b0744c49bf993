"""Benchmark the layout extractor end to end on the fixtures, against bare PyMuPDF.

Native pages: milliseconds per page for the whole job of ``jixiao extract`` on a
text-layer PDF (read the pages, rebuild the grids, segment, fill the schema, check),
split by stage, and its ratio to bare PyMuPDF ``page.get_text("words")`` on the
same pages in the same run. The ratio is the figure to watch; absolute times
vary with the machine. Scanned pages (``--scans``): seconds per page end to end
and the share of it spent reading the page (OCR), plus field-level F1 of both.

    .venv/bin/python bench/extract_speed.py [--repeat 5] [--scans]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pymupdf

from pipeline.run import extract_reading, read_file
from pipeline.schema import Document
from pipeline.scoring import DocumentScore, score_document, sum_scores
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FORMS = ROOT / "fixtures" / "forms"


def bare_words(path: Path) -> None:
    with pymupdf.open(path) as doc:
        for page in doc:
            page.get_text("words")


def extract(path: Path, settings: Settings) -> dict[str, float]:
    started = time.perf_counter()
    result = extract_reading(read_file(path, settings))
    stages = dict(result.seconds)
    stages["total"] = time.perf_counter() - started
    return stages


def best_of(repeat: int, path: Path, settings: Settings) -> dict[str, float]:
    runs = [extract(path, settings) for _ in range(repeat)]
    return min(runs, key=lambda r: r["total"])


def score(files: list[Path], settings: Settings) -> DocumentScore:
    scores = []
    for path in files:
        label = Document.model_validate_json((path.parent / "label.json").read_text(encoding="utf-8"))
        scores.append(score_document(extract_reading(read_file(path, settings)), label, name=path.parent.name))
    return sum_scores(scores)


def bench_native(repeat: int) -> None:
    files = sorted(FORMS.glob("*/native.pdf"))
    settings = Settings()
    pages = 0
    for path in files:
        with pymupdf.open(path) as doc:
            pages += doc.page_count
    bare = 0.0
    for path in files:
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            bare_words(path)
            times.append(time.perf_counter() - started)
        bare += min(times)
    stages: dict[str, float] = {}
    for path in files:
        for key, value in best_of(repeat, path, settings).items():
            stages[key] = stages.get(key, 0.0) + value
    total = stages["total"]
    print(f"native: {pages} pages in {len(files)} files (best of {repeat})")
    print(f"  bare get_text('words'): {1000 * bare / pages:7.2f} ms/page")
    print(f"  extract, end to end:    {1000 * total / pages:7.2f} ms/page ({pages / total:6.1f} pages/s)")
    for key in ("read", "tables", "extract", "checks"):
        print(f"    {key:8s} {1000 * stages[key] / pages:7.2f} ms/page")
    print(f"  ratio extract / bare get_text: {total / bare:.1f}x")
    print(f"  field F1 {score(files, settings).f1:.4f}")


def bench_scans() -> None:
    files = sorted(FORMS.glob("*/scan.pdf"))
    settings = Settings()
    extract(files[0], settings)  # warm up: the OCR models load once
    pages, read, total = 0, 0.0, 0.0
    for path in files:
        stages = extract(path, settings)
        with pymupdf.open(path) as doc:
            count = doc.page_count
        pages += count
        read += stages["read"]
        total += stages["total"]
        print(f"  {path.parent.name:36s} {count:2d} pages {stages['total'] / count:5.2f} s/page")
    print(f"scans: {pages} pages, {total / pages:.2f} s/page end to end, reading (OCR) {100 * read / total:.0f}% of it")
    print(f"  field F1 {score(files, settings).f1:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scans", action="store_true", help="also extract every scanned fixture (slow)")
    args = parser.parse_args()
    bench_native(args.repeat)
    if args.scans:
        bench_scans()


if __name__ == "__main__":
    main()

"""Benchmark the page reader on the fixtures.

Native pages: seconds per page for ``read_pages`` against bare PyMuPDF
``page.get_text("words")`` on the same pages in the same run (the ratio is the
figure to watch; absolute times vary with the machine). Scanned pages and
image files: seconds per page for OCR in both OCR modes ("page": detection and
recognition over the whole page; "cells": recognition of the table cells' lines,
detection only around the tables), in the same run, interleaved, best of
``--rounds``; the share spent in the OCR engine and its split into detection and
recognition; and character accuracy against the native text layer of the same
page, read cell by cell. The engine runs on one thread unless ``--threads`` says
otherwise: the figures are for one core.

    .venv/bin/python bench/read_speed.py [--repeat 5] [--scans [--rounds 3] [--threads 1]]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pymupdf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from textmetrics import cell_ordered_text, char_accuracy  # noqa: E402

from pipeline.ingest import read_pages  # noqa: E402
from pipeline.ocr import OcrEngine, get_engine  # noqa: E402
from pipeline.page import Page  # noqa: E402
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


@dataclass
class ScanRun:
    """One reading of one scanned file in one OCR mode."""

    seconds: float = 0.0
    cpu: float = 0.0
    engine: float = 0.0
    detect: float = 0.0
    recognize: float = 0.0
    accuracy: list[float] = field(default_factory=list)


class EngineClock:
    """Seconds spent inside the OCR engine's calls, wrapped around the engine the reader uses."""

    def __init__(self, engine: OcrEngine) -> None:
        self.engine = engine
        self.seconds = 0.0
        for name in ("read_lines", "read_line_images"):
            setattr(engine, name, self._timed(getattr(engine, name)))

    def _timed(self, method: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def timed(arg: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(arg)
            finally:
                self.seconds += time.perf_counter() - started

        return timed


def scan_inputs() -> list[tuple[Path, Path, int | None]]:
    """(input, its native twin, page of the twin or None for all): scanned PDFs, then image files."""
    scans = sorted(FORMS.glob("*/scan.pdf"))
    inputs: list[tuple[Path, Path, int | None]] = [(scan, scan.with_name("native.pdf"), None) for scan in scans]
    for image in sorted(FORMS.glob("*/page1.*")) + sorted(FORMS.glob("*/photo1.*")):
        inputs.append((image, image.with_name("native.pdf"), 1))
    return inputs


def read_scan(path: Path, native: list[Page], settings: Settings, clock: EngineClock) -> ScanRun:
    times = clock.engine.times
    before = (clock.seconds, times.detect, times.recognize)
    cpu, started = time.process_time(), time.perf_counter()
    pages = read_pages(path, settings)
    run = ScanRun(seconds=time.perf_counter() - started, cpu=time.process_time() - cpu)
    run.engine = clock.seconds - before[0]
    run.detect, run.recognize = times.detect - before[1], times.recognize - before[2]
    run.accuracy = [
        char_accuracy(cell_ordered_text(o, n), cell_ordered_text(n, n)) for o, n in zip(pages, native, strict=True)
    ]
    return run


def bench_scans(rounds: int, threads: int) -> None:
    """Both OCR modes on every scanned input, interleaved so they share the machine's noise; best of ``rounds``."""
    modes = ("page", "cells")
    settings = {mode: Settings(ocr_mode=mode, ocr_threads=threads) for mode in modes}
    clock = EngineClock(get_engine(settings["cells"].ocr_engine, threads))
    for mode in modes:  # the first call loads the models (seconds); keep it out of the figures
        read_pages(FORMS / "sh-minhang-pujin-2023-department" / "page1.png", settings[mode])
    best: dict[tuple[str, Path], ScanRun] = {}
    inputs = scan_inputs()
    for _ in range(rounds):
        for path, twin, number in inputs:
            native = read_pages(twin)
            native = native if number is None else native[number - 1 : number]
            for mode in modes:
                run = read_scan(path, native, settings[mode], clock)
                if (mode, path) not in best or run.seconds < best[mode, path].seconds:
                    best[mode, path] = run
    label = f"{threads} thread{'s' if threads != 1 else ''}" if threads else "threads chosen by ONNX Runtime"
    print(f"scans: best of {rounds}, OCR engine on {label}; seconds per page, accuracy mean/min over pages")
    print(f"  {'input':48s} {'page mode':>21s}   {'cells mode':>21s}   ratio")
    for path, _, _ in inputs:
        old, new = best["page", path], best["cells", path]
        n = len(new.accuracy)
        print(
            f"  {path.parent.name + '/' + path.name:48s} {old.seconds / n:5.2f}s {statistics.mean(old.accuracy):.4f}/"
            f"{min(old.accuracy):.4f}   {new.seconds / n:5.2f}s {statistics.mean(new.accuracy):.4f}/"
            f"{min(new.accuracy):.4f}   {new.seconds / old.seconds:4.2f}"
        )
    for subset, title in ((lambda p: p.name == "scan.pdf", "scanned PDFs"), (lambda p: True, "all inputs")):
        print(f"{title}:")
        totals = {mode: _totals([best[mode, p] for p, _, _ in inputs if subset(p)]) for mode in modes}
        for mode in modes:
            t = totals[mode]
            print(
                f"  {mode:5s}: {t.seconds:5.2f} s/page (CPU {t.cpu:5.2f}),"
                f" OCR engine {100 * t.engine / t.seconds:3.0f}%"
                f" (detect {t.detect:4.2f} s, recognise {t.recognize:4.2f} s a page);"
                f" accuracy mean {statistics.mean(t.accuracy):.4f} min {min(t.accuracy):.4f}"
                f" over {len(t.accuracy)} pages"
            )
        old, new = totals["page"], totals["cells"]
        print(
            f"  cells/page: time {new.seconds / old.seconds:.2f}x, CPU {new.cpu / old.cpu:.2f}x, "
            f"recognise {new.recognize / old.recognize:.2f}x, detect {new.detect / max(old.detect, 1e-9):.3f}x"
        )


def _totals(runs: list[ScanRun]) -> ScanRun:
    """Per-page averages of the runs' times, and all their pages' accuracies."""
    pages = sum(len(r.accuracy) for r in runs)
    total = ScanRun(accuracy=[a for r in runs for a in r.accuracy])
    for name in ("seconds", "cpu", "engine", "detect", "recognize"):
        setattr(total, name, sum(getattr(r, name) for r in runs) / pages)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--scans", action="store_true", help="also OCR every scanned fixture, in both modes (slow)")
    parser.add_argument("--rounds", type=int, default=1, help="read the scans this many times, keep the best")
    parser.add_argument("--threads", type=int, default=1, help="OCR engine threads (0: ONNX Runtime chooses)")
    args = parser.parse_args()
    bench_native(args.repeat)
    if args.scans:
        bench_scans(args.rounds, args.threads)


if __name__ == "__main__":
    main()

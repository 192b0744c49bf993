# mypy: disallow-untyped-calls=False
"""Benchmark ``jixiao batch`` on a generated archive, against the single-file path in the same run.

The archive is made from the fixtures, each copy with distinct bytes (else the
batch extracts one and skips the rest as duplicates):

- native: copies of every ``fixtures/*/*/native.pdf`` (2-10 pages) with a title
  and a small serial number printed in the bottom margin of every page; the
  first copy of each fixture is checked to extract the same forms as the original;
- scanned: one-page image-only PDFs of the fixture pages that hold a whole form,
  rendered as the fixtures' scans are (``fixtures/make_fixtures.py``: 200 dpi
  gray, tilt, blur, noise, JPEG) with a tilt and noise of their own per copy.
  OCR costs seconds a page, so scanned files are one page each.

For each kind, in this order, each in a process of its own:

- ``loop``: the baseline, the single-file path: one Python process calling
  ``pipeline.run.extract_file(path, Settings(extractor="layout"))`` file after
  file (OCR threads left to ONNX Runtime). Its time is the loop's own, from the
  first call to the last (model loading included, interpreter start not). For
  scans it can run on an evenly spread subset (``--scan-baseline``);
- ``extract``: ``jixiao extract FILE -o OUT`` once per file, as a shell loop
  would, on a small sample (``--cli-sample``); wall time of the processes;
- ``batch``: ``jixiao batch FOLDER -o OUT --workers W --extractor layout
  --tables none --quiet`` into a fresh folder, W = 1 and 2; wall time of the
  whole command (start-up, hashing, worker start, manifest writes included).
  Files, failures and pages are read back from ``OUT/manifest.sqlite``;
- ``resume``: the same command again on the finished folder, every file
  skipped: the cost of starting, hashing and planning the archive.

``ratio`` is files/s over the baseline's files/s: the figure to watch, since
absolute times vary with the machine. Memory is sampled from /proc every 0.1 s
over the command's whole process tree (main process, workers, the resource
tracker): the peak of the tree's summed RSS (``tree MB``), the peak of its
largest process (``max MB``), and the most processes seen at once (``procs``);
then the tree's peak RSS per quarter of each batch run, to show growth.
``cores`` is the CPU time of the command's tree over its wall time; ``other``
the CPU the rest of the machine used meanwhile, per second (from /proc/stat):
anything well above 0 means the figures of that row are disturbed. Linux only. ``--big`` adds a 500-page native
PDF (the fixtures concatenated 25 times) against a 10-page one, batch with one
worker, for the memory a long file takes.

Generated files are kept in ``--workdir`` and reused by the next run.

    .venv/bin/python bench/batch_speed.py [--native 200] [--scanned 200] [--scan-baseline 0]
                                          [--cli-sample 10] [--workdir DIR] [--big]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pymupdf

from pipeline import __version__
from pipeline.run import extract_file
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"
JIXIAO = str(Path(sys.executable).with_name("jixiao"))
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MB = 1024 * 1024
# Scanned copies: the fixture pages that hold one whole form each (fixture, 0-based page).
SCAN_PAGES = [("sh-minhang-wujing-2024-project", n) for n in range(10)] + [("inv-zhejiang-2024-split", 0)]
BIG_PAGES = 500


# ---------------------------------------------------------------------------
# Memory: the RSS of a process tree, sampled from /proc.
# ---------------------------------------------------------------------------


def _processes() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, RSS in bytes) of every process in /proc."""
    table: dict[int, tuple[int, int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # gone since the listing
            continue
        fields = stat[stat.rindex(b")") + 2 :].split()  # after "pid (comm) ": state, ppid, ... rss is the 22nd
        table[int(entry.name)] = (int(fields[1]), int(fields[21]) * PAGE_SIZE)
    return table


def tree_rss(root: int) -> list[int]:
    """The RSS of ``root`` and of each of its descendants, in bytes."""
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        if pid in table:
            found.append(table[pid][1])
            todo.extend(children.get(pid, []))
    return found


class TreeSampler:
    """Samples a process tree's RSS every ``interval`` seconds on a thread, until stopped."""

    def __init__(self, root: int, interval: float = 0.1) -> None:
        self.root = root
        self.interval = interval
        self.started = time.perf_counter()
        self.samples: list[tuple[float, int]] = []  # (seconds since start, tree RSS)
        self.peak_tree = 0
        self.peak_single = 0
        self.peak_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self.sample()
            if self._stop.wait(self.interval):
                return

    def sample(self) -> None:
        rss = tree_rss(self.root)
        if not rss:
            return
        total = sum(rss)
        self.samples.append((time.perf_counter() - self.started, total))
        self.peak_tree = max(self.peak_tree, total)
        self.peak_single = max(self.peak_single, max(rss))
        self.peak_processes = max(self.peak_processes, len(rss))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def quarters(self) -> list[int]:
        """The tree's peak RSS in each quarter of the sampled time."""
        if not self.samples:
            return []
        end = self.samples[-1][0] or 1.0
        peaks = [0, 0, 0, 0]
        for at, total in self.samples:
            quarter = min(3, int(4 * at / end))
            peaks[quarter] = max(peaks[quarter], total)
        return peaks


def machine_busy() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores, every process)."""
    with open("/proc/stat", encoding="ascii") as f:
        ticks = [int(n) for n in f.readline().split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def children_cpu() -> float:
    """CPU seconds of this process's finished children and their reaped descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Measured:
    """One command run to its end: wall time, exit code, output, CPU and the memory of its process tree."""

    seconds: float
    returncode: int
    stdout: str
    stderr: str
    peak_tree: int
    peak_single: int
    peak_processes: int
    quarters: list[int]
    cpu: float  # CPU seconds of the command's tree
    other: float  # CPU seconds the rest of the machine used meanwhile: noise

    @property
    def cores(self) -> float:
        return self.cpu / max(self.seconds, 1e-9)

    @property
    def other_cores(self) -> float:
        return max(0.0, self.other) / max(self.seconds, 1e-9)


def run_measured(command: Sequence[str], timeout: float) -> Measured:
    """Run ``command`` (in a session of its own, so a timeout kills its whole tree), sampling its memory."""
    cpu, busy = children_cpu(), machine_busy()
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=ROOT
    )
    sampler = TreeSampler(process.pid)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, 9)
        stdout, stderr = process.communicate()
        stderr += f"\n[bench] killed after {timeout:.0f} s"
    seconds = time.perf_counter() - started
    busy = machine_busy() - busy
    cpu = children_cpu() - cpu
    sampler.stop()
    return Measured(
        seconds,
        process.returncode,
        stdout,
        stderr,
        sampler.peak_tree,
        sampler.peak_single,
        sampler.peak_processes,
        sampler.quarters(),
        cpu,
        busy - cpu,
    )


# ---------------------------------------------------------------------------
# The archive.
# ---------------------------------------------------------------------------


def page_count(path: Path) -> int:
    with pymupdf.open(path) as doc:
        return int(doc.page_count)


def native_sources() -> list[Path]:
    return sorted(FIXTURES.glob("forms/*/native.pdf")) + sorted(FIXTURES.glob("unseen/*/native.pdf"))


def make_native(folder: Path, count: int) -> list[Path]:
    """``count`` copies of the native fixtures in turn, each with its own title and serial number."""
    folder.mkdir(parents=True, exist_ok=True)
    sources = native_sources()
    made = []
    for index in range(count):
        source = sources[index % len(sources)]
        path = folder / f"{index:04d}-{source.parent.name}.pdf"
        made.append(path)
        if path.exists():
            continue
        with pymupdf.open(source) as doc:
            doc.set_metadata({**doc.metadata, "title": f"{source.parent.name} copy {index}"})
            for page in doc:
                rect = page.rect  # in the bottom margin, well below the tables
                serial = f"No. {index:06d}-{page.number + 1}"
                page.insert_text((rect.width - 90, rect.height - 14), serial, fontname="helv", fontsize=6)
            doc.save(path.with_suffix(".tmp"), garbage=3, deflate=True)
        path.with_suffix(".tmp").rename(path)
    return made


def make_scanned(folder: Path, count: int) -> list[Path]:
    """``count`` one-page scans of the one-form fixture pages in turn, each with its own tilt and noise."""
    import numpy as np

    sys.path.insert(0, str(FIXTURES))
    from make_fixtures import encode, scan_page  # type: ignore[import-not-found]

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for index in range(count):
        fixture, number = SCAN_PAGES[index % len(SCAN_PAGES)]
        path = folder / f"{index:04d}-{fixture}-p{number + 1}.pdf"
        made.append(path)
        if path.exists():
            continue
        rng = np.random.default_rng(index)
        angle = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.3, 1.2))
        with pymupdf.open(FIXTURES / "forms" / fixture / "native.pdf") as native, pymupdf.open() as out:
            page = native[number]
            image = encode(scan_page(page, angle, rng), "JPEG", quality=70, optimize=True)
            target = out.new_page(width=page.rect.width, height=page.rect.height)
            target.insert_image(target.rect, stream=image)
            out.set_metadata({"title": f"{fixture} page {number + 1} scan copy {index}"})
            out.save(path.with_suffix(".tmp"), garbage=3, deflate=True)
        path.with_suffix(".tmp").rename(path)
    return made


def make_big(workdir: Path) -> list[tuple[str, Path]]:
    """A 10-page native PDF (four fixtures, whole forms) and a 500-page one (all five, 25 times), a folder each."""
    sources = sorted(FIXTURES.glob("forms/*/native.pdf"))
    made = []
    for pages, parts in ((10, sources[:4]), (BIG_PAGES, sources * (BIG_PAGES // 20))):
        path = workdir / f"big-{pages}" / f"native-{pages}-pages.pdf"
        made.append((f"{pages}-pages", path))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            with pymupdf.open() as out:
                for source in parts:
                    with pymupdf.open(source) as doc:
                        out.insert_pdf(doc)
                out.save(path, garbage=3, deflate=True)
        if page_count(path) != pages:
            raise SystemExit(f"{path}: {page_count(path)} pages, expected {pages}")
    return made


def check_native_copies(files: list[Path]) -> str:
    """Whether the first copy of each fixture extracts exactly the forms of the original."""
    sources = native_sources()
    settings = Settings(extractor="layout")
    differ = []
    for source, copy in zip(sources, files, strict=False):
        original = [form.model_dump() for form in extract_file(source, settings).forms]
        copied = [form.model_dump() for form in extract_file(copy, settings).forms]
        if original != copied:
            differ.append(f"{copy.name}: {len(copied)} forms, the original {len(original)} (or they differ)")
    checked = min(len(sources), len(files))
    if differ:
        return f"native copies: {len(differ)} of {checked} checked extract other forms than the original: {differ}"
    return f"native copies: the first copy of each of {checked} fixtures extracts the same forms as the original"


# ---------------------------------------------------------------------------
# The runs.
# ---------------------------------------------------------------------------


@dataclass
class Row:
    kind: str
    run: str
    workers: str
    files: int
    pages: int
    failed: int
    measured: Measured
    seconds: float  # the time the rates are over (the loop's own time, else the wall time)
    forms: int | None = None  # forms found in the files done
    notes: list[str] = field(default_factory=list)

    @property
    def files_per_s(self) -> float:
        return self.files / max(self.seconds, 1e-9)

    @property
    def pages_per_s(self) -> float:
        return self.pages / max(self.seconds, 1e-9)


def loop_main(list_file: Path) -> None:
    """The baseline in this process: ``extract_file`` on each listed file; prints the counts as JSON."""
    paths = [Path(line) for line in list_file.read_text(encoding="utf-8").splitlines() if line]
    settings = Settings(extractor="layout")
    pages, forms, failures = 0, 0, Counter[str]()
    started = time.perf_counter()
    for path in paths:
        try:
            extraction = extract_file(path, settings)
        except Exception as e:  # the batch records these as failed; so does the baseline
            failures[type(e).__name__] += 1
            continue
        pages += extraction.source.pages
        forms += len(extraction.forms)
    seconds = time.perf_counter() - started
    result = {"files": len(paths), "pages": pages, "forms": forms, "failed": dict(failures), "seconds": seconds}
    print(json.dumps(result))


def run_loop(kind: str, files: list[Path], pages: dict[Path, int], workdir: Path, timeout: float) -> Row:
    list_file = workdir / f"{kind}-loop.txt"
    list_file.write_text("".join(f"{path}\n" for path in files), encoding="utf-8")
    measured = run_measured([sys.executable, str(Path(__file__).resolve()), "--loop-files", str(list_file)], timeout)
    if measured.returncode != 0:
        raise SystemExit(f"the baseline loop failed ({measured.returncode}):\n{measured.stderr[-3000:]}")
    result = json.loads(measured.stdout.strip().splitlines()[-1])
    failed = sum(result["failed"].values())
    row = Row(kind, "loop", "-", len(files), sum(pages[p] for p in files), failed, measured, result["seconds"])
    row.forms = result["forms"]
    if failed:
        row.notes.append(f"failed by exception: {result['failed']}")
    if failed == 0 and result["pages"] != row.pages:
        row.notes.append(f"the extractions count {result['pages']} pages, the files have {row.pages}")
    return row


def run_cli(kind: str, files: list[Path], pages: dict[Path, int], workdir: Path, timeout: float) -> Row:
    out = workdir / "out" / f"{kind}-extract"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    runs = []
    for path in files:
        command = [JIXIAO, "extract", str(path), "-o", str(out / f"{path.stem}.json"), "--extractor", "layout"]
        runs.append(run_measured(command, timeout))
    seconds = sum(r.seconds for r in runs)
    failed = sum(r.returncode != 0 for r in runs)
    measured = Measured(
        seconds,
        max(r.returncode for r in runs),
        "",
        "",
        max(r.peak_tree for r in runs),
        max(r.peak_single for r in runs),
        max(r.peak_processes for r in runs),
        [],
        sum(r.cpu for r in runs),
        sum(r.other for r in runs),
    )
    row = Row(kind, "extract", "-", len(files), sum(pages[p] for p in files), failed, measured, seconds)
    row.forms = sum(len(json.loads(path.read_text(encoding="utf-8"))["forms"]) for path in out.glob("*.json"))
    if failed:
        row.notes.append(f"exit codes {Counter(r.returncode for r in runs)}")
    return row


@dataclass
class Recorded:
    """What a batch's manifest holds."""

    states: dict[str, tuple[int, int, int]]  # state -> (files, pages, forms)
    reasons: Counter[str]  # "reason: error" of the failed files
    done: dict[str, int]  # path -> pages, of the files done
    counts: dict[str, Any]  # the last run's own counts


def read_manifest(outdir: Path) -> Recorded:
    with closing(sqlite3.connect(outdir / "manifest.sqlite")) as db:
        states = {
            state: (count, pages or 0, forms or 0)
            for state, count, pages, forms in db.execute(
                "SELECT state, count(*), sum(pages), sum(forms) FROM files_state GROUP BY state"
            )
        }
        reasons = Counter(
            {
                f"{reason}: {error}": count
                for reason, error, count in db.execute(
                    "SELECT reason, error, count(*) FROM files_state WHERE state = 'failed' GROUP BY reason, error"
                )
            }
        )
        done = {path: pages for path, pages in db.execute("SELECT path, pages FROM files WHERE state = 'done'")}
        counts = db.execute("SELECT counts FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    return Recorded(states, reasons, done, json.loads(counts[0]) if counts and counts[0] else {})


def batch_command(folder: Path, outdir: Path, workers: int) -> list[str]:
    return [
        JIXIAO,
        "batch",
        str(folder),
        "-o",
        str(outdir),
        "--workers",
        str(workers),
        "--extractor",
        "layout",
        "--tables",
        "none",
        "--quiet",
    ]


def run_batch(
    kind: str, folder: Path, pages: dict[Path, int], outdir: Path, workers: int, timeout: float, resume: bool = False
) -> Row:
    if not resume:
        shutil.rmtree(outdir, ignore_errors=True)
    measured = run_measured(batch_command(folder, outdir, workers), timeout)
    files = len(pages)
    row = Row(kind, "resume" if resume else "batch", str(workers), files, sum(pages.values()), 0, measured, 0.0)
    row.seconds = measured.seconds
    if measured.returncode not in (0, 1):
        row.notes.append(f"exit code {measured.returncode}: {measured.stderr.strip()[-2000:]}")
    elif measured.stderr.strip():
        row.notes.append(f"stderr: {measured.stderr.strip()[-2000:]}")
    if not (outdir / "manifest.sqlite").exists():
        row.notes.append("no manifest.sqlite written")
        return row
    manifest = read_manifest(outdir)
    states, counts = manifest.states, manifest.counts
    recorded = sum(count for count, _, _ in states.values())
    row.failed = states.get("failed", (0, 0, 0))[0]
    row.forms = states.get("done", (0, 0, 0))[2]
    if recorded != files or states.get("pending", (0, 0, 0))[0]:
        row.notes.append(f"the manifest holds {recorded} files ({states}), the folder {files}")
    if (measured.returncode == 1) != (row.failed > 0):
        row.notes.append(f"exit code {measured.returncode} with {row.failed} failed")
    wrong = {p: n for p, n in manifest.done.items() if pages.get(Path(p)) != n}
    if wrong:
        row.notes.append(f"{len(wrong)} done files with a page count other than the file's, e.g. {next(iter(wrong))}")
    if manifest.reasons:
        row.notes.append(f"failures: {dict(manifest.reasons)}")
    if resume and (counts.get("done") or counts.get("failed")):
        row.notes.append(f"the resume run extracted files again: {counts}")
    if not resume and counts.get("done", 0) + sum(dict(counts.get("failed") or {}).values()) != files:
        row.notes.append(f"the run's own counts: {counts}")
    return row


def spread(files: list[Path], count: int) -> list[Path]:
    """``count`` files evenly spread over ``files`` (all of them when ``count`` is 0 or more than there are)."""
    if count <= 0 or count >= len(files):
        return files
    return [files[i * len(files) // count] for i in range(count)]


def bench_kind(kind: str, files: list[Path], args: argparse.Namespace, workdir: Path) -> list[Row]:
    folder = files[0].parent
    pages = {path.resolve(): page_count(path) for path in files}
    subset = spread(files, args.scan_baseline if kind == "scanned" else 0)
    rows = []
    print(f"[{kind}] loop over {len(subset)} files ...", file=sys.stderr, flush=True)
    rows.append(run_loop(kind, [p.resolve() for p in subset], pages, workdir, args.timeout))
    if args.cli_sample:
        sample = [p.resolve() for p in spread(files, args.cli_sample)]
        print(f"[{kind}] jixiao extract on {len(sample)} files ...", file=sys.stderr, flush=True)
        rows.append(run_cli(kind, sample, pages, workdir, args.timeout))
    for workers in args.workers:
        outdir = workdir / "out" / f"{kind}-w{workers}"
        print(f"[{kind}] batch --workers {workers} over {len(files)} files ...", file=sys.stderr, flush=True)
        rows.append(run_batch(kind, folder, pages, outdir, workers, args.timeout))
    workers = args.workers[-1]
    print(f"[{kind}] resume --workers {workers} ...", file=sys.stderr, flush=True)
    rows.append(run_batch(kind, folder, pages, workdir / "out" / f"{kind}-w{workers}", workers, args.timeout, True))
    return rows


def bench_big(workdir: Path, timeout: float) -> list[Row]:
    rows = []
    for kind, path in make_big(workdir):
        print(f"[big] batch --workers 1 over {path.name} ...", file=sys.stderr, flush=True)
        pages = {path.resolve(): page_count(path)}
        rows.append(run_batch(kind, path.parent, pages, workdir / "out" / path.parent.name, 1, timeout))
    return rows


# ---------------------------------------------------------------------------
# The report.
# ---------------------------------------------------------------------------


def machine() -> str:
    model = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo", encoding="utf-8") as f:
        memory = int(f.readline().split()[1]) / 1024 / 1024
    cores = len(os.sched_getaffinity(0))
    return (
        f"{datetime.now().astimezone().isoformat(timespec='seconds')}; {cores} cores available ({model}, "
        f"{os.cpu_count()} in the machine), {memory:.1f} GiB; Linux {platform.release()}; "
        f"Python {platform.python_version()}; jixiao {__version__}"
    )


def print_table(rows: list[Row]) -> None:
    header = (
        f"{'kind':9s} {'run':8s} {'workers':>7s} {'files':>6s} {'pages':>6s} {'failed':>6s} {'forms':>6s} "
        f"{'wall s':>8s} {'files/s':>8s} {'pages/s':>8s} {'ratio':>6s} "
        f"{'tree MB':>8s} {'max MB':>7s} {'procs':>5s} {'cores':>5s} {'other':>5s}"
    )
    print(header)
    print("-" * len(header))
    baseline: dict[str, float] = {}
    for row in rows:
        if row.run == "loop":
            baseline[row.kind] = row.files_per_s
        base = baseline.get(row.kind)
        ratio = f"{row.files_per_s / base:6.2f}" if base and row.run != "resume" else f"{'-':>6s}"
        m = row.measured
        print(
            f"{row.kind:9s} {row.run:8s} {row.workers:>7s} {row.files:6d} {row.pages:6d} {row.failed:6d} "
            f"{'-' if row.forms is None else row.forms:>6} {row.seconds:8.1f} {row.files_per_s:8.2f} "
            f"{row.pages_per_s:8.1f} {ratio} {m.peak_tree / MB:8.0f} {m.peak_single / MB:7.0f} "
            f"{m.peak_processes:5d} {m.cores:5.2f} {m.other_cores:5.2f}"
        )


def print_notes(rows: list[Row]) -> None:
    batches = [row for row in rows if row.run == "batch"]
    if batches:
        print("\nbatch: the tree's peak RSS (MB) in each quarter of the run")
        for row in batches:
            quarters = " ".join(f"{q / MB:6.0f}" for q in row.measured.quarters)
            print(f"  {row.kind:18s} workers {row.workers}: {quarters}")
    notes = [(row, note) for row in rows for note in row.notes]
    print(
        "\nproblems:"
        if notes
        else "\nproblems: none (no crash, counts and pages as expected, every resume skipped all)"
    )
    for row, note in notes:
        print(f"  {row.kind} {row.run} workers {row.workers}: {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--native", type=int, default=200, help="native files in the archive")
    parser.add_argument("--scanned", type=int, default=200, help="scanned one-page files in the archive (0: none)")
    parser.add_argument("--scan-baseline", type=int, default=0, help="scanned files the baseline loop reads (0: all)")
    parser.add_argument("--cli-sample", type=int, default=10, help="files run through `jixiao extract` (0: none)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="batch worker counts")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "jixiao-batch-bench")
    parser.add_argument("--timeout", type=float, default=3600.0, help="seconds one command may take")
    parser.add_argument("--big", action="store_true", help=f"also a {BIG_PAGES}-page native PDF against a 10-page one")
    parser.add_argument("--loop-files", type=Path, help=argparse.SUPPRESS)  # the baseline's own process
    args = parser.parse_args()
    if args.loop_files is not None:
        loop_main(args.loop_files)
        return
    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"[bench] generating the archive in {workdir} ...", file=sys.stderr, flush=True)
    kinds: list[tuple[str, list[Path]]] = []
    notes = []
    if args.native:
        native = make_native(workdir / f"native-{args.native}", args.native)
        notes.append(check_native_copies(native))
        kinds.append(("native", native))
    if args.scanned:
        kinds.append(("scanned", make_scanned(workdir / f"scanned-{args.scanned}", args.scanned)))
    rows = [row for kind, files in kinds for row in bench_kind(kind, files, args, workdir)]
    if args.big:
        rows += bench_big(workdir, args.timeout)
    print(machine())
    print(f"archive in {workdir}")
    for note in notes:
        print(note)
    threads = ", ".join(f"{w} worker(s) {max(1, len(os.sched_getaffinity(0)) // w)} each" for w in args.workers)
    print(f"OCR threads: loop and extract left to ONNX Runtime; batch {threads}")
    if args.scanned and 0 < args.scan_baseline < args.scanned:
        print(
            f"scanned loop: {args.scan_baseline} of the {args.scanned} files, evenly spread; its rate is the baseline"
        )
    print()
    print_table(rows)
    print_notes(rows)


if __name__ == "__main__":
    main()

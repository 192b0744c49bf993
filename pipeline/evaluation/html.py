"""The report a person reads: one evaluation run (and optionally its comparison) as one self-contained HTML page.

``render_html(record, folder)`` returns the page; ``write_html`` writes it as
``report.html`` in the run folder. Everything is inline (CSS, SVG, images as
``data:`` URIs, no script, no web font), so the file can be mailed or archived
as it is. In order, the page holds:

1. the run: configuration, files scored, failed and skipped, model usage, latency;
2. the headline: F1, precision, recall and counts overall and per group;
3. a bar chart of F1 per field (run A beside run B with a comparison);
4. breakdowns per page source, form variant, file variant and file;
5. what the checks said, and how much of what was wrong they flagged;
6. with a comparison: overall, group and field deltas and every flipped slot;
7. every wrong field beside a crop of its page, boxed where the value was read
   or should be: the prediction's provenance at the slot; else a box of its row
   (or a neighbouring field of its form), widened to the page width; else the
   expected text searched on the file's text layer; else "not located".

Every text from a document is escaped. Provenance boxes are in the points of
the page as read: a scan straightened by a small angle is boxed a little off,
and a photographed sheet that was flattened is boxed in the flattened frame.
"""

from __future__ import annotations

import base64
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from pipeline._io import write_whole
from pipeline.evaluation.diff import Comparison, FieldDelta, Flip
from pipeline.evaluation.records import BREAKDOWNS, ChecksView, RunRecord, SampleResult
from pipeline.evaluation.report import latency_text
from pipeline.evaluation.samples import label_of
from pipeline.exceptions import JixiaoError
from pipeline.ingest import open_document
from pipeline.page import BBox
from pipeline.result import Extraction, FieldSource
from pipeline.schema import Document, FundRow, Indicator, fold_text
from pipeline.scoring import FIELD_GROUPS, GROUPS, DocumentScore, FieldCounts, Mismatch, Value

__all__ = ["REPORT", "render_html", "write_html"]

REPORT = "report.html"

# PyMuPDF's documents, pages and pixmaps: its methods are not annotated, so they are handled as Any.
_Pdf = Any

# Crops: rendered at this resolution, this many points around the box, at least this wide, at most this tall.
_DPI = 110
_MARGIN = 40.0
_MIN_WIDTH = 300.0
_MAX_HEIGHT = 420.0
_EXACT = (214, 0, 0)  # the value's own box
_NEAR = (230, 120, 0)  # its row or a neighbour: near, not on, the value
_BORDER = 2  # pixels

# The chart, in pixels.
_LABEL_WIDTH = 190
_BAR_WIDTH = 560
_VALUE_WIDTH = 92
_DELTA_WIDTH = 70
_BAR_HEIGHT = 13
_GAP = 5
_COLOUR_A = "#9aa7b8"
_COLOUR_B = "#2563a8"

# A form-level field has no row; these fields are printed on its line (or next to it).
_NEIGHBOURS: dict[str, tuple[str, ...]] = {
    "form_type": ("year",),
    "year": ("form_type",),
    "project_name": ("department", "implementing_unit"),
    "department": ("implementing_unit", "project_name"),
    "implementing_unit": ("department", "project_name"),
    "subordinate_units": ("department", "implementing_unit"),
    "amount_unit": ("funds[0].label", "funds[0].initial_budget"),
    "goal_expected": ("goal_actual",),
    "goal_actual": ("goal_expected",),
    "total_weight": ("total_score",),
    "total_score": ("total_weight",),
    "grade": ("total_score", "total_weight"),
}
_ROW = re.compile(r"^(?P<row>(?P<form>forms\[\d+\])\.(?:funds|indicators)\[\d+\])\.(?P<name>\w+)$")
_FORM_FIELD = re.compile(r"^(?P<form>forms\[\d+\])\.(?P<name>\w+)$")
_WEIGHT = re.compile(r"^(?P<form>forms\[\d+\])\.level1_weights\[(?P<key>.*)\]$")

_CSS = """
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "Microsoft YaHei", "PingFang SC", sans-serif;
  margin: 24px 32px; color: #1d232b; background: #fff; font-size: 14px; line-height: 1.45; }
h1 { font-size: 22px; margin: 0 0 8px; word-break: break-all; }
h2 { font-size: 18px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #d5dbe3; }
h3 { font-size: 15px; margin: 20px 0 8px; word-break: break-all; }
table { border-collapse: collapse; margin: 6px 0 12px; }
th, td { border: 1px solid #d5dbe3; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f1f4f8; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.meta dt { color: #5a6573; } dl.meta dd { margin: 0; word-break: break-all; }
code, .path { font-family: "Noto Sans Mono CJK SC", "DejaVu Sans Mono", monospace; font-size: 12.5px; }
.columns { display: flex; gap: 64px; align-items: flex-start; }
.columns h3 { margin-top: 8px; }
.headline { display: flex; gap: 28px; align-items: baseline; margin: 8px 0 4px; }
.headline .big { font-size: 34px; font-weight: 700; }
.headline .label { color: #5a6573; margin-right: 4px; }
.null { color: #8a94a3; font-style: italic; }
.up { color: #16803c; font-weight: 600; } .down { color: #c0262d; font-weight: 600; } .same { color: #5a6573; }
.fixed { background: #e3f4e8; } .broken { background: #fbe4e4; } .changed { background: #fdf3dc; }
.kind { font-weight: 600; }
.note { color: #5a6573; }
.error { color: #c0262d; }
.long { max-height: 9em; overflow: auto; white-space: pre-wrap; }
.card { display: flex; gap: 20px; align-items: flex-start; border: 1px solid #d5dbe3; border-radius: 6px;
  padding: 10px 12px; margin: 10px 0; }
.card .facts { flex: 0 0 380px; min-width: 0; }
.card .facts table { width: 100%; margin: 0; }
.card .facts th { width: 70px; }
.card .facts td { word-break: break-all; }
.card figure { margin: 0; flex: 1 1 auto; min-width: 0; }
.card figure img { max-width: 100%; height: auto; border: 1px solid #c3cad4; display: block; }
.card figcaption { color: #5a6573; font-size: 12.5px; margin-top: 4px; }
svg text { font-family: inherit; }
"""


# --- public -------------------------------------------------------------------------------------------------------


def render_html(record: RunRecord, folder: Path, comparison: Comparison | None = None, *, max_crops: int = 200) -> str:
    """The whole report of ``record`` (run folder ``folder``), with ``comparison`` when given, as one HTML page.

    At most ``max_crops`` wrong fields get a crop of their page; the rest are listed without one.
    """
    total = record.total()
    sections = [
        _run_section(record),
        _headline_section(total),
        _chart_section(total, comparison),
        _breakdown_section(record),
        _checks_section(record.checks()),
        _comparison_section(comparison) if comparison is not None else "",
        _wrong_section(record, folder, max_crops),
    ]
    body = "\n".join(section for section in sections if section)
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_e(record.name)} · jixiao eval</title>\n<style>{_CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def write_html(
    record: RunRecord,
    folder: Path,
    comparison: Comparison | None = None,
    path: Path | None = None,
    *,
    max_crops: int = 200,
) -> Path:
    """Write the report to ``path`` (default ``folder / "report.html"``) via a temporary file; return the path."""
    target = path if path is not None else folder / REPORT
    write_whole(target, render_html(record, folder, comparison, max_crops=max_crops))
    return target


# --- small pieces -------------------------------------------------------------------------------------------------


def _e(text: object) -> str:
    """Any text as HTML, quotes included."""
    return escape(str(text), quote=True)


def _value(value: Value) -> str:
    """A slot's value as HTML: null greyed, a long text in a scrolling box."""
    if value is None:
        return '<span class="null">null</span>'
    text = _e(value)
    return f'<div class="long">{text}</div>' if isinstance(value, str) and len(value) > 80 else text


def _ratio(value: float) -> str:
    return f"{value:.3f}"


def _signed(delta: float) -> str:
    """A delta, coloured: green up, red down, grey unchanged."""
    if abs(delta) <= 1e-9:
        return '<span class="same">0</span>'
    return f'<span class="{"up" if delta > 0 else "down"}">{delta:+.3f}</span>'


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min {rest} s" if hours else f"{minutes} min {rest} s"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[bool] = ()) -> str:
    """A table of cells already in HTML; the header texts are escaped here. ``numeric`` columns align right."""

    def cell(tag: str, index: int, content: str) -> str:
        right = index < len(numeric) and numeric[index]
        return f'<{tag} class="n">{content}</{tag}>' if right else f"<{tag}>{content}</{tag}>"

    head = "".join(cell("th", i, _e(name)) for i, name in enumerate(header))
    body = "\n".join("<tr>" + "".join(cell("td", i, c) for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _meta(items: Iterable[tuple[str, str]]) -> str:
    """Name/value pairs (values already HTML) as a definition list."""
    return '<dl class="meta">' + "".join(f"<dt>{_e(name)}</dt><dd>{value}</dd>" for name, value in items) + "</dl>"


def _or_none(text: str | None) -> str:
    return _e(text) if text else '<span class="null">none</span>'


# --- 1. the run ---------------------------------------------------------------------------------------------------


def _run_section(record: RunRecord) -> str:
    """Header: configuration, files scored, failed and skipped, usage and latency."""
    config = record.config
    prompt = _or_none(config.prompt)
    if config.prompt_sha256:
        prompt += f" <code>{_e(config.prompt_sha256[:12])}</code>"
    failed = [r for r in record.samples if r.error is not None]
    items = [
        ("extractor", _e(config.extractor)),
        ("prompt", prompt),
        ("model", _or_none(config.model)),
        ("endpoint", _or_none(config.endpoint)),
        ("mode", _or_none(config.mode)),
        ("jixiao", _e(config.jixiao)),
        ("fixtures", f"<code>{_e(config.fixtures)}</code>"),
        ("started", _e(record.started.isoformat(sep=" ", timespec="seconds"))),
        ("wall time", _e(_duration(record.seconds))),
        ("files", f"{len(record.samples)} scored, {len(failed)} failed, {len(record.skipped)} skipped"),
        ("latency per file", _e(latency_text(record.latencies()))),
    ]
    if config.variants:
        items.insert(7, ("variants", _e(", ".join(config.variants))))
    usage = ""
    if record.usage is not None:
        usage = "<div><h3>Model usage</h3>" + _meta((k, _e(v)) for k, v in record.usage.describe().items()) + "</div>"
    parts = [f"<h1>{_e(record.name)}</h1>", f'<div class="columns"><div>{_meta(items)}</div>{usage}</div>']
    if failed:
        parts.append("<h3>Failed files</h3>" + _list(f"<code>{_e(r.sample.id)}</code>: {_e(r.error)}" for r in failed))
    if record.skipped:
        parts.append("<h3>Skipped files</h3>" + _list(_e(line) for line in record.skipped))
    return "<header>\n" + "\n".join(parts) + "\n</header>"


def _list(items: Iterable[str]) -> str:
    return "<ul>" + "".join(f"<li>{item}</li>" for item in items) + "</ul>"


# --- 2. headline --------------------------------------------------------------------------------------------------


def _headline_section(total: DocumentScore) -> str:
    """Overall F1, precision, recall and counts, then the same per group."""
    overall = total.overall
    figures = [
        ("F1", f'<span class="big">{_ratio(overall.f1)}</span>'),
        ("precision", _ratio(overall.precision)),
        ("recall", _ratio(overall.recall)),
        ("tp / fp / fn", f"{overall.tp} / {overall.fp} / {overall.fn}"),
        ("correct nulls", str(overall.tn)),
    ]
    line = "".join(f'<div><span class="label">{_e(name)}</span>{value}</div>' for name, value in figures)
    groups = _counts_table("group", list(total.groups().items()))
    return f'<section id="headline">\n<h2>Scores</h2>\n<div class="headline">{line}</div>\n{groups}\n</section>'


def _counts_cells(counts: FieldCounts) -> list[str]:
    """F1, P, R, tp, fp, fn of one set of counts."""
    return [
        _ratio(counts.f1),
        _ratio(counts.precision),
        _ratio(counts.recall),
        str(counts.tp),
        str(counts.fp),
        str(counts.fn),
    ]


_COUNTS_HEADER = ("F1", "P", "R", "tp", "fp", "fn")


def _counts_table(name: str, rows: list[tuple[str, FieldCounts]]) -> str:
    body = [[_e(key), *_counts_cells(counts)] for key, counts in rows]
    return _table((name, *_COUNTS_HEADER), body, (False, *[True] * len(_COUNTS_HEADER)))


# --- 3. chart -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Bar:
    """One field's bar (or pair of bars): its counts in run A, and in run B with a comparison."""

    field: str
    a: FieldCounts
    b: FieldCounts | None = None


def _chart_section(total: DocumentScore, comparison: Comparison | None) -> str:
    if comparison is None:
        bars = [_Bar(name, counts) for name, counts in total.fields.items()]
        legend = ""
    else:
        bars = [_Bar(delta.name, delta.before, delta.after) for delta in comparison.fields]
        legend = (
            f'<p><svg width="12" height="12"><rect width="12" height="12" fill="{_COLOUR_A}"/></svg> '
            f"A: <code>{_e(comparison.before)}</code> &nbsp; "
            f'<svg width="12" height="12"><rect width="12" height="12" fill="{_COLOUR_B}"/></svg> '
            f"B: <code>{_e(comparison.after)}</code> &nbsp; Δ = B − A</p>"
        )
    note = '<p class="note">F1 per field over its slots; "no slots": neither the labels nor the outputs hold it.</p>'
    return f'<section id="fields">\n<h2>F1 per field</h2>\n{legend}{note}\n{_chart(_by_group(bars))}\n</section>'


def _by_group(bars: list[_Bar]) -> list[tuple[str, list[_Bar]]]:
    """The bars under their report group, in ``GROUPS`` order; a field of no known group last."""
    groups: dict[str, list[_Bar]] = {group: [] for group in GROUPS}
    for bar in bars:
        groups.setdefault(FIELD_GROUPS.get(bar.field, "other"), []).append(bar)
    return [(group, members) for group, members in groups.items() if members]


def _chart(groups: list[tuple[str, list[_Bar]]]) -> str:
    """The bars as inline SVG: a group heading, then one row per field."""
    paired = any(bar.b is not None for _, members in groups for bar in members)
    row = (2 * _BAR_HEIGHT + 2 if paired else _BAR_HEIGHT) + _GAP
    heading = 22
    width = _LABEL_WIDTH + _BAR_WIDTH + _VALUE_WIDTH + (_DELTA_WIDTH if paired else 0)
    parts: list[str] = []
    y = 20
    for group, members in groups:
        parts.append(f'<text x="0" y="{y + 15}" font-weight="700" font-size="13">{_e(group)}</text>')
        y += heading
        for bar in members:
            parts.append(_bar_row(bar, y))
            y += row
    height = y + 4
    axis = _axis(height)
    if paired:
        x = _LABEL_WIDTH + _BAR_WIDTH + _VALUE_WIDTH + _DELTA_WIDTH - 4
        axis += f'\n<text x="{x}" y="11" text-anchor="end" fill="#5a6573" font-size="11">Δ F1</text>'
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="F1 per field" font-size="12">\n'
        f"{axis}\n" + "\n".join(parts) + "\n</svg>"
    )


def _axis(height: int) -> str:
    """Grid lines at 0, 0.25 … 1 with their labels on top."""
    lines = []
    for tick in (0.0, 0.25, 0.5, 0.75, 1.0):
        x = _LABEL_WIDTH + tick * _BAR_WIDTH
        lines.append(f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{height}" stroke="#e3e7ed"/>')
        lines.append(f'<text x="{x:.1f}" y="11" text-anchor="middle" fill="#5a6573" font-size="11">{tick:g}</text>')
    return "\n".join(lines)


def _bar_row(bar: _Bar, y: int) -> str:
    """One field: its name, its bar(s) with the F1 at the end, and the delta with a comparison.

    A field without slots in any run gets empty bars and one "no slots" note.
    """
    runs = [("A", bar.a, _COLOUR_A if bar.b is not None else _COLOUR_B)]
    if bar.b is not None:
        runs.append(("B", bar.b, _COLOUR_B))
    label_y = y + (len(runs) * (_BAR_HEIGHT + 1)) / 2 + 4
    parts = [f'<text x="{_LABEL_WIDTH - 8}" y="{label_y:.1f}" text-anchor="end">{_e(bar.field)}</text>']
    empty = not any(_has_slots(counts) for _, counts, _ in runs)
    for index, (run, counts, colour) in enumerate(runs):
        text = None if empty else _ratio(counts.f1) if _has_slots(counts) else "no slots"
        if text is not None and len(runs) > 1:
            text = f"{run} {text}"
        parts.append(_one_bar(bar.field, run, counts, colour, y + index * (_BAR_HEIGHT + 2), text))
    if empty:
        parts.append(f'<text x="{_LABEL_WIDTH + 5}" y="{label_y:.1f}" fill="#8a94a3" font-size="11">no slots</text>')
    elif bar.b is not None:
        parts.append(_delta_text(bar.b.f1 - bar.a.f1, label_y))
    return '<g class="field">' + "".join(parts) + "</g>"


def _has_slots(counts: FieldCounts) -> bool:
    """Whether the field counts in its F1 at all: a value expected or output somewhere."""
    return counts.tp + counts.fp + counts.fn > 0


def _one_bar(field: str, run: str, counts: FieldCounts, colour: str, y: int, text: str | None) -> str:
    """A bar as wide as the F1 (none without slots), ``text`` printed at its end, the counts as its tooltip."""
    width = counts.f1 * _BAR_WIDTH if _has_slots(counts) else 0.0
    tip = f"{field} ({run}): tp {counts.tp}, fp {counts.fp}, fn {counts.fn}, correct nulls {counts.tn}"
    rect = (
        f'<rect class="bar bar-{run.lower()}" data-field="{_e(field)}" x="{_LABEL_WIDTH}" y="{y}" '
        f'width="{width:.1f}" height="{_BAR_HEIGHT}" fill="{colour}"><title>{_e(tip)}</title></rect>'
    )
    if text is None:
        return rect
    x = _LABEL_WIDTH + width + 5
    return rect + f'<text x="{x:.1f}" y="{y + _BAR_HEIGHT - 2}" fill="#1d232b" font-size="11">{_e(text)}</text>'


def _delta_text(delta: float, y: float) -> str:
    """B − A at the right edge: green up, red down, grey 0."""
    x = _LABEL_WIDTH + _BAR_WIDTH + _VALUE_WIDTH + _DELTA_WIDTH - 4
    colour = "#16803c" if delta > 1e-9 else "#c0262d" if delta < -1e-9 else "#8a94a3"
    text = f"{delta:+.3f}" if abs(delta) > 1e-9 else "0"
    return f'<text class="delta" x="{x}" y="{y:.1f}" text-anchor="end" fill="{colour}" font-weight="600">{text}</text>'


# --- 4. breakdowns ------------------------------------------------------------------------------------------------


def _breakdown_section(record: RunRecord) -> str:
    """Scores per page source, form variant, file variant, and per file."""
    parts = [_grouped_table(name, record) for name in BREAKDOWNS]
    parts.append("<h3>Per file</h3>" + _files_table(record.samples))
    return '<section id="breakdowns">\n<h2>Breakdowns</h2>\n' + "\n".join(parts) + "\n</section>"


def _grouped_table(name: str, record: RunRecord) -> str:
    """One row per value of the breakdown ``name``: the summed scores, files and failed files."""
    key = BREAKDOWNS[name]
    failed = Counter(key(r) for r in record.samples if r.error is not None)
    rows = [
        [_e(value), *_counts_cells(score.overall), str(score.documents), _failed(failed[value])]
        for value, score in record.by(key).items()
    ]
    header = (name, *_COUNTS_HEADER, "files", "failed")
    return f"<h3>Per {_e(name)}</h3>" + _table(header, rows, (False, *[True] * (len(header) - 1)))


def _failed(count: int) -> str:
    return f'<span class="error">{count}</span>' if count else "0"


def _files_table(results: list[SampleResult]) -> str:
    """One row per file: scores, how it was read, the checks' errors and warnings, and its error if it failed."""
    rows = []
    for r in results:
        error = f'<span class="error">{_e(r.error)}</span>' if r.error else ""
        rows.append(
            [
                f"<code>{_e(r.sample.id)}</code>",
                *_counts_cells(r.score.overall),
                _e(BREAKDOWNS["page source"](r)),
                _e(r.status or ""),
                _failed(r.checks.errors),
                str(r.checks.warnings),
                f"{r.seconds:.1f}",
                error,
            ]
        )
    header = ("file", *_COUNTS_HEADER, "read", "status", "check errors", "warnings", "seconds", "error")
    numeric = (False, *[True] * len(_COUNTS_HEADER), False, False, True, True, True, False)
    return _table(header, rows, numeric)


# --- 5. checks ----------------------------------------------------------------------------------------------------


def _checks_section(view: ChecksView) -> str:
    """What the checks raised, and the share of wrong values they flagged."""
    share = view.flagged_share
    flagged = f"{view.wrong_flagged} / {view.wrong_values}"
    if share is not None:
        flagged += f" ({share:.0%})"
    items = [
        ("findings", str(view.findings)),
        ("errors", _failed(view.errors)),
        ("warnings", str(view.warnings)),
        ("files needing review", str(view.needs_review)),
        ("not_in_source raised", str(view.not_in_source)),
        ("… on really wrong values", str(view.not_in_source_wrong)),
        ("wrong values flagged / total", _e(flagged)),
    ]
    return f'<section id="checks">\n<h2>Checks</h2>\n{_meta(items)}\n</section>'


# --- 6. comparison ------------------------------------------------------------------------------------------------


def _comparison_section(comparison: Comparison) -> str:
    """Deltas overall, per group, per field and per file; every flipped slot; files scored in one run only."""
    counts = ", ".join(f"{comparison.count(kind)} {kind}" for kind in ("fixed", "broken", "changed"))
    changed_fields = [d for d in comparison.fields if abs(d.delta) > 1e-9]
    changed_files = [d for d in comparison.files if abs(d.delta) > 1e-9]
    parts = [
        f"<p>A: <code>{_e(comparison.before)}</code> → B: <code>{_e(comparison.after)}</code>, "
        f"over the {len(comparison.files)} files both scored.</p>",
        "<h3>Overall and per group</h3>" + _delta_table("", [comparison.overall, *comparison.groups]),
        f"<h3>Fields whose F1 changed ({len(changed_fields)})</h3>"
        + (_delta_table("field", changed_fields) if changed_fields else '<p class="note">none</p>'),
        f"<h3>Files whose F1 changed ({len(changed_files)})</h3>"
        + (_delta_table("file", changed_files) if changed_files else '<p class="note">none</p>'),
        f"<h3>Flips ({counts})</h3>" + (_flips_table(comparison.flips) if comparison.flips else "<p>none</p>"),
    ]
    if comparison.only_before:
        parts.append("<h3>Files only in A</h3>" + _list(f"<code>{_e(s)}</code>" for s in comparison.only_before))
    if comparison.only_after:
        parts.append("<h3>Files only in B</h3>" + _list(f"<code>{_e(s)}</code>" for s in comparison.only_after))
    return '<section id="comparison">\n<h2>Comparison</h2>\n' + "\n".join(parts) + "\n</section>"


def _delta_table(name: str, deltas: list[FieldDelta]) -> str:
    rows = [
        [
            _e(d.name),
            _ratio(d.before.f1),
            _ratio(d.after.f1),
            _signed(d.delta),
            f"{d.before.tp}/{d.before.fp}/{d.before.fn}",
            f"{d.after.tp}/{d.after.fp}/{d.after.fn}",
        ]
        for d in deltas
    ]
    header = (name, "F1 A", "F1 B", "Δ F1", "tp/fp/fn A", "tp/fp/fn B")
    return _table(header, rows, (False, True, True, True, True, True))


def _flips_table(flips: list[Flip]) -> str:
    rows = [
        [
            f'<span class="kind {f.kind}">{_e(f.kind)}</span>',
            f"<code>{_e(f.sample)}</code>",
            f'<span class="path">{_e(f.path)}</span>',
            _value(f.expected),
            _value(f.before),
            _value(f.after),
        ]
        for f in flips
    ]
    body = "\n".join(
        f'<tr class="flip {f.kind}">' + "".join(f"<td>{c}</td>" for c in row) + "</tr>"
        for f, row in zip(flips, rows, strict=True)
    )
    head = "".join(f"<th>{name}</th>" for name in ("kind", "file", "path", "expected", "A (before)", "B (after)"))
    return f'<table class="flips">\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>'


# --- 7. wrong fields ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Spot:
    """Where on a file's pages a wrong field is shown: the box to mark, and how it was found."""

    page: int
    box: BBox
    near: bool = False  # the box is the value's row or neighbour, not the value itself: widen to the page width
    note: str = ""


@dataclass(frozen=True)
class _Cards:
    """One file's part of the wrong fields: its HTML, the crops it holds, and its mismatches left without one."""

    html: str
    crops: int = 0
    capped: int = 0


def _wrong_section(record: RunRecord, folder: Path, max_crops: int) -> str:
    """Every mismatch of every file, the first ``max_crops`` located beside a crop of the page."""
    wrong = sum(len(r.score.mismatches) for r in record.samples)
    parts: list[str] = []
    budget = max(max_crops, 0)
    capped = 0
    for result in record.samples:
        if not result.score.mismatches:
            continue
        cards = _file_cards(result, Path(record.config.fixtures), folder, budget)
        budget -= cards.crops
        capped += cards.capped
        parts.append(cards.html)
    if capped:
        parts.insert(
            0, f'<p class="note">{capped} wrong fields past the first {max_crops} crops are shown without one.</p>'
        )
    if not wrong:
        parts.append('<p class="note">none</p>')
    return f'<section id="wrong">\n<h2>Wrong fields ({wrong})</h2>\n' + "\n".join(parts) + "\n</section>"


def _file_cards(result: SampleResult, fixtures: Path, folder: Path, budget: int) -> _Cards:
    """One file's mismatches as cards, a crop beside each while ``budget`` lasts; a file without output as a list."""
    mismatches = result.score.mismatches
    kinds = ", ".join(f"{sum(m.kind == k for m in mismatches)} {k}" for k in ("wrong", "missing", "spurious"))
    head = f'<h3>{_e(result.sample.id)} <span class="note">F1 {_ratio(result.score.f1)}; {_e(kinds)}</span></h3>'
    if result.prediction is None:
        return _Cards(head + _unread(result))
    parts = [head]
    provenance, problem = _provenance(folder, result.prediction)
    label = _label(fixtures / result.sample.fixture)
    if problem:
        parts.append(f'<p class="note">{_e(problem)}</p>')
    crops = capped = 0
    pages = _pages(fixtures / result.sample.id) if budget > 0 else nullcontext((None, None))
    with pages as (doc, doc_problem):
        if doc_problem:
            parts.append(f'<p class="note">{_e(doc_problem)}</p>')
        for mismatch in mismatches:
            figure = ""
            if crops >= budget:
                capped += 1
            elif doc is not None:
                figure, cropped = _figure(doc, provenance, mismatch, label)
                crops += int(cropped)
            parts.append(_card(mismatch, figure))
    return _Cards("\n".join(parts), crops, capped)


def _unread(result: SampleResult) -> str:
    """A file with no output: why, and what its label holds (every slot missing), folded away."""
    why = f'<p class="error">No output: {_e(result.error or "none recorded")}</p>'
    rows = [
        [f'<span class="path">{_e(m.path)}</span>', _e(m.kind), _value(m.expected)] for m in result.score.mismatches
    ]
    listed = _table(("path", "kind", "expected"), rows)
    return f"{why}<details><summary>{len(rows)} label values not output</summary>{listed}</details>"


def _provenance(folder: Path, prediction: str | None) -> tuple[dict[str, FieldSource], str | None]:
    """The prediction's provenance, and why it is empty when it could not be read."""
    if prediction is None:
        return {}, None
    path = folder / prediction
    try:
        return Extraction.model_validate_json(path.read_text(encoding="utf-8")).provenance, None
    except (OSError, ValidationError) as e:
        first = str(e).splitlines()[0]
        return {}, f"prediction {prediction} not read ({first}): boxes only by searching the pages"


@contextmanager
def _pages(path: Path) -> Iterator[tuple[_Pdf | None, str | None]]:
    """The file's pages opened once for all its crops, closed after; None and why when it cannot be opened."""
    try:
        doc: _Pdf = open_document(path)
    except JixiaoError as e:
        yield None, f"pages not shown: {e}"
        return
    try:
        yield doc, None
    finally:
        doc.close()


def _card(mismatch: Mismatch, figure: str) -> str:
    """A mismatch's facts beside its crop."""
    rows = [
        ("kind", f'<span class="kind">{_e(mismatch.kind)}</span>'),
        ("path", f'<span class="path">{_e(mismatch.path)}</span>'),
        ("field", f'<span class="path">{_e(mismatch.field)}</span>'),
        ("expected", _value(mismatch.expected)),
        ("found", _value(mismatch.got)),
    ]
    if mismatch.predicted_path is not None and mismatch.predicted_path != mismatch.path:
        rows.insert(2, ("in output", f'<span class="path">{_e(mismatch.predicted_path)}</span>'))
    facts = "<table>" + "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows) + "</table>"
    return f'<div class="card mismatch {_e(mismatch.kind)}"><div class="facts">{facts}</div>{figure}</div>'


def _label(folder: Path) -> Document | None:
    """The hand label the file was scored against, to find rows by their printed labels; None if unreadable."""
    try:
        return label_of(folder)
    except JixiaoError:
        return None


def _figure(
    doc: _Pdf, provenance: dict[str, FieldSource], mismatch: Mismatch, label: Document | None = None
) -> tuple[str, bool]:
    """The crop around the mismatch, or a note that it was not located; and whether there is a crop."""
    spot = _locate(doc, provenance, mismatch, label)
    if spot is None:
        return '<p class="note">not located</p>', False
    png, width, height = _crop(doc, spot)
    data = base64.b64encode(png).decode("ascii")
    alt = f"page {spot.page} around {mismatch.path}"
    html = (
        f'<figure><img src="data:image/png;base64,{data}" width="{width}" height="{height}" alt="{_e(alt)}">'
        f"<figcaption>{_e(spot.note)}</figcaption></figure>"
    )
    return html, True


# --- locating a slot on its page ----------------------------------------------------------------------------------


def _locate(
    doc: _Pdf, provenance: dict[str, FieldSource], mismatch: Mismatch, label: Document | None = None
) -> _Spot | None:
    """Where to show ``mismatch``: its provenance, its row or neighbour, else by the label's row, else searched.

    Row and neighbour are looked up at the slot's path in the output (``predicted_path``): a label's row
    index may name another row there. An output without boxes (a model's) is placed by the label's row
    (``_anchored``): the value on the line of the row's printed name; else the value where the page prints
    it only once; else the row's name in orange; else the first place the value is printed.
    """
    here = mismatch.predicted_path
    if here is not None:
        source = provenance.get(here) or _weight_source(provenance, here)
        if source is not None and source.page <= int(doc.page_count):
            return _Spot(source.page, source.bbox, note=f"page {source.page}: where the output read it")
        near = _near(doc, provenance, here, _needles(mismatch.expected))
        if near is not None:
            return near
    exact, row = _anchored(doc, mismatch, label)
    return exact or _search(doc, provenance, mismatch, only_once=True) or row or _search(doc, provenance, mismatch)


_LABEL_ROW = re.compile(r"^forms\[(?P<form>\d+)\]\.(?P<table>funds|indicators)\[(?P<row>\d+)\]\.(?P<name>\w+)$")
_ANCHOR_LENGTHS = (12, 6)  # characters of a row's name searched: a wrapped cell breaks its first line somewhere


def _anchored(doc: _Pdf, mismatch: Mismatch, label: Document | None) -> tuple[_Spot | None, _Spot | None]:
    """The expected value on the line of the label row's printed name (三级指标, fund label), and the name itself.

    A name printed on several lines is told apart by the row's other values printed on the same line
    (target, weight, budget …); the line that holds the most of them wins.
    """
    row = _label_row(mismatch.path, label) if mismatch.expected is not None else None
    if row is None:
        return None, None
    name, others = row
    needles = _needles(mismatch.expected)
    best: tuple[int, _Spot | None, _Spot] | None = None
    for anchor in dict.fromkeys(name[:length] for length in _ANCHOR_LENGTHS):
        for number in range(1, int(doc.page_count) + 1):
            page = doc.load_page(number - 1)
            for hit in page.search_for(anchor):
                band = (float(page.rect.x0), float(hit.y0) - 2, float(page.rect.x1), float(hit.y1) + 2)
                exact = _once_in(page, number, band, needles, f"on the line of its row “{anchor}”")
                support = sum(any(page.search_for(n, clip=band) for n in forms) for forms in others)
                support += 2 * (exact is not None)
                fallback = _Spot(
                    number,
                    _bbox(hit),
                    near=True,
                    note=f"page {number}: value not located; its row “{anchor}” in orange",
                )
                if best is None or support > best[0]:
                    best = (support, exact, fallback)
        if best is not None:
            break
    return (best[1], best[2]) if best is not None else (None, None)


def _once_in(page: _Pdf, number: int, band: BBox, needles: list[str], where: str) -> _Spot | None:
    """The first needle printed exactly once inside ``band``."""
    for needle in needles:
        found = page.search_for(needle, clip=band)
        if len(found) == 1:
            return _Spot(number, _bbox(found[0]), note=f"page {number}: “{needle}” {where}")
    return None


def _label_row(path: str, label: Document | None) -> tuple[str, list[list[str]]] | None:
    """The printed name of the label row a slot path names (an indicator's 三级指标, a fund row's label),
    and how its other values may be printed."""
    match = _LABEL_ROW.match(path)
    if match is None or label is None or int(match["form"]) >= len(label.forms):
        return None
    form = label.forms[int(match["form"])]
    rows: Sequence[FundRow | Indicator] = form.funds if match["table"] == "funds" else form.indicators
    index = int(match["row"])
    if index >= len(rows):
        return None
    row = rows[index]
    name = row.label.split("：")[-1].split(":")[-1] if isinstance(row, FundRow) else row.level3
    others = [
        _needles(value)
        for field, value in row.model_dump().items()
        if field not in (match["name"], "item", "label", "level1", "level2", "level3") and value is not None
    ]
    return "".join(name.split()), others


def _weight_source(provenance: dict[str, FieldSource], path: str) -> FieldSource | None:
    """A level-1 weight's provenance: scored as ``level1_weights[<folded key>]``, kept as ``level1_weights.<key>``."""
    match = _WEIGHT.match(path)
    if match is None:
        return None
    prefix = f"{match['form']}.level1_weights."
    for key, source in provenance.items():
        if key.startswith(prefix) and fold_text(key[len(prefix) :]) == match["key"]:
            return source
    return None


def _near(doc: _Pdf, provenance: dict[str, FieldSource], path: str, needles: list[str]) -> _Spot | None:
    """The slot's row (or a form-level neighbour), and the expected text in that band when it is there once."""
    sources, what = _neighbours(provenance, path)
    if not sources or min(s.page for s in sources) > int(doc.page_count):
        return None
    number, box = _row_box(sources)
    page = doc.load_page(number - 1)
    band = (float(page.rect.x0), box[1] - 2, float(page.rect.x1), box[3] + 2)
    for needle in needles:
        hits = page.search_for(needle, clip=band)
        if len(hits) == 1:
            return _Spot(number, _bbox(hits[0]), note=f"page {number}: “{needle}” found on the line of {what}")
    return _Spot(number, box, near=True, note=f"page {number}: value not located; {what} boxed in orange")


def _neighbours(provenance: dict[str, FieldSource], path: str) -> tuple[list[FieldSource], str]:
    """The boxes of the other fields of a row slot's row, or of a form-level slot's first neighbour that has one.

    Also what they are: "its row", or the neighbour's name.
    """
    row = _ROW.match(path)
    if row is not None:
        return [s for p, s in provenance.items() if p.startswith(row["row"] + ".")], "its row"
    form = _FORM_FIELD.match(path)
    if form is None:
        return [], ""
    for name in _NEIGHBOURS.get(form["name"], ()):
        source = provenance.get(f"{form['form']}.{name}")
        if source is not None:
            return [source], name
    return [], ""


def _row_box(sources: list[FieldSource]) -> tuple[int, BBox]:
    """The union of a row's own cells on its first page; cells merged over several rows only when nothing else."""
    page = min(s.page for s in sources)
    on_page = [s for s in sources if s.page == page]
    own = [s for s in on_page if s.how != "merged"] or [min(on_page, key=lambda s: s.bbox[3] - s.bbox[1])]
    return page, (
        min(s.bbox[0] for s in own),
        min(s.bbox[1] for s in own),
        max(s.bbox[2] for s in own),
        max(s.bbox[3] for s in own),
    )


def _search(
    doc: _Pdf, provenance: dict[str, FieldSource], mismatch: Mismatch, *, only_once: bool = False
) -> _Spot | None:
    """The expected value (the found one for a spurious slot) searched on the text layer, the form's pages first.

    ``only_once``: only a value the pages print exactly once (no doubt where it is).
    """
    value = mismatch.expected if mismatch.expected is not None else mismatch.got
    form = re.match(r"^forms\[\d+\]", mismatch.predicted_path or mismatch.path)
    first = sorted({s.page for p, s in provenance.items() if form is not None and p.startswith(form[0] + ".")})
    order = [*first, *(n for n in range(1, int(doc.page_count) + 1) if n not in first)]
    for needle in _needles(value):
        for number in order:
            if number > int(doc.page_count):
                continue
            hits = doc.load_page(number - 1).search_for(needle)
            if only_once and hits and (len(hits) > 1 or _printed_elsewhere(doc, needle, number)):
                return None
            if hits:
                where = f" (first of {len(hits)} on the page)" if len(hits) > 1 else ""
                return _Spot(number, _bbox(hits[0]), note=f"page {number}: “{needle}” found by searching{where}")
    return None


def _printed_elsewhere(doc: _Pdf, needle: str, number: int) -> bool:
    return any(doc.load_page(n).search_for(needle) for n in range(int(doc.page_count)) if n != number - 1)


def _needles(value: Value) -> list[str]:
    """How a value may be printed, most specific first: 167.0 → 167.00, 167.0, 167; a text's first line."""
    if value is None:
        return []
    if isinstance(value, str):
        line = next((line.strip() for line in value.splitlines() if line.strip()), "")
        return [line[:16]] if line else []
    if isinstance(value, float) and not value.is_integer():
        forms = [repr(value), f"{value:.2f}", f"{value:,.2f}", f"{value:,}"]
    else:
        whole = int(value)
        forms = [f"{value:.2f}", f"{value:,.2f}", f"{value:.1f}", str(whole), f"{whole:,}"]
    return list(dict.fromkeys(forms))


def _bbox(rect: _Pdf) -> BBox:
    return (float(rect.x0), float(rect.y0), float(rect.x1), float(rect.y1))


# --- rendering a crop ---------------------------------------------------------------------------------------------


def _clip(box: BBox, page: BBox, wide: bool) -> BBox:
    """The area to show around ``box``: a margin all round, ``_MIN_WIDTH`` wide at least, the page width if ``wide``."""
    x0, y0, x1, y1 = box[0] - _MARGIN, box[1] - _MARGIN, box[2] + _MARGIN, box[3] + _MARGIN
    if wide:
        x0, x1 = page[0], page[2]
    if x1 - x0 < _MIN_WIDTH:
        middle = (x0 + x1) / 2
        x0, x1 = middle - _MIN_WIDTH / 2, middle + _MIN_WIDTH / 2
        shift = max(page[0] - x0, 0.0) - max(x1 - page[2], 0.0)
        x0, x1 = x0 + shift, x1 + shift
    y1 = min(y1, y0 + _MAX_HEIGHT)
    return max(x0, page[0]), max(y0, page[1]), min(x1, page[2]), min(y1, page[3])


def _crop(doc: _Pdf, spot: _Spot) -> tuple[bytes, int, int]:
    """The page around the spot as a PNG with the box outlined; the page on disk is not touched."""
    page = doc.load_page(spot.page - 1)
    pixmap = page.get_pixmap(clip=_clip(spot.box, _bbox(page.rect), spot.near), dpi=_DPI, alpha=False)
    _outline(pixmap, spot.box, _NEAR if spot.near else _EXACT)
    return bytes(pixmap.tobytes("png")), int(pixmap.width), int(pixmap.height)


def _outline(pixmap: _Pdf, box: BBox, colour: tuple[int, int, int]) -> None:
    """Draw a rectangle round ``box`` (points) on the pixmap, whose pixels sit at the page's points × dpi/72."""
    scale = _DPI / 72
    x0, y0 = round(box[0] * scale) - _BORDER - 1, round(box[1] * scale) - _BORDER - 1
    x1, y1 = round(box[2] * scale) + _BORDER + 1, round(box[3] * scale) + _BORDER + 1
    edges = (
        (x0, y0, x1, y0 + _BORDER),
        (x0, y1 - _BORDER, x1, y1),
        (x0, y0, x0 + _BORDER, y1),
        (x1 - _BORDER, y0, x1, y1),
    )
    for edge in edges:
        area = _intersect(
            edge, (int(pixmap.x), int(pixmap.y), int(pixmap.x + pixmap.width), int(pixmap.y + pixmap.height))
        )
        if area[0] < area[2] and area[1] < area[3]:
            pixmap.set_rect(area, colour)


def _intersect(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    return max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])

"""The terminal report of an evaluation run and of a comparison: rich tables."""

from __future__ import annotations

import statistics

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from pipeline.evaluation.diff import Comparison, FieldDelta
from pipeline.evaluation.records import BREAKDOWNS, RunRecord
from pipeline.scoring import DocumentScore, FieldCounts

__all__ = ["comparison_report", "facts_table", "latency_text", "run_report"]


def run_report(record: RunRecord, *, fields: bool = True) -> RenderableType:
    """Everything a person reads after a run: how it ran, the scores by group, source, variant and file."""
    total = record.total()
    groups = {**total.groups(), "overall": total.overall}
    parts: list[RenderableType] = [_heading(record), _scores_table("score", groups)]
    if fields:
        parts.append(_scores_table("per field", total.fields))
    for name in ("page source", "form variant"):
        parts.append(_scores_table(f"per {name}", _overalls(record.by(BREAKDOWNS[name]))))
    files = {r.sample.id: r.score.overall for r in record.samples}
    parts.append(_scores_table("per file", files, errors=_errors(record)))
    parts.append(_checks_table(record))
    if record.usage is not None:
        parts.append(_usage_table(record))
    return Group(*parts)


def _heading(record: RunRecord) -> Text:
    config = record.config
    said = [f"run {record.name}", f"extractor {config.extractor}"]
    if config.model:
        said.append(f"model {config.model} at {config.endpoint} ({config.mode})")
    if config.prompt:
        said.append(f"prompt {config.prompt} ({(config.prompt_sha256 or '')[:12]})")
    failed = sum(r.error is not None for r in record.samples)
    said.append(f"{len(record.samples)} file(s), {failed} failed, {record.seconds:.1f}s")
    return Text(", ".join(said), style="bold")


def _overalls(scores: dict[str, DocumentScore]) -> dict[str, FieldCounts]:
    return {name: score.overall for name, score in scores.items()}


def _errors(record: RunRecord) -> dict[str, str]:
    return {r.sample.id: r.error for r in record.samples if r.error is not None}


def _scores_table(title: str, rows: dict[str, FieldCounts], errors: dict[str, str] | None = None) -> Table:
    """One row per name: F1, precision, recall and the counts; a failed file says why."""
    table = Table(title=title, title_justify="left", title_style="bold", box=None, padding=(0, 1))
    table.add_column("")
    for name in ("f1", "precision", "recall", "tp", "fp", "fn", "tn"):
        table.add_column(name, justify="right")
    if errors:
        table.add_column("error", overflow="fold")
    for name, counts in rows.items():
        cells: list[str | Text] = [
            name,
            _f1(counts.f1),
            f"{counts.precision:.4f}",
            f"{counts.recall:.4f}",
            *map(str, (counts.tp, counts.fp, counts.fn, counts.tn)),
        ]
        if errors:
            cells.append(errors.get(name, ""))
        table.add_row(*cells, style="bold" if name == "overall" else None)
    return table


def _f1(value: float) -> Text:
    style = "green" if value >= 0.99 else "yellow" if value >= 0.9 else "red"
    return Text(f"{value:.4f}", style=style)


def _checks_table(record: RunRecord) -> Table:
    """What the checks raised, and how much of what was wrong they flagged."""
    view = record.checks()
    table = facts_table("checks")
    share = f" ({view.flagged_share:.0%})" if view.flagged_share is not None else ""
    table.add_row("findings", f"{view.findings} ({view.errors} errors, {view.warnings} warnings)")
    table.add_row("needs review", f"{view.needs_review} of {len(record.samples)} file(s)")
    table.add_row("not_in_source", f"{view.not_in_source} raised, {view.not_in_source_wrong} on a really wrong value")
    table.add_row("wrong values", f"{view.wrong_values}, {view.wrong_flagged} flagged by a warning or error{share}")
    return table


def _usage_table(record: RunRecord) -> Table:
    """Tokens, cost, cache hits and latency of a run that used a model."""
    assert record.usage is not None
    rows = record.usage.describe()
    latencies = record.latencies()
    if latencies:
        rows["per file"] = latency_text(latencies)
    return facts_table("model usage", rows)


def latency_text(seconds: list[float]) -> str:
    """Median and max seconds per extracted file."""
    if not seconds:
        return "no file extracted"
    files = "1 file" if len(seconds) == 1 else f"{len(seconds)} files"
    return f"median {statistics.median(seconds):.2f} s, max {max(seconds):.2f} s ({files})"


def facts_table(title: str, rows: dict[str, str] | None = None) -> Table:
    """A two-column table of name and value, names dimmed: a run's usage, the checks' view."""
    table = Table(title=title, title_justify="left", title_style="bold", show_header=False, box=None, padding=(0, 1))
    table.add_column(justify="right", style="dim")
    table.add_column()
    for name, value in (rows or {}).items():
        table.add_row(name, value)
    return table


def comparison_report(comparison: Comparison, *, limit: int = 60) -> RenderableType:
    """Run B against run A: F1 per group and per changed field, then the flipped fields (up to ``limit``)."""
    heading = Text(
        f"{comparison.after} against {comparison.before}:\n{comparison.count('fixed')} fixed, "
        f"{comparison.count('broken')} broken, {comparison.count('changed')} changed",
        style="bold",
    )
    parts: list[RenderableType] = [heading, _delta_table("score", [*comparison.groups, comparison.overall])]
    changed = [d for d in comparison.fields if d.before != d.after]
    if changed:
        parts.append(_delta_table("fields that changed", changed))
    if comparison.flips:
        table = Table(title="flipped fields", title_justify="left", title_style="bold", box=None, padding=(0, 1))
        for column in ("", "file", "path", "expected", "A", "B"):
            table.add_column(column, overflow="fold")
        style = {"fixed": "green", "broken": "red", "changed": "yellow"}
        for flip in comparison.flips[:limit]:
            values = (flip.expected, flip.before, flip.after)
            table.add_row(Text(flip.kind, style=style[flip.kind]), flip.sample, flip.path, *map(_value, values))
        parts.append(table)
        if len(comparison.flips) > limit:
            parts.append(Text(f"… and {len(comparison.flips) - limit} more (all of them in the HTML report)"))
    for side, files in (("A", comparison.only_before), ("B", comparison.only_after)):
        if files:
            parts.append(Text(f"only in {side}: {', '.join(files)}", style="dim"))
    return Group(*parts)


def _delta_table(title: str, deltas: list[FieldDelta]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", box=None, padding=(0, 1))
    for column, justify in (("", "left"), ("A f1", "right"), ("B f1", "right"), ("change", "right")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for delta in deltas:
        sign = "green" if delta.delta > 0 else "red" if delta.delta < 0 else "dim"
        table.add_row(
            delta.name,
            f"{delta.before.f1:.4f}",
            f"{delta.after.f1:.4f}",
            Text(f"{delta.delta:+.4f}", style=sign),
            style="bold" if delta.name == "overall" else None,
        )
    return table


def _value(value: object) -> str:
    return "∅" if value is None else str(value)

"""What an evaluation run records: its configuration, every scored file, and the totals derived from them.

A run folder (``eval/runs/<time>-<extractor>-<prompt>-<model>/``) holds:

- ``run.json``: the whole ``RunRecord`` (configuration, every file's counts and
  mismatches, checks, usage, timings); ``load_run`` reads it back for a comparison;
- ``scores.json``: the derived scores (``RunRecord.summary()``): overall, per
  field, per group, per file, per page source, per form variant, the checks' view;
- ``predictions/<file>.json``: each file's output as ``jixiao extract`` writes it;
- ``report.html``: the report a person reads (``pipeline.evaluation.html``).
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline._io import write_whole
from pipeline.llm.usage import Usage
from pipeline.result import Status
from pipeline.scoring import DocumentScore, FieldCounts, sum_scores

__all__ = [
    "BREAKDOWNS",
    "ChecksView",
    "Counts",
    "PageSourceKind",
    "RunConfig",
    "RunRecord",
    "Sample",
    "SampleResult",
    "Summary",
    "load_run",
    "run_name",
    "save_run",
]

PageSourceKind = Literal["text", "ocr", "mixed"]
RUN_FILE = "run.json"
SCORES_FILE = "scores.json"
PREDICTIONS = "predictions"


class Sample(BaseModel):
    """One labelled file to score: a PDF or image in a folder that holds a ``label.json``."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(
        description="The file's path under the fixtures folder, e.g. forms/sh-chongming-2023-project/scan.pdf"
    )
    fixture: str = Field(
        description="The labelled folder under the fixtures folder, e.g. forms/sh-chongming-2023-project"
    )
    variant: str = Field(description="The file's stem: native, scan, photo1 …")
    layout: str = Field(description="The form variant: print.json's `variant`, else the label's form types")
    pages: int = Field(ge=0, description="Pages of the file")


class ChecksView(BaseModel):
    """What the checks said about a run's outputs, and how much of what was wrong they flagged."""

    model_config = ConfigDict(frozen=True)

    findings: int = Field(default=0, description="Findings raised, every severity")
    errors: int = 0
    warnings: int = 0
    needs_review: int = Field(default=0, description="Files whose status is needs_review")
    not_in_source: int = Field(default=0, description="not_in_source findings: values printed nowhere on the form")
    not_in_source_wrong: int = Field(
        default=0, description="not_in_source findings at a value that really is wrong or spurious: caught"
    )
    wrong_values: int = Field(default=0, description="Values output that are wrong or spurious")
    wrong_flagged: int = Field(default=0, description="Of those, how many carry a warning or error at their path")

    def __add__(self, other: ChecksView) -> ChecksView:
        return ChecksView(**{name: getattr(self, name) + getattr(other, name) for name in ChecksView.model_fields})

    @property
    def flagged_share(self) -> float | None:
        """Share of wrong values the checks flagged; None when nothing was wrong."""
        return self.wrong_flagged / self.wrong_values if self.wrong_values else None


class SampleResult(BaseModel):
    """One file of a run: how it was read, what came out, how it scored."""

    sample: Sample
    page_source: PageSourceKind | None = Field(default=None, description="text layer, OCR, or both; None: unknown")
    prediction: str | None = Field(default=None, description="The output's path in the run folder; None: no output")
    error: str | None = Field(default=None, description="Why there is no output: the extractor's one-line error")
    status: Status | None = None
    seconds: float = Field(default=0.0, description="Wall time to extract the file (0 when scoring stored outputs)")
    usage: Usage | None = Field(default=None, description="The model's usage for this file")
    checks: ChecksView = Field(default_factory=ChecksView)
    score: DocumentScore


class RunConfig(BaseModel):
    """How a run was made: enough to make it again, and to tell two runs apart."""

    extractor: str = Field(description="layout, llm, hybrid, or predictions (stored outputs scored)")
    prompt: str | None = None
    prompt_sha256: str | None = None
    model: str | None = None
    endpoint: str | None = None
    mode: str | None = None
    fixtures: str = Field(description="The fixtures folder, absolute")
    variants: list[str] | None = Field(default=None, description="Only files with these stems; None: every file")
    predictions: str | None = Field(default=None, description="The folder of stored outputs scored, if any")
    jixiao: str = Field(description="The jixiao version")


class Counts(BaseModel):
    """Counts and their precision, recall and F1, as ``scores.json`` states them."""

    tp: int
    fp: int
    fn: int
    tn: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, counts: FieldCounts) -> Counts:
        return cls(
            **counts.model_dump(),
            precision=round(counts.precision, 6),
            recall=round(counts.recall, 6),
            f1=round(counts.f1, 6),
        )


class Summary(BaseModel):
    """A run's scores, derived from its files: what ``scores.json`` holds."""

    overall: Counts
    groups: dict[str, Counts]
    fields: dict[str, Counts]
    files: dict[str, Counts]
    page_sources: dict[str, Counts]
    layouts: dict[str, Counts]
    variants: dict[str, Counts]
    checks: ChecksView
    failed_files: list[str]


class RunRecord(BaseModel):
    """A whole evaluation run."""

    name: str
    started: datetime.datetime
    seconds: float = Field(description="Wall time of the run")
    config: RunConfig
    samples: list[SampleResult] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list, description="Files in labelled folders not scored, and why")
    usage: Usage | None = Field(default=None, description="The model's usage over the run")

    def total(self) -> DocumentScore:
        """Every file's score summed."""
        return sum_scores(result.score for result in self.samples)

    def by(self, key: Callable[[SampleResult], str]) -> dict[str, DocumentScore]:
        """Scores summed per ``key`` of a file (page source, form variant …), keys sorted."""
        groups: dict[str, list[DocumentScore]] = {}
        for result in self.samples:
            groups.setdefault(key(result), []).append(result.score)
        return {name: sum_scores(groups[name]) for name in sorted(groups)}

    def checks(self) -> ChecksView:
        return sum((result.checks for result in self.samples), ChecksView())

    def summary(self) -> Summary:
        total = self.total()
        return Summary(
            overall=Counts.of(total.overall),
            groups={name: Counts.of(counts) for name, counts in total.groups().items()},
            fields={name: Counts.of(counts) for name, counts in total.fields.items()},
            files={r.sample.id: Counts.of(r.score.overall) for r in self.samples},
            page_sources=_overall(self.by(BREAKDOWNS["page source"])),
            layouts=_overall(self.by(BREAKDOWNS["form variant"])),
            variants=_overall(self.by(BREAKDOWNS["file variant"])),
            checks=self.checks(),
            failed_files=[r.sample.id for r in self.samples if r.error is not None],
        )

    def latencies(self) -> list[float]:
        """Seconds per extracted file, sorted; none when stored outputs were scored (nothing was extracted)."""
        if self.config.extractor == "predictions":
            return []
        return sorted(r.seconds for r in self.samples if r.prediction is not None)


# What a run's scores are broken down by, beside field, group and file: the key of each file.
BREAKDOWNS: dict[str, Callable[[SampleResult], str]] = {
    "page source": lambda r: r.page_source or "unknown",
    "form variant": lambda r: r.sample.layout,
    "file variant": lambda r: r.sample.variant,
}


def _overall(scores: dict[str, DocumentScore]) -> dict[str, Counts]:
    return {name: Counts.of(score.overall) for name, score in scores.items()}


def run_name(started: datetime.datetime, config: RunConfig) -> str:
    """``<time>-<extractor>-<prompt>-<model>``, each part made safe for a folder name; ``none`` where unused."""
    prompt = Path(config.prompt).name if config.prompt else "none"  # a prompt folder by its own name
    parts = [started.strftime("%Y%m%d-%H%M%S"), config.extractor, prompt, config.model or "none"]
    return "-".join(_slug(part) for part in parts)


def _slug(text: str) -> str:
    """A path-safe version of a name: qwen/qwen2.5-7b → qwen_qwen2.5-7b."""
    return re.sub(r"[^0-9A-Za-z.\-]+", "_", text)


def save_run(record: RunRecord, folder: Path) -> None:
    """Write ``run.json`` and ``scores.json`` into the run folder (each whole, via a temporary file)."""
    write_whole(folder / RUN_FILE, record.model_dump_json(indent=1) + "\n")
    write_whole(folder / SCORES_FILE, record.summary().model_dump_json(indent=1) + "\n")


def load_run(folder: Path) -> RunRecord:
    """The run recorded in ``folder`` (its ``run.json``)."""
    return RunRecord.model_validate_json((folder / RUN_FILE).read_text(encoding="utf-8"))

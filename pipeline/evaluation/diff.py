"""Two runs side by side: per-field F1 before and after, and every field that flipped.

A slot is named by its file and its path in the label (``forms[1].indicators[3].target``;
a value only a prediction holds is named by its path there). A slot that is a
mismatch in one run and not in the other flipped: ``fixed`` (wrong in A, right in
B) or ``broken`` (right in A, wrong in B); a slot wrong in both with different
values is ``changed``. Only files scored in both runs are compared; the others
are listed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from pipeline.evaluation.records import RunRecord
from pipeline.scoring import DocumentScore, FieldCounts, Mismatch, Value, sum_scores

__all__ = ["Comparison", "FieldDelta", "Flip", "FlipKind", "compare_runs"]

FlipKind = Literal["fixed", "broken", "changed"]


class Flip(BaseModel):
    """One slot whose verdict differs between the runs."""

    sample: str = Field(description="The file's id")
    path: str
    field: str
    kind: FlipKind
    expected: Value
    before: Value = Field(description="What run A output (the expected value when A was right)")
    after: Value = Field(description="What run B output (the expected value when B was right)")


class FieldDelta(BaseModel):
    """One field (or group, or the overall score) in both runs."""

    name: str
    before: FieldCounts
    after: FieldCounts

    @property
    def delta(self) -> float:
        return self.after.f1 - self.before.f1


class Comparison(BaseModel):
    """Run B measured against run A."""

    before: str = Field(description="Run A's name")
    after: str = Field(description="Run B's name")
    overall: FieldDelta
    groups: list[FieldDelta]
    fields: list[FieldDelta]
    files: list[FieldDelta]
    flips: list[Flip]
    only_before: list[str] = Field(default_factory=list, description="Files scored only in A")
    only_after: list[str] = Field(default_factory=list, description="Files scored only in B")

    def count(self, kind: FlipKind) -> int:
        return sum(flip.kind == kind for flip in self.flips)


def compare_runs(before: RunRecord, after: RunRecord) -> Comparison:
    """What changed from run ``before`` (A) to run ``after`` (B), over the files both scored."""
    a = {r.sample.id: r.score for r in before.samples}
    b = {r.sample.id: r.score for r in after.samples}
    shared = [sample for sample in b if sample in a]
    total_a = sum_scores(a[s] for s in shared)
    total_b = sum_scores(b[s] for s in shared)
    groups_a, groups_b = total_a.groups(), total_b.groups()
    return Comparison(
        before=before.name,
        after=after.name,
        overall=FieldDelta(name="overall", before=total_a.overall, after=total_b.overall),
        groups=[FieldDelta(name=g, before=groups_a[g], after=groups_b[g]) for g in groups_a],
        fields=[FieldDelta(name=f, before=total_a.fields[f], after=total_b.fields[f]) for f in total_a.fields],
        files=[FieldDelta(name=s, before=a[s].overall, after=b[s].overall) for s in shared],
        flips=[flip for sample in shared for flip in _flips(sample, a[sample], b[sample])],
        only_before=[s for s in a if s not in b],
        only_after=[s for s in b if s not in a],
    )


def _flips(sample: str, before: DocumentScore, after: DocumentScore) -> list[Flip]:
    """The slots of one file that are wrong in exactly one run, or wrong in both with different values."""
    wrong_a = {m.path: m for m in before.mismatches}
    wrong_b = {m.path: m for m in after.mismatches}
    flips: list[Flip] = []
    for path in dict.fromkeys([*wrong_a, *wrong_b]):
        was, now = wrong_a.get(path), wrong_b.get(path)
        if was is not None and now is not None:
            if was.got != now.got:
                flips.append(_flip(sample, now, "changed", was.got, now.got))
        elif was is not None:
            flips.append(_flip(sample, was, "fixed", was.got, was.expected))
        elif now is not None:
            flips.append(_flip(sample, now, "broken", now.expected, now.got))
    return flips


def _flip(sample: str, mismatch: Mismatch, kind: FlipKind, before: Value, after: Value) -> Flip:
    return Flip(
        sample=sample,
        path=mismatch.path,
        field=mismatch.field,
        kind=kind,
        expected=mismatch.expected,
        before=before,
        after=after,
    )

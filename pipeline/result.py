"""What ``extract`` outputs: the schema's Document plus the pipeline's own keys beside it.

The contract fields (``source``, ``forms``) stay exactly as ``schema.py`` defines
them; beside them an ``Extraction`` says which extractor produced it, where each
value came from (``provenance``, keyed by field path such as
``forms[0].indicators[3].target``), how sure the reading is, and every finding:
a field that could not be read, a column that was not recognised, a value taken
by inference rather than by its label.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pipeline.llm.usage import LlmRun
from pipeline.page import BBox
from pipeline.schema import Document, Form

__all__ = ["Extraction", "FieldSource", "Finding", "FormResult", "Severity", "Status", "field_path"]

Severity = Literal["info", "warning", "error"]
Status = Literal["ok", "needs_review"]


def field_path(keys: Sequence[str | int]) -> str:
    """A finding or provenance path: ``("forms", 0, "funds", 2, "executed")`` → ``forms[0].funds[2].executed``."""
    text = ""
    for key in keys:
        text += f"[{key}]" if isinstance(key, int) else f".{key}" if text else key
    return text


class FieldSource(BaseModel):
    """Where one extracted value was read: page, box (points), the raw cell text, and how surely."""

    model_config = ConfigDict(extra="forbid")

    page: int = Field(ge=1)
    bbox: BBox
    text: str = Field(description="The cell's text as read, line breaks kept")
    confidence: float = Field(ge=0.0, le=1.0, description="1.0: clean text layer, exact label; lower: OCR, fuzzy")
    how: str = Field(default="cell", description="cell, merged (inherited from a merged cell), inferred, …")


class Finding(BaseModel):
    """Something a reviewer should know about one field or form."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="Stable identifier, e.g. unreadable_number, unrecognised_column")
    severity: Severity
    path: str | None = Field(default=None, description="Field path the finding is about, if any")
    message: str
    expected: str | None = Field(default=None, description="What the form implies, where a check recomputes it")
    found: str | None = Field(default=None, description="What was read")

    def under(self, prefix: str) -> Finding:
        """The same finding with its path placed under ``prefix`` (``forms[2]``)."""
        path = f"{prefix}.{self.path}" if self.path else prefix
        return self.model_copy(update={"path": path})


class FormResult(BaseModel):
    """What an extractor made of one form: the Form, or None if it could not build one, and why."""

    form: Form | None
    provenance: dict[str, FieldSource] = Field(default_factory=dict, description="Keyed by path within the form")
    findings: list[Finding] = Field(default_factory=list)


class Extraction(Document):
    """A Document as extracted, with provenance, confidence and findings beside the contract fields."""

    extractor: str = Field(description="Which extractor produced the forms: layout, llm:<model>")
    status: Status = Field(default="ok", description="needs_review when any finding is an error, else ok")
    provenance: dict[str, FieldSource] = Field(default_factory=dict)
    findings: list[Finding] = Field(default_factory=list)
    seconds: dict[str, float] = Field(default_factory=dict, description="Wall time per stage")
    llm: LlmRun | None = Field(
        default=None, description="The model, endpoint, prompt version and hash, and usage, when a model was used"
    )

    def low_confidence(self, below: float = 0.9) -> list[tuple[str, FieldSource]]:
        """Field paths read less surely than ``below``, least sure first: the review queue."""
        shaky = [(path, src) for path, src in self.provenance.items() if src.confidence < below]
        return sorted(shaky, key=lambda item: item[1].confidence)

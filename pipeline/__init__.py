"""jixiao: Chinese fiscal performance self-assessment forms (绩效自评表) to checked, structured data."""

from __future__ import annotations

from pipeline.exceptions import ExitCode, JixiaoError
from pipeline.ingest import read_pages, render_page
from pipeline.page import Page, Rule, Word
from pipeline.run import Reading, read_file
from pipeline.schema import Document, Form, FundRow, Indicator, Source
from pipeline.segment import FormSpan, segment_forms
from pipeline.settings import Settings

__version__ = "0.1.0"

__all__ = [
    "Document",
    "ExitCode",
    "Form",
    "FormSpan",
    "FundRow",
    "Indicator",
    "JixiaoError",
    "Page",
    "Reading",
    "Rule",
    "Settings",
    "Source",
    "Word",
    "__version__",
    "read_file",
    "read_pages",
    "render_page",
    "segment_forms",
]

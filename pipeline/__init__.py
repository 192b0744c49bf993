"""jixiao: Chinese fiscal performance self-assessment forms (绩效自评表) to checked, structured data."""

from __future__ import annotations

from pipeline.exceptions import ExitCode, JixiaoError
from pipeline.ingest import read_pages, render_page
from pipeline.page import Page, Rule, Word
from pipeline.run import Reading, read_file
from pipeline.schema import Document, Form, FundRow, Indicator, Source
from pipeline.segment import FormSpan, segment_forms
from pipeline.settings import Settings
from pipeline.tables import Cell, Grid, rebuild_grids

__version__ = "0.1.0"

__all__ = [
    "Cell",
    "Document",
    "ExitCode",
    "Form",
    "FormSpan",
    "FundRow",
    "Grid",
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
    "rebuild_grids",
    "render_page",
    "segment_forms",
]

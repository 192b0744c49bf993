"""Segmentation: split a file's pages into forms by their titles and structure.

A file holds one or more forms one after another; a form may run over page
breaks and a page may hold the end of one form and the start of the next. A
form starts at its title (项目支出绩效自评表, 部门（单位）整体支出绩效自评表 and
their regional variants), matched tolerantly so an OCR slip in one character
still counts. A file whose forms print no title falls back on structure: the
table's own labels (项目名称, 部门（单位）名称, 一级指标 …) mark one form.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field
from rapidfuzz import fuzz

from pipeline.page import Page, Word, lines_of, normalize_for_match

__all__ = ["FormSpan", "segment_forms"]

_TITLE_CORE = "绩效自评表"
_TITLE_MAX_CHARS = 32  # a title is a short line; a goal sentence that mentions one is not
_YEAR = re.compile(r"((?:19|20)\d{2})\s*年")
_PUNCT = re.compile(r"[《》〈〉<>()（）\[\]【】\"'“”:：]")
# Compared after NFKC folding, so full- and half-width brackets need no separate entries.
_DEPARTMENT_MARKS = ("整体支出", "部门(单位)名称", "部门整体")
_STRUCTURE_MARKS = ("项目名称", "主管部门", "一级指标", "三级指标", "年度总体目标", "部门(单位)名称")


class FormSpan(BaseModel):
    """Where one form lies: pages, and the vertical extent on its first and last page (points)."""

    index: int = Field(ge=0)
    form_type: str = Field(description="project or department, from the title")
    title: str = Field(description="The title as read, or '' where the form prints none")
    year: int | None = Field(default=None, description="The year printed under the title, if read")
    first_page: int = Field(ge=1)
    last_page: int = Field(ge=1)
    y_start: float = Field(description="Top of the form on its first page")
    y_end: float = Field(description="Bottom of the form's content on its last page")

    @property
    def pages(self) -> list[int]:
        return list(range(self.first_page, self.last_page + 1))

    def holds(self, page: int, y: float) -> bool:
        """Is height ``y`` of page ``page`` inside this form (1 pt of slack at its top and bottom)?"""
        if not self.first_page <= page <= self.last_page:
            return False
        top = self.y_start if page == self.first_page else float("-inf")
        bottom = self.y_end if page == self.last_page else float("inf")
        return top - 1 <= y <= bottom + 1

    def words_on(self, page: Page) -> list[Word]:
        """The words of ``page`` that belong to this form."""
        return [w for w in page.words if self.holds(page.number, w.y_center)]


def _is_title(text: str) -> bool:
    folded = _PUNCT.sub("", normalize_for_match(text))
    if not folded or len(folded) > _TITLE_MAX_CHARS:
        return False
    if _TITLE_CORE in folded:
        return True
    # OCR may garble a character of the title: accept a close match at the end of the line.
    tail = folded[-len(_TITLE_CORE) :]
    return len(folded) >= 7 and fuzz.ratio(tail, _TITLE_CORE) >= 80 and ("支出" in folded or "绩效" in folded)


def _form_type(text: str) -> str:
    folded = normalize_for_match(text)
    return "department" if any(normalize_for_match(m) in folded for m in _DEPARTMENT_MARKS) else "project"


def _year_near(lines: list[list[Word]], at: int) -> int | None:
    for line in lines[at : at + 3]:
        match = _YEAR.search(normalize_for_match("".join(w.text for w in line)))
        if match:
            return int(match.group(1))
    return None


def _content_bottom(page: Page, above: float = float("inf")) -> float:
    ys = [w.bbox[3] for w in page.words if w.y_center < above]
    ys += [max(r.y0, r.y1) for r in page.rules if min(r.y0, r.y1) < above]
    return max(ys, default=0.0)


def segment_forms(pages: list[Page]) -> list[FormSpan]:
    """The forms in ``pages``, in reading order; empty when no form is recognised."""
    starts: list[tuple[int, float, str, int | None]] = []  # page, y, title, year
    for page in pages:
        lines = lines_of(page.words)
        for i, line in enumerate(lines):
            text = "".join(w.text for w in line)
            if _is_title(text):
                starts.append((page.number, min(w.bbox[1] for w in line), text, _year_near(lines, i)))
    if not starts:
        return _structural_span(pages)

    by_number = {p.number: p for p in pages}
    spans: list[FormSpan] = []
    for index, (page_no, y, title, year) in enumerate(starts):
        if index + 1 < len(starts):
            next_page, next_y = starts[index + 1][0], starts[index + 1][1]
            if next_y <= _top_of_content(by_number[next_page]) + 1 and next_page > page_no:
                last_page, y_end = next_page - 1, _content_bottom(by_number[next_page - 1])
            else:
                last_page, y_end = next_page, _content_bottom(by_number[next_page], above=next_y)
        else:
            last_page = pages[-1].number
            y_end = _content_bottom(by_number[last_page])
        spans.append(
            FormSpan(
                index=index,
                form_type=_form_type(title),
                title=title,
                year=year,
                first_page=page_no,
                last_page=last_page,
                y_start=y,
                y_end=y_end,
            )
        )
    return spans


def _top_of_content(page: Page) -> float:
    ys = [w.bbox[1] for w in page.words] + [min(r.y0, r.y1) for r in page.rules]
    return min(ys, default=0.0)


def _structural_span(pages: list[Page]) -> list[FormSpan]:
    """No title anywhere: one form if the pages carry a form's table labels, else none."""
    text = normalize_for_match("".join(w.text for p in pages for w in p.words))
    marks = sum(1 for m in _STRUCTURE_MARKS if normalize_for_match(m) in text)
    if marks < 2 or not pages:
        return []
    year_match = _YEAR.search(text)
    return [
        FormSpan(
            index=0,
            form_type=_form_type(text),
            title="",
            year=int(year_match.group(1)) if year_match else None,
            first_page=pages[0].number,
            last_page=pages[-1].number,
            y_start=_top_of_content(pages[0]),
            y_end=_content_bottom(pages[-1]),
        )
    ]

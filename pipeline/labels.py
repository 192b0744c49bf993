"""The synonym table (``labels.toml``) and tolerant matching of printed labels against it.

Every variant prints the same fields under different labels (年初预算数 / 年初预算,
分值 / 权重, 年度指标值 / 指标值 …). The table lists them as data; this module
folds a printed label the same way as the table's entries (width, whitespace,
punctuation, bracketed parts) and says which field it names and how surely:
an exact match, one field left that a truncated header can mean, or one OCR
slip away from a single entry.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources

from rapidfuzz import fuzz

__all__ = [
    "Match",
    "fold",
    "fund_item",
    "is_known_label",
    "match_columns",
    "match_label",
    "printed_fund_item",
    "unit_in",
    "vocabulary",
]

_BRACKETED = re.compile(r"[(\[【〔][^()\[\]【】〔〕]*[)\]】〕]")
_DROP = re.compile(r"[\s\u3000:;,.、。，；：!！?？\"'“”‘’《》<>*＊·…_\-—–~～/\\|]+")
_UNIT = re.compile(r"(万元|元)")
_FUZZY_MIN = 80.0  # rapidfuzz ratio: one wrong character in a 5-character label is 80


@lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """A label as compared: NFKC, bracketed parts and punctuation and whitespace removed, lowercase."""
    folded = unicodedata.normalize("NFKC", text)
    folded = _BRACKETED.sub("", folded)
    return _DROP.sub("", folded).lower()


@dataclass(frozen=True)
class Match:
    """A printed label matched to a field: how (exact, only-left, fuzzy) and how surely (0–1)."""

    field: str
    how: str
    score: float


@cache
def vocabulary() -> dict[str, dict[str, tuple[str, ...]]]:
    """The synonym table, folded: section → field → printed labels (folded)."""
    raw = tomllib.loads(resources.files("pipeline").joinpath("labels.toml").read_text(encoding="utf-8"))
    return {
        section: {name: tuple(dict.fromkeys(fold(v) for v in values)) for name, values in fields.items()}
        for section, fields in raw.items()
    }


@cache
def _exact_index(section: str) -> dict[str, str]:
    return {label: name for name, labels in vocabulary()[section].items() for label in labels}


@cache
def _all_labels() -> frozenset[str]:
    return frozenset(
        label
        for section, fields in vocabulary().items()
        if section != "units"
        for labels in fields.values()
        for label in labels
    )


@cache
def _by_length(section: str) -> dict[int, list[tuple[str, str]]]:
    """A section's labels grouped by length: a fuzzy match only compares labels within one character."""
    groups: dict[int, list[tuple[str, str]]] = {}
    for name, labels in vocabulary()[section].items():
        for label in labels:
            groups.setdefault(len(label), []).append((label, name))
    return groups


def is_known_label(text: str) -> bool:
    """Does ``text`` print a label of any section (so it is never a value)?"""
    folded = fold(text)
    return bool(folded) and folded in _all_labels()


@lru_cache(maxsize=16384)
def match_label(section: str, text: str, *, fuzzy: bool = True) -> Match | None:
    """The field ``text`` names in ``section``: exact after folding, else one OCR slip from one label."""
    folded = fold(text)
    if not folded:
        return None
    exact = _exact_index(section).get(folded)
    if exact is not None:
        return Match(exact, "exact", 1.0)
    if not fuzzy or len(folded) < 3:
        return None
    scored = [
        (fuzz.ratio(folded, label), name)
        for length in (len(folded) - 1, len(folded), len(folded) + 1)
        for label, name in _by_length(section).get(length, ())
    ]
    best = [s for s in scored if s[0] >= _FUZZY_MIN]
    if len({name for _, name in best}) == 1:
        return Match(best[0][1], "fuzzy", round(max(s for s, _ in best) / 100.0, 3))
    return None


def match_columns(section: str, headers: list[str]) -> list[Match | None]:
    """Match a header row's cells to fields; each field is taken once, left to right.

    Exact and fuzzy matches first; then a header left unmatched that is the start
    of the labels of several fields (a truncated 全年) takes the one field of
    those that no other header took.
    """
    matches: list[Match | None] = [match_label(section, h) for h in headers]
    taken = {m.field for m in matches if m is not None}
    for i, header in enumerate(headers):
        folded = fold(header)
        if matches[i] is not None or len(folded) < 2:
            continue
        options = {
            name
            for name, labels in vocabulary()[section].items()
            if name not in taken and any(label.startswith(folded) for label in labels)
        }
        if len(options) == 1:
            name = options.pop()
            matches[i] = Match(name, "only-left", 0.7)
            taken.add(name)
    return matches


def fund_item(label: str) -> Match | None:
    """Which fund row a row label names: the longest item label it contains (其中：当年财政拨款 → appropriation)."""
    folded = fold(label)
    best: tuple[int, str] | None = None
    for name, labels in vocabulary()["fund_items"].items():
        for item_label in labels:
            if item_label in folded and (best is None or len(item_label) > best[0]):
                best = (len(item_label), name)
    if best is None:
        return None
    return Match(best[1], "exact" if best[0] == len(folded) else "contains", 1.0)


def printed_fund_item(text: str) -> str | None:
    """The fund item a whole cell names, allowing only a known prefix (其中：上年结转资金 → carryover).

    Stricter than ``fund_item``: the cell must be nothing but the row label, and
    labels shorter than 4 characters (其他, 总额) are not trusted on their own, and a
    table caption is not a row.
    """
    folded = fold(text)
    for prefix in vocabulary()["fund_table"]["row_prefixes"]:
        folded = folded.removeprefix(prefix)
    if folded in vocabulary()["fund_table"]["caption"]:  # 整体支出规模（元） heads the table, it is no row
        return None
    name = _exact_index("fund_items").get(folded)
    return name if name is not None and len(folded) >= 4 else None


def unit_in(text: str) -> str | None:
    """The amount unit a caption or a unit line prints: 项目资金（万元） → 万元, 金额单位：元 → 元."""
    normalized = unicodedata.normalize("NFKC", text)
    for bracketed in _BRACKETED.findall(normalized):
        found = _UNIT.search(bracketed)
        if found:
            return found.group(1)
    flat = "".join(normalized.split())
    for prefix in vocabulary()["units"]["line_patterns"]:
        at = flat.find(prefix)
        if at >= 0:
            found = _UNIT.match(flat[at + len(prefix) :].lstrip(":："))
            if found:
                return found.group(1)
    return None

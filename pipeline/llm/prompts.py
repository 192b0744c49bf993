"""Prompts are files: one folder per version under ``prompts/``, hashed into every output.

A version folder holds ``system.md`` (the instructions), ``user.md`` (the message
that carries the form, with ``{{pages}}`` and ``{{part}}`` placeholders),
``reask.md`` (what the model is told when its record fails a check, with
``{{findings}}``), and ``part_header.md`` / ``part_indicators.md`` (said when a
long form is sent in two parts). ``--prompt v2`` picks ``prompts/v2``; a path
picks any folder, so an evaluator can try a prompt without touching the project.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from pydantic import BaseModel

from pipeline.exceptions import ConfigurationError

__all__ = ["PROMPTS", "Prompt", "load_prompt"]

PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
FILES = ("system.md", "user.md", "reask.md", "part_header.md", "part_indicators.md")


class Prompt(BaseModel):
    """One prompt version's texts and the SHA-256 over its files."""

    version: str
    sha256: str
    system: str
    user: str
    reask: str
    part_header: str
    part_indicators: str

    def user_message(self, pages: str, part: str = "") -> str:
        """The user message for a form: its rendered pages, and the part note if it is split."""
        note = {"": "", "header": self.part_header, "indicators": self.part_indicators}[part]
        return self.user.replace("{{part}}", f"{note.strip()}\n\n" if note else "").replace("{{pages}}", pages)

    def reask_message(self, findings: str) -> str:
        return self.reask.replace("{{findings}}", findings)


def _folder(version: str) -> Path:
    candidate = Path(version)
    if candidate.is_dir() and (len(candidate.parts) > 1 or not (PROMPTS / version).is_dir()):
        return candidate
    return PROMPTS / version


@cache
def load_prompt(version: str = "v1") -> Prompt:
    """Read a prompt version (``v1``) or folder; a missing folder or file is a one-line error."""
    folder = _folder(version)
    if not folder.is_dir():
        known = ", ".join(sorted(p.name for p in PROMPTS.iterdir() if p.is_dir())) if PROMPTS.is_dir() else "none"
        raise ConfigurationError(f"no prompt {version!r}: {folder} is not a folder (versions: {known})")
    texts: dict[str, str] = {}
    digest = hashlib.sha256()
    for name in FILES:
        path = folder / name
        if not path.is_file():
            raise ConfigurationError(f"prompt {version!r} has no {name} in {folder}")
        text = path.read_text(encoding="utf-8")
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
        texts[name.removesuffix(".md")] = text
    for name, needed in (("user", "{{pages}}"), ("reask", "{{findings}}")):
        if needed not in texts[name]:
            raise ConfigurationError(f"prompt {version!r}: {name}.md lacks the placeholder {needed}")
    label = folder.name if folder.parent == PROMPTS else str(folder)
    return Prompt(version=label, sha256=digest.hexdigest(), **texts)

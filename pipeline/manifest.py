"""A batch's memory: which file is done, failed or still to do, in a SQLite database (WAL) in the output folder.

Files are keyed by the SHA-256 of their bytes, so a file found under two names
is extracted once, and a renamed file is not extracted again. ``paths`` maps
each input path to its hash (with size and modification time, so an unchanged
file is not hashed again on the next run). A file's result, its row in
``files`` and its rows in the flat tables (``pipeline.export.TABLES``) are
written in one transaction: after a kill at any moment a file is either done,
with all its rows, or not done at all.

Each result remembers its *recipe*: the settings that shape it (extractor, OCR,
and for a model its name, endpoint, mode, prompt and schema hashes). A done file
whose recipe differs from the current one is *stale*: kept, and redone only when
asked.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pipeline import __version__
from pipeline.export import CURRENT, TABLES, flatten
from pipeline.result import Extraction

__all__ = ["Manifest", "Recorded", "State", "recipe_key"]

State = Literal["pending", "done", "failed"]
NAME = "manifest.sqlite"

_SQL_TYPES = {"text": "TEXT", "integer": "INTEGER", "real": "REAL"}
_FILE_COLUMNS = [c for c in TABLES["files"] if c.name not in ("path",)]
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS files_state (
    {", ".join(f'"{c.name}" {_SQL_TYPES[c.type]}' for c in _FILE_COLUMNS)},
    recipe TEXT,
    recipe_key TEXT,
    jixiao TEXT,
    PRIMARY KEY (sha256)
);
CREATE TABLE IF NOT EXISTS paths (
    path TEXT PRIMARY KEY,
    sha256 TEXT NOT NULL,
    size INTEGER,
    mtime_ns INTEGER
);
CREATE INDEX IF NOT EXISTS paths_by_sha ON paths (sha256);
CREATE VIEW IF NOT EXISTS files AS
    SELECT paths.path, files_state.* FROM paths JOIN files_state USING (sha256);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started TEXT,
    finished TEXT,
    command TEXT,
    recipe TEXT,
    counts TEXT
);
"""


def _table_sql(name: str) -> str:
    columns = ", ".join(f'"{c.name}" {_SQL_TYPES[c.type]}' for c in TABLES[name])
    return (
        f'CREATE TABLE IF NOT EXISTS "{name}" ({columns});\n'
        f'CREATE INDEX IF NOT EXISTS "{name}_by_file" ON "{name}" (sha256);\n'
    )


_SCHEMA += "".join(_table_sql(name) for name in TABLES if name != "files")


def _recipe_text(recipe: dict[str, object]) -> str:
    return json.dumps(recipe, sort_keys=True, ensure_ascii=False)


def recipe_key(recipe: dict[str, object]) -> str:
    """A short stable hash of a recipe (the settings that shape a result)."""
    return hashlib.sha256(_recipe_text(recipe).encode()).hexdigest()[:16]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Recorded:
    """What the manifest holds for one file hash."""

    state: State
    recipe_key: str | None


class Manifest:
    """The manifest database of one output folder; one writer (the batch's main process)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / NAME
        self.db = sqlite3.connect(self.path, isolation_level=None)  # transactions are explicit
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a committed result survives a power cut too
        self.db.execute("PRAGMA busy_timeout=10000")
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Manifest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def known_hash(self, path: str, size: int, mtime_ns: int) -> str | None:
        """The hash recorded for ``path`` when its size and modification time are unchanged."""
        row = self.db.execute(
            "SELECT sha256 FROM paths WHERE path = ? AND size = ? AND mtime_ns = ?", (path, size, mtime_ns)
        ).fetchone()
        return None if row is None else str(row[0])

    def add_paths(self, entries: Iterable[tuple[str, str, int, int]]) -> None:
        """Record (path, sha256, size, mtime_ns) for each input, and each new hash as pending."""
        with self._transaction():
            for path, sha, size, mtime_ns in entries:
                self.db.execute(
                    "INSERT INTO paths VALUES (?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET "
                    "sha256 = excluded.sha256, size = excluded.size, mtime_ns = excluded.mtime_ns",
                    (path, sha, size, mtime_ns),
                )
                self.db.execute("INSERT OR IGNORE INTO files_state (sha256, state) VALUES (?, 'pending')", (sha,))

    def recorded(self, sha: str) -> Recorded:
        row = self.db.execute("SELECT state, recipe_key FROM files_state WHERE sha256 = ?", (sha,)).fetchone()
        return Recorded("pending", None) if row is None else Recorded(row[0], row[1])

    def finish(
        self,
        result: Extraction,
        document: str,
        recipe: dict[str, object],
        seconds: float,
    ) -> None:
        """Record a done file and its rows in the flat tables, replacing any earlier ones, in one transaction."""
        usage = result.llm.usage if result.llm is not None else None
        values = {
            "state": "done",
            "reason": None,
            "error": None,
            "pages": result.source.pages,
            "forms": len(result.forms),
            "status": result.status,
            "errors": sum(f.severity == "error" for f in result.findings),
            "warnings": sum(f.severity == "warning" for f in result.findings),
            "extractor": result.extractor,
            "prompt": result.llm.prompt if result.llm is not None else None,
            "model": result.llm.model if result.llm is not None else None,
            "seconds": round(seconds, 3),
            "prompt_tokens": usage.prompt_tokens if usage is not None else None,
            "completion_tokens": usage.completion_tokens if usage is not None else None,
            "cost": usage.cost if usage is not None else None,
            "currency": usage.currency if usage is not None else None,
            "document": document,
        }
        rows = flatten(result)
        with self._transaction():
            self._store(result.source.sha256, values, recipe)
            for name, table_rows in rows.items():
                marks = ", ".join("?" * len(TABLES[name]))
                self.db.executemany(f'INSERT INTO "{name}" VALUES ({marks})', table_rows)

    def fail(self, sha: str, reason: str, message: str, recipe: dict[str, object], seconds: float) -> None:
        """Record a failed file with the reason and message; earlier rows of it are removed."""
        values: dict[str, object] = {c.name: None for c in _FILE_COLUMNS if c.name != "sha256"}
        values.update(state="failed", reason=reason, error=message, seconds=round(seconds, 3))
        with self._transaction():
            self._store(sha, values, recipe)

    def _store(self, sha: str, values: Mapping[str, object], recipe: dict[str, object]) -> None:
        for name in TABLES:
            if name != "files":
                self.db.execute(f'DELETE FROM "{name}" WHERE sha256 = ?', (sha,))
        values = {
            **values,
            "finished": _now(),
            "recipe": _recipe_text(recipe),
            "recipe_key": recipe_key(recipe),
            "jixiao": __version__,
        }
        names = ", ".join(f'"{name}"' for name in values)
        updates = ", ".join(f'"{name}" = excluded."{name}"' for name in values)
        self.db.execute(
            f"INSERT INTO files_state (sha256, {names}) VALUES (?, {', '.join('?' * len(values))}) "
            f"ON CONFLICT (sha256) DO UPDATE SET {updates}",
            (sha, *values.values()),
        )

    def start_run(self, command: str, recipe: dict[str, object]) -> int:
        with self._transaction():
            cursor = self.db.execute(
                "INSERT INTO runs (started, command, recipe) VALUES (?, ?, ?)",
                (_now(), command, _recipe_text(recipe)),
            )
        return int(cursor.lastrowid or 0)

    def end_run(self, run: int, counts: dict[str, object]) -> None:
        with self._transaction():
            self.db.execute(
                "UPDATE runs SET finished = ?, counts = ? WHERE id = ?",
                (_now(), json.dumps(counts, ensure_ascii=False), run),
            )

    def states(self) -> dict[str, int]:
        """How many distinct files an input path has now are in each state."""
        return dict(
            self.db.execute(f"SELECT state, count(*) FROM files_state WHERE {CURRENT} GROUP BY state").fetchall()
        )

    def _transaction(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT, or ROLLBACK when the block raises."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind: object, *rest: object) -> None:
        self.db.execute("ROLLBACK" if kind is not None else "COMMIT")

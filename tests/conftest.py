"""Shared test fixtures: the project's labelled forms, bad inputs, and a network guard."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pymupdf
import pytest
from chatserver import ChatServer

from pipeline.page import Page
from pipeline.run import Reading, read_file
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FORMS = ROOT / "fixtures" / "forms"
FIXTURE_IDS = sorted(p.name for p in FORMS.iterdir() if (p / "label.json").exists())


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never leave this machine: any connection off loopback fails loudly."""
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture(autouse=True)
def _clean_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test sees the developer's own JIXIAO_* settings, or an OpenAI key or endpoint they fall back to."""
    for name in [n for n in os.environ if n.startswith("JIXIAO_") or n in ("OPENAI_API_KEY", "OPENAI_BASE_URL")]:
        monkeypatch.delenv(name)


def label_of(fixture_id: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FORMS / fixture_id / "label.json").read_text(encoding="utf-8"))
    return data


def spans_of(fixture_id: str) -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads((FORMS / fixture_id / "pages.json").read_text(encoding="utf-8"))
    forms: list[dict[str, Any]] = data["forms"]
    return forms


@cache
def reading_of(fixture_id: str, variant: str) -> Reading:
    """Read a fixture once per test session: OCR of a whole scan costs seconds a page."""
    return read_file(FORMS / fixture_id / f"{variant}.pdf", Settings())


@cache
def native_pages(fixture_id: str) -> tuple[Page, ...]:
    return tuple(reading_of(fixture_id, "native").pages)


@pytest.fixture
def bad_inputs(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """Files a batch of real archives contains sooner or later, each with the reason it must give."""
    native = FORMS / FIXTURE_IDS[0] / "native.pdf"
    data = native.read_bytes()
    files = {
        "empty": tmp_path / "empty.pdf",
        "truncated": tmp_path / "truncated.pdf",
        "encrypted": tmp_path / "encrypted.pdf",
        "not_pdf": tmp_path / "notes.pdf",
        "no_form": tmp_path / "notice.pdf",
        "missing": tmp_path / "missing.pdf",
        "folder": tmp_path / "a-folder.pdf",
        "bad_image": tmp_path / "broken.png",
    }
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(data[: len(data) // 3])
    with pymupdf.open(native) as doc:
        doc.save(files["encrypted"], encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret", owner_pw="owner")
    files["not_pdf"].write_text("项目名称,主管部门\n一网统管,向化镇\n", encoding="utf-8")
    with pymupdf.open() as doc:
        page = doc.new_page()
        page.insert_font(fontname="cjk", fontbuffer=pymupdf.Font("cjk").buffer)
        text = "关于做好2024年防汛防台工作的通知\n各村、居委会：为切实做好今年防汛防台工作，现将有关事项通知如下。"
        page.insert_textbox(pymupdf.Rect(60, 60, 540, 400), text, fontname="cjk", fontsize=12)
        doc.save(files["no_form"])
    files["folder"].mkdir()
    files["bad_image"].write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    yield files


@pytest.fixture
def chat_server() -> Iterator[ChatServer]:
    """A scripted OpenAI chat-completions server on 127.0.0.1, stopped after the test."""
    with ChatServer() as server:
        yield server

"""User-facing errors: each carries an exit code and a message that says what to do.

The CLI maps these to exit codes in one handler and prints the message on one
line naming the file; a traceback appears only with ``-v``. Anything else that
escapes is a bug.
"""

from __future__ import annotations

from enum import IntEnum
from pathlib import Path

__all__ = [
    "ConfigurationError",
    "EncryptedPdfError",
    "ExitCode",
    "InputFileError",
    "JixiaoError",
    "LlmError",
    "NoFormFoundError",
    "OcrError",
    "OutputError",
    "UnsupportedFileError",
]


class ExitCode(IntEnum):
    """Process exit codes, stable for scripts that call ``jixiao``."""

    ok = 0
    bad_args = 2
    input_file = 3
    no_form = 4
    needs_review = 5
    ocr = 6
    config = 7
    llm = 8
    below_threshold = 9
    output = 10
    internal = 15


class JixiaoError(Exception):
    """Base of every error the user should see as one clear line."""

    exit_code: ExitCode = ExitCode.internal

    def __init__(self, message: str, *, path: Path | str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InputFileError(JixiaoError):
    """The file is missing, unreadable, empty or damaged."""

    exit_code = ExitCode.input_file


class UnsupportedFileError(InputFileError):
    """The file is neither a PDF nor an image we can read."""


class EncryptedPdfError(InputFileError):
    """The PDF needs a password."""


class NoFormFoundError(JixiaoError):
    """The file was read but holds no 绩效自评表."""

    exit_code = ExitCode.no_form


class OcrError(JixiaoError):
    """The OCR engine failed or is not installed."""

    exit_code = ExitCode.ocr


class ConfigurationError(JixiaoError):
    """A setting or flag has a value that cannot work."""

    exit_code = ExitCode.config


class LlmError(JixiaoError):
    """The model endpoint could not be used for this file: down, or out of retries."""

    exit_code = ExitCode.llm


class OutputError(JixiaoError):
    """The outputs cannot be written: a full disk, a read-only folder."""

    exit_code = ExitCode.output

"""The Diagnostic record and helpers to make one."""
from __future__ import annotations

from enum import Enum
from typing import Optional

from .._records import ValueRecord
from ..syntax.source import Span
from .codes import CODES


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


class Note(ValueRecord):
    __slots__ = ("message", "span")
    message: str
    span: Optional[Span]

    def __init__(self, message, span=None):
        self.message = message
        self.span = span


class Diagnostic(ValueRecord):
    """Immutable by convention (`dataclasses.replace` makes a changed copy)."""

    __slots__ = ("code", "severity", "message", "span", "hint", "notes", "label")
    code: str
    severity: Severity
    message: str
    span: Optional[Span]
    hint: Optional[str]
    notes: tuple[Note, ...]
    label: Optional[str]             # short text printed after the underline

    def __init__(self, code, severity, message, span, hint=None, notes=(), label=None):
        self.code = code
        self.severity = severity
        self.message = message
        self.span = span
        self.hint = hint
        self.notes = notes
        self.label = label

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple:
        if self.span is None:
            return ("", -1, self.code)
        return (self.span.source.path, self.span.start, self.code)


def _make(severity: Severity, code: str, message: str, span: Optional[Span],
          hint: Optional[str], notes, label: Optional[str]) -> Diagnostic:
    assert code in CODES, f"unregistered diagnostic code {code}"
    return Diagnostic(code, severity, message, span, hint, tuple(notes or ()), label)


def error(code: str, message: str, span: Optional[Span], *, hint: Optional[str] = None,
          notes=(), label: Optional[str] = None) -> Diagnostic:
    return _make(Severity.ERROR, code, message, span, hint, notes, label)


def warning(code: str, message: str, span: Optional[Span], *, hint: Optional[str] = None,
            notes=(), label: Optional[str] = None) -> Diagnostic:
    return _make(Severity.WARNING, code, message, span, hint, notes, label)


class DiagnosticError(Exception):
    """Raised by the API (not by the stages) when a program has errors."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        from .render import render_all
        super().__init__(render_all(diagnostics, color=False))

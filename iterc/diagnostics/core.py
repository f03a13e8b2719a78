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


class Edit(ValueRecord):
    """Replace the text of `span` (empty for an insertion) with `text`."""
    __slots__ = ("span", "text")
    span: Span
    text: str

    def __init__(self, span, text):
        self.span = span
        self.text = text


class Fix(ValueRecord):
    """A change the checker is sure enough of to offer as a one-click fix (editors show it
    as a code action): a title and the edits, all in one file."""
    __slots__ = ("title", "edits")
    title: str
    edits: tuple

    def __init__(self, title, edits):
        self.title = title
        self.edits = edits


class Suggestion(str):
    """A hint that proposes a name: "did you mean `lr`?" as text, plus the misspelled and the
    proposed name as data. A diagnostic made with one gets a Fix that replaces the name."""

    def __new__(cls, text: str, wrong: str, right: str):
        obj = super().__new__(cls, text)
        obj.wrong, obj.right = wrong, right
        return obj


class Diagnostic(ValueRecord):
    """Immutable by convention (`dataclasses.replace` makes a changed copy)."""

    __slots__ = ("code", "severity", "message", "span", "hint", "notes", "label", "fix")
    code: str
    severity: Severity
    message: str
    span: Optional[Span]
    hint: Optional[str]
    notes: tuple[Note, ...]
    label: Optional[str]             # short text printed after the underline
    fix: Optional[Fix]               # a sure fix, for editors; the hint says it in words

    def __init__(self, code, severity, message, span, hint=None, notes=(), label=None, fix=None):
        self.code = code
        self.severity = severity
        self.message = message
        self.span = span
        self.hint = hint
        self.notes = notes
        self.label = label
        self.fix = fix

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple:
        if self.span is None:
            return ("", -1, self.code)
        return (self.span.source.path, self.span.start, self.code)


def _rename_fix(span: Optional[Span], s: Suggestion) -> Optional[Fix]:
    """Replace the misspelled name where the diagnostic points (the span is the name itself,
    or a line that holds it, like `use optim.adamm`)."""
    if span is None or not s.wrong:
        return None
    at = 0 if span.text == s.wrong else span.text.find(s.wrong)
    if at < 0:
        return None
    start = span.start + at
    return Fix(f"replace `{s.wrong}` with `{s.right}`",
               (Edit(Span(span.source, start, start + len(s.wrong)), s.right),))


def _make(severity: Severity, code: str, message: str, span: Optional[Span],
          hint: Optional[str], notes, label: Optional[str], fix: Optional[Fix]) -> Diagnostic:
    assert code in CODES, f"unregistered diagnostic code {code}"
    if isinstance(hint, Suggestion):
        if fix is None:
            fix = _rename_fix(span, hint)
        hint = str(hint)
    return Diagnostic(code, severity, message, span, hint, tuple(notes or ()), label, fix)


def error(code: str, message: str, span: Optional[Span], *, hint: Optional[str] = None,
          notes=(), label: Optional[str] = None, fix: Optional[Fix] = None) -> Diagnostic:
    return _make(Severity.ERROR, code, message, span, hint, notes, label, fix)


def warning(code: str, message: str, span: Optional[Span], *, hint: Optional[str] = None,
            notes=(), label: Optional[str] = None, fix: Optional[Fix] = None) -> Diagnostic:
    return _make(Severity.WARNING, code, message, span, hint, notes, label, fix)


class DiagnosticError(Exception):
    """Raised by the API (not by the stages) when a program has errors."""

    def __init__(self, diagnostics: list[Diagnostic]):
        self.diagnostics = diagnostics
        from .render import render_all
        super().__init__(render_all(diagnostics, color=False))

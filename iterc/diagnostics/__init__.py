"""Diagnostics are data: a stable code, a message, a span, a hint and notes.

Every stage reports through `Diagnostic`; only internal bugs raise. `render` prints them
like rustc: `error[E0201]: message`, `--> file:line:col`, the source line, a caret
underline of the span, then `= hint: ...`.
"""
from .core import Diagnostic, DiagnosticError, Edit, Fix, Note, Severity, Suggestion, error, warning
from .render import render, render_all, to_json
from .codes import CODES

__all__ = [
    "CODES", "Diagnostic", "DiagnosticError", "Edit", "Fix", "Note", "Severity", "Suggestion", "error", "warning",
    "render", "render_all", "to_json",
]

"""Render diagnostics as text (rustc/Elm style) or as JSON for tools."""
from __future__ import annotations

from typing import Iterable

from .core import Diagnostic, Severity

_MAX_LINE = 100          # show at most this many columns of a long source line

_COLORS = {"error": "\x1b[1;31m", "warning": "\x1b[1;33m", "blue": "\x1b[1;34m",
           "bold": "\x1b[1m", "reset": "\x1b[0m"}


def _printable(ch: str) -> str:
    """Control and other invisible characters are shown escaped so a line never breaks a terminal."""
    if ch == "\t":
        return " "
    if ch.isprintable() and (ch.isascii() or _category(ch) not in ("Cf", "Zl", "Zp")):
        return ch
    return "?"


def _category(ch: str) -> str:
    import unicodedata                      # only for non-ASCII source lines
    return unicodedata.category(ch)


def _window(line: str, col0: int, width: int) -> tuple[str, int, int]:
    """Cut a long line around the span: returns (shown text, caret start, caret width)."""
    if len(line) <= _MAX_LINE:
        return line, col0, width
    start = max(0, col0 - 40)
    end = min(len(line), start + _MAX_LINE)
    shown = ("..." if start else "") + line[start:end] + ("..." if end < len(line) else "")
    shift = (3 if start else 0) - start
    return shown, col0 + shift, max(1, min(width, end - col0))


def render(d: Diagnostic, color: bool = False) -> str:
    c = _COLORS if color else {k: "" for k in _COLORS}
    sev = d.severity.value
    out = [f"{c[sev]}{sev}[{d.code}]{c['reset']}{c['bold']}: {d.message}{c['reset']}"]
    pad = " "
    if d.span is not None:
        src = d.span.source
        line, col = src.line_col(d.span.start)
        out.append(f"{' ' * len(str(line))}{c['blue']}-->{c['reset']} {src.path}:{line}:{col}")
        text = src.line_text(line) if src.text else ""
        end_line, end_col = src.line_col(max(d.span.start, d.span.end))
        width = (end_col - col) if end_line == line else len(text) - col + 1
        width = max(1, width)
        shown, caret_col, width = _window(text, col - 1, width)
        shown = "".join(_printable(ch) for ch in shown)
        gutter = " " * len(str(line))
        pad = gutter + " "
        out.append(f"{gutter} {c['blue']}|{c['reset']}")
        out.append(f"{c['blue']}{line} |{c['reset']} {shown}")
        label = f" {d.label}" if d.label else ""
        out.append(f"{gutter} {c['blue']}|{c['reset']} {' ' * caret_col}{c[sev]}{'^' * width}{label}{c['reset']}")
    for note in d.notes:
        if note.span is not None:
            nline, ncol = note.span.source.line_col(note.span.start)
            out.append(f"{pad}= note: {note.message} ({note.span.source.path}:{nline}:{ncol})")
        else:
            out.append(f"{pad}= note: {note.message}")
    if d.hint:
        out.append(f"{pad}= hint: {d.hint}")
    return "\n".join(out)


def render_all(diags: Iterable[Diagnostic], color: bool = False) -> str:
    diags = list(diags)
    parts = [render(d, color) for d in diags]
    n_err = sum(d.severity is Severity.ERROR for d in diags)
    n_warn = len(diags) - n_err
    if n_err or n_warn:
        summary = []
        if n_err:
            summary.append(f"{n_err} error{'s' if n_err != 1 else ''}")
        if n_warn:
            summary.append(f"{n_warn} warning{'s' if n_warn != 1 else ''}")
        parts.append(", ".join(summary))
    return "\n\n".join(parts[:-1]) + ("\n\n" if len(parts) > 1 else "") + parts[-1] if parts else ""


def _place(span) -> dict:
    src = span.source
    line, col = src.line_col(span.start)
    end_line, end_col = src.line_col(span.end)
    return {"file": src.path, "line": line, "column": col, "end_line": end_line, "end_column": end_col}


def to_json(diags: Iterable[Diagnostic]) -> str:
    """One object per diagnostic: code, severity, message, hint, place (file, line, column,
    end_line, end_column; 1-based, end exclusive) and notes, each with its place if it has one."""
    import json

    rows = []
    for d in diags:
        notes = [{"message": n.message, **(_place(n.span) if n.span is not None else {})} for n in d.notes]
        row = {"code": d.code, "severity": d.severity.value, "message": d.message, "hint": d.hint, "notes": notes}
        if d.span is not None:
            row.update(_place(d.span))
        rows.append(row)
    return json.dumps(rows, indent=2)

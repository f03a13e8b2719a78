"""More than one syntax error per file, without cascades.

The first error comes from parsing the whole file and is exact. After it, every other
top-level item (use, def, method) is parsed alone, and so is every member of a method that
fails: the rest of the file is blanked out (each character a space, newlines kept) so
that positions stay exact. Each piece that fails on its own reports its first error.
An error caused by a line outside a piece (an unclosed bracket above it) cannot leak into
that piece, so what is reported is real.
"""
from __future__ import annotations

from typing import Callable, Optional

import dataclasses

from ..diagnostics import Diagnostic, Note
from .source import Source, Span

MAX_ERRORS = 20
_TOP_WORDS = ("use", "def", "optimizer", "solver")


def _is_code(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _groups(lines: list[str], lo: int, hi: int, width: int, skip: set[int]) -> list[tuple[int, int]]:
    """Line ranges [start, end) in lines[lo:hi] that begin at indentation `width` (outside strings)."""
    starts = [i for i in range(lo, hi) if _is_code(lines[i]) and _indent(lines[i]) == width and i not in skip]
    return [(s, (starts[k + 1] if k + 1 < len(starts) else hi)) for k, s in enumerate(starts)]


def _inside_string(lines: list[str]) -> set[int]:
    """Lines that lie inside a triple-quoted string (a docstring's later lines)."""
    inside, out = False, set()
    for i, line in enumerate(lines):
        if inside:
            out.add(i)
        if line.count('"""') % 2 == 1:
            inside = not inside
    return out


def top_level_items(lines: list[str], in_string: Optional[set[int]] = None) -> list[tuple[int, int]]:
    """Line ranges [start, end) of the top-level items (`use`, `def`, methods): each starts
    at a line in the first column that begins with one of those words."""
    in_string = _inside_string(lines) if in_string is None else in_string
    tops = [i for i in range(len(lines)) if _is_code(lines[i]) and _indent(lines[i]) == 0
            and i not in in_string and lines[i].split()[0] in _TOP_WORDS]
    return [(s, tops[k + 1] if k + 1 < len(tops) else len(lines)) for k, s in enumerate(tops)]


def _blank_except(lines: list[str], keep: list[tuple[int, int]]) -> str:
    kept = set()
    for s, e in keep:
        kept.update(range(s, e))
    return "\n".join(line if i in kept else " " * len(line) for i, line in enumerate(lines))


def more_syntax_errors(source: Source, first: Diagnostic,
                       parse_alone: Callable[[Source], list[Diagnostic]]) -> list[Diagnostic]:
    lines = source.text.split("\n")
    if first.span is None or "\t" in source.text:
        return []
    first_line = source.line_col(first.span.start)[0] - 1
    in_string = _inside_string(lines)
    items = top_level_items(lines, in_string)
    found: list[Diagnostic] = []
    seen = {(first.code, first.span.start)}

    def attempt(keep: list[tuple[int, int]]) -> Optional[Diagnostic]:
        diags = parse_alone(Source(source.path, _blank_except(lines, keep)))
        return _reanchor(diags[0], source) if diags else None

    for start, end in items:
        if len(found) >= MAX_ERRORS:
            break
        holds_first = start <= first_line < end
        if not holds_first:
            d = attempt([(start, end)])
            if d is None:
                continue
        # a failing method: try each member on its own, under the method's header
        body = [i for i in range(start + 1, end) if _is_code(lines[i]) and i not in in_string]
        if not body or not lines[start].rstrip().endswith(":") or lines[start].split()[0] not in ("optimizer", "solver"):
            if not holds_first and d is not None and (d.code, d.span.start) not in seen:
                seen.add((d.code, d.span.start))
                found.append(d)
            continue
        width = _indent(lines[body[0]])
        header = (start, body[0])
        members = _groups(lines, body[0], end, width, in_string)
        docstring = members and lines[members[0][0]].strip().startswith('"')
        if docstring:
            header = (start, members[0][1])
            members = members[1:]
        for s, e in members:
            if s <= first_line < e or len(found) >= MAX_ERRORS:
                continue
            d = attempt([header, (s, e)])
            if d is not None and d.span is not None and s <= source.line_col(d.span.start)[0] - 1 < e \
                    and (d.code, d.span.start) not in seen:
                seen.add((d.code, d.span.start))
                found.append(d)
    return found


def _reanchor(d: Diagnostic, source: Source) -> Diagnostic:
    """The same offsets, in the original text (the piece was parsed from a blanked copy)."""
    def move(span):
        return None if span is None else Span(source, span.start, span.end)
    notes = tuple(Note(n.message, move(n.span)) for n in d.notes)
    return dataclasses.replace(d, span=move(d.span), notes=notes)

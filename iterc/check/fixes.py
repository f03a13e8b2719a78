"""Fixes the checker can offer as edits (editors show them as code actions), for the
diagnostics whose hint names one sure change: an axis to insert, a condition to add.
Did-you-mean renames come with the hint itself (`names.did_you_mean`)."""
from __future__ import annotations

from typing import Optional

from ..diagnostics import Diagnostic, Edit, Fix, Note, warning
from ..syntax import ast
from ..syntax.source import Span
from ..types import LEAF, Type

_PRIMARY = (ast.Name, ast.Call, ast.Index, ast.Attr, ast.Num, ast.Bool)


def _wrapped(node) -> str:
    text = node.span.text
    return text if isinstance(node, _PRIMARY) else f"({text})"


def axis_fix(operands, types: list[Type]) -> Optional[Fix]:
    """For two operands whose shapes do not broadcast: the one edit that makes them fit, when
    there is exactly one obvious edit — a vector against a matrix that shares its first
    dimension gets `[:, None]`; a matrix against its transpose's shape gets `.T`."""
    if len(operands) != 2 or any(t.shape == LEAF for t in types):
        return None
    (a, b), (ta, tb) = operands, types
    for vec, tv, mat, tm in ((a, ta, b, tb), (b, tb, a, ta)):
        if len(tv.shape) == 1 and len(tm.shape) == 2 and tv.shape[0] == tm.shape[0] != tm.shape[1]:
            return Fix(f"insert an axis: `{_wrapped(vec)}[:, None]`",
                       (Edit(vec.span, f"{_wrapped(vec)}[:, None]"),))
    if len(ta.shape) == 2 and ta.shape == tuple(reversed(tb.shape)) and ta.shape[0] != ta.shape[1]:
        return Fix(f"transpose `{_wrapped(b)}`", (Edit(b.span, f"{_wrapped(b)}.T"),))
    return None


def _mentions(node, name: str) -> bool:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name) and n.id == name:
            return True
        for field in ("operand", "left", "right", "value", "func"):
            child = getattr(n, field, None)
            if child is not None and hasattr(child, "span"):
                stack.append(child)
        for field in ("args", "operands"):
            stack.extend(getattr(n, field, ()) or ())
    return False


def unguarded_period(period, hyper: Optional[ast.Hyper]) -> Optional[Diagnostic]:
    """W0007: `every k` with an int hyper `k` that no condition keeps at 1 or more (k = 0
    would divide by zero when the step runs). The fix adds `where k >= 1`."""
    if hyper is None or hyper.interval is not None or any(_mentions(c, hyper.name.name) for c in hyper.where):
        return None
    name = hyper.name.name
    at = Span(hyper.span.source, hyper.span.end, hyper.span.end)
    text = f", {name} >= 1" if hyper.where else f" where {name} >= 1"
    return warning("W0007", f"the period `{name}` of `every` may be 0: hyper `{name}` has no condition",
                   period.span, hint=f"add `where {name} >= 1` to `hyper {name}`",
                   notes=[Note(f"`{name}` is declared here", hyper.name.span)],
                   fix=Fix(f"add `where {name} >= 1` to `hyper {name}`", (Edit(at, text),)))

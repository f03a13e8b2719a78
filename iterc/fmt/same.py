"""Structural equality of two ASTs, ignoring where things are (spans).

`iterc fmt` checks every result with this before it writes a file: formatting must not
change what a program means. The walk is iterative because a flat chain like
`a + b + ... ` parses to a left spine of any length.
"""
from __future__ import annotations

from ..syntax import ast

_POSITION_FIELDS = frozenset({"span", "op_span"})
_FIELDS: dict[type, tuple[str, ...]] = {}


def _fields(cls: type) -> tuple[str, ...]:
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(f for f in cls._fields if f not in _POSITION_FIELDS)
        _FIELDS[cls] = names
    return names


def _path(link) -> str:
    parts = []
    while link is not None:
        link, name = link
        parts.append(name)
    return "".join(reversed(parts))


def first_difference(a, b, *, comments: bool = True):
    """None when the two trees are equal modulo spans (and, for modules, when their
    comment texts match in order); else a short description of the first difference.
    Paths are kept as (parent, step) links and spelled out only for the answer."""
    stack = [(a, b, (None, "module"))]
    while stack:
        x, y, link = stack.pop()
        if type(x) is not type(y):
            return f"{_path(link)}: {type(x).__name__} != {type(y).__name__}"
        if isinstance(x, ast.Module) and not comments:
            x = ast.Module(x.uses, x.defs, x.methods, (), x.span)
            y = ast.Module(y.uses, y.defs, y.methods, (), y.span)
        if isinstance(x, ast.Comment):
            if x.text.rstrip() != y.text.rstrip():
                return f"{_path(link)}: comment {x.text!r} != {y.text!r}"
        elif isinstance(x, ast.Node):
            for name in _fields(type(x)):
                stack.append((getattr(x, name), getattr(y, name), (link, "." + name)))
        elif isinstance(x, (tuple, list)):
            if len(x) != len(y):
                return f"{_path(link)}: {len(x)} items != {len(y)}"
            stack.extend((p, q, (link, f"[{i}]")) for i, (p, q) in enumerate(zip(x, y)))
        elif isinstance(x, float) and x != x:
            if y == y:
                return f"{_path(link)}: {x!r} != {y!r}"
        elif x != y:
            return f"{_path(link)}: {x!r} != {y!r}"
    return None


def same_program(a, b, *, comments: bool = True) -> bool:
    return first_difference(a, b, comments=comments) is None

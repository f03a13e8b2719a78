"""Checks of a `def` on its own, before any call: its names.

A def is generic in its argument types, so its body is typed at each call site (see
ExprChecker._expand). Names do not depend on types, so they are checked here once, and a
def that is never called is still checked.
"""
from __future__ import annotations

from ..builtins import lookup
from ..diagnostics import Diagnostic, error
from ..syntax import ast
from .names import did_you_mean, reserved_reason, unknown_function_hint


def _children(node):
    if isinstance(node, ast.Unary):
        return (node.operand,)
    if isinstance(node, ast.Binary):
        return (node.left, node.right)
    if isinstance(node, ast.Compare):
        return node.operands
    if isinstance(node, ast.Call):
        func = () if isinstance(node.func, ast.Name) else (node.func,)
        return func + node.args + tuple(k.value for k in node.kwargs)
    if isinstance(node, ast.Index):
        return (node.value,) + tuple(i for i in node.items if not isinstance(i, (ast.FullSlice, ast.NewAxis)))
    if isinstance(node, ast.Attr):
        return (node.value,)
    return ()


def check_def_names(d: ast.Def, defs: dict, aliases: dict, diags: list[Diagnostic]) -> None:
    visible = [p.name for p in d.params]
    for let in d.lets:
        _check_expr(let.value, visible, defs, aliases, diags)
        why = reserved_reason(let.name.name)
        if why:
            diags.append(error("E0103", f"`{let.name.name}` cannot be used as a name: {why}", let.name.span,
                               hint="choose another name"))
        visible.append(let.name.name)
    _check_expr(d.result, visible, defs, aliases, diags)


def _check_expr(node, visible: list[str], defs, aliases, diags) -> None:
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Name) and n.id not in visible:
            diags.append(error("E0101", f"undefined name `{n.id}`", n.span,
                               hint=did_you_mean(n.id, visible) or
                               "a def sees only its parameters and its own `let`s"))
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
            name = n.func.id
            if name not in defs and lookup(name) is None and name not in visible:
                candidates = list(defs) + [name for name in _callable_names()]
                diags.append(error("E0116", f"unknown function `{name}`", n.func.span,
                                   hint=unknown_function_hint(name, candidates)))
        stack.extend(_children(n))


def _callable_names():
    from ..builtins import REGISTRY
    return [n for n, e in REGISTRY.items() if e.callable]

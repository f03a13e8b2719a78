"""Evaluate constant scalar expressions (defaults and conditions) at compile time, when possible."""
from __future__ import annotations

import math
import operator
from typing import Any

from ..syntax import ast

_BIN = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "%": operator.mod,
        "^": operator.pow, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
        "==": operator.eq, "!=": operator.ne}
_FUN = {"sqrt": math.sqrt, "exp": math.exp, "log": math.log, "cos": math.cos, "abs": abs, "min": min, "max": max}


def const_eval(node, env: dict[str, Any]) -> Any:
    """The value of `node` if it is decidable from literals and `env`, else None."""
    try:
        return _eval(node, env)
    except Exception:        # division by zero, domain errors: not decidable here
        return None


def _eval(node, env):
    if isinstance(node, ast.Num):
        return node.value
    if isinstance(node, ast.Bool):
        return node.value
    if isinstance(node, ast.Name):
        return env.get(node.id)
    if isinstance(node, ast.Unary):
        v = _eval(node.operand, env)
        if v is None:
            return None
        return (not v) if node.op == "not" else (-v if node.op == "-" else v)
    if isinstance(node, ast.Binary):
        a = _eval(node.left, env)
        if node.op in ("and", "or"):
            if a is None:
                return None
            if node.op == "and" and a is False:
                return False
            if node.op == "or" and a is True:
                return True
            return _eval(node.right, env)
        b = _eval(node.right, env)
        if a is None or b is None:
            return None
        if node.op == "/" and b == 0:
            return None
        return _BIN[node.op](a, b)
    if isinstance(node, ast.Compare):
        values = [_eval(o, env) for o in node.operands]
        if any(v is None for v in values):
            return None
        return all(_BIN[op](values[i], values[i + 1]) for i, op in enumerate(node.ops))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUN and not node.kwargs:
        args = [_eval(a, env) for a in node.args]
        if any(a is None for a in args):
            return None
        return _FUN[node.func.id](*args)
    return None

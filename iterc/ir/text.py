"""`.iter` text of an expression rebuilt from the AST: hyper conditions quoted in errors."""
from __future__ import annotations

from ..syntax import ast


_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "@": 6, "%": 6, "neg": 7, "^": 8}


def _prec(node) -> int:
    if isinstance(node, ast.Binary):
        return _PREC[node.op]
    if isinstance(node, ast.Compare):
        return _PREC["cmp"]
    if isinstance(node, ast.Unary):
        return _PREC["not"] if node.op == "not" else _PREC["neg"]
    return 9


def canonical(node) -> str:
    """A condition as .iter text, rebuilt from the AST: identifiers, numbers and operators only."""
    if isinstance(node, ast.Num):
        if node.value == float("inf"):
            return "inf"
        return repr(node.value)
    if isinstance(node, ast.Bool):
        return "true" if node.value else "false"
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Unary):
        sep = " " if node.op == "not" else ""
        return f"{node.op}{sep}{_wrap(node.operand, _prec(node))}"
    if isinstance(node, ast.Binary):
        p = _prec(node)
        right_assoc = node.op == "^"
        return f"{_wrap(node.left, p + (1 if right_assoc else 0))} {node.op} {_wrap(node.right, p + (0 if right_assoc else 1))}"
    if isinstance(node, ast.Compare):
        parts = [_wrap(node.operands[0], 5)]
        for op, o in zip(node.ops, node.operands[1:]):
            parts += [op, _wrap(o, 5)]
        return " ".join(parts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [canonical(a) for a in node.args] + [f"{k.name.name}={canonical(k.value)}" for k in node.kwargs]
        return f"{node.func.id}({', '.join(args)})"
    return "<expr>"


def _wrap(node, min_prec: int) -> str:
    text = canonical(node)
    return f"({text})" if _prec(node) < min_prec else text



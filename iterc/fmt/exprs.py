"""Expressions -> canonical text, with the fewest parentheses the grammar needs.

Precedence, lowest to highest (grammar/iter.lark): `or`, `and`, `not`, comparisons
(one chain, never nested without parentheses), `+ -`, `* / @ %`, unary `- +`, `^`
(right-associative; its left side is a postfix expression, its right side a unary one,
so `-x ^ 2` is `-(x ^ 2)` and `2 ^ -k` needs no parentheses), then call, index and
attribute. One deliberate extra pair, for the reader: an `and` inside an `or` keeps its
parentheses (`a or (b and c)`). A sign inside a sign is spaced (`- -x`). Numbers print
as the user wrote them (`1e-3` stays `1e-3`).

Long flat chains (`a + b + c + ...`) are printed without recursion: the parser builds
them as one left-leaning spine of any length, while every other kind of nesting is
bounded by the parser's depth limit.
"""
from __future__ import annotations

import re

from ..syntax import ast

OR, AND, NOT, COMPARE, ADD, MUL, UNARY, POWER, POSTFIX, ATOM = range(1, 11)

BINARY_PRECEDENCE = {"or": OR, "and": AND, "+": ADD, "-": ADD,
                     "*": MUL, "/": MUL, "@": MUL, "%": MUL, "^": POWER}

# Set to False to get strictly minimal parentheses (when the extra ones would nest
# brackets past the parser's limit).
clarity_parentheses = True

_NUMBER = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?|\.\d+([eE][+-]?\d+)?|inf")


def precedence(e) -> int:
    kind = type(e)
    if kind is ast.Binary:
        return BINARY_PRECEDENCE[e.op]
    if kind is ast.Unary:
        return NOT if e.op == "not" else UNARY
    if kind is ast.Compare:
        return COMPARE
    if kind in (ast.Call, ast.Index, ast.Attr):
        return POSTFIX
    return ATOM


def quote(value: str) -> str:
    """A string literal whose value is `value`. Strings have no escapes: a value with a
    quote or a newline (only a triple-quoted literal can hold one) is triple-quoted."""
    if '"' in value or "\n" in value:
        return '"""' + value + '"""'
    return '"' + value + '"'


def number(n: ast.Num) -> str:
    written = n.span.text if n.span is not None else ""
    if _NUMBER.fullmatch(written):
        return written
    if n.value == float("inf"):
        return "inf"
    return repr(n.value)


def expr(e) -> str:
    """Canonical text of an expression (no surrounding parentheses)."""
    kind = type(e)
    if kind is ast.Name:
        return e.id
    if kind is ast.Num:
        return number(e)
    if kind is ast.Bool:
        return "true" if e.value else "false"
    if kind is ast.Str:
        return quote(e.value)
    if kind is ast.Binary:
        return _binary(e)
    if kind is ast.Unary:
        if e.op == "not":
            return "not " + _operand(e.operand, NOT)
        inner = _operand(e.operand, UNARY)
        if type(e.operand) is ast.Unary and e.operand.op != "not":
            return e.op + " " + inner          # `- -x`, not `--x`
        return e.op + inner
    if kind is ast.Compare:
        parts = [_operand(e.operands[0], ADD)]
        for op, right in zip(e.ops, e.operands[1:]):
            parts.append(op)
            parts.append(_operand(right, ADD))
        return " ".join(parts)
    if kind is ast.Call:
        args = [expr(a) for a in e.args] + [keyword(k) for k in e.kwargs]
        return _operand(e.func, POSTFIX) + "(" + ", ".join(args) + ")"
    if kind is ast.Index:
        return _operand(e.value, POSTFIX) + "[" + ", ".join(index_item(i) for i in e.items) + "]"
    if kind is ast.Attr:
        return _operand(e.value, POSTFIX) + "." + e.attr.name
    if kind is ast.Keyword:
        return keyword(e)
    raise TypeError(f"not an expression: {type(e).__name__}")


def keyword(k: ast.Keyword) -> str:
    return f"{k.name.name}={expr(k.value)}"


def arg(a) -> str:
    """One entry of an argument list that keeps keywords in place (domains, facts, oracles)."""
    return keyword(a) if type(a) is ast.Keyword else expr(a)


def index_item(item) -> str:
    if type(item) is ast.FullSlice:
        return ":"
    if type(item) is ast.NewAxis:
        return "None"
    return expr(item)


def _operand(e, needed: int) -> str:
    text = expr(e)
    return "(" + text + ")" if precedence(e) < needed else text


def _binary(e: ast.Binary) -> str:
    if e.op == "^":
        return _operand(e.left, POSTFIX) + " ^ " + _operand(e.right, UNARY)
    level = BINARY_PRECEDENCE[e.op]
    rights = []
    node = e
    while type(node) is ast.Binary and node.op != "^" and BINARY_PRECEDENCE[node.op] == level:
        rights.append((node.op, node.right))
        node = node.left
    # `a or (b and c)` keeps its parentheses: the one place where readers misjudge the
    # precedence, and the stdlib writes it that way.
    need = AND + 1 if level == OR and clarity_parentheses else None
    parts = [_operand(node, need or level)]
    for op, right in reversed(rights):
        parts.append(op)
        parts.append(_operand(right, need or level + 1))
    return " ".join(parts)

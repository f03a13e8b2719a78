"""The `.iter` abstract syntax tree.

Every node is a frozen, slotted dataclass with a `span`. Names that the user wrote are
`Ident`s so that a diagnostic can point at the name itself, not the whole statement.
Vocabulary: a *member* is a line of a method (hyper, param, state, step, ...); a *stmt*
is a line inside a step block.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

from .source import Span


@dataclass(frozen=True, slots=True)
class Ident:
    name: str
    span: Span


# ------------------------------------------------------------------ expressions

@dataclass(frozen=True, slots=True)
class Num:
    value: Union[int, float]
    is_int: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    span: Span


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    span: Span


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    span: Span


@dataclass(frozen=True, slots=True)
class Unary:
    op: str                      # "-", "+", "not"
    operand: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class Binary:
    op: str                      # + - * / @ % ^ and or
    left: "Expr"
    right: "Expr"
    op_span: Span
    span: Span


@dataclass(frozen=True, slots=True)
class Compare:
    """A comparison chain: `0 <= beta < 1` has ops ("<=", "<") and three operands."""

    ops: tuple[str, ...]
    operands: tuple["Expr", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Keyword:
    name: Ident
    value: "Expr"
    span: Span


@dataclass(frozen=True, slots=True)
class Call:
    func: "Expr"
    args: tuple["Expr", ...]
    kwargs: tuple[Keyword, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class FullSlice:
    span: Span


@dataclass(frozen=True, slots=True)
class NewAxis:
    span: Span


IndexItem = Union["Expr", FullSlice, NewAxis]


@dataclass(frozen=True, slots=True)
class Index:
    value: "Expr"
    items: tuple[IndexItem, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Attr:
    value: "Expr"
    attr: Ident
    span: Span


Expr = Union[Num, Bool, Str, Name, Unary, Binary, Compare, Call, Index, Attr]


# ------------------------------------------------------------------ types

@dataclass(frozen=True, slots=True)
class TypeExpr:
    """`real`, `int`, `f32[...]`, `real[m, n]`. `dims` is None for a scalar,
    the string "..." for any shape, else a tuple of Ident (symbolic) or Num (static)."""

    elem: Ident
    dims: Union[None, str, tuple[Union[Ident, Num], ...]]
    span: Span


@dataclass(frozen=True, slots=True)
class Domain:
    name: Ident
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Interval:
    lo: Expr
    hi: Expr
    lo_closed: bool
    hi_closed: bool
    span: Span


# ------------------------------------------------------------------ statements (in a step)

@dataclass(frozen=True, slots=True)
class Assign:
    target: Ident
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Let:
    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class VarDecl:
    """`var X = e`: a step-local value that later statements may rebind with `<-` (a loop
    variable: carried by the regions that rebind it, never stored in the state)."""
    name: Ident
    value: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Every:
    period: Expr
    body: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class If:
    cond: Expr
    body: tuple["Stmt", ...]
    orelse: tuple["Stmt", ...]       # `elif` is a nested If here
    span: Span


@dataclass(frozen=True, slots=True)
class For:
    var: Ident
    lo: Expr
    hi: Expr                         # inclusive: `for i in 1..K` runs K times
    body: tuple["Stmt", ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Repeat:
    body: tuple["Stmt", ...]
    until: Expr
    max_iter: Expr
    span: Span


Stmt = Union[Assign, Let, VarDecl, Every, If, For, Repeat]


# ------------------------------------------------------------------ method members

@dataclass(frozen=True, slots=True)
class Hyper:
    name: Ident
    type: TypeExpr
    interval: Optional[Interval]
    default: Optional[Expr]
    where: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Param:
    name: Ident
    type: TypeExpr
    domain: Optional[Domain]
    span: Span


@dataclass(frozen=True, slots=True)
class Input:
    name: Ident
    type: TypeExpr
    domain: Optional[Domain]
    span: Span


@dataclass(frozen=True, slots=True)
class State:
    name: Ident
    type: TypeExpr
    domain: Optional[Domain]
    init: Optional[Expr]
    span: Span
    shared: bool = False             # `shared state`: one value for the whole parameter tree


@dataclass(frozen=True, slots=True)
class Oracle:
    name: Ident
    kind: Ident                      # grad, value, hvp, hess_diag, rand_normal
    args: tuple[Expr, ...]
    every: Optional[Expr]
    span: Span


@dataclass(frozen=True, slots=True)
class Dims:
    names: tuple[Ident, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Output:
    names: tuple[Ident, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Step:
    counter: Optional[Ident]         # `step t:` names the step number, 1 on the first step
    body: tuple[Stmt, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Until:
    cond: Expr
    max_iter: Optional[Expr]
    span: Span


@dataclass(frozen=True, slots=True)
class Fact:
    name: Ident
    args: tuple[Expr, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Assume:
    subject: Ident
    facts: tuple[Fact, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Converges:
    kind: str                        # heuristic | fixed_point-style "to" | linear | sublinear | rate
    target: Optional[Ident]          # for `converges to NAME`
    rate: Optional[Expr]             # for `converges rate R`
    on: Optional[Expr]               # for `converges rate R on Q`
    cite: Optional[str]
    span: Span


@dataclass(frozen=True, slots=True)
class Rule:
    """`rule for x: real[m, n] as matrix:` with its own states and step, or `rule otherwise =
    adamw(lr=adam_lr)`, a delegation: the leaves whose shape fits the pattern go to another
    optimizer, its hypers given by the keywords (expressions of this method's hypers)."""
    var: Optional[Ident]             # the param's name in `for x: ...`; None for `otherwise`
    type: Optional[TypeExpr]         # the pattern; None for `otherwise`
    matrix: bool                     # `as matrix`: rank >= 2 leaves, viewed as [shape[0], rest]
    members: tuple["Member", ...]    # states and the step (empty for a delegation)
    delegate: Optional[Call]         # `= adamw(lr=adam_lr)`: func is a Name
    span: Span


Member = Union[Hyper, Param, Input, State, Oracle, Dims, Output, Step, Until, Assume, Converges, Let, Rule]


@dataclass(frozen=True, slots=True)
class Method:
    kind: str                        # "optimizer" | "solver"
    name: Ident
    doc: Optional[str]
    members: tuple[Member, ...]
    span: Span


@dataclass(frozen=True, slots=True)
class Def:
    name: Ident
    params: tuple[Ident, ...]
    doc: Optional[str]
    lets: tuple[Let, ...]
    result: Expr
    span: Span


@dataclass(frozen=True, slots=True)
class Use:
    path: tuple[Ident, ...]          # `use prox.l1` -> (prox, l1); empty for a file path
    file: Optional[str]              # `use "local.iter"`
    alias: Optional[Ident]
    span: Span


@dataclass(frozen=True, slots=True)
class Comment:
    text: str                        # without the leading '#'
    span: Span


@dataclass(frozen=True, slots=True)
class Module:
    uses: tuple[Use, ...]
    defs: tuple[Def, ...]
    methods: tuple[Method, ...]
    comments: tuple[Comment, ...]    # kept for `iterc fmt`
    span: Span

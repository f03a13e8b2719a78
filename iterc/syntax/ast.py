"""The `.iter` abstract syntax tree.

Every node is a slotted record with a `span`, built once by the parser and not changed
afterwards. Nodes compare and hash by value and print like the frozen dataclasses they
once were (`Name(id='x', span=<main.iter:3:5>)`); `dataclasses.fields`, `replace`,
`is_dataclass` and `asdict` work on them (see iterc/_records.py, which says why they are
written out by hand). Names that the user wrote are `Ident`s so that a diagnostic can
point at the name itself, not the whole statement. Vocabulary: a *member* is a line of a
method (hyper, param, state, step, ...); a *stmt* is a line inside a step block.
"""
from __future__ import annotations

from typing import Optional, Union

from .._records import ValueRecord
from .source import Span


class Node(ValueRecord):
    """Base of the AST nodes: the fields are the `__slots__`, in order."""

    __slots__ = ()


class Ident(Node):
    __slots__ = ("name", "span")
    name: str
    span: Span

    def __init__(self, name, span):
        self.name = name
        self.span = span


# ------------------------------------------------------------------ expressions

class Num(Node):
    __slots__ = ("value", "is_int", "span")
    value: Union[int, float]
    is_int: bool
    span: Span

    def __init__(self, value, is_int, span):
        self.value = value
        self.is_int = is_int
        self.span = span


class Bool(Node):
    __slots__ = ("value", "span")
    value: bool
    span: Span

    def __init__(self, value, span):
        self.value = value
        self.span = span


class Str(Node):
    __slots__ = ("value", "span")
    value: str
    span: Span

    def __init__(self, value, span):
        self.value = value
        self.span = span


class Name(Node):
    __slots__ = ("id", "span")
    id: str
    span: Span

    def __init__(self, id, span):
        self.id = id
        self.span = span


class Unary(Node):
    __slots__ = ("op", "operand", "span")
    op: str                      # "-", "+", "not"
    operand: Expr
    span: Span

    def __init__(self, op, operand, span):
        self.op = op
        self.operand = operand
        self.span = span


class Binary(Node):
    __slots__ = ("op", "left", "right", "op_span", "span")
    op: str                      # + - * / @ % ^ and or
    left: Expr
    right: Expr
    op_span: Span
    span: Span

    def __init__(self, op, left, right, op_span, span):
        self.op = op
        self.left = left
        self.right = right
        self.op_span = op_span
        self.span = span


class Compare(Node):
    """A comparison chain: `0 <= beta < 1` has ops ("<=", "<") and three operands."""

    __slots__ = ("ops", "operands", "span")
    ops: tuple[str, ...]
    operands: tuple[Expr, ...]
    span: Span

    def __init__(self, ops, operands, span):
        self.ops = ops
        self.operands = operands
        self.span = span


class Keyword(Node):
    __slots__ = ("name", "value", "span")
    name: Ident
    value: Expr
    span: Span

    def __init__(self, name, value, span):
        self.name = name
        self.value = value
        self.span = span


class Call(Node):
    __slots__ = ("func", "args", "kwargs", "span")
    func: Expr
    args: tuple[Expr, ...]
    kwargs: tuple[Keyword, ...]
    span: Span

    def __init__(self, func, args, kwargs, span):
        self.func = func
        self.args = args
        self.kwargs = kwargs
        self.span = span


class FullSlice(Node):
    __slots__ = ("span",)
    span: Span

    def __init__(self, span):
        self.span = span


class NewAxis(Node):
    __slots__ = ("span",)
    span: Span

    def __init__(self, span):
        self.span = span


IndexItem = Union["Expr", FullSlice, NewAxis]


class Index(Node):
    __slots__ = ("value", "items", "span")
    value: Expr
    items: tuple[IndexItem, ...]
    span: Span

    def __init__(self, value, items, span):
        self.value = value
        self.items = items
        self.span = span


class Attr(Node):
    __slots__ = ("value", "attr", "span")
    value: Expr
    attr: Ident
    span: Span

    def __init__(self, value, attr, span):
        self.value = value
        self.attr = attr
        self.span = span


Expr = Union[Num, Bool, Str, Name, Unary, Binary, Compare, Call, Index, Attr]


# ------------------------------------------------------------------ types

class TypeExpr(Node):
    """`real`, `int`, `f32[...]`, `real[m, n]`. `dims` is None for a scalar,
    the string "..." for any shape, else a tuple of Ident (symbolic) or Num (static)."""

    __slots__ = ("elem", "dims", "span")
    elem: Ident
    dims: Union[None, str, tuple[Union[Ident, Num], ...]]
    span: Span

    def __init__(self, elem, dims, span):
        self.elem = elem
        self.dims = dims
        self.span = span


class Domain(Node):
    __slots__ = ("name", "args", "span")
    name: Ident
    args: tuple[Expr, ...]
    span: Span

    def __init__(self, name, args, span):
        self.name = name
        self.args = args
        self.span = span


class Interval(Node):
    __slots__ = ("lo", "hi", "lo_closed", "hi_closed", "span")
    lo: Expr
    hi: Expr
    lo_closed: bool
    hi_closed: bool
    span: Span

    def __init__(self, lo, hi, lo_closed, hi_closed, span):
        self.lo = lo
        self.hi = hi
        self.lo_closed = lo_closed
        self.hi_closed = hi_closed
        self.span = span


# ------------------------------------------------------------------ statements (in a step)

class Assign(Node):
    __slots__ = ("target", "value", "span")
    target: Ident
    value: Expr
    span: Span

    def __init__(self, target, value, span):
        self.target = target
        self.value = value
        self.span = span


class Let(Node):
    __slots__ = ("name", "value", "span")
    name: Ident
    value: Expr
    span: Span

    def __init__(self, name, value, span):
        self.name = name
        self.value = value
        self.span = span


class LetTuple(Node):
    """`let w, V = eigh(A)`: the results of a builtin with several, one name each."""
    __slots__ = ("names", "value", "span")
    names: tuple[Ident, ...]
    value: Expr
    span: Span

    def __init__(self, names, value, span):
        self.names = names
        self.value = value
        self.span = span


class VarDecl(Node):
    """`var X = e`: a step-local value that later statements may rebind with `<-` (a loop
    variable: carried by the regions that rebind it, never stored in the state)."""
    __slots__ = ("name", "value", "span")
    name: Ident
    value: Expr
    span: Span

    def __init__(self, name, value, span):
        self.name = name
        self.value = value
        self.span = span


class Every(Node):
    __slots__ = ("period", "body", "span")
    period: Expr
    body: tuple[Stmt, ...]
    span: Span

    def __init__(self, period, body, span):
        self.period = period
        self.body = body
        self.span = span


class If(Node):
    __slots__ = ("cond", "body", "orelse", "span")
    cond: Expr
    body: tuple[Stmt, ...]
    orelse: tuple[Stmt, ...]     # `elif` is a nested If here
    span: Span

    def __init__(self, cond, body, orelse, span):
        self.cond = cond
        self.body = body
        self.orelse = orelse
        self.span = span


class For(Node):
    __slots__ = ("var", "lo", "hi", "body", "span")
    var: Ident
    lo: Expr
    hi: Expr                     # inclusive: `for i in 1..K` runs K times
    body: tuple[Stmt, ...]
    span: Span

    def __init__(self, var, lo, hi, body, span):
        self.var = var
        self.lo = lo
        self.hi = hi
        self.body = body
        self.span = span


class Repeat(Node):
    __slots__ = ("body", "until", "max_iter", "span")
    body: tuple[Stmt, ...]
    until: Expr
    max_iter: Expr
    span: Span

    def __init__(self, body, until, max_iter, span):
        self.body = body
        self.until = until
        self.max_iter = max_iter
        self.span = span


Stmt = Union[Assign, Let, LetTuple, VarDecl, Every, If, For, Repeat]


# ------------------------------------------------------------------ method members

class Hyper(Node):
    __slots__ = ("name", "type", "interval", "default", "where", "span")
    name: Ident
    type: TypeExpr
    interval: Optional[Interval]
    default: Optional[Expr]
    where: tuple[Expr, ...]
    span: Span

    def __init__(self, name, type, interval, default, where, span):
        self.name = name
        self.type = type
        self.interval = interval
        self.default = default
        self.where = where
        self.span = span


class Param(Node):
    __slots__ = ("name", "type", "domain", "span")
    name: Ident
    type: TypeExpr
    domain: Optional[Domain]
    span: Span

    def __init__(self, name, type, domain, span):
        self.name = name
        self.type = type
        self.domain = domain
        self.span = span


class Input(Node):
    __slots__ = ("name", "type", "domain", "span")
    name: Ident
    type: TypeExpr
    domain: Optional[Domain]
    span: Span

    def __init__(self, name, type, domain, span):
        self.name = name
        self.type = type
        self.domain = domain
        self.span = span


class State(Node):
    __slots__ = ("name", "type", "domain", "init", "span", "shared")
    name: Ident
    type: TypeExpr
    domain: Optional[Domain]
    init: Optional[Expr]
    span: Span
    shared: bool                     # `shared state`: one value for the whole parameter tree

    def __init__(self, name, type, domain, init, span, shared=False):
        self.name = name
        self.type = type
        self.domain = domain
        self.init = init
        self.span = span
        self.shared = shared


class Oracle(Node):
    __slots__ = ("name", "kind", "args", "every", "span")
    name: Ident
    kind: Ident                  # grad, value, hvp, hess_diag, rand_normal
    args: tuple[Expr, ...]
    every: Optional[Expr]
    span: Span

    def __init__(self, name, kind, args, every, span):
        self.name = name
        self.kind = kind
        self.args = args
        self.every = every
        self.span = span


class FnOracle(Node):
    """`oracle T: real[n] -> real[n]`: a function a solver's caller passes to `solve`."""
    __slots__ = ("name", "params", "result", "span")
    name: Ident
    params: tuple[TypeExpr, ...]     # `(real[n], real) -> ...` has two; `() -> real` none
    result: TypeExpr
    span: Span

    def __init__(self, name, params, result, span):
        self.name = name
        self.params = params
        self.result = result
        self.span = span


class Eval(Node):
    """`eval x = expr`: what the param is at evaluation time (schedule-free's averaged
    iterate, where training takes gradients at another point), from params, states, hypers."""
    __slots__ = ("name", "value", "span")
    name: Ident
    value: Expr
    span: Span

    def __init__(self, name, value, span):
        self.name = name
        self.value = value
        self.span = span


class Dims(Node):
    __slots__ = ("names", "span")
    names: tuple[Ident, ...]
    span: Span

    def __init__(self, names, span):
        self.names = names
        self.span = span


class Output(Node):
    __slots__ = ("names", "span")
    names: tuple[Ident, ...]
    span: Span

    def __init__(self, names, span):
        self.names = names
        self.span = span


class Step(Node):
    __slots__ = ("counter", "body", "span")
    counter: Optional[Ident]     # `step t:` names the step number, 1 on the first step
    body: tuple[Stmt, ...]
    span: Span

    def __init__(self, counter, body, span):
        self.counter = counter
        self.body = body
        self.span = span


class Until(Node):
    __slots__ = ("cond", "max_iter", "span")
    cond: Expr
    max_iter: Optional[Expr]
    span: Span

    def __init__(self, cond, max_iter, span):
        self.cond = cond
        self.max_iter = max_iter
        self.span = span


class Fact(Node):
    __slots__ = ("name", "args", "span")
    name: Ident
    args: tuple[Expr, ...]
    span: Span

    def __init__(self, name, args, span):
        self.name = name
        self.args = args
        self.span = span


class Assume(Node):
    __slots__ = ("subject", "facts", "span")
    subject: Ident
    facts: tuple[Fact, ...]
    span: Span

    def __init__(self, subject, facts, span):
        self.subject = subject
        self.facts = facts
        self.span = span


class Converges(Node):
    __slots__ = ("kind", "target", "rate", "on", "cite", "span")
    kind: str                    # heuristic | fixed_point-style "to" | linear | sublinear | rate
    target: Optional[Ident]      # for `converges to NAME`
    rate: Optional[Expr]         # for `converges rate R`
    on: Optional[Expr]           # for `converges rate R on Q`
    cite: Optional[str]
    span: Span

    def __init__(self, kind, target, rate, on, cite, span):
        self.kind = kind
        self.target = target
        self.rate = rate
        self.on = on
        self.cite = cite
        self.span = span


class Rule(Node):
    """`rule for x: real[m, n] as matrix:` with its own states and step, or `rule otherwise =
    adamw(lr=adam_lr)`, a delegation: the leaves whose shape fits the pattern go to another
    optimizer, its hypers given by the keywords (expressions of this method's hypers)."""
    __slots__ = ("var", "type", "matrix", "members", "delegate", "span")
    var: Optional[Ident]             # the param's name in `for x: ...`; None for `otherwise`
    type: Optional[TypeExpr]         # the pattern; None for `otherwise`
    matrix: bool                     # `as matrix`: rank >= 2 leaves, viewed as [shape[0], rest]
    members: tuple                   # states and the step (empty for a delegation)
    delegate: Optional[Call]         # `= adamw(lr=adam_lr)`: func is a Name
    span: Span

    def __init__(self, var, type, matrix, members, delegate, span):
        self.var = var
        self.type = type
        self.matrix = matrix
        self.members = members
        self.delegate = delegate
        self.span = span


Member = Union[Hyper, Param, Input, State, Oracle, FnOracle, Eval, Dims, Output, Step, Until, Assume, Converges, Let,
               Rule]


# ------------------------------------------------------------------ files

class Method(Node):
    __slots__ = ("kind", "name", "doc", "members", "span")
    kind: str                    # "optimizer" | "solver"
    name: Ident
    doc: Optional[str]
    members: tuple[Member, ...]
    span: Span

    def __init__(self, kind, name, doc, members, span):
        self.kind = kind
        self.name = name
        self.doc = doc
        self.members = members
        self.span = span


class Def(Node):
    __slots__ = ("name", "params", "doc", "lets", "result", "span")
    name: Ident
    params: tuple[Ident, ...]
    doc: Optional[str]
    lets: tuple[Let, ...]
    result: Expr
    span: Span

    def __init__(self, name, params, doc, lets, result, span):
        self.name = name
        self.params = params
        self.doc = doc
        self.lets = lets
        self.result = result
        self.span = span


class Use(Node):
    __slots__ = ("path", "file", "alias", "span")
    path: tuple[Ident, ...]      # `use prox.l1` -> (prox, l1); empty for a file path
    file: Optional[str]          # `use "local.iter"`
    alias: Optional[Ident]
    span: Span

    def __init__(self, path, file, alias, span):
        self.path = path
        self.file = file
        self.alias = alias
        self.span = span


class Comment(Node):
    __slots__ = ("text", "span")
    text: str                    # without the leading '#'
    span: Span

    def __init__(self, text, span):
        self.text = text
        self.span = span


class Module(Node):
    __slots__ = ("uses", "defs", "methods", "comments", "span")
    uses: tuple[Use, ...]
    defs: tuple[Def, ...]
    methods: tuple[Method, ...]
    comments: tuple[Comment, ...] # kept for `iterc fmt`
    span: Span

    def __init__(self, uses, defs, methods, comments, span):
        self.uses = uses
        self.defs = defs
        self.methods = methods
        self.comments = comments
        self.span = span

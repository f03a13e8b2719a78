"""What the checker hands to the IR: methods with resolved symbols and typed expressions.

Vocabulary: a *Symbol* is a declared name (hyper, param, state, ...); a *Typing* maps AST
expression nodes (by identity) to their Type, Name nodes to Symbols, and Call nodes to
what they call. A def call is a *DefExpansion* with its own Typing, because the same def
body has different types at different call sites.
"""
from __future__ import annotations

from typing import Any, Optional, Union

from .._records import Record
from ..builtins import Builtin
from ..syntax import ast
from ..types import Type

SYMBOL_KINDS = ("hyper", "param", "oracle", "state", "input", "dim", "let", "local", "var", "counter",
                "loopvar", "defarg")


# Records compared by identity (`@dataclass(eq=False)` before; see iterc/_records.py).

class Symbol(Record):
    _fields = ("name", "kind", "type", "decl", "static", "storage", "shared", "leaf")
    name: str
    kind: str
    type: Type                         # a FnType for a function oracle
    decl: Any                          # the AST node that declared it
    static: bool                       # known before the run starts (literals, hypers, dims)
    storage: Optional[str]             # element storage for states/params (f32, bf16, ...)
    shared: bool                       # a `shared state`: one value for the whole parameter tree
    # Why the symbol's value differs from leaf to leaf of the parameter tree: (the name read,
    # the root cause in words, e.g. "the oracle `g`"), or None when it is one value per step.
    leaf: Optional[tuple[str, str]]

    def __init__(self, name, kind, type, decl, static=False, storage=None, shared=False, leaf=None):
        self.name = name
        self.kind = kind
        self.type = type
        self.decl = decl
        self.static = static
        self.storage = storage
        self.shared = shared
        self.leaf = leaf


class CallInfo(Record):
    _fields = ("builtin", "kw")
    builtin: Builtin
    kw: dict[str, Any]                 # static keyword values (axis=...)

    def __init__(self, builtin, kw):
        self.builtin = builtin
        self.kw = kw


class DefExpansion(Record):
    """A call of a user `def`: the body is checked once per call site."""
    _fields = ("defn", "call", "params", "typing")
    defn: ast.Def
    call: ast.Call
    params: tuple[str, ...]
    typing: "Typing"

    def __init__(self, defn, call, params, typing):
        self.defn = defn
        self.call = call
        self.params = params
        self.typing = typing


class Typing(Record):
    _fields = ("types", "symbols", "calls", "static", "keep")
    types: dict[int, Type]
    symbols: dict[int, Symbol]
    calls: dict[int, Union[CallInfo, DefExpansion]]
    static: set[int]                   # ids of expressions known before the run
    keep: list                         # keeps nodes alive so ids stay unique

    def __init__(self, types=None, symbols=None, calls=None, static=None, keep=None):
        self.types = {} if types is None else types
        self.symbols = {} if symbols is None else symbols
        self.calls = {} if calls is None else calls
        self.static = set() if static is None else static
        self.keep = [] if keep is None else keep

    def type_of(self, node) -> Type:
        return self.types[id(node)]


class HyperInfo(Record):
    _fields = ("symbol", "decl", "conditions", "interval")
    symbol: Symbol
    decl: ast.Hyper
    conditions: tuple[ast.Expr, ...]   # `where` conditions, plus the interval as comparisons
    interval: Optional[ast.Interval]

    def __init__(self, symbol, decl, conditions, interval):
        self.symbol = symbol
        self.decl = decl
        self.conditions = conditions
        self.interval = interval


class CheckedMethod(Record):
    _fields = ("kind", "name", "doc", "decl", "hypers", "params", "inputs", "oracles", "states", "dims", "lets",
               "outputs", "step", "counter", "until", "max_iter", "converges", "assumes", "prev_used", "typing",
               "symbols", "draws", "rules", "before")
    kind: str                          # optimizer | solver
    name: str
    doc: Optional[str]
    decl: ast.Method
    hypers: list[HyperInfo]
    params: list[Symbol]
    inputs: list[Symbol]
    oracles: list[Symbol]
    states: list[Symbol]
    dims: list[Symbol]
    lets: list[ast.Let]                # solver: evaluated after each step, in order
    outputs: list[Symbol]
    step: ast.Step
    counter: str                       # the name of the step counter (user's, or a fresh one)
    until: Optional[ast.Until]
    max_iter: Optional[ast.Expr]
    converges: Optional[ast.Converges]
    assumes: list[ast.Assume]
    prev_used: set[str]
    typing: Typing
    symbols: dict[str, Symbol]
    draws: bool = False                # it draws random numbers (`randn_like`): lowering threads a key
    eval: Optional[ast.Eval] = None    # `eval x = ...`: the param at evaluation time (optimizers)
    rules: Optional[list["CheckedRule"]] = None   # a method with rules: its per-leaf-shape updates
    before: Optional["CheckedMethod"] = None      # ... and its step before the rules: model-wide lets,
                                                  # written as shared states, read by the rules as hypers

    def __init__(self, kind, name, doc, decl, hypers, params, inputs, oracles, states, dims, lets, outputs,
                 step, counter, until, max_iter, converges, assumes, prev_used, typing, symbols, draws=False,
                 eval=None):
        self.kind, self.name, self.doc, self.decl = kind, name, doc, decl
        self.hypers, self.params, self.inputs, self.oracles = hypers, params, inputs, oracles
        self.states, self.dims, self.lets, self.outputs = states, dims, lets, outputs
        self.step, self.counter, self.until, self.max_iter = step, counter, until, max_iter
        self.converges, self.assumes, self.prev_used = converges, assumes, prev_used
        self.typing, self.symbols = typing, symbols
        self.draws = draws
        self.eval = eval
        self.rules = None
        self.before = None

    @property
    def summary(self) -> str:
        return (self.doc or "").strip().split("\n")[0]


class Pattern(Record):
    """Which leaves a rule takes: rank `rank` exactly, or rank >= 2 viewed as a matrix
    [shape[0], prod(rest)] (`matrix`); `dims` are the pattern's dims (names or ints);
    `rank` None is `otherwise` (every leaf no other rule takes)."""
    __slots__ = ("rank", "dims", "matrix")
    rank: Optional[int]
    dims: tuple
    matrix: bool

    def __init__(self, rank, dims=(), matrix=False):
        self.rank, self.dims, self.matrix = rank, dims, matrix

    def text(self) -> str:
        if self.rank is None:
            return "otherwise"
        shape = "real" if not self.dims else "real[" + ", ".join(map(str, self.dims)) + "]"
        return shape + (" as matrix" if self.matrix else "")


class CheckedRule(Record):
    __slots__ = ("pattern", "decl", "method", "delegate", "hyper_map", "typing")
    pattern: Pattern
    decl: ast.Rule
    method: CheckedMethod              # the rule's own step, or the delegate method
    delegate: Optional[str]            # the delegate's name, for a delegation
    hyper_map: list                    # (delegate hyper, ast expr over our hypers)
    typing: Optional[Typing]           # types of the hyper map's expressions

    def __init__(self, pattern, decl, method, delegate=None, hyper_map=None, typing=None):
        self.pattern, self.decl, self.method = pattern, decl, method
        self.delegate, self.hyper_map, self.typing = delegate, list(hyper_map or ()), typing


class CheckedModule(Record):
    _fields = ("path", "methods", "syntax")
    path: str
    methods: list[CheckedMethod]
    syntax: ast.Module
    # Every file reached through `use`, transitively (resolved paths), and the local paths a
    # `use` looked for and did not find before it fell back to the stdlib (creating one would
    # change what this module means). The compile cache keys and revalidates on them.
    uses: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()

    def __init__(self, path, methods, syntax, uses=(), absent=()):
        self.path = path
        self.methods = methods
        self.syntax = syntax
        self.uses = uses
        self.absent = absent

    def method(self, name: Optional[str] = None) -> CheckedMethod:
        if name is None:
            if len(self.methods) != 1:
                names = ", ".join(m.name for m in self.methods) or "none"
                raise ValueError(f"{self.path} defines {len(self.methods)} methods ({names}); pick one with method=")
            return self.methods[0]
        for m in self.methods:
            if m.name == name:
                return m
        names = ", ".join(m.name for m in self.methods) or "none"
        raise ValueError(f"{self.path} has no method `{name}` (it defines: {names})")


class MethodTrace(Record):
    """One method as the checker saw it, errors or not: its typing and its symbols."""
    __slots__ = ("decl", "typing", "symbols", "locals", "hypers")
    decl: ast.Method
    typing: Typing
    symbols: dict[str, Symbol]         # the method's members (hypers, param, states, dims, ...)
    locals: list[Symbol]               # `let`s of the step and of a solver, in order
    hypers: list[HyperInfo]

    def __init__(self, decl, typing, symbols, locals, hypers):
        self.decl = decl
        self.typing = typing
        self.symbols = symbols
        self.locals = locals
        self.hypers = hypers


class CheckTrace(Record):
    """What `check_module(module, trace=...)` fills in even when the module has errors, for
    tools that answer questions about a file being edited (the language server): the defs
    and `use ... as` modules in scope, and every method's typing and symbols."""
    __slots__ = ("syntax", "defs", "aliases", "methods")
    syntax: Optional[ast.Module]                 # the module checked
    defs: dict[str, ast.Def]
    aliases: dict[str, dict[str, ast.Def]]
    methods: list[MethodTrace]

    def __init__(self, syntax=None, defs=None, aliases=None, methods=None):
        self.syntax = syntax
        self.defs = {} if defs is None else defs
        self.aliases = {} if aliases is None else aliases
        self.methods = [] if methods is None else methods

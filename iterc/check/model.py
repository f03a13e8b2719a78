"""What the checker hands to the IR: methods with resolved symbols and typed expressions.

Vocabulary: a *Symbol* is a declared name (hyper, param, state, ...); a *Typing* maps AST
expression nodes (by identity) to their Type, Name nodes to Symbols, and Call nodes to
what they call. A def call is a *DefExpansion* with its own Typing, because the same def
body has different types at different call sites.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from ..builtins import Builtin
from ..syntax import ast
from ..types import Type

SYMBOL_KINDS = ("hyper", "param", "oracle", "state", "input", "dim", "let", "local", "var", "counter",
                "loopvar", "defarg")


@dataclass(eq=False)
class Symbol:
    name: str
    kind: str
    type: Type
    decl: Any                          # the AST node that declared it
    static: bool = False               # known before the run starts (literals, hypers, dims)
    storage: Optional[str] = None      # element storage for states/params (f32, bf16, ...)
    shared: bool = False               # a `shared state`: one value for the whole parameter tree
    # Why the symbol's value differs from leaf to leaf of the parameter tree: (the name read,
    # the root cause in words, e.g. "the oracle `g`"), or None when it is one value per step.
    leaf: Optional[tuple[str, str]] = None


@dataclass(eq=False)
class CallInfo:
    builtin: Builtin
    kw: dict[str, Any]                 # static keyword values (axis=...)


@dataclass(eq=False)
class DefExpansion:
    """A call of a user `def`: the body is checked once per call site."""
    defn: ast.Def
    call: ast.Call
    params: tuple[str, ...]
    typing: "Typing"


@dataclass(eq=False)
class Typing:
    types: dict[int, Type] = field(default_factory=dict)
    symbols: dict[int, Symbol] = field(default_factory=dict)
    calls: dict[int, Union[CallInfo, DefExpansion]] = field(default_factory=dict)
    static: set[int] = field(default_factory=set)     # ids of expressions known before the run
    keep: list = field(default_factory=list)   # keeps nodes alive so ids stay unique

    def type_of(self, node) -> Type:
        return self.types[id(node)]


@dataclass(eq=False)
class HyperInfo:
    symbol: Symbol
    decl: ast.Hyper
    conditions: tuple[ast.Expr, ...]   # `where` conditions, plus the interval as comparisons
    interval: Optional[ast.Interval]


@dataclass(eq=False)
class CheckedMethod:
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
    rules: Optional[list["CheckedRule"]] = None   # a method with rules: its per-leaf-shape updates
    before: Optional["CheckedMethod"] = None      # ... and its step before the rules: model-wide lets,
                                                  # written as shared states, read by the rules as hypers

    @property
    def summary(self) -> str:
        return (self.doc or "").strip().split("\n")[0]


@dataclass(eq=False)
class Pattern:
    """Which leaves a rule takes: rank `rank` exactly, or rank >= 2 viewed as a matrix
    [shape[0], prod(rest)] (`matrix`); `dims` are the pattern's dims (names or ints);
    `rank` None is `otherwise` (every leaf no other rule takes)."""
    rank: Optional[int]
    dims: tuple = ()
    matrix: bool = False

    def text(self) -> str:
        if self.rank is None:
            return "otherwise"
        shape = "real" if not self.dims else "real[" + ", ".join(map(str, self.dims)) + "]"
        return shape + (" as matrix" if self.matrix else "")


@dataclass(eq=False)
class CheckedRule:
    pattern: Pattern
    decl: ast.Rule
    method: CheckedMethod              # the rule's own step, or the delegate method
    delegate: Optional[str] = None     # the delegate's name, for a delegation
    hyper_map: list = field(default_factory=list)   # (delegate hyper, ast expr over our hypers)
    typing: Optional[Typing] = None    # types of the hyper map's expressions


@dataclass(eq=False)
class CheckedModule:
    path: str
    methods: list[CheckedMethod]
    syntax: ast.Module

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

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
    type: Type                         # a FnType for a function oracle
    decl: Any                          # the AST node that declared it
    static: bool = False               # known before the run starts (literals, hypers, dims)
    storage: Optional[str] = None      # element storage for states/params (f32, bf16, ...)


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
    draws: bool = False                # it draws random numbers (`randn_like`): lowering threads a key

    @property
    def summary(self) -> str:
        return (self.doc or "").strip().split("\n")[0]


@dataclass(eq=False)
class CheckedModule:
    path: str
    methods: list[CheckedMethod]
    syntax: ast.Module
    # Every file reached through `use`, transitively (resolved paths), and the local paths a
    # `use` looked for and did not find before it fell back to the stdlib (creating one would
    # change what this module means). The compile cache keys and revalidates on them.
    uses: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()

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


@dataclass(eq=False)
class MethodTrace:
    """One method as the checker saw it, errors or not: its typing and its symbols."""
    decl: ast.Method
    typing: Typing
    symbols: dict[str, Symbol]         # the method's members (hypers, param, states, dims, ...)
    locals: list[Symbol]               # `let`s of the step and of a solver, in order
    hypers: list[HyperInfo]


@dataclass(eq=False)
class CheckTrace:
    """What `check_module(module, trace=...)` fills in even when the module has errors, for
    tools that answer questions about a file being edited (the language server): the defs
    and `use ... as` modules in scope, and every method's typing and symbols."""
    syntax: Optional[ast.Module] = None          # the module checked
    defs: dict[str, ast.Def] = field(default_factory=dict)
    aliases: dict[str, dict[str, ast.Def]] = field(default_factory=dict)
    methods: list[MethodTrace] = field(default_factory=list)

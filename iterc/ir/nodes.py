"""The IR of a step: a typed, name-resolved, desugared tree.

Values: `Const`, `Ref` (a named value: hyper, param, state, oracle, local, counter, dim) and
`Apply` (a registry builtin applied to values; its kind -- elementwise, reduction,
matmul, shape, library -- comes from the registry entry). Statements: `Bind` rebinds a
name (SSA style: a backend may update in place, the IR never mutates) and three region
nodes with explicit carried names, which map one to one onto lax.cond / fori_loop /
while_loop, onto predicated kernels, and onto plain Python control flow.
Every node keeps the span it came from, so generated code can point at the .iter line.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

from ..syntax.source import Span
from ..types import Type


@dataclass(frozen=True, slots=True)
class Const:
    value: Any
    type: Type
    span: Optional[Span] = None


@dataclass(frozen=True, slots=True)
class Ref:
    name: str
    kind: str                         # hyper | param | state | oracle | input | local | counter | loopvar | dim
    type: Type
    span: Optional[Span] = None


@dataclass(frozen=True, slots=True)
class Apply:
    fn: str                           # a key of iterc.builtins.REGISTRY
    args: tuple["Value", ...]
    type: Type
    kw: tuple[tuple[str, Any], ...] = ()
    span: Optional[Span] = None


Value = Union[Const, Ref, Apply]


@dataclass(frozen=True, slots=True)
class Bind:
    name: str
    value: Value
    kind: str                         # "let" (a new local) | "update" (a state/param/output's new value)
    span: Optional[Span] = None


@dataclass(frozen=True, slots=True)
class IfRegion:
    cond: Value
    then: tuple["Stmt", ...]
    orelse: tuple["Stmt", ...]
    carried: tuple[str, ...]          # names updated inside: the region's results
    span: Optional[Span] = None
    origin: str = "if"                # "if" | "every" (for comments and later passes)


@dataclass(frozen=True, slots=True)
class ForRegion:
    var: str
    lo: Value
    hi: Value                         # inclusive
    body: tuple["Stmt", ...]
    carried: tuple[str, ...]
    span: Optional[Span] = None


@dataclass(frozen=True, slots=True)
class WhileRegion:
    """`repeat: body until cond max N`: run body, stop when cond holds or after N rounds."""
    body: tuple["Stmt", ...]
    cond: Value
    max_iter: Value
    carried: tuple[str, ...]
    span: Optional[Span] = None


Stmt = Union[Bind, IfRegion, ForRegion, WhileRegion]


@dataclass(frozen=True)
class HyperIR:
    name: str
    elem: str                         # real | int | bool
    default: Optional[Value]          # may refer to earlier hypers
    conditions: tuple[tuple[str, Value], ...]   # (canonical text, bool value over hypers)


@dataclass(frozen=True)
class SlotIR:
    """A param, state, input or oracle: a named value with a declared type."""
    name: str
    type: Type
    storage: Optional[str] = None     # element storage (f32, bf16, ...) when declared
    init: Optional[Value] = None      # states: the initial value
    kind: Optional[str] = None        # oracles: grad | value | hvp | hess_diag | rand_normal
    every: Optional[Value] = None     # oracles: supplied every k steps
    oracle_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class MethodIR:
    kind: str                         # optimizer | solver
    name: str
    doc: Optional[str]
    source_path: str
    hypers: tuple[HyperIR, ...]
    param: Optional[SlotIR]
    inputs: tuple[SlotIR, ...]
    oracles: tuple[SlotIR, ...]
    states: tuple[SlotIR, ...]
    dims: tuple[str, ...]
    counter: str
    prev: tuple[tuple[str, str], ...]  # (name, name of its step-start copy)
    body: tuple[Stmt, ...]             # the step
    after: tuple[Stmt, ...] = ()       # solver: lets evaluated after each step
    until: Optional[Value] = None
    residual: Optional[Value] = None   # solver: the left side of `until LHS <= tol`, if that is its form
    max_iter: Optional[Value] = None
    outputs: tuple[str, ...] = ()
    converges: Optional[str] = None
    cite: Optional[str] = None


@dataclass(frozen=True)
class ModuleIR:
    source_path: str
    methods: tuple[MethodIR, ...] = field(default_factory=tuple)

"""The IR: a step (or a solve) as A-normal-form SSA over structured regions.

Vocabulary:
- An *operand* is a `Const` or a `Var`. A `Var` names one value, bound exactly once:
  a method input (hyper, param, state on entry, oracle, input, dim, counter) or the
  result of one statement. `Var.source` is the `.iter` name it carries (a state, a
  `let`), or None for a temporary that lowering introduced for a sub-expression;
  backends print source-named values under that name and may re-inline temporaries.
- An *op* is one `Apply` of a registry builtin to operands, or a bare operand (a copy).
- A *statement* is `Assign` (one op bound to a fresh Var) or a region: `If`, `For`,
  `While`. A region's blocks end in `yields`; the region binds `results`, one fresh Var
  per carried value. Loop regions take their carried values as block parameters
  (`params`), initialised from `inits`, as lax.fori_loop / while_loop do.
- A solver's function oracle is a Var of type `FnType` with origin ORACLE, and a call
  of it the primitive `call` with that Var as first operand (assumed pure: CSE shares
  identical calls and DCE drops unused ones). The random generator is a Var of type `KEY`
  threaded like a state: `random_normal(k, x)` / `random_uniform(k, x)` draw with it and
  `rng_next(k)` gives the key for the next draw; regions carry it (a loop as a block
  parameter), an optimizer's step takes it (origin KEY) and yields the next one last.
- Every Var has a *placement* (`Place`), the level at which it is known: STATIC (at
  compile or instantiation time), STEP (one value per step, for all leaves), MODEL (one
  value per step computed from all leaves: `total`, a shared state), LEAF (one value
  per leaf: a reduction's result) or ELEMENT (a tensor). Backends choose Python `if`,
  `lax.cond` or `where` from it, and hoist STEP values out of per-leaf loops.
- An optimizer whose step reads a MODEL value is *phased* (`OptimizerIR.phases`): its
  body runs as model segments (once per step) and leaf phases (once per leaf each), in
  order; see iterc/ir/phases.py.

Spans never take part in equality, so identical ops compare equal (CSE relies on it).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from ..syntax.source import Span
from ..types import Type


class Place(enum.IntEnum):
    """Where a value is known; ordered, so the placement of an op is the max of its inputs'."""
    STATIC = 0
    STEP = 1
    MODEL = 2                      # one value per step, computed from all leaves (phases)
    LEAF = 3
    ELEMENT = 4


class Origin(enum.Enum):
    """What a Var is: a method input of some kind, or the result of a statement."""
    HYPER = "hyper"
    PARAM = "param"
    STATE = "state"
    ORACLE = "oracle"
    INPUT = "input"
    DIM = "dim"
    COUNTER = "counter"
    LOOPVAR = "loopvar"            # a `for` index, or a loop region's block parameter
    KEY = "key"                    # an optimizer step's random generator key on entry
    VALUE = "value"                # the result of an Assign or a region


class DType(enum.Enum):
    """Storage element types. `LIKE_PARAM` is the dtype of the parameter leaf, known per leaf."""
    F64 = "f64"
    F32 = "f32"
    F16 = "f16"
    BF16 = "bf16"
    I64 = "int"
    BOOL = "bool"
    LIKE_PARAM = "like_param"


@dataclass(frozen=True, slots=True)
class Const:
    value: Any
    type: Type
    span: Optional[Span] = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Var:
    name: str                          # unique within the method
    type: Type
    place: Place
    origin: Origin = Origin.VALUE
    source: Optional[str] = None       # the .iter name this value carries, if any
    span: Optional[Span] = field(default=None, compare=False)


Operand = Union[Const, Var]


@dataclass(frozen=True, slots=True)
class Apply:
    fn: str                            # a key of iterc.builtins.REGISTRY
    args: tuple[Operand, ...]
    type: Type
    kw: tuple[tuple[str, Any], ...] = ()

    def kwargs(self) -> dict[str, Any]:
        return dict(self.kw)


Op = Union[Apply, Const, Var]


@dataclass(frozen=True, slots=True)
class Assign:
    target: Var
    op: Op
    span: Optional[Span] = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Block:
    stmts: tuple["Stmt", ...]
    yields: tuple[Operand, ...] = ()


@dataclass(frozen=True, slots=True)
class If:
    cond: Operand
    then: Block
    orelse: Block
    results: tuple[Var, ...]
    origin: str = "if"                 # "if" | "elif" | "every": for comments and printing
    span: Optional[Span] = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class For:
    """`for var in lo..hi` (inclusive): body(params) yields the next values of params."""
    var: Var
    lo: Operand
    hi: Operand
    inits: tuple[Operand, ...]
    params: tuple[Var, ...]
    body: Block
    results: tuple[Var, ...]
    span: Optional[Span] = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class While:
    """Run body at least once and at most `max_iter` times. The last block parameter and
    the last yield are the stop flag: the loop ends after a round that yields True.
    body(params) yields the next params; `counter`, if any, is the 1-based round number.
    `observe` (operands of the body's scope: a solver's counter and residual) are what a
    backend hands to a progress hook after each round, when the caller asks for one."""
    inits: tuple[Operand, ...]
    params: tuple[Var, ...]
    body: Block
    max_iter: Operand
    results: tuple[Var, ...]
    counter: Optional[Var] = None
    span: Optional[Span] = field(default=None, compare=False)
    observe: tuple[Operand, ...] = ()


Stmt = Union[Assign, If, For, While]
Region = (If, For, While)


# ---------------------------------------------------------------- method-level records

@dataclass(frozen=True)
class HyperIR:
    var: Var
    default: Optional[Block]           # computes the default from earlier hypers; yields one value
    conditions: tuple[tuple[str, Block], ...]   # (canonical text, block yielding a bool)
    static: bool = False               # steers control flow or sizes: fixed at instantiation

    @property
    def name(self) -> str:
        return self.var.name

    @property
    def elem(self) -> str:
        return self.var.type.elem


@dataclass(frozen=True)
class SlotIR:
    """A param, state or input: a named tensor with a declared type and storage dtype."""
    var: Var
    dtype: DType
    init: Optional[Block] = None       # states: yields the initial value
    domain: Optional[tuple] = None     # inputs: (name, *numeric args), checked when a solve starts
    shared: bool = False               # a `shared state`: one scalar for the whole parameter tree

    @property
    def name(self) -> str:
        return self.var.name

    @property
    def type(self) -> Type:
        return self.var.type


@dataclass(frozen=True)
class OracleIR:
    var: Var
    kind: str                          # grad | value | hvp | hess_diag | rand_normal | function
    every: Optional[Block] = None      # supplied every k steps (a static block yielding k)
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Phase:
    """One part of a phased step (see iterc/ir/phases.py), in the body's order.

    kind "model": statements run once per step, on model-wide values only; a `total` among
    them reads the per-leaf partials that earlier leaf phases stored (`loads`).
    kind "leaf": statements run once per leaf; `loads` are the per-leaf values made before
    this phase (the method's per-leaf inputs, or values stored by an earlier leaf phase)
    that it reads, `stores` the per-leaf values it makes that a later phase, a `total` or
    the step's yields read."""
    kind: str
    stmts: tuple[Stmt, ...]
    loads: tuple[Var, ...] = ()
    stores: tuple[Var, ...] = ()


@dataclass(frozen=True)
class LeafPattern:
    """Which leaves a rule takes, as a pure function of the leaf's shape: rank `rank`
    exactly (static dims equal), or with `matrix` rank >= 2, viewed as [shape[0],
    prod(rest)]; `rank` None is `otherwise`, every leaf no other rule takes."""
    rank: Optional[int]
    dims: tuple = ()                   # names (symbolic) or ints (static), `rank` of them
    matrix: bool = False

    def matches(self, shape: tuple) -> bool:
        if self.rank is None:
            return True
        if self.matrix:
            if len(shape) < 2:
                return False
            view = (shape[0], _prod(shape[1:]))
        else:
            if len(shape) != self.rank:
                return False
            view = tuple(shape)
        sizes: dict = {}
        for d, n in zip(self.dims, view):
            if (d if isinstance(d, int) else sizes.setdefault(d, n)) != n:
                return False                 # a static size, or a name that stands for one size
        return True

    def text(self) -> str:
        if self.rank is None:
            return "otherwise"
        shape = "real" if not self.dims else "real[" + ", ".join(map(str, self.dims)) + "]"
        return shape + (" as matrix" if self.matrix else "")


def _prod(xs) -> int:
    out = 1
    for x in xs:
        out *= int(x)
    return out


def choose_rule(patterns, shape: tuple) -> Optional[int]:
    """The index of the rule a leaf of `shape` goes to: the pattern it fits (the checker
    makes them disjoint), else `otherwise`, else None."""
    fallback = None
    for i, p in enumerate(patterns):
        if p.rank is None:
            fallback = i
        elif p.matches(shape):
            return i
    return fallback


@dataclass(frozen=True)
class RuleIR:
    """One rule of an optimizer: the leaves its pattern takes are updated by `method`, an
    optimizer of its own (the rule's states and step, its param typed by the pattern), or,
    for a delegation, the delegate's IR with `hyper_map`: each of the delegate's hypers that
    the rule gives, as a block over the outer method's hypers (the rest keep its defaults)."""
    pattern: LeafPattern
    method: "OptimizerIR"
    delegate: Optional[str] = None
    hyper_map: tuple[tuple[str, Block], ...] = ()


@dataclass(frozen=True)
class OptimizerIR:
    """One step on one parameter leaf: (hypers, t, param, oracles, states) -> (param, states)
    (the param's update instead of its new value when `yields_update`)."""
    name: str
    doc: Optional[str]
    source_path: str
    hypers: tuple[HyperIR, ...]
    param: SlotIR
    oracles: tuple[OracleIR, ...]
    states: tuple[SlotIR, ...]
    dims: tuple[Var, ...]              # bound from the leaf's shape
    counter: Var
    body: Block                        # yields (param, *states), in that order
    live: tuple[tuple[str, Block], ...] = ()   # state -> static block: is it used under these hypers?
    periods: tuple[tuple[str, Block], ...] = ()  # `every k` periods (static), checked >= 1
    converges: Optional[str] = None
    cite: Optional[str] = None
    key: Optional[Var] = None          # the random generator on entry (`hyper seed`); body yields the next last
    phases: tuple[Phase, ...] = ()     # empty: one per-leaf step; else the body cut into phases, in order
    eval: Optional[Block] = None       # `eval x = ...`: yields the param at evaluation time, per leaf, from
                                       # the param, states (shared ones as scalars), hypers and dims
    rules: tuple[RuleIR, ...] = ()     # a method with rules: each leaf goes to one (body: the param unchanged)
    before: Optional["OptimizerIR"] = None   # its step before the rules: a phased method whose shared
                                             # states are the model-wide values the rules read as hypers
    yields_update: bool = False        # the body's first yield is the param's update (new - old), not its
                                       # new value (passes.update_form, for targets whose contract is an update)
    kind = "optimizer"


@dataclass(frozen=True)
class SolverIR:
    """A whole solve: init -> a While region over the states (and carried outputs) -> outputs.

    `init` yields the initial carried values (states, carried lets, the generator key when
    the solver draws, then `_residual`, `_converged` and the stop flag), `loop` is the
    While region whose body also computes the stopping test, the residual and the next
    carried values: it stops when the `until` test holds (`converged`) or a real state is
    not finite (`checked` names them, in order). `outputs` name the While results (or
    inputs) returned; `oracles` are the function oracles the caller passes."""
    name: str
    doc: Optional[str]
    source_path: str
    hypers: tuple[HyperIR, ...]
    inputs: tuple[SlotIR, ...]
    states: tuple[SlotIR, ...]
    dims: tuple[Var, ...]              # bound from the inputs' shapes
    counter: Var
    init: Block
    loop: While
    carried: tuple[str, ...]           # names of the loop's carried values, in order
    outputs: tuple[tuple[str, Operand], ...]
    residual: Optional[Var] = None     # a loop result: the left side of `until LHS <= tol`
    periods: tuple[tuple[str, Block], ...] = ()
    converges: Optional[str] = None
    cite: Optional[str] = None
    oracles: tuple[OracleIR, ...] = ()  # function oracles (kind "function", Var of FnType)
    converged: Optional[Var] = None    # a loop result: the `until` test held (the stop flag is the last result)
    checked: tuple[str, ...] = ()      # the real states whose finiteness stops the loop
    kind = "solver"


MethodIR = Union[OptimizerIR, SolverIR]


@dataclass(frozen=True)
class ModuleIR:
    source_path: str
    methods: tuple[MethodIR, ...] = ()

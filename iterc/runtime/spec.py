"""What a compiled method declares, in the same form for every backend's runtime.

A `Spec` lists the hypers (with the static flag: bool and int hypers steer control and
sizes, so they are fixed at instantiation; real hypers may change per step), their
conditions, the slots (param, states, inputs) with element types, storage dtypes,
dims (a `shared` state is one scalar for the whole parameter tree) and (inputs) domains,
the oracles (a solver's are functions with a signature), a solver's outputs, the
`every k` periods to validate, whether an optimizer draws random numbers (then its
runtime owns a generator seeded by the hyper `seed`) and whether its step is `phased`
(it reads model-wide values, so it takes all leaves at once).
"""
from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Any, Callable, Optional

from .hypers import Condition, Hyper, Hypers


@dataclass(frozen=True)
class Slot:
    name: str
    elem: str                                      # real | int | bool
    dtype: str                                     # f64 | f32 | f16 | bf16 | int | bool | like_param
    dims: Optional[tuple] = None                   # None: the parameter leaf's shape; else names or ints
    live: Optional[Callable[[Hypers], Any]] = None  # states: allocated only when this holds
    domain: Optional[tuple] = None                 # inputs: ("simplex",), ("box", 0, 1): checked at the boundary
    shared: bool = False                           # one scalar for the whole parameter tree, not one per leaf


@dataclass(frozen=True)
class Oracle:
    name: str
    kind: str                                      # grad | value | hvp | hess_diag | rand_normal | function
    every: Optional[Callable[[Hypers], int]] = None
    args: tuple[tuple[str, tuple], ...] = ()       # function: (elem, dims) per argument
    result: Optional[tuple[str, tuple]] = None     # function: (elem, dims) of what it returns

    def signature(self) -> str:
        """`real[n] -> real[n]`, as declared."""
        def one(t):
            return t[0] + (f"[{', '.join(map(str, t[1]))}]" if t[1] else "")
        args = one(self.args[0]) if len(self.args) == 1 else "(" + ", ".join(map(one, self.args)) + ")"
        return f"{args} -> {one(self.result)}"


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str                                      # optimizer | solver
    hypers: tuple[Hyper, ...] = ()
    conditions: tuple[Condition, ...] = ()
    param: Optional[Slot] = None
    states: tuple[Slot, ...] = ()
    oracles: tuple[Oracle, ...] = ()
    inputs: tuple[Slot, ...] = ()
    outputs: tuple[tuple[str, str], ...] = ()      # solver: (name, element type)
    periods: tuple[tuple[str, Callable[[Hypers], Any]], ...] = ()
    random: bool = False                           # optimizer: its step draws from a generator (`_rng`)
    phased: bool = False                           # optimizer: the step takes every leaf at once (lists)
    update: bool = False                           # optimizer: the step returns the param's update, not its new value

    def check_periods(self, hp: Hypers) -> None:
        """`every k` needs k >= 1: checked when hypers are resolved, not at the division."""
        for text, period in self.periods:
            k = period(hp)
            if int(k) < 1:
                raise ValueError(f"{self.name}: `every {text}` needs a period of at least 1, got {k}")
        for o in self.oracles:
            if o.every is not None and int(o.every(hp)) < 1:
                raise ValueError(f"{self.name}: oracle `{o.name}` is supplied `every {int(o.every(hp))}` steps; "
                                 f"the period must be at least 1")

    def live_states(self, hp: Hypers) -> tuple[Slot, ...]:
        return tuple(s for s in self.states if s.live is None or bool(s.live(hp)))


def bind_dims(spec: Spec, values: dict[str, Any], what: str = "input") -> dict[str, int]:
    """Read symbolic dims off the slots' values (arrays, or shapes); a mismatch names the
    slot, the axis and the dim."""
    dims: dict[str, int] = {}
    source: dict[str, str] = {}
    slots = {s.name: s for s in spec.inputs + ((spec.param,) if spec.param is not None else ())}
    for name, value in values.items():
        shape = tuple(getattr(value, "shape", value))
        slot = slots[name]
        if slot.dims is None:
            continue
        want = slot.dims
        if len(shape) != len(want):
            need = "a scalar" if not want else f"rank {len(want)} [{', '.join(map(str, want))}]"
            raise ValueError(f"{spec.name}: {what} `{name}` must have {need}, but has shape {tuple(shape)}")
        for axis, (d, n) in enumerate(zip(want, shape)):
            if isinstance(d, int):
                if n != d:
                    raise ValueError(f"{spec.name}: {what} `{name}` must have {d} entries along axis {axis}, "
                                     f"has {n} (shape {tuple(shape)})")
            elif d in dims and dims[d] != n:
                raise ValueError(f"{spec.name}: {what} `{name}` has {d} = {n} along axis {axis}, but "
                                 f"`{source[d]}` gave {d} = {dims[d]}")
            else:
                dims.setdefault(d, n)
                source.setdefault(d, name)
    return dims


def check_state_shape(method: str, state: str, value, want: tuple, sizes: str) -> None:
    """A state sized by an int hyper (`state Q: real[n, rank]`) must have the shape this
    instance gives it: one saved under another `rank` is an error, not a silent misfit."""
    shape = tuple(getattr(value, "shape", ()))
    if shape != tuple(want):
        raise ValueError(f"{method}: state `{state}` has shape {shape}, but with {sizes} it must have shape "
                         f"{tuple(want)}; was it made by an optimizer with other hypers? Start from "
                         f"`init`, or create the optimizer with the hypers the state was made with")


def check_param_shape(spec: Spec, path: str, shape: tuple) -> None:
    """A ranked param (`real[3, n]`) fixes the rank and the static dims of every leaf."""
    dims = spec.param.dims
    if dims is None:
        return
    declared = f"`{spec.param.name}: {spec.param.elem}[{', '.join(map(str, dims))}]`"
    if len(shape) != len(dims):
        raise ValueError(f"{spec.name} updates rank-{len(dims)} parameters ({declared}), but {path} has shape {shape}")
    for axis, d in enumerate(dims):
        if isinstance(d, int) and shape[axis] != d:
            raise ValueError(f"{spec.name} updates parameters with {d} entries along axis {axis} ({declared}), "
                             f"but {path} has shape {shape}")


@dataclass(frozen=True)
class Pattern:
    """Which leaves a rule takes: rank `rank` exactly (static dims equal), or with
    `matrix` rank >= 2, viewed as [shape[0], prod(rest)]; `rank` None: `otherwise`."""
    rank: Optional[int]
    dims: tuple = ()
    matrix: bool = False

    def view(self, shape: tuple) -> tuple:
        """The shape the rule's step sees for a leaf of `shape`."""
        if self.matrix:
            return (shape[0], math.prod(shape[1:]))
        return tuple(shape)

    def matches(self, shape: tuple) -> bool:
        if self.rank is None:
            return True
        if self.matrix and len(shape) < 2 or not self.matrix and len(shape) != self.rank:
            return False
        sizes: dict = {}
        for d, n in zip(self.dims, self.view(shape)):
            if (d if isinstance(d, int) else sizes.setdefault(d, n)) != n:
                return False                 # a static size, or a name that stands for one size
        return True

    def text(self) -> str:
        if self.rank is None:
            return "otherwise"
        shape = "real" if not self.dims else "real[" + ", ".join(map(str, self.dims)) + "]"
        return shape + (" as matrix" if self.matrix else "")


def choose_rule(rules, shape: tuple) -> Optional[int]:
    """The rule a leaf of `shape` goes to: the one whose pattern it fits (patterns are
    disjoint), else `otherwise`, else None. A pure function of the shape."""
    fallback = None
    for i, r in enumerate(rules):
        if r.pattern.rank is None:
            fallback = i
        elif r.pattern.matches(shape):
            return i
    return fallback

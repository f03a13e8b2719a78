"""What every Python-family backend (numpy, JAX, torch) shares: a lowering-table vocabulary,
the expression printer with minimal parentheses, and out-of-SSA naming with re-inlining.

A target's table maps a builtin to an `Infix`/`Prefix` operator, a template over the
argument code (`{0}`, `{1}`, `{axis_kw}` spelled with the target's axis keyword, `{index}`,
`{ns}` for the array namespace), a
`ByPlace` choice (a Python operator for host scalars, a function for arrays and traced
values) or a function `(args, kw, arg_types, result_type) -> str`.

Naming: a value that carries a `.iter` name prints under that name (the SSA versions
of `m` are all `m`, which is sound because the language never reads an older version
after a newer one is bound; `prev` reads a copy). A temporary used once, in the same
block, with nothing it reads rebound in between, is printed inline at its use, so
generated code reads like the source; any other temporary gets a line of its own.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

from ..diagnostics import DiagnosticError, error
from ..ir import Apply, Assign, Block, Const, For, If, Origin, Place, Var, While
from ..ir.passes import operands_read, sub_blocks, walk

ATOM = 13


@dataclass(frozen=True)
class Infix:
    symbol: str
    prec: int


@dataclass(frozen=True)
class Prefix:
    symbol: str
    prec: int


@dataclass(frozen=True)
class ByPlace:
    """`host` when every argument is a scalar placed at or below `limit` (a plain Python
    value on this target), else `array`: Python's `and` on host flags, `np.logical_and`
    on arrays, `jnp.logical_and` on traced values."""
    limit: Place
    host: "Lowering"
    array: "Lowering"


Lowering = Union[str, Infix, Prefix, ByPlace, Callable[..., str]]


@dataclass(frozen=True)
class Target:
    name: str                         # "numpy", "jax", ...
    ns: str                           # the array namespace in generated code: "np", "jnp"
    table: dict[str, Lowering]
    axis: str = "axis"                # how reductions spell the axis keyword ("dim" in torch)
    update: bool = False              # an optimizer's step returns the param's update (optax's contract)

    @property
    def keep(self) -> frozenset:
        """The builtins this target lowers itself: composites among them are not decomposed."""
        return frozenset(self.table)


def check_lowerable(target: Target, methods) -> None:
    """Every op has a lowering on this target: else a diagnostic naming builtin, target, span."""
    from ..ir.passes import method_blocks
    diags = []
    for m in [x for top in methods for x in [top] + [r.method for r in getattr(top, "rules", ())]
              + ([top.before] if getattr(top, "before", None) is not None else [])]:
        for block in method_blocks(m):
            for s in walk(block):
                if isinstance(s, Assign) and isinstance(s.op, Apply) and s.op.fn not in target.table:
                    diags.append(error("E0401", f"`{s.op.fn}` has no lowering on target `{target.name}`", s.span,
                                       hint=f"use another builtin here, or compile for a target that has "
                                            f"`{s.op.fn}`"))
    if diags:
        raise DiagnosticError(diags)


def _const(v: Const, ns: str) -> tuple[str, int]:
    if isinstance(v.value, bool):
        return ("True" if v.value else "False"), ATOM
    if isinstance(v.value, float) and math.isinf(v.value):
        return (f"{ns}.inf" if v.value > 0 else f"-{ns}.inf"), (ATOM if v.value > 0 else 11)
    text = repr(v.value)
    return text, (11 if text.startswith("-") else ATOM)


class Namer:
    """Python names of IR values, and which temporaries print inline (see module doc)."""

    def __init__(self, hyper_prefix: str = "hp."):
        self.hyper_prefix = hyper_prefix
        self.inline: dict[str, Apply] = {}
        self.keep: set[str] = set()              # values that must get a line of their own (phase crossings)
        self.override: dict[str, str] = {}       # SSA name -> how to print it here (a list of per-leaf values)

    def name(self, v: Var) -> str:
        if v.name in self.override:
            return self.override[v.name]
        if v.origin == Origin.HYPER:
            return f"{self.hyper_prefix}{v.name}"
        return v.source if v.source is not None else v.name

    def plan(self, block: Block, keep=()) -> None:
        """Decide, for every block of a method, which temporaries print inline (never those
        in `keep`: values that cross from one phase of a step to another)."""
        self.keep |= set(keep)
        uses: dict[str, int] = {}
        for s in walk(block):
            for v in operands_read(s):
                if isinstance(v, Var):
                    uses[v.name] = uses.get(v.name, 0) + 1
        self._count(block, uses)
        self._plan(block, uses)

    def _count(self, block: Block, uses) -> None:
        for y in block.yields:
            if isinstance(y, Var):
                uses[y.name] = uses.get(y.name, 0) + 1
        for s in block.stmts:
            for b in sub_blocks(s):
                self._count(b, uses)

    def _plan(self, block: Block, uses) -> None:
        pending: dict[str, tuple[Apply, set[str]]] = {}      # temp -> (op, source names it reads)
        for s in block.stmts:
            reads = [v for v in operands_read(s) if isinstance(v, Var)]
            here = list(reads)
            if not isinstance(s, Assign):
                here += [y for b in sub_blocks(s) for y in b.yields if isinstance(y, Var)]
            for v in reads:
                if v.name in pending:
                    self.inline[v.name] = pending.pop(v.name)[0]
            rebound = set()
            if isinstance(s, Assign) and s.target.source is not None:
                rebound.add(s.target.source)
            for r in getattr(s, "results", ()):
                rebound.add(r.source)
            for b in sub_blocks(s):
                self._plan(b, uses)
                for inner in walk(b):
                    if isinstance(inner, Assign) and inner.target.source is not None:
                        rebound.add(inner.target.source)
            for name in [n for n, (_, srcs) in pending.items() if srcs & rebound]:
                pending.pop(name)                            # would read a newer value: keep its line
            if isinstance(s, Assign) and isinstance(s.op, Apply) and s.target.source is None \
                    and uses.get(s.target.name, 0) == 1 and s.target.name not in self.keep:
                pending[s.target.name] = (s.op, self._sources(s.op))
        for y in block.yields:
            if isinstance(y, Var) and y.name in pending:
                self.inline[y.name] = pending.pop(y.name)[0]

    def _sources(self, op: Apply) -> set[str]:
        out = set()
        for a in op.args:
            if isinstance(a, Var):
                if a.name in self.inline:
                    out |= self._sources(self.inline[a.name])
                elif a.source is not None and a.origin != Origin.HYPER:
                    out.add(a.source)
        return out

    def printed(self, s) -> bool:
        """Whether a statement gets a line of its own (inlined temporaries do not)."""
        return not (isinstance(s, Assign) and s.target.name in self.inline)


class ExprPrinter:
    def __init__(self, target: Target, namer: Namer):
        self.target = target
        self.namer = namer
        self.host_limit: Optional[Place] = None     # overrides every ByPlace limit while set

    def __call__(self, v) -> str:
        return self.print(v)[0]

    def print(self, v) -> tuple[str, int]:
        if isinstance(v, Const):
            return _const(v, self.target.ns)
        if isinstance(v, Var):
            if v.name in self.namer.inline:
                return self.apply(self.namer.inline[v.name])
            return self.namer.name(v), ATOM
        if isinstance(v, Apply):
            return self.apply(v)
        raise AssertionError(f"cannot print {type(v).__name__}")

    def _place(self, v) -> Place:
        if isinstance(v, Var):
            return v.place         # inlined or not: a reduction of a tensor is a scalar (LEAF)
        return Place.STATIC

    def apply(self, v: Apply) -> tuple[str, int]:
        low = self.target.table[v.fn]
        if isinstance(low, ByPlace):
            limit = low.limit if self.host_limit is None else self.host_limit
            host = all(a.type.is_scalar and self._place(a) <= limit for a in v.args)
            low = low.host if host else low.array
        kw = dict(v.kw)
        if isinstance(low, Infix):
            (a, pa), (b, pb) = self.print(v.args[0]), self.print(v.args[1])
            right_assoc = low.symbol == "**"
            comparison = low.prec == 4
            if pa < low.prec or (right_assoc and pa <= low.prec) or (comparison and pa <= low.prec):
                a = f"({a})"
            if pb < low.prec or (not right_assoc and pb <= low.prec):
                b = f"({b})"
            return f"{a} {low.symbol} {b}", low.prec
        if isinstance(low, Prefix):
            a, pa = self.print(v.args[0])
            if pa < low.prec:
                a = f"({a})"
            return f"{low.symbol}{a}", low.prec
        args = [self.print(a)[0] for a in v.args]
        if callable(low):
            return low(args, kw, [a.type for a in v.args], v.type), ATOM
        axis = kw.get("axis")
        index = ", ".join(kw.get("index", ()))
        if "{0}[" in low or "{0}." in low:
            p0 = self.print(v.args[0])
            args[0] = p0[0] if p0[1] >= ATOM else f"({p0[0]})"
        keep = ", keepdims=True" if kw.get("keepdims") and axis is not None else ""
        axis_kw = (f", {self.target.axis}={axis}" if axis is not None else "") + keep
        return low.format(*args, axis_kw=axis_kw, index=index, ns=self.target.ns), ATOM

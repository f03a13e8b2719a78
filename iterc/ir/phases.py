"""Phases: an optimizer's step cut around its model-wide values.

A step is written for one leaf of the parameter tree. `total(s)` (and `global_norm`,
which decomposes into it) reads `s` on *every* leaf, and a `shared state` is one value
for the whole tree, so a step that uses them cannot run leaf by leaf from start to end.
`split_phases` cuts such a step into a sequence of

    model prologue -> leaf phase 1 -> model segment -> leaf phase 2 -> ... [-> model segment]

where a *leaf phase* runs once per leaf (every backend loops over leaves, or runs one
foreach pass or one kernel, per phase) and a *model segment* runs once per step on
model-wide scalars only: hypers, `t`, a `value` oracle, shared states, and the results
of `total`, which adds up the per-leaf partials that the leaf phase before it stored.

Scheduling. Every value is *per leaf* (it reads the param, a per-leaf state, a tensor
oracle, a dimension, or another per-leaf value; tensors always are) or *model-wide*
(everything else; `total` is model-wide whatever it reads). Levels number the parts:
0 is the model prologue, odd levels are leaf phases, even levels model segments. Each
top-level statement goes to the earliest level of its kind (odd for per-leaf work, even
for model-wide work) at or after the levels of the values it reads (`total(s)`: one
after the level of `s`), so model statements that need no `total` (`lr / (1 - b1^t)`)
land in the prologue and a method stays one leaf phase until it really needs a second.
Backends print SSA values under their `.iter` names, so a statement that rebinds a name
never moves before an earlier statement that reads or binds that name (write after read
and write after write).

Regions. An `if` whose condition is the same on every leaf (not per leaf) and that
holds both per-leaf work and a `total` or a shared-state write is cut into one `if` per
level it spans, on the same condition; values that one piece makes and a later one
reads become results of the piece (the other branch yields the name's current value, or
a zero when it has none). The checker rejects what cannot be cut: a `total` or a
shared-state write under a per-leaf condition (no single meaning), and a loop that
would have to be cut (E0221). Every other region runs whole in one part.

Crossings. Each phase records the per-leaf values it reads that were made before it
(`loads`: the method's per-leaf inputs, or values an earlier leaf phase stored) and the
per-leaf values it makes that something later reads (`stores`: a later leaf phase, a
`total` in a later segment, or the step's yields). Placements are made exact on the
way: a per-leaf scalar is LEAF, a model-wide one at most MODEL.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Optional

from ..builtins import REGISTRY, Kind
from .lower import Names
from .nodes import (Apply, Assign, Block, Const, For, If, OptimizerIR, Origin, Phase, Place, Var, While)
from .passes import Rewriter, all_names, operands_read, sub_blocks, walk


def is_model_op(s) -> bool:
    return isinstance(s, Assign) and isinstance(s.op, Apply) and REGISTRY[s.op.fn].kind == Kind.MODEL


def is_model_wide(m) -> bool:
    """Does the step read a model-wide value (a shared state, or a `total`)?"""
    if not isinstance(m, OptimizerIR):
        return False
    return any(s.shared for s in m.states) or any(is_model_op(s) for s in walk(m.body))


# ---------------------------------------------------------------- what a statement defines and reads

def defined(s) -> list[Var]:
    """The Vars a top-level statement binds for the statements after it."""
    if isinstance(s, Assign):
        return [s.target]
    return list(s.results)


def inner_defined(s) -> list[Var]:
    """Every Var bound anywhere inside a statement, itself included."""
    out = list(defined(s))
    if isinstance(s, For):
        out.append(s.var)
    if isinstance(s, While) and s.counter is not None:
        out.append(s.counter)
    out += list(getattr(s, "params", ()))
    for b in sub_blocks(s):
        for inner in b.stmts:
            out += inner_defined(inner)
    return out


def free_vars(s) -> list[Var]:
    """The Vars a statement reads (at any depth) that are bound outside it."""
    bound = {v.name for v in inner_defined(s)} - {v.name for v in defined(s)}
    out: dict[str, Var] = {}

    def visit(stmt):
        for v in operands_read(stmt):
            if isinstance(v, Var) and v.name not in bound:
                out.setdefault(v.name, v)
        for b in sub_blocks(stmt):
            for inner in b.stmts:
                visit(inner)
            for y in b.yields:
                if isinstance(y, Var) and y.name not in bound:
                    out.setdefault(y.name, y)
    visit(s)
    return list(out.values())


def names_written(s) -> set[str]:
    """The `.iter` names a statement binds, at any depth."""
    return {v.source for v in inner_defined(s) if v.source is not None}


def contains_model_op(s) -> bool:
    return is_model_op(s) or any(is_model_op(x) for b in sub_blocks(s) for x in walk(b))


# ---------------------------------------------------------------- which values are per leaf

class _LeafValues:
    """The SSA names of per-leaf values: per-leaf inputs, tensors, versions of the param
    and of per-leaf states, anything computed from them, and results of regions whose
    condition, bounds or yields are per leaf. `total` results never are."""

    def __init__(self, m: OptimizerIR, exact_places: bool = False):
        # After split_phases, placements are exact: a copy placed LEAF is a per-leaf
        # partial of a `total` (`_part = 1`). Before it, lowering places copies loosely.
        self.exact_places = exact_places
        self.slots = {m.param.name} | {s.name for s in m.states if not s.shared}
        self.names: set[str] = set(self.slots) | {d.name for d in m.dims}
        self.names |= {o.var.name for o in m.oracles if o.kind != "value"}
        self.block(m.body)

    def __contains__(self, v) -> bool:
        return isinstance(v, Var) and v.name in self.names

    def mark(self, v: Var, leaf: bool) -> None:
        if leaf or v.type.shape != () or v.source in self.slots:
            self.names.add(v.name)

    def block(self, b: Block) -> None:
        for s in b.stmts:
            self.stmt(s)

    def stmt(self, s) -> None:
        if isinstance(s, Assign):
            args = s.op.args if isinstance(s.op, Apply) else (s.op,)
            copy_per_leaf = self.exact_places and not isinstance(s.op, Apply) and s.target.place == Place.LEAF
            self.mark(s.target, copy_per_leaf or (not is_model_op(s) and any(a in self for a in args)))
        elif isinstance(s, If):
            self.block(s.then)
            self.block(s.orelse)
            for r, a, b in zip(s.results, s.then.yields, s.orelse.yields):
                self.mark(r, s.cond in self or a in self or b in self)
        else:
            per_leaf_trip = (s.lo in self or s.hi in self) if isinstance(s, For) else s.max_iter in self
            for p, init in zip(s.params, s.inits):
                self.mark(p, per_leaf_trip or init in self)
            while True:                              # a carried value is per leaf if any round makes it so
                before = len(self.names)
                self.block(s.body)
                for p, y in zip(s.params, s.body.yields):
                    self.mark(p, y in self)
                if isinstance(s, While) and s.body.yields and s.body.yields[-1] in self:
                    for p in s.params:               # a per-leaf stopping test: per-leaf trip counts
                        self.mark(p, True)
                if len(self.names) == before:
                    break
            for p, r in zip(s.params, s.results):
                self.mark(r, p in self)

    def work(self, s) -> bool:
        """Does the statement do per-leaf work (bind a per-leaf value, or branch or loop on
        one, anywhere inside)? A `total` reads per-leaf values but is model-wide work."""
        if isinstance(s, Assign):
            if s.target in self:
                return True
            args = s.op.args if isinstance(s.op, Apply) else (s.op,)
            return not is_model_op(s) and any(a in self for a in args)
        if any(v in self for v in inner_defined(s)):
            return True
        if any(v in self for v in operands_read(s)):      # a per-leaf condition, bounds or initial value
            return True
        for b in sub_blocks(s):
            if any(y in self for y in b.yields) or any(self.work(x) for x in b.stmts):
                return True                              # it hands on or computes a per-leaf value
        return False


# ---------------------------------------------------------------- the pass

class _Splitter:
    def __init__(self, m: OptimizerIR):
        self.m = m
        self.leaf = _LeafValues(m)
        self.names = Names(all_names(m) | {m.param.name} | {s.name for s in m.states} |
                           {o.var.name for o in m.oracles})
        self.shared = {s.name for s in m.states if s.shared}
        self.subst = Rewriter()                      # values replaced by cut regions' results
        self.level: dict[str, int] = {}              # SSA name -> the level where it is available
        for v in [m.param.var] + [s.var for s in m.states] + [o.var for o in m.oracles] + list(m.dims):
            self.level[v.name] = 1 if v in self.leaf else 0
        self.last_read: dict[str, int] = {}          # .iter name -> the latest level that reads it
        self.last_write: dict[str, int] = {}         # .iter name -> the latest level that binds it
        self.env: dict[str, Var] = {}                # .iter name -> its current version (top level)
        for v in [m.param.var] + [s.var for s in m.states]:
            self.env[v.source or v.name] = v

    def rewrite(self, s):
        """`s` with the values that cut regions replaced by their pieces' results, except
        inside `s` itself: what it binds, it reads as itself."""
        inner = {v.name for v in inner_defined(s)}
        saved = {n: self.subst.subst.pop(n) for n in inner if n in self.subst.subst}
        try:
            return self.subst.stmt(s)[0]
        finally:
            self.subst.subst.update(saved)

    # ------------------------------------------------------------ levels

    def level_of(self, v) -> int:
        return self.level.get(v.name, 0) if isinstance(v, Var) else 0

    def place(self, s, floor: int) -> int:
        """The earliest level for `s`: after what it reads and what it must not overtake."""
        base = floor
        for v in free_vars(s):
            base = max(base, self.level_of(v))
        if is_model_op(s):
            base = max(base, self.level_of(s.op.args[0]) + 1)
        for n in names_written(s):
            base = max(base, self.last_read.get(n, 0), self.last_write.get(n, 0))
        odd = self.leaf.work(s)
        if (base % 2 == 1) != odd:
            base += 1
        return base

    def record(self, s, level: int) -> None:
        for v in defined(s):
            self.level[v.name] = level
        for v in free_vars(s):
            if v.source is not None:
                self.last_read[v.source] = max(self.last_read.get(v.source, 0), level)
        for n in names_written(s):
            self.last_write[n] = max(self.last_write.get(n, 0), level)

    # ------------------------------------------------------------ blocks

    def needs_cut(self, s) -> bool:
        """A region that works per leaf and also makes model-wide values (a `total`, a
        shared state, a `var` that later model-wide work reads) runs in several parts."""
        if isinstance(s, Assign) or not self.leaf.work(s):
            return False
        model = contains_model_op(s) or bool(names_written(s) & self.shared)
        if isinstance(s, If) and s.cond not in self.leaf:
            model = model or any(r not in self.leaf for r in s.results)
        if not model:
            return False
        if not isinstance(s, If) or s.cond in self.leaf:
            raise AssertionError(f"{self.m.name}: a model-wide value inside a region that runs per leaf "
                                 f"(the checker reports this as E0221)")
        return True

    def block(self, stmts, floor: int) -> list[tuple[int, object]]:
        """Schedule a block's statements, in program order: (level, statement) pairs; a
        region that must be cut becomes several statements."""
        out = []
        for s in stmts:
            s = self.rewrite(s)
            if self.needs_cut(s):
                out += self.cut(s, floor)
                continue
            level = self.place(s, floor)
            self.record(s, level)
            for v in defined(s):
                if level % 2 == 1:             # made once per leaf: per leaf from here on
                    self.leaf.mark(v, True)
                if v.source is not None:
                    self.env[v.source] = v
            out.append((level, s))
        return out

    # ------------------------------------------------------------ cutting an `if`

    def cut(self, s: If, floor: int) -> list[tuple[int, object]]:
        """One `if` per level the branches span, all on the same (model-wide) condition."""
        floor = max(floor, self.level_of(s.cond))
        env_before = dict(self.env)
        then = self.block(s.then.stmts, floor)
        self.env = dict(env_before)
        orelse = self.block(s.orelse.stmts, floor)
        self.env = env_before
        keep = [y for y in s.then.yields + s.orelse.yields if isinstance(y, Var)]
        sunk = _sink(then + orelse, keep, self.leaf, model_too=True, shared=self.shared)   # fewer pieces
        then, orelse = sunk[:len(then)], sunk[len(then):]
        levels = sorted({lv for lv, _ in then} | {lv for lv, _ in orelse})
        pieces = []
        for i, lv in enumerate(levels):
            t_stmts = [self.rewrite(x) for l2, x in then if l2 == lv]
            e_stmts = [self.rewrite(x) for l2, x in orelse if l2 == lv]
            later = [self.rewrite(x) for l2, x in then + orelse if l2 > lv]
            needed = {v.name for x in later for v in free_vars(x)}
            needed |= {y.name for y in map(self.subst.operand, s.then.yields + s.orelse.yields)
                       if isinstance(y, Var)}
            for level, piece in self.piece(s, lv, t_stmts, e_stmts, needed):
                self.record(piece, level)
                pieces.append((level, piece))
        for r in s.results:                          # after the pieces, each name holds its final value
            self.subst.subst[r.name] = self.env[r.source]
            self.level[r.name] = self.level_of(self.env[r.source])
        return pieces

    def piece(self, s: If, lv: int, t_stmts, e_stmts, needed: set[str]) -> list:
        """The `if` of level `lv` (and, for a model-wide piece that sets a name whose value
        on the other branch is per leaf, the per-leaf `if` right after it that merges the
        two: a model segment cannot hold a per-leaf value)."""
        t_out = [v for x in t_stmts for v in defined(x) if v.name in needed]
        e_out = [v for x in e_stmts for v in defined(x) if v.name in needed]
        groups: dict[object, list[Optional[Var]]] = {}      # .iter name (or the Var) -> [then value, else value]
        for branch, outs in ((0, t_out), (1, e_out)):
            for v in outs:
                key = v.source if v.source is not None else v.name
                groups.setdefault(key, [None, None])[branch] = v      # the latest version wins
        then_pre, else_pre, then_y, else_y, results = [], [], [], [], []
        merges = []                                  # (name, then value, else value) merged per leaf
        made = {x.name for x in t_out + e_out}
        for key, (tv, ev) in groups.items():
            proto = tv if tv is not None else ev
            current = self.env.get(key) if proto.source is not None else None
            tv = tv if tv is not None else (current or self.zero(proto, then_pre))
            ev = ev if ev is not None else (current or self.zero(proto, else_pre))
            per_leaf = lv % 2 == 1
            if not per_leaf and (tv in self.leaf or ev in self.leaf):
                inner = tv if tv.name in made else ev            # the model-wide value made here
                r = Var(self.names.fresh(f"_{key}"), proto.type, Place.MODEL, Origin.VALUE, None, s.span)
                self.level[r.name] = lv
                zero = self.zero(proto, [])
                then_y.append(inner if inner is tv else zero)
                else_y.append(inner if inner is ev else zero)
                results.append(r)
                self.subst.subst[inner.name] = r
                merges.append((key, proto, r if inner is tv else current, r if inner is ev else current))
                continue
            place = (Place.ELEMENT if proto.type.shape != () else Place.LEAF) if per_leaf else \
                min(max(self.place_of(tv), self.place_of(ev), self.place_of(s.cond)), Place.MODEL)
            name = self.names.fresh(proto.source if proto.source is not None else proto.name)
            r = Var(name, proto.type, place, Origin.VALUE, proto.source, s.span)
            self.leaf.mark(r, per_leaf)
            self.level[r.name] = lv
            then_y.append(tv)
            else_y.append(ev)
            results.append(r)
            for v in (tv, ev):
                if isinstance(v, Var) and v.name in made:
                    self.subst.subst[v.name] = r
            if proto.source is not None:
                self.env[proto.source] = r
        out = [(lv, If(s.cond, Block(tuple(then_pre + t_stmts), tuple(then_y)),
                       Block(tuple(else_pre + e_stmts), tuple(else_y)), tuple(results), s.origin, s.span))]
        if merges:
            merged = []
            for key, proto, tv, ev in merges:
                r = Var(self.names.fresh(key), proto.type, Place.LEAF, Origin.VALUE, key, s.span)
                self.leaf.mark(r, True)
                self.level[r.name] = lv + 1
                self.env[key] = r
                merged.append((r, tv, ev))
            out.append((lv + 1, If(s.cond, Block((), tuple(t for _, t, _ in merged)),
                                   Block((), tuple(e for _, _, e in merged)), tuple(r for r, _, _ in merged),
                                   s.origin, s.span)))
        return out

    @staticmethod
    def place_of(v) -> Place:
        return v.place if isinstance(v, Var) else Place.STATIC

    def zero(self, proto: Var, pre: list):
        """A stand-in for a value the other branch never makes (nothing reads it there)."""
        t = proto.type
        if t.shape == ():
            return Const(False if t.elem == "bool" else (0 if t.elem == "int" else 0.0), t)
        if isinstance(t.shape, tuple):
            op = Apply("zeros", (), t, (("elem", t.elem), ("shape", t.shape)))
        else:
            op = Apply("zeros_like", (self.m.param.var,), t)
        z = Var(self.names.fresh("_zero"), t, Place.ELEMENT)
        self.leaf.mark(z, True)
        pre.append(Assign(z, op))
        return z

    # ------------------------------------------------------------ the whole step

    def run(self) -> OptimizerIR:
        m = self.m
        body = _leaf_partials(m.body, self.leaf, self.names)
        scheduled = self.block(body.stmts, 0)
        yields = tuple(self.subst.operand(y) for y in body.yields)
        scheduled = _sink(scheduled, yields, self.leaf)
        order = sorted(range(len(scheduled)), key=lambda i: (scheduled[i][0], i))
        groups: list[tuple[int, list]] = []
        for i in order:
            lv, s = scheduled[i]
            kind = lv % 2
            if groups and groups[-1][0] % 2 == kind:
                groups[-1][1].append(s)
            else:
                groups.append((lv, [s]))
        relabel = _Relabel(self.leaf)
        groups = [(lv, [relabel.stmt(s)[0] for s in stmts]) for lv, stmts in groups]
        yields = tuple(relabel.operand(y) for y in yields)
        groups, yields = self.rename_clashes(groups, yields)
        phases = self.crossings(groups, yields)
        stmts = tuple(s for p in phases for s in p.stmts)
        return replace(m, body=Block(stmts, yields), phases=phases)

    def rename_clashes(self, groups, yields):
        """A leaf phase runs once per leaf: a model-wide value it reads must still be there
        for the next leaf. When the phase also rebinds that value's `.iter` name (`var a =
        0.0` in the prologue, `a <- a + 1` per leaf), the model-wide value takes a name of
        its own (`a_model`), so that backends printing values by name keep both."""
        renamed: dict[str, str] = {}
        for lv, stmts in groups:
            if lv % 2 == 0:
                continue
            made = {v.name for s in stmts for v in defined(s)}
            written = set().union(*(names_written(s) for s in stmts)) if stmts else set()
            for s in stmts:
                for v in free_vars(s):
                    if v not in self.leaf and v.name not in made and v.source in written \
                            and v.origin == Origin.VALUE:
                        renamed.setdefault(v.name, self.names.fresh(f"{v.source}_model"))
        if not renamed:
            return groups, yields
        rename = _Rename(renamed)
        groups = [(lv, [rename.stmt(s)[0] for s in stmts]) for lv, stmts in groups]
        return groups, tuple(rename.operand(y) for y in yields)

    def crossings(self, groups, yields) -> tuple[Phase, ...]:
        """Which per-leaf values each phase loads, and which it stores for later."""
        reads = []
        for lv, stmts in groups:
            made = {v.name for s in stmts for v in defined(s)}
            got: dict[str, Var] = {}
            for s in stmts:
                for v in free_vars(s):
                    if v in self.leaf and v.name not in made:
                        got.setdefault(v.name, v)
            reads.append(list(got.values()))
        phases = []
        for i, (lv, stmts) in enumerate(groups):
            kind = "leaf" if lv % 2 == 1 else "model"
            later = {v.name for r in reads[i + 1:] for v in r} | {y.name for y in yields if isinstance(y, Var)}
            stores = tuple(v for s in stmts for v in defined(s) if v.name in later and v in self.leaf) \
                if kind == "leaf" else ()
            phases.append(Phase(kind, tuple(stmts), tuple(reads[i]), stores))
        return tuple(phases)


def _sink(scheduled: list, yields, leaf: _LeafValues, model_too: bool = False, shared=frozenset()) -> list:
    """Move per-leaf work that only a later leaf phase reads into that phase: its inputs
    cross phases instead of its result (`u = a * m` read after a `total`: `m` is stored
    anyway, `u` would be one more tensor per leaf). Only where nothing that runs in
    between touches a name it reads or binds. With `model_too` (inside a cut `if`), a
    model-wide scalar that only a later leaf phase reads moves there too, so that the
    pieces of the `if` do not hand it over as a result."""
    out = list(scheduled)
    keep = {y.name for y in yields if isinstance(y, Var)}
    changed = True
    while changed:
        changed = False
        users: dict[str, list[int]] = {}
        for i, (_, s) in enumerate(out):
            for v in free_vars(s):
                users.setdefault(v.name, []).append(i)
        for i in reversed(range(len(out))):
            lv, s = out[i]
            if lv % 2 == 0:
                if not model_too or contains_model_op(s) or names_written(s) & shared:
                    continue
            elif not leaf.work(s):
                continue
            outs = [v.name for v in defined(s)]
            if not outs or any(n in keep for n in outs):
                continue
            use = [j for n in outs for j in users.get(n, [])]
            if not use or any(out[j][0] <= lv or out[j][0] % 2 == 0 for j in use):
                continue
            target = min(out[j][0] for j in use)
            reads = {v.source for v in free_vars(s) if v.source is not None}
            writes = names_written(s)
            between = [t for j, (l2, t) in enumerate(out)
                       if j != i and ((lv < l2 < target) or (l2 == lv and j > i) or (l2 == target and j < i))]
            if any(names_written(t) & (reads | writes) or {v.source for v in free_vars(t)} & writes
                   for t in between):
                continue
            out[i] = (target, s)
            changed = True
            break
    return out


def _leaf_partials(body: Block, leaf: _LeafValues, names: Names) -> Block:
    """`total(c)` of a value that is the same on every leaf (`total(1)` counts the leaves),
    or of a dimension (`total(n)`): copy `c` per leaf first, so that every `total` adds up
    what a leaf phase stored."""

    def block(b: Block) -> Block:
        out = []
        for s in b.stmts:
            if is_model_op(s) and s.target in leaf:        # `r <- total(...)` for a per-leaf state r
                value = Var(names.fresh(f"_{s.op.fn}"), s.target.type, Place.MODEL)
                out.append(Assign(value, s.op, s.span))
                s = Assign(s.target, value, s.span)
            arg = s.op.args[0] if is_model_op(s) else None
            if arg is not None and (arg not in leaf or (isinstance(arg, Var) and arg.origin == Origin.DIM)):
                part = Var(names.fresh("_part"), arg.type, Place.LEAF)
                leaf.names.add(part.name)
                out.append(Assign(part, arg, s.span))
                s = Assign(s.target, replace(s.op, args=(part,)), s.span)
            elif isinstance(s, If):
                s = replace(s, then=block(s.then), orelse=block(s.orelse))
            elif isinstance(s, (For, While)):
                s = replace(s, body=block(s.body))
            out.append(s)
        return Block(tuple(out), b.yields)
    return block(body)


class _Relabel(Rewriter):
    """Exact placements in a phased step: a per-leaf scalar is LEAF (not STEP or MODEL
    because it also reads a model-wide value), a model-wide value at most MODEL (a loop
    parameter is LEAF by default). STATIC stays STATIC (a dimension is fixed per leaf)."""

    def __init__(self, leaf: _LeafValues):
        super().__init__()
        self.leaf = leaf

    def operand(self, v):
        """The relabelled Var of the same name (one lookup: names do not change here)."""
        return self.subst.get(v.name, v) if isinstance(v, Var) else v

    def fix(self, v: Var) -> Var:
        place = v.place
        if v.type.shape != ():
            place = Place.ELEMENT
        elif v in self.leaf:
            place = Place.LEAF if place in (Place.STEP, Place.MODEL, Place.ELEMENT) else place
        elif place > Place.MODEL:
            place = Place.MODEL
        if place == v.place:
            return v
        new = replace(v, place=place)
        self.subst[v.name] = new
        return new

    def assign(self, s: Assign) -> list:
        return [Assign(self.fix(s.target), s.op, s.span)]

    def region(self, s) -> list:
        if isinstance(s, For):
            s = replace(s, params=tuple(self.fix(p) for p in s.params))
        elif isinstance(s, While):
            s = replace(s, params=tuple(self.fix(p) for p in s.params))
        s = super().region(s)[0]
        return [replace(s, results=tuple(self.fix(r) for r in s.results))]


class _Rename(_Relabel):
    """Give some values another `.iter` name (see `_Splitter.rename_clashes`)."""

    def __init__(self, sources: dict[str, str]):
        Rewriter.__init__(self)
        self.sources = sources

    def fix(self, v: Var) -> Var:
        if v.name not in self.sources:
            return v
        new = replace(v, source=self.sources[v.name])
        self.subst[v.name] = new
        return new


def split_phases(m):
    """Cut a step that reads model-wide values into phases (see the module doc); any other
    method is returned as it is."""
    if not is_model_wide(m):
        return m
    return _Splitter(m).run()


def model_composites() -> frozenset:
    """Composites that reduce over the model (`global_norm`): decomposed before the split."""
    return frozenset(n for n, e in REGISTRY.items() if e.kind == Kind.MODEL and not e.primitive)

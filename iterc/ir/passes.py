"""Passes over the IR, and the one walk/rewrite utility they (and the backends) share.

`Rewriter` rebuilds a block statement by statement, applying a substitution of operands
as it goes (SSA names are unique, so one map serves the whole method); a pass overrides
`assign` and/or `region`. Passes here: common-subexpression elimination (`cse`),
dead-code elimination (`dce`), decomposition of composites into primitives
(`decompose`) and the static liveness of states (`state_liveness`). `optimize` is the
pipeline every backend runs; the verifier may run between passes.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterator, Optional

from ..builtins import REGISTRY, Kind, result_type
from ..types import BOOL, INT, REAL, Type
from .lower import Names, place_of
from .nodes import (Apply, Assign, Block, Const, For, If, ModuleIR, Operand, OptimizerIR, Place, SolverIR, Var,
                    While)


# ---------------------------------------------------------------- walking

def sub_blocks(stmt) -> tuple[Block, ...]:
    if isinstance(stmt, If):
        return (stmt.then, stmt.orelse)
    if isinstance(stmt, (For, While)):
        return (stmt.body,)
    return ()


def walk(block: Block) -> Iterator:
    """Every statement of a block, regions before their contents (pre-order)."""
    for s in block.stmts:
        yield s
        for b in sub_blocks(s):
            yield from walk(b)


def operands_read(stmt) -> tuple[Operand, ...]:
    """What a statement reads at its own level (not inside its blocks)."""
    if isinstance(stmt, Assign):
        return stmt.op.args if isinstance(stmt.op, Apply) else (stmt.op,)
    if isinstance(stmt, If):
        return (stmt.cond,)
    if isinstance(stmt, For):
        return (stmt.lo, stmt.hi) + stmt.inits
    if isinstance(stmt, While):
        return (stmt.max_iter,) + stmt.inits
    return ()


def method_blocks(m) -> list[Block]:
    """Every top-level block of a method: hyper defaults and conditions, inits, periods, body."""
    out = []
    for h in m.hypers:
        if h.default is not None:
            out.append(h.default)
        out += [b for _, b in h.conditions]
    if isinstance(m, OptimizerIR):
        out += [s.init for s in m.states if s.init is not None]
        out += [o.every for o in m.oracles if o.every is not None]
        out.append(m.body)
        if m.eval is not None:
            out.append(m.eval)
    else:
        out.append(m.init)
        out.append(Block((m.loop,), ()))
    out += [b for _, b in m.periods] + [b for _, b in getattr(m, "live", ())]
    return out


def all_names(m) -> set[str]:
    names = {h.name for h in m.hypers} | {d.name for d in m.dims} | {m.counter.name}
    for b in method_blocks(m):
        for s in walk(b):
            if isinstance(s, Assign):
                names.add(s.target.name)
            else:
                names |= {v.name for v in getattr(s, "results", ())} | {v.name for v in getattr(s, "params", ())}
                if isinstance(s, For):
                    names.add(s.var.name)
    return names


class Rewriter:
    """Rebuild blocks statement by statement, substituting operands (`self.subst`)."""

    def __init__(self):
        self.subst: dict[str, Operand] = {}

    def operand(self, v: Operand) -> Operand:
        while isinstance(v, Var) and v.name in self.subst:
            v = self.subst[v.name]
        return v

    def op(self, op):
        if isinstance(op, Apply):
            return replace(op, args=tuple(self.operand(a) for a in op.args))
        return self.operand(op)

    def block(self, block: Block) -> Block:
        out: list = []
        for s in block.stmts:
            out.extend(self.stmt(s))
        return Block(tuple(out), tuple(self.operand(y) for y in block.yields))

    def stmt(self, s) -> list:
        if isinstance(s, Assign):
            return self.assign(Assign(s.target, self.op(s.op), s.span))
        if isinstance(s, If):
            s = replace(s, cond=self.operand(s.cond))
        elif isinstance(s, For):
            s = replace(s, lo=self.operand(s.lo), hi=self.operand(s.hi), inits=tuple(map(self.operand, s.inits)))
        elif isinstance(s, While):
            s = replace(s, max_iter=self.operand(s.max_iter), inits=tuple(map(self.operand, s.inits)))
        return self.region(s)

    def region(self, s) -> list:
        if isinstance(s, If):
            return [replace(s, then=self.block(s.then), orelse=self.block(s.orelse))]
        if isinstance(s, While):               # observed values live in the body's scope
            body = self.block(s.body)
            return [replace(s, body=body, observe=tuple(map(self.operand, s.observe)))]
        return [replace(s, body=self.block(s.body))]

    def assign(self, s: Assign) -> list:
        return [s]

    def method(self, m):
        """The method with every block rewritten."""
        hypers = tuple(replace(h, default=self.block(h.default) if h.default is not None else None,
                               conditions=tuple((t, self.block(b)) for t, b in h.conditions)) for h in m.hypers)
        common = dict(hypers=hypers, periods=tuple((t, self.block(b)) for t, b in m.periods))
        if isinstance(m, OptimizerIR):
            states = tuple(replace(s, init=self.block(s.init)) for s in m.states)
            oracles = tuple(replace(o, every=self.block(o.every) if o.every is not None else None)
                            for o in m.oracles)
            return replace(m, states=states, oracles=oracles, body=self.block(m.body),
                           live=tuple((n, self.block(b)) for n, b in m.live),
                           eval=self.block(m.eval) if m.eval is not None else None, **common)
        init = self.block(m.init)
        loop = self.stmt(m.loop)[0]
        outputs = tuple((n, self.operand(v)) for n, v in m.outputs)
        return replace(m, init=init, loop=loop, outputs=outputs, **common)


# ---------------------------------------------------------------- CSE

def _key(op) -> Optional[tuple]:
    """What makes two ops the same computation. Views (`x[:, None]`, `x.T`) and per-step
    scalars (`1 - beta1`) cost nothing and read better inline, so they are not shared."""
    if not isinstance(op, Apply) or REGISTRY[op.fn].kind == Kind.SHAPE:
        return None
    args = tuple(("v", a.name) if isinstance(a, Var) else ("c", type(a.value).__name__, a.value, a.type)
                 for a in op.args)
    return (op.fn, args, op.kw)


class _CSE(Rewriter):
    """Reuse an earlier identical op. Values computed before a region are visible inside
    it; values computed inside a branch or loop body are not visible after it. A value
    that carries a `.iter` name is reused only while that name still holds it: backends
    print every version of `m` as `m`, so after `m <- m + 1` the earlier `m` is gone."""

    def __init__(self):
        super().__init__()
        self.seen: dict[tuple, Var] = {}
        self.latest: dict[str, str] = {}          # .iter name -> SSA name of its current version

    def bind(self, v: Var) -> None:
        if v.source is not None:
            self.latest[v.source] = v.name

    def assign(self, s: Assign) -> list:
        out = self._assign(s)
        self.bind(s.target)
        return out

    def _assign(self, s: Assign) -> list:
        key = _key(s.op)
        if key is None or s.target.place <= Place.STEP:    # host scalar arithmetic: free, and reads better
            return [s]
        prior = self.seen.get(key)
        if prior is not None and prior.source is not None and self.latest.get(prior.source) != prior.name:
            prior = None                          # its name was rebound since: compute it again
        if prior is None or prior.type != s.target.type:
            self.seen[key] = s.target
            return [s]
        if s.target.source is None:              # a temporary: drop it, read the earlier value
            self.subst[s.target.name] = prior
            return []
        return [Assign(s.target, prior, s.span)]  # a named value: keep the name, share the work

    def region(self, s) -> list:
        for p in getattr(s, "params", ()):      # a loop's body sees its parameters as the names' values
            self.bind(p)
        out = super().region(s)
        for r in out[0].results:
            self.bind(r)
        return out

    def block(self, block: Block) -> Block:
        saved, latest = dict(self.seen), dict(self.latest)
        try:
            return super().block(block)
        finally:
            self.seen, self.latest = saved, latest


def cse(m):
    return _CSE().method(m)


# ---------------------------------------------------------------- DCE

def _names(operands) -> set[str]:
    return {v.name for v in operands if isinstance(v, Var)}


def _dce_block(block: Block, live: set[str]) -> Block:
    """Drop statements whose results nothing reads; `live` gains what the block reads."""
    live |= _names(block.yields)
    kept: list = []
    for s in reversed(block.stmts):
        if isinstance(s, Assign):
            if s.target.name not in live:
                continue
            live |= _names(operands_read(s))
            kept.append(s)
            continue
        if isinstance(s, If):
            keep = [i for i, r in enumerate(s.results) if r.name in live]
            if not keep:
                continue
            then = _prune(s.then, keep)
            orelse = _prune(s.orelse, keep)
            inner_t, inner_e = set(), set()
            then, orelse = _dce_block(then, inner_t), _dce_block(orelse, inner_e)
            s = replace(s, then=then, orelse=orelse, results=tuple(s.results[i] for i in keep))
            live |= inner_t | inner_e | _names((s.cond,))
            kept.append(s)
            continue
        if not any(r.name in live for r in s.results):
            continue
        inner: set[str] = _names(getattr(s, "observe", ()))
        body = _dce_block(s.body, inner)
        s = replace(s, body=body)
        live |= inner | _names(operands_read(s))
        kept.append(s)
    return Block(tuple(reversed(kept)), block.yields)


def _prune(block: Block, keep: list[int]) -> Block:
    return Block(block.stmts, tuple(block.yields[i] for i in keep))


class _DCE(Rewriter):
    def block(self, block: Block) -> Block:
        return _dce_block(block, set())

    def region(self, s) -> list:
        if isinstance(s, While) and s.observe:    # the top-level loop of a solver: keep what it reports
            return [replace(s, body=_dce_block(s.body, _names(s.observe)))]
        return super().region(s)


def dce(m):
    return _DCE().method(m)


# ---------------------------------------------------------------- decomposition

class _Decompose(Rewriter):
    """Rewrite composites into primitives, except those the target lowers itself (`keep`)."""

    def __init__(self, names: Names, keep: frozenset):
        super().__init__()
        self.names = names
        self.keep = keep

    def assign(self, s: Assign) -> list:
        op = s.op
        if not isinstance(op, Apply) or op.fn in self.keep or REGISTRY[op.fn].primitive:
            return [s]
        out: list = []

        def emit(fn, *args, **kw):
            assert REGISTRY[fn].primitive, f"{op.fn} decomposes into the composite {fn}"
            ops = tuple(a if isinstance(a, (Var, Const)) else _const(a) for a in args)
            kw = {k: v for k, v in kw.items() if v is not None}
            t = result_type(fn, [a.type for a in ops], kw)
            target = Var(self.names.fresh(f"_{fn}"), t, place_of(fn, ops, t))
            out.append(Assign(target, Apply(fn, ops, t, tuple(sorted(kw.items()))), s.span))
            return target

        result = REGISTRY[op.fn].decompose(emit, op.args, op.kwargs(), op.type)
        if out and out[-1].target is result:          # the last op computes the result: bind it
            out[-1] = Assign(s.target, replace(out[-1].op, type=s.target.type), s.span)
        else:
            out.append(Assign(s.target, result, s.span))
        return out


def _const(v) -> Const:
    if isinstance(v, bool):
        return Const(v, BOOL)
    if isinstance(v, int):
        return Const(v, INT)
    return Const(float(v), REAL)


def decompose(m, keep: frozenset = frozenset()):
    return _Decompose(Names(all_names(m)), keep).method(m)


# ---------------------------------------------------------------- static liveness of states

def state_liveness(m: OptimizerIR) -> OptimizerIR:
    """For each state touched only under static conditions (`if amsgrad:`), a static block
    saying whether it is used under given hypers; the runtime allocates it only then."""
    defs = {s.target.name: s for s in walk(m.body) if isinstance(s, Assign)}
    names = Names(all_names(m))
    guards: dict[str, list[tuple]] = {s.name: [] for s in m.states}
    always: set[str] = set()

    def visit(block: Block, path: tuple):
        for s in block.stmts:
            touched = set()
            if isinstance(s, Assign):
                if s.target.source in guards:
                    touched.add(s.target.source)
                touched |= {v.source for v in operands_read(s) if isinstance(v, Var) and v.source in guards}
            for name in touched:
                (always.add(name) if not path else guards[name].append(path))
            if isinstance(s, If):
                static = not isinstance(s.cond, Var) or s.cond.place == Place.STATIC
                if static:
                    visit(s.then, path + ((s.cond, True),))
                    visit(s.orelse, path + ((s.cond, False),))
                else:
                    visit(s.then, path)
                    visit(s.orelse, path)
            elif isinstance(s, (For, While)):
                visit(s.body, path)

    visit(m.body, ())
    if m.eval is not None:                 # the eval view reads its states whatever the hypers
        always |= {v.source for s in walk(m.eval) if isinstance(s, Assign)
                   for v in operands_read(s) if isinstance(v, Var) and v.source in guards}
        always |= {v.source for v in m.eval.yields if isinstance(v, Var) and v.source in guards}
    live = []
    for state in m.states:
        name = state.name
        if name in always or not guards[name]:
            continue
        stmts: list = []
        copied: set[str] = set()

        def need(v):
            if not isinstance(v, Var) or v.name in copied or v.name not in defs:
                return
            d = defs[v.name]
            for a in operands_read(d):
                need(a)
            copied.add(v.name)
            stmts.append(d)

        def emit(fn, *args):
            t = result_type(fn, [a.type for a in args], {})
            target = Var(names.fresh(f"_{fn}"), t, Place.STATIC)
            stmts.append(Assign(target, Apply(fn, args, t)))
            return target

        total = None
        for path in dict.fromkeys(guards[name]):
            term = None
            for cond, polarity in path:
                need(cond)
                c = cond if polarity else emit("not", cond)
                term = c if term is None else emit("and", term, c)
            total = term if total is None else emit("or", total, term)
        live.append((name, Block(tuple(stmts), (total,))))
    return replace(m, live=tuple(live))


# ---------------------------------------------------------------- loop-invariant code motion

_NOT_HOISTED = (Kind.LIBRARY, Kind.SPECIAL)     # oracle calls and draws stay where the program makes them


def hoist_invariants(m):
    """A solver's loop-invariant work, done once before its loop.

    A statement at the top level of the solver's loop body is invariant when everything it
    reads is bound before the loop (inputs, hypers, dims, `init` values, or other invariant
    statements): `log(a)`, `C / eps`, `exp(-C / eps)` in a step. The tensor-valued and
    reduced ones (placement LEAF or ELEMENT: the work worth saving) move to the end of
    `init`, with the invariant statements they read; host-scalar arithmetic and views
    (`K.T`) that nothing hoisted needs stay inline, where they read better. The loop runs at least once, so
    nothing is computed that would not have been. Not hoisted: statements inside nested
    regions, function-oracle calls and random draws (LIBRARY ops), and values that carry a
    state's or a carried value's name (the out-of-SSA names would clash). Run last: `init`
    does not read the hoisted values itself, so a later DCE of `init` alone would drop them."""
    if not isinstance(m, SolverIR):
        return m
    loop = m.loop
    variant = {p.name for p in loop.params} | ({loop.counter.name} if loop.counter is not None else set())
    carried = set(m.carried) | {s.name for s in m.states}
    invariant: dict[str, Assign] = {}
    for s in loop.body.stmts:
        if (isinstance(s, Assign) and s.target.source not in carried
                and not (isinstance(s.op, Apply) and REGISTRY[s.op.fn].kind in _NOT_HOISTED)
                and not _names(operands_read(s)) & variant):
            invariant[s.target.name] = s
            continue
        if isinstance(s, Assign):
            variant.add(s.target.name)
        else:
            variant |= {r.name for r in s.results}
    hoist: set[str] = set()

    def need(name: str) -> None:
        if name in invariant and name not in hoist:
            hoist.add(name)
            for v in _names(operands_read(invariant[name])):
                need(v)

    for name, s in invariant.items():
        if s.target.place >= Place.LEAF and not (isinstance(s.op, Apply) and REGISTRY[s.op.fn].kind == Kind.SHAPE):
            need(name)
    if not hoist:
        return m
    moved = tuple(s for s in loop.body.stmts if isinstance(s, Assign) and s.target.name in hoist)
    kept = tuple(s for s in loop.body.stmts if not (isinstance(s, Assign) and s.target.name in hoist))
    return replace(m, init=Block(m.init.stmts + moved, m.init.yields),
                   loop=replace(loop, body=Block(kept, loop.body.yields)))


# ---------------------------------------------------------------- the step as an update

class _ChainBroken(Exception):
    pass


class _UpdateForm:
    """See `update_form`. `delta` maps each version of the param (its SSA name) to the
    update it stands for so far: an operand, or None for "no change yet" (the entry value)."""

    def __init__(self, m: OptimizerIR):
        self.x = m.param.var
        self.names = Names(all_names(m))
        sources = {v.source for b in method_blocks(m) for st in walk(b)
                   for v in ((st.target,) if isinstance(st, Assign) else getattr(st, "results", ()))}
        base, k = f"{self.x.name}_update", 1
        self.source = base
        while self.source in sources or self.source in self.names.taken:
            k += 1
            self.source = f"{base}{k}"
        self.defs = {st.target.name: st for st in walk(m.body) if isinstance(st, Assign)}

    def version(self, v) -> bool:
        return isinstance(v, Var) and (v.name == self.x.name or v.source == self.x.name)

    def emit(self, out: list, fn: str, args: tuple, span, named: bool) -> Var:
        t = result_type(fn, [a.type for a in args], {})
        target = Var(self.names.fresh(self.source if named else f"_{fn}"), t, place_of(fn, args, t),
                     source=self.source if named else None, span=span)
        out.append(Assign(target, Apply(fn, args, t), span))
        return target

    def block(self, block: Block, delta: dict) -> tuple[list, dict]:
        out: list = []
        for st in block.stmts:
            if isinstance(st, Assign):
                if self.version(st.target):
                    delta[st.target.name] = self.step(st, delta, out)
            elif isinstance(st, If):
                st = self.if_(st, delta)
            elif any(self.version(v) for v in st.results) or \
                    any(isinstance(s, Assign) and self.version(s.target) for b in sub_blocks(st) for s in walk(b)):
                raise _ChainBroken                         # a loop carrying the param
            out.append(st)
        return out, delta

    def known(self, v, delta: dict):
        if v.name == self.x.name:
            return None
        if v.name not in delta:
            raise _ChainBroken
        return delta[v.name]

    def step(self, st: Assign, delta: dict, out: list):
        """The update after `st` (a new version of the param), its statements put in `out`
        before `st`, where everything they read is bound and the param not yet rebound."""
        op, t, span = st.op, st.target.type, st.span
        if isinstance(op, Var) and self.version(op):
            return self.known(op, delta)
        if not isinstance(op, Apply) or len(op.args) != 2:
            raise _ChainBroken
        a, b = op.args
        if op.fn == "add" and self.version(b) and not self.version(a):
            a, b = b, a
        if op.fn == "mul" and self.version(b) and not self.version(a):
            a, b = b, a
        if not self.version(a) or self.version(b):
            raise _ChainBroken
        d = self.known(a, delta)
        if op.fn in ("add", "sub"):
            if d is not None:
                return self.emit(out, op.fn, (d, b), span, True)
            if b.type != t:                                # a broadcast scalar: keep `new - old`
                raise _ChainBroken
            return b if op.fn == "add" else self.emit(out, "neg", (b,), span, True)
        if op.fn == "mul" and d is None:                   # x * s = x + x * (s - 1); s = 1 - c gives -c
            sd = self.defs.get(b.name) if isinstance(b, Var) else None
            if sd is not None and isinstance(sd.op, Apply) and sd.op.fn == "sub" \
                    and isinstance(sd.op.args[0], Const) and sd.op.args[0].value == 1:
                s1 = self.emit(out, "neg", (sd.op.args[1],), span, False)
            else:
                s1 = self.emit(out, "sub", (b, Const(1.0, REAL)), span, False)
            return self.emit(out, "mul", (s1, a), span, True)     # the scalar first: `-(lr * wd) * x`
        raise _ChainBroken

    def if_(self, st: If, delta: dict) -> If:
        idx = [i for i, r in enumerate(st.results) if self.version(r)]
        then, dt = self.block(st.then, dict(delta))
        orelse, de = self.block(st.orelse, dict(delta))
        if not idx:
            return replace(st, then=Block(tuple(then), st.then.yields), orelse=Block(tuple(orelse), st.orelse.yields))
        if len(idx) > 1:
            raise _ChainBroken
        i = idx[0]
        if not (self.version(st.then.yields[i]) and self.version(st.orelse.yields[i])):
            raise _ChainBroken
        ut, ue = self.known(st.then.yields[i], dt), self.known(st.orelse.yields[i], de)
        r = st.results[i]
        if ut is None and ue is None:
            delta[r.name] = None
            return replace(st, then=Block(tuple(then), st.then.yields), orelse=Block(tuple(orelse), st.orelse.yields))
        ut = ut if ut is not None else self.emit(then, "zeros_like", (self.x,), st.span, True)
        ue = ue if ue is not None else self.emit(orelse, "zeros_like", (self.x,), st.span, True)
        res = Var(self.names.fresh(self.source), r.type, r.place, source=self.source, span=r.span)
        delta[r.name] = res
        return replace(st, then=Block(tuple(then), st.then.yields + (ut,)),
                       orelse=Block(tuple(orelse), st.orelse.yields + (ue,)), results=st.results + (res,))


def update_form(m):
    """An optimizer whose step yields the param's *update* (new value minus old) instead of
    its new value, for a target whose contract is an update (optax: `update` returns what
    `apply_updates` adds). Along the chain of the param's versions, `x <- x * s` (x the
    entry value) contributes `x * (s - 1)` (`x * -c` when s is `1 - c`), `x <- x - b` and
    `x <- x + b` subtract or add b, and an `if` carries the update through its branches,
    so the update is computed directly: fewer element ops than `new - old`, and no
    subtraction of nearly equal values. Any other step on the chain (a projection, a loop
    carrying the param) leaves the method as it was, for the runtime to subtract; so does
    a step that leaves the param unchanged."""
    if not isinstance(m, OptimizerIR) or m.rules:      # `optimize` gives each rule's method its own
        return m
    y = m.body.yields[0]
    form = _UpdateForm(m)
    try:
        stmts, delta = form.block(m.body, {})
        if not form.version(y):
            raise _ChainBroken
        d = form.known(y, delta)
    except _ChainBroken:
        return m
    if d is None:
        return m
    return replace(m, body=Block(tuple(stmts), (d,) + m.body.yields[1:]), yields_update=True)


# ---------------------------------------------------------------- the pipeline

def optimize(m, verify: Optional[Callable] = None, keep: Optional[frozenset] = None, update: bool = False):
    """CSE, DCE, then (for a target) decomposition of the composites it does not keep;
    for an optimizer, state liveness, and for one that reads model-wide values, the
    decomposition of model-wide composites and the split into phases (phases.py); a
    solver's loop-invariant work then moves before its loop."""
    from .phases import is_model_wide, model_composites, split_phases
    passes = [cse, dce]
    if keep is not None:
        passes += [lambda x: decompose(x, keep), cse, dce]
    if isinstance(m, OptimizerIR):
        passes.append(state_liveness)
        if update:
            passes += [update_form, cse, dce]
        if is_model_wide(m):
            passes += [lambda x: decompose(x, frozenset(REGISTRY) - model_composites()), cse, dce, split_phases]
    else:
        passes.append(hoist_invariants)
    for p in passes:
        m = p(m)
        if verify is not None:
            verify(m)
    if isinstance(m, OptimizerIR) and m.rules:
        m = replace(m, rules=tuple(replace(r, method=optimize(r.method, verify, keep, update)) for r in m.rules),
                    before=optimize(m.before, verify, keep) if m.before is not None else None)
    return m


def optimize_module(module: ModuleIR, verify: Optional[Callable] = None, keep: Optional[frozenset] = None,
                    update: bool = False):
    return ModuleIR(module.source_path, tuple(optimize(m, verify, keep, update) for m in module.methods))

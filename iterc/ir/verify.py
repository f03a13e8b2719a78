"""An internal verifier between passes: catches compiler bugs, not user errors.

Checks SSA form (each name bound once, every operand defined before use in an enclosing
scope), that ops name registry entries and carry types, that regions yield one value per
result (loops: per parameter), and that tensors are placed as ELEMENT. For a phased step
(phases.py): the phases are the body in order and alternate model and leaf; a model
segment computes model-wide scalars only (placed at most MODEL) and reads per-leaf
values only through `total`; every model-wide op sits in a model segment; every per-leaf
value a phase reads from outside it is one of its loads, and a load is a per-leaf input
of the step or a value an earlier leaf phase stored. Runs after every pass in tests and
under ITERC_VERIFY=1.
"""
from __future__ import annotations

from ..builtins import REGISTRY
from ..types import FnType
from .nodes import Apply, Assign, Block, Const, For, If, OptimizerIR, Place, Var, While
from .passes import method_blocks


class IRVerifyError(AssertionError):
    pass


class _Verifier:
    def __init__(self, where: str, base: set[str]):
        self.where = where
        self.bound: set[str] = set(base)

    def fail(self, msg: str):
        raise IRVerifyError(f"{self.where}: {msg}")

    def define(self, v: Var, scope: set[str]) -> None:
        if not isinstance(v, Var):
            self.fail(f"not a Var: {v!r}")
        if v.name in self.bound:
            self.fail(f"%{v.name} is bound twice")
        if isinstance(v.type, FnType):
            self.fail(f"%{v.name} binds a function; only a solver's oracles are functions")
        if v.type.shape != () and v.place != Place.ELEMENT:
            self.fail(f"%{v.name} has shape {v.type} but placement {v.place.name}")
        self.bound.add(v.name)
        scope.add(v.name)

    def use(self, v, scope: set[str]) -> None:
        if isinstance(v, Const):
            return
        if not isinstance(v, Var):
            self.fail(f"not an operand: {v!r}")
        if v.name not in scope:
            self.fail(f"%{v.name} is used where it is not defined")

    def block(self, block: Block, scope: set[str]) -> None:
        scope = set(scope)
        for s in block.stmts:
            if isinstance(s, Assign):
                op = s.op
                if isinstance(op, Apply):
                    if op.fn not in REGISTRY:
                        self.fail(f"unknown builtin {op.fn!r}")
                    if op.type is None:
                        self.fail(f"{op.fn} has no type")
                    for a in op.args:
                        self.use(a, scope)
                    fns = [i for i, a in enumerate(op.args) if isinstance(a.type, FnType)]
                    if fns != ([0] if op.fn == "call" else []):
                        self.fail(f"{op.fn}: a function may only be the first operand of `call`")
                else:
                    self.use(op, scope)
                self.define(s.target, scope)
            elif isinstance(s, If):
                self.use(s.cond, scope)
                for b in (s.then, s.orelse):
                    if len(b.yields) != len(s.results):
                        self.fail(f"if yields {len(b.yields)} values for {len(s.results)} results")
                    self.block(b, scope)
                for r in s.results:
                    self.define(r, scope)
            elif isinstance(s, (For, While)):
                inner = set(scope)
                if isinstance(s, For):
                    self.use(s.lo, scope)
                    self.use(s.hi, scope)
                    self.define(s.var, inner)
                else:
                    self.use(s.max_iter, scope)
                    if not s.params or s.params[-1].type.elem != "bool":
                        self.fail("a while region's last parameter is its stop flag (bool)")
                    if s.counter is not None:
                        self.define(s.counter, inner)
                for i in s.inits:
                    self.use(i, scope)
                if not (len(s.inits) == len(s.params) == len(s.body.yields) == len(s.results)):
                    self.fail(f"loop arity: {len(s.inits)} inits, {len(s.params)} params, "
                              f"{len(s.body.yields)} yields, {len(s.results)} results")
                for p in s.params:
                    self.define(p, inner)
                body_scope = self.block(s.body, inner)
                for v in getattr(s, "observe", ()):
                    self.use(v, body_scope)
                for r in s.results:
                    self.define(r, scope)
            else:
                self.fail(f"not an IR statement: {s!r}")
        for y in block.yields:
            self.use(y, scope)
        return scope


def verify_method(m) -> None:
    where = f"{m.source_path}: {m.name}"
    base = {h.name for h in m.hypers} | {d.name for d in m.dims}
    if isinstance(m, OptimizerIR):
        base |= {m.counter.name, m.param.name} | {s.name for s in m.states} | {o.var.name for o in m.oracles}
        keys = 1 if m.key is not None else 0
        base |= {m.key.name} if m.key is not None else set()
        if len(m.body.yields) != 1 + len(m.states) + keys:
            raise IRVerifyError(f"{where}: the step yields {len(m.body.yields)} values for 1 + {len(m.states)}"
                                f"{' + the key' if keys else ''}")
    else:
        base |= {i.name for i in m.inputs} | {o.var.name for o in m.oracles}
    blocks = method_blocks(m)
    for block in blocks:
        if isinstance(m, OptimizerIR) and block is m.eval:   # no step: no oracles, no counter
            scope = base - {m.counter.name} - {o.var.name for o in m.oracles}
            _Verifier(where + " (eval)", scope).block(block, scope)
            continue
        scope = set(base)
        if not isinstance(m, OptimizerIR) and block is blocks[-1 - len(m.periods)]:
            scope |= {s.target.name for s in m.init.stmts if isinstance(s, Assign)}
        _Verifier(where, scope).block(block, scope)
    if isinstance(m, OptimizerIR) and m.phases:
        _verify_phases(m, where)
    if isinstance(m, OptimizerIR) and m.rules:
        if m.states or m.phases:
            raise IRVerifyError(f"{where}: a method with rules keeps its states in the rules")
        hypers = {h.name for h in m.hypers}
        for r in m.rules:
            verify_method(r.method)
            exports = {s.name for s in m.before.states} if m.before is not None else set()
            if r.delegate is None and {h.name for h in r.method.hypers} != hypers | exports:
                raise IRVerifyError(f"{where}: rule {r.pattern.text()} has other hypers than its method")
            theirs = {h.name for h in r.method.hypers}
            for key, block in r.hyper_map:
                if key not in theirs:
                    raise IRVerifyError(f"{where}: the hyper map gives `{key}`, which {r.delegate} lacks")
                _Verifier(where, set(hypers)).block(block, set(hypers))
        if m.before is not None:
            verify_method(m.before)
            if not m.before.states or not all(s.shared for s in m.before.states):
                raise IRVerifyError(f"{where}: the step before the rules hands on shared states only")
        if sum(r.pattern.rank is None for r in m.rules) > 1:
            raise IRVerifyError(f"{where}: two `otherwise` rules")
    if not isinstance(m, OptimizerIR):
        names = {r.name for r in m.loop.results} | {i.name for i in m.inputs}
        for name, out in m.outputs:
            if isinstance(out, Var) and out.name not in names:
                raise IRVerifyError(f"{where}: output {name} is not a loop result or input")


def verify_module(module) -> None:
    for m in module.methods:
        verify_method(m)


def _verify_phases(m: OptimizerIR, where: str) -> None:
    from .phases import _LeafValues, defined, free_vars, inner_defined, is_model_op, is_model_wide
    from .passes import walk

    def fail(msg):
        raise IRVerifyError(f"{where}: {msg}")

    if not is_model_wide(m):
        fail("phases on a step that reads no model-wide value")
    flat = tuple(s for p in m.phases for s in p.stmts)
    if len(flat) != len(m.body.stmts) or any(a is not b for a, b in zip(flat, m.body.stmts)):
        fail("the phases are not the body's statements in order")
    leaf = _LeafValues(m, exact_places=True)
    for p in m.phases:                            # what a leaf phase makes is per leaf, whatever it is
        if p.kind == "leaf":
            leaf.names |= {v.name for s in p.stmts for v in defined(s)}
    leaf.block(m.body)                            # and so is what is computed from it
    slots = {m.param.name} | {s.name for s in m.states if not s.shared} | \
        {o.var.name for o in m.oracles if o.kind != "value"}
    stored: set[str] = set(slots)                 # per-leaf values a later phase can load
    dims = {d.name for d in m.dims}               # per leaf too, but only a leaf phase reads them
    for i, p in enumerate(m.phases):
        if p.kind not in ("model", "leaf"):
            fail(f"phase {i} has kind {p.kind!r}")
        if i and m.phases[i - 1].kind == p.kind:
            fail(f"phases {i - 1} and {i} are both {p.kind} phases")
        made = {v.name for s in p.stmts for v in defined(s)}
        loads = {v.name for v in p.loads}
        for v in p.loads:
            if v.name not in stored and not (p.kind == "leaf" and v.name in dims):
                fail(f"phase {i} loads %{v.name}, which no earlier leaf phase stored")
        if p.kind == "model":
            if p.stores:
                fail(f"model segment {i} stores per-leaf values")
            for s in p.stmts:
                for v in inner_defined(s):
                    if v.type.shape != () or v.place > Place.MODEL:
                        fail(f"model segment {i} binds %{v.name} placed {v.place.name} ({v.type})")
                through_total = set()
                for x in walk(Block((s,))):
                    if is_model_op(x):
                        through_total |= {a.name for a in x.op.args if isinstance(a, Var)}
                for v in free_vars(s):
                    if v in leaf and v.name not in through_total:
                        fail(f"model segment {i} reads the per-leaf %{v.name} other than through `total`")
                    if v in leaf and v.name not in loads:
                        fail(f"model segment {i} reads %{v.name} without loading it")
        else:
            for s in p.stmts:
                if any(is_model_op(x) for x in walk(Block((s,)))):
                    fail(f"leaf phase {i} computes a model-wide value")
                for v in free_vars(s):
                    if v in leaf and v.name not in made and v.name not in loads:
                        fail(f"leaf phase {i} reads %{v.name} from outside without loading it")
            for v in p.stores:
                if v.name not in made or v not in leaf:
                    fail(f"leaf phase {i} stores %{v.name}, a value it does not make per leaf")
            stored |= {v.name for v in p.stores}
    for slot, y in zip([m.param] + list(m.states), m.body.yields):
        if isinstance(y, Var) and y in leaf and slot.shared:
            fail(f"shared state {slot.name} ends the step with the per-leaf value %{y.name}")
        if isinstance(y, Var) and y in leaf and y.name not in stored:
            fail(f"%{y.name}, the new {slot.name}, is made per leaf but no leaf phase stores it")

"""An internal verifier between passes: catches compiler bugs, not user errors.

Checks SSA form (each name bound once, every operand defined before use in an enclosing
scope), that ops name registry entries and carry types, that regions yield one value per
result (loops: per parameter), and that tensors are placed as ELEMENT. Runs after every
pass in tests and under ITERC_VERIFY=1.
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
        scope = set(base)
        if not isinstance(m, OptimizerIR) and block is blocks[-1 - len(m.periods)]:
            scope |= {s.target.name for s in m.init.stmts if isinstance(s, Assign)}
        _Verifier(where, scope).block(block, scope)
    if not isinstance(m, OptimizerIR):
        names = {r.name for r in m.loop.results} | {i.name for i in m.inputs}
        for name, out in m.outputs:
            if isinstance(out, Var) and out.name not in names:
                raise IRVerifyError(f"{where}: output {name} is not a loop result or input")


def verify_module(module) -> None:
    for m in module.methods:
        verify_method(m)

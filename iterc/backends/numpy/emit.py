"""`--target numpy`: the reference implementation, the executable meaning of the language.

A generated module holds, per method, a Spec (hypers, conditions, slots with dtypes,
oracles), the per-leaf math (`init_NAME`, `step_NAME`) or the whole solve
(`solve_NAME`), and a factory `make_NAME(**hypers)`. Statements are printed from the
IR's regions; nothing here builds a loop of its own, except the loop over leaves of
each leaf phase of a phased step (one that reads model-wide values): that step takes
every leaf at once, as lists (`step_NAME(hp, t, xs, gs, ms, d)`), runs the model
statements once and each leaf phase as `for i in range(len(xs)):`, and keeps per-leaf
lists only for the values that cross from one phase to a later one. Everything shared
lives in iterc.runtime (and, for printing, in ../pysource.py). User text appears only in
comments (sanitised) and as validated identifiers; numbers are re-printed from their values.
"""
from __future__ import annotations

import os

from ... import __version__
from ...ir import Assign, Block, DType, For, If, ModuleIR, OptimizerIR, Origin, While
from ...ir.phases import free_vars
from ..pyexpr import Target
from ..pysource import SourceEmitter, Writer, comment, dims_tuple, totals_to_keep


class MethodEmitter(SourceEmitter):
    def __init__(self, m, w: Writer, target: Target):
        super().__init__(m, w, target, "np.float64")

    def stmt(self, s) -> None:
        w = self.w
        if isinstance(s, Assign):
            self.assign(s.target, s.op, s.span)
        elif isinstance(s, If):
            self.if_(s, "if")
        elif isinstance(s, For):
            for p, i in zip(s.params, s.inits):
                self.assign(p, i)
            w.line(f"for {s.var.name} in range({self.expr(s.lo)}, {self.expr(s.hi)} + 1):{self.where(s.span)}")
            w.indent()
            self.block(s.body, s.params)
            w.dedent()
        elif isinstance(s, While):
            for p, i in zip(s.params[:-1], s.inits[:-1]):
                self.assign(p, i)
            w.line(f"for _ in range({self.expr(s.max_iter)}):{self.where(s.span)}")
            w.indent()
            self.block(Block(s.body.stmts, s.body.yields[:-1]), s.params[:-1])
            w.line(f"if {self.expr(s.body.yields[-1])}:")
            w.indent()
            w.line("break")
            w.dedent()
            w.dedent()
        else:
            raise AssertionError(f"cannot emit {type(s).__name__}")

    # ------------------------------------------------------------ optimizer

    def init_leaf(self) -> None:
        """`init_NAME(hp, x, live)`: the per-leaf states of one leaf (a phased method's
        shared states come from `init_shared_NAME`)."""
        m, w = self.m, self.w
        w.line(f"def init_{m.name}(hp, {m.param.name}, live):")
        w.indent()
        w.line('"""The initial state of one parameter leaf (only the states in `live`)."""')
        self.dims_line()
        self.state_inits()
        w.dedent()
        w.line()
        w.line()

    def ruled_optimizer(self) -> None:
        """`make_NAME` for a method with rules: each leaf goes, by its shape, to one rule's
        generated optimizer (printed above, as `NAME__ruleK` or `NAME__DELEGATE`); a
        delegation's hypers come from `hypers_NAME__DELEGATE(hp)`."""
        m, w = self.m, self.w
        for r in m.rules:
            if r.delegate is not None:
                w.line(f"def hypers_{r.method.name}(hp):")
                w.indent()
                w.line(f'"""The hypers of `{r.delegate}` for the leaves of `rule {comment(r.pattern.text())}`."""')
                items = [f"{k}={self.expression(b)}" for k, b in r.hyper_map]
                w.line("return dict(" + ", ".join(items) + ")" if len(", ".join(items)) < 80 else "return dict(")
                if len(", ".join(items)) >= 80:
                    w.indent()
                    for item in items:
                        w.line(item + ",")
                    w.dedent()
                    w.line(")")
                w.dedent()
                w.line()
                w.line()
        w.line(f"def make_{m.name}(**hypers):")
        w.indent()
        w.line(f"return rt.RuledOptimizer(SPEC_{m.name}, (")
        w.indent()
        for r in m.rules:
            p = r.pattern
            dims = f", {dims_tuple(p.dims)}" if p.dims else ""
            matrix = ", matrix=True" if p.matrix else ""
            n = r.method.name
            given = f", hypers=hypers_{n}" if r.delegate is not None else ""
            w.line(f"# rule {comment(p.text())}" + (f" = {comment(r.delegate)}" if r.delegate else ""))
            w.line(f"rt.Rule(rt.Pattern({p.rank!r}{dims}{matrix}), SPEC_{n}, init_{n}, step_{n}{given}),")
        w.dedent()
        if m.before is not None:
            b = m.before.name
            w.line(f"), hypers, before=(SPEC_{b}, init_{b}, step_{b}, init_shared_{b}))")
        else:
            w.line("), hypers)")
        w.dedent()

    def optimizer(self) -> None:
        m, w = self.m, self.w
        if m.rules:
            self.ruled_optimizer()
            return
        if m.phases:
            self.phased_optimizer()
            return
        x = m.param.name
        self.dtype_code = f"{x}.dtype"
        state_names = [s.name for s in m.states]
        self.init_leaf()
        self.eval_leaf()
        args = ["hp", m.counter.name, x] + [o.var.name for o in m.oracles] + state_names
        yields = m.body.yields
        if m.key is not None:              # the generator: advanced in place, so not returned
            args.append(m.key.name)
            yields = yields[:-1]
        w.line(f"def step_{m.name}({', '.join(args)}):")
        w.indent()
        w.line(f'"""One step on one parameter leaf: the new {", ".join([x] + state_names)}."""')
        self.dims_line()
        self.state_shape_checks()
        self.namer.plan(m.body)
        self.statements(m.body)
        w.line(f"return {', '.join(self.expr(y) for y in yields)}" if state_names
               else f"return ({self.expr(yields[0])},)")
        w.dedent()
        w.line()
        w.line()
        w.line(f"def make_{m.name}(**hypers):")
        w.indent()
        eval_view = f", eval_params=eval_{m.name}" if m.eval is not None else ""
        w.line(f"return rt.Optimizer(SPEC_{m.name}, init_{m.name}, step_{m.name}, hypers{eval_view})")
        w.dedent()

    # ------------------------------------------------------------ phased optimizer

    def phased_optimizer(self) -> None:
        m, w = self.m, self.w
        x = m.param.name
        self.init_leaf()
        shared = [s for s in m.states if s.shared]
        if shared:
            self.init_shared(shared)
        self.eval_leaf()
        self.phased_step()
        w.line(f"def make_{m.name}(**hypers):")
        w.indent()
        init_shared = f", init_shared=init_shared_{m.name}" if shared else ""
        eval_view = f", eval_params=eval_{m.name}" if m.eval is not None else ""
        w.line(f"return rt.Optimizer(SPEC_{m.name}, init_{m.name}, step_{m.name}, hypers{init_shared}{eval_view})")
        w.dedent()

    def phased_step(self) -> None:
        """`step_NAME(hp, t, xs, oracles..., states...)`: every leaf at once, phase by phase."""
        m, w = self.m, self.w
        x = m.param.name
        taken = self.printed_names()
        lists, crossing = self.phase_lists(taken)
        index = next(c for c in ("i", "leaf", "_i", "_leaf") if c not in taken)
        taken.add(index)
        xs = lists[x]
        self.leaf_ref = f"{xs}[{index}]"
        self.dtype_code = f"{self.leaf_ref}.dtype"
        self.namer.plan(m.body, keep={v.name for v in crossing} | totals_to_keep(m))

        args = ["hp", m.counter.name, xs] + [lists[o.var.name] if o.kind != "value" else o.var.name
                                             for o in m.oracles] + \
               [lists[s.name] if not s.shared else s.name for s in m.states]
        if m.key is not None:              # the generator: advanced in place, leaf by leaf, so not returned
            args.append(m.key.name)
        n_leaf = sum(p.kind == "leaf" for p in m.phases)
        outs = [xs] + [lists[s.name] if not s.shared else s.name for s in m.states]
        w.line(f"def step_{m.name}({', '.join(args)}):")
        w.indent()
        w.line(f'"""One step on every leaf of the parameter tree, in {n_leaf} leaf phase'
               f'{"s" if n_leaf != 1 else ""}: the new {", ".join(outs)}."""')
        allocated = set(lists[k] for k in [m.param.name] + [o.var.name for o in m.oracles if o.kind != "value"]
                        + [s.name for s in m.states if not s.shared])
        leaf_no = 0
        for p in m.phases:
            if p.kind == "model":
                self.namer.override = {v.name: lists[self.namer.name(v)] for v in p.loads}
                for s in p.stmts:
                    if self.namer.printed(s):
                        self.stmt(s)
                self.namer.override = {}
                continue
            leaf_no += 1
            self.leaf_phase(p, leaf_no, n_leaf, lists, index, xs, allocated)
        self.phased_return(lists)
        w.dedent()
        w.line()
        w.line()

    def leaf_phase(self, p, number: int, count: int, lists, index: str, xs: str, allocated: set) -> None:
        """`for i in range(len(xs)):` with the phase's loads, statements and stores."""
        w = self.w
        uses: dict[str, int] = {}
        for s in p.stmts:
            for v in free_vars(s):
                uses[v.name] = uses.get(v.name, 0) + 1
        assigned = {s.target.name for s in p.stmts if isinstance(s, Assign)}
        direct = {v.name for v in p.stores if v.source is None and not uses.get(v.name) and v.name in assigned}
        for v in p.stores:
            name = lists[self.namer.name(v)]
            if name not in allocated:
                allocated.add(name)
                w.line(f"{name} = [None] * len({xs})")
        w.line(f"for {index} in range(len({xs})):  # leaf phase {number} of {count}")
        w.indent()
        loads = [v for v in p.loads if v.origin != Origin.DIM]
        if loads:
            w.line(f"{', '.join(self.namer.name(v) for v in loads)} = "
                   f"{', '.join(f'{lists[self.namer.name(v)]}[{index}]' for v in loads)}")
        if any(v.origin == Origin.DIM for v in p.loads):
            self.dims_line()
        else:                                             # sizes set by int hypers, without the leaf's
            self.hyper_dim_lines()
        start = len(w.lines)
        for s in p.stmts:
            if not self.namer.printed(s):
                continue
            if isinstance(s, Assign) and s.target.name in direct:
                self.namer.override = {s.target.name: f"{lists[self.namer.name(s.target)]}[{index}]"}
                self.stmt(s)
                self.namer.override = {}
                continue
            self.stmt(s)
        stores = [v for v in p.stores if v.name not in direct]
        if stores:
            w.line(f"{', '.join(f'{lists[self.namer.name(v)]}[{index}]' for v in stores)} = "
                   f"{', '.join(self.namer.name(v) for v in stores)}")
        if len(w.lines) == start and not loads:
            w.line("pass")
        w.dedent()

    # ------------------------------------------------------------ solver

    def solver(self) -> None:
        m, w = self.m, self.w
        inputs = [i.name for i in m.inputs]
        args = ["hp"] + inputs + [o.var.name for o in m.oracles] + ["_progress=None"]
        w.line(f"def solve_{m.name}({', '.join(args)}):")
        w.indent()
        w.line('"""Iterate until the stopping rule holds or the cap is reached: (outputs, info)."""')
        if m.dims:
            w.line(f"dims = rt.bind_dims(SPEC_{m.name}, {{{', '.join(f'{chr(34)}{n}{chr(34)}: {n}' for n in inputs)}}})")
            for d in m.dims:
                w.line(f'{d.name} = dims["{d.name}"]')
        self.hyper_dim_lines()                 # sizes set by int hypers (`svd(A, k)`)
        loop = m.loop
        self.dtypes = {s.name: f'"{s.dtype.value}"' for s in m.states if s.dtype != DType.F64}
        self.namer.plan(m.init)
        self.namer.plan(loop.body)
        self.statements(m.init)
        w.line(f"_cap = rt.require_steps(SPEC_{m.name}, {self.expr(loop.max_iter)})")
        for p, i in zip(loop.params[:-1], loop.inits[:-1]):      # the stop flag is tested, not kept
            self.assign(p, i)
        t = m.counter.name
        w.line(f"{t} = 0")
        w.line(f"while {t} < _cap:")
        w.indent()
        w.line(f"{t} += 1")
        self.block(Block(loop.body.stmts, loop.body.yields[:-1]), loop.params[:-1])
        if loop.observe:
            reported = [self.expr(v) for v in loop.observe] + ["None"] * (2 - len(loop.observe))
            w.line("if _progress is not None:")
            w.indent()
            w.line(f"_progress({', '.join(reported)})")
            w.dedent()
        w.line(f"if {self.expr(loop.body.yields[-1])}:")
        w.indent()
        w.line("break")
        w.dedent()
        w.dedent()
        outs = ", ".join(f'"{n}": {self.expr(v)}' for n, v in m.outputs)
        residual = self.namer.name(m.residual) if m.residual is not None else "None"
        results = dict(zip(m.carried, loop.results))
        checked = "{" + ", ".join(f'"{n}": {self.namer.name(results[n])}' for n in m.checked) + "}"
        w.line(f"return {{{outs}}}, rt.solve_info(SPEC_{m.name}, {t}, {residual}, "
               f"{self.namer.name(m.converged)}, {checked})")
        w.dedent()
        w.line()
        w.line()
        w.line(f"def make_{m.name}(**hypers):")
        w.indent()
        w.line(f"return rt.Solver(SPEC_{m.name}, solve_{m.name}, hypers)")
        w.dedent()


def emit_module(module: ModuleIR, target: Target) -> str:
    w = Writer()
    name = comment(os.path.basename(module.source_path))
    w.line(f"# Generated by iterc {__version__} from {name}; do not edit. Regenerate with `iterc compile`.")
    w.line('"""A numpy reference implementation generated by iterc."""')
    w.line("import numpy as np")
    w.line()
    w.line("from iterc.runtime import numpy_rt as rt")
    w.line()
    from .lowering import NUMPY_SOLVER
    for m in module.methods:
        if getattr(m, "before", None) is not None:
            w.line()
            MethodEmitter(m.before, w, target).emit()
            w.line()
        for r in getattr(m, "rules", ()):
            w.line()
            MethodEmitter(r.method, w, target).emit()
            w.line()
        w.line()
        MethodEmitter(m, w, target if isinstance(m, OptimizerIR) else NUMPY_SOLVER).emit()
        w.line()
    w.line()
    w.line("METHODS = {" + ", ".join(f'"{m.name}": make_{m.name}' for m in module.methods) + "}")
    return "\n".join(w.lines).rstrip() + "\n"

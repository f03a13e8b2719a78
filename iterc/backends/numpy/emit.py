"""`--target numpy`: the reference implementation, the executable meaning of the language.

A generated module holds, per method, a Spec (hypers, conditions, slots with dtypes,
oracles), the per-leaf math (`init_NAME`, `step_NAME`) or the whole solve
(`solve_NAME`), and a factory `make_NAME(**hypers)`. Statements are printed from the
IR's regions; nothing here builds a loop of its own, except the loop over leaves of
each leaf phase of a phased step (one that reads model-wide values): that step takes
every leaf at once, as lists (`step_NAME(hp, t, xs, gs, ms, d)`), runs the model
statements once and each leaf phase as `for i in range(len(xs)):`, and keeps per-leaf
lists only for the values that cross from one phase to a later one. Everything shared
lives in iterc.runtime. User text appears only in comments (sanitised) and as validated
identifiers; numbers are re-printed from their values.
"""
from __future__ import annotations

import keyword
import os

from ... import __version__
from ...ir import Apply, Assign, Block, Const, DType, For, If, ModuleIR, OptimizerIR, Origin, Place, Var, While
from ...ir.passes import operands_read, sub_blocks, walk
from ...ir.phases import free_vars, is_model_op
from ...types import LEAF
from ..pyexpr import ExprPrinter, Namer, Target

INDENT = "    "


def comment(text: str) -> str:
    """Text that is safe inside a Python comment: one line, printable characters only."""
    return "".join(ch if ch.isprintable() else "?" for ch in text.replace("\n", " "))


class Writer:
    def __init__(self):
        self.lines: list[str] = []
        self.depth = 0

    def line(self, text: str = "") -> None:
        self.lines.append((INDENT * self.depth + text) if text else "")

    def indent(self):
        self.depth += 1

    def dedent(self):
        self.depth -= 1


def _tuple(items) -> str:
    items = list(items)
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _dims_tuple(shape) -> str:
    return _tuple(repr(d) for d in shape)


class MethodEmitter:
    def __init__(self, m, w: Writer, target: Target):
        self.m = m
        self.w = w
        self.namer = Namer()
        self.expr = ExprPrinter(target, self.namer)
        self.file = comment(os.path.basename(m.source_path))
        self.dtype_code = "np.float64"
        self.dtypes: dict[str, str] = {}        # .iter name -> dtype code, for broadcasts into it
        self.leaf_ref = m.param.name if isinstance(m, OptimizerIR) else ""   # the current param leaf, in code

    def where(self, span) -> str:
        if span is None:
            return ""
        line, _ = span.source.line_col(span.start)
        return f"  # {comment(os.path.basename(span.source.path))}:{line}"     # a def's line names its own file

    # ------------------------------------------------------------ blocks

    def shape_code(self, t) -> str:
        if t.shape == LEAF:
            return f"{self.leaf_ref}.shape"
        return "(" + ", ".join(str(d) for d in t.shape) + ("," if len(t.shape) == 1 else "") + ")"

    def assign(self, target: Var, value, span=None) -> None:
        """`target = value`, broadcasting a scalar into a tensor-typed target."""
        name = self.namer.name(target)
        if isinstance(value, Var) and value.name not in self.namer.inline and self.namer.name(value) == name:
            return
        code = self.expr(value)
        value_type = value.type
        if target.type.shape != () and value_type.shape == ():
            dtype = self.dtypes.get(target.source, self.dtype_code)
            code = f"rt.full({self.shape_code(target.type)}, {code}, {dtype})"
        self.w.line(f"{name} = {code}{self.where(span)}")

    def block(self, block: Block, results=()) -> None:
        """A block's statements, then its yields copied into the names of `results`."""
        start = len(self.w.lines)
        for s in block.stmts:
            if self.namer.printed(s):
                self.stmt(s)
        for r, y in zip(results, block.yields):
            self.assign(r, y)
        if len(self.w.lines) == start:
            self.w.line("pass")

    def body(self, block: Block) -> None:
        self.w.indent()
        self.block(block)
        self.w.dedent()

    def stmt(self, s) -> None:
        w = self.w
        if isinstance(s, Assign):
            self.assign(s.target, s.op, s.span)
        elif isinstance(s, If):
            self.if_(s, "if")
        elif isinstance(s, For):
            for p, i in zip(s.params, s.inits):
                self.assign(p, i)
            w.line(f"for {self.namer.name(s.var)} in range({self.expr(s.lo)}, {self.expr(s.hi)} + 1):{self.where(s.span)}")
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

    def if_(self, s: If, keyword: str) -> None:
        w = self.w
        w.line(f"{keyword} {self.expr(s.cond)}:{self.where(s.span)}")
        w.indent()
        self.block(s.then, s.results)
        w.dedent()
        printed = [x for x in s.orelse.stmts if self.namer.printed(x)]
        if len(printed) == 1 and isinstance(printed[0], If) and printed[0].origin == "elif" \
                and all(isinstance(y, Var) and y.name not in self.namer.inline
                        and self.namer.name(y) == self.namer.name(r) for y, r in zip(s.orelse.yields, s.results)):
            self.if_(printed[0], "elif")
            return
        start = len(w.lines)
        w.line("else:")
        w.indent()
        self.block(s.orelse, s.results)
        w.dedent()
        if w.lines[start + 1:] == [INDENT * (w.depth + 1) + "pass"]:
            del w.lines[start:]                      # an else that does nothing

    def expression(self, block: Block) -> str:
        """A block as one expression (hyper defaults, conditions, periods): all inlined."""
        defs = {s.target.name: s.op for s in block.stmts if isinstance(s, Assign)}
        saved = dict(self.namer.inline)
        self.namer.inline.update({n: op for n, op in defs.items() if not isinstance(op, (Var, Const))})
        try:
            y = block.yields[0]
            while isinstance(y, Var) and y.name in defs and isinstance(defs[y.name], (Var, Const)):
                y = defs[y.name]
            return self.expr(y)
        finally:
            self.namer.inline = saved

    # ------------------------------------------------------------ spec

    def spec(self) -> None:
        m, w = self.m, self.w
        w.line(f"SPEC_{m.name} = rt.Spec(")
        w.indent()
        w.line(f'name="{m.name}",')
        w.line(f'kind="{m.kind}",')
        w.line("hypers=(")
        w.indent()
        for h in m.hypers:
            static = ", static=True" if h.static else ""
            if h.default is None:
                w.line(f'rt.Hyper("{h.name}", "{h.elem}"{static}),')
            elif not h.default.stmts and isinstance(h.default.yields[0], Const):
                w.line(f'rt.Hyper("{h.name}", "{h.elem}", {self.expression(h.default)}{static}),')
            else:
                w.line(f'rt.Hyper("{h.name}", "{h.elem}", lambda hp: {self.expression(h.default)}{static}),')
        w.dedent()
        w.line("),")
        hyper_names = {h.name for h in m.hypers}
        w.line("conditions=(")
        w.indent()
        for h in m.hypers:
            for text, cond in h.conditions:
                names = sorted({v.name for s in cond.stmts if isinstance(s, Assign)
                                for v in (s.op.args if hasattr(s.op, "args") else (s.op,))
                                if isinstance(v, Var) and v.name in hyper_names}
                               | {y.name for y in cond.yields if isinstance(y, Var) and y.name in hyper_names})
                w.line(f'rt.Condition("{text}", {_tuple(chr(34) + n + chr(34) for n in names)}, '
                       f'lambda hp: {self.expression(cond)}),')
        w.dedent()
        w.line("),")
        if isinstance(m, OptimizerIR):
            w.line(f"param={self.slot(m.param)},")
            w.line("states=(")
            w.indent()
            for s in m.states:
                w.line(self.slot(s, dict(m.live).get(s.name)) + ",")
            w.dedent()
            w.line("),")
            if m.oracles:
                w.line("oracles=(")
                w.indent()
                for o in m.oracles:
                    every = f", every=lambda hp: {self.expression(o.every)}" if o.every is not None else ""
                    w.line(f'rt.Oracle("{o.var.name}", "{o.kind}"{every}),')
                w.dedent()
                w.line("),")
        else:
            w.line("states=" + _tuple(self.slot(s) for s in m.states) + ",")
            w.line("inputs=(")
            w.indent()
            for i in m.inputs:
                w.line(self.slot(i) + ",")
            w.dedent()
            w.line("),")
            w.line("outputs=" + _tuple(f'("{n}", "{v.type.elem}")' for n, v in m.outputs) + ",")
        if m.periods:
            w.line("periods=" + _tuple(f'("{text}", lambda hp: {self.expression(b)})' for text, b in m.periods)
                   + ",")
        if getattr(m, "phases", ()):
            w.line("phased=True,")
        w.dedent()
        w.line(")")

    def slot(self, s, live=None) -> str:
        shape = "" if s.type.shape == LEAF else f", {_dims_tuple(s.type.shape)}"
        live_code = f", live=lambda hp: {self.expression(live)}" if live is not None else ""
        shared = ", shared=True" if getattr(s, "shared", False) else ""
        return f'rt.Slot("{s.name}", "{s.type.elem}", "{s.dtype.value}"{shape}{live_code}{shared})'

    # ------------------------------------------------------------ optimizer

    def dims_line(self) -> None:
        p = self.m.param
        if p.type.shape != LEAF and p.type.shape != ():
            names = [d if isinstance(d, str) else "_" for d in p.type.shape]
            self.w.line(f"{', '.join(names)}{',' if len(names) == 1 else ''} = {self.leaf_ref}.shape")

    def init_leaf(self) -> None:
        """`init_NAME(hp, x, live)`: the per-leaf states of one leaf (a phased method's
        shared states come from `init_shared_NAME`)."""
        m, w = self.m, self.w
        x = m.param.name
        states = [s for s in m.states if not s.shared]
        state_names = [s.name for s in states]
        w.line(f"def init_{m.name}(hp, {x}, live):")
        w.indent()
        w.line('"""The initial state of one parameter leaf (only the states in `live`)."""')
        self.dims_line()
        for s in states:
            self.namer.plan(s.init)
            for stmt in s.init.stmts:
                if self.namer.printed(stmt):
                    self.stmt(stmt)
            dtype = f"{x}.dtype" if s.dtype == DType.LIKE_PARAM else f'"{s.dtype.value}"'
            span = s.init.yields[0].span if isinstance(s.init.yields[0], (Var, Const)) else None
            guard = f' if "{s.name}" in live else None' if s.name in dict(m.live) else ""
            w.line(f"{s.name} = rt.full({self.shape_code(s.type)}, {self.expr(s.init.yields[0])}, {dtype}){guard}"
                   f"{self.where(span)}")
        w.line(f"return {', '.join(state_names)}{',' if len(state_names) == 1 else ''}" if state_names else "return ()")
        w.dedent()
        w.line()
        w.line()

    def ruled_optimizer(self) -> None:
        """`make_NAME` for a method with rules: each leaf goes, by its shape, to one rule's
        generated optimizer (printed above, as `NAME__ruleK` or `NAME__DELEGATE`)."""
        m, w = self.m, self.w
        w.line(f"def make_{m.name}(**hypers):")
        w.indent()
        w.line(f"return rt.RuledOptimizer(SPEC_{m.name}, (")
        w.indent()
        for r in m.rules:
            p = r.pattern
            dims = f", {_dims_tuple(p.dims)}" if p.dims else ""
            matrix = ", matrix=True" if p.matrix else ""
            pattern = f"rt.Pattern({p.rank!r}{dims}{matrix})"
            n = r.method.name
            given = ""
            if r.delegate is not None:
                items = ", ".join(f'"{k}": {self.expression(b)}' for k, b in r.hyper_map)
                given = f", hypers=lambda hp: {{{items}}}"
            w.line(f"rt.Rule({pattern}, SPEC_{n}, init_{n}, step_{n}{given}),  # rule {comment(p.text())}"
                   + (f" = {comment(r.delegate)}" if r.delegate else ""))
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
        args = ["hp", m.counter.name, x] + [o.var.name for o in m.oracles] + state_names
        w.line(f"def step_{m.name}({', '.join(args)}):")
        w.indent()
        w.line(f'"""One step on one parameter leaf: the new {", ".join([x] + state_names)}."""')
        self.dims_line()
        self.namer.plan(m.body)
        for s in m.body.stmts:
            if self.namer.printed(s):
                self.stmt(s)
        w.line(f"return {', '.join(self.expr(y) for y in m.body.yields)}" if state_names
               else f"return ({self.expr(m.body.yields[0])},)")
        w.dedent()
        w.line()
        w.line()
        w.line(f"def make_{m.name}(**hypers):")
        w.indent()
        w.line(f"return rt.Optimizer(SPEC_{m.name}, init_{m.name}, step_{m.name}, hypers)")
        w.dedent()

    # ------------------------------------------------------------ phased optimizer

    def phased_optimizer(self) -> None:
        m, w = self.m, self.w
        x = m.param.name
        self.init_leaf()
        shared = [s for s in m.states if s.shared]
        if shared:
            self.init_shared(shared)
        self.phased_step()
        w.line(f"def make_{m.name}(**hypers):")
        w.indent()
        init_shared = f", init_shared=init_shared_{m.name}" if shared else ""
        w.line(f"return rt.Optimizer(SPEC_{m.name}, init_{m.name}, step_{m.name}, hypers{init_shared})")
        w.dedent()

    def init_shared(self, shared) -> None:
        """`init_shared_NAME(hp, live)`: the shared states, one value each for the model."""
        m, w = self.m, self.w
        w.line(f"def init_shared_{m.name}(hp, live):")
        w.indent()
        w.line('"""The initial shared states: one value each for the whole parameter tree."""')
        for s in shared:
            self.namer.plan(s.init)
            for stmt in s.init.stmts:
                if self.namer.printed(stmt):
                    self.stmt(stmt)
            span = s.init.yields[0].span if isinstance(s.init.yields[0], (Var, Const)) else None
            guard = f' if "{s.name}" in live else None' if s.name in dict(m.live) else ""
            w.line(f"{s.name} = {self.expr(s.init.yields[0])}{guard}{self.where(span)}")
        names = [s.name for s in shared]
        w.line(f"return {', '.join(names)}{',' if len(names) == 1 else ''}")
        w.dedent()
        w.line()
        w.line()

    def phased_step(self) -> None:
        """`step_NAME(hp, t, xs, oracles..., states...)`: every leaf at once, phase by phase."""
        m, w = self.m, self.w
        x = m.param.name
        taken = self.printed_names()
        lists: dict[str, str] = {}              # printed name of a per-leaf value -> its list

        def fresh(base: str) -> str:
            for cand in [f"{base}s", f"{base}_list"] + [f"{base}_list{k}" for k in range(2, 1000)]:
                if cand not in taken and not keyword.iskeyword(cand):
                    taken.add(cand)
                    return cand
            raise AssertionError("no free name")

        for v in [m.param.var] + [o.var for o in m.oracles if o.kind != "value"] + \
                [s.var for s in m.states if not s.shared]:
            lists[v.name] = fresh(v.name)
        index = next(c for c in ("i", "leaf", "_i", "_leaf") if c not in taken)
        taken.add(index)
        xs = lists[x]
        self.leaf_ref = f"{xs}[{index}]"
        self.dtype_code = f"{self.leaf_ref}.dtype"

        crossing = [v for p in m.phases for v in p.stores + (p.loads if p.kind == "model" else ())]
        named = _partial_names(m.body)
        for v in crossing:
            key = self.namer.name(v)
            if key not in lists:
                lists[key] = fresh(named[v.name] + "_part" if v.source is None and v.name in named else key)

        self.namer.plan(m.body, keep={v.name for v in crossing} | _totals_to_keep(m))

        args = ["hp", m.counter.name, xs] + [lists[o.var.name] if o.kind != "value" else o.var.name
                                             for o in m.oracles] + \
               [lists[s.name] if not s.shared else s.name for s in m.states]
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
        yields = []
        for slot, y in zip([m.param] + list(m.states), m.body.yields):
            if slot.shared:
                yields.append(self.expr(y))
            else:
                assert self.namer.name(y) == slot.name, (slot.name, y)
                yields.append(lists[slot.name])
        w.line(f"return {', '.join(yields)}" + ("," if len(yields) == 1 else ""))
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

    def printed_names(self) -> set[str]:
        """Every name the method's code may print, so that generated names avoid them."""
        m = self.m
        names = {"hp", "np", "rt", "len", "range", "None", m.counter.name}
        names |= {h.name for h in m.hypers} | {d.name for d in m.dims}
        for b in [m.body] + [s.init for s in m.states if s.init is not None]:
            for s in walk(b):
                vs = list(getattr(s, "results", ())) + list(getattr(s, "params", ()))
                if isinstance(s, Assign):
                    vs.append(s.target)
                if isinstance(s, For):
                    vs.append(s.var)
                vs += [v for v in operands_read(s) if isinstance(v, Var)]
                names |= {self.namer.name(v) for v in vs}
        names |= {v.name for v in [m.param.var] + [o.var for o in m.oracles] + [s.var for s in m.states]}
        return names

    # ------------------------------------------------------------ solver

    def solver(self) -> None:
        m, w = self.m, self.w
        inputs = [i.name for i in m.inputs]
        w.line(f"def solve_{m.name}(hp, {', '.join(inputs)}):")
        w.indent()
        w.line('"""Iterate until the stopping rule holds or the cap is reached: (outputs, info)."""')
        if m.dims:
            w.line(f"dims = rt.bind_dims(SPEC_{m.name}, {{{', '.join(f'{chr(34)}{n}{chr(34)}: {n}' for n in inputs)}}})")
            for d in m.dims:
                w.line(f'{d.name} = dims["{d.name}"]')
        loop = m.loop
        self.dtypes = {s.name: f'"{s.dtype.value}"' for s in m.states if s.dtype != DType.F64}
        self.namer.plan(m.init)
        self.namer.plan(loop.body)
        for s in m.init.stmts:
            if self.namer.printed(s):
                self.stmt(s)
        w.line(f"_cap = rt.require_steps(SPEC_{m.name}, {self.expr(loop.max_iter)})")
        for p, i in zip(loop.params, loop.inits):
            self.assign(p, i)
        t = m.counter.name
        w.line(f"{t} = 0")
        w.line(f"while {t} < _cap:")
        w.indent()
        w.line(f"{t} += 1")
        self.block(loop.body, loop.params)
        w.line(f"if {self.namer.name(loop.params[-1])}:")
        w.indent()
        w.line("break")
        w.dedent()
        w.dedent()
        outs = ", ".join(f'"{n}": {self.expr(v)}' for n, v in m.outputs)
        residual = self.namer.name(m.residual) if m.residual is not None else "None"
        w.line(f"return {{{outs}}}, rt.SolveInfo({t}, {residual}, {self.namer.name(loop.params[-1])})")
        w.dedent()
        w.line()
        w.line()
        w.line(f"def make_{m.name}(**hypers):")
        w.indent()
        w.line(f"return rt.Solver(SPEC_{m.name}, solve_{m.name}, hypers)")
        w.dedent()

    def emit(self) -> None:
        m, w = self.m, self.w
        w.line(f"# ---- {m.kind} {m.name}")
        for doc_line in (m.doc or "").split("\n"):
            if doc_line.strip():
                w.line(f"# {comment(doc_line)}")
        w.line()
        self.spec()
        w.line()
        w.line()
        if isinstance(m, OptimizerIR):
            self.optimizer()
        else:
            self.solver()


def _totals_to_keep(m) -> set[str]:
    """The `total`s that must get a line of their own: those that inlining would carry
    out of their model segment (into a leaf loop, through single-use temporaries)."""
    phase_of: dict[str, int] = {}
    users: dict[str, list] = {}
    for i, p in enumerate(m.phases):
        for top in p.stmts:
            for s in walk(Block((top,))):
                if isinstance(s, Assign):
                    phase_of[s.target.name] = i
                    target = s.target
                else:
                    target = None
                for v in operands_read(s):
                    if isinstance(v, Var):
                        users.setdefault(v.name, []).append((i, target))
                for b in sub_blocks(s):
                    for y in b.yields:
                        if isinstance(y, Var):
                            users.setdefault(y.name, []).append((i, None))
    keep = set()
    for s in walk(m.body):
        if not is_model_op(s):
            continue
        home, v = phase_of[s.target.name], s.target
        while True:
            used = users.get(v.name, [])
            if len(used) != 1:                   # not inlined anywhere (several uses), or unused
                break
            phase, target = used[0]
            if phase != home:
                keep.add(s.target.name)
                break
            if target is None or target.source is not None:
                break                            # printed in its own segment
            v = target
    return keep


def _partial_names(body: Block) -> dict[str, str]:
    """A readable name for the per-leaf partials of each `total` whose argument is a
    temporary: the `.iter` name the total ends up in (`gap` for `let gap = f + total(...)`)."""
    users: dict[str, list] = {}
    for s in walk(body):
        if isinstance(s, Assign):
            for a in (s.op.args if isinstance(s.op, Apply) else (s.op,)):
                if isinstance(a, Var):
                    users.setdefault(a.name, []).append(s.target)
    out = {}
    for s in walk(body):
        if is_model_op(s) and isinstance(s.op.args[0], Var) and s.op.args[0].source is None:
            v = s.target
            for _ in range(8):                      # follow single uses to a named model-wide value
                if v.source is not None or len(users.get(v.name, ())) != 1 or \
                        users[v.name][0].place > Place.MODEL:
                    break
                v = users[v.name][0]
            if v.source is not None:
                out[s.op.args[0].name] = v.source
    return out


def emit_module(module: ModuleIR, target: Target) -> str:
    w = Writer()
    name = comment(os.path.basename(module.source_path))
    w.line(f"# Generated by iterc {__version__} from {name}; do not edit. Regenerate with `iterc compile`.")
    w.line('"""A numpy reference implementation generated by iterc."""')
    w.line("import numpy as np")
    w.line()
    w.line("from iterc.runtime import numpy_rt as rt")
    w.line()
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
        MethodEmitter(m, w, target).emit()
        w.line()
    w.line()
    w.line("METHODS = {" + ", ".join(f'"{m.name}": make_{m.name}' for m in module.methods) + "}")
    return "\n".join(w.lines).rstrip() + "\n"

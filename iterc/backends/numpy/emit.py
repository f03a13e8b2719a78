"""`--target numpy`: the reference implementation, the executable meaning of the language.

A generated module holds, per method, a Spec (hypers, conditions, slots with dtypes,
oracles), the per-leaf math (`init_NAME`, `step_NAME`) or the whole solve
(`solve_NAME`), and a factory `make_NAME(**hypers)`. Statements are printed from the
IR's regions; nothing here builds a loop of its own. Everything shared lives in
iterc.runtime. User text appears only in comments (sanitised) and as validated
identifiers; numbers are re-printed from their values.
"""
from __future__ import annotations

import os

from ... import __version__
from ...ir import Assign, Block, Const, DType, For, If, ModuleIR, OptimizerIR, Var, While
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

    def where(self, span) -> str:
        if span is None:
            return ""
        line, _ = span.source.line_col(span.start)
        return f"  # {comment(os.path.basename(span.source.path))}:{line}"     # a def's line names its own file

    # ------------------------------------------------------------ blocks

    def shape_code(self, t) -> str:
        if t.shape == LEAF:
            return f"{self.m.param.name}.shape"
        return "(" + ", ".join(str(d) for d in t.shape) + ("," if len(t.shape) == 1 else "") + ")"

    def assign(self, target: Var, value, span=None) -> None:
        """`target = value`, broadcasting a scalar into a tensor-typed target."""
        name = self.namer.name(target)
        if isinstance(value, Var) and value.name not in self.namer.inline and self.namer.name(value) == name:
            return
        code = self.expr(value)
        if code == name:                          # `_rng = _rng`: the generator advanced in place
            return
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

    def if_(self, s: If, keyword: str) -> None:
        w = self.w
        w.line(f"{keyword} {self.expr(s.cond)}:{self.where(s.span)}")
        w.indent()
        self.block(s.then, s.results)
        w.dedent()
        printed = [x for x in s.orelse.stmts if self.namer.printed(x)]
        if len(printed) == 1 and isinstance(printed[0], If) and printed[0].origin == "elif" \
                and all(self.namer.name(y) == self.namer.name(r) for y, r in zip(s.orelse.yields, s.results)
                        if isinstance(y, Var)):
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
            if m.key is not None:
                w.line("random=True,")
        else:
            w.line("states=" + _tuple(self.slot(s) for s in m.states) + ",")
            w.line("inputs=(")
            w.indent()
            for i in m.inputs:
                w.line(self.slot(i) + ",")
            w.dedent()
            w.line("),")
            if m.oracles:
                w.line("oracles=(")
                w.indent()
                for o in m.oracles:
                    fn = o.var.type
                    args = _tuple(f'("{p.elem}", {_dims_tuple(p.shape)})' for p in fn.params)
                    result = f'("{fn.result.elem}", {_dims_tuple(fn.result.shape)})'
                    w.line(f'rt.Oracle("{o.var.name}", "function", args={args}, result={result}),')
                w.dedent()
                w.line("),")
            w.line("outputs=" + _tuple(f'("{n}", "{v.type.elem}")' for n, v in m.outputs) + ",")
        if m.periods:
            w.line("periods=" + _tuple(f'("{text}", lambda hp: {self.expression(b)})' for text, b in m.periods)
                   + ",")
        w.dedent()
        w.line(")")

    def slot(self, s, live=None) -> str:
        shape = "" if s.type.shape == LEAF else f", {_dims_tuple(s.type.shape)}"
        live_code = f", live=lambda hp: {self.expression(live)}" if live is not None else ""
        domain = f", domain={_tuple([chr(34) + s.domain[0] + chr(34)] + [repr(a) for a in s.domain[1:]])}" \
            if getattr(s, "domain", None) else ""
        return f'rt.Slot("{s.name}", "{s.type.elem}", "{s.dtype.value}"{shape}{live_code}{domain})'

    # ------------------------------------------------------------ optimizer

    def dims_line(self) -> None:
        p = self.m.param
        if p.type.shape != LEAF:
            names = [d if isinstance(d, str) else "_" for d in p.type.shape]
            self.w.line(f"{', '.join(names)}{',' if len(names) == 1 else ''} = {p.name}.shape")

    def optimizer(self) -> None:
        m, w = self.m, self.w
        x = m.param.name
        self.dtype_code = f"{x}.dtype"
        state_names = [s.name for s in m.states]
        w.line(f"def init_{m.name}(hp, {x}, live):")
        w.indent()
        w.line('"""The initial state of one parameter leaf (only the states in `live`)."""')
        self.dims_line()
        for s in m.states:
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
        args = ["hp", m.counter.name, x] + [o.var.name for o in m.oracles] + state_names
        yields = m.body.yields
        if m.key is not None:              # the generator: advanced in place, so not returned
            args.append(m.key.name)
            yields = yields[:-1]
        w.line(f"def step_{m.name}({', '.join(args)}):")
        w.indent()
        w.line(f'"""One step on one parameter leaf: the new {", ".join([x] + state_names)}."""')
        self.dims_line()
        self.namer.plan(m.body)
        for s in m.body.stmts:
            if self.namer.printed(s):
                self.stmt(s)
        w.line(f"return {', '.join(self.expr(y) for y in yields)}" if state_names
               else f"return ({self.expr(yields[0])},)")
        w.dedent()
        w.line()
        w.line()
        w.line(f"def make_{m.name}(**hypers):")
        w.indent()
        w.line(f"return rt.Optimizer(SPEC_{m.name}, init_{m.name}, step_{m.name}, hypers)")
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
        loop = m.loop
        self.dtypes = {s.name: f'"{s.dtype.value}"' for s in m.states if s.dtype != DType.F64}
        self.namer.plan(m.init)
        self.namer.plan(loop.body)
        for s in m.init.stmts:
            if self.namer.printed(s):
                self.stmt(s)
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
        w.line()
        MethodEmitter(m, w, target if isinstance(m, OptimizerIR) else NUMPY_SOLVER).emit()
        w.line()
    w.line()
    w.line("METHODS = {" + ", ".join(f'"{m.name}": make_{m.name}' for m in module.methods) + "}")
    return "\n".join(w.lines).rstrip() + "\n"

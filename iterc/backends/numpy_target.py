"""`--target numpy`: the reference implementation, the executable meaning of the language.

A generated module holds, per method, a Spec (hypers with their conditions, states,
oracles), the per-leaf math (`init_NAME`, `step_NAME`) or the whole solve loop
(`solve_NAME`), and a factory `make_NAME(**hypers)`. Everything shared lives in
iterc.runtime.numpy_rt. User text appears only in comments (sanitised) and as validated
identifiers; numbers are re-printed from their values.
"""
from __future__ import annotations

import os

from .. import __version__
from ..ir import Bind, Const, ForRegion, IfRegion, MethodIR, ModuleIR, Ref, WhileRegion
from ..types import LEAF
from .pyexpr import ExprPrinter

INDENT = "    "


def _comment(text: str) -> str:
    """Text that is safe inside a Python comment: one line, printable characters only."""
    return "".join(ch if ch.isprintable() else "?" for ch in text.replace("\n", " "))


class _Writer:
    def __init__(self):
        self.lines: list[str] = []
        self.depth = 0

    def line(self, text: str = "") -> None:
        self.lines.append((INDENT * self.depth + text) if text else "")

    def indent(self):
        self.depth += 1

    def dedent(self):
        self.depth -= 1


def _ref_namer(method: MethodIR):
    def ref(r: Ref) -> str:
        return f"hp.{r.name}" if r.kind == "hyper" else r.name
    return ref


def _shape_code(t, param: str | None) -> str:
    if t.shape == LEAF:
        return f"{param}.shape"
    if t.shape == ():
        return "()"
    return "(" + ", ".join(str(d) for d in t.shape) + ("," if len(t.shape) == 1 else "") + ")"


class _MethodEmitter:
    def __init__(self, m: MethodIR, w: _Writer):
        self.m = m
        self.w = w
        self.expr = ExprPrinter("numpy", _ref_namer(m))
        self.file = _comment(os.path.basename(m.source_path))

    def output_elems(self):
        slots = {s.name: s for s in self.m.states + self.m.inputs}
        lets = {b.name: b.value.type for b in self.m.after if isinstance(b, Bind)}
        for o in self.m.outputs:
            t = slots[o].type if o in slots else lets[o]
            yield o, t.elem

    def where(self, span) -> str:
        if span is None:
            return ""
        line, _ = span.source.line_col(span.start)
        return f"  # {self.file}:{line}"

    # ------------------------------------------------------------ statements

    def stmts(self, stmts) -> None:
        if not stmts:
            self.w.line("pass")
        for s in stmts:
            self.stmt(s)

    def stmt(self, s) -> None:
        w = self.w
        if isinstance(s, Bind):
            w.line(f"{s.name} = {self.expr(s.value)}{self.where(s.span)}")
        elif isinstance(s, IfRegion):
            w.line(f"if {self.expr(s.cond)}:{self.where(s.span)}")
            w.indent()
            self.stmts(s.then)
            w.dedent()
            if s.orelse:
                if len(s.orelse) == 1 and isinstance(s.orelse[0], IfRegion) and s.orelse[0].origin == "if":
                    inner = s.orelse[0]
                    w.line(f"elif {self.expr(inner.cond)}:{self.where(inner.span)}")
                    w.indent()
                    self.stmts(inner.then)
                    w.dedent()
                    if inner.orelse:
                        w.line("else:")
                        w.indent()
                        self.stmts(inner.orelse)
                        w.dedent()
                else:
                    w.line("else:")
                    w.indent()
                    self.stmts(s.orelse)
                    w.dedent()
        elif isinstance(s, ForRegion):
            w.line(f"for {s.var} in range({self.expr(s.lo)}, {self.expr(s.hi)} + 1):{self.where(s.span)}")
            w.indent()
            self.stmts(s.body)
            w.dedent()
        elif isinstance(s, WhileRegion):
            w.line(f"for _ in range({self.expr(s.max_iter)}):{self.where(s.span)}")
            w.indent()
            self.stmts(s.body)
            w.line(f"if {self.expr(s.cond)}:")
            w.indent()
            w.line("break")
            w.dedent()
            w.dedent()
        else:
            raise AssertionError(f"cannot emit {type(s).__name__}")

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
            if h.default is None:
                w.line(f'rt.Hyper("{h.name}", "{h.elem}"),')
            elif isinstance(h.default, Const):
                w.line(f'rt.Hyper("{h.name}", "{h.elem}", {self.expr(h.default)}),')
            else:
                w.line(f'rt.Hyper("{h.name}", "{h.elem}", lambda hp: {self.expr(h.default)}),')
        w.dedent()
        w.line("),")
        w.line("conditions=(")
        w.indent()
        for h in m.hypers:
            for text, cond in h.conditions:
                names = sorted({r for r in _refs(cond) if r in {x.name for x in m.hypers}})
                names_code = "(" + ", ".join(f'"{n}"' for n in names) + ("," if len(names) == 1 else "") + ")"
                w.line(f'rt.Condition("{text}", {names_code}, lambda hp: {self.expr(cond)}),')
        w.dedent()
        w.line("),")
        if m.param is not None:
            w.line(f'param="{m.param.name}",')
            if m.param.type.shape != LEAF:
                dims = ", ".join(repr(d) for d in m.param.type.shape)
                w.line(f"param_shape=({dims}{',' if len(m.param.type.shape) == 1 else ''}),")
        w.line("states=" + _tuple(f'"{s.name}"' for s in m.states) + ",")
        if m.oracles:
            w.line("oracles=(")
            w.indent()
            for o in m.oracles:
                every = f", every=lambda hp: {self.expr(o.every)}" if o.every is not None else ""
                w.line(f'rt.Oracle("{o.name}", "{o.kind}"{every}),')
            w.dedent()
            w.line("),")
        if m.inputs:
            w.line("inputs=(")
            w.indent()
            for i in m.inputs:
                dims = ", ".join(repr(d) for d in i.type.shape)
                w.line(f'("{i.name}", ({dims}{"," if len(i.type.shape) == 1 else ""})),')
            w.dedent()
            w.line("),")
        if m.outputs:
            w.line("outputs=" + _tuple(f'("{o}", "{elem}")' for o, elem in self.output_elems()) + ",")
        w.dedent()
        w.line(")")

    # ------------------------------------------------------------ optimizer

    def dims_line(self, param: str) -> None:
        if self.m.param is not None and self.m.param.type.shape != LEAF:
            names = [d if isinstance(d, str) else "_" for d in self.m.param.type.shape]
            self.w.line(f"{', '.join(names)}{',' if len(names) == 1 else ''} = {param}.shape")

    def state_init(self, s, dtype: str) -> None:
        shape = _shape_code(s.type, self.m.param.name if self.m.param else None)
        self.w.line(f"{s.name} = rt.full({shape}, {self.expr(s.init)}, {dtype}){self.where(s.init.span)}")

    def optimizer(self) -> None:
        m, w = self.m, self.w
        x = m.param.name
        state_names = [s.name for s in m.states]
        w.line(f"def init_{m.name}(hp, {x}):")
        w.indent()
        w.line('"""The initial state of one parameter leaf."""')
        self.dims_line(x)
        for s in m.states:
            dtype = f'"{s.storage}"' if s.storage not in (None, "real") else f"{x}.dtype"
            self.state_init(s, dtype)
        w.line(f"return {', '.join(state_names)}{',' if len(state_names) == 1 else ''}" if state_names else "return ()")
        w.dedent()
        w.line()
        w.line()
        args = ["hp", m.counter, x] + [o.name for o in m.oracles] + state_names
        w.line(f"def step_{m.name}({', '.join(args)}):")
        w.indent()
        w.line(f'"""One step on one parameter leaf: the new {", ".join([x] + state_names)}."""')
        self.dims_line(x)
        for name, copy in m.prev:
            w.line(f"{copy} = {name}")
        self.stmts(m.body)
        w.line(f"return {', '.join([x] + state_names)}" if state_names else f"return ({x},)")
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
        w.line(f"def solve_{m.name}(hp, {', '.join(inputs)}):")
        w.indent()
        w.line('"""Iterate until the stopping rule holds or the cap is reached: (outputs, info)."""')
        if m.dims:
            w.line(f"dims = rt.bind_dims(SPEC_{m.name}, {{{', '.join(f'{chr(34)}{n}{chr(34)}: {n}' for n in inputs)}}})")
            for d in m.dims:
                w.line(f'{d} = dims["{d}"]')
        for s in m.states:
            dtype = f'"{s.storage}"' if s.storage not in (None, "real") else "np.float64"
            self.state_init(s, dtype)
        t = m.counter
        w.line(f"{t} = 0")
        w.line("_converged = False")
        w.line("_residual = None")
        w.line(f"_cap = rt.require_steps(SPEC_{m.name}, {self.expr(m.max_iter)})")
        w.line(f"while {t} < _cap:")
        w.indent()
        w.line(f"{t} += 1")
        for name, copy in m.prev:
            w.line(f"{copy} = {name}")
        self.stmts(m.body)
        for s in m.after:
            self.stmt(s)
        stop = self.expr(m.until)
        if m.residual is not None:
            w.line(f"_residual = float({self.expr(m.residual)})")
            op = {"le": "<=", "lt": "<"}[m.until.fn]
            stop = f"_residual {op} {self.expr(m.until.args[1])}"
        w.line(f"if {stop}:")
        w.indent()
        w.line("_converged = True")
        w.line("break")
        w.dedent()
        w.dedent()
        outs = ", ".join(f'"{o}": {o}' for o in m.outputs)
        w.line(f"return {{{outs}}}, rt.SolveInfo({t}, _residual, _converged)")
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
                w.line(f"# {_comment(doc_line)}")
        w.line()
        self.spec()
        w.line()
        w.line()
        if m.kind == "optimizer":
            self.optimizer()
        else:
            self.solver()


def _tuple(items) -> str:
    items = list(items)
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _refs(v):
    from ..ir import Apply
    if isinstance(v, Ref):
        yield v.name
    elif isinstance(v, Apply):
        for a in v.args:
            yield from _refs(a)


def emit_module(module: ModuleIR) -> str:
    w = _Writer()
    name = _comment(os.path.basename(module.source_path))
    w.line(f"# Generated by iterc {__version__} from {name}; do not edit. Regenerate with `iterc compile`.")
    w.line('"""A numpy reference implementation generated by iterc."""')
    w.line("import numpy as np")
    w.line()
    w.line("from iterc.runtime import numpy_rt as rt")
    w.line()
    for m in module.methods:
        w.line()
        _MethodEmitter(m, w).emit()
        w.line()
    w.line()
    w.line("METHODS = {" + ", ".join(f'"{m.name}": make_{m.name}' for m in module.methods) + "}")
    return "\n".join(w.lines).rstrip() + "\n"

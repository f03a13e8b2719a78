"""What the Python-source backends (numpy, JAX) share when they print a method: the line
writer, safe comments, `# file:line` pointers, assignments that broadcast a scalar into a
tensor-typed name, blocks, Python `if`/`elif` chains, hyper-default expressions and the
`Spec` every generated module declares.

`SourceEmitter` holds one method's printing state (its `Namer`, its `ExprPrinter`); a
backend subclasses it with `stmt` (how regions become code) and the per-kind functions.
Nothing here knows a framework: the array namespace and dtype spellings come from the
backend (`Target.ns`, `dtype_code`).
"""
from __future__ import annotations

import keyword
import os

from ..ir import Apply, Assign, Block, Const, DType, For, If, OptimizerIR, Place, Var
from ..ir.passes import operands_read, sub_blocks, walk
from ..ir.phases import is_model_op
from ..types import LEAF
from .pyexpr import ExprPrinter, Namer, Target

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


def tuple_code(items) -> str:
    items = list(items)
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def dims_tuple(shape) -> str:
    return tuple_code(repr(d) for d in shape)


class SourceEmitter:
    """Prints one method; subclasses define `stmt` for their regions."""

    def __init__(self, m, w: Writer, target: Target, dtype_code: str):
        self.m = m
        self.w = w
        self.namer = Namer()
        self.expr = ExprPrinter(target, self.namer)
        self.file = comment(os.path.basename(m.source_path))
        self.dtype_code = dtype_code            # the dtype a broadcast scalar takes, unless named below
        self.dtypes: dict[str, str] = {}        # .iter name -> dtype code, for broadcasts into it
        # the current parameter leaf, in code (`x`; `xs[i]` inside a leaf phase of a phased step)
        self.leaf_ref = m.param.name if isinstance(m, OptimizerIR) else ""

    def where(self, span) -> str:
        if span is None:
            return ""
        line, _ = span.source.line_col(span.start)
        return f"  # {comment(os.path.basename(span.source.path))}:{line}"     # a def's line names its own file

    def line_of(self, span) -> str:
        """The .iter line number of a span, for names of generated helpers ("" if none)."""
        if span is None:
            return ""
        return str(span.source.line_col(span.start)[0])

    # ------------------------------------------------------------ blocks

    def stmt(self, s) -> None:
        raise NotImplementedError

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
        self.statements(block)
        for r, y in zip(results, block.yields):
            self.assign(r, y)
        if len(self.w.lines) == start:
            self.w.line("pass")

    def statements(self, block: Block) -> None:
        for s in block.stmts:
            if self.namer.printed(s):
                self.stmt(s)

    def python_if(self, s: If) -> bool:
        """Whether an `If` prints as a Python `if` (numpy: always; JAX: static conditions)."""
        return True

    def if_(self, s: If, keyword: str) -> None:
        w = self.w
        w.line(f"{keyword} {self.expr(s.cond)}:{self.where(s.span)}")
        w.indent()
        self.block(s.then, s.results)
        w.dedent()
        printed = [x for x in s.orelse.stmts if self.namer.printed(x)]
        if len(printed) == 1 and isinstance(printed[0], If) and printed[0].origin == "elif" \
                and self.python_if(printed[0]) \
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

    def condition(self, block: Block) -> str:
        """A hyper condition as one expression (checked on concrete values only)."""
        return self.expression(block)

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
                w.line(f'rt.Condition("{text}", {tuple_code(chr(34) + n + chr(34) for n in names)}, '
                       f'lambda hp: {self.condition(cond)}),')
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
            if m.phases:
                w.line("phased=True,")
            if m.yields_update:
                w.line("update=True,")
        else:
            w.line("states=" + tuple_code(self.slot(s) for s in m.states) + ",")
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
                    args = tuple_code(f'("{p.elem}", {dims_tuple(p.shape)})' for p in fn.params)
                    result = f'("{fn.result.elem}", {dims_tuple(fn.result.shape)})'
                    w.line(f'rt.Oracle("{o.var.name}", "function", args={args}, result={result}),')
                w.dedent()
                w.line("),")
            w.line("outputs=" + tuple_code(f'("{n}", "{v.type.elem}")' for n, v in m.outputs) + ",")
        if m.periods:
            w.line("periods=" + tuple_code(f'("{text}", lambda hp: {self.expression(b)})' for text, b in m.periods)
                   + ",")
        w.dedent()
        w.line(")")

    def slot(self, s, live=None) -> str:
        shape = "" if s.type.shape == LEAF else f", {dims_tuple(s.type.shape)}"
        live_code = f", live=lambda hp: {self.expression(live)}" if live is not None else ""
        domain = f", domain={tuple_code([chr(34) + s.domain[0] + chr(34)] + [repr(a) for a in s.domain[1:]])}" \
            if getattr(s, "domain", None) else ""
        shared = ", shared=True" if getattr(s, "shared", False) else ""
        return f'rt.Slot("{s.name}", "{s.type.elem}", "{s.dtype.value}"{shape}{live_code}{domain}{shared})'

    def state_inits(self) -> None:
        """The body of `init_NAME(hp, x, live)`: each per-leaf state's initial value, filled to
        its shape in its storage dtype (None when the hypers leave it unused), then the return
        (shared states are not per leaf: `init_shared_NAME`)."""
        m, w = self.m, self.w
        x = m.param.name
        states = [s for s in m.states if not s.shared]
        for s in states:
            self.namer.plan(s.init)
            self.statements(s.init)
            dtype = f"{x}.dtype" if s.dtype == DType.LIKE_PARAM else f'"{s.dtype.value}"'
            span = s.init.yields[0].span if isinstance(s.init.yields[0], (Var, Const)) else None
            guard = f' if "{s.name}" in live else None' if s.name in dict(m.live) else ""
            w.line(f"{s.name} = rt.full({self.shape_code(s.type)}, {self.expr(s.init.yields[0])}, {dtype}){guard}"
                   f"{self.where(span)}")
        names = [s.name for s in states]
        w.line(f"return {', '.join(names)}{',' if len(names) == 1 else ''}" if names else "return ()")

    def eval_leaf(self) -> None:
        """`eval_NAME(hp, x, states...)`: the eval view of one leaf (`eval x = ...`), from its
        param and states as the last step left them (a shared state is one scalar)."""
        m, w = self.m, self.w
        if m.eval is None:
            return
        x = m.param.name
        w.line(f"def eval_{m.name}({', '.join(['hp', x] + [s.name for s in m.states])}):")
        w.indent()
        w.line(f'"""The parameter leaf at evaluation time (what `{x}` is when the model is evaluated)."""')
        self.dims_line()
        self.namer.plan(m.eval)
        self.statements(m.eval)               # an expression: assignments only
        y = m.eval.yields[0]
        code = self.expr(y)
        if y.type.shape == ():
            code = f"rt.full({x}.shape, {code}, {x}.dtype)"
        span = y.span if isinstance(y, (Var, Const)) else None
        w.line(f"return {code}{self.where(span)}")
        w.dedent()
        w.line()
        w.line()

    def init_shared(self, shared) -> None:
        """`init_shared_NAME(hp, live)`: the shared states, one value each for the model."""
        m, w = self.m, self.w
        w.line(f"def init_shared_{m.name}(hp, live):")
        w.indent()
        w.line('"""The initial shared states: one value each for the whole parameter tree."""')
        for s in shared:
            self.namer.plan(s.init)
            self.statements(s.init)
            span = s.init.yields[0].span if isinstance(s.init.yields[0], (Var, Const)) else None
            guard = f' if "{s.name}" in live else None' if s.name in dict(m.live) else ""
            w.line(f"{s.name} = {self.expr(s.init.yields[0])}{guard}{self.where(span)}")
        names = [s.name for s in shared]
        w.line(f"return {', '.join(names)}{',' if len(names) == 1 else ''}")
        w.dedent()
        w.line()
        w.line()

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

    def phase_lists(self, taken: set) -> tuple[dict[str, str], list]:
        """Names for the per-leaf lists of a phased step: one per per-leaf input (`xs`, `gs`,
        `ms`) and one per value that crosses from one phase to a later one (a `total`'s
        partials are named after the `.iter` name the total ends up in: `sq_norm_parts`).
        Returns (printed name of a per-leaf value -> its list, the crossing values)."""
        m = self.m

        def fresh(base: str) -> str:
            for cand in [f"{base}s", f"{base}_list"] + [f"{base}_list{k}" for k in range(2, 1000)]:
                if cand not in taken and not keyword.iskeyword(cand):
                    taken.add(cand)
                    return cand
            raise AssertionError("no free name")

        lists: dict[str, str] = {}
        for v in [m.param.var] + [o.var for o in m.oracles if o.kind != "value"] + \
                [s.var for s in m.states if not s.shared]:
            lists[v.name] = fresh(v.name)
        crossing = [v for p in m.phases for v in p.stores + (p.loads if p.kind == "model" else ())]
        named = partial_names(m.body)
        for v in crossing:
            key = self.namer.name(v)
            if key not in lists:
                lists[key] = fresh(named[v.name] + "_part" if v.source is None and v.name in named else key)
        return lists, crossing

    def emit(self) -> None:
        """The method's code: the header, then its optimizer or solver (each target's own)."""
        self.header()
        if isinstance(self.m, OptimizerIR):
            self.optimizer()
        else:
            self.solver()

    def phased_return(self, lists: dict[str, str]) -> None:
        """The end of a phased step: the param's and per-leaf states' lists, a shared state's
        scalar (each per-leaf yield is printed under its slot's name, so its list is the one
        the leaf phases filled)."""
        yields = []
        for slot, y in zip([self.m.param] + list(self.m.states), self.m.body.yields):
            if slot.shared:
                yields.append(self.expr(y))
            elif slot is self.m.param and self.m.yields_update:     # the update's list
                yields.append(lists[self.namer.name(y)])
            else:
                assert self.namer.name(y) == slot.name, (slot.name, y)
                yields.append(lists[slot.name])
        self.w.line(f"return {', '.join(yields)}" + ("," if len(yields) == 1 else ""))

    def dims_line(self) -> None:
        """The leaf's sizes (`m, n = x.shape`), then the int hypers that size a state
        (`rank = hp.rank`), as locals the shapes in the code below name."""
        p = self.m.param
        if p.type.shape != LEAF and p.type.shape != ():
            names = [d if isinstance(d, str) else "_" for d in p.type.shape]
            self.w.line(f"{', '.join(names)}{',' if len(names) == 1 else ''} = {self.leaf_ref}.shape")
        self.hyper_dim_lines()

    def hyper_dim_lines(self) -> None:
        """`rank = hp.rank` for each int hyper that sizes a value of the method."""
        for name in hyper_dims(self.m):
            self.w.line(f"{name} = {self.namer.hyper_prefix}{name}")

    def state_shape_checks(self) -> None:
        """At the top of a step: each state sized by an int hyper has the shape this instance
        gives it (a state saved under another `rank` is an error naming both shapes)."""
        sized = hyper_dims(self.m)
        for s in self.m.states:
            if s.shared or s.type.shape == LEAF or not any(d in sized for d in s.type.shape):
                continue
            sizes = ", ".join(f"{d} = {{{d}}}" for d in s.type.shape if isinstance(d, str))
            want = tuple_code(str(d) for d in s.type.shape)
            self.w.line(f'rt.check_state_shape("{self.m.name}", "{s.name}", {s.name}, {want}, f"{sizes}")')

    def header(self) -> None:
        """The method's banner and docstring lines, then its Spec."""
        m, w = self.m, self.w
        w.line(f"# ---- {m.kind} {m.name}")
        for doc_line in (m.doc or "").split("\n"):
            if doc_line.strip():
                w.line(f"# {comment(doc_line)}")
        w.line()
        self.spec()
        w.line()
        w.line()


def hyper_dims(m) -> list[str]:
    """The int hypers an optimizer's values take a size from (`state Q: real[n, rank]`,
    `eye(rank)`): the code binds each as a local, as it binds the leaf's sizes."""
    from ..ir.passes import method_blocks
    hypers = {h.name for h in m.hypers}
    types = [s.type for s in m.states] + [v.type for b in method_blocks(m) for s in walk(b)
                                          for v in ((s.target,) if isinstance(s, Assign) else s.results)]
    shapes = [getattr(t, "shape", ()) for t in types]
    return sorted({d for shape in shapes if shape != LEAF for d in shape if isinstance(d, str) and d in hypers})


def totals_to_keep(m) -> set[str]:
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


def partial_names(body: Block) -> dict[str, str]:
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

"""An index of one analysed document: every name occurrence and the declaration it refers
to, built from the AST (so it exists for files with type errors too), with the checker's
Symbols and Types attached where the checker got that far.

Scoping follows the checker: a method's members share one namespace; the step counter,
`let`s and `for` variables live in nested blocks; a def sees its arguments, its own lets
and other defs. Names that resolve nowhere are left unbound (the diagnostics say why).
"""
from __future__ import annotations

import bisect
import dataclasses
from dataclasses import dataclass
from typing import Optional

from ..builtins import lookup
from ..check.model import DefExpansion, Symbol, Typing
from ..syntax import ast
from ..syntax.source import Span

MEMBER_KINDS = ("hyper", "param", "state", "input", "oracle", "dim", "let")
LOCAL_KINDS = ("local", "loopvar", "counter", "defarg", "deflocal")
RENAMABLE = MEMBER_KINDS + LOCAL_KINDS

KIND_WORDS = {"hyper": "hyper", "param": "param", "state": "state", "input": "input", "oracle": "oracle",
              "dim": "dimension", "let": "let", "local": "let", "loopvar": "loop variable",
              "counter": "step counter", "defarg": "def argument", "deflocal": "let (in a def)",
              "def": "def", "alias": "module", "method": "method"}


@dataclass(eq=False)
class Binding:
    name: str
    kind: str
    span: Optional[Span]                 # the declaring name (in another file for a used def)
    node: object                         # the declaring AST node
    method: Optional[ast.Method] = None
    owner: Optional[ast.Def] = None      # the def of a def argument or def let
    symbol: Optional[Symbol] = None
    region: tuple[int, int, int] = (0, 0, 0)   # visible in [start, end) at indentation >= col
    implicit: bool = False               # `step:` binds the counter `t` without writing it
    note: Optional[str] = None           # what else to say on hover (where a dimension's size comes from)


@dataclass(eq=False)
class Occ:
    start: int
    end: int
    name: str
    role: str           # decl | ref | builtin | type | domain | oracle | fact | kwarg | module | unknown | attr
    binding: Optional[Binding] = None
    node: object = None
    ctx: object = None  # the ast.Method or ast.Def it is in


class _Scope:
    __slots__ = ("parent", "names")

    def __init__(self, parent: Optional["_Scope"] = None):
        self.parent = parent
        self.names: dict[str, Binding] = {}

    def lookup(self, name: str) -> Optional[Binding]:
        s = self
        while s is not None:
            b = s.names.get(name)
            if b is not None:
                return b
            s = s.parent
        return None


_FIELDS: dict[type, tuple[str, ...]] = {}


def children(node) -> list:
    """The AST nodes directly under `node`, in source order."""
    cls = type(node)
    names = _FIELDS.get(cls)
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else ()
        _FIELDS[cls] = names
    out = []
    for n in names:
        if n in ("span", "op_span"):
            continue
        v = getattr(node, n)
        if isinstance(v, tuple):
            out.extend(x for x in v if hasattr(x, "span"))
        elif hasattr(v, "span") and not isinstance(v, Span):
            out.append(v)
    return out


class Index:
    def __init__(self, analysis):
        self.a = analysis
        self.occs: list[Occ] = []
        self.bindings: list[Binding] = []
        self.aliases: dict[str, tuple[Binding, dict]] = {}
        self.def_bindings: dict[int, Binding] = {}
        self.method_traces = {id(mt.decl): mt for mt in analysis.trace.methods}
        self.text = analysis.source.text if analysis.source is not None else ""
        self._line_starts = analysis.lines.starts if analysis.lines is not None else [0]
        module = analysis.module
        self.top = _Scope()
        if module is None:
            return
        defs = analysis.trace.defs or {d.name.name: d for d in module.defs}
        for name, d in defs.items():
            self.top.names[name] = self.def_binding(d)
        for use in module.uses:
            for ident in use.path:
                self.add(ident.span, ident.name, "module", node=use)
            if use.alias is not None:
                b = Binding(use.alias.name, "alias", use.alias.span, use, region=(0, len(self.text), 0))
                self.bindings.append(b)
                self.aliases[use.alias.name] = (b, analysis.trace.aliases.get(use.alias.name, {}))
                self.add(use.alias.span, use.alias.name, "decl", b, use)
        for d in module.defs:
            self.walk_def(d)
        for m in module.methods:
            self.walk_method(m)
        self.occs.sort(key=lambda o: (o.start, o.end))
        self._starts = [o.start for o in self.occs]

    # ------------------------------------------------------------ recording

    def add(self, span: Span, name: str, role: str, binding: Optional[Binding] = None, node=None, ctx=None):
        if span is not None and self.a.owns(span):
            self.occs.append(Occ(span.start, span.end, name, role, binding, node, ctx))

    def def_binding(self, d: ast.Def) -> Binding:
        b = self.def_bindings.get(id(d))
        if b is None:
            b = Binding(d.name.name, "def", d.name.span, d, region=(0, len(self.text), 0))
            self.def_bindings[id(d)] = b
            self.bindings.append(b)
        return b

    def declare(self, scope: _Scope, ident: ast.Ident, kind: str, node, method=None, owner=None,
                region=(0, 0, 0), symbol=None) -> Binding:
        b = Binding(ident.name, kind, ident.span, node, method, owner, symbol, region)
        self.bindings.append(b)
        if ident.name not in scope.names:
            scope.names[ident.name] = b
        self.add(ident.span, ident.name, "decl", b, node, method or owner)
        return b

    # ------------------------------------------------------------ regions

    def _line_of(self, offset: int) -> int:
        return bisect.bisect_right(self._line_starts, offset) - 1

    def _col(self, offset: int) -> int:
        return offset - self._line_starts[self._line_of(offset)]

    def extend(self, offset: int, col: int) -> int:
        """From the end of the line holding `offset`, the offset where the block of
        indentation `col` ends: the start of the next code line indented less."""
        text, starts = self.text, self._line_starts
        line = self._line_of(offset)
        for nxt in range(line + 1, len(starts)):
            start = starts[nxt]
            end = text.find("\n", start)
            body = text[start:] if end < 0 else text[start:end]
            stripped = body.lstrip(" ")
            if not stripped or stripped.startswith("#"):
                continue
            if len(body) - len(stripped) < col:
                return start
        return len(text)

    def next_line(self, offset: int) -> int:
        """The start of the line after the one holding `offset`: where a `let` becomes visible."""
        end = self.text.find("\n", offset)
        return len(self.text) if end < 0 else end + 1

    def block_region(self, stmts, start: int) -> tuple[int, int, int]:
        if not stmts:
            return (start, start, 0)
        col = self._col(stmts[0].span.start)
        return (start, self.extend(stmts[-1].span.end, col), col)

    # ------------------------------------------------------------ walking

    def walk_def(self, d: ast.Def) -> None:
        self.add(d.name.span, d.name.name, "decl", self.def_binding(d), d, d)
        scope = _Scope(self.top)
        region = (d.span.start, self.extend(d.span.end, 1), 0)
        for p in d.params:
            self.declare(scope, p, "defarg", p, owner=d, region=region)
        for let in d.lets:
            self.expr(let.value, scope, d, None)
            self.declare(scope, let.name, "deflocal", let, owner=d, region=(self.next_line(let.span.end), region[1], 0))
        self.expr(d.result, scope, d, None)

    def walk_method(self, m: ast.Method) -> None:
        mt = self.method_traces.get(id(m))
        typing = mt.typing if mt is not None else None
        symbols = mt.symbols if mt is not None else {}
        b = Binding(m.name.name, "method", m.name.span, m, region=(0, len(self.text), 0))
        self.bindings.append(b)
        self.add(m.name.span, m.name.name, "decl", b, m, m)
        scope = _Scope(self.top)
        region = (m.span.start, self.extend(m.span.end, 1), 0)

        def sym_for(name, node):
            s = symbols.get(name)
            return s if s is not None and (s.decl is node or s.kind == "dim") else None

        def dims_of(te: ast.TypeExpr, binds: bool, owner=None):
            if isinstance(te.dims, tuple):
                for axis, d in enumerate(te.dims):
                    if isinstance(d, ast.Ident):
                        known = scope.names.get(d.name)
                        if known is None and binds:
                            known = self.declare(scope, d, "dim", d, m, region=region, symbol=sym_for(d.name, d))
                        else:
                            self.add(d.span, d.name, "ref", known, d, m)
                        if binds and known is not None and known.kind == "dim" and known.note is None:
                            word = "param" if isinstance(owner, ast.Param) else "input"
                            known.note = f"its size: axis {axis} of {word} `{owner.name.name}`"

        order = ([mb for mb in m.members if isinstance(mb, ast.Dims)]
                 + [mb for mb in m.members if isinstance(mb, ast.Param)]
                 + [mb for mb in m.members if isinstance(mb, ast.Input)]
                 + [mb for mb in m.members if not isinstance(mb, (ast.Dims, ast.Param, ast.Input))])
        for mb in order:
            if isinstance(mb, ast.Dims):
                for ident in mb.names:
                    self.declare(scope, ident, "dim", ident, m, region=region, symbol=sym_for(ident.name, ident))
            elif isinstance(mb, (ast.Param, ast.Input)):
                kind = "param" if isinstance(mb, ast.Param) else "input"
                self.declare(scope, mb.name, kind, mb, m, region=region, symbol=sym_for(mb.name.name, mb))
                dims_of(mb.type, True, mb)
            elif isinstance(mb, (ast.Hyper, ast.State, ast.Oracle, ast.Let)):
                kind = {ast.Hyper: "hyper", ast.State: "state", ast.Oracle: "oracle", ast.Let: "let"}[type(mb)]
                self.declare(scope, mb.name, kind, mb, m, region=region, symbol=sym_for(mb.name.name, mb))
        for mb in m.members:
            self.member(mb, scope, m, typing, dims_of)

    def member(self, mb, scope: _Scope, m: ast.Method, typing, dims_of) -> None:
        ex = lambda e: self.expr(e, scope, m, typing)       # noqa: E731
        if isinstance(mb, ast.Hyper):
            self.add(mb.type.elem.span, mb.type.elem.name, "type", node=mb.type, ctx=m)
            dims_of(mb.type, False)
            if mb.interval is not None:
                ex(mb.interval.lo)
                ex(mb.interval.hi)
            if mb.default is not None:
                ex(mb.default)
            for c in mb.where:
                ex(c)
        elif isinstance(mb, (ast.Param, ast.Input, ast.State)):
            self.add(mb.type.elem.span, mb.type.elem.name, "type", node=mb.type, ctx=m)
            if isinstance(mb, ast.State):
                dims_of(mb.type, False)
            if mb.domain is not None:
                self.add(mb.domain.name.span, mb.domain.name.name, "domain", node=mb.domain, ctx=m)
                for arg in mb.domain.args:
                    ex(arg)
            if isinstance(mb, ast.State) and mb.init is not None:
                ex(mb.init)
        elif isinstance(mb, ast.Oracle):
            self.add(mb.kind.span, mb.kind.name, "oracle", node=mb, ctx=m)
            for arg in mb.args:
                ex(arg)
            if mb.every is not None:
                ex(mb.every)
        elif isinstance(mb, ast.Let):
            ex(mb.value)
        elif isinstance(mb, ast.Until):
            ex(mb.cond)
            if mb.max_iter is not None:
                ex(mb.max_iter)
        elif isinstance(mb, ast.Output):
            for ident in mb.names:
                self.add(ident.span, ident.name, "ref", scope.lookup(ident.name), ident, m)
        elif isinstance(mb, ast.Assume):
            for f in mb.facts:
                self.add(f.name.span, f.name.name, "fact", node=f, ctx=m)
                for arg in f.args:
                    ex(arg)
        elif isinstance(mb, ast.Step):
            self.step(mb, scope, m, typing)

    def step(self, st: ast.Step, scope: _Scope, m: ast.Method, typing) -> None:
        inner = _Scope(scope)
        body_region = self.block_region(st.body, st.span.start)
        if st.counter is not None:
            self.declare(inner, st.counter, "counter", st.counter, m, region=body_region)
        elif scope.lookup("t") is None or scope.lookup("t").kind == "def":
            b = Binding("t", "counter", None, st, m, region=body_region, implicit=True)
            self.bindings.append(b)
            inner.names["t"] = b
        self.block(st.body, _Scope(inner), m, typing)

    def block(self, stmts, scope: _Scope, m, typing) -> None:
        end = self.block_region(stmts, 0)[1:]
        for s in stmts:
            ex = lambda e: self.expr(e, scope, m, typing)     # noqa: E731
            if isinstance(s, ast.Assign):
                ex(s.value)
                b = scope.lookup(s.target.name)
                self.add(s.target.span, s.target.name, "ref", b, s.target, m)
            elif isinstance(s, ast.Let):
                ex(s.value)
                sym = None
                mt = self.method_traces.get(id(m))
                if mt is not None:
                    sym = next((x for x in mt.locals if x.decl is s), None)
                self.declare(scope, s.name, "local", s, m, region=(self.next_line(s.span.end), end[0], end[1]),
                             symbol=sym)
            elif isinstance(s, ast.Every):
                ex(s.period)
                self.block(s.body, _Scope(scope), m, typing)
            elif isinstance(s, ast.If):
                ex(s.cond)
                self.block(s.body, _Scope(scope), m, typing)
                self.block(s.orelse, _Scope(scope), m, typing)
            elif isinstance(s, ast.For):
                ex(s.lo)
                ex(s.hi)
                inner = _Scope(scope)
                self.declare(inner, s.var, "loopvar", s, m, region=self.block_region(s.body, s.var.span.end))
                self.block(s.body, _Scope(inner), m, typing)
            elif isinstance(s, ast.Repeat):
                self.block(s.body, _Scope(scope), m, typing)
                ex(s.until)
                ex(s.max_iter)

    def expr(self, node, scope: _Scope, ctx, typing: Optional[Typing]) -> None:
        stack = [node]
        while stack:
            n = stack.pop()
            t = type(n)
            if t is ast.Name:
                b = scope.lookup(n.id)
                if b is not None and typing is not None and b.symbol is None:
                    b.symbol = typing.symbols.get(id(n))
                self.add(n.span, n.id, "ref" if b is not None else "unknown", b, n, ctx)
            elif t is ast.Call:
                f = n.func
                if isinstance(f, ast.Name):
                    b = scope.lookup(f.id)
                    if b is not None:
                        self.add(f.span, f.id, "ref", b, n, ctx)
                    elif lookup(f.id) is not None or f.id == "prev":
                        self.add(f.span, f.id, "builtin", None, n, ctx)
                    else:
                        self.add(f.span, f.id, "unknown", None, n, ctx)
                elif isinstance(f, ast.Attr) and isinstance(f.value, ast.Name) and f.value.id in self.aliases:
                    alias, defs = self.aliases[f.value.id]
                    self.add(f.value.span, f.value.id, "ref", alias, f.value, ctx)
                    d = defs.get(f.attr.name)
                    self.add(f.attr.span, f.attr.name, "ref" if d is not None else "unknown",
                             self.def_binding(d) if d is not None else None, n, ctx)
                else:
                    stack.append(f)
                for k in n.kwargs:
                    self.add(k.name.span, k.name.name, "kwarg", None, n, ctx)
                    stack.append(k.value)
                stack.extend(reversed(n.args))
            elif t is ast.Attr:
                self.add(n.attr.span, n.attr.name, "attr", None, n, ctx)
                stack.append(n.value)
            else:
                stack.extend(reversed(children(n)))

    # ------------------------------------------------------------ queries

    def occ_at(self, offset: int) -> Optional[Occ]:
        """The occurrence under the cursor: one that contains the offset, or ends at it."""
        if not self.occs:
            return None
        i = bisect.bisect_right(self._starts, offset) - 1
        best = None
        for j in (i, i - 1):
            if 0 <= j < len(self.occs):
                o = self.occs[j]
                if o.start <= offset < o.end:
                    return o
                if o.end == offset and best is None:
                    best = o
        return best

    def references(self, b: Binding) -> list[Occ]:
        return [o for o in self.occs if o.binding is b]

    def visible(self, offset: int, col: Optional[int] = None) -> dict[str, Binding]:
        """Bindings visible at an offset (a cursor on a line indented by `col`)."""
        out: dict[str, Binding] = {}
        best: dict[str, int] = {}
        for b in self.bindings:
            if b.kind in ("method",):
                continue
            start, end, need = b.region
            if not (start <= offset < end) and not (b.kind in ("def", "alias")):
                continue
            if col is not None and need and col < need:
                continue
            if b.name not in out or start >= best[b.name]:
                out[b.name], best[b.name] = b, start
        return out

    def context_at(self, offset: int):
        """The method or def whose region holds the offset."""
        module = self.a.module
        if module is None:
            return None
        for item in list(module.methods) + list(module.defs):
            if item.span.start <= offset < self.extend(item.span.end, 1):
                return item
        return None

    def path_at(self, offset: int) -> list:
        """Nodes from the module down to the innermost one whose span holds the offset."""
        module = self.a.module
        path = []
        node = module
        while node is not None:
            path.append(node)
            nxt = None
            for c in children(node):
                sp = c.span
                if sp.start <= offset < sp.end or (sp.end == offset and sp.start < offset and nxt is None):
                    nxt = c
                    if sp.start <= offset < sp.end:
                        break
            node = nxt
        return path

    # ------------------------------------------------------------ types

    def typing_for(self, ctx) -> Optional[Typing]:
        mt = self.method_traces.get(id(ctx)) if ctx is not None else None
        return mt.typing if mt is not None else None

    def expansions(self, d: ast.Def) -> list[DefExpansion]:
        """Every checked call of def `d`, in every method (nested calls included)."""
        out = []
        for mt in self.a.trace.methods:
            stack = [mt.typing]
            while stack:
                typing = stack.pop()
                for c in typing.calls.values():
                    if isinstance(c, DefExpansion):
                        if c.defn is d:
                            out.append(c)
                        stack.append(c.typing)
        return out

    def types_of(self, node, ctx) -> list:
        """The types the checker gave `node`: one in a method; one per distinct call site
        type in a def (defs are typed where they are called)."""
        if isinstance(ctx, ast.Def):
            seen, out = set(), []
            for e in self.expansions(ctx):
                t = e.typing.types.get(id(node))
                if t is None and isinstance(node, ast.Ident):
                    sym = next((s for s in e.typing.symbols.values() if s.decl is node), None)
                    t = sym.type if sym is not None else None
                if t is not None and str(t) not in seen:
                    seen.add(str(t))
                    out.append(t)
            return out
        typing = self.typing_for(ctx)
        if typing is not None and id(node) in typing.types:
            return [typing.types[id(node)]]
        return []

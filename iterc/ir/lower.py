"""Checked AST -> IR: resolve names to Refs, builtins to Applies, desugar control flow.

Desugaring: `every k:` becomes an IfRegion on (t - 1) % k == 0; a comparison chain
becomes an `and` of pairs; a call of a user `def` becomes Binds of fresh names for its
arguments and lets, followed by its result; `prev(x)` reads a copy of x taken at the
start of the step.
"""
from __future__ import annotations

from typing import Optional

from ..builtins import OPERATORS, UNARY_OPERATORS
from ..check.model import CheckedMethod, CheckedModule, DefExpansion, Typing
from ..syntax import ast
from ..types import BOOL, INT, Type
from .nodes import (Apply, Bind, Const, ForRegion, HyperIR, IfRegion, MethodIR, ModuleIR, Ref, SlotIR,
                    Stmt, Value, WhileRegion)


class _Names:
    """Fresh names that never collide with the method's own."""

    def __init__(self, taken):
        self.taken = set(taken)

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name


class _Lowerer:
    def __init__(self, method: CheckedMethod):
        self.m = method
        self.names = _Names(list(method.symbols) + [method.counter] + _all_local_names(method.step.body))
        self.prev = {n: self.names.fresh(f"prev_{n}") for n in sorted(method.prev_used)}
        self.pending: list[Stmt] = []
        self.inline = False                # expand def calls as one expression (no statement to bind before)

    # ------------------------------------------------------------ values

    def value(self, node, typing: Typing, env: Optional[dict[str, Value]] = None) -> Value:
        env = env or {}
        t = typing.types.get(id(node))
        if isinstance(node, ast.Num):
            return Const(node.value, t, node.span)
        if isinstance(node, ast.Bool):
            return Const(node.value, BOOL, node.span)
        if isinstance(node, ast.Name):
            if node.id in env:                      # a def's argument or local: already a value
                return env[node.id]
            sym = typing.symbols.get(id(node))
            return Ref(node.id, sym.kind if sym is not None else "local", t, node.span)
        if isinstance(node, ast.Unary):
            entry = UNARY_OPERATORS[node.op]
            return Apply(entry.name, (self.value(node.operand, typing, env),), t, (), node.span)
        if isinstance(node, ast.Binary):
            entry = OPERATORS[node.op]
            return Apply(entry.name, (self.value(node.left, typing, env), self.value(node.right, typing, env)),
                         t, (), node.span)
        if isinstance(node, ast.Compare):
            operands = [self.value(o, typing, env) for o in node.operands]
            parts = [Apply(OPERATORS[op].name, (operands[i], operands[i + 1]),
                           Type("bool", t.shape if t else ()), (), node.span) for i, op in enumerate(node.ops)]
            result = parts[0]
            for p in parts[1:]:
                result = Apply("and", (result, p), t, (), node.span)
            return result
        if isinstance(node, ast.Call):
            info = typing.calls[id(node)]
            if isinstance(info, DefExpansion):
                return self.expand(info, typing, env)
            if info.builtin.name == "prev":
                arg = node.args[0]
                return Ref(self.prev[arg.id], "local", t, node.span)
            args = tuple(self.value(a, typing, env) for a in node.args)
            return Apply(info.builtin.name, args, t, tuple(sorted(info.kw.items())), node.span)
        if isinstance(node, ast.Index):
            items = tuple("None" if isinstance(i, ast.NewAxis) else ":" for i in node.items)
            return Apply("expand", (self.value(node.value, typing, env),), t, (("index", items),), node.span)
        if isinstance(node, ast.Attr):
            return Apply("transpose", (self.value(node.value, typing, env),), t, (), node.span)
        raise AssertionError(f"cannot lower {type(node).__name__}")

    def expand(self, info: DefExpansion, typing: Typing, env: dict[str, Value]) -> Value:
        inner_env: dict[str, Value] = {}
        fn = info.defn.name.name
        for p, arg in zip(info.params, info.call.args):
            value = self.value(arg, typing, env)
            if isinstance(value, Ref) or self.inline:
                inner_env[p] = value                # a name, or inline mode: substitute (defs are pure)
                continue
            fresh = self.names.fresh(f"{fn}_{p}")
            self.pending.append(Bind(fresh, value, "let", arg.span))
            inner_env[p] = Ref(fresh, "local", value.type, arg.span)
        for let in info.defn.lets:
            value = self.value(let.value, info.typing, inner_env)
            if self.inline:
                inner_env[let.name.name] = value
                continue
            fresh = self.names.fresh(f"{fn}_{let.name.name}")
            self.pending.append(Bind(fresh, value, "let", let.span))
            inner_env[let.name.name] = Ref(fresh, "local", value.type, let.span)
        return self.value(info.defn.result, info.typing, inner_env)

    def expression(self, node, typing: Typing) -> Value:
        """A value for a place with no statement before it (a hyper default, a condition, a
        state's initial value, an oracle period, a cap): def calls are substituted inline."""
        self.inline = True
        try:
            return self.value(node, typing)
        finally:
            self.inline = False

    def flush(self) -> list[Stmt]:
        """The def bindings that the value lowered last needs, to be emitted before its statement."""
        out, self.pending = self.pending, []
        return out

    # ------------------------------------------------------------ statements

    def block(self, stmts) -> tuple[Stmt, ...]:
        out: list[Stmt] = []
        for s in stmts:
            out.extend(self.stmt(s))
        return tuple(out)

    def stmt(self, s) -> list[Stmt]:
        typing = self.m.typing
        if isinstance(s, ast.Assign):
            v = self.value(s.value, typing)
            return self.flush() + [Bind(s.target.name, v, "update", s.span)]
        if isinstance(s, ast.Let):
            v = self.value(s.value, typing)
            return self.flush() + [Bind(s.name.name, v, "let", s.span)]
        if isinstance(s, ast.Every):
            k = self.value(s.period, typing)
            pre = self.flush()
            t = Ref(self.m.counter, "counter", INT)
            phase = Apply("mod", (Apply("sub", (t, Const(1, INT)), INT), k), INT)
            cond = Apply("eq", (phase, Const(0, INT)), BOOL, (), s.span)
            body = self.block(s.body)
            return pre + [IfRegion(cond, body, (), _carried(body), s.span, origin="every")]
        if isinstance(s, ast.If):
            cond = self.value(s.cond, typing)
            pre = self.flush()
            then, orelse = self.block(s.body), self.block(s.orelse)
            return pre + [IfRegion(cond, then, orelse, _carried(then + orelse), s.span)]
        if isinstance(s, ast.For):
            lo, hi = self.value(s.lo, typing), self.value(s.hi, typing)
            pre = self.flush()
            body = self.block(s.body)
            return pre + [ForRegion(s.var.name, lo, hi, body, _carried(body), s.span)]
        if isinstance(s, ast.Repeat):
            cap = self.value(s.max_iter, typing)
            pre = self.flush()
            body = list(self.block(s.body))
            cond = self.value(s.until, typing)
            body += self.flush()                 # the condition's def bindings run inside the loop
            return pre + [WhileRegion(tuple(body), cond, cap, _carried(tuple(body)), s.span)]
        raise AssertionError(f"cannot lower {type(s).__name__}")

    # ------------------------------------------------------------ the method

    def hyper(self, info) -> HyperIR:
        decl: ast.Hyper = info.decl
        typing = self.m.typing
        default = self.expression(decl.default, typing) if decl.default is not None else None
        conds = [(_canonical(c), self.expression(c, typing)) for c in decl.where]
        if decl.interval is not None:
            iv = decl.interval
            name_ref = Ref(decl.name.name, "hyper", info.symbol.type)
            lo_op = "le" if iv.lo_closed else "lt"
            hi_op = "le" if iv.hi_closed else "lt"
            lo, hi = self.expression(iv.lo, typing), self.expression(iv.hi, typing)
            text = (f"{decl.name.name} in {'[' if iv.lo_closed else '('}{_canonical(iv.lo)}, "
                    f"{_canonical(iv.hi)}{']' if iv.hi_closed else ')'}")
            cond = Apply("and", (Apply(lo_op, (lo, name_ref), BOOL), Apply(hi_op, (name_ref, hi), BOOL)), BOOL)
            conds.insert(0, (text, cond))
        return HyperIR(decl.name.name, info.symbol.type.elem, default, tuple(conds))

    def run(self) -> MethodIR:
        m = self.m
        typing = m.typing
        hypers = tuple(self.hyper(h) for h in m.hypers)
        param = None
        if m.params:
            p = m.params[0]
            param = SlotIR(p.name, p.type, storage=p.storage)
        inputs = tuple(SlotIR(s.name, s.type, storage=s.storage) for s in m.inputs)
        oracles = []
        for o in m.oracles:
            decl: ast.Oracle = o.decl
            every = self.expression(decl.every, typing) if decl.every is not None else None
            oracles.append(SlotIR(o.name, o.type, kind=decl.kind.name, every=every,
                                  oracle_args=tuple(a.id if isinstance(a, ast.Name) else "" for a in decl.args)))
        states = []
        for s in m.states:
            decl: ast.State = s.decl
            init = self.expression(decl.init, typing) if decl.init is not None else Const(0, INT)
            states.append(SlotIR(s.name, s.type, storage=s.storage, init=init))
        body = self.block(m.step.body)
        after: tuple[Stmt, ...] = ()
        until = residual = max_iter = None
        if m.kind == "solver":
            after_list: list[Stmt] = []
            for let in m.lets:
                v = self.value(let.value, typing)
                after_list += self.flush() + [Bind(let.name.name, v, "let", let.span)]
            if m.until is not None:
                until = self.value(m.until.cond, typing)
                after_list += self.flush()
                cond = m.until.cond
                if isinstance(cond, ast.Compare) and len(cond.ops) == 1 and cond.ops[0] in ("<", "<="):
                    residual = until.args[0] if isinstance(until, Apply) else None
            after = tuple(after_list)
            if m.max_iter is not None:
                max_iter = self.expression(m.max_iter, typing)
        conv = m.converges
        return MethodIR(
            kind=m.kind, name=m.name, doc=m.doc, source_path=m.decl.span.source.path, hypers=hypers,
            param=param, inputs=inputs, oracles=tuple(oracles), states=tuple(states),
            dims=tuple(d.name for d in m.dims), counter=m.counter,
            prev=tuple(sorted(self.prev.items())), body=body, after=after, until=until, residual=residual,
            max_iter=max_iter, outputs=tuple(o.name for o in m.outputs),
            converges=conv.kind if conv else None, cite=conv.cite if conv else None)


def _all_local_names(stmts) -> list[str]:
    names = []
    for s in stmts:
        if isinstance(s, ast.Let):
            names.append(s.name.name)
        elif isinstance(s, ast.For):
            names.append(s.var.name)
        for attr in ("body", "orelse"):
            names += _all_local_names(getattr(s, attr, ()) or ())
    return names


def _carried(stmts) -> tuple[str, ...]:
    out: list[str] = []
    for s in stmts:
        if isinstance(s, Bind) and s.kind == "update":
            names = [s.name]
        elif isinstance(s, (IfRegion, ForRegion, WhileRegion)):
            names = list(s.carried)
        else:
            names = []
        for n in names:
            if n not in out:
                out.append(n)
    return tuple(out)


_PREC = {"or": 1, "and": 2, "not": 3, "cmp": 4, "+": 5, "-": 5, "*": 6, "/": 6, "@": 6, "%": 6, "neg": 7, "^": 8}


def _prec(node) -> int:
    if isinstance(node, ast.Binary):
        return _PREC[node.op]
    if isinstance(node, ast.Compare):
        return _PREC["cmp"]
    if isinstance(node, ast.Unary):
        return _PREC["not"] if node.op == "not" else _PREC["neg"]
    return 9


def _canonical(node) -> str:
    """A condition as .iter text, rebuilt from the AST: identifiers, numbers and operators only."""
    if isinstance(node, ast.Num):
        if node.value == float("inf"):
            return "inf"
        return repr(node.value)
    if isinstance(node, ast.Bool):
        return "true" if node.value else "false"
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Unary):
        sep = " " if node.op == "not" else ""
        return f"{node.op}{sep}{_wrap(node.operand, _prec(node))}"
    if isinstance(node, ast.Binary):
        p = _prec(node)
        right_assoc = node.op == "^"
        return f"{_wrap(node.left, p + (1 if right_assoc else 0))} {node.op} {_wrap(node.right, p + (0 if right_assoc else 1))}"
    if isinstance(node, ast.Compare):
        parts = [_wrap(node.operands[0], 5)]
        for op, o in zip(node.ops, node.operands[1:]):
            parts += [op, _wrap(o, 5)]
        return " ".join(parts)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        args = [_canonical(a) for a in node.args] + [f"{k.name.name}={_canonical(k.value)}" for k in node.kwargs]
        return f"{node.func.id}({', '.join(args)})"
    return "<expr>"


def _wrap(node, min_prec: int) -> str:
    text = _canonical(node)
    return f"({text})" if _prec(node) < min_prec else text


def lower_method(method: CheckedMethod) -> MethodIR:
    return _Lowerer(method).run()


def lower_module(module: CheckedModule) -> ModuleIR:
    return ModuleIR(module.path, tuple(lower_method(m) for m in module.methods))

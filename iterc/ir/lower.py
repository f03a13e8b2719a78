"""Checked AST -> IR: A-normal form, one op per statement, structured regions with yields.

Each sub-expression is bound to a fresh temporary (`Var.source` None); a `let` or an
update `x <- e` binds a fresh Var whose `source` is the `.iter` name, and the name then
refers to that Var (SSA: nothing is rebound). Regions take the names assigned inside
them as carried values: an `If` yields them from both branches, a loop as block
parameters.

Desugaring: `every k:` becomes an If on (t - 1) % k == 0; a comparison chain an `and`
of pairs; a call of a user `def` the def's statements with its parameters bound to the
argument operands; `prev(x)` a copy of x taken at the start of the step. A solver
becomes an init block and a While region whose body holds the step, the solver-level
lets, the residual, the stopping test and the finiteness check of the states.

A call of a function oracle `T(x)` is `call(T, x)`. A random draw `randn_like(x)` reads
the current generator key (the name `_rng`, like a state the user cannot see), draws with
it, and binds the next key `rng_next(key)`; regions whose statements draw carry `_rng`.
"""
from __future__ import annotations

import dataclasses
from typing import Optional

from ..builtins import OPERATORS, UNARY_OPERATORS, REGISTRY, Kind, result_type
from ..check.consteval import const_eval
from ..check.model import CheckedMethod, CheckedModule, DefExpansion, Typing
from ..syntax import ast
from ..types import BOOL, INT, KEY, LEAF, REAL, FnType, Type
from .nodes import (Apply, Assign, Block, Const, DType, For, HyperIR, If, LeafPattern, ModuleIR, OptimizerIR,
                    Operand, OracleIR, Origin, Place, RuleIR, SlotIR, SolverIR, Var, While)
from .text import canonical

RNG = "_rng"                       # the .iter-invisible name of the generator key
DRAWS = {"randn_like": "random_normal", "rand_like": "random_uniform"}
_STORAGE = {"f64": DType.F64, "f32": DType.F32, "f16": DType.F16, "bf16": DType.BF16, "int": DType.I64,
            "bool": DType.BOOL}


class Names:
    """Fresh names that never collide with the method's own."""

    def __init__(self, taken):
        self.taken = set(taken)
        self.claimed: set[str] = set()

    def claim(self, source: str) -> str:
        """The SSA name of a value that carries the .iter name `source`: the name itself
        for its first binding, then `source_2`, ..."""
        if source not in self.claimed:
            self.claimed.add(source)
            self.taken.add(source)
            return source
        return self.fresh(source)

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken or name in self.claimed:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        self.claimed.add(name)
        return name


def place_of(fn: str, args, t: Type) -> Place:
    """A value's placement from its inputs': tensors are ELEMENT, a reduction of a tensor
    to a scalar is LEAF, anything else is known where its latest input is."""
    if t.shape != ():
        return Place.ELEMENT
    top = max((a.place if isinstance(a, Var) else Place.STATIC for a in args), default=Place.STATIC)
    if fn in ("size", "ndim"):                  # shapes are Python values, even under jit
        return Place.STATIC
    if REGISTRY[fn].kind == Kind.MODEL:
        return Place.MODEL
    if REGISTRY[fn].kind == Kind.LIBRARY:       # a call, a key or a draw: known only at run time
        return max(top, Place.LEAF)
    return Place.LEAF if top == Place.ELEMENT else top


def slot_place(t: Type, solver: bool = False) -> Place:
    return Place.ELEMENT if t.shape != () else Place.LEAF


def dtype_of(storage: Optional[str], t: Type, default: DType) -> DType:
    if storage in _STORAGE:
        return _STORAGE[storage]
    if t.elem == "int":
        return DType.I64
    if t.elem == "bool":
        return DType.BOOL
    return default


def assigned_names(stmts) -> list[str]:
    """Names a block of statements updates with `<-`, in first-update order: the values a
    region around them carries. A `var` declared inside is local to them, not carried."""
    out: list[str] = []
    local: set[str] = set()

    def walk(ss):
        for s in ss:
            if isinstance(s, ast.VarDecl):
                local.add(s.name.name)
            if isinstance(s, ast.Assign):
                if s.target.name not in out:
                    out.append(s.target.name)
            for attr in ("body", "orelse"):
                walk(getattr(s, attr, ()) or ())
    walk(stmts)
    return [n for n in out if n not in local]


class Lowerer:
    def __init__(self, method: CheckedMethod):
        self.m = method
        self.names = Names(list(method.symbols) + [method.counter] + _all_local_names(method.step.body)
                           + [let.name.name for let in method.lets])
        self.stmts: list = []
        self.env: dict[str, Operand] = {}              # .iter name -> its current value
        self.types: dict[str, Type] = {}               # declared types of assignable names
        self.counter = Var(method.counter, INT, Place.STEP, Origin.COUNTER, method.counter)
        self.fixed: dict[str, Var] = {method.counter: self.counter}
        for h in method.hypers:
            elem = h.symbol.type.elem
            static = elem in ("bool", "int")
            self.fixed[h.symbol.name] = Var(h.symbol.name, h.symbol.type, Place.STATIC if static else Place.STEP,
                                            Origin.HYPER, h.symbol.name)
        for d in method.dims:
            self.fixed[d.name] = Var(d.name, INT, Place.STATIC, Origin.DIM, d.name)
        for o in method.oracles:
            if isinstance(o.type, FnType):       # a function, fixed for the whole solve
                place = Place.STATIC
            else:
                place = Place.STEP if o.decl.kind.name == "value" else slot_place(o.type)
            self.fixed[o.name] = Var(o.name, o.type, place, Origin.ORACLE, o.name)
        for i in method.inputs:
            self.fixed[i.name] = Var(i.name, i.type, slot_place(i.type), Origin.INPUT, i.name)
        self.entry: dict[str, Var] = {}
        for p in method.params:
            self.entry[p.name] = Var(p.name, p.type, slot_place(p.type), Origin.PARAM, p.name)
        for s in method.states:
            place = Place.MODEL if s.shared else slot_place(s.type)
            self.entry[s.name] = Var(s.name, s.type, place, Origin.STATE, s.name)
        for sym in list(method.params) + list(method.states):
            self.types[sym.name] = sym.type
        self.names.claimed |= set(self.fixed) | set(self.entry)
        self.types[RNG] = KEY

    # ------------------------------------------------------------ emitting

    def fresh(self, t: Type, place: Place, source: Optional[str] = None, base: str = "t", span=None,
              origin: Origin = Origin.VALUE) -> Var:
        name = self.names.claim(source) if source is not None else self.names.fresh(f"_{base}")
        return Var(name, t, place, origin, source, span)

    def emit(self, fn: str, args, t: Type, kw=(), span=None) -> Var:
        target = self.fresh(t, place_of(fn, args, t), base=fn, span=span)
        self.stmts.append(Assign(target, Apply(fn, tuple(args), t, tuple(kw)), span))
        return target

    def emit_typed(self, fn: str, *args, **kw) -> Var:
        """An op whose type the registry computes (for ops lowering builds itself)."""
        ops = tuple(a if isinstance(a, (Var, Const)) else _const(a) for a in args)
        t = result_type(fn, [a.type for a in ops], kw)
        return self.emit(fn, ops, t, tuple(sorted(kw.items())))

    def bind(self, name: str, value: Operand, span=None) -> Var:
        """Give `value` the .iter name `name`: rename the temporary just emitted, or copy."""
        t = self.types.get(name, value.type)
        at = -1
        if len(self.stmts) >= 2 and _is_rng_next(self.stmts[-1]):
            at = -2                                 # a draw, then the next key: name the draw
        last = self.stmts[at] if self.stmts else None
        if (isinstance(value, Var) and value.source is None and isinstance(last, Assign)
                and last.target is value and value.type == t):
            target = Var(self.names.claim(name), t, value.place, Origin.VALUE, name, span)
            self.stmts[at] = Assign(target, last.op, span)
        else:
            place = value.place if isinstance(value, Var) else Place.STATIC
            if t.shape != ():
                place = Place.ELEMENT
            target = Var(self.names.claim(name), t, place, Origin.VALUE, name, span)
            self.stmts.append(Assign(target, value, span))
        self.env[name] = target
        return target

    def sub_block(self, stmts, carried: list[str], bind: Optional[dict] = None, tail=None) -> Block:
        """Lower `stmts` into a block of their own that yields the carried names' values."""
        saved_stmts, saved_env = self.stmts, self.env
        self.stmts, self.env = [], dict(saved_env)
        if bind:
            self.env.update(bind)
        for s in stmts:
            self.stmt(s)
        extra = tail() if tail is not None else ()
        block = Block(tuple(self.stmts), tuple(self.env[c] for c in carried) + tuple(extra))
        self.stmts, self.env = saved_stmts, saved_env
        return block

    def expression_block(self, node, typing: Typing) -> Block:
        """A block computing one expression (hyper defaults, conditions, state inits, periods)."""
        saved = self.stmts
        self.stmts = []
        v = self.value(node, typing)
        block = Block(tuple(self.stmts), (v,))
        self.stmts = saved
        return block

    # ------------------------------------------------------------ values

    def value(self, node, typing: Typing, env: Optional[dict[str, Operand]] = None) -> Operand:
        env = env or {}
        t = typing.types.get(id(node))
        if isinstance(node, ast.Num):
            return Const(node.value, t or (INT if node.is_int else REAL), node.span)
        if isinstance(node, ast.Bool):
            return Const(node.value, BOOL, node.span)
        if isinstance(node, ast.Name):
            if node.id in env:                      # a def's parameter or local
                return env[node.id]
            if node.id in self.env:
                return self.env[node.id]
            return self.fixed[node.id]
        if isinstance(node, ast.Unary):
            return self.emit(UNARY_OPERATORS[node.op].name, (self.value(node.operand, typing, env),), t,
                             span=node.span)
        if isinstance(node, ast.Binary):
            left, right = self.value(node.left, typing, env), self.value(node.right, typing, env)
            return self.emit(OPERATORS[node.op].name, (left, right), t, span=node.span)
        if isinstance(node, ast.Compare):
            operands = [self.value(o, typing, env) for o in node.operands]
            shape = t.shape if t else ()
            parts = [self.emit(OPERATORS[op].name, (operands[i], operands[i + 1]), Type("bool", shape),
                               span=node.span) for i, op in enumerate(node.ops)]
            result = parts[0]
            for p in parts[1:]:
                result = self.emit("and", (result, p), t, span=node.span)
            return result
        if isinstance(node, ast.Call):
            info = typing.calls[id(node)]
            if isinstance(info, DefExpansion):
                return self.expand(info, typing, env)
            if info.builtin.name == "prev":
                return self.env[f"prev {node.args[0].id}"]
            if info.builtin.name == "call":
                return self.call(node, typing, env, t)
            if info.builtin.name in DRAWS:
                return self.draw(DRAWS[info.builtin.name], self.value(node.args[0], typing, env), t, node.span)
            args = tuple(self.value(a, typing, env) for a in node.args)
            return self.emit(info.builtin.name, args, t, tuple(sorted(info.kw.items())), node.span)
        if isinstance(node, ast.Index):
            items = tuple("None" if isinstance(i, ast.NewAxis) else ":" for i in node.items)
            return self.emit("expand", (self.value(node.value, typing, env),), t, (("index", items),), node.span)
        if isinstance(node, ast.Attr):
            return self.emit("transpose", (self.value(node.value, typing, env),), t, (), node.span)
        raise AssertionError(f"cannot lower {type(node).__name__}")

    def expand(self, info: DefExpansion, typing: Typing, env: dict[str, Operand]) -> Operand:
        """A def call: its parameters name the argument values (a computed argument gets
        the name `def_param`, so generated code reads like the def); its lets follow."""
        inner: dict[str, Operand] = {}
        fn = info.defn.name.name
        for p, arg in zip(info.params, info.call.args):
            value = self.value(arg, typing, env)
            if isinstance(value, Var) and value.source is None:
                value = self.rename(value, f"{fn}_{p}", arg.span)
            inner[p] = value
        for let in info.defn.lets:
            value = self.value(let.value, info.typing, inner)
            if isinstance(value, Var) and value.source is None:
                value = self.rename(value, f"{fn}_{let.name.name}", let.span)
            inner[let.name.name] = value
        return self.value(info.defn.result, info.typing, inner)

    def call(self, node: ast.Call, typing: Typing, env, t: Type) -> Var:
        """`T(x)`: `call(T, x)`, an int argument cast to a declared real."""
        fn = self.fixed[node.func.id]
        args = []
        for a, want in zip(node.args, fn.type.params):
            v = self.value(a, typing, env)
            if v.type.elem != want.elem:
                v = self.emit("cast", (v,), v.type.with_elem(want.elem), (("elem", want.elem),), a.span)
            args.append(v)
        return self.emit("call", (fn, *args), t, span=node.span)

    def draw(self, fn: str, like: Operand, t: Type, span) -> Var:
        """A draw with the current key, then the next key: `random_normal(k, x)`, `rng_next(k)`.
        The draw comes first, so the key it reads is never read after the next one is bound."""
        key = self.env[RNG]
        target = Var(self.names.fresh("_randn" if fn == "random_normal" else "_rand"), t,
                     place_of(fn, (key, like), t), Origin.VALUE, None, span)
        self.stmts.append(Assign(target, Apply(fn, (key, like), t), span))
        nxt = Var(self.names.claim(RNG), KEY, Place.LEAF, Origin.VALUE, RNG, span)
        self.stmts.append(Assign(nxt, Apply("rng_next", (key,), KEY), span))
        self.env[RNG] = nxt
        return target

    def carried(self, stmts) -> list[str]:
        """The names a region carries: what it assigns, and the key when it draws."""
        out = assigned_names(stmts)
        if self.m.draws and _draws_in(stmts, self.m.typing):
            out.append(RNG)
        return out

    def rename(self, value: Var, base: str, span) -> Var:
        last = self.stmts[-1] if self.stmts else None
        target = Var(self.names.fresh(base), value.type, value.place, Origin.VALUE, None, span)
        target = Var(target.name, target.type, target.place, Origin.VALUE, target.name, span)
        if isinstance(last, Assign) and last.target is value:
            self.stmts[-1] = Assign(target, last.op, span)
        else:
            self.stmts.append(Assign(target, value, span))
        return target

    # ------------------------------------------------------------ statements

    def stmt(self, s) -> None:
        typing = self.m.typing
        if isinstance(s, ast.Assign):
            self.bind(s.target.name, self.value(s.value, typing), s.span)
        elif isinstance(s, ast.Let):
            v = self.value(s.value, typing)
            self.types.pop(s.name.name, None)
            self.bind(s.name.name, v, s.span)
        elif isinstance(s, ast.LetTuple):
            v = self.value(s.value, typing)                  # one Var of a TupleType
            for k, ident in enumerate(s.names):
                self.types.pop(ident.name, None)
                item = self.emit("get", (v,), v.type.items[k], (("index", k),), s.span)
                self.bind(ident.name, item, s.span)
        elif isinstance(s, ast.VarDecl):
            v = self.value(s.value, typing)
            self.types[s.name.name] = typing.types[id(s.value)]
            self.bind(s.name.name, v, s.span)
        elif isinstance(s, ast.Every):
            k = self.value(s.period, typing)
            phase = self.emit("mod", (self.emit("sub", (self.counter, Const(1, INT)), INT), k), INT)
            cond = self.emit("eq", (phase, Const(0, INT)), BOOL, span=s.span)
            self.region_if(cond, s.body, (), "every", s.span)
        elif isinstance(s, ast.If):
            cond = self.value(s.cond, typing)
            self.region_if(cond, s.body, s.orelse, "if", s.span)
        elif isinstance(s, ast.For):
            self.region_for(s)
        elif isinstance(s, ast.Repeat):
            self.region_repeat(s)
        else:
            raise AssertionError(f"cannot lower {type(s).__name__}")

    def results(self, carried, blocks, extra_place=Place.STATIC, span=None) -> tuple[Var, ...]:
        out = []
        for i, name in enumerate(carried):
            place = max([extra_place] + [y.place if isinstance(y, Var) else Place.STATIC
                                         for b in blocks for y in b.yields[i:i + 1]])
            out.append(Var(self.names.claim(name), self.types.get(name, self.env[name].type), place,
                           Origin.VALUE, name, span))
        return tuple(out)

    def region_if(self, cond: Operand, then_stmts, else_stmts, origin: str, span) -> None:
        carried = self.carried(tuple(then_stmts) + tuple(else_stmts))
        then = self.sub_block(then_stmts, carried)
        if len(else_stmts) == 1 and isinstance(else_stmts[0], ast.If):
            inner = else_stmts[0]
            saved_stmts, saved_env = self.stmts, self.env
            self.stmts, self.env = [], dict(saved_env)
            inner_cond = self.value(inner.cond, self.m.typing)
            self.region_if(inner_cond, inner.body, inner.orelse, "elif", inner.span)
            orelse = Block(tuple(self.stmts), tuple(self.env[c] for c in carried))
            self.stmts, self.env = saved_stmts, saved_env
        else:
            orelse = self.sub_block(else_stmts, carried)
        cplace = cond.place if isinstance(cond, Var) else Place.STATIC
        results = self.results(carried, (then, orelse), cplace, span)
        self.stmts.append(If(cond, then, orelse, results, origin, span))
        for name, r in zip(carried, results):
            self.env[name] = r

    def loop_params(self, carried, span) -> tuple[Var, ...]:
        params = []
        for name in carried:
            init = self.env[name]
            t = self.types.get(name, init.type)
            place = max(init.place if isinstance(init, Var) else Place.STATIC, slot_place(t))
            params.append(Var(self.names.claim(name), t, place, Origin.LOOPVAR, name, span))
        return tuple(params)

    def region_for(self, s: ast.For) -> None:
        typing = self.m.typing
        lo, hi = self.value(s.lo, typing), self.value(s.hi, typing)
        carried = self.carried(s.body)
        var = Var(self.names.claim(s.var.name), INT, Place.STEP, Origin.LOOPVAR, s.var.name, s.var.span)
        params = self.loop_params(carried, s.span)
        inits = tuple(self.env[c] for c in carried)
        body = self.sub_block(s.body, carried, bind={**dict(zip(carried, params)), s.var.name: var})
        results = tuple(Var(self.names.claim(p.source), p.type, p.place, Origin.VALUE, p.source, s.span)
                        for p in params)
        self.stmts.append(For(var, lo, hi, inits, params, body, results, s.span))
        self.env.update(zip(carried, results))

    def region_repeat(self, s: ast.Repeat) -> None:
        typing = self.m.typing
        cap = self.value(s.max_iter, typing)
        carried = self.carried(tuple(s.body) + (s.until,))
        params = self.loop_params(carried, s.span)
        inits = tuple(self.env[c] for c in carried) + (Const(False, BOOL),)
        stop_param = Var(self.names.fresh("_stop"), BOOL, Place.LEAF, Origin.LOOPVAR, None, s.span)
        body = self.sub_block(s.body, carried, bind=dict(zip(carried, params)),
                              tail=lambda: (self.value(s.until, typing),))
        results = tuple(Var(self.names.claim(p.source), p.type, p.place, Origin.VALUE, p.source, s.span)
                        for p in params)
        stop_result = Var(self.names.fresh("_stopped"), BOOL, Place.LEAF, Origin.VALUE, None, s.span)
        self.stmts.append(While(inits, params + (stop_param,), body, cap, results + (stop_result,), None, s.span))
        self.env.update(zip(carried, results))

    # ------------------------------------------------------------ method members

    def hyper(self, info) -> HyperIR:
        decl: ast.Hyper = info.decl
        typing = self.m.typing
        var = self.fixed[decl.name.name]
        default = self.expression_block(decl.default, typing) if decl.default is not None else None
        conds = [(canonical(c), self.expression_block(c, typing)) for c in decl.where]
        if decl.interval is not None:
            iv = decl.interval
            saved = self.stmts
            self.stmts = []
            lo, hi = self.value(iv.lo, typing), self.value(iv.hi, typing)
            first = self.emit("le" if iv.lo_closed else "lt", (lo, var), BOOL)
            second = self.emit("le" if iv.hi_closed else "lt", (var, hi), BOOL)
            both = self.emit("and", (first, second), BOOL)
            block = Block(tuple(self.stmts), (both,))
            self.stmts = saved
            text = (f"{var.name} in {'[' if iv.lo_closed else '('}{canonical(iv.lo)}, "
                    f"{canonical(iv.hi)}{']' if iv.hi_closed else ')'}")
            conds.insert(0, (text, block))
        return HyperIR(var, default, tuple(conds), static=var.place == Place.STATIC)

    def state_slot(self, sym, default_dtype: DType) -> SlotIR:
        decl: ast.State = sym.decl
        init = self.expression_block(decl.init, self.m.typing) if decl.init is not None \
            else Block((), (Const(0, INT),))
        if sym.shared:                     # one value for the model: no param leaf to take a dtype from
            return SlotIR(self.entry[sym.name], dtype_of(sym.storage, sym.type, DType.F64), init, shared=True)
        return SlotIR(self.entry[sym.name], dtype_of(sym.storage, sym.type, default_dtype), init)

    def periods(self, body_stmts) -> tuple[tuple[str, Block], ...]:
        out = []

        def walk(ss):
            for s in ss:
                if isinstance(s, ast.Every):
                    out.append((canonical(s.period), self.expression_block(s.period, self.m.typing)))
                for attr in ("body", "orelse"):
                    walk(getattr(s, attr, ()) or ())
        walk(body_stmts)
        return tuple(out)

    def common(self):
        m = self.m
        hypers = tuple(self.hyper(h) for h in m.hypers)
        dims = tuple(self.fixed[d.name] for d in m.dims)
        conv = m.converges
        return hypers, dims, (conv.kind if conv else None), (conv.cite if conv else None)

    def optimizer(self) -> OptimizerIR:
        m = self.m
        hypers, dims, conv, cite = self.common()
        p = m.params[0]
        param = SlotIR(self.entry[p.name], dtype_of(p.storage, p.type, DType.LIKE_PARAM))
        oracles = []
        for o in m.oracles:
            decl: ast.Oracle = o.decl
            every = self.expression_block(decl.every, m.typing) if decl.every is not None else None
            oracles.append(OracleIR(self.fixed[o.name], decl.kind.name, every,
                                    tuple(a.id if isinstance(a, ast.Name) else "" for a in decl.args)))
        self.env = {p.name: self.entry[p.name]}
        states = tuple(self.state_slot(s, DType.LIKE_PARAM) for s in m.states)
        self.env = dict(self.entry)
        key = None
        if m.draws:
            key = Var(self.names.claim(RNG), KEY, Place.LEAF, Origin.KEY, RNG)
            self.env[RNG] = key
        self.copy_prev()
        for s in m.step.body:
            self.stmt(s)
        yields = tuple(self.env[n] for n in [p.name] + [s.name for s in m.states] + ([RNG] if m.draws else []))
        body = Block(tuple(self.stmts), yields)
        eval_view = None
        if m.eval is not None:                 # reads the entry values: the param and states a step left
            self.env = dict(self.entry)
            eval_view = self.expression_block(m.eval.value, m.typing)
        return OptimizerIR(m.name, m.doc, m.decl.span.source.path, hypers, param, tuple(oracles), states, dims,
                           self.counter, body, periods=self.periods(m.step.body), converges=conv, cite=cite,
                           key=key, eval=eval_view)

    def copy_prev(self) -> None:
        for name in sorted(self.m.prev_used):
            src = self.env[name]
            copy = Var(self.names.claim(f"prev_{name}"), src.type, src.place, Origin.VALUE, f"prev_{name}")
            self.stmts.append(Assign(copy, src))
            self.env[f"prev {name}"] = copy

    def solver(self) -> SolverIR:
        m = self.m
        typing = m.typing
        hypers, dims, conv, cite = self.common()
        inputs = tuple(SlotIR(self.fixed[i.name], dtype_of(i.storage, i.type, DType.F64),
                              domain=_input_domain(i.decl.domain)) for i in m.inputs)
        oracles = tuple(OracleIR(self.fixed[o.name], "function") for o in m.oracles)
        let_names = [let.name.name for let in m.lets]
        state_names = [s.name for s in m.states]
        out_lets = [o.name for o in m.outputs if o.name in let_names]
        rng = [RNG] if m.draws else []
        # init: the generator, the states in order (an initial value may read an earlier
        # state), the carried lets (zeros of their type: the loop runs at least once), then
        # the residual, the `until` test and the stop flag
        self.env = {}
        if m.draws:
            self.bind(RNG, self.emit("rng_key", (self.fixed["seed"],), KEY))
        slots = []
        for sym in m.states:
            slot = self.state_slot(sym, DType.F64)
            slots.append(slot)
            self.stmts.extend(slot.init.stmts)
            first = slot.init.yields[0]
            if sym.type == REAL and isinstance(first, Const) and first.type == INT:
                first = Const(float(first.value), REAL, first.span)      # a real scalar starts as a float
            self.bind(sym.name, first, sym.decl.span)
        states = tuple(slots)
        let_types = {let.name.name: typing.types[id(let.value)] for let in m.lets}
        for name in out_lets:
            self.types[name] = let_types[name]
            t = let_types[name]
            self.bind(name, self.emit("zeros", (), t, (("elem", t.elem), ("shape", t.shape))))
        residual_form = self.residual_form()
        inits = [self.env[n] for n in state_names + out_lets + rng]
        if residual_form:
            inits.append(Const(float("inf"), REAL))
        inits += [Const(False, BOOL), Const(False, BOOL)]
        init = Block(tuple(self.stmts), tuple(inits))
        self.stmts = []
        carried = state_names + out_lets + rng + (["_residual"] if residual_form else []) + ["_converged", "_stop"]
        self.types.update({"_residual": REAL, "_converged": BOOL, "_stop": BOOL})
        params = []
        for name, v in zip(carried, inits):
            t = self.types.get(name, v.type)
            params.append(Var(self.names.claim(name), t, slot_place(t), Origin.LOOPVAR, name))
        counter = self.counter
        self.env = dict(zip(carried, params))
        self.copy_prev()
        for s in m.step.body:
            self.stmt(s)
        for let in m.lets:
            v = self.value(let.value, typing)
            self.bind(let.name.name, v, let.span)
        cond = m.until.cond if m.until is not None else None
        if residual_form:
            residual = self.bind("_residual", self.value(cond.operands[0], typing))
            bound = self.value(cond.operands[1], typing)
            test = self.emit("le" if cond.ops[0] == "<=" else "lt", (residual, bound), BOOL, span=cond.span)
        else:
            residual = None
            test = self.value(cond, typing) if cond is not None else Const(False, BOOL)
        converged = self.bind("_converged", test)
        # stop on the `until` test, or as soon as a real state is not finite (nan or inf)
        assigned = set(assigned_names(m.step.body))      # a state the step never assigns never changes
        checked = [sym.name for sym in m.states if sym.type.elem == "real" and sym.name in assigned]
        stop: Operand = converged
        if checked:
            finite = None
            for name in checked:
                value = self.env[name]
                ok = self.emit("isfinite", (value,), value.type.with_elem("bool"))
                if value.type.shape != ():
                    ok = self.emit("reduce_all", (ok,), BOOL)
                finite = ok if finite is None else self.emit("and", (finite, ok), BOOL)
            finite = self.bind("_finite", finite)
            stop = self.emit("or", (converged, self.emit("not", (finite,), BOOL)), BOOL)
        yields = [self.env[n] for n in state_names + out_lets + rng]
        yields += ([residual] if residual_form else []) + [converged, stop]
        if m.max_iter is None:
            raise AssertionError("a checked solver always has a cap")
        cap = self.expression_block(m.max_iter, typing)
        body = Block(tuple(self.stmts), tuple(yields))
        results = tuple(Var(self.names.claim(p.source), p.type, p.place, Origin.VALUE, p.source) for p in params)
        cap_value = cap.yields[0]
        observe = (counter,) + ((residual,) if residual is not None else ())
        loop = While(tuple(inits), tuple(params), body, cap_value, results, counter, observe=observe)
        by_name = dict(zip(carried, results))
        outputs = tuple((o.name, by_name[o.name] if o.name in by_name else self.fixed[o.name]) for o in m.outputs)
        init = Block(tuple(cap.stmts) + init.stmts, init.yields)
        return SolverIR(m.name, m.doc, m.decl.span.source.path, hypers, inputs, states, dims, counter, init, loop,
                        tuple(carried), outputs, by_name.get("_residual"), periods=self.periods(m.step.body),
                        converges=conv, cite=cite, oracles=oracles, converged=by_name["_converged"],
                        checked=tuple(checked))

    def residual_form(self) -> bool:
        cond = self.m.until.cond if self.m.until is not None else None
        return isinstance(cond, ast.Compare) and len(cond.ops) == 1 and cond.ops[0] in ("<", "<=")


_CHILD = ("value", "cond", "operand", "left", "right", "lo", "hi", "period", "until", "max_iter")
_CHILDREN = ("args", "kwargs", "operands", "items", "body", "orelse")


def _draws_in(nodes, typing: Typing) -> bool:
    """Whether statements or expressions (and the defs they call) draw random numbers."""
    stack = [(n, typing) for n in nodes]
    while stack:
        node, ty = stack.pop()
        if isinstance(node, ast.Call):
            info = ty.calls.get(id(node))
            if isinstance(info, DefExpansion):
                stack += [(let.value, info.typing) for let in info.defn.lets] + [(info.defn.result, info.typing)]
            elif info is not None and info.builtin.name in DRAWS:
                return True
        for name in _CHILD:
            child = getattr(node, name, None)
            if child is not None and not isinstance(child, (str, int, float, ast.Ident)):
                stack.append((child, ty))
        for name in _CHILDREN:
            stack += [(c, ty) for c in (getattr(node, name, None) or ())]
    return False


def _is_rng_next(s) -> bool:
    return isinstance(s, Assign) and isinstance(s.op, Apply) and s.op.fn == "rng_next"


def _input_domain(domain: Optional[ast.Domain]) -> Optional[tuple]:
    """An input's domain as (name, *numbers), checked when a solve starts; None when it has
    none, or a bound that is not a number (those are not checked yet)."""
    if domain is None:
        return None
    args = tuple(const_eval(a, {}) for a in domain.args)
    if not all(isinstance(a, (int, float)) and not isinstance(a, bool) for a in args):
        return None
    return (domain.name.name,) + args


def _const(v) -> Const:
    if isinstance(v, bool):
        return Const(v, BOOL)
    if isinstance(v, int):
        return Const(v, INT)
    return Const(float(v), REAL)


def _all_local_names(stmts) -> list[str]:
    names = []
    for s in stmts:
        if isinstance(s, (ast.Let, ast.VarDecl)):
            names.append(s.name.name)
        elif isinstance(s, ast.LetTuple):
            names += [n.name for n in s.names]
        elif isinstance(s, ast.For):
            names.append(s.var.name)
        for attr in ("body", "orelse"):
            names += _all_local_names(getattr(s, attr, ()) or ())
    return names


def lower_method(method: CheckedMethod):
    lowerer = Lowerer(method)
    if method.kind == "solver":
        return lowerer.solver()
    m = lowerer.optimizer()
    if method.rules is None:
        return m
    rules = []
    for r in method.rules:
        p = r.pattern
        pattern = LeafPattern(p.rank, tuple(p.dims), p.matrix)
        if r.delegate is None:
            rules.append(RuleIR(pattern, lower_method(r.method)))
            continue
        inner = lower_method(r.method)
        inner = dataclasses.replace(inner, name=f"{method.name}__{inner.name}")
        mapping = tuple((key, lowerer.expression_block(expr, r.typing)) for key, expr in r.hyper_map)
        rules.append(RuleIR(pattern, inner, r.delegate, mapping))
    before = lower_method(method.before) if method.before is not None else None
    return dataclasses.replace(m, rules=tuple(rules), before=before)


def lower_module(module: CheckedModule) -> ModuleIR:
    return ModuleIR(module.path, tuple(lower_method(m) for m in module.methods))

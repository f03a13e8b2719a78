"""Checking one method: its members, its step, and the unused-name warnings.

Order matters: dims and the parameter come first (they define symbolic dimensions), then
hypers in declaration order (a default may use earlier hypers), then inputs, oracles and
states, then the step, then a solver's lets, `until` and outputs.
"""
from __future__ import annotations

from typing import Optional

from ..diagnostics import Diagnostic, Note, error, warning
from ..syntax import ast
from ..syntax.source import Span
from ..types import INT, LEAF, STORAGE_NAMES, FnType, Type, ShapeError, broadcast, shape_str
from .consteval import const_eval
from .fixes import unguarded_period
from .exprs import ExprChecker, Scopes, _KIND_WORDS, _a_kind, _count, _snippet
from .model import CheckedMethod, HyperInfo, Symbol, Typing
from .names import DOMAINS, FACTS, ORACLE_KINDS, did_you_mean, reserved_reason

_ALLOWED = {
    "optimizer": (ast.Hyper, ast.Param, ast.Oracle, ast.State, ast.Dims, ast.Step, ast.Assume, ast.Converges,
                  ast.Eval),
    "solver": (ast.Hyper, ast.Input, ast.FnOracle, ast.State, ast.Dims, ast.Step, ast.Until, ast.Let, ast.Output,
               ast.Assume, ast.Converges),
}
_MEMBER_WORDS = {ast.Hyper: "hyper", ast.Param: "param", ast.Oracle: "oracle", ast.FnOracle: "oracle",
                 ast.State: "state",
                 ast.Input: "input", ast.Dims: "dims", ast.Step: "step", ast.Until: "until", ast.Let: "let",
                 ast.Output: "output", ast.Assume: "assume", ast.Converges: "converges", ast.Eval: "eval",
                 ast.Rule: "rule"}
_WHY_NOT = {
    ("optimizer", ast.Input): "an optimizer's data is its `param` and `oracle`s; `input` belongs to a solver",
    ("optimizer", ast.Until): "an optimizer runs one step per call; `until` belongs to a solver",
    ("optimizer", ast.Output): "an optimizer's result is its updated parameter; `output` belongs to a solver",
    ("optimizer", ast.Let): "inside an optimizer, put `let` lines in the step",
    ("solver", ast.Param): "a solver iterates on its `state`; declare data as `input`",
    ("solver", ast.Oracle): "a solver has no param to take oracles at; declare a function the caller passes, "
                            "e.g. `oracle grad_f: real[n] -> real[n]`, and call it: `grad_f(x)`",
    ("optimizer", ast.FnOracle): "an optimizer's oracles are taken at its param, e.g. `oracle g = grad(x)`; "
                                 "function oracles belong to solvers",
    ("solver", ast.Eval): "a solver's results are its `output`s; `eval` says what an optimizer's parameters are "
                          "at evaluation time",
    ("solver", ast.Rule): "rules choose an update per parameter leaf; they belong to optimizers",
}
DRAWS = ("randn_like", "rand_like")


def _name_span(sym: Symbol):
    """Where a symbol's name is written in its declaration (the whole declaration as a fallback)."""
    decl = sym.decl
    if isinstance(decl, ast.Ident):
        return decl.span
    for attr in ("name", "var"):
        ident = getattr(decl, attr, None)
        if isinstance(ident, ast.Ident):
            return ident.span
    return getattr(decl, "span", None)


class MethodChecker:
    def __init__(self, method: ast.Method, diags: list[Diagnostic], defs, aliases):
        self.m = method
        self.diags = diags
        self.base: dict[str, Symbol] = {}
        self.typing = Typing()
        self.x = ExprChecker(diags, Scopes(self.base), self.typing, defs, aliases)
        self.x.model_denied = "solver" if method.kind == "solver" else "a member outside the step"
        self.frames: list[_Frame] = []              # the regions around the statement being checked
        self.hypers: list[HyperInfo] = []
        self.params: list[Symbol] = []
        self.inputs: list[Symbol] = []
        self.oracles: list[Symbol] = []
        self.states: list[Symbol] = []
        self.dims: list[Symbol] = []
        self.lets: list[ast.Let] = []
        self.outputs: list[Symbol] = []
        self.assigned: set[str] = set()
        self.bound_lets: list[Symbol] = []          # step and solver lets, for W0006
        self.dims_bound: set[str] = set()           # dims whose size a param or input gives
        self.duplicates: set[str] = set()           # states/params whose name an earlier member took
        self.every_stack: list[str] = []
        self.dim_names_declared: set[str] = set()
        self.hyper_dims: set[str] = set()           # int hypers that size a state (`state Q: real[n, rank]`)
        self.draws = False                          # a random draw was checked: lowering threads a key
        self.periods_warned: set[str] = set()       # hypers already warned about (W0007)

    # ------------------------------------------------------------ helpers

    def report(self, d: Diagnostic) -> None:
        self.x.report(d)

    def declare(self, ident: ast.Ident, kind: str, t: Optional[Type], decl, static=False, storage=None) -> Symbol:
        """Bind a name in the current scope. `t` is None for a declaration that already has an
        error: the name then exists (so uses of it are not "undefined"), but has no type (so
        they report nothing more)."""
        why = reserved_reason(ident.name)
        if why:
            self.report(error("E0103", f"`{ident.name}` cannot be used as a name: {why}", ident.span,
                              hint="choose another name"))
        prior = self.x.scopes.lookup(ident.name)
        sym = Symbol(ident.name, kind, t, decl, static=static, storage=storage)
        if self.m.kind == "optimizer":
            sym.shared = kind == "state" and getattr(decl, "shared", False)
            sym.leaf = _leaf_root(ident.name, kind, decl)
        if prior is not None:
            prior_span = getattr(prior.decl, "name", None)
            prior_span = prior_span.span if isinstance(prior_span, ast.Ident) else getattr(prior.decl, "span", None)
            if kind in ("state", "param") and prior.kind not in ("state", "param"):
                self.duplicates.add(ident.name)    # `name <- ...` may mean the state that lost
            self.report(error("E0102", f"`{ident.name}` is already defined as {_a_kind(prior.kind)}",
                              ident.span, notes=[Note("first defined here", prior_span)] if prior_span else (),
                              hint="pick a different name"))
            return sym
        self.x.scopes.bind(sym)
        if kind in ("local", "let") and t is not None:
            self.bound_lets.append(sym)
        return sym

    def member_kind_ok(self, member) -> bool:
        allowed = _ALLOWED[self.m.kind]
        if isinstance(member, allowed):
            return True
        word = _MEMBER_WORDS.get(type(member), "this")
        what = f"`{word}`"
        if isinstance(member, ast.FnOracle):
            what = "a function `oracle`"
        elif isinstance(member, ast.Oracle):
            what = f"`oracle {member.name.name} = {member.kind.name}(...)`"
        self.report(error("E0110", f"{what} is not allowed in {'an' if self.m.kind == 'optimizer' else 'a'} "
                                   f"{self.m.kind}", member.span, hint=_WHY_NOT.get((self.m.kind, type(member)))))
        if isinstance(getattr(member, "name", None), ast.Ident) and not isinstance(member, ast.Eval):
            self.declare(member.name, {"let": "local"}.get(word, word), None, member)   # no cascade on its uses
        return False

    def resolve_type(self, te: ast.TypeExpr, where: str, binds_dims: bool) -> Optional[Type]:
        elem = STORAGE_NAMES.get(te.elem.name)
        if elem is None:
            self.report(error("E0107", f"unknown type `{te.elem.name}`", te.elem.span,
                              hint=did_you_mean(te.elem.name, STORAGE_NAMES) or
                              "types are real, int, bool (and storage types f64, f32, f16, bf16)"))
            return None
        if te.dims is None:
            return Type(elem, ())
        if te.dims == LEAF:
            if self.m.kind == "solver":
                self.report(error("E0202", "`[...]` means \"the shape of the parameter\", and a solver has none",
                                  te.span, hint="give the dimensions, e.g. `real[n, m]`, and declare them with `dims`"))
                return None
            return Type(elem, LEAF)
        dims = []
        for d in te.dims:
            if isinstance(d, ast.Num):
                dims.append(int(d.value))
                continue
            if d.name not in self.dim_names_declared and not binds_dims and where == "state" \
                    and self.m.kind == "optimizer" and self.int_hyper(d.name):
                dims.append(d.name)                 # a size the caller chooses: an int hyper (static)
                self.hyper_dims.add(d.name)
                self.x.reads.add(d.name)
                continue
            if d.name not in self.dim_names_declared:
                if binds_dims:
                    self.dim_names_declared.add(d.name)
                    self.dims.append(self.declare(d, "dim", INT, d, static=True))
                else:
                    self.report(error("E0112", f"dimension `{d.name}` is not declared", d.span,
                                      hint=self.undeclared_dim_hint(d.name, where)))
                    return None
            if binds_dims:
                self.dims_bound.add(d.name)
            dims.append(d.name)
        return Type(elem, tuple(dims))

    def int_hyper(self, name: str) -> bool:
        """Whether `name` is an `int` hyper (static: it may size a state)."""
        sym = self.x.scopes.lookup(name)
        return sym is not None and sym.kind == "hyper" and sym.type is not None and sym.type == INT

    def step_let_error(self, name: str, span, let: ast.Let, where: str = "") -> Diagnostic:
        """A solver's `until`, `let` or `output` naming a `let` of the step."""
        return error("E0101", f"undefined name `{name}`" + (f" in `{where}`" if where else ""), span,
                     notes=[Note(f"`{name}` is a `let` of the step, and a step's `let`s are local to it",
                                 let.name.span)],
                     hint=f"a solver-level `let` (after the step, indented like `until`) is visible to "
                          f"`until` and `output`: bind `{name}` there; it sees the states after the step "
                          f"(`prev(x)` is a state's value before it)")

    def undeclared_dim_hint(self, dim: str, where: str) -> str:
        """How to bind `dim`, used in a state's or hyper's type. A `dims` line alone never
        does: a dimension is known only as a size of the param (optimizer) or of an input."""
        if where == "hyper":
            return "a hyper is a scalar; tensors that change belong in `state`, data in `input`"
        sym = self.x.scopes.lookup(dim)
        if sym is not None and sym.kind == "hyper" and self.m.kind == "optimizer" and where == "state":
            return (f"`{dim}` is a hyper of type `{sym.type}`; a state's size can be an `int` hyper "
                    f"(`hyper {dim}: int = 4`) or a size of the param")
        if sym is not None and sym.kind == "hyper":
            return (f"`{dim}` is a hyper; a size in a {where}'s type comes from the "
                    f"{'param' if self.m.kind == 'optimizer' else 'inputs'} (only an optimizer's states "
                    f"may take a size from an `int` hyper)")
        bound = [d.name for d in self.dims if d.name in self.dims_bound]
        known = f"use a dimension it has ({', '.join(f'`{b}`' for b in bound)}), or " if bound else ""
        if self.m.kind == "optimizer":
            param = self.params[0] if self.params else None
            if param is not None and param.type is not None and param.type.shape == LEAF:
                return (f"declare the param with a rank so that `{dim}` is its size, e.g. "
                        f"`param {param.name}: real[{dim}]`, or give the {where} the param's shape, `real[...]`")
            pname = param.name if param is not None else "x"
            dims = ", ".join(bound + [dim])
            return f"a dimension must be a size of the param: {known}add it to the param's type, " \
                   f"e.g. `param {pname}: real[{dims}]`"
        return f"a dimension must be a size of an input: {known}give an input that size, " \
               f"e.g. `input v: real[{dim}]`"

    def check_domain(self, domain: Optional[ast.Domain]) -> None:
        if domain is None:
            return
        name = domain.name.name
        if name not in DOMAINS:
            self.report(error("E0108", f"unknown domain `{name}`", domain.name.span,
                              hint=did_you_mean(name, DOMAINS) or f"domains: {', '.join(DOMAINS)}"))
            return
        if len(domain.args) != DOMAINS[name]:
            example = {"ball": "ball(1.0)", "box": "box(-1, 1)"}.get(name, name)
            self.report(error("E0206", f"domain `{name}` takes {_count(DOMAINS[name], 'argument')}, got {len(domain.args)}",
                              domain.span, hint=f"write `in {example}`"))
            return
        for a in domain.args:
            self.expect_scalar(a, "a domain bound")

    def expect_scalar(self, expr, what: str, elem: Optional[str] = None) -> Optional[Type]:
        t = self.x.check(expr)
        if t is None:
            return None
        if not t.is_scalar:
            self.report(error("E0202", f"{what} must be a scalar, but `{_snippet(expr)}` is {t}", expr.span,
                              hint="choose elementwise with `where(cond, a, b)`, or reduce to a scalar first "
                                   "(e.g. `norm(g) > 0`)" if t.elem == "bool" else
                              "reduce it to a scalar, e.g. with `sum` or `norm`"))
            return None
        if elem == "bool" and t.elem != "bool":
            self.report(error("E0208", f"{what} must be a bool, but `{_snippet(expr)}` is {t}", expr.span,
                              hint=f"write a comparison, e.g. `{_snippet(expr)} "
                                   f"{'<= tol' if 'until' in what else '> 0'}`"))
            return None
        if elem == "number" and t.elem == "bool":
            self.report(error("E0204", f"{what} must be a number, but `{_snippet(expr)}` is a bool", expr.span))
            return None
        return t

    def expect_static_int(self, expr, what: str) -> bool:
        t = self.x.check(expr)
        if t is None:
            return False
        if t.elem != "int" or not t.is_scalar:
            self.report(error("E0205", f"{what} must be an integer, but `{_snippet(expr)}` is {t}", expr.span,
                              hint="use an integer literal or an `int` hyper"))
            return False
        if not self.x.is_static(expr):
            self.report(error("E0205", f"{what} must be known before the run starts, but `{_snippet(expr)}` "
                                       "changes during it", expr.span,
                              hint="use an integer literal or an `int` hyper"))
            return False
        return True

    def fits(self, target: Symbol, value_t: Type, expr, verb: str) -> None:
        want = target.type
        elem_ok = value_t.elem == want.elem or (want.elem == "real" and value_t.elem == "int")
        try:
            shape_ok = broadcast(want.shape, value_t.shape) == want.shape
        except ShapeError:        # the two types in the message say more than the failing dimension
            shape_ok = False
        if elem_ok and shape_ok:
            return
        message = {
            "cannot assign to": f"cannot assign a {value_t} value to `{target.name}`, which is {want}",
            "cannot initialise the state": f"cannot initialise `{target.name}`, which is {want}, with a {value_t} value",
            "cannot give the hyper": f"the default of `{target.name}` must be {want}, but `{_snippet(expr)}` is {value_t}",
            "cannot give the eval view of": f"the eval view of `{target.name}` must be {want}, like the parameter, "
                                            f"but `{_snippet(expr)}` is {value_t}",
        }.get(verb, f"{verb} `{target.name}` ({want}) a value of type {value_t}")
        if not elem_ok:
            hint = {"bool": f"compare it to make a bool, e.g. `{_snippet(expr)} > 0`",
                    "int": "an int holds whole numbers (and `/` always gives a real)"}.get(
                want.elem, "convert a bool with `where(cond, 1.0, 0.0)`")
        elif want.shape == ():
            hint = "reduce the value to a scalar, e.g. with `sum` or `norm`"
        elif LEAF in (want.shape, value_t.shape):
            hint = "`[...]` is the shape of the parameter leaf; it does not mix with ranked shapes"
        else:
            hint = f"the value must have shape {shape_str(want.shape)}, or broadcast to it"
        self.report(error("E0209", message, expr.span, hint=hint,
                          notes=[Note(f"`{target.name}` is declared here", _name_span(target))]))

    # ------------------------------------------------------------ members

    def run(self) -> Optional[CheckedMethod]:
        m = self.m
        why = reserved_reason(m.name.name)
        if why:
            self.report(error("E0103", f"`{m.name.name}` cannot be a method name: {why}", m.name.span))
        members = [mb for mb in m.members if self.member_kind_ok(mb)]
        # every named member, so that a name used before its member is checked gets a precise error
        self.decls: dict[str, tuple[str, ast.Ident]] = {}
        for mb in members:
            if isinstance(getattr(mb, "name", None), ast.Ident) and not isinstance(mb, ast.Eval):
                self.decls.setdefault(mb.name.name, (_MEMBER_WORDS[type(mb)], mb.name))
        by_type = lambda T: [mb for mb in members if isinstance(mb, T)]

        for d in by_type(ast.Dims):
            for ident in d.names:
                self.dim_names_declared.add(ident.name)
                self.dims.append(self.declare(ident, "dim", INT, ident, static=True))
        for p in by_type(ast.Param):
            self.check_param(p)
        if m.kind == "optimizer" and not self.params:
            self.report(error("E0111", f"optimizer `{m.name.name}` has no `param`", m.name.span,
                              hint="declare what it updates, e.g. `param x: real[...]`"))
        for inp in by_type(ast.Input):
            t = self.resolve_type(inp.type, "input", binds_dims=True)
            self.check_domain(inp.domain)
            sym = self.declare(inp.name, "input", t, inp)
            if t is not None:
                self.inputs.append(sym)
        in_rejected = {d.name for mb in m.members if mb not in members      # already reported (E0110)
                       for d in (getattr(getattr(mb, "type", None), "dims", None) or ())
                       if isinstance(d, ast.Ident)}
        for d in by_type(ast.Dims):
            for ident in d.names:
                if ident.name not in self.dims_bound and ident.name not in in_rejected:
                    where = "the param's type, e.g. `param x: real[" if m.kind == "optimizer" else \
                        "an input's type, e.g. `input v: real["
                    self.report(error("E0112", f"dimension `{ident.name}` is not the size of any "
                                               f"{'param' if m.kind == 'optimizer' else 'input'}, so it is unknown",
                                      ident.span, hint=f"use it in {where}{ident.name}]`"))
        for h in by_type(ast.Hyper):
            self.check_hyper(h)
        for o in by_type(ast.Oracle):
            self.check_oracle(o)
        for o in by_type(ast.FnOracle):
            self.check_fn_oracle(o)
        for s in by_type(ast.State):
            self.check_state(s)

        steps = by_type(ast.Step)
        if not steps:
            self.report(error("E0111", f"{m.kind} `{m.name.name}` has no `step`", m.name.span,
                              hint="add a `step t:` block with the update"))
        for extra in steps[1:]:
            self.report(error("E0102", "a method has one `step` block", extra.span,
                              notes=[Note("the first step is here", steps[0].span)]))
        counter = self.fresh_counter(steps[0] if steps else None)
        if steps:
            self.check_step(steps[0], counter)

        until, max_iter = None, None
        if m.kind == "solver":
            # a solver's lets and `until` run after each step, where `prev(x)` is the value
            # x had when the step began (`until norm(x - prev(x)) <= tol`)
            self.x.prev_allowed = True
            self.x.draw_hook = self.seed_ok
            step_lets = _step_lets(steps[0].body) if steps else {}

            def step_local(node: ast.Name) -> bool:
                let = step_lets.get(node.id)
                if let is None:
                    return False
                self.report(self.step_let_error(node.id, node.span, let))
                return True

            self.x.undefined_hook = step_local
            for let in by_type(ast.Let):
                t = self.x.check(let.value)
                self.declare(let.name, "let", t, let, static=t is not None and self.x.is_static(let.value))
                if t is not None:
                    self.lets.append(let)
            untils = by_type(ast.Until)
            if not untils:
                self.report(error("E0111", f"solver `{m.name.name}` has no `until` condition", m.name.span,
                                  hint="add e.g. `until norm(x - prev(x)) <= tol max 1000`"))
            else:
                until = untils[0]
                for extra in untils[1:]:
                    self.report(error("E0102", "a solver has one `until`", extra.span))
                self.expect_scalar(until.cond, "the `until` condition", "bool")
                max_iter = until.max_iter
                if max_iter is None and "max_iter" in self.base and self.base["max_iter"].kind == "hyper":
                    max_iter = ast.Name("max_iter", until.span)
                    self.typing.keep.append(max_iter)
                if max_iter is None:
                    self.report(error("E0111", "the solver has no iteration cap", until.span,
                                      hint="write `until COND max N`, or declare `hyper max_iter: int`"))
                else:
                    self.x.draw_hook = None
                    self.expect_static_int(max_iter, "the iteration cap")
            self.x.prev_allowed = False
            self.x.draw_hook = None
            self.x.undefined_hook = None
            outs = by_type(ast.Output)
            if not outs:
                self.report(error("E0111", f"solver `{m.name.name}` has no `output`", m.name.span,
                                  hint="name its results, e.g. `output x`"))
            for out in outs:
                for ident in out.names:
                    sym = self.base.get(ident.name)
                    if sym is None and ident.name in step_lets:
                        self.report(self.step_let_error(ident.name, ident.span, step_lets[ident.name], "output"))
                    elif sym is None:
                        self.report(error("E0101", f"undefined name `{ident.name}` in `output`", ident.span,
                                          hint=did_you_mean(ident.name, self.base)))
                    elif sym.kind not in ("state", "let", "input"):
                        self.report(error("E0110", f"`output` names states, lets and inputs; `{ident.name}` is "
                                                   f"{_a_kind(sym.kind)}", ident.span))
                    else:
                        self.x.mark_read(sym)
                        self.outputs.append(sym)

        evals = by_type(ast.Eval)
        for extra in evals[1:]:
            self.report(error("E0102", "a method has one `eval` view", extra.span,
                              notes=[Note("the first `eval` is here", evals[0].span)]))
        self.steps_body = steps[0].body if steps else ()
        eval_view = self.check_eval(evals[0], counter) if evals else None

        for a in by_type(ast.Assume):
            self.check_assume(a)
        convs = by_type(ast.Converges)
        for c in convs:
            self.check_converges(c)
        self.warn_unused()
        if any(d.is_error for d in self.diags):
            return None
        return CheckedMethod(
            kind=m.kind, name=m.name.name, doc=m.doc, decl=m, hypers=self.hypers, params=self.params,
            inputs=self.inputs, oracles=self.oracles, states=self.states, dims=self.dims, lets=self.lets,
            outputs=self.outputs, step=steps[0], counter=counter, until=until, max_iter=max_iter,
            converges=convs[0] if convs else None, assumes=by_type(ast.Assume), prev_used=self.x.prev_used,
            typing=self.typing, symbols=dict(self.base), draws=self.draws, eval=eval_view)

    def fresh_counter(self, step: Optional[ast.Step]) -> str:
        if step is not None and step.counter is not None:
            return step.counter.name
        name, i = "t", 0
        while name in self.base:
            i += 1
            name = f"step_{i}"
        return name

    def check_param(self, p: ast.Param) -> None:
        if self.params:
            self.report(error("E0110", "an optimizer has one `param` (it runs once per leaf of the parameter tree)",
                              p.span, notes=[Note("the param is declared here", self.params[0].decl.span)]))
            return
        t = self.resolve_type(p.type, "param", binds_dims=True)
        self.check_domain(p.domain)
        if t is not None and t.elem != "real":
            self.report(error("E0204", f"a param must hold reals, not {t.elem}", p.type.span))
            t = None
        self.params.append(self.declare(p.name, "param", t, p, storage=p.type.elem.name))

    def check_hyper(self, h: ast.Hyper) -> None:
        t = self.resolve_type(h.type, "hyper", binds_dims=False)
        if t is not None and not t.is_scalar:
            self.report(error("E0202", f"a hyper is a scalar, not {t}", h.type.span,
                              hint="tensors that change belong in `state`; data belongs in `input`"))
            t = None
        if t is None:
            self.declare(h.name, "hyper", None, h, static=True)
            return
        def only_hypers(sym: Symbol, node: ast.Name):
            if sym.kind == "dim":
                self.report(error("E0212", f"`{node.id}` is a dimension, known only per "
                                           f"{'leaf' if self.m.kind == 'optimizer' else 'input'}; a hyper's default "
                                           "and conditions may only use other hypers", node.span))
                return "bad"
            if sym.kind != "hyper":
                self.report(error("E0212", f"`{node.id}` is {_a_kind(sym.kind)}; a hyper's default and "
                                           "conditions may only use other hypers", node.span))
                return "bad"
            return None

        def declared_later(node: ast.Name) -> bool:
            """A name not in scope yet: a member declared further down (states, oracles and
            later hypers are checked after this hyper)."""
            kind, ident = self.decls.get(node.id, (None, None))
            if kind is None:
                return False
            self.x.reads.add(node.id)
            if node.id == h.name.name:
                self.report(error("E0212", f"the default of `{node.id}` cannot use `{node.id}` itself", node.span))
            elif kind == "hyper":
                self.report(error("E0101", f"`{node.id}` is used before its declaration", node.span,
                                  notes=[Note(f"`{node.id}` is declared here", ident.span)],
                                  hint=f"declare `hyper {node.id}` above `hyper {h.name.name}`"))
            else:
                self.report(error("E0212", f"`{node.id}` is {_a_kind(kind)}; a hyper's default and "
                                           "conditions may only use other hypers", node.span))
            return True

        self.x.read_hook = only_hypers
        self.x.undefined_hook = declared_later
        if self.m.kind == "optimizer":
            self.x.model_denied = "a hyper's default or condition"
        try:
            if h.default is not None:
                dt = self.expect_scalar(h.default, f"the default of `{h.name.name}`")
                if dt is not None:
                    probe = Symbol(h.name.name, "hyper", t, h)
                    self.fits(probe, dt, h.default, "cannot give the hyper")
        finally:
            self.x.read_hook = None
        sym = self.declare(h.name, "hyper", t, h, static=True)
        conditions = list(h.where)
        self.x.read_hook = only_hypers
        reads_before = set(self.x.reads)
        try:
            for cond in h.where:
                self.expect_scalar(cond, "a `where` condition", "bool")
            empty_interval = False
            if h.interval is not None:
                if t.elem == "bool":
                    self.report(error("E0204", "a bool hyper cannot have an interval", h.interval.span))
                for bound in (h.interval.lo, h.interval.hi):
                    self.expect_scalar(bound, "an interval bound", "number")
                lo, hi = const_eval(h.interval.lo, {}), const_eval(h.interval.hi, {})
                if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and (
                        lo > hi or (lo == hi and not (h.interval.lo_closed and h.interval.hi_closed))):
                    shown = h.interval.span.text.removeprefix("in").strip()
                    empty_interval = True
                    self.report(error("E0213", f"the interval {shown} is empty", h.interval.span,
                                      hint="the lower bound must be below the upper bound" if lo > hi else
                                      "with equal bounds, both ends must be closed: `[a, a]`"))
        finally:
            self.x.read_hook = None
            self.x.undefined_hook = None
            self.x.reads = reads_before | (self.x.reads - {h.name.name})
            if self.m.kind == "optimizer":
                self.x.model_denied = "a member outside the step"
        self.hypers.append(HyperInfo(sym, h, tuple(conditions), h.interval))
        # A condition on a constant default is decided now, not at instantiation.
        env = {hi.symbol.name: const_eval(hi.decl.default, {}) for hi in self.hypers if hi.decl.default is not None}
        value = env.get(h.name.name)
        if value is None:
            return
        for cond in h.where:
            verdict = const_eval(cond, env)
            if verdict is False:
                self.report(error("E0214", f"the default {h.name.name} = {h.default.span.text} violates "
                                           f"`{cond.span.text}`", h.default.span,
                                  notes=[Note("the condition is here", cond.span)],
                                  hint="change the default or the condition"))
        if h.interval is not None and not empty_interval:     # an empty one is reported already
            lo, hi = const_eval(h.interval.lo, env), const_eval(h.interval.hi, env)
            if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and isinstance(value, (int, float)):
                inside = (lo <= value if h.interval.lo_closed else lo < value) and \
                         (value <= hi if h.interval.hi_closed else value < hi)
                if not inside:
                    self.report(error("E0214", f"the default {h.name.name} = {h.default.span.text} lies outside "
                                               f"{h.interval.span.text.removeprefix('in ').strip()}", h.default.span,
                                      notes=[Note("the interval is here", h.interval.span)]))

    def check_oracle(self, o: ast.Oracle) -> None:
        kind = o.kind.name
        if kind not in ORACLE_KINDS:
            self.report(error("E0109", f"unknown oracle `{kind}`", o.kind.span,
                              hint=did_you_mean(kind, ORACLE_KINDS) or f"oracles: {', '.join(ORACLE_KINDS)}"))
            self.declare(o.name, "oracle", None, o)
            return
        want_args = 2 if kind == "hvp" else 1
        if len(o.args) != want_args:
            self.report(error("E0206", f"`{kind}` takes {_count(want_args, 'argument')}, got {len(o.args)}",
                              o.kind.span.to(o.args[-1].span if o.args else o.kind.span),
                              hint="e.g. `oracle g = grad(x)`" if kind != "hvp" else "e.g. `oracle hv = hvp(x, u)`"))
            self.declare(o.name, "oracle", None, o)
            return
        param = self.params[0] if self.params else None
        first = o.args[0]
        if param is None:                     # "has no `param`" is reported already
            self.declare(o.name, "oracle", None, o)
            return
        if not isinstance(first, ast.Name) or first.id != param.name:
            self.report(error("E0216", f"the first argument of `{kind}` must be the parameter `{param.name}`",
                              first.span, hint=f"oracles are taken at the parameter: `{kind}({param.name}"
                                               f"{', u' if kind == 'hvp' else ''})`"))
            self.declare(o.name, "oracle", None, o)
            return
        self.x.check(first)
        if kind == "hvp":
            ut = self.x.check(o.args[1])
            if ut is not None and param.type is not None and ut.shape != param.type.shape:
                self.report(error("E0201", f"`hvp` direction must have the parameter's shape {param.type}, not {ut}",
                                  o.args[1].span))
        if o.every is not None and self.expect_static_int(o.every, "the period of `every`"):
            self.warn_period(o.every)
        t = Type("real", ()) if kind == "value" else param.type
        self.oracles.append(self.declare(o.name, "oracle", t, o))

    def check_fn_oracle(self, o: ast.FnOracle) -> None:
        """`oracle T: real[n] -> real[n]`: its dims must be known from the inputs."""
        types = [self.resolve_type(p, "param or input", binds_dims=False) for p in o.params]
        result = self.resolve_type(o.result, "param or input", binds_dims=False)
        if result is None or any(t is None for t in types):
            self.declare(o.name, "oracle", None, o)
            return
        self.oracles.append(self.declare(o.name, "oracle", FnType(tuple(types), result), o))

    def seed_ok(self, node: ast.Call) -> bool:
        """A draw (`randn_like`) needs the generator, seeded by `hyper seed: int`. True when
        it reported a problem."""
        name = node.func.id
        sym = self.base.get("seed")
        if sym is None or sym.kind != "hyper":
            self.report(error("E0219", f"`{name}` draws from the method's random generator, which needs a "
                                       "`seed` hyper", node.func.span,
                              hint="declare `hyper seed: int = 0`: the seed makes every run reproducible"))
            return True
        self.x.mark_read(sym)
        if sym.type is None:
            return True
        if sym.type != INT:
            self.report(error("E0219", f"the hyper `seed` seeds the random generator, so it must be an `int`, "
                                       f"not {sym.type}", node.func.span,
                              notes=[Note("`seed` is declared here", _name_span(sym))],
                              hint="declare `hyper seed: int = 0`"))
            return True
        self.draws = True
        return False

    def check_state(self, s: ast.State) -> None:
        t = self.resolve_type(s.type, "state", binds_dims=False)
        self.check_domain(s.domain)
        if s.shared and self.m.kind == "solver":
            self.report(error("E0222", "a `shared state` is one value for all leaves of an optimizer's parameter tree, "
                                       "and a solver has one problem and no leaves", s.span.to(s.name.span),
                              hint=f"declare it as a plain `state {s.name.name}: ...`"))
            t = None
        elif s.shared and t is not None and not t.is_scalar:
            self.report(error("E0202", f"a shared state is one scalar for the whole model, but `{s.name.name}` is "
                                       f"declared {t}", s.type.span,
                              hint=f"declare it as a scalar (`shared state {s.name.name}: {t.elem}`); a value "
                                   "shaped like each leaf is a plain `state`"))
            t = None
        if t is None:
            self.declare(s.name, "state", None, s)
            return
        if s.init is not None:
            def no_step_values(sym: Symbol, node: ast.Name):
                if sym.kind in ("state", "oracle") and not isinstance(sym.type, FnType):
                    self.report(error("E0212", f"a state's initial value cannot use the {_KIND_WORDS[sym.kind]} "
                                               f"`{node.id}`", node.span,
                                      hint="initial values may use hypers, inputs and the parameter"))
                    return "bad"
                return None
            def declared_later(node: ast.Name) -> bool:
                kind, _ = self.decls.get(node.id, (None, None))
                if kind is None:
                    return False
                self.x.reads.add(node.id)
                self.report(error("E0212", f"a state's initial value cannot use the {_KIND_WORDS.get(kind, kind)} "
                                           f"`{node.id}`", node.span,
                                  hint="initial values may use hypers, inputs and the parameter"))
                return True
            self.x.read_hook = no_step_values
            self.x.undefined_hook = declared_later
            self.x.model_denied = "solver" if self.m.kind == "solver" else "a state's initial value"
            try:
                it = self.x.check(s.init)
            finally:
                self.x.read_hook = None
                self.x.undefined_hook = None
                self.x.model_denied = "solver" if self.m.kind == "solver" else "a member outside the step"
            if it is not None:
                self.fits(Symbol(s.name.name, "state", t, s), it, s.init, "cannot initialise the state")
                why = self.x.leaf_of(s.init)
                if s.shared and why is not None:
                    self.report(error("E0220", f"shared state `{s.name.name}` is initialised from a per-leaf value: "
                                               f"its initial value {_reads(why)}", s.init.span,
                                      hint="a shared state is one value for the whole model; initialise it from "
                                           "hypers and literals"))
        self.states.append(self.declare(s.name, "state", t, s, storage=s.type.elem.name))

    def check_eval(self, ev: ast.Eval, counter: str) -> Optional[ast.Eval]:
        """`eval x = expr`: the param at evaluation time, from the param, states (shared ones
        too), hypers and dims as the last step left them. Oracles and the step counter belong
        to a step (E0230); the name must be the param (E0231)."""
        param = self.params[0] if self.params else None
        ok = True
        if param is not None and ev.name.name != param.name:
            sym = self.base.get(ev.name.name)
            what = f"the {_KIND_WORDS.get(sym.kind, sym.kind)} `{ev.name.name}`" if sym is not None \
                else f"`{ev.name.name}`, which is not declared"
            self.report(error("E0231", f"`eval` gives the parameter's value at evaluation time, but it names "
                                       f"{what}", ev.name.span,
                              notes=[Note(f"the parameter is `{param.name}`", _name_span(param))],
                              hint=f"write `eval {param.name} = ...`"))
            ok = False

        def no_step_values(sym: Symbol, node: ast.Name):
            if sym.kind == "oracle":
                self.x.mark_read(sym)
                self.report(error("E0230", f"the eval view cannot read the oracle `{node.id}`: oracles are "
                                           "supplied to a step, and evaluation takes no step", node.span,
                                  notes=[Note(f"`{node.id}` is declared here", _name_span(sym))],
                                  hint="keep what evaluation needs in a `state` that the step updates, and read "
                                       "that state here"))
                return "bad"
            return None

        step_locals = _step_locals(self.steps_body)

        def step_only(node: ast.Name) -> bool:
            if node.id in step_locals:
                self.report(error("E0230", f"the eval view cannot read `{node.id}`, {step_locals[node.id]} of the "
                                           "step: it lives only while a step runs", node.span,
                                  hint="keep what evaluation needs in a `state` that the step updates, and read "
                                       "that state here"))
                return True
            if node.id != counter:
                return False
            self.report(error("E0230", f"the eval view cannot read the step counter `{node.id}`: it numbers the "
                                       "steps, and evaluation takes no step", node.span,
                              hint="keep what evaluation needs in a `state` (or a `shared state`) that the step "
                                   "updates, and read that here"))
            return True

        self.x.read_hook = no_step_values
        self.x.undefined_hook = step_only
        self.x.model_denied = "the eval view"
        try:
            t = self.x.check(ev.value)
        finally:
            self.x.read_hook = None
            self.x.undefined_hook = None
            self.x.model_denied = "a member outside the step"
        if t is None or param is None or param.type is None:
            return None
        self.fits(param, t, ev.value, "cannot give the eval view of")
        return ev if ok else None

    # ------------------------------------------------------------ step

    def check_step(self, step: ast.Step, counter: str) -> None:
        self.x.scopes.push()
        self.x.scopes.bind(Symbol(counter, "counter", INT, step.counter or step, static=False))
        if step.counter is not None:
            why = reserved_reason(counter)
            if why:
                self.report(error("E0103", f"`{counter}` cannot be used as a name: {why}", step.counter.span))
            if counter in self.base:
                prior = self.base[counter]
                self.report(error("E0102", f"`{counter}` is already defined as "
                                           f"{_a_kind(prior.kind)}", step.counter.span,
                                  notes=[Note("first defined here", _name_span(prior))],
                                  hint="name the step counter differently, e.g. `step k:`"))
        self.x.prev_allowed = True
        self.x.read_hook = self.oracle_supplied
        self.x.draw_hook = self.seed_ok
        if self.m.kind == "optimizer":
            self.x.model_denied = None
            self.x.model_hook = self.model_call
        try:
            self.block(step.body)
        finally:
            self.x.read_hook = None
            self.x.draw_hook = None
            self.x.prev_allowed = False
            self.x.model_hook = None
            self.x.model_denied = "solver" if self.m.kind == "solver" else "a member outside the step"
        self.x.scopes.pop()

    def oracle_supplied(self, sym: Symbol, node: ast.Name):
        """An oracle declared `every k` is supplied on those steps only: read it inside `every k:`."""
        every = getattr(sym.decl, "every", None) if sym.kind == "oracle" else None
        if every is None:
            return None
        period_type = self.typing.types.get(id(every))
        if period_type is None or period_type.elem != "int" or id(every) not in self.typing.static:
            return None                        # the period itself is wrong, and reported
        period = "".join(every.span.text.split())
        if period in ("".join(p.split()) for p in self.every_stack):
            return None
        self.x.mark_read(sym)
        self.report(error("E0217", f"oracle `{node.id}` is supplied only every {every.span.text} steps, "
                                   "but is read outside an `every` block with that period", node.span,
                          notes=[Note(f"`{node.id}` is declared `every {every.span.text}` here", every.span)],
                          hint=f"read it inside `every {every.span.text}:`, or copy it into a state there"))
        return "bad"

    def block(self, stmts) -> None:
        self.x.scopes.push()
        for s in stmts:
            self.stmt(s)
        self.x.scopes.pop()

    def stmt(self, s) -> None:
        if isinstance(s, ast.Assign):
            self.assign(s)
        elif isinstance(s, ast.Let):
            t = self.x.check(s.value)
            sym = self.declare(s.name, "local", t, s, static=t is not None and self.x.is_static(s.value))
            self.local_value(sym, s)
        elif isinstance(s, ast.LetTuple):
            self.let_tuple(s)
        elif isinstance(s, ast.VarDecl):
            t = self.x.check(s.value)
            sym = self.declare(s.name, "var", t, s)
            self.local_value(sym, s)
        elif isinstance(s, ast.Every):
            if self.expect_static_int(s.period, "the period of `every`"):
                self.warn_period(s.period)
                self.every_stack.append(s.period.span.text)
            else:
                self.every_stack.append("?")
            self.region(_Frame("every", s), s.body)
            self.every_stack.pop()
        elif isinstance(s, ast.If):
            self.expect_scalar(s.cond, "an `if` condition", "bool")
            frame = _Frame("if", s)
            why = self.x.leaf_of(s.cond)
            if why is not None and self.m.kind == "optimizer":
                frame.control = (s.cond, why, f"if {_snippet(s.cond)}", "condition")
                frame.leaf_work = frame.leaf_work or (s.cond.span, "the condition")
            self.region(frame, s.body, s.orelse)
        elif isinstance(s, ast.For):
            self.expect_static_int(s.lo, "a `for` bound")
            self.expect_static_int(s.hi, "a `for` bound")
            self.x.scopes.push()
            self.declare(s.var, "loopvar", INT, s)
            frame = _Frame("for", s)
            bound = next((b for b in (s.lo, s.hi) if self.x.leaf_of(b) is not None), None)
            if bound is not None and self.m.kind == "optimizer":    # a dimension: a trip count per leaf
                frame.control = (bound, self.x.leaf_of(bound),
                                 f"for {s.var.name} in {_snippet(s.lo)}..{_snippet(s.hi)}", "bounds")
                frame.leaf_work = (bound.span, "the bounds")
            self.region(frame, s.body)
            self.x.scopes.pop()
        elif isinstance(s, ast.Repeat):
            frame = _Frame("repeat", s)
            self.frames.append(frame)
            try:
                self.block(s.body)
                self.expect_scalar(s.until, "the `until` condition", "bool")
                if self.x.leaf_of(s.until) is not None:
                    frame.leaf_work = frame.leaf_work or (s.until.span, "the `until` condition")
            finally:
                self.frames.pop()
            self.close_frame(frame)
            self.expect_static_int(s.max_iter, "the iteration cap `max`")
        else:
            self.report(error("E0003", "this statement is not supported here", s.span))

    # ------------------------------------------------------------ model-wide values in the step

    def region(self, frame: "_Frame", body, orelse=()) -> None:
        self.frames.append(frame)
        try:
            self.block(body)
            if orelse:
                self.block(orelse)
        finally:
            self.frames.pop()
        self.close_frame(frame)

    def close_frame(self, frame: "_Frame") -> None:
        """A loop runs as a whole in one phase of the step: once for the model (it updates a
        shared state) or once per leaf, not both. What a region did counts for the one around it."""
        if frame.kind in ("for", "repeat") and frame.shared_write is not None and frame.leaf_work is not None \
                and frame.control is None:              # (a per-leaf range is reported at each write)
            span, name = frame.shared_write
            work_span, work = frame.leaf_work
            self.report(error("E0221", f"shared state `{name}` is updated inside a `{frame.kind}` loop that also "
                                       "computes per-leaf values, so the loop can run neither once for the model "
                                       "nor once per leaf", span,
                              notes=[Note(f"per-leaf work in the same loop: {work}", work_span)],
                              hint=f"update `{name}` in a loop of its own, or after the loop from a value "
                                   "reduced with `total(...)`"))
        if frame.kind in ("for", "repeat") and frame.leaf_work is not None:
            # the loop runs once per leaf, so the `var`s it updates are computed per leaf
            line = frame.node.span.source.line_col(frame.node.span.start)[0]
            for sym in frame.vars:
                if sym.leaf is None:
                    sym.leaf = (sym.name, f"the `{frame.kind}` loop at line {line}, which also works per leaf")
        if self.frames:
            outer = self.frames[-1]
            outer.shared_write = outer.shared_write or frame.shared_write
            outer.leaf_work = outer.leaf_work or frame.leaf_work
            outer.vars += frame.vars

    def leaf_control(self):
        """The innermost enclosing `if` whose condition differs per leaf: (condition, why), or None."""
        for frame in reversed(self.frames):
            if frame.control is not None:
                return frame.control
        return None

    def model_call(self, name: str, node: ast.Call) -> None:
        """A `total` or `global_norm` in the step: not under per-leaf control, not in a loop."""
        control = self.leaf_control()
        if control is not None:
            cond, why, header, what = control
            self.report(error("E0221", f"`{name}` adds up all leaves, but here it is inside `{header}`, whose "
                                       f"{what} {_is(what)} different for each leaf, so it has no single meaning",
                              node.span, notes=[Note(f"the {_noun(what)} {_reads(why)}", cond.span)],
                              hint=f"compute it before the `{header.split()[0]}` (`let s = {_snippet(node)}`) and "
                                   "use `s` inside"))
            return
        loop = next((f for f in reversed(self.frames) if f.kind in ("for", "repeat")), None)
        if loop is not None:
            self.report(error("E0221", f"`{name}` inside a `{loop.kind}` loop: a model-wide value is computed "
                                       "between per-leaf phases of the step, and a loop cannot be cut into "
                                       "phases (not supported yet)", node.span,
                              notes=[Note("the loop starts here", Span(loop.node.span.source, loop.node.span.start,
                                                                       loop.node.span.start + len(loop.kind)))],
                              hint="compute it before the loop, or keep the loop per leaf"))

    def local_value(self, sym: Symbol, s) -> None:
        """A `let` or `var` in the step: record whether its value differs per leaf."""
        if self.m.kind != "optimizer":
            return
        why = self.x.leaf_of(s.value)
        if why is not None:
            sym.leaf = (sym.name, why[1])
            self.note_leaf_work(s.span, f"`{_snippet(s.value)}`")

    def note_leaf_work(self, span, text: str) -> None:
        if self.frames and self.frames[-1].leaf_work is None:
            self.frames[-1].leaf_work = (span, text)

    def assign(self, s: ast.Assign) -> None:
        name = s.target.name
        sym = self.x.scopes.lookup(name)
        t = self.x.check(s.value)
        if sym is None:
            self.report(error("E0101", f"`{name}` is not declared", s.target.span,
                              hint=did_you_mean(name, self.x.scopes.visible()) or
                              f"declare it with `state {name}: real[...]`, or bind a local with `let {name} = ...`"))
            return
        if sym.kind not in ("state", "param", "var") and name in self.duplicates:
            return                             # the clash is reported; which one is meant is unknowable
        if sym.kind not in ("state", "param", "var"):
            hints = {
                "hyper": "hypers are fixed for a run; declare a `state` for a value that changes",
                "oracle": "the caller supplies oracle values; bind a new name with `let`",
                "input": "inputs are the solver's data; copy it into a `state` to change it",
                "local": "a `let` binding is immutable; bind a new name, or declare a `state`",
                "let": "a `let` binding is immutable; bind a new name, or declare a `state`",
            }
            if sym.kind in ("local", "let"):
                hints[sym.kind] = ("a `let` binding is immutable; declare it with `var` to rebind it in the step "
                                   "(a loop variable), or declare a `state` to keep it across steps")
            self.report(error("E0104", f"cannot assign to {_KIND_WORDS.get(sym.kind, sym.kind)} `{name}`",
                              s.target.span, hint=hints.get(sym.kind, "only states and the parameter can be updated "
                                                                      "with `<-`"),
                              notes=[Note(f"`{name}` is declared here", _name_span(sym))]
                              if _name_span(sym) is not None else ()))
            return
        self.assigned.add(name)
        if t is not None and sym.type is not None:
            self.fits(sym, t, s.value, "cannot assign to")
        if self.m.kind == "optimizer" and t is not None:
            self.assigned_where(sym, s)

    def assigned_where(self, sym: Symbol, s: ast.Assign) -> None:
        """Leaf dependence of an update: a shared state takes one value for the whole model."""
        why = self.x.leaf_of(s.value)
        control = self.leaf_control()
        if sym.shared:
            if why is not None:
                self.report(error("E0220", f"shared state `{sym.name}` is written from a per-leaf value: its new "
                                           f"value {_reads(why)}", s.value.span,
                                  notes=[Note(f"`{sym.name}` is declared `shared` here", _name_span(sym))],
                                  hint="a shared state holds one value for the whole model: reduce over the leaves "
                                       "first with `total(...)` (e.g. `total(sum(g * g))`) or `global_norm(...)`, "
                                       "and write it from that"))
            elif control is not None:
                cond, cwhy, header, what = control
                self.report(error("E0221", f"shared state `{sym.name}` is written inside `{header}`, whose {what} "
                                           f"{_is(what)} different for each leaf, so the write has no single meaning",
                                  s.span, notes=[Note(f"the {_noun(what)} {_reads(cwhy)}", cond.span)],
                                  hint="compute the condition from model-wide values (`total(...)`), or write "
                                       f"`{sym.name} <- where(COND, NEW, {sym.name})` with such a condition"
                                  if what == "condition" else
                                  "loop over a range that is the same on every leaf (literals, `int` hypers)"))
            if self.frames and self.frames[-1].shared_write is None:
                self.frames[-1].shared_write = (s.span, sym.name)
            return
        if sym.kind in ("param", "state"):
            self.note_leaf_work(s.span, f"`{s.target.name} <- ...`")
            return
        if sym.kind == "var":
            if self.frames:
                self.frames[-1].vars.append(sym)
            if why is None and control is not None:
                why = (sym.name, f"the per-leaf {control[3]} `{_snippet(control[0])}`")
            if why is not None:
                sym.leaf = sym.leaf or (sym.name, why[1])
                self.note_leaf_work(s.span, f"`{s.target.name} <- ...`")

    # ------------------------------------------------------------ claims and warnings

    def warn_period(self, period) -> None:
        """W0007, once per hyper: an `every` period that no condition keeps at 1 or more."""
        sym = self.x.scopes.lookup(period.id) if isinstance(period, ast.Name) else None
        if sym is None or sym.kind != "hyper" or sym.name in self.periods_warned:
            return
        d = unguarded_period(period, sym.decl)
        if d is not None:
            self.periods_warned.add(sym.name)
            self.report(d)

    def check_assume(self, a: ast.Assume) -> None:
        for f in a.facts:
            name = f.name.name
            if name not in FACTS:
                self.report(error("E0114", f"unknown assumption `{name}`", f.name.span,
                                  hint=did_you_mean(name, FACTS) or f"known: {', '.join(FACTS)}"))
                continue
            if len(f.args) != FACTS[name]:
                example = {"strongly_convex": "strongly_convex(mu)", "smooth": "smooth(L)", "lipschitz": "lipschitz(G)",
                           "contractive": "contractive(q)"}.get(name, name)
                self.report(error("E0206", f"`{name}` takes {_count(FACTS[name], 'argument')}, got {len(f.args)}",
                                  f.span, hint=f"write `{example}`, naming a hyper or a number"))
                continue
            for arg in f.args:
                self.expect_scalar(arg, f"the argument of `{name}`", "number")

    def check_converges(self, c: ast.Converges) -> None:
        if c.kind == "to" and c.target is not None and c.target.name != "fixed_point":
            self.report(error("E0114", f"unknown convergence target `{c.target.name}`", c.target.span,
                              hint="write `converges to fixed_point`"))
            return
        if c.kind != "heuristic" and c.cite is None:
            self.report(warning("W0004", f"the claim `{c.span.text.strip()}` is not verified", c.span,
                                hint='iterc does not derive this claim yet; add `by cite "REFERENCE"` to record '
                                     'its source, or write `converges heuristic`'))

    def warn_unused(self) -> None:
        reads = self.x.reads | self.x.prev_used
        if not any(d.is_error for d in self.diags):
            for sym in self.bound_lets:
                if id(sym) not in self.x.read_symbols:
                    self.diags.append(warning("W0006", f"`{sym.name}` is computed but never used",
                                              sym.decl.name.span, hint="remove the `let`, or use it"))
        for h in self.hypers:
            if h.symbol.name not in reads:
                self.diags.append(warning("W0002", f"hyper `{h.symbol.name}` is never used", h.decl.name.span,
                                          hint="remove it, or use it in the step"))
        for o in self.oracles:
            if o.name not in reads:
                hint = ("the caller must pass it to `solve`; remove it if nothing calls it"
                        if isinstance(o.type, FnType) else
                        "the caller must supply it every step; remove it if the step does not need it")
                self.diags.append(warning("W0003", f"oracle `{o.name}` is never used", o.decl.name.span, hint=hint))
        for s in self.states:
            if s.name in self.assigned and s.name not in reads:
                self.diags.append(warning("W0001", f"state `{s.name}` is written but never read", s.decl.name.span,
                                          hint="remove it, or use it in the update"))


def _let_tuple(self, s: ast.LetTuple) -> None:
    """`let w, V = eigh(A)`: a builtin with several results, one name for each."""
    from ..types import TupleType
    self.x.tuple_ok = isinstance(s.value, ast.Call)
    try:
        t = self.x.check(s.value)
    finally:
        self.x.tuple_ok = False
    items = t.items if isinstance(t, TupleType) else None
    if t is not None and items is None:
        self.report(error("E0227", f"`{_snippet(s.value)}` has one result, but {len(s.names)} names take it",
                          s.value.span, hint=f"write `let {s.names[0].name} = {_snippet(s.value)}`"))
    elif items is not None and len(items) != len(s.names):
        self.report(error("E0227", f"`{_snippet(s.value)}` has {len(items)} results, but {len(s.names)} names "
                                   "take them", s.span,
                          hint=f"name each result: `let {', '.join(self.x.typing.calls[id(s.value)].builtin.results)}"
                               f" = {_snippet(s.value)}`"))
        items = None
    for k, ident in enumerate(s.names):
        it = items[k] if items is not None else None
        sym = self.declare(ident, "local", it, s, static=False)
        if sym in self.bound_lets:           # results are bound together: one left unused is no waste
            self.bound_lets.remove(sym)
        self.local_value(sym, s)


MethodChecker.let_tuple = _let_tuple


def _step_lets(body) -> dict[str, ast.Let]:
    """Every `let` in a step, nested blocks included (the first of a name wins)."""
    found: dict[str, ast.Let] = {}
    stack = list(reversed(body))
    while stack:
        st = stack.pop()
        if isinstance(st, ast.Let):
            found.setdefault(st.name.name, st)
        elif isinstance(st, ast.If):
            stack.extend(reversed(st.body + st.orelse))
        elif isinstance(st, (ast.Every, ast.For, ast.Repeat)):
            stack.extend(reversed(st.body))
    return found


class _Frame:
    """A region of the step being checked (`if`, `every`, `for`, `repeat`), for the rules on
    model-wide values: what it does per leaf, which shared state it writes, its condition."""
    __slots__ = ("kind", "node", "control", "shared_write", "leaf_work", "vars")

    def __init__(self, kind: str, node):
        self.kind = kind
        self.node = node
        self.control = None          # (node, why, header, "condition"/"bounds"): differs per leaf
        self.shared_write = None     # (span, name) of the first shared-state update inside
        self.leaf_work = None        # (span, words) of the first per-leaf work inside
        self.vars: list = []         # the `var` symbols updated inside


def _step_locals(stmts) -> dict[str, str]:
    """The lets, vars and loop variables of a step body: name -> what it is, in words."""
    out: dict[str, str] = {}
    for s in stmts:
        if isinstance(s, ast.Let):
            out.setdefault(s.name.name, "a `let`")
        elif isinstance(s, ast.VarDecl):
            out.setdefault(s.name.name, "a `var`")
        elif isinstance(s, ast.For):
            out.setdefault(s.var.name, "a loop variable")
        for attr in ("body", "orelse"):
            for k, v in _step_locals(getattr(s, attr, ()) or ()).items():
                out.setdefault(k, v)
    return out


def _leaf_root(name: str, kind: str, decl) -> Optional[tuple[str, str]]:
    """Why a method member differs from leaf to leaf of an optimizer's parameter tree."""
    if kind == "param":
        return name, f"the parameter `{name}`"
    if kind == "dim":
        return name, f"the dimension `{name}` (a size of each leaf)"
    if kind == "state" and not getattr(decl, "shared", False):
        return name, f"the state `{name}`"
    if kind == "oracle" and getattr(getattr(decl, "kind", None), "name", None) != "value":
        return name, f"the oracle `{name}`"
    return None


def _noun(what: str) -> str:
    return "bound" if what == "bounds" else what


def _is(what: str) -> str:
    return "are" if what.endswith("s") else "is"


def _reads(why: tuple[str, str]) -> str:
    """"reads the oracle `g`", or "reads `u`, which depends on the oracle `g`"."""
    name, root = why
    if f"`{name}`" in root:
        return f"reads {root}"
    return f"reads `{name}`, which depends on {root}"

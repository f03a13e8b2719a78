"""Checking an optimizer that holds rules: one update per pattern of the parameter leaf.

`rule for x: real[m, n] as matrix:` (its own states and step), `rule for x: real:`,
`rule otherwise = adamw(lr=adam_lr)` (a delegation). The method's own members (hypers,
param, oracles) are checked once; each rule's states and step are checked as a method of
their own whose param has the rule's pattern as its type (so the pattern's dims are the
rule's dims); a delegation is the other method, checked in its own file, with its hypers
given by expressions of ours. Patterns must be reachable (E0223) and disjoint (E0224).
"""
from __future__ import annotations

from typing import Callable, Optional

from ..diagnostics import Diagnostic, Note, error, warning
from ..syntax import ast
from ..types import LEAF
from .methods import MethodChecker
from .model import CheckedMethod, CheckedRule, Pattern
from .names import did_you_mean

MODEL_CALLS = ("total", "global_norm")


class _Quiet(MethodChecker):
    """A part of a ruled method: the unused-hyper and unused-oracle warnings are decided
    for the whole method, after every rule is checked."""

    def warn_unused(self) -> None:
        hypers, oracles = self.hypers, self.oracles
        self.hypers, self.oracles = [], []
        try:
            super().warn_unused()
        finally:
            self.hypers, self.oracles = hypers, oracles


def _pattern(r: ast.Rule, report) -> Optional[Pattern]:
    if r.var is None:
        return Pattern(None)
    te = r.type
    if te.elem.name != "real":
        report(error("E0226", f"a rule's pattern is a shape of reals, not `{te.elem.name}`", te.elem.span,
                     hint="write e.g. `rule for x: real[m, n]:`"))
        return None
    if te.dims == LEAF:
        report(error("E0226", "a rule's pattern gives the rank; `[...]` is every leaf", te.span,
                     hint="write the leaves this rule takes, e.g. `real[m, n]`, or use `rule otherwise`"))
        return None
    dims = () if te.dims is None else tuple(int(d.value) if isinstance(d, ast.Num) else d.name for d in te.dims)
    if r.matrix and len(dims) != 2:
        report(error("E0226", f"`as matrix` views a leaf as [shape[0], rest], so the pattern must have two dims, "
                              f"not {len(dims)}", te.span, hint="write `real[m, n] as matrix`"))
        return None
    return Pattern(len(dims), dims, r.matrix)


def _reachable(p: Pattern, param_shape) -> bool:
    """Can a leaf of the param's declared type fit the pattern?"""
    if param_shape == LEAF or p.rank is None:
        return True
    if p.matrix:
        if len(param_shape) < 2:
            return False
        d0, want = param_shape[0], p.dims[0]
        return not (isinstance(d0, int) and isinstance(want, int) and d0 != want)
    if len(param_shape) != p.rank:
        return False
    return all(not (isinstance(a, int) and isinstance(b, int) and a != b) for a, b in zip(param_shape, p.dims))


def _covers(p: Pattern, param_shape) -> bool:
    """Does the pattern take every leaf of the param's declared type (a ranked param)?"""
    if param_shape == LEAF or p.rank is None:
        return False
    names = [d for d in p.dims if not isinstance(d, int)]
    if len(set(names)) < len(names):
        return False                         # `real[n, n]` takes square leaves only
    if p.matrix:
        return len(param_shape) >= 2 and not isinstance(p.dims[0], int) and not isinstance(p.dims[1], int)
    return len(param_shape) == p.rank and all(not isinstance(d, int) or d == s
                                              for d, s in zip(p.dims, param_shape))


def _static(d) -> bool:
    return isinstance(d, int)


def _unify(a: tuple, b: tuple) -> bool:
    """Can one shape fit both dim lists (same length)? A name stands for one size wherever it
    appears in its pattern; static sizes must agree."""
    parent: dict = {}

    def find(x):
        while parent.get(x, x) != x:
            x = parent[x]
        return x

    for i, (x, y) in enumerate(zip(a, b)):
        for d, side in ((x, "a"), (y, "b")):
            key = d if _static(d) else (side, d)
            parent.setdefault(key, key)
            parent.setdefault(("axis", i), ("axis", i))
            ra, rb = find(key), find(("axis", i))
            if ra != rb:
                if _static(rb):
                    ra, rb = rb, ra
                parent[rb] = ra
    roots: dict = {}
    for key in list(parent):
        r = find(key)
        if _static(key):
            if roots.setdefault(r, key) != key:
                return False
    return True


def overlap(a: Pattern, b: Pattern) -> bool:
    """Can one leaf shape fit both patterns? Exact for patterns without `as matrix`; with it,
    a static width must divide out of the other pattern's trailing sizes."""
    if a.rank is None or b.rank is None:
        return a.rank is None and b.rank is None
    if not a.matrix and not b.matrix:
        return a.rank == b.rank and _unify(a.dims, b.dims)
    if a.matrix and b.matrix:
        return all(not (_static(x) and _static(y) and x != y) for x, y in zip(a.dims, b.dims))
    m, p = (a, b) if a.matrix else (b, a)
    if p.rank < 2:
        return False
    if _static(m.dims[0]) and _static(p.dims[0]) and m.dims[0] != p.dims[0]:
        return False
    if not _static(m.dims[1]):
        return True
    fixed = 1
    for d in p.dims[1:]:
        fixed *= d if _static(d) else 1
    free = any(not _static(d) for d in p.dims[1:])          # a name may be any size (conservative
    return m.dims[1] % fixed == 0 if free else fixed == m.dims[1]   # where it repeats a name)


def _children(node):
    """The AST nodes directly inside `node` (its fields that are nodes, or tuples of them)."""
    for name in getattr(type(node), "__slots__", ()):
        v = getattr(node, name, None)
        for x in (v if isinstance(v, tuple) else (v,)):
            if hasattr(type(x), "__slots__") and hasattr(x, "span") and not isinstance(x, ast.Ident):
                yield x


def _walk(nodes):
    todo = list(nodes)
    while todo:
        node = todo.pop()
        yield node
        todo.extend(_children(node))


def _calls_model(stmts) -> Optional[ast.Call]:
    """The first `total`/`global_norm` call in a block of statements, if any."""
    for node in _walk(stmts):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in MODEL_CALLS:
            return node
    return None


def _method(m: ast.Method, name: str, members) -> ast.Method:
    return ast.Method(m.kind, ast.Ident(name, m.name.span), m.doc, tuple(members), m.span)


def _with(d: Diagnostic, note: Note, hint: str) -> Diagnostic:
    return Diagnostic(d.code, d.severity, d.message, d.span, hint, tuple(d.notes) + (note,), d.label)


def _model_wide(method_members) -> Optional[tuple]:
    """Where a method's step reads model-wide values (a shared state, a `total`)."""
    for mb in method_members:
        if isinstance(mb, ast.State) and mb.shared:
            return mb.span, "a `shared state`"
        if isinstance(mb, ast.Step):
            call = _calls_model(mb.body)
            if call is not None:
                return call.span, f"`{call.func.id}`"
    return None


def check_ruled(m: ast.Method, diags: list[Diagnostic], defs, aliases,
                resolve: Callable[[str], tuple[Optional[CheckedMethod], Optional[str]]],
                traced: Optional[Callable] = None) -> Optional[CheckedMethod]:
    """The method with its rules checked (None after errors). `traced(checker, method)` is
    told of each method checked on the way (the method's own members, and each rule's)."""
    traced = traced or (lambda checker, method: None)
    report = diags.append
    rules = [mb for mb in m.members if isinstance(mb, ast.Rule)]
    head_members = []
    before: Optional[ast.Step] = None
    for mb in m.members:
        if isinstance(mb, ast.Rule):
            continue
        if isinstance(mb, ast.State):
            report(error("E0226", "a method with rules keeps its states inside the rules", mb.span,
                         notes=[Note("the first rule is here", rules[0].span)],
                         hint="move the `state` into the rule that uses it: each rule has its own states"))
            continue
        if isinstance(mb, ast.Eval):
            report(error("E0226", "an eval view in a method with rules is not supported yet", mb.span,
                         notes=[Note("the first rule is here", rules[0].span)],
                         hint="remove the `eval`: the method is evaluated at its parameters; a method that needs "
                              "an eval view cannot have rules yet"))
            continue
        if isinstance(mb, ast.Step):
            if before is not None:
                report(error("E0102", "a method has one `step` block", mb.span,
                             notes=[Note("the first step is here", before.span)]))
                continue
            before = mb
            bad = next((st for st in mb.body if not isinstance(st, ast.Let)), None)
            if bad is not None:
                report(error("E0226", "the step of a method with rules runs before the rules, and only "
                                      "computes `let`s for them", bad.span,
                             notes=[Note("the first rule is here", rules[0].span)],
                             hint="update the param and states inside the rules; here, compute model-wide "
                                  "values such as `let gn = global_norm(g)`"))
                before = ast.Step(mb.counter, (), mb.span)
            continue
        head_members.append(mb)
    step = before if before is not None else ast.Step(None, (), m.name.span)
    head = _Quiet(_method(m, m.name.name, tuple(head_members) + (step,)), diags, defs, aliases)
    checked = head.run()
    traced(head, m)
    param_decl = next((mb for mb in head_members if isinstance(mb, ast.Param)), None)
    if checked is None or param_decl is None:
        return None
    # the values the rules see: the real scalars of the step before them that are one value for
    # the model (a `total`, a `global_norm`, hypers and `t`), passed to each rule as a hyper
    exports = [sym for sym in head.bound_lets if sym.leaf is None and sym.type is not None
               and sym.type.shape == () and sym.type.elem == "real"]
    exported = {sym.name: sym for sym in exports}
    spans = {(sym.decl.name.span.start, sym.decl.name.span.end) for sym in exports}
    diags[:] = [d for d in diags if not (d.code == "W0006" and d.span is not None
                                         and (d.span.start, d.span.end) in spans)]   # the rules decide
    per_leaf = {sym.name: sym for sym in head.bound_lets if sym.name not in exported}
    param = checked.params[0]
    reads = set(head.x.reads)
    out: list[CheckedRule] = []
    seen: list[tuple[Pattern, ast.Rule]] = []
    for i, r in enumerate(rules, 1):
        p = _pattern(r, report)
        if r.var is not None and r.var.name != param.name:
            report(error("E0226", f"the rule's pattern names `{r.var.name}`, but the param is `{param.name}`",
                         r.var.span, hint=f"write `rule for {param.name}: ...`"))
            continue
        if p is None:
            continue
        where = r.type.span if r.type is not None else r.span
        if not _reachable(p, param.type.shape):
            report(error("E0223", f"no leaf can match the pattern `{p.text()}`: the param is "
                                  f"`{param.name}: {param.type}`", where,
                         notes=[Note("the param is declared here", param_decl.span)],
                         hint="remove the rule, or change its pattern to a shape of the param"))
            continue
        if p.rank is None and any(_covers(q, param.type.shape) for q, _ in seen):
            first = next(d for q, d in seen if _covers(q, param.type.shape))
            report(error("E0223", "no leaf is left for `otherwise`: an earlier rule takes every leaf of "
                                  f"`{param.name}: {param.type}`", r.span,
                         notes=[Note("this rule takes them all", first.span)], hint="remove `rule otherwise`"))
            continue
        clash = next(((q, d) for q, d in seen if overlap(p, q)), None)
        if clash is not None:
            q, d = clash
            report(error("E0224", f"rules `{q.text()}` and `{p.text()}` both match some leaves", where,
                         notes=[Note("the other rule is here", d.type.span if d.type is not None else d.span)],
                         hint="make the patterns disjoint: different ranks, different static sizes, or "
                              "`as matrix` for rank >= 2 and plain patterns for ranks 0 and 1"))
            continue
        seen.append((p, r))
        if r.delegate is not None:
            rule = _delegation(m, r, p, head, checked, resolve, report)
            if rule is not None:
                reads |= {n for n in _names(e for _, e in rule.hyper_map)}
                out.append(rule)
            continue
        steps = [mb for mb in r.members if isinstance(mb, ast.Step)]
        if not steps:
            report(error("E0226", "the rule has no `step`", r.span, hint="add `step:` with the rule's update"))
            continue
        model = _model_wide(r.members)
        if model is not None:
            span, what = model
            report(error("E0226", f"{what} inside a rule is not supported yet", span,
                         hint="compute model-wide values in the method's `step:` before the rules (e.g. "
                              "`let gn = global_norm(g)`, over the leaves of every rule); each rule reads "
                              "its real scalar lets"))
            continue
        ptype = r.type if r.type is not None else param_decl.type       # `otherwise`: the param's own type
        sub_param = ast.Param(param_decl.name, ptype, param_decl.domain, param_decl.span)
        members = [sub_param if mb is param_decl else mb for mb in head_members
                   if isinstance(mb, (ast.Hyper, ast.Param, ast.Oracle))]
        members[:0] = [_export_hyper(sym) for sym in exports]
        members += list(r.members)
        sub_ast = _method(m, f"{m.name.name}__rule{i}", members)
        sub = _Quiet(sub_ast, diags, defs, aliases)
        sub_checked = sub.run()
        traced(sub, sub_ast)
        reads |= sub.x.reads | sub.x.prev_used
        if sub_checked is not None:
            out.append(CheckedRule(p, r, sub_checked))
    _explain_other_rules_states(rules, diags)
    _explain_per_leaf_lets(per_leaf, diags, before)
    if not rules:
        return None
    if any(d.is_error for d in diags):
        return None
    for h in checked.hypers:
        if h.symbol.name not in reads:
            diags.append(warning("W0002", f"hyper `{h.symbol.name}` is never used", h.decl.name.span,
                                 hint="remove it, or use it in a rule"))
    for o in checked.oracles:
        if o.name not in reads:
            diags.append(warning("W0003", f"oracle `{o.name}` is never used", o.decl.name.span,
                                 hint="remove it if no rule needs it"))
    for sym in exports:
        if sym.name not in reads:
            diags.append(warning("W0006", f"`{sym.name}` is computed but never used", sym.decl.name.span,
                                 hint="remove the `let`, or use it in a rule"))
    checked.rules = out
    checked.states = []
    if exports:
        checked.before = _before_method(m, head_members, before, exported, defs, aliases)
    return checked


def _export_hyper(sym) -> ast.Hyper:
    """A model-wide `let` of the step before the rules, as a rule sees it: a real hyper
    that the runtime sets on every step."""
    name = sym.decl.name
    real = ast.TypeExpr(ast.Ident("real", name.span), None, name.span)
    return ast.Hyper(name, real, None, ast.Num(0.0, False, name.span), (), sym.decl.span)


def _before_method(m: ast.Method, head_members, before: ast.Step, exported, defs, aliases) -> Optional[CheckedMethod]:
    """The step before the rules as a method of its own, whose model-wide lets are shared
    states (one value for the model, which its phased step returns)."""
    states, body = [], []
    for st in before.body:
        if st.name.name in exported:
            real = ast.TypeExpr(ast.Ident("real", st.name.span), None, st.name.span)
            states.append(ast.State(st.name, real, None, ast.Num(0.0, False, st.name.span), st.span, shared=True))
            body.append(ast.Assign(st.name, st.value, st.span))
        else:
            body.append(st)
    members = [mb for mb in head_members if isinstance(mb, (ast.Hyper, ast.Param, ast.Oracle))] + states + \
        [ast.Step(before.counter, tuple(body), before.span)]
    sub = _method(m, f"{m.name.name}__before", members)
    scratch: list[Diagnostic] = []
    return _Quiet(sub, scratch, defs, aliases).run()


def _explain_per_leaf_lets(per_leaf, diags: list[Diagnostic], before) -> None:
    """An undefined name in a rule that is a per-leaf `let` of the step before the rules."""
    if before is None:
        return
    for i, d in enumerate(diags):
        if d.code != "E0101" or d.span is None or d.hint or before.span.start <= d.span.start < before.span.end:
            continue
        sym = per_leaf.get(d.span.text)
        if sym is None or d.message != f"undefined name `{sym.name}`":
            continue
        why = "a scalar real" if sym.leaf is None else "one value for the model"
        diags[i] = _with(d, Note(f"`{sym.name}` is computed before the rules here", sym.decl.span),
                         f"rules see the step's lets that are {why} (such as a `global_norm`); per-leaf values "
                         "are computed inside each rule")


def _explain_other_rules_states(rules, diags: list[Diagnostic]) -> None:
    """An undefined name that is a state of a rule: each rule has its own states."""
    owner: dict[str, ast.Rule] = {}
    for r in rules:
        for mb in r.members:
            if isinstance(mb, ast.State):
                owner.setdefault(mb.name.name, r)
    for i, d in enumerate(diags):
        if d.code != "E0101" or d.span is None or d.hint:
            continue
        name = d.span.text
        r = owner.get(name)
        if r is None or d.message != f"undefined name `{name}`" or r.span.start <= d.span.start < r.span.end:
            continue
        what = "otherwise" if r.var is None else f"for {r.var.name}: ..."
        state = next(mb for mb in r.members if isinstance(mb, ast.State) and mb.name.name == name)
        diags[i] = _with(d, Note(f"`{name}` is a state of `rule {what}`", state.span),
                         "each rule has its own states, for the leaves it takes; declare one in this rule if it "
                         "needs one")


def _names(exprs):
    for node in _walk(exprs):
        if isinstance(node, ast.Name):
            yield node.id


def _delegation(m: ast.Method, r: ast.Rule, p: Pattern, head: MethodChecker, checked: CheckedMethod,
                resolve, report) -> Optional[CheckedRule]:
    call = r.delegate
    name = call.func.id
    if name == m.name.name:
        report(error("E0225", f"`{name}` cannot hand leaves to itself", call.func.span))
        return None
    target, why = resolve(name)
    if target is None:
        report(error("E0225", f"unknown method `{name}`", call.func.span,
                     hint=why or "a rule hands its leaves to a stdlib optimizer or one in this file"))
        return None
    if target.kind != "optimizer":
        report(error("E0225", f"`{name}` is a {target.kind}; a rule hands leaves to an optimizer", call.func.span))
        return None
    if target.rules is not None:
        report(error("E0225", f"`{name}` has rules of its own; a rule cannot hand leaves to it yet",
                     call.func.span, hint="hand them to a method without rules"))
        return None
    model = _model_wide(target.decl.members)
    if model is not None:
        report(error("E0225", f"`{name}` reads model-wide values ({model[1]}), which rules do not support yet",
                     call.func.span))
        return None
    for a in call.args:
        report(error("E0225", "a delegation maps hypers by name", a.span,
                     hint=f"write `{name}(lr=...)`, naming the hyper of `{name}` each value is for"))
        return None
    theirs = {h.symbol.name: h for h in target.hypers}
    ours = {h.symbol.name for h in checked.hypers}
    mapping = []
    ok = True
    for kw in call.kwargs:
        key = kw.name.name
        if key not in theirs:
            report(error("E0225", f"`{name}` has no hyper `{key}`", kw.name.span,
                         hint=did_you_mean(key, theirs) or f"its hypers: {', '.join(theirs)}"))
            ok = False
            continue
        t = head.x.check(kw.value)
        if t is None:
            ok = False
            continue
        bad = next((n for n in _names([kw.value]) if n not in ours), None)
        if bad is not None:
            report(error("E0225", f"a delegated hyper is computed from this method's hypers; `{bad}` is not one",
                         kw.value.span, hint="map hypers to hypers, e.g. `lr=adam_lr`"))
            ok = False
            continue
        want = theirs[key].symbol.type
        if not t.is_scalar or not (t.elem == want.elem or (want.elem == "real" and t.elem == "int")):
            report(error("E0225", f"`{key}` of `{name}` is {want}, but `{kw.value.span.text}` is {t}",
                         kw.value.span))
            ok = False
            continue
        mapping.append((key, kw.value))
    given = {k for k, _ in mapping}
    for h in target.hypers:
        if h.decl.default is None and h.symbol.name not in given:
            report(error("E0225", f"hyper `{h.symbol.name}` of `{name}` has no default, so the rule must give it",
                         call.span, hint=f"add `{h.symbol.name}=...` to `{name}(...)`"))
            ok = False
    kinds = {o.decl.kind.name for o in checked.oracles}
    for o in target.oracles:
        if o.decl.kind.name not in kinds:
            report(error("E0225", f"`{name}` needs a `{o.decl.kind.name}` oracle, which this method does not have",
                         call.func.span, hint=f"declare `oracle {o.name} = {o.decl.kind.name}(...)`"))
            ok = False
    dshape = target.params[0].type.shape
    if dshape != LEAF and p.rank is not None and (len(dshape) != p.rank or any(isinstance(d, int) for d in dshape)):
        report(error("E0225", f"`{name}` updates `{target.params[0].type}` leaves, which the pattern "
                              f"`{p.text()}` does not promise", call.func.span))
        ok = False
    if dshape != LEAF and p.rank is None:
        report(error("E0225", f"`{name}` updates `{target.params[0].type}` leaves only, but `otherwise` can hand "
                              "it any leaf", call.func.span))
        ok = False
    if not ok:
        return None
    return CheckedRule(p, r, target, name, mapping, head.typing)

"""`--target jax`: optax transformations for optimizers, jit-able `lax.while_loop` solvers.

A generated module holds, per method, the same Spec as numpy's, the per-leaf math
(`init_NAME`, `step_NAME`) or the solve (`solve_NAME`, one `_round` function and the
loop), a NamedTuple state class for optimizers, and a factory `NAME(...)` whose keyword
arguments are the hypers (so `optax.inject_hyperparams(NAME)` can bind them).

Regions become functions, since `lax` takes functions:
- an `If` whose condition is STATIC is a Python `if` (static hypers, dims and literals are
  Python values at trace time); any other becomes two branch functions and
  `rt.select` (both run, `jnp.where` picks: for cheap elementwise branches) or `rt.cond`
  (`lax.cond`); a branch function takes as parameters the names it rebinds that the
  enclosing code has bound, and closes over the rest;
- a `For` is `rt.fori_loop(lo, hi + 1, ...)` over a body function of (index, carried values);
- a `While` in a step (`repeat ... until`) is `rt.repeat`, whose body returns the carried
  values and the stop flag;
- a solver's While is `rt.iterate` over `_round(t, values it reads)`.

A phased optimizer (one that reads `total`, `global_norm` or a shared state) gets a step
over every leaf at once, as numpy's: `step_NAME(hp, t, xs, gs, ..., d)` takes one list
per per-leaf input and one scalar per shared state or `value` oracle. Its model segments
are straight-line code on model-wide scalars (`rt.total(parts)` adds a leaf phase's
partials); each leaf phase is a function of one leaf's values (`def _leaf_1(g, m):`)
mapped over the lists by `rt.leafwise`, which gives back the lists later phases read. The
runtime traces it inside the jitted `update`; `init_shared_NAME` gives the shared states,
one scalar field each in the state NamedTuple.
"""
from __future__ import annotations

import os
import textwrap

from ... import __version__
from ...builtins import REGISTRY, Kind
from ...ir import Apply, Assign, Block, Const, DType, For, If, ModuleIR, OptimizerIR, Origin, Place, Var, While
from ...ir.passes import all_names, operands_read, sub_blocks, walk
from ...ir.phases import free_vars
from ...types import KEY
from ..pyexpr import Target
from ..pysource import INDENT, SourceEmitter, Writer, comment, dims_tuple, hyper_dims, totals_to_keep, tuple_code

# optax's names for hypers, accepted as keyword aliases when the method has the hyper
OPTAX_ALIASES = (("learning_rate", "lr"), ("b1", "beta1"), ("b2", "beta2"))
WIDTH = 110


def wrap(head: str, items: list[str], tail: str, indent: str) -> list[str]:
    """`head` + items joined by ", " + `tail`, broken into lines of at most WIDTH characters."""
    one = head + ", ".join(items) + tail
    if len(one) <= WIDTH or not items:
        return [one]
    lines, current = [], head
    for i, item in enumerate(items):
        piece = item + ("," if i < len(items) - 1 else tail)
        if current.strip() and len(current) + len(piece) + 1 > WIDTH:
            lines.append(current.rstrip())
            current = indent
        current += piece + " "
    lines.append(current.rstrip())
    return lines


def cheap(block: Block) -> bool:
    """Elementwise code only (static `if`s allowed): worth running both sides of a branch."""
    for s in block.stmts:
        if isinstance(s, Assign):
            if isinstance(s.op, Apply) and REGISTRY[s.op.fn].kind not in (Kind.ELEMENTWISE, Kind.SHAPE):
                return False
        elif isinstance(s, If):
            if not (cheap(s.then) and cheap(s.orelse)):
                return False
        else:
            return False
    return True


def reads_of(block: Block) -> set[str]:
    """Names of the values a block reads anywhere inside it."""
    out: set[str] = set()

    def visit(b: Block):
        out.update(y.name for y in b.yields if isinstance(y, Var))
        for s in b.stmts:
            out.update(v.name for v in operands_read(s) if isinstance(v, Var))
            for inner in sub_blocks(s):
                visit(inner)
    visit(block)
    return out


def camel(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_") if part)


class MethodEmitter(SourceEmitter):
    def __init__(self, m, w: Writer, target: Target, factory: str, state_cls: str):
        super().__init__(m, w, target, f"{m.param.name}.dtype" if isinstance(m, OptimizerIR) else "float")
        self.factory = factory
        self.state_cls = state_cls
        self.sub_states: dict[str, str] = {}         # state classes of the methods printed for rules
        self.scopes: list[set[str]] = [set()]        # names bound in each enclosing Python function
        self.taken = set(all_names(m))               # helper function names must not shadow values

    # ------------------------------------------------------------ scopes and helper functions

    def visible(self) -> set[str]:
        return set().union(*self.scopes)

    def assign(self, target: Var, value, span=None) -> None:
        super().assign(target, value, span)
        self.scopes[-1].add(self.namer.name(target))

    def fresh(self, base: str) -> str:
        name, i = base, 1
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name

    def rebinds(self, block: Block) -> list[str]:
        """Names a block binds in its own Python scope (a Python `if` shares its scope)."""
        out: list[str] = []
        for s in block.stmts:
            if not self.namer.printed(s):
                continue
            if isinstance(s, Assign):
                out.append(self.namer.name(s.target))
            else:
                out += [self.namer.name(r) for r in s.results]
                if isinstance(s, If) and self.python_if(s):
                    out += self.rebinds(s.then) + self.rebinds(s.orelse)
        return out

    def params_of(self, blocks, results) -> list[str]:
        """A helper function's parameters: the names it rebinds that enclosing code has bound
        (as its own locals they would hide the enclosing values), results first."""
        names = [self.namer.name(r) for r in results]
        for b in blocks:
            names += self.rebinds(b)
        visible = self.visible()
        return [n for n in dict.fromkeys(names) if n in visible]

    def gap(self) -> None:
        """A blank line between a region's functions and the code around them."""
        last = self.w.lines[-1].strip() if self.w.lines else ""
        if last and not last.endswith(":") and not last.startswith('"""'):
            self.w.line()

    def statements(self, block: Block) -> None:
        after_region = False
        for s in block.stmts:
            if not self.namer.printed(s):
                continue
            region = not isinstance(s, Assign) and not (isinstance(s, If) and self.python_if(s))
            if after_region:
                self.gap()
            self.stmt(s)
            after_region = region

    def function(self, name: str, params: list[str], block: Block, results, span=None, tail=()) -> None:
        """`def name(params)`: the block, its yields copied into `results`, and a return of
        the results (then of `tail`, printed operands)."""
        w = self.w
        self.gap()
        w.line(f"def {name}({', '.join(params)}):{self.where(span)}")
        w.indent()
        self.scopes.append(set(params))
        self.statements(block)
        for r, y in zip(results, block.yields):
            self.assign(r, y)
        out = [self.namer.name(r) for r in results] + [self.expr(y) for y in tail]
        w.line(f"return {', '.join(out)}")
        self.scopes.pop()
        w.dedent()

    def results_code(self, results) -> str:
        return ", ".join(self.namer.name(r) for r in results)

    def bind_results(self, results) -> None:
        self.scopes[-1].update(self.namer.name(r) for r in results)

    def condition(self, block: Block) -> str:
        """Conditions run on concrete hypers (a traced one raises TypeError, and the check is
        skipped), so they use Python's `and` and host math, as numpy's read."""
        self.expr.host_limit = Place.LEAF
        try:
            return self.expression(block)
        finally:
            self.expr.host_limit = None

    # ------------------------------------------------------------ statements

    def python_if(self, s: If) -> bool:
        return not isinstance(s.cond, Var) or s.cond.place == Place.STATIC

    def stmt(self, s) -> None:
        if isinstance(s, Assign):
            self.assign(s.target, s.op, s.span)
        elif isinstance(s, If):
            if self.python_if(s):
                self.if_(s, "if")
                self.bind_results(s.results)
            else:
                self.traced_if(s)
        elif isinstance(s, For):
            self.for_(s)
        elif isinstance(s, While):
            self.repeat(s)
        else:
            raise AssertionError(f"cannot emit {type(s).__name__}")

    def traced_if(self, s: If) -> None:
        line = self.line_of(s.span)
        then_name, else_name = self.fresh(f"_then_{line}"), self.fresh(f"_else_{line}")
        params = self.params_of((s.then, s.orelse), s.results)
        self.function(then_name, params, s.then, s.results, s.span)
        self.function(else_name, params, s.orelse, s.results)
        how = "select" if cheap(s.then) and cheap(s.orelse) else "cond"
        args = [self.expr(s.cond), then_name, else_name] + params
        self.gap()
        for text in wrap(f"{self.results_code(s.results)} = rt.{how}(", args, f"){self.where(s.span)}", "    "):
            self.w.line(text)
        self.bind_results(s.results)

    def for_(self, s: For) -> None:
        for p, i in zip(s.params, s.inits):
            self.assign(p, i)
        name = self.fresh(f"_for_{self.line_of(s.span)}")
        params = [self.namer.name(p) for p in s.params]
        assert set(self.params_of((s.body,), s.params)) <= set(params), "a loop rebinds a name it does not carry"
        self.function(name, [self.namer.name(s.var)] + params, s.body, s.params, s.span)
        args = [self.expr(s.lo), f"{self.expr(s.hi)} + 1", name] + params
        self.gap()
        self.w.line(f"{self.results_code(s.results)} = rt.fori_loop({', '.join(args)}){self.where(s.span)}")
        self.bind_results(s.results)

    def repeat(self, s: While) -> None:
        carried = s.params[:-1]
        for p, i in zip(carried, s.inits[:-1]):
            self.assign(p, i)
        name = self.fresh(f"_repeat_{self.line_of(s.span)}")
        params = [self.namer.name(p) for p in carried]
        self.function(name, params, s.body, carried, s.span, tail=(s.body.yields[-1],))
        args = [self.expr(s.max_iter), name] + params
        self.gap()
        self.w.line(f"{self.results_code(s.results)} = rt.repeat({', '.join(args)}){self.where(s.span)}")
        self.bind_results(s.results)

    # ------------------------------------------------------------ optimizer

    def ruled_optimizer(self) -> None:
        """A method with rules: its state class (`count`, `leaves`: per-leaf records), the
        hyper maps of its delegations, the rules (each rule's optimizer is printed above it),
        and its factory."""
        m, w = self.m, self.w
        w.line(f'{self.state_cls} = rt.state_class("{self.state_cls}", ("count", "leaves"))')
        w.line()
        w.line()
        for r in m.rules:
            if r.delegate is not None:
                w.line(f"def hypers_{r.method.name}(hp):")
                w.line(f'{INDENT}"""The hypers of `{r.delegate}` for the leaves of `rule {comment(r.pattern.text())}`."""')
                for text in wrap("return dict(", [f"{k}={self.expression(b)}" for k, b in r.hyper_map], ")", "    "):
                    w.line(INDENT + text)
                w.line()
                w.line()
        w.line(f"RULES_{m.name} = (")
        w.indent()
        for r in m.rules:
            p = r.pattern
            dims = f", {dims_tuple(p.dims)}" if p.dims else ""
            matrix = ", matrix=True" if p.matrix else ""
            n = r.method.name
            w.line(f"# rule {comment(p.text())}" + (f" = {comment(r.delegate)}" if r.delegate else ""))
            items = [f"rt.Pattern({p.rank!r}{dims}{matrix})", f"SPEC_{n}", f"init_{n}", f"step_{n}",
                     self.sub_states[n]] + ([f"hypers=hypers_{n}"] if r.delegate is not None else [])
            for text in wrap("rt.Rule(", items, "),", "    "):
                w.line(text)
        w.dedent()
        w.line(")")
        w.line()
        w.line()
        self.optimizer_factory()

    def optimizer(self) -> None:
        m, w = self.m, self.w
        if m.rules:
            self.ruled_optimizer()
            return
        x = m.param.name
        state_names = [s.name for s in m.states]
        key_field = [self.key_field()] if m.key is not None else []
        fields = tuple_code(f'"{n}"' for n in ["count"] + state_names + key_field)
        w.line(f'{self.state_cls} = rt.state_class("{self.state_cls}", {fields})')
        w.line()
        w.line()
        w.line(f"def init_{m.name}(hp, {x}, live):")
        w.indent()
        w.line('"""The initial state of one parameter leaf (only the states in `live`)."""')
        self.scopes = [{"hp", x, "live"}]
        self.dims_line()
        self.state_inits()
        w.dedent()
        w.line()
        w.line()
        if m.eval is not None:
            self.scopes = [{"hp", x, *state_names} | {d.name for d in m.dims}]
            self.eval_leaf()
        args = ["hp", m.counter.name, x] + [o.var.name for o in m.oracles] + state_names
        if m.key is not None:                # this leaf's key for this step; the next one is returned last
            args.append(m.key.name)
        if m.phases:
            shared = [s for s in m.states if s.shared]
            if shared:
                self.scopes = [{"hp", "live"}]
                self.init_shared(shared)
            self.phased_step()
            self.optimizer_factory()
            self.eval_params_function()
            return
        self.namer.plan(m.body)
        once, per_leaf = self.per_step(m.body)
        t = m.counter.name
        w.line(f"def step_{m.name}(hp, {t}):")
        w.indent()
        w.line(f'"""Step {t}: what it computes once for all leaves, then `leaf`, its step on one parameter leaf."""'
               if once else f'"""Step {t}: `leaf`, its step on one parameter leaf."""')
        self.scopes = [{"hp", t}]
        self.statements(Block(once))
        leaf = self.fresh("leaf")
        self.gap()
        w.line(f"def {leaf}({', '.join(args[2:])}):")
        w.indent()
        then = ", then the next key" if m.key is not None else ""
        w.line(f'"""One step on one parameter leaf: {self.results_doc(x, state_names)}{then}."""')
        self.scopes.append(set(args[2:]) | {d.name for d in m.dims})
        self.dims_line()
        self.state_shape_checks()
        self.statements(Block(per_leaf))
        w.line(f"return {', '.join(self.expr(y) for y in m.body.yields)}" if len(m.body.yields) > 1
               else f"return ({self.expr(m.body.yields[0])},)")
        self.scopes.pop()
        w.dedent()
        w.line()
        w.line(f"return {leaf}")
        w.dedent()
        w.line()
        w.line()
        self.optimizer_factory()
        self.eval_params_function()

    def per_step(self, body: Block) -> tuple[tuple, tuple]:
        """The step's top-level statements split into those computed once per step for all
        leaves (values of the hypers and the counter only: bias corrections, step sizes)
        and the rest, run per leaf. Under `jax.jit` the per-step ones are then traced once,
        not once per leaf. A value whose name the step binds twice stays per leaf, as do
        draws and oracle calls; so do temporaries printed inline where they are used."""
        m = self.m
        bound: dict[str, int] = {}
        for s in walk(body):
            for v in (s.target,) if isinstance(s, Assign) else s.results:
                if v.source is not None:
                    bound[v.source] = bound.get(v.source, 0) + 1
        slots = {m.param.name} | {s.name for s in m.states}
        pure = {h.name for h in m.hypers} | {m.counter.name}
        once, per_leaf = [], []
        for s in body.stmts:
            ok = (isinstance(s, Assign) and s.target.place <= Place.STEP
                  and not (isinstance(s.op, Apply) and REGISTRY[s.op.fn].kind in (Kind.LIBRARY, Kind.SPECIAL))
                  and all(not isinstance(v, Var) or v.name in pure for v in operands_read(s))
                  and (s.target.source is None or (bound[s.target.source] == 1 and s.target.source not in slots)))
            if ok:
                pure.add(s.target.name)
            (once if ok and self.namer.printed(s) else per_leaf).append(s)
        return tuple(once), tuple(per_leaf)

    def results_doc(self, x: str, states) -> str:
        """What a step returns, for its docstring: the param's update (optax's contract)
        where the IR computes it directly, else the param's new value; then the states'."""
        if not self.m.yields_update:
            return "the new " + ", ".join([x, *states])
        return f"the update of {x} (new minus old)" + (f", the new {', '.join(states)}" if states else "")

    def eval_params_function(self) -> None:
        """`NAME_eval_params(params, state, **hypers)`: the eval view of a whole tree, as
        `optax.contrib.schedule_free_eval_params(state, params)` gives it (also reachable as
        `tx.eval_params(params, state)` on the transformation the factory returns)."""
        m, w = self.m, self.w
        if m.eval is None:
            return
        w.line()
        w.line()
        w.line(f"def {m.name}_eval_params(params, state, **hypers):")
        w.indent()
        w.line(f'"""The parameters at evaluation time: `eval {m.param.name} = ...` on every leaf, from the state of '
               f'`{self.factory}`.')
        w.line()
        for text in textwrap.wrap("Pass the hypers the transformation was made with, where the eval view reads "
                                  "them (a state of optax.inject_hyperparams carries its own). Jit-able.",
                                  WIDTH - 4 * w.depth):
            w.line(text)
        w.line('"""')
        w.line(f"return rt.eval_params(SPEC_{m.name}, eval_{m.name}, params, state, hypers)")
        w.dedent()

    # ------------------------------------------------------------ phased optimizer

    def phased_step(self) -> None:
        """`step_NAME(hp, t, xs, oracles..., states...)`: every leaf at once (lists, and one
        scalar per shared state or `value` oracle). Model segments are straight-line code
        on model-wide scalars; each leaf phase is a function of one leaf's values, mapped
        over the leaves by `rt.leafwise`, which returns the lists a later phase reads."""
        m, w = self.m, self.w
        x = m.param.name
        taken = self.printed_names() | self.taken
        lists, crossing = self.phase_lists(taken)
        self.taken |= taken
        self.namer.plan(m.body, keep={v.name for v in crossing} | totals_to_keep(m))
        args = ["hp", m.counter.name, lists[x]] + \
               [lists[o.var.name] if o.kind != "value" else o.var.name for o in m.oracles] + \
               [lists[s.name] if not s.shared else s.name for s in m.states]
        if m.key is not None:              # this step's key (model-wide); leaf phases fold in the leaf index
            args.append(m.key.name)
        n_leaf = sum(p.kind == "leaf" for p in m.phases)
        outs = [lists[x]] + [lists[s.name] if not s.shared else s.name for s in m.states]
        w.line(f"def step_{m.name}({', '.join(args)}):")
        w.indent()
        w.line(f'"""One step on every leaf of the parameter tree, in {n_leaf} leaf phase'
               f'{"s" if n_leaf != 1 else ""}: {self.results_doc(outs[0], outs[1:])}."""')
        self.scopes = [set(args)]
        leaf_no = 0
        for p in m.phases:
            if p.kind == "model":
                self.namer.override = {v.name: lists[self.namer.name(v)] for v in p.loads}
                self.statements(Block(p.stmts))
                self.namer.override = {}
                continue
            leaf_no += 1
            self.leaf_phase(p, leaf_no, n_leaf, lists)
        self.phased_return(lists)
        w.dedent()
        w.line()
        w.line()

    def leaf_phase(self, p, number: int, count: int, lists: dict[str, str]) -> None:
        """`def _leaf_N(loads...)` returning the phase's stores, then `stores = rt.leafwise(...)`."""
        w, x = self.w, self.m.param.name
        params = [self.namer.name(v) for v in p.loads if v.origin != Origin.DIM]
        dims = any(v.origin == Origin.DIM for v in p.loads)
        if (dims or not params) and x not in params:     # a leaf's shape, or something to map over
            params.insert(0, x)
        # a draw: each leaf gets the step's current key with its index folded in (`rt.leaf_keys`)
        keys = sorted({self.namer.name(v) for s in p.stmts for v in free_vars(s) if v.type == KEY})
        name = self.fresh(f"_leaf_{number}")
        self.gap()
        head = len(w.lines)
        w.line(f"def {name}({', '.join(params + keys)}):  # leaf phase {number} of {count}")
        w.indent()
        self.scopes.append(set(params + keys))
        if dims:
            self.dims_line()
        else:                                             # sizes set by int hypers, without the leaf's
            self.hyper_dim_lines()
        # a temporary stored for a later phase, computed by the phase's last lines: returned as is
        stmts, direct = list(p.stmts), {}
        stored = {v.name for v in p.stores if v.source is None}
        while stmts and isinstance(stmts[-1], Assign) and stmts[-1].target.name in stored \
                and self.namer.printed(stmts[-1]) and not any(v.name == stmts[-1].target.name
                                                              for s in stmts[:-1] for v in operands_read(s)):
            last = stmts.pop()
            direct[last.target.name] = last.op
        self.statements(Block(tuple(stmts)))
        stores = [self.namer.name(v) for v in p.stores]
        returned = [self.expr(direct[v.name]) if v.name in direct else self.namer.name(v) for v in p.stores]
        w.line(f"return {', '.join(returned)}" if returned else "return None")
        self.scopes.pop()
        w.dedent()
        if x not in params and any(f"{x}.shape" in line for line in w.lines[head + 1:]):
            params.insert(0, x)                           # a scalar broadcast to the leaf's shape
            w.lines[head] = f"{INDENT * w.depth}def {name}({', '.join(params + keys)}):  # leaf phase {number} of {count}"
        results = [lists[v] for v in stores]
        call = [name] + [lists[v] for v in params] + [f"rt.leaf_keys({k}, len({lists[x]}))" for k in keys] \
            + ([f"n={len(stores)}"] if len(stores) > 1 else [])
        self.gap()
        for text in wrap(f"{', '.join(results) or '_'} = rt.leafwise(", call, ")", "    "):
            w.line(text)
        self.scopes[-1].update(results)

    def key_field(self) -> str:
        """The state field that holds a drawing method's PRNG key (after the states)."""
        name = "key"
        while name in {s.name for s in self.m.states} | {"count"}:
            name = "rng_" + name
        return name

    def optimizer_factory(self) -> None:
        m, w = self.m, self.w
        names = [h.name for h in m.hypers]
        aliases = [(alias, name) for alias, name in OPTAX_ALIASES if name in names and alias not in names]
        maximize = "maximize" not in names
        params = [f"{n}=None" for n in names if n != "lr"] + [f"{a}=None" for a, _ in aliases]
        params += ["maximize=False"] if maximize else []
        params = (["*"] if params else []) + params
        if "lr" in names:                                # the learning rate may be positional, as in optax
            params = ["lr=None"] + params
        for text in wrap(f"def {self.factory}(", params, ") -> optax.GradientTransformationExtraArgs:", "        "):
            w.line(text)
        w.indent()
        w.line(f'"""`{m.name}` as an optax GradientTransformationExtraArgs; a hyper left None takes its default.')
        w.line()
        notes = ["Defaults: " + ", ".join(self.default_text(h) for h in m.hypers) + "." if m.hypers else "",
                 "A real hyper may be a schedule (a function of the step count)."
                 if any(not h.static for h in m.hypers) else ""]
        if aliases:
            notes.append("optax's names work too: " + ", ".join(f"{a} for {n}" for a, n in aliases) + ".")
        if maximize:
            notes.append("maximize=True ascends (negates the gradient).")
        others = [o for o in m.oracles if o.kind != "grad"]
        if others:
            notes.append("Further oracles are keyword extra args of update: "
                         + ", ".join(f"{o.kind}=" + (f" (or {o.var.name}=)" if o.var.name != o.kind else "")
                                     for o in others) + ".")
        for text in textwrap.wrap(" ".join(n for n in notes if n), WIDTH - 4 * w.depth):
            w.line(text)
        w.line('"""')
        for text in wrap("hypers = dict(", [f"{n}={n}" for n in names], ")", "    "):
            w.line(text)
        args = [f"SPEC_{m.name}", f"init_{m.name}", f"step_{m.name}", self.state_cls, "hypers"]
        shared = f"init_shared=init_shared_{m.name}" if any(s.shared for s in m.states) else None
        call = "rt.optimizer("
        if m.rules:
            args = [f"SPEC_{m.name}", f"RULES_{m.name}", self.state_cls, "hypers"]
            call = "rt.ruled_optimizer("
            if m.before is not None:
                b = m.before.name
                shared = f"before=(SPEC_{b}, init_{b}, step_{b}, {self.sub_states[b]}, init_shared_{b})"
        if aliases:
            w.line(f"aliases = dict({', '.join(f'{n}={a}' for a, n in aliases)})")
            args.append("aliases")
        if maximize:
            args.append("maximize=maximize")
        if not shared and m.eval is None:
            w.line(f"return {call}{', '.join(args)})")
            w.dedent()
            return
        if shared:
            args.append(shared)
        if m.eval is not None:
            args.append(f"eval_leaf=eval_{m.name}")
        for text in wrap(f"return {call}", args, ")", "    "):
            w.line(text)
        w.dedent()

    def default_text(self, h) -> str:
        if h.default is None:
            text = f"{h.name} (required)"
        else:
            text = f"{h.name} = {self.expression(h.default)}"
        return text + (" (static)" if h.static else "")

    # ------------------------------------------------------------ solver

    def solver(self) -> None:
        m, w = self.m, self.w
        inputs = [i.name for i in m.inputs]
        oracles = [o.var.name for o in m.oracles]
        w.line(f"def solve_{m.name}({', '.join(['hp'] + inputs + oracles)}, *, check_every=1, progress=None):")
        w.indent()
        w.line('"""Iterate until the stopping rule holds or the cap is reached: (outputs, info)."""')
        self.scopes = [{"hp", "check_every", "progress", *inputs, *oracles}]
        if m.dims:
            w.line(f"dims = rt.bind_dims(SPEC_{m.name}, {{{', '.join(f'{chr(34)}{n}{chr(34)}: {n}' for n in inputs)}}})")
            for d in m.dims:
                w.line(f'{d.name} = dims["{d.name}"]')
                self.scopes[-1].add(d.name)
        self.hyper_dim_lines()                 # sizes set by int hypers (`svd(A, k)`)
        self.scopes[-1].update(hyper_dims(m))
        loop = m.loop
        self.dtypes = {s.name: f'"{s.dtype.value}"' for s in m.states if s.dtype != DType.F64}
        self.namer.plan(m.init)
        self.namer.plan(loop.body)
        self.statements(m.init)
        w.line(f"_cap = rt.require_steps(SPEC_{m.name}, {self.expr(loop.max_iter)})")
        for p, i in zip(loop.params, loop.inits):
            self.assign(p, i)
        read = reads_of(loop.body)
        reads = [i for i, p in enumerate(loop.params) if p.name in read]
        t = self.namer.name(m.counter)
        name = self.fresh("_round")
        params = [t] + [self.namer.name(loop.params[i]) for i in reads]
        self.function(name, params, loop.body, loop.params, loop.span)
        w.line()
        self.gap()
        values = [self.namer.name(p) for p in loop.params]
        args = [name, repr(tuple(reads)), f"({', '.join(values)}{',' if len(values) == 1 else ''})", "_cap",
                "check_every"]
        args.append("progress")                # a hook sees (t, the residual) after each round that checks
        if m.residual is not None:
            args.append(f"observed={list(loop.results).index(m.residual)}")
        for text in wrap(f"{t}, ({', '.join(values)}{',' if len(values) == 1 else ''}) = rt.iterate(", args, ")",
                         "    "):
            w.line(text)
        outs = ", ".join(f'"{n}": {self.expr(v)}' for n, v in m.outputs)
        residual = self.namer.name(m.residual) if m.residual is not None else "None"
        converged = self.namer.name(m.converged) if getattr(m, "converged", None) is not None \
            else self.namer.name(loop.params[-1])
        w.line(f"return {{{outs}}}, rt.SolveInfo({t}, {residual}, {converged})")
        w.dedent()
        w.line()
        w.line()
        params = ["*"] + [f"{h.name}=None" for h in m.hypers] + ["check_every=1"]
        for text in wrap(f"def {self.factory}(", params, ") -> rt.Solver:", "        "):
            w.line(text)
        w.indent()
        w.line(f'"""`{m.name}` as a compiled solver: call it with the inputs (and hyper overrides).')
        w.line()
        notes = ("Defaults: " + ", ".join(self.default_text(h) for h in m.hypers) + ". " if m.hypers else "") \
            + "check_every=k tests the stopping rule every k rounds."
        for text in textwrap.wrap(notes, WIDTH - 4 * w.depth):
            w.line(text)
        w.line('"""')
        hypers = [f"{h.name}={h.name}" for h in m.hypers]
        for text in wrap("hypers = dict(", hypers, ")", "    "):
            w.line(text)
        w.line(f"return rt.solver(SPEC_{m.name}, solve_{m.name}, hypers, check_every)")
        w.dedent()


def _parts(m) -> list:
    """A method and the methods printed for it: the step before its rules and each rule's
    optimizer (the method itself last)."""
    before = [m.before] if getattr(m, "before", None) is not None else []
    return before + [r.method for r in getattr(m, "rules", ())] + [m]


def _top_names(module: ModuleIR) -> dict[str, tuple[str, str]]:
    """Per method (and per method printed for a rule): its factory's name (`NAME`, or
    `make_NAME` if that is taken by another generated name) and its state class's name."""
    fixed = {"jax", "jnp", "optax", "rt", "METHODS"}
    methods = [p for m in module.methods for p in _parts(m)]
    for m in methods:
        fixed |= {f"SPEC_{m.name}", f"init_{m.name}", f"step_{m.name}", f"solve_{m.name}", f"eval_{m.name}",
                  f"{m.name}_eval_params", f"init_shared_{m.name}", f"RULES_{m.name}"}
    out = {}
    for m in methods:
        factory = m.name if m.name not in fixed else f"make_{m.name}"
        fixed.add(factory)
        state = camel(m.name) + "State"
        while state in fixed:
            state += "_"
        fixed.add(state)
        out[m.name] = (factory, state)
    return out


def emit_module(module: ModuleIR, target: Target) -> str:
    w = Writer()
    name = comment(os.path.basename(module.source_path))
    w.line(f"# Generated by iterc {__version__} from {name}; do not edit. "
           f"Regenerate with `iterc compile --target jax`.")
    w.line('"""A JAX implementation generated by iterc: optax transformations and jit-able solvers."""')
    w.line("import jax")
    w.line("import jax.numpy as jnp")
    w.line("import optax")
    w.line()
    w.line("from iterc.runtime import jax_rt as rt")
    w.line()
    names = _top_names(module)
    for top in module.methods:
        for m in _parts(top):
            w.line()
            emitter = MethodEmitter(m, w, target, *names[m.name])
            emitter.sub_states = {p.name: names[p.name][1] for p in _parts(top)}
            emitter.emit()
            w.line()
    w.line()
    w.line("METHODS = {" + ", ".join(f'"{m.name}": {names[m.name][0]}' for m in module.methods) + "}")
    return "\n".join(w.lines).rstrip() + "\n"

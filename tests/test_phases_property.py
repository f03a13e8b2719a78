"""Property: a phased step means its lines in order, every leaf in lockstep.

Random steps mix per-leaf tensors, per-leaf scalars, `total`s and `global_norm`s, a
shared state, rebinding of names (`x`, `m`, `d`, a per-leaf `var w` and a model-wide
`var a`), `prev`, `if`s whose condition is the same on every leaf (with `else`) and
`every 2:`, `if`s whose
condition differs per leaf (per-leaf work only, as the checker requires) and `for`
loops (programs the checker rejects are skipped). Each runs through the whole pipeline (checker, split_phases with the verifier
after every pass, numpy) and is compared with a direct evaluation of the same lines
over all leaves at once. `PHASES_EXAMPLES=600` runs more cases.
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import iterc

SHAPES = [(3, 4), (5,), (), (2, 3, 2, 2)]
PER_LEAF = ("x", "m", "w")        # the per-leaf names that outlive a block
MODEL = ("d", "a")                # the model-wide ones


def sig(v):
    return 1 / (1 + np.exp(-v))


class Program:
    """Lines of a step and how to evaluate them: in `env`, a per-leaf value is a dict
    leaf -> array, a model-wide one a float."""

    def __init__(self):
        self.lines: list[str] = []
        self.evals: list = []
        self.tensors = ["x", "g", "m", "w"]
        self.leaf_scalars: list[str] = []
        self.models = ["d", "lr", "a"]
        self.count = 0

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}{self.count}"

    def scope(self):
        return list(self.tensors), list(self.leaf_scalars), list(self.models)

    def restore(self, saved):
        self.tensors, self.leaf_scalars, self.models = (list(x) for x in saved)


def tensor_expr(draw, p: Program):
    a = draw(st.sampled_from(p.tensors))
    kind = draw(st.integers(0, 4))
    if kind == 0:
        return a, lambda env, k: env[a][k]
    b = draw(st.sampled_from(p.tensors))
    if kind == 1:
        return f"{a} - 0.5 * {b}", lambda env, k: env[a][k] - 0.5 * env[b][k]
    s = draw(st.sampled_from(p.models))
    if kind == 2:
        return f"{a} / (1 + abs({s}))", lambda env, k: env[a][k] / (1 + abs(env[s]))
    if kind == 3 and p.leaf_scalars:
        q = draw(st.sampled_from(p.leaf_scalars))
        return f"{a} * sigmoid({q})", lambda env, k: env[a][k] * sig(env[q][k])
    if kind == 4 and draw(st.booleans()):
        slot = draw(st.sampled_from(["x", "m"]))
        return f"{a} - prev({slot})", lambda env, k: env[a][k] - env[f"prev_{slot}"][k]
    return f"0.5 * {a} + {b}", lambda env, k: 0.5 * env[a][k] + env[b][k]


def model_expr(draw, p: Program):
    kind = draw(st.integers(0, 3))
    s = draw(st.sampled_from(p.models))
    if kind == 0:
        a = draw(st.sampled_from(p.tensors))
        return f"total(sum({a} * {a})) / total(1)", \
            lambda env: sum(np.sum(env[a][k] ** 2) for k in env["x"]) / len(env["x"])
    if kind == 1 and p.leaf_scalars:
        q = draw(st.sampled_from(p.leaf_scalars))
        return f"sigmoid(total({q}) + {s})", lambda env: sig(sum(env[q][k] for k in env["x"]) + env[s])
    if kind == 2:
        return f"0.5 * {s} + 0.25", lambda env: 0.5 * env[s] + 0.25
    a = draw(st.sampled_from(p.tensors))
    return f"sigmoid(global_norm({a}))", lambda env: sig(np.sqrt(sum(np.sum(env[a][k] ** 2) for k in env["x"])))


def statement(draw, p: Program, indent: str, per_leaf_only: bool):
    """One line. Under a per-leaf condition only per-leaf work is allowed (E0221/E0220)."""
    kinds = [0, 1, 3, 4, 6] if per_leaf_only else [0, 1, 2, 3, 4, 5, 6, 7]
    kind = draw(st.sampled_from(kinds))
    if kind == 0:
        name = p.fresh("u")
        text, f = tensor_expr(draw, p)
        p.lines.append(f"{indent}let {name} = {text}")
        p.evals.append(lambda env, n=name, f=f: env.__setitem__(n, {k: f(env, k) for k in env["x"]}))
        p.tensors.append(name)
    elif kind == 1:
        name = p.fresh("q")
        text, f = tensor_expr(draw, p)
        p.lines.append(f"{indent}let {name} = sigmoid(sum({text}))")
        p.evals.append(lambda env, n=name, f=f: env.__setitem__(n, {k: sig(np.sum(f(env, k))) for k in env["x"]}))
        p.leaf_scalars.append(name)
    elif kind == 2:
        name = p.fresh("s")
        text, f = model_expr(draw, p)
        p.lines.append(f"{indent}let {name} = {text}")
        p.evals.append(lambda env, n=name, f=f: env.__setitem__(n, f(env)))
        p.models.append(name)
    elif kind in (3, 4, 6):
        target = {3: "m", 4: "x", 6: "w"}[kind]
        text, f = tensor_expr(draw, p)
        p.lines.append(f"{indent}{target} <- {text}")
        p.evals.append(lambda env, n=target, f=f: env.__setitem__(n, {k: f(env, k) for k in env["x"]}))
    else:
        target = "d" if kind == 5 else "a"
        text, f = model_expr(draw, p)
        p.lines.append(f"{indent}{target} <- {text}")
        p.evals.append(lambda env, n=target, f=f: env.__setitem__(n, f(env)))


def block(draw, p: Program, indent: str, per_leaf_only: bool, depth: int):
    """Statements into p (returns their evals, removed from p.evals)."""
    start = len(p.evals)
    for _ in range(draw(st.integers(1, 3 if depth else 7))):
        form = draw(st.integers(0, 7)) if depth < 2 else 7
        saved = p.scope()
        if form == 3 and not per_leaf_only:               # `every 2:`, on the step counter
            p.lines.append(f"{indent}every 2:")
            inner = block(draw, p, indent + "    ", False, depth + 1)
            p.restore(saved)

            def run(env, inner=inner):
                if (env["t"] - 1) % 2 == 0:
                    local = dict(env)
                    for e in inner:
                        e(local)
                    for n in PER_LEAF + MODEL:
                        env[n] = local[n]
            p.evals.append(run)
        elif form == 0 and not per_leaf_only:             # the same condition on every leaf
            cond = draw(st.sampled_from(p.models))
            p.lines.append(f"{indent}if {cond} > 0.3:")
            then = block(draw, p, indent + "    ", False, depth + 1)
            p.restore(saved)
            orelse = []
            if draw(st.booleans()):
                p.lines.append(f"{indent}else:")
                orelse = block(draw, p, indent + "    ", False, depth + 1)
                p.restore(saved)

            def run(env, then=then, orelse=orelse, cond=cond):
                local = dict(env)
                for e in (then if env[cond] > 0.3 else orelse):
                    e(local)
                for n in PER_LEAF + MODEL:
                    env[n] = local[n]
            p.evals.append(run)
        elif form == 1:                                   # a condition that differs per leaf
            leaf = draw(st.sampled_from(["x", "g", "m"]))
            p.lines.append(f"{indent}if sum({leaf}) > 0:")
            inner = block(draw, p, indent + "    ", True, depth + 1)
            p.restore(saved)

            def run(env, inner=inner, leaf=leaf):
                taken = {k: np.sum(env[leaf][k]) > 0 for k in env["x"]}
                local = dict(env)
                for e in inner:
                    e(local)
                for n in PER_LEAF:
                    env[n] = {k: (local[n][k] if taken[k] else env[n][k]) for k in env["x"]}
            p.evals.append(run)
        elif form == 2:                                   # a loop (the checker may reject it: E0220/E0221)
            p.lines.append(f"{indent}for i{depth} in 1..2:")
            inner = block(draw, p, indent + "    ", per_leaf_only, depth + 1)
            p.restore(saved)

            def run(env, inner=inner):
                for _ in range(2):
                    local = dict(env)
                    for e in inner:
                        e(local)
                    for n in PER_LEAF + MODEL:
                        env[n] = local[n]
            p.evals.append(run)
        else:
            statement(draw, p, indent, per_leaf_only)
    out = p.evals[start:]
    del p.evals[start:]
    return out


@st.composite
def programs(draw):
    p = Program()
    p.evals = block(draw, p, "        ", False, 0)
    return p


def source(p: Program) -> str:
    return "\n".join([
        "optimizer random_step:",
        "    hyper lr: real = 0.1",
        "    param x: real[...]",
        "    oracle g = grad(x)",
        "    state m: real[...] = 0.25",
        "    shared state d: real = 0.5",
        "    step:",
        "        var w = g * 0.5",
        "        var a = lr * 2",
        *p.lines,
        "        x <- x + 0 * w",                             # x, m and d are always written
        "        m <- m + 0 * a",
        "        d <- d",
        "    converges heuristic",
        "",
    ])


@settings(max_examples=int(os.environ.get("PHASES_EXAMPLES", "40")), deadline=None, report_multiple_bugs=False,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(programs(), st.integers(0, 2 ** 16))
def test_phased_steps_mean_their_lines_in_order(tmp_path_factory, program, seed):
    path = tmp_path_factory.mktemp("phases") / "random_step.iter"
    path.write_text(source(program))
    errors = {d.code for d in iterc.check_file(path).errors}
    assume(not errors)                 # a loop mixing model-wide and per-leaf work (reported, E0220/E0221)
    os.environ["ITERC_VERIFY"] = "1"
    try:
        opt = iterc.load(path).numpy()
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__}: {exc}\n{source(program)}") from None
    finally:
        os.environ.pop("ITERC_VERIFY", None)
    rng = np.random.default_rng(seed)
    params = {f"p{i}": rng.normal(size=s) for i, s in enumerate(SHAPES)}
    state = opt.init(params)
    env = {"x": dict(params), "m": {k: np.full(np.shape(v), 0.25) for k, v in params.items()}, "d": 0.5}
    x = params
    for t in range(1, 4):
        grads = {k: rng.normal(size=np.shape(v)) for k, v in params.items()}
        try:
            x, state = opt.step(x, state, grads)
        except Exception as exc:
            raise AssertionError(f"{type(exc).__name__}: {exc}\n{source(program)}") from None
        env = {"x": env["x"], "m": env["m"], "d": env["d"], "lr": 0.1, "g": grads, "t": t,
               "prev_x": env["x"], "prev_m": env["m"]}
        env["w"] = {k: grads[k] * 0.5 for k in grads}
        env["a"] = 0.2
        for e in program.evals:
            e(env)
    for k in params:
        np.testing.assert_allclose(x[k], env["x"][k], rtol=1e-9, atol=1e-12, err_msg=source(program))
        np.testing.assert_allclose(state["m"][k], env["m"][k], rtol=1e-9, atol=1e-12, err_msg=source(program))
    assert state["d"] == pytest.approx(env["d"], rel=1e-9, abs=1e-12), source(program)

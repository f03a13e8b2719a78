"""The JAX step computes the param's *update* directly (`passes.update_form`), optax's
contract, instead of a new value the runtime subtracts from the old one.

Each program below puts one kind of step on the param's chain (weight decay `x * (1 - c)`,
a scale `x * s`, `x + b` either way round, a traced `if`, an `every k`) or one the pass
must leave alone (a projection, a loop carrying the param, a broadcast scalar, a scale
after another step). For each: whether the pass applied, and the JAX run equal to the
numpy reference (which computes new values) in float64 over 30 steps. Then every stdlib
optimizer the pass applies to, in float64 against numpy, and a look at the generated code.
"""
import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import iterc  # noqa: E402
from iterc.api import _compiled_module, list_stdlib  # noqa: E402

HEAD = '''
optimizer {name}:
    hyper lr: real = 0.05 where lr > 0
    hyper wd: real = 0.1 where wd >= 0
    hyper beta: real = 0.9 where 0 < beta < 1
    param x: real[...]
    oracle g = grad(x)
    state m: real[...] = 0
    step t:
'''

PROGRAMS = {
    # name: (whether the update is computed directly, step lines)
    "decay_then_step": (True, """
        x <- x * (1 - lr * wd)
        m <- beta * m + g
        x <- x - lr * m"""),
    "scale_by_a_hyper": (True, """
        x <- x * beta
        x <- x - lr * g"""),
    "scale_on_the_left_and_add_on_the_left": (True, """
        x <- beta * x
        m <- beta * m + g
        x <- -lr * m + x"""),
    "traced_if": (True, """
        m <- beta * m + g
        x <- x * (1 - lr * wd)
        if norm(g) > 2:
            x <- x - lr * g / norm(g)
        else:
            x <- x - lr * m"""),
    "if_that_leaves_x_in_one_branch": (True, """
        m <- beta * m + g
        if norm(m) > 3:
            x <- x - lr * m"""),
    "every_k": (True, """
        m <- beta * m + g
        every 3:
            x <- x - lr * m
        x <- x - 0.1 * lr * g"""),
    "projection": (False, """
        m <- beta * m + g
        x <- clip(x - lr * m, -0.5, 0.5)"""),
    "loop_carrying_x": (False, """
        for i in 1..3:
            x <- x - lr / i * g"""),
    "broadcast_scalar": (False, """
        x <- x + lr * sum(g)"""),
    "scale_after_a_step": (False, """
        x <- x - lr * g
        x <- x * (1 - lr * wd)"""),
}


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("update_form")
    out = {}
    for name, (_, body) in PROGRAMS.items():
        path = folder / f"{name}.iter"
        path.write_text(HEAD.format(name=name) + body.strip("\n") + "\n")
        out[name] = path
    return out


def _run_both(method, params, steps, rng, hypers=None, oracles=lambda t, x: {}):
    hypers = hypers or {}
    opt, tx = method.numpy(**hypers), method.optax(**hypers)
    x_np, s_np = dict(params), None
    x_jx = {k: jnp.asarray(v) for k, v in params.items()}
    s_np, s_jx = opt.init(x_np), tx.init(x_jx)

    @jax.jit
    def step(x, state, g, extra):
        u, state = tx.update(g, state, x, **extra)
        return optax.apply_updates(x, u), state

    for t in range(1, steps + 1):
        g = {k: rng.normal(size=np.shape(v)) + 0.3 * np.asarray(v) for k, v in x_np.items()}
        extra = oracles(t, x_np)
        x_np, s_np = opt.step(x_np, s_np, g, **extra)
        x_jx, s_jx = step(x_jx, s_jx, {k: jnp.asarray(v) for k, v in g.items()}, extra)
    return x_np, {k: np.asarray(v) for k, v in x_jx.items()}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_the_update_is_computed_directly_where_the_chain_allows(programs, name):
    direct, _ = PROGRAMS[name]
    spec = _compiled_module(programs[name], "jax").__dict__[f"SPEC_{name}"]
    assert spec.update is direct
    source = iterc.load(programs[name]).source("jax")
    assert ("x_update" in source) is direct
    rng = np.random.default_rng(3)
    params = {"a": rng.normal(size=(3, 4)), "b": rng.normal(size=(5,)), "c": np.float64(rng.normal())}
    with jax.enable_x64(True):
        ref, ours = _run_both(iterc.load(programs[name]), params, 30, rng)
    for k in ref:
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-12, atol=1e-13, err_msg=k)


def test_weight_decay_becomes_a_multiply_by_minus_c():
    """`x <- x * (1 - lr * wd)` contributes `-(lr * wd) * x` (the scalar first, so that a zero
    weight decay folds): one multiply, no `- x`."""
    source = iterc.load("adamw").source("jax")
    assert "x_update = -(hp.lr * hp.weight_decay) * x" in source
    assert "return x_update, m, v, vmax" in source


# ---------------------------------------------------------------- the stdlib in float64

def _stdlib_direct():
    out = []
    for m in list_stdlib():
        if m.kind != "optimizer":
            continue
        module = _compiled_module(iterc.load(m.name).path, "jax").__dict__
        if any(getattr(v, "update", False) for k, v in module.items() if k.startswith("SPEC_")):
            out.append(m.name)            # the method's own step, or one of its rules' steps
    return out


DIRECT = _stdlib_direct()
# hypers the stdlib leaves without defaults, and oracles beyond the gradient
REQUIRED = {"lr": 1e-2, "decay_steps": 100, "max_norm": 3.0}


def test_most_of_the_stdlib_computes_its_update_directly():
    assert {"sgd", "adam", "adamw", "lion", "lamb", "muon", "prodigy"} <= set(DIRECT)
    assert len(DIRECT) >= 40, DIRECT


@pytest.mark.parametrize("name", DIRECT)
def test_stdlib_update_equals_numpy_in_float64(name):
    """Five steps on random trees: the update JAX computes directly gives numpy's new
    params (computed as values) to 1e-11 of their scale."""
    method = iterc.load(name)
    spec = _compiled_module(method.path, "numpy").__dict__[f"SPEC_{name}"]
    hypers = {h.name: REQUIRED[h.name] for h in spec.hypers if h.required and h.name in REQUIRED}
    rng = np.random.default_rng(11)
    shapes = [(4, 3), (5, 2), (3, 3)] if spec.param.dims is not None else [(3, 4), (5,), (), (2, 3, 2)]
    params = {f"p{i}": rng.normal(size=s) for i, s in enumerate(shapes)}

    def oracles(t, x):
        out = {}
        for o in spec.oracles:
            if o.kind == "value":
                out[o.name] = float(sum(0.5 * np.sum(np.asarray(v) ** 2) for v in x.values()))
            elif o.kind != "grad":
                out[o.name] = {k: np.cos(np.asarray(v) * t) + 1.5 for k, v in x.items()}
        return out

    with jax.enable_x64(True):
        ref, ours = _run_both(method, params, 5, rng, hypers, oracles)
    for k in ref:
        scale = float(np.max(np.abs(ref[k]), initial=1.0))
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-11, atol=1e-11 * scale, err_msg=k)


def test_the_verifier_accepts_every_stdlib_method_in_update_form():
    """SSA, scoping, region arities and placements still hold after the pass, checked
    after every pass of the JAX pipeline over the whole stdlib."""
    from iterc.api import check_file, stdlib_dir
    from iterc.backends import target_of
    from iterc.ir import lower_module, optimize_module
    from iterc.ir.verify import verify_method
    direct = 0
    for path in sorted(stdlib_dir().rglob("*.iter")):
        result = check_file(path)
        assert result.ok, path
        module = optimize_module(lower_module(result.module), verify=verify_method,
                                 keep=target_of("jax").keep, update=True)
        for m in module.methods:
            direct += getattr(m, "yields_update", False) + sum(r.method.yields_update for r in getattr(m, "rules", ()))
    assert direct >= 40

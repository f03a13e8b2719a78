"""The JAX backend's optimizers against the numpy reference, and the optax surface.

Whole stdlib: every stdlib optimizer (enumerated, so a new one is covered the day it
lands) runs 50 steps on a random float32 tree on both backends, with every oracle it
declares supplied to both, at its defaults and in the settings that switch its branches
on; then a mixed bfloat16/float32 tree. Around it: pytrees of every kind, schedules,
optax.chain and inject_hyperparams, jit without retracing, vmap, pickled state, maximize,
and the errors a user meets.
"""
import pickle
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402
import ml_dtypes  # noqa: E402

import iterc  # noqa: E402
from iterc.api import list_stdlib  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHAPES = [(3, 4), (5,), (), (2, 3, 2)]
OPTIMIZERS = sorted(m.name for m in list_stdlib() if m.kind == "optimizer")

# settings that take each stdlib method down its other branches (defaults are always run too)
VARIANTS = {
    "sgd": [dict(lr=0.02, momentum=0.9, dampening=0.1, weight_decay=0.01),
            dict(lr=0.02, momentum=0.9, nesterov=True)],
    "adam": [dict(lr=0.01, amsgrad=True, weight_decay=0.01)],
    "adamw": [dict(lr=0.01, amsgrad=True)],
    "adagrad": [dict(lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1)],
    "nadam": [dict(decoupled_weight_decay=True, weight_decay=0.01)],
    "radam": [dict(decoupled_weight_decay=True, weight_decay=0.01)],
    "rmsprop": [dict(centered=True, momentum=0.9, weight_decay=0.01)],
    "asgd": [dict(t0=10.0, lambd=0.01)],
    "lamb": [dict(lr=0.01, weight_decay=0.1, eps_root=1e-6)],
    "lars": [dict(lr=0.5, weight_decay=0.01, nesterov=True, eps=0.1)],
    "adamp": [dict(lr=0.01, weight_decay=0.1, nesterov=True, delta=5.0)],
    "sgdp": [dict(lr=0.05, momentum=0.9, weight_decay=0.1, delta=5.0),
             dict(lr=0.02, momentum=0.9, nesterov=True, delta=5.0)],
    "ef21": [dict(lr=0.05, k=3, full_init=False)],
    "riemannian_sgd": [dict(lr=0.05, weight_decay=0.01),
                       dict(lr=0.005, momentum=0.9, nesterov=True),
                       dict(lr=0.02, momentum=0.5, dampening=0.2)],
    # model-wide methods: the clip on and off, the gap clamped, the step capped, the d update's branches
    "polyak_sgd": [dict(positive_gap=True, f_min=30.0, scaling=0.5, eps=1e-3, max_lr=0.05)],
    "adamw_clipped": [dict(lr=0.01, max_norm=1e3, eps_root=1e-8, weight_decay=0.01)],
    "alr_smag": [dict(lb=-1.0, c=0.5, weight_decay=0.01, beta=0.5)],
    "alr_hb": [dict(f_min=-1.0, max_lr=0.05, beta=0.5)],
    # (decoupled weight decay is compared in float64 below: Prodigy's d, a ratio scaled by
    # 1/d0, drifts by ~1e-3 between float32 JAX and numpy's float64 shared states over 50 steps)
    "prodigy": [dict(use_bias_correction=True, safeguard_warmup=True, weight_decay=0.01, decouple=False,
                     growth_rate=1.02)],
    # schedule-free: warm-up (longer and shorter than the run), L2 / decoupled decay at y or z, t^r weights
    "schedule_free_sgd": [dict(lr=0.1, warmup_steps=20, weight_decay=0.01, r=0.5, weight_lr_power=1.0),
                          dict(lr=0.05, warmup_steps=100, momentum=0.5)],
    "schedule_free_adamw": [dict(lr=0.01, warmup_steps=10, weight_decay=0.1, r=1.0),
                            dict(lr=0.01, weight_decay=0.1, decay_at_z=True, beta1=0.0)],
    # rules: the matrix rule's branches (no Nesterov, Moonshot's lr scale, fewer Newton-Schulz steps) and the
    # delegate's hypers mapped; adafactor's constant step, no parameter scale, decay and optax's epsilon
    "muon": [dict(lr=0.02, nesterov=False, match_rms_adamw=True, ns_steps=3, adam_lr=1e-3, adam_weight_decay=0.1)],
    "adafactor": [dict(lr=0.05, relative_step=False, scale_parameter=False, weight_decay=0.1, d=2.0,
                       eps_sq=1e-30)],
    "shampoo": [dict(lr=0.01, matrix_eps=1e-3, weight_decay=0.05, update_every=3),
                dict(lr=0.01, matrix_eps=1e-3, weight_decay=0.05, weight_decouple=True)],
    "soap": [dict(lr=0.01, beta1=0.9, beta2=0.99, shampoo_beta=0.9, weight_decay=0.1, precondition_frequency=3,
                  precondition_1d=True),
             dict(precondition_frequency=2, normalize_gradient=True, correct_bias=False, eps=1e-6)],
    # powersgd: at its defaults neither [3, 4] nor [2, 6] is worth compressing (rate 2). With error feedback
    # the trajectory is chaotic on these small noisy matrices (a float32 rounding difference tilts the power
    # step between close singular directions and the error buffer feeds it back: 1e-4 apart after 50 steps),
    # so those settings are compared in float64 in test_stdlib_powersgd.py; here, without it: rank 1 from
    # step 6 with Nesterov, an epsilon and decay, and rank 2 with dampening
    "powersgd": [dict(lr=0.01, momentum=0.9, nesterov=True, min_compression_rate=0.5, start_powerSGD_iter=5,
                      orthogonalization_epsilon=1e-8, weight_decay=0.01, use_error_feedback=False),
                 dict(lr=0.02, momentum=0.5, dampening=0.1, matrix_approximation_rank=2, min_compression_rate=0,
                      use_error_feedback=False)],
    # seeded draws: the subsets at density 1 and 0 (all, none: no draw reaches the result) are
    # compared exactly; at density 0.5 per coordinate and per leaf the run is checked as DRAWN below
    "frugal": [dict(lr=0.01, density=1.0, weight_decay=0.1, update_gap=7),
               dict(lr=0.01, density=1.0, blockwise=True, update_gap=3, beta1=0.5),
               dict(lr=0.01, density=0.0, update_gap=3, free_lr_scale=0.5),
               dict(lr=0.01, density=0.0, sign_free=False, free_lr_scale=0.5),
               dict(lr=0.01, density=0.5, update_gap=5, seed=3),
               dict(lr=0.01, density=0.5, update_gap=5, blockwise=True)],
}

# Methods that draw (`hyper seed`): numpy's PCG64 and JAX's PRNG key give other numbers, so
# a setting is compared exactly only where DRAW_FREE says the draws cannot reach the result;
# otherwise the run is compared in structure (shapes, dtypes, finiteness, the live states,
# and the per-method check in DRAWN_CHECKS). A method that draws must have an entry in both
# (test_every_drawing_method_says_how_it_is_compared); its own tests compare the JAX run
# with a reference given JAX's draws (e.g. tests/test_stdlib_frugal.py).
DRAW_FREE = {"frugal": lambda h: h.get("density", 0.25) in (0.0, 1.0)}


def _frugal_drawn(hypers, x, states):
    """Every leaf's subset is a 0/1 mask, whole leaves with blockwise; the moments vanish off it."""
    for k, mask in states["mask"].items():
        mask = np.asarray(mask, np.float32)
        assert set(np.unique(mask)) <= {0.0, 1.0}, k
        if hypers.get("blockwise"):
            assert np.unique(mask).size == 1, k
        for s in ("m", "v", "k"):
            assert not np.any(np.asarray(states[s][k], np.float32)[mask == 0]), (s, k)


DRAWN_CHECKS = {"frugal": _frugal_drawn}

# model-wide methods in float64 (x64 on for the test only): the same update to rounding
FLOAT64 = [("polyak_sgd", {}), ("polyak_sgd", VARIANTS["polyak_sgd"][0]), ("adamw_clipped", {}),
           ("adamw_clipped", dict(max_norm=0.5, weight_decay=0.1)), ("alr_smag", VARIANTS["alr_smag"][0]),
           ("alr_hb", VARIANTS["alr_hb"][0]), ("prodigy", {}), ("prodigy", dict(weight_decay=0.01)),
           ("prodigy", dict(weight_decay=0.01, d_coef=2.0, beta3=0.9)), ("prodigy", VARIANTS["prodigy"][0]),
           ("schedule_free_sgd", {}), ("schedule_free_sgd", VARIANTS["schedule_free_sgd"][0]),
           ("schedule_free_adamw", VARIANTS["schedule_free_adamw"][0]),
           ("schedule_free_adamw", VARIANTS["schedule_free_adamw"][1])]


# a method whose param has a rank (`param X: real[n, p]`) takes only leaves of that rank:
# it gets a tree of such leaves instead (matrices with orthonormal columns, so that
# riemannian_sgd starts on its manifold); every other method gets SHAPES
RANKED_SHAPES = {2: [(4, 3), (5, 2), (3, 3)]}


# soap's first eigenbasis is eigh of one gradient's G G^T and G^T G (of g g^T for a vector,
# with precondition_1d), rank-deficient matrices: where a null space has dimension >= 2 any
# orthonormal basis of it is an answer, numpy's LAPACK and JAX pick different ones, and the
# method's path depends on the pick (pytorch_optimizer's torch.linalg.eigh picks a third).
# A null space of dimension <= 1 is one vector up to sign, to which the step is invariant;
# so soap gets leaves whose views have |m - n| <= 1: [3, 4], [2] (g g^T: 2x2, rank 1) and the
# 3-d [2, 3, 1], a [2, 3] matrix to the rule.
METHOD_SHAPES = {"soap": [(3, 4), (2,), (), (2, 3, 1)]}


def _spec(name):
    return iterc.api._compiled_module(iterc.load(name).path, "numpy").__dict__[f"SPEC_{name}"]


def _draws(name):
    return "seed" in {h.name for h in _spec(name).hypers}


def _compared_exactly(name, hypers):
    return not _draws(name) or DRAW_FREE[name](hypers)


def _check_drawn(name, hypers, ours, ref, our_states, ref_states):
    """A run whose draws differ between backends: the same structure, finite, and the method's own check."""
    assert set(our_states) == set(ref_states)
    for k in ref:
        assert ours[k].dtype == ref[k].dtype and ours[k].shape == np.shape(ref[k]), k
        assert np.all(np.isfinite(ours[k].astype(np.float32))), k
    for state, value in ref_states.items():             # (an int state: JAX's widest int is int32 without x64)
        layout = lambda tree: jax.tree.map(lambda a: (np.shape(a), np.asarray(a).dtype.kind), tree)  # noqa: E731
        assert layout(our_states[state]) == layout(value), state
    DRAWN_CHECKS[name](hypers, ours, our_states)


def _shapes(name):
    if name in METHOD_SHAPES:
        return METHOD_SHAPES[name]
    dims = iterc.api._compiled_module(iterc.load(name).path, "numpy").__dict__[f"SPEC_{name}"].param.dims
    return SHAPES if dims is None else RANKED_SHAPES[len(dims)]


def _tree(rng, dtypes=(np.float32,), shapes=SHAPES, orthonormal=False):
    def leaf(s):
        v = rng.normal(size=s)
        return np.linalg.qr(v)[0] if orthonormal else v
    return {f"p{i}": leaf(s).astype(dtypes[i % len(dtypes)]) for i, s in enumerate(shapes)}


def _oracles(spec, t, x, g):
    """Values for every oracle but the gradient: deterministic functions of the step and x."""
    out = {}
    for o in spec.oracles:
        if o.kind == "value":
            out[o.name] = float(sum(0.5 * np.sum(np.asarray(v, np.float64) ** 2) for v in x.values()))
        elif o.kind == "hess_diag":
            out[o.name] = {k: np.full(np.shape(v), 1.0 + 0.1 * t, np.float32) for k, v in x.items()}
        elif o.kind != "grad":
            out[o.name] = {k: np.cos(np.asarray(v, np.float32) * t) for k, v in x.items()}
    return out


# values for hypers that have no default (optax gives some learning rates none)
REQUIRED = {"lr": 1e-3, "decay_steps": 100, "max_norm": 3.0}


def _with_required(method, hypers):
    spec = iterc.api._compiled_module(method.path, "numpy").__dict__[f"SPEC_{method.name}"]
    return {**{h.name: REQUIRED[h.name] for h in spec.hypers if h.required and h.name not in hypers}, **hypers}


def run_numpy(method, hypers, params, noises):
    opt = method.numpy(**_with_required(method, hypers))
    state, x = opt.init(params), params
    for t, noise in enumerate(noises, start=1):
        g = {k: (noise[k] + np.asarray(x[k], np.float32)).astype(np.asarray(x[k]).dtype) for k in noise}
        x, state = opt.step(x, state, g, **_oracles(opt.spec, t, x, g))
    return x, {k: v for k, v in state.items() if k != "t"}


def run_jax(method, hypers, params, noises):
    tx = method.optax(**_with_required(method, hypers))
    spec = iterc.api._compiled_module(method.path, "jax").__dict__[f"SPEC_{method.name}"]
    x = {k: jnp.asarray(v) for k, v in params.items()}
    state = tx.init(x)

    @jax.jit
    def step(x, state, g, extra):
        updates, state = tx.update(g, state, x, **extra)
        return optax.apply_updates(x, updates), state

    for t, noise in enumerate(noises, start=1):
        g = {k: (noise[k] + x[k].astype(np.float32)).astype(x[k].dtype) for k in noise}
        x, state = step(x, state, g, _oracles(spec, t, {k: np.asarray(v) for k, v in x.items()}, g))
    assert int(state.count) == len(noises)
    # (a method that draws keeps its PRNG key after the states: numpy's generator is not in its state)
    states = {k: jax.tree.map(np.asarray, getattr(state, k)) for k in state._fields[1:]
              if getattr(state, k) is not None and k != "key"}
    return {k: np.asarray(v) for k, v in x.items()}, states


def _cases():
    for name in OPTIMIZERS:
        yield pytest.param(name, {}, id=f"{name}-defaults")
        for i, hypers in enumerate(VARIANTS.get(name, ())):
            yield pytest.param(name, hypers, id=f"{name}-variant{i}")


@pytest.mark.parametrize("name,hypers", list(_cases()))
def test_stdlib_optimizer_matches_numpy_float32(name, hypers):
    rng = np.random.default_rng(len(name) + len(hypers))
    shapes = _shapes(name)
    params = _tree(rng, shapes=shapes, orthonormal=shapes in RANKED_SHAPES.values())
    noises = [_tree(rng, shapes=shapes) for _ in range(50)]
    method = iterc.load(name)
    (ours, our_states), (ref, ref_states) = run_jax(method, hypers, params, noises), \
        run_numpy(method, hypers, params, noises)
    if not _compared_exactly(name, hypers):
        return _check_drawn(name, hypers, ours, ref, our_states, ref_states)
    for k in ref:
        assert ours[k].dtype == np.float32
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-5, atol=1e-6, err_msg=k)
    assert set(our_states) == set(ref_states)           # the same states are live
    for name in ref_states:                             # running sums cancel: 1e-5 of the state's scale
        if not isinstance(ref_states[name], dict):      # a shared state: one scalar for the model
            np.testing.assert_allclose(our_states[name], ref_states[name], rtol=1e-5, atol=1e-6, err_msg=name)
            continue
        for k in ref:
            theirs, mine = ref_states[name][k], our_states[name][k]
            if isinstance(theirs, dict):                # a method with rules: one record per leaf
                assert set(mine) == set(theirs), (k, sorted(mine), sorted(theirs))
                pairs = [(f"{name}[{k}][{f}]", mine[f], theirs[f]) for f in theirs]
            else:
                pairs = [(f"{name}[{k}]", mine, theirs)]
            for label, a, b in pairs:
                scale = float(np.max(np.abs(b), initial=1e-6))
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * scale, err_msg=label)


@pytest.mark.parametrize("name,hypers", FLOAT64, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FLOAT64)])
def test_modelwide_optimizer_matches_numpy_float64(name, hypers):
    """Totals, global norms and shared states in float64 on both sides: equal to 1e-9."""
    rng = np.random.default_rng(7)
    params = _tree(rng, (np.float64,))
    noises = [_tree(rng, (np.float64,)) for _ in range(50)]
    method = iterc.load(name)
    with jax.enable_x64(True):
        (ours, our_states), (ref, ref_states) = run_jax(method, hypers, params, noises), \
            run_numpy(method, hypers, params, noises)
    for k in ref:                 # JAX computes the update (x * -c - q) where numpy computes x * (1 - c) - q:
        assert ours[k].dtype == np.float64          # a rounding apart per step, which prodigy's d amplifies
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-9, atol=1e-12, err_msg=k)
    assert set(our_states) == set(ref_states)
    for state, value in ref_states.items():
        if isinstance(value, dict):
            for k in ref:
                np.testing.assert_allclose(our_states[state][k], value[k], rtol=1e-9, atol=1e-12, err_msg=state)
        else:
            np.testing.assert_allclose(our_states[state], value, rtol=1e-9, atol=1e-12, err_msg=state)


# every optimizer at its defaults; a method that draws also where its draws cannot reach the result
BF16_CASES = [pytest.param(name, {}, id=name) for name in OPTIMIZERS] + [
    pytest.param("frugal", dict(density=1.0), id="frugal-density1"),
    pytest.param("frugal", dict(density=0.0), id="frugal-density0")]


@pytest.mark.parametrize("name,hypers", BF16_CASES)
def test_stdlib_optimizer_matches_numpy_bfloat16(name, hypers):
    """bf16 leaves beside f32 ones: computed in f32, stored back in bf16, as numpy does."""
    rng = np.random.default_rng(len(name))
    shapes = _shapes(name)
    params = _tree(rng, (ml_dtypes.bfloat16, np.float32), shapes=shapes, orthonormal=shapes in RANKED_SHAPES.values())
    noises = [_tree(rng, shapes=shapes) for _ in range(10)]
    method = iterc.load(name)
    (ours, our_states), (ref, ref_states) = run_jax(method, hypers, params, noises), \
        run_numpy(method, hypers, params, noises)
    for state in ref_states:                            # states keep their storage dtype
        if not isinstance(ref_states[state], dict):     # a shared `real` state: the default float
            assert np.shape(our_states[state]) == () and np.shape(ref_states[state]) == ()
            continue
        # (an int state is the widest int: int64 on numpy, int32 on JAX without x64)
        dtype = lambda v: "int" if np.asarray(v).dtype.kind == "i" else np.asarray(v).dtype  # noqa: E731
        dtypes = lambda tree: [(jax.tree_util.keystr(p), dtype(v))                     # noqa: E731
                               for p, v in jax.tree_util.tree_flatten_with_path(tree)[0]]
        assert dtypes(our_states[state]) == dtypes(ref_states[state])    # records of a method with rules too
    if not _compared_exactly(name, hypers):
        return _check_drawn(name, hypers, ours, ref, our_states, ref_states)
    # A model-wide step (a global norm, a loss-driven step size) is one value for every leaf,
    # computed from the bf16-rounded leaves: numpy's float64 totals and JAX's float32 ones
    # round a bf16 leaf one ulp apart now and then, and that moves every leaf's step. So
    # those methods get a few bf16 ulps everywhere (they are compared exactly in float64 above).
    coupled = iterc.api._compiled_module(method.path, "numpy").__dict__[f"SPEC_{method.name}"].phased
    for k in ref:
        assert ours[k].dtype == ref[k].dtype, k
        tol = 2 ** -5 if coupled else 2 ** -7 if ref[k].dtype == ml_dtypes.bfloat16 else 1e-5  # bf16: 8 bits
        np.testing.assert_allclose(ours[k].astype(np.float32), ref[k].astype(np.float32), rtol=tol, atol=tol,
                                   err_msg=k)


def test_every_stdlib_optimizer_is_compared():
    assert OPTIMIZERS and set(OPTIMIZERS) == {m.name for m in list_stdlib() if m.kind == "optimizer"}
    assert set(VARIANTS) <= set(OPTIMIZERS)


def test_every_drawing_method_says_how_it_is_compared():
    """A method that draws needs the settings compared exactly and a check of its drawn runs,
    and VARIANTS must compare some of its settings exactly."""
    drawing = {name for name in OPTIMIZERS if _draws(name)}
    assert drawing == set(DRAW_FREE) == set(DRAWN_CHECKS)
    for name in drawing:
        assert any(DRAW_FREE[name](h) for h in VARIANTS.get(name, ())), name


# ---------------------------------------------------------------- the eval view

EVAL_CASES = [("schedule_free_sgd", {}), ("schedule_free_sgd", VARIANTS["schedule_free_sgd"][0]),
              ("schedule_free_adamw", VARIANTS["schedule_free_adamw"][0]),
              ("schedule_free_adamw", VARIANTS["schedule_free_adamw"][1])]


@pytest.mark.parametrize("name,hypers", EVAL_CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(EVAL_CASES)])
def test_eval_params_match_numpy(name, hypers):
    """`tx.eval_params(params, state)` and the module's `NAME_eval_params` (jitted) against
    numpy's `opt.eval_params`, float64, after 50 steps; the train params differ from them."""
    rng = np.random.default_rng(11)
    params = _tree(rng, (np.float64,))
    noises = [_tree(rng, (np.float64,)) for _ in range(50)]
    method = iterc.load(name)
    opt = method.numpy(**hypers)
    nstate, nx = opt.init(params), params
    for noise in noises:
        nx, nstate = opt.step(nx, nstate, {k: noise[k] + nx[k] for k in noise})
    want = opt.eval_params(nx, nstate)
    module = iterc.api._compiled_module(method.path, "jax")
    with jax.enable_x64(True):
        tx = method.optax(**hypers)
        x = {k: jnp.asarray(v) for k, v in params.items()}
        state = tx.init(x)
        for noise in noises:
            updates, state = tx.update(jax.tree.map(jnp.add, noise, x), state, x)
            x = optax.apply_updates(x, updates)
        got = tx.eval_params(x, state)
        got_fn = jax.jit(lambda p, s: getattr(module, f"{name}_eval_params")(p, s, **hypers))(x, state)
    for k in want:
        np.testing.assert_allclose(np.asarray(x[k]), nx[k], rtol=1e-10, atol=1e-12, err_msg=k)
        np.testing.assert_allclose(np.asarray(got[k]), want[k], rtol=1e-10, atol=1e-12, err_msg=k)
        np.testing.assert_allclose(np.asarray(got_fn[k]), want[k], rtol=1e-10, atol=1e-12, err_msg=k)
    assert max(float(np.max(np.abs(want[k] - nx[k]))) for k in want) > 1e-3


def test_eval_params_keep_the_leaf_dtype_and_unwrap_inject_hyperparams():
    rng = np.random.default_rng(2)
    params = {k: jnp.asarray(v) for k, v in _tree(rng).items()}
    tx = optax.inject_hyperparams(iterc.load("schedule_free_adamw").optax)(learning_rate=0.01)
    state = tx.init(params)
    for _ in range(3):
        updates, state = tx.update(jax.tree.map(lambda p: p + 1.0, params), state, params)
        params = optax.apply_updates(params, updates)
    module = iterc.api._compiled_module(iterc.load("schedule_free_adamw").path, "jax")
    ev = module.schedule_free_adamw_eval_params(params, state)
    np.testing.assert_allclose(np.asarray(ev["p0"]), np.asarray(state.inner_state.x["p0"]), rtol=1e-6)
    assert {k: v.dtype for k, v in ev.items()} == {k: v.dtype for k, v in params.items()}


def test_a_method_without_an_eval_view_evaluates_at_its_params():
    tx = iterc.load("adam").optax(lr=0.1)
    params = {"a": jnp.ones(3)}
    state = tx.init(params)
    assert tx.eval_params(params, state) is params
    assert isinstance(tx, optax.GradientTransformationExtraArgs)

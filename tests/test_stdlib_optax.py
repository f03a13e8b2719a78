"""stdlib/optim methods whose reference is optax (and pytorch_optimizer for Lion).

Each case runs 100 steps on the shared harness trees (mixed shapes, a 0-d leaf, gradient
noise + x) on both sides and compares in float64 to rtol 1e-6. The optax side is jitted
once per case (a `lax.scan` over the noise), which keeps the file fast; it is the same
trajectory as `reference.run_optax`. Every method also gets a defaults test and a smoke
test on least squares.
"""
import inspect
import warnings

import numpy as np
import pytest

import iterc
from reference import STEPS, assert_trees_close, problem, regression_loss_after, run_iterc, run_torch

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402


def run_optax_scan(tx, params: dict, noises: list) -> dict:
    """`reference.run_optax`, compiled: one jit of the whole 100-step loop per case."""
    x0 = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
    stacked = {k: jnp.asarray(np.stack([n[k] for n in noises])) for k in params}

    @jax.jit
    def run(x, noise_seq):
        def body(carry, noise):
            x, state = carry
            g = {k: noise[k] + x[k] for k in noise}
            updates, state = tx.update(g, state, x)
            return (optax.apply_updates(x, updates), state), None

        (x, _), _ = jax.lax.scan(body, (x, tx.init(x)), noise_seq)
        return x

    return {k: np.asarray(v) for k, v in run(x0, stacked).items()}


def _ids(case):
    hypers = case[0]
    return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in hypers.items()) or "defaults"


def _check(name, hypers, tx, seed):
    params, noises = problem(seed)
    assert_trees_close(run_iterc(name, hypers, params, noises), run_optax_scan(tx, params, noises), rtol=1e-6)


def _deprecated(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return fn(*args, **kwargs)


# ---------------------------------------------------------------- the optax cases
# (our hypers, the optax transformation): the default config of each method (only the
# required learning rate given), every option that changes the math, and one case that
# moves every real knob off its default so each name is proven to reach the right place.

CASES = {
    "adabelief": [
        (dict(lr=1e-2), optax.adabelief(1e-2)),
        (dict(lr=1e-2, nesterov=True), optax.adabelief(1e-2, nesterov=True)),
        (dict(lr=3e-2, beta1=0.8, beta2=0.99, eps=1e-2, eps_root=0.0),
         optax.adabelief(3e-2, b1=0.8, b2=0.99, eps=1e-2, eps_root=0.0)),
        (dict(lr=3e-2, beta1=0.8, beta2=0.99, eps=1e-3, eps_root=1e-2, nesterov=True),
         optax.adabelief(3e-2, b1=0.8, b2=0.99, eps=1e-3, eps_root=1e-2, nesterov=True)),
    ],
    "adan": [
        (dict(lr=1e-2), optax.adan(1e-2)),
        (dict(lr=1e-2, weight_decay=0.05), optax.adan(1e-2, weight_decay=0.05)),
        (dict(lr=3e-2, beta1=0.9, beta2=0.8, beta3=0.999, eps=1e-2, eps_root=0.0, weight_decay=0.01),
         optax.adan(3e-2, b1=0.9, b2=0.8, b3=0.999, eps=1e-2, eps_root=0.0, weight_decay=0.01)),
        (dict(lr=3e-2, eps=0.0, eps_root=0.1), optax.adan(3e-2, eps=0.0, eps_root=0.1)),
    ],
    "yogi": [
        (dict(lr=1e-2), optax.yogi(1e-2)),
        (dict(lr=3e-2, beta1=0.8, beta2=0.99, eps=1e-2), optax.yogi(3e-2, b1=0.8, b2=0.99, eps=1e-2)),
        # optax.yogi fixes the accumulators' start at 1e-6; scale_by_yogi exposes it
        (dict(lr=1e-2, initial_accumulator=0.1),
         optax.chain(optax.scale_by_yogi(initial_accumulator_value=0.1), optax.scale_by_learning_rate(1e-2))),
    ],
    "novograd": [
        (dict(lr=1e-2), optax.novograd(1e-2)),
        (dict(lr=1e-2, weight_decay=0.1), optax.novograd(1e-2, weight_decay=0.1)),
        (dict(lr=3e-2, beta1=0.8, beta2=0.5, eps=0.5, weight_decay=0.01),
         optax.novograd(3e-2, b1=0.8, b2=0.5, eps=0.5, weight_decay=0.01)),
        (dict(lr=3e-2, eps=0.0, eps_root=2.0), optax.novograd(3e-2, eps=0.0, eps_root=2.0)),
    ],
    "fromage": [
        (dict(lr=1e-2), optax.fromage(1e-2)),
        (dict(lr=0.2), optax.fromage(0.2)),
        # leaf norms are about 1 to 5: min_norm = 3 clips some of them, every step
        (dict(lr=0.1, min_norm=3.0), optax.fromage(0.1, min_norm=3.0)),
        (dict(lr=0.1, min_norm=0.0), optax.fromage(0.1, min_norm=0.0)),
    ],
    "sign_sgd": [
        (dict(lr=1e-2), optax.sign_sgd(1e-2)),
    ],
    "signum": [
        (dict(lr=1e-2), optax.signum(1e-2)),
        (dict(lr=1e-2, beta=0.5), optax.signum(1e-2, beta=0.5)),
    ],
    "optimistic_gd": [
        (dict(lr=1e-2), optax.optimistic_gradient_descent(1e-2)),
        (dict(lr=1e-2, alpha=0.5, beta=2.0), optax.optimistic_gradient_descent(1e-2, alpha=0.5, beta=2.0)),
        (dict(lr=1e-2, beta=0.0), optax.optimistic_gradient_descent(1e-2, beta=0.0)),
    ],
    "optimistic_adam": [
        (dict(lr=1e-2), _deprecated(optax.optimistic_adam, 1e-2)),
        (dict(lr=1e-2, nesterov=False), _deprecated(optax.optimistic_adam, 1e-2, nesterov=False)),
        (dict(lr=1e-2, optimism=0.5, beta1=0.8, beta2=0.99, eps=1e-2),
         _deprecated(optax.optimistic_adam, 1e-2, optimism=0.5, b1=0.8, b2=0.99, eps=1e-2)),
        (dict(lr=1e-2, eps=0.0, eps_root=0.1), _deprecated(optax.optimistic_adam, 1e-2, eps=0.0, eps_root=0.1)),
        # optimistic_adam_v2(learning_rate, alpha, beta) is lr = learning_rate * alpha,
        # optimism = learning_rate * beta
        (dict(lr=0.5 * 0.02, optimism=0.5 * 3.0, nesterov=False),
         optax.optimistic_adam_v2(0.5, alpha=0.02, beta=3.0, nesterov=False)),
        (dict(lr=0.25 * 0.5, optimism=0.25 * 0.75), optax.optimistic_adam_v2(0.25, alpha=0.5, beta=0.75)),
    ],
    "lion": [
        (dict(lr=1e-2), optax.lion(1e-2)),
        (dict(lr=1e-2, weight_decay=0.0), optax.lion(1e-2, weight_decay=0.0)),
        (dict(lr=3e-2, beta1=0.8, beta2=0.95, weight_decay=0.5),
         optax.lion(3e-2, b1=0.8, b2=0.95, weight_decay=0.5)),
    ],
}

ALL = [(name, hypers, tx) for name, cases in CASES.items() for hypers, tx in cases]


@pytest.mark.parametrize("name,hypers,tx", ALL, ids=[f"{n}-{_ids((h,))}" for n, h, _ in ALL])
def test_matches_optax(name, hypers, tx):
    _check(name, hypers, tx, seed=len(name) + 7 * len(hypers))


def test_fromage_zero_leaf():
    """A leaf whose parameter and gradient are zero: optax's trust ratio falls back to 1
    (with min_norm = 0) or clips both norms; either way the leaf stays put, with no NaN."""
    params, noises = problem(5, steps=20)
    params["p2"] = np.zeros(())
    for noise in noises:
        noise["p2"] = np.zeros(())
    for min_norm in (0.0, 1e-6):
        ours = run_iterc("fromage", dict(lr=0.1, min_norm=min_norm), params, noises)
        theirs = run_optax_scan(optax.fromage(0.1, min_norm=min_norm), params, noises)
        assert_trees_close(ours, theirs)
        assert ours["p2"] == 0.0


# ---------------------------------------------------------------- Lion against pytorch_optimizer

def _torch_lion(**kwargs):
    from pytorch_optimizer import Lion
    return lambda ps: Lion(ps, **kwargs)


LION_TORCH = [
    (dict(lr=1e-4, weight_decay=0.0), dict()),  # pytorch_optimizer's defaults
    (dict(lr=1e-2, weight_decay=0.1), dict(lr=1e-2, weight_decay=0.1)),
    (dict(lr=1e-2, weight_decay=0.1), dict(lr=1e-2, weight_decay=0.1, foreach=True)),
    (dict(lr=1e-2, weight_decay=0.1, weight_decouple=False),
     dict(lr=1e-2, weight_decay=0.1, weight_decouple=False)),
    (dict(lr=1e-2, weight_decay=0.05, fixed_decay=True),
     dict(lr=1e-2, weight_decay=0.05, fixed_decay=True)),
    (dict(lr=3e-2, beta1=0.8, beta2=0.95, weight_decay=0.2, weight_decouple=False),
     dict(lr=3e-2, betas=(0.8, 0.95), weight_decay=0.2, weight_decouple=False)),
]


@pytest.mark.parametrize("hypers,torch_kwargs", LION_TORCH, ids=[_ids((t,)) for _, t in LION_TORCH])
def test_lion_matches_pytorch_optimizer(hypers, torch_kwargs):
    pytest.importorskip("pytorch_optimizer")
    params, noises = problem(31 + len(torch_kwargs))
    ours = run_iterc("lion", hypers, params, noises)
    theirs = run_torch(_torch_lion(**torch_kwargs), params, noises)
    assert_trees_close(ours, theirs, rtol=1e-6)


# ---------------------------------------------------------------- defaults

# our hyper -> the optax function's argument, per method (the optax function, by name)
DEFAULTS = {
    "adabelief": (optax.adabelief, {"beta1": "b1", "beta2": "b2", "eps": "eps", "eps_root": "eps_root",
                                    "nesterov": "nesterov"}),
    "adan": (optax.adan, {"beta1": "b1", "beta2": "b2", "beta3": "b3", "eps": "eps", "eps_root": "eps_root",
                          "weight_decay": "weight_decay"}),
    "yogi": (optax.yogi, {"beta1": "b1", "beta2": "b2", "eps": "eps"}),
    "novograd": (optax.novograd, {"beta1": "b1", "beta2": "b2", "eps": "eps", "eps_root": "eps_root",
                                  "weight_decay": "weight_decay"}),
    "fromage": (optax.fromage, {"min_norm": "min_norm"}),
    "sign_sgd": (optax.sign_sgd, {}),
    "signum": (optax.signum, {"beta": "beta"}),
    "optimistic_gd": (optax.optimistic_gradient_descent, {"alpha": "alpha", "beta": "beta"}),
    "optimistic_adam": (optax.optimistic_adam, {"beta1": "b1", "beta2": "b2", "eps": "eps", "eps_root": "eps_root",
                                                "nesterov": "nesterov"}),
    "lion": (optax.lion, {"beta1": "b1", "beta2": "b2", "weight_decay": "weight_decay"}),
}


def _default(fn, arg):
    value = inspect.signature(fn).parameters[arg].default
    return value.item() if hasattr(value, "item") else value


@pytest.mark.parametrize("name", sorted(DEFAULTS))
def test_defaults_match_optax(name):
    fn, mapping = DEFAULTS[name]
    # optax has no default learning rate; neither do we
    assert inspect.signature(fn).parameters["learning_rate"].default is inspect.Parameter.empty
    with pytest.raises(ValueError, match="lr"):
        iterc.load(name).numpy()
    ours = iterc.load(name).numpy(lr=0.25).hypers.as_dict()
    # every hyper but lr is one of the reference's arguments (or an extra documented below)
    extras = {"yogi": {"initial_accumulator"}, "optimistic_adam": {"optimism"},
              "lion": {"weight_decouple", "fixed_decay"}}.get(name, set())
    assert set(ours) == {"lr"} | set(mapping) | extras
    for our_key, their_key in mapping.items():
        assert ours[our_key] == _default(fn, their_key), (name, our_key)


def test_default_extras():
    # optax.optimistic_adam: optimism=None means "the learning rate"
    assert _default(optax.optimistic_adam, "optimism") is None
    assert iterc.load("optimistic_adam").numpy(lr=0.25).hypers.optimism == 0.25
    # optax.yogi starts its accumulators at scale_by_yogi's default
    assert iterc.load("yogi").numpy(lr=1.0).hypers.initial_accumulator == _default(
        optax.scale_by_yogi, "initial_accumulator_value")
    # Lion: betas and the decay options as pytorch_optimizer; its lr (1e-4) and weight
    # decay (0) defaults differ from optax's (none, 1e-3), and we follow optax
    from pytorch_optimizer import Lion
    ours = iterc.load("lion").numpy(lr=1.0).hypers.as_dict()
    assert (ours["beta1"], ours["beta2"]) == _default(Lion.__init__, "betas")
    assert ours["weight_decouple"] == _default(Lion.__init__, "weight_decouple")
    assert ours["fixed_decay"] == _default(Lion.__init__, "fixed_decay")
    assert ours["weight_decay"] == _default(optax.lion, "weight_decay") == 1e-3
    with pytest.raises(ValueError, match="fixed_decay"):
        iterc.load("lion").numpy(lr=1.0, weight_decouple=False, fixed_decay=True)


# ---------------------------------------------------------------- smoke: least squares
# regression_loss_after starts at w = 0, b = 0 with loss 6.5; the optimum has loss 0.
# (name, hypers, steps, bound on the final loss). Sign methods (sign_sgd, signum, lion)
# move every coordinate by lr each step, so with a constant lr they stall at a loss of
# order lr^2: a small lr and a loose bound. Fromage's steps are relative to |x|, which
# starts at 0 here: it must first grow x geometrically, and then stalls at a relative
# error of order lr; it gets more steps and the loosest bound.

SMOKE = [
    ("adabelief", dict(lr=0.1), 300, 1e-6),
    ("adan", dict(lr=0.1), 1000, 1e-6),
    ("yogi", dict(lr=0.1), 300, 1e-6),
    ("novograd", dict(lr=0.01), 300, 1e-3),
    ("fromage", dict(lr=0.05), 1000, 1e-2),
    ("sign_sgd", dict(lr=0.01), 300, 2e-3),
    ("signum", dict(lr=0.01), 300, 2e-3),
    ("optimistic_gd", dict(lr=0.1), 300, 1e-6),
    ("optimistic_adam", dict(lr=0.03), 300, 1e-6),
    ("lion", dict(lr=0.01, weight_decay=0.0), 1000, 1e-3),
]


@pytest.mark.parametrize("name,hypers,steps,bound", SMOKE, ids=[s[0] for s in SMOKE])
def test_smoke_least_squares(name, hypers, steps, bound):
    first, last = regression_loss_after(name, hypers, steps=steps)
    assert first > 6
    assert last < bound, (name, first, last)

"""The JAX backend against optax's own transformations: 100 steps in float64, to 1e-6.

Every stdlib method that optax also has, in the settings where the two define the same
update (optax's names, defaults and eps placement differ from torch's in places; each
case says how they are aligned). The trajectory is the shared one of tests/reference.py:
gradient = noise + x, on a tree of mixed shapes with a 0-d leaf. x64 is enabled only
inside each test (`jax.enable_x64`), so other tests keep JAX's float32 default.

Not compared, because optax defines a different rule under the same name: `nadam`
(optax's is Adam with a Nesterov look-ahead, without Dozat's momentum schedule), AMSGrad
(optax takes the running max of the bias-corrected second moment, torch of the raw one)
and `rprop` (optax remembers step_size * sign(g) rather than the gradient, and does not
clip the step size when the sign product is 0). `asgd` has no optax counterpart.
"""
import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import iterc  # noqa: E402
from reference import assert_trees_close, problem  # noqa: E402

STEPS = 100


def _run(tx, params, noises):
    x = {k: jnp.asarray(v, jnp.float64) for k, v in params.items()}
    state = tx.init(x)

    @jax.jit
    def step(x, state, noise):
        g = jax.tree.map(jnp.add, noise, x)
        updates, state = tx.update(g, state, x)
        return optax.apply_updates(x, updates), state

    for noise in noises:
        x, state = step(x, state, noise)
    return {k: np.asarray(v) for k, v in x.items()}


def _chain_wd(wd, tx):
    """L2 weight decay added to the gradient before `tx`, as torch (and the stdlib) do."""
    return optax.chain(optax.add_decayed_weights(wd), tx)


CASES = [
    # name, iterc hypers, the optax transformation
    ("sgd", dict(lr=0.05), lambda: optax.sgd(0.05)),
    ("sgd", dict(lr=0.02, momentum=0.9), lambda: optax.sgd(0.02, momentum=0.9)),
    ("sgd", dict(lr=0.02, momentum=0.9, nesterov=True), lambda: optax.sgd(0.02, momentum=0.9, nesterov=True)),
    ("sgd", dict(lr=0.02, momentum=0.5, weight_decay=0.1),
     lambda: _chain_wd(0.1, optax.sgd(0.02, momentum=0.5))),
    ("adam", dict(), lambda: optax.adam(1e-3)),
    ("adam", dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6), lambda: optax.adam(0.01, b1=0.8, b2=0.99, eps=1e-6)),
    ("adam", dict(lr=0.01, weight_decay=0.05), lambda: _chain_wd(0.05, optax.adam(0.01))),
    ("adamw", dict(), lambda: optax.adamw(1e-3, weight_decay=0.01)),
    ("adamw", dict(lr=0.01, beta1=0.85, weight_decay=0.1), lambda: optax.adamw(0.01, b1=0.85, weight_decay=0.1)),
    ("adamax", dict(lr=0.01), lambda: optax.adamax(0.01)),
    # optax's adagrad divides by sqrt(acc + eps), torch's by sqrt(acc) + eps: equal for eps = 0
    ("adagrad", dict(lr=0.05, initial_accumulator_value=0.1, eps=0.0),
     lambda: optax.adagrad(0.05, initial_accumulator_value=0.1, eps=0.0)),
    # eps outside the square root, as torch
    ("rmsprop", dict(lr=0.01, alpha=0.9), lambda: optax.rmsprop(0.01, decay=0.9, eps=1e-8, eps_in_sqrt=False)),
    ("rmsprop", dict(lr=0.01, alpha=0.95, momentum=0.9),
     lambda: optax.rmsprop(0.01, decay=0.95, eps=1e-8, eps_in_sqrt=False, momentum=0.9)),
    ("adadelta", dict(lr=0.5, rho=0.9, eps=1e-6, weight_decay=0.01),
     lambda: optax.adadelta(0.5, rho=0.9, eps=1e-6, weight_decay=0.01)),
    # torch (and the stdlib) add eps to sqrt(v) before the bias correction, optax after: equal for eps = 0
    ("radam", dict(lr=0.01, eps=0.0), lambda: optax.radam(0.01, eps=0.0)),
]


@pytest.mark.parametrize("name,hypers,make", CASES,
                         ids=[f"{n}-{','.join(f'{k}={v}' for k, v in h.items()) or 'defaults'}" for n, h, _ in CASES])
def test_matches_optax_float64(name, hypers, make):
    params, noises = problem(seed=len(name) + 7 * len(hypers), steps=STEPS)
    with jax.enable_x64(True):
        ours = _run(iterc.load(name).optax(**hypers), params, noises)
        theirs = _run(make(), params, noises)
    assert_trees_close(ours, theirs, rtol=1e-6, atol=1e-12)


def test_optax_names_are_aliases():
    """`learning_rate`, `b1`, `b2` and a positional learning rate mean `lr`, `beta1`, `beta2`."""
    params, noises = problem(seed=3, steps=10)
    with jax.enable_x64(True):
        by_alias = _run(iterc.load("adamw").optax(learning_rate=0.01, b1=0.8, b2=0.95), params, noises)
        positional = _run(iterc.load("adamw").optax(0.01, beta1=0.8, beta2=0.95), params, noises)
        by_name = _run(iterc.load("adamw").optax(lr=0.01, beta1=0.8, beta2=0.95), params, noises)
        theirs = _run(optax.adamw(0.01, b1=0.8, b2=0.95, weight_decay=0.01), params, noises)
    for ours in (by_alias, positional):
        assert_trees_close(ours, by_name, rtol=0, atol=0)
    assert_trees_close(by_name, theirs, rtol=1e-6, atol=1e-12)
    with pytest.raises(ValueError, match="given twice"):
        iterc.load("adamw").optax(lr=0.1, learning_rate=0.1)


# ---------------------------------------------------------------- model-wide methods

def _loss(x) -> jax.Array:
    """The loss whose gradient the trajectory follows (apart from the noise): 0.5 |x|^2 + 1."""
    return 1.0 + 0.5 * sum(jnp.sum(v * v) for v in jax.tree.leaves(x))


def _run_with_value(tx, params, noises):
    """As _run, with the loss passed as the `value` extra arg (optax.polyak_sgd's name for it)."""
    x = {k: jnp.asarray(v, jnp.float64) for k, v in params.items()}
    state = tx.init(x)

    @jax.jit
    def step(x, state, noise):
        g = jax.tree.map(jnp.add, noise, x)
        updates, state = tx.update(g, state, x, value=_loss(x))
        return optax.apply_updates(x, updates), state

    for noise in noises:
        x, state = step(x, state, noise)
    return {k: np.asarray(v) for k, v in x.items()}


POLYAK = [
    (dict(), dict()),
    (dict(max_lr=0.3, scaling=0.5, f_min=1.5, eps=1e-3, positive_gap=True),
     dict(max_learning_rate=0.3, scaling=0.5, f_min=1.5, eps=1e-3, variant="sps+")),
    (dict(max_lr=0.05, f_min=0.5), dict(max_learning_rate=0.05, f_min=0.5)),
]


@pytest.mark.parametrize("hypers,theirs", POLYAK, ids=[str(i) for i in range(len(POLYAK))])
def test_polyak_sgd_matches_optax_float64(hypers, theirs):
    """A step size from the loss and the squared gradient norm over every leaf (a `total`)."""
    params, noises = problem(seed=11 + len(hypers), steps=STEPS)
    with jax.enable_x64(True):
        ours = _run_with_value(iterc.load("polyak_sgd").optax(**hypers), params, noises)
        ref = _run_with_value(optax.polyak_sgd(**theirs), params, noises)
    assert_trees_close(ours, ref, rtol=1e-6, atol=1e-12)


CLIPPED = [(0.01, 1.0, 1e-4), (0.01, 0.3, 0.05), (0.003, 1e3, 1e-4)]   # the clip active, tighter, and off


@pytest.mark.parametrize("lr,max_norm,wd", CLIPPED, ids=[f"max_norm={c}" for _, c, _ in CLIPPED])
def test_adamw_clipped_matches_optax_chain_float64(lr, max_norm, wd):
    """`global_norm` clipping then AdamW, as optax.chain(clip_by_global_norm, adamw)."""
    params, noises = problem(seed=13, steps=STEPS)
    with jax.enable_x64(True):
        ours = _run(iterc.load("adamw_clipped").optax(lr=lr, max_norm=max_norm, weight_decay=wd), params, noises)
        ref = _run(optax.chain(optax.clip_by_global_norm(max_norm), optax.adamw(lr, weight_decay=wd)),
                   params, noises)
    assert_trees_close(ours, ref, rtol=1e-6, atol=1e-12)

"""Seeded draws in optimizers on JAX: the PRNG key lives in the optax state (seeded by the
method's `hyper seed`), is split once per step and folded with each leaf's index, so a
run is reproducible, every leaf and step gets its own stream, and `update` works under
jit and vmap. The noise of an SGLD step is checked to be standard normal."""
import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import iterc  # noqa: E402

SGLD = '''
optimizer sgld:
    """Stochastic gradient Langevin dynamics: a gradient step plus Gaussian noise of variance 2 lr.
    Welling & Teh, Bayesian Learning via Stochastic Gradient Langevin Dynamics, ICML 2011."""
    hyper lr: real = 0.01 where lr > 0
    hyper seed: int = 0
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - lr * g + sqrt(2 * lr) * randn_like(x)

    converges heuristic
'''

SHAPES = {"w": (200, 100), "v": (200, 100), "b": (7,), "s": ()}


@pytest.fixture(scope="module")
def sgld(tmp_path_factory):
    path = tmp_path_factory.mktemp("draws") / "sgld.iter"
    path.write_text(SGLD)
    return iterc.load(str(path))


def _params(seed=0):
    rng = np.random.default_rng(seed)
    return {k: jnp.asarray(rng.normal(size=s), jnp.float32) for k, s in SHAPES.items()}


def _run(tx, params, steps, jit=True, grads=None):
    state = tx.init(params)

    def step(x, state, g):
        updates, state = tx.update(g, state, x)
        return optax.apply_updates(x, updates), state

    step = jax.jit(step) if jit else step
    trajectory = [params]
    for _ in range(steps):
        g = grads if grads is not None else jax.tree.map(jnp.zeros_like, params)
        params, state = step(params, state, g)
        trajectory.append(params)
    return trajectory, state


def _noise(trajectory, step, lr=0.5):
    """The noise of step `step` when the gradient is zero: (x_t - x_{t-1}) / sqrt(2 lr)."""
    return {k: np.asarray(trajectory[step][k] - trajectory[step - 1][k], np.float64) / np.sqrt(2 * lr)
            for k in SHAPES}


def test_the_key_is_a_state_field_seeded_by_the_hyper(sgld):
    state = sgld.optax(seed=5).init(_params())
    assert state._fields == ("count", "key")
    np.testing.assert_array_equal(np.asarray(state.key), np.asarray(jax.random.PRNGKey(5)))


def test_noise_is_standard_normal_and_independent(sgld):
    trajectory, _ = _run(sgld.optax(lr=0.5, seed=1), _params(), steps=2)
    one, two = _noise(trajectory, 1), _noise(trajectory, 2)
    for noise in (one, two):
        for k in ("w", "v"):
            z = noise[k].ravel()
            n = z.size                                   # 20000: 5 standard errors is a loose bound
            assert abs(z.mean()) < 5 / np.sqrt(n), (k, z.mean())
            assert abs(z.var() - 1.0) < 5 * np.sqrt(2 / n), (k, z.var())
            assert abs(np.mean(z ** 3)) < 5 * np.sqrt(15 / n), k          # symmetric
            assert abs(np.mean(z ** 4) - 3.0) < 5 * np.sqrt(96 / n), k    # normal tails, not uniform's 1.8
    n = one["w"].size
    corr = lambda a, b: float(np.corrcoef(a.ravel(), b.ravel())[0, 1])  # noqa: E731
    assert abs(corr(one["w"], one["v"])) < 5 / np.sqrt(n)         # leaves of one shape: different streams
    assert abs(corr(one["w"], two["w"])) < 5 / np.sqrt(n)         # one leaf on two steps: different draws
    assert np.all(one["s"] != 0) and np.all(one["b"] != two["b"])  # small and 0-d leaves are drawn too


def test_a_run_is_reproducible_and_jit_does_not_change_it(sgld):
    params = _params()
    grads = jax.tree.map(lambda v: 0.1 * v, params)
    first, state = _run(sgld.optax(lr=0.01, seed=3), params, steps=5, grads=grads)
    again, _ = _run(sgld.optax(lr=0.01, seed=3), params, steps=5, grads=grads)
    eager, _ = _run(sgld.optax(lr=0.01, seed=3), params, steps=5, grads=grads, jit=False)
    for k in SHAPES:
        np.testing.assert_array_equal(np.asarray(first[-1][k]), np.asarray(again[-1][k]))
        np.testing.assert_allclose(np.asarray(first[-1][k]), np.asarray(eager[-1][k]), rtol=1e-6, atol=1e-6)
    assert int(state.count) == 5


def test_two_seeds_differ(sgld):
    a, _ = _run(sgld.optax(lr=0.5, seed=0), _params(), steps=1)
    b, _ = _run(sgld.optax(lr=0.5, seed=1), _params(), steps=1)
    za, zb = _noise(a, 1)["w"], _noise(b, 1)["w"]
    assert abs(float(np.corrcoef(za.ravel(), zb.ravel())[0, 1])) < 5 / np.sqrt(za.size)


def test_vmap_over_replicas_matches_each_replica(sgld):
    """A batch of 3 parameter trees (and their states) under vmap: each replica as if run alone."""
    tx = sgld.optax(lr=0.1, seed=2)
    replicas = [_params(seed) for seed in range(3)]
    batch = jax.tree.map(lambda *v: jnp.stack(v), *replicas)
    state = jax.vmap(tx.init)(batch)

    @jax.jit
    @jax.vmap
    def step(x, state, g):
        updates, state = tx.update(g, state, x)
        return optax.apply_updates(x, updates), state

    x = batch
    for _ in range(3):
        x, state = step(x, state, jax.tree.map(jnp.zeros_like, x))
    for i, params in enumerate(replicas):
        alone, _ = _run(tx, params, steps=3)
        for k in SHAPES:
            np.testing.assert_allclose(np.asarray(x[k][i]), np.asarray(alone[-1][k]), rtol=1e-6, atol=1e-6)


# a draw in a phased step (one that reads a model-wide value): the step's key is model-wide,
# and each leaf phase folds the leaf's index into it
CLIPPED_SGLD = '''
optimizer clipped_sgld:
    """SGLD with the gradient clipped to norm 1 over the whole model."""
    hyper lr: real = 0.01 where lr > 0
    hyper seed: int = 0
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - lr * g / max(global_norm(g), 1) + sqrt(2 * lr) * randn_like(x)

    converges heuristic
'''


@pytest.fixture(scope="module")
def clipped_sgld(tmp_path_factory):
    path = tmp_path_factory.mktemp("draws") / "clipped_sgld.iter"
    path.write_text(CLIPPED_SGLD)
    return iterc.load(str(path))


def test_draws_in_a_phased_step(clipped_sgld):
    trajectory, state = _run(clipped_sgld.optax(lr=0.5, seed=4), _params(), steps=2)
    assert state._fields == ("count", "key")
    one, two = _noise(trajectory, 1), _noise(trajectory, 2)
    n = one["w"].size
    for z in (one["w"], one["v"], two["w"]):
        assert abs(z.mean()) < 5 / np.sqrt(n) and abs(z.var() - 1.0) < 5 * np.sqrt(2 / n)
    assert abs(float(np.corrcoef(one["w"].ravel(), one["v"].ravel())[0, 1])) < 5 / np.sqrt(n)
    assert abs(float(np.corrcoef(one["w"].ravel(), two["w"].ravel())[0, 1])) < 5 / np.sqrt(n)
    again, _ = _run(clipped_sgld.optax(lr=0.5, seed=4), _params(), steps=2, jit=False)
    for k in SHAPES:
        np.testing.assert_allclose(np.asarray(again[-1][k]), np.asarray(trajectory[-1][k]), rtol=1e-6, atol=1e-6)
    # the clip, checked without noise-free reference: with a huge gradient, the step's
    # deterministic part has norm lr over the whole model
    params = _params()
    big = jax.tree.map(lambda v: 1e3 * jnp.ones_like(v), params)
    a, _ = _run(clipped_sgld.optax(lr=0.5, seed=9), params, steps=1, grads=big)
    b, _ = _run(clipped_sgld.optax(lr=0.5, seed=9), params, steps=1)
    drift = [np.asarray(b[1][k] - a[1][k], np.float64) for k in SHAPES]   # the same noise cancels
    np.testing.assert_allclose(np.sqrt(sum(np.sum(d * d) for d in drift)), 0.5, rtol=1e-4)


def test_numpy_draws_in_a_phased_step(clipped_sgld):
    """The numpy reference runs the same method: its generator passed to the phased step."""
    opt = clipped_sgld.numpy(lr=0.5, seed=4)
    params = {k: np.asarray(v, np.float64) for k, v in _params().items()}
    state = opt.init(params)
    x, state = opt.step(params, state, {k: np.zeros_like(v) for k, v in params.items()})
    for k in ("w", "v"):
        z = (x[k] - params[k]).ravel()
        assert abs(z.mean()) < 5 / np.sqrt(z.size) and abs(z.var() - 1.0) < 5 * np.sqrt(2 / z.size)

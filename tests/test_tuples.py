"""Builtins with several results (`let w, V = eigh(A)`, `svd`, `qr`): the IR binds one
tuple-typed value and `get(i)` each result; numpy and JAX against numpy.linalg directly."""
import numpy as np
import pytest

import iterc

SOURCE = """
optimizer decomposed:
    hyper lr: real = 0.1 where lr > 0
    param x: real[n, n]
    oracle g = grad(x)
    state a: real[n] = 0
    state Z: real[n, n] = 0
    step:
        let w, V = eigh(g @ g.T + x @ x.T)
        let U, s, Vt = svd(g)
        let Q, R = qr(x + g)
        a <- w + s
        Z <- V.T @ Q + R
        x <- x - lr * U @ Vt
"""


def _reference(x, noises, lr=0.1):
    for noise in noises:
        g = noise + x
        w, V = np.linalg.eigh(g @ g.T + x @ x.T)
        U, s, Vt = np.linalg.svd(g)
        Q, R = np.linalg.qr(x + g, mode="complete")
        a, Z = w + s, V.T @ Q + R
        x = x - lr * U @ Vt
    return x, a, Z


def test_tuple_results_on_numpy(tmp_path):
    path = tmp_path / "decomposed.iter"
    path.write_text(SOURCE)
    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(4, 4))
    noises = [rng.normal(size=(4, 4)) for _ in range(5)]
    opt = iterc.load(path).numpy()
    state, x = opt.init({"w": x0}), {"w": x0}
    for noise in noises:
        x, state = opt.step(x, state, {"w": noise + x["w"]})
    rx, ra, rZ = _reference(x0, noises)
    np.testing.assert_allclose(x["w"], rx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(state["a"]["w"], ra, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(state["Z"]["w"], rZ, rtol=1e-10, atol=1e-12)
    source = iterc.load(path).source()
    assert "w = _eigh[0]" in source and "V = _eigh[1]" in source
    ir = iterc.api.compile_ir_text(path)
    assert "get(" in ir and "index=1" in ir


def test_tuple_results_on_jax(tmp_path):
    jax = pytest.importorskip("jax")
    path = tmp_path / "decomposed.iter"
    path.write_text(SOURCE)
    rng = np.random.default_rng(1)
    x0 = rng.normal(size=(3, 3))
    noises = [rng.normal(size=(3, 3)) for _ in range(4)]
    with jax.enable_x64(True):
        import jax.numpy as jnp
        import optax
        tx = iterc.load(path).optax()
        x = {"w": jnp.asarray(x0)}
        state = tx.init(x)
        for noise in noises:
            updates, state = jax.jit(tx.update)({"w": jnp.asarray(noise) + x["w"]}, state, x)
            x = optax.apply_updates(x, updates)
        ours = np.asarray(x["w"])
    rx, _, _ = _reference(x0, noises)
    np.testing.assert_allclose(ours, rx, rtol=1e-9, atol=1e-11)

"""An optimizer's state may take a size from an `int` hyper (`state Q: real[n, rank]`), and
`eye(rank)` and `svd(A, rank)` take one too: the caller fixes the size when creating the
optimizer. Checked on numpy and JAX against hand-written references, with the errors a
user meets (a state saved under another rank, a real hyper as a size, a solver)."""
import numpy as np
import pytest

import iterc
from iterc.api import check_text

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

LOWRANK = '''
optimizer lowrank:
    """A made-up low-rank preconditioner: Q tracks the gradient's row space."""
    hyper lr: real = 0.1 where lr > 0
    hyper rank: int = 2 where rank >= 1
    param x: real[m, n]
    oracle g = grad(x)
    state Q: real[n, rank] = sqrt(2 / n) * cos(3.141592653589793 * outer(cumsum(sum(eye(n), axis=0)) - 0.5, cumsum(sum(eye(rank), axis=0)) - 0.5) / n)
    step:
        Q <- Q + 0.01 * g.T @ (g @ Q)
        x <- x - lr * g @ Q @ Q.T / (1 + norm(Q) ^ 2)
'''

TOP_R = '''
optimizer top_r_sgd:
    """SGD along the best rank-r approximation of each matrix gradient."""
    hyper lr: real = 0.5 where lr > 0
    hyper r: int = 2 where r >= 1
    param x: real[m, n]
    oracle g = grad(x)
    step:
        let U, s, Vt = svd(g, r)
        x <- x - lr * U @ diag(s) @ Vt
'''


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hyper_dims")
    out = {}
    for name, text in (("lowrank", LOWRANK), ("top_r_sgd", TOP_R)):
        out[name] = folder / f"{name}.iter"
        out[name].write_text(text)
    return out


def _reference_lowrank(params, grads, lr, rank):
    """The same method, written out in numpy."""
    x, Q = {}, {}
    for k, p in params.items():
        n = p.shape[1]
        i, j = np.arange(n)[:, None] + 0.5, np.arange(rank)[None, :] + 0.5
        Q[k] = np.sqrt(2 / n) * np.cos(np.pi * i * j / n)
        x[k] = p.copy()
    for g in grads:
        for k in x:
            Q[k] = Q[k] + 0.01 * g[k].T @ (g[k] @ Q[k])
            x[k] = x[k] - lr * g[k] @ Q[k] @ Q[k].T / (1 + np.sum(Q[k] ** 2))
    return x, Q


@pytest.mark.parametrize("rank", [1, 3, 7])
def test_a_state_sized_by_an_int_hyper_on_numpy_and_jax(files, rank):
    rng = np.random.default_rng(rank)
    params = {"a": rng.normal(size=(4, 6)), "b": rng.normal(size=(3, 2))}
    grads = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(10)]
    ref_x, ref_Q = _reference_lowrank(params, grads, 0.1, rank)
    method = iterc.load(files["lowrank"])
    opt = method.numpy(rank=rank)
    x, state = params, opt.init(params)
    assert {k: v.shape for k, v in state["Q"].items()} == {"a": (6, rank), "b": (2, rank)}
    for g in grads:
        x, state = opt.step(x, state, g)
    for k in params:
        np.testing.assert_allclose(x[k], ref_x[k], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(state["Q"][k], ref_Q[k], rtol=1e-12, atol=1e-14)
    with jax.enable_x64(True):
        tx = method.optax(rank=rank)
        xj = {k: jnp.asarray(v) for k, v in params.items()}
        sj = tx.init(xj)
        assert {k: v.shape for k, v in sj.Q.items()} == {"a": (6, rank), "b": (2, rank)}
        update = jax.jit(tx.update)
        for g in grads:
            u, sj = update({k: jnp.asarray(v) for k, v in g.items()}, sj, xj)
            xj = {k: xj[k] + u[k] for k in xj}
        for k in params:
            np.testing.assert_allclose(np.asarray(xj[k]), ref_x[k], rtol=1e-10, atol=1e-12)
            np.testing.assert_allclose(np.asarray(sj.Q[k]), ref_Q[k], rtol=1e-10, atol=1e-12)


def test_a_state_saved_under_another_rank_is_an_error_naming_both_shapes(files):
    method = iterc.load(files["lowrank"])
    params = {"a": np.ones((4, 6))}
    state = method.numpy(rank=1).init(params)
    with pytest.raises(ValueError, match=r"state `Q` has shape \(6, 1\), but with n = 6, rank = 3 it must have "
                                         r"shape \(6, 3\)"):
        method.numpy(rank=3).step(params, state, {"a": np.ones((4, 6))})
    tx1, tx3 = method.optax(rank=1), method.optax(rank=3)
    xj = {"a": jnp.ones((4, 6))}
    with pytest.raises(ValueError, match=r"state `Q` has shape \(6, 1\).*must have shape \(6, 3\)"):
        tx3.update(xj, tx1.init(xj), xj)


@pytest.mark.parametrize("r", [1, 2, 4])
def test_svd_takes_its_rank_from_an_int_hyper(files, r):
    rng = np.random.default_rng(r)
    x, g = {"a": rng.normal(size=(5, 4))}, {"a": rng.normal(size=(5, 4))}
    U, s, Vt = np.linalg.svd(g["a"])
    ref = x["a"] - 0.5 * (U[:, :r] * s[:r]) @ Vt[:r]
    method = iterc.load(files["top_r_sgd"])
    new, _ = method.numpy(r=r).step(x, method.numpy(r=r).init(x), g)
    np.testing.assert_allclose(new["a"], ref, rtol=1e-12, atol=1e-13)
    tx = method.optax(r=r)
    xj = {"a": jnp.asarray(x["a"], jnp.float32)}
    u, _ = tx.update({"a": jnp.asarray(g["a"], jnp.float32)}, tx.init(xj), xj)
    np.testing.assert_allclose(np.asarray(xj["a"] + u["a"]), ref, rtol=1e-4, atol=1e-5)


def _errors(text):
    return [(d.code, d.message, d.hint) for d in check_text(text).diagnostics if d.is_error]


def test_a_real_hyper_cannot_size_a_state():
    errors = _errors(LOWRANK.replace("state Q: real[n, rank] = sqrt", "state Q: real[n, lr] = 0 * sqrt"))
    assert errors and errors[0][0] == "E0112" and "`lr` is a hyper of type `real`" in errors[0][2]
    assert "`int` hyper" in errors[0][2]


def test_only_an_optimizers_state_takes_a_size_from_a_hyper():
    text = '''
solver s:
    hyper k: int = 3 where k >= 1
    input a: real[n]
    state v: real[k] = 0
    step:
        v <- v + 1
    until norm(v) > 10 max 100
    output v
'''
    errors = _errors(text)
    assert errors and errors[0][0] == "E0112" and "only an optimizer's states" in errors[0][2]


@pytest.mark.parametrize("rank", [1, 2])
def test_powersgd_keeps_q_as_n_by_rank(rank):
    """PowerSGD's right factor costs n * rank numbers per matrix leaf, not n * n."""
    method = iterc.load("powersgd")
    params = {"w": np.ones((5, 8)), "v": np.ones(3)}
    state = method.numpy(matrix_approximation_rank=rank).init(params)
    assert state["leaves"]["w"]["Q"].shape == (8, rank)
    tx = method.optax(matrix_approximation_rank=rank)
    sj = tx.init({k: jnp.asarray(v, jnp.float32) for k, v in params.items()})
    assert jax.tree.leaves(sj)[0] is not None
    shapes = [leaf.shape for leaf in jax.tree.leaves(sj) if getattr(leaf, "shape", None) == (8, rank)]
    assert shapes, jax.tree.map(lambda v: getattr(v, "shape", v), sj)


def test_a_solvers_svd_takes_its_rank_from_an_int_hyper(tmp_path):
    path = tmp_path / "top_k.iter"
    path.write_text('''
solver top_k:
    """The best rank-k approximation of A, by one SVD."""
    input A: real[m, n]
    hyper k: int = 2 where k >= 1
    state B: real[m, n] = 0
    step:
        let U, s, Vt = svd(A, k)
        B <- U @ diag(s) @ Vt
    until true max 1
    output B
''')
    A = np.random.default_rng(0).normal(size=(5, 4))
    U, s, Vt = np.linalg.svd(A)
    for k in (1, 3):
        ref = (U[:, :k] * s[:k]) @ Vt[:k]
        np.testing.assert_allclose(iterc.load(path).solve(A=A, k=k).B, ref, rtol=1e-12, atol=1e-13)
        with jax.enable_x64(True):
            ours = iterc.load(path).solve(A=A, k=k, backend="jax").B
        np.testing.assert_allclose(np.asarray(ours), ref, rtol=1e-10, atol=1e-12)

"""`qr` and `svd` of non-square matrices: the reduced QR and thin SVD of a tall (or square)
[m, n], the top-r SVD `svd(A, r)` of any [m, n], on numpy and JAX, against scipy.linalg on
random matrices (float64); a wide matrix where the types need a tall one is a runtime error
naming the builtin, both sizes and the fix, on both backends."""
import numpy as np
import pytest
import scipy.linalg as sl

import iterc

# A is [m, n]; `svd(A, r)` with r a literal (2) and a dimension (k, from the input K: real[k]).
SOLVER = """
solver thin:
    dims m, n, k
    input A: real[m, n]
    input K: real[k]
    state z: real = 0
    state Q: real[m, n] = 0
    state R: real[n, n] = 0
    state U: real[m, n] = 0
    state s: real[n] = 0
    state Vt: real[n, n] = 0
    state U2: real[m, 2] = 0
    state s2: real[2] = 0
    state Vt2: real[2, n] = 0
    state Uk: real[m, k] = 0
    state sk: real[k] = 0
    state Vtk: real[k, n] = 0
    step:
        z <- z + 1
        let q, r = qr(A)
        let u, sv, vt = svd(A)
        let u2, sv2, vt2 = svd(A, 2)
        let uk, svk, vtk = svd(A, k)
        Q <- q
        R <- r
        U <- u
        s <- sv
        Vt <- vt
        U2 <- u2
        s2 <- sv2
        Vt2 <- vt2
        Uk <- uk
        sk <- svk
        Vtk <- vtk
    until z >= 1 max 1
    output Q, R, U, s, Vt, U2, s2, Vt2, Uk, sk, Vtk
"""

# only the top-r: any matrix, wide ones included
TOP = """
solver top:
    dims m, n
    input A: real[m, n]
    state z: real = 0
    state U: real[m, 2] = 0
    state s: real[2] = 0
    state Vt: real[2, n] = 0
    step:
        z <- z + 1
        let u, sv, vt = svd(A, 2)
        U <- u
        s <- sv
        Vt <- vt
    until z >= 1 max 1
    output U, s, Vt
"""

TALL_AND_SQUARE = [(7, 4), (5, 5), (12, 3), (3, 3)]


@pytest.fixture(scope="module")
def programs(tmp_path_factory):
    d = tmp_path_factory.mktemp("thin")
    (d / "thin.iter").write_text(SOLVER)
    (d / "top.iter").write_text(TOP)
    return iterc.load(d / "thin.iter"), iterc.load(d / "top.iter")


def _solve(method, backend, **inputs):
    if backend == "numpy":
        return method.numpy().solve(**inputs).outputs
    jax = pytest.importorskip("jax")
    with jax.enable_x64(True):
        out = method.jax()(**inputs).outputs
        return {k: np.asarray(v) for k, v in out.items()}


def _check_top(A, U, s, Vt, r):
    """The r largest singular triplets of A: against scipy's full SVD truncated to r (the
    best rank-r approximation, Eckart-Young), singular vectors up to their signs."""
    m, n = A.shape
    Uf, sf, Vtf = sl.svd(A)
    assert U.shape == (m, r) and s.shape == (r,) and Vt.shape == (r, n)
    np.testing.assert_allclose(s, sf[:r], rtol=1e-10, atol=1e-12)
    assert np.all(np.diff(s) <= 0)
    best = (Uf[:, :r] * sf[:r]) @ Vtf[:r]
    np.testing.assert_allclose((U * s) @ Vt, best, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(np.linalg.norm(A - (U * s) @ Vt) ** 2, np.sum(sf[r:] ** 2), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(U.T @ U, np.eye(r), atol=1e-10)
    np.testing.assert_allclose(Vt @ Vt.T, np.eye(r), atol=1e-10)
    np.testing.assert_allclose(np.abs(np.sum(U * Uf[:, :r], axis=0)), 1.0, atol=1e-9)     # same vectors, up to sign
    np.testing.assert_allclose(np.abs(np.sum(Vt * Vtf[:r], axis=1)), 1.0, atol=1e-9)


@pytest.mark.parametrize("backend", ["numpy", "jax"])
@pytest.mark.parametrize("shape", TALL_AND_SQUARE)
def test_reduced_qr_and_thin_svd_of_tall_and_square_matrices(programs, backend, shape):
    m, n = shape
    rng = np.random.default_rng(m * 10 + n)
    A = rng.normal(size=(m, n))
    k = min(m, n) - 1
    got = _solve(programs[0], backend, A=A, K=np.zeros(k))
    Q, R, U, s, Vt = (got[x] for x in ("Q", "R", "U", "s", "Vt"))
    # qr: Q [m, n] with orthonormal columns, R [n, n] upper triangular, Q R = A; scipy's
    # economic QR up to the signs of Q's columns (R's rows)
    assert Q.shape == (m, n) and R.shape == (n, n)
    np.testing.assert_allclose(Q @ R, A, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(Q.T @ Q, np.eye(n), atol=1e-10)
    assert np.all(np.tril(R, -1) == 0)
    Qs, Rs = sl.qr(A, mode="economic")
    signs = np.sign(np.diag(R)) * np.sign(np.diag(Rs))
    np.testing.assert_allclose(Q * signs, Qs, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(R * signs[:, None], Rs, rtol=1e-9, atol=1e-10)
    # thin svd: U [m, n], s [n] descending, Vt [n, n], U diag(s) Vt = A
    assert U.shape == (m, n) and s.shape == (n,) and Vt.shape == (n, n)
    np.testing.assert_allclose((U * s) @ Vt, A, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(U.T @ U, np.eye(n), atol=1e-10)
    np.testing.assert_allclose(Vt @ Vt.T, np.eye(n), atol=1e-10)
    np.testing.assert_allclose(s, sl.svdvals(A), rtol=1e-10, atol=1e-12)
    _check_top(A, U, s, Vt, n)
    # the top 2 (a literal) and the top k (a dimension)
    _check_top(A, got["U2"], got["s2"], got["Vt2"], 2)
    _check_top(A, got["Uk"], got["sk"], got["Vtk"], k)


@pytest.mark.parametrize("backend", ["numpy", "jax"])
@pytest.mark.parametrize("shape", [(3, 8), (2, 5), (6, 6), (9, 4)])
def test_top_r_svd_of_any_matrix(programs, backend, shape):
    rng = np.random.default_rng(sum(shape))
    for trial in range(3):
        A = rng.normal(size=shape) * rng.uniform(0.1, 10.0)
        got = _solve(programs[1], backend, A=A)
        _check_top(A, got["U"], got["s"], got["Vt"], 2)


WIDE_QR = ("qr of a wide matrix: its argument is [3, 5] (3 rows < 5 columns), but `let Q, R = qr(A)` needs "
           "rows >= columns (Q is [m, n] with orthonormal columns, R [n, n]); take qr(A.T) (A.T = Q R, so A = R.T Q.T)")
WIDE_SVD = ("svd of a wide matrix: its argument is [3, 5] (3 rows < 5 columns), but the thin `let U, s, Vt = svd(A)` "
            "needs rows >= columns (U is [m, n], s [n], Vt [n, n]); take svd(A.T) and swap: A.T = U diag(s) Vt gives "
            "A = Vt.T diag(s) U.T (or the top r of A with svd(A, r))")

QR_ONLY = """
solver qr_only:
    dims m, n
    input A: real[m, n]
    state z: real = 0
    state Q: real[m, n] = 0
    step:
        z <- z + 1
        let q, r = qr(A)
        Q <- q + 0 * sum(r)
    until z >= 1 max 1
    output Q
"""

SVD_ONLY = """
solver svd_only:
    dims m, n
    input A: real[m, n]
    state z: real = 0
    state U: real[m, n] = 0
    step:
        z <- z + 1
        let u, s, vt = svd(A)
        U <- u + 0 * sum(s) + 0 * sum(vt)
    until z >= 1 max 1
    output U
"""


@pytest.mark.parametrize("backend", ["numpy", "jax"])
@pytest.mark.parametrize("source, message", [(QR_ONLY, WIDE_QR), (SVD_ONLY, WIDE_SVD)])
def test_wide_matrix_is_a_clear_runtime_error(tmp_path, backend, source, message):
    path = tmp_path / "m.iter"
    path.write_text(source)
    A = np.random.default_rng(0).normal(size=(3, 5))
    with pytest.raises(ValueError) as info:
        _solve(iterc.load(path), backend, A=A)
    assert str(info.value) == message
    # a tall one of the same sizes goes through
    out = _solve(iterc.load(path), backend, A=A.T)
    assert np.all(np.isfinite(next(iter(out.values()))))


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_top_r_larger_than_the_matrix_is_a_clear_runtime_error(programs, backend):
    A = np.random.default_rng(1).normal(size=(1, 6))
    with pytest.raises(ValueError) as info:
        _solve(programs[1], backend, A=A)
    assert str(info.value) == ("svd(A, r) asks for r = 2 singular triplets, but its argument is [1, 6], which has 1 "
                               "(the smaller of its rows and columns); take 1 <= r <= 1")


PSGD = """
optimizer rank_one:
    \"\"\"A step along the best rank-1 approximation of each matrix gradient (its top singular
    triplet, a PowerSGD-like compression); other leaves take plain SGD.\"\"\"
    hyper lr: real = 0.1 where lr > 0
    param x: real[...]
    oracle g = grad(x)
    rule for x: real[m, n] as matrix:
        step:
            let U, s, Vt = svd(g, 1)
            x <- x - lr * (U * s[None, :]) @ Vt
    rule otherwise:
        step:
            x <- x - lr * g
    converges heuristic
"""


@pytest.mark.parametrize("backend", ["numpy", "jax"])
def test_top_r_svd_on_optimizer_leaves_of_any_shape(tmp_path, backend):
    """`svd(g, 1)` in a matrix rule: tall, square and wide leaves, several steps, against
    numpy's SVD truncated to its top triplet."""
    path = tmp_path / "rank_one.iter"
    path.write_text(PSGD)
    rng = np.random.default_rng(3)
    shapes = {"tall": (6, 3), "square": (4, 4), "wide": (2, 7), "vec": (5,)}
    x0 = {k: rng.normal(size=s) for k, s in shapes.items()}
    grads = [{k: rng.normal(size=s) for k, s in shapes.items()} for _ in range(4)]
    want = {k: v.copy() for k, v in x0.items()}
    for g in grads:
        for k, gk in g.items():
            if gk.ndim == 2:
                U, s, Vt = np.linalg.svd(gk)
                gk = s[0] * np.outer(U[:, 0], Vt[0])
            want[k] = want[k] - 0.1 * gk
    method = iterc.load(path)
    if backend == "numpy":
        opt = method.numpy()
        x, state = dict(x0), opt.init(x0)
        for g in grads:
            x, state = opt.step(x, state, g)
    else:
        jax = pytest.importorskip("jax")
        with jax.enable_x64(True):
            import jax.numpy as jnp
            import optax
            tx = method.optax()
            x = {k: jnp.asarray(v) for k, v in x0.items()}
            state = tx.init(x)
            for g in grads:
                updates, state = jax.jit(tx.update)({k: jnp.asarray(v) for k, v in g.items()}, state, x)
                x = optax.apply_updates(x, updates)
            x = {k: np.asarray(v) for k, v in x.items()}
    for k in shapes:
        np.testing.assert_allclose(x[k], want[k], rtol=1e-10, atol=1e-12, err_msg=k)

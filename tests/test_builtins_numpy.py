"""Every builtin's numpy lowering against a direct numpy computation, on random inputs.

One solver computes each builtin into an output; the test recomputes it independently.
The model-wide builtins (`total`, `global_norm`), which only an optimizer's step may
use, get an optimizer of their own. A registry entry without a case here fails
`test_every_callable_builtin_is_covered`.
"""
import numpy as np
import pytest

import iterc
from iterc.builtins import REGISTRY

PROGRAM = '''
solver everything:
    dims n, m
    input A: real[n, m]
    input B: real[n, m]
    input v: real[m]
    input w: real[n]
    input p: real[n]
    hyper seed: int = 0
    input S: real[n, n]
    input Q: real[n, n]
    state z: real = 0
    state r_eigh_w: real[n] = 0
    state r_eigh_V: real[n, n] = 0
    state r_svd_U: real[n, n] = 0
    state r_svd_s: real[n] = 0
    state r_svd_Vt: real[n, n] = 0
    state r_qr_Q: real[n, n] = 0
    state r_qr_R: real[n, n] = 0
    state r_qr_tall_Q: real[m, n] = 0
    state r_qr_tall_R: real[n, n] = 0
    state r_svd_tall_U: real[m, n] = 0
    state r_svd_tall_s: real[n] = 0
    state r_svd_tall_Vt: real[n, n] = 0
    state r_svd_top_U: real[n, 2] = 0
    state r_svd_top_s: real[2] = 0
    state r_svd_top_Vt: real[2, m] = 0
    step:
        z <- z + 1
        let ew, eV = eigh(S)
        let sU, ss, sVt = svd(Q)
        let qQ, qR = qr(Q)
        r_eigh_w <- ew
        r_eigh_V <- abs(eV)
        r_svd_U <- abs(sU)
        r_svd_s <- ss
        r_svd_Vt <- abs(sVt)
        r_qr_Q <- abs(qQ)
        r_qr_R <- abs(qR)
        let tQ, tR = qr(A.T)
        let tU, ts, tVt = svd(A.T)
        let kU, ks, kVt = svd(A, 2)
        r_qr_tall_Q <- abs(tQ)
        r_qr_tall_R <- abs(tR)
        r_svd_tall_U <- abs(tU)
        r_svd_tall_s <- ts
        r_svd_tall_Vt <- abs(tVt)
        r_svd_top_U <- abs(kU)
        r_svd_top_s <- ks
        r_svd_top_Vt <- abs(kVt)
    let r_add = A + B
    let r_sub = A - v[None, :]
    let r_mul = A * w[:, None]
    let r_div = A / (abs(B) + 1)
    let r_mod = 7 % 3 + A * 0
    let r_pow = abs(A) ^ 1.5
    let r_neg = -A ^ 2
    let r_cmp = where(A > B, 1.0, 0.0) + where(A <= B and A >= -1, 10.0, 0.0) + where(not (A != B), 100.0, 0.0)
    let r_or = where(A < 0 or B < 0, 1.0, 0.0)
    let r_sqrt = sqrt(abs(A))
    let r_exp = exp(A)
    let r_log = log(abs(A) + 1)
    let r_cos = cos(A)
    let r_abs = abs(A)
    let r_sign = sign(A)
    let r_min = min(A, B)
    let r_max = max(A, v[None, :])
    let r_clip = clip(A, -0.5, 0.25)
    let r_where = where(A > 0, A, B)
    let r_sigmoid = sigmoid(A)
    let r_zeros = zeros_like(A)
    let r_sum = sum(A)
    let r_sum0 = sum(A, axis=0)
    let r_mean1 = mean(A, axis=1)
    let r_norm = norm(A)
    let r_norm_ax = norm(A, axis=-1)
    let r_norm1 = norm1(A, axis=0)
    let r_norminf = norminf(A)
    let r_dot = dot(A, B)
    let r_lse = logsumexp(A * 30)
    let r_lse1 = logsumexp(A * 30, axis=1)
    let r_softmax = softmax(A, axis=0)
    let r_softmax_all = softmax(v)
    let r_normalize = normalize(p)
    let r_normalize1 = normalize(abs(A) + 1, axis=1)
    let r_matmul = A @ v
    let r_matmul2 = A.T @ A
    let r_vecmat = w @ A
    let r_outer = outer(w, v)
    let r_transpose = B.T
    let r_numel = numel(A)
    let r_ndim = 10 * ndim(A) + ndim(v) + ndim(z)
    let r_channel = channel_sum(A)
    let r_channel1 = channel_sum(v)
    let r_amax = amax(A, axis=0)
    let r_amin = amin(A)
    let r_argmax = argmax(A)
    let r_argmin1 = argmin(A, axis=1)
    let r_onehot = onehot(2, A)
    let r_onehot0 = onehot(argmax(A, axis=0), A, axis=0)
    let r_topk = topk_mask(A, 3)
    let r_sort = sort(A)
    let r_sort1 = sort(A, axis=1)
    let r_cumsum = cumsum(A)
    let r_cumsum0 = cumsum(A, axis=0)
    let r_eye = eye(n)
    let r_eye3 = eye(3)
    let r_diag = diag(w)
    let r_diagonal = diagonal(S)
    let r_trace = trace(S)
    let r_solve = solve(S, w)
    let r_solve2 = solve(S, A)
    let r_inv = inv(S)
    let r_cholesky = cholesky(S)
    let r_inv_root = inv_root(S, 4, 1e-3)
    let r_sqrtm = matrix_sqrt(S)
    let r_prox_l1 = prox_l1(A, 0.3)
    let r_prox_l2 = prox_l2(A, 0.5)
    let r_prox_l2_1 = prox_l2(A, 0.5, axis=1)
    let r_prox_sq = prox_sq(A, 0.5)
    let r_prox_elastic = prox_elastic(A, 0.3, 0.5)
    let r_prox_linf = prox_linf(A, 0.4)
    let r_proj_box = proj_box(A, -0.5, 0.25)
    let r_proj_l2ball = proj_l2ball(A, 1.0)
    let r_proj_l2ball0 = proj_l2ball(A, 0.5, axis=0)
    let r_proj_l1ball = proj_l1ball(A, 1.0)
    let r_proj_linfball = proj_linfball(A, 0.3)
    let r_proj_simplex = proj_simplex(A)
    let r_proj_simplex1 = proj_simplex(A, 2.0, axis=1)
    let r_proj_nonneg = proj_nonneg(A)
    let r_proj_hyperplane = proj_hyperplane(A, B, 0.5)
    let r_proj_sphere = proj_sphere(A, 2.0)
    let r_proj_psd = proj_psd(Q)
    let r_proj_stiefel = proj_stiefel(A)
    let r_lmo_simplex = lmo_simplex(A)
    let r_lmo_simplex1 = lmo_simplex(A, axis=1)
    let r_lmo_l1ball = lmo_l1ball(A, 2.0)
    let r_lmo_box = lmo_box(A, -1.0, 2.0)
    let r_lmo_nuclear = lmo_nuclear(A, 3.0)
    let r_mirror_entropic = mirror_entropic(p, w, 0.5)
    let r_mirror_entropic1 = mirror_entropic(abs(A) + 0.1, B, 0.3, axis=1)
    let r_mirror_euclid = mirror_euclid(A, B, 0.1)
    let r_mirror_logbarrier = mirror_logbarrier(p, w, 0.5)
    let r_randn = randn_like(A)
    let r_rand = rand_like(v)
    until z >= 1 max 1
    output z, r_add, r_sub, r_mul, r_div, r_mod, r_pow, r_neg, r_cmp, r_or, r_sqrt, r_exp, r_log, r_cos, r_abs, r_sign, r_min, r_max, r_clip, r_where, r_sigmoid, r_zeros, r_sum, r_sum0, r_mean1, r_norm, r_norm_ax, r_norm1, r_norminf, r_dot, r_lse, r_lse1, r_softmax, r_softmax_all, r_normalize, r_normalize1, r_matmul, r_matmul2, r_vecmat, r_outer, r_transpose, r_numel, r_ndim, r_channel, r_channel1, r_amax, r_amin, r_argmax, r_argmin1, r_onehot, r_onehot0, r_topk, r_sort, r_sort1, r_cumsum, r_cumsum0, r_eye, r_eye3, r_diag, r_diagonal, r_trace, r_solve, r_solve2, r_inv, r_cholesky, r_inv_root, r_sqrtm, r_prox_l1, r_prox_l2, r_prox_l2_1, r_prox_sq, r_prox_elastic, r_prox_linf, r_proj_box, r_proj_l2ball, r_proj_l2ball0, r_proj_l1ball, r_proj_linfball, r_proj_simplex, r_proj_simplex1, r_proj_nonneg, r_proj_hyperplane, r_proj_sphere, r_proj_psd, r_proj_stiefel, r_lmo_simplex, r_lmo_simplex1, r_lmo_l1ball, r_lmo_box, r_lmo_nuclear, r_mirror_entropic, r_mirror_entropic1, r_mirror_euclid, r_mirror_logbarrier, r_randn, r_rand, r_eigh_w, r_eigh_V, r_svd_U, r_svd_s, r_svd_Vt, r_qr_Q, r_qr_R, r_qr_tall_Q, r_qr_tall_R, r_svd_tall_U, r_svd_tall_s, r_svd_tall_Vt, r_svd_top_U, r_svd_top_s, r_svd_top_Vt
'''


def _simplex_bisect(x, s=1.0):
    """Projection onto {p >= 0, sum p = s} by bisection on the threshold (independent of sorting)."""
    lo, hi = x.min() - s / x.size - 1.0, x.max()
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.maximum(x - mid, 0).sum() > s else (lo, mid)
    return np.maximum(x - 0.5 * (lo + hi), 0)


def _topk(x, k):
    order = sorted(range(x.size), key=lambda i: (-abs(x.flat[i]), i))
    out = np.zeros(x.size)
    out[order[:k]] = 1.0
    return out.reshape(x.shape)


def _onehot(i, shape):
    out = np.zeros(int(np.prod(shape)))
    out[i] = 1.0
    return out.reshape(shape)


def _several_results(S, Q, A):
    """eigh, svd, qr by scipy (each up to the signs of the vectors, hence abs); A is wide
    ([n, m], n < m): A.T tall for the thin qr and svd, A itself for the top 2."""
    import scipy.linalg as sl
    w, V = sl.eigh(S)
    U, sv, Vt = sl.svd(Q)
    Qq, Rq = sl.qr(Q)
    tQ, tR = sl.qr(A.T, mode="economic")
    tU, ts, tVt = sl.svd(A.T, full_matrices=False)
    kU, ks, kVt = sl.svd(A)
    return {"r_eigh_w": w, "r_eigh_V": np.abs(V), "r_svd_U": np.abs(U), "r_svd_s": sv, "r_svd_Vt": np.abs(Vt),
            "r_qr_Q": np.abs(Qq), "r_qr_R": np.abs(Rq), "r_qr_tall_Q": np.abs(tQ), "r_qr_tall_R": np.abs(tR),
            "r_svd_tall_U": np.abs(tU), "r_svd_tall_s": ts, "r_svd_tall_Vt": np.abs(tVt),
            "r_svd_top_U": np.abs(kU[:, :2]), "r_svd_top_s": ks[:2], "r_svd_top_Vt": np.abs(kVt[:2])}


def _operators(A, B, v, w, p, S, Q):
    import scipy.linalg as sl
    n, m = A.shape
    sym = 0.5 * (Q + Q.T)
    lam, V = np.linalg.eigh(sym)
    u1, v1 = np.linalg.svd(A)[0][:, 0], np.linalg.svd(A)[2][0]
    l1 = np.sign(A) * _simplex_bisect(np.abs(A).ravel()).reshape(A.shape) if np.abs(A).sum() > 1 else A
    hp = np.sum(B * A) - 0.5
    col_norms = np.linalg.norm(A, axis=0)
    i = np.argmax(np.abs(A))
    lmo_l1 = np.zeros(A.size)
    lmo_l1[i] = -2.0 * np.sign(A.flat[i])
    ent = p * np.exp(-0.5 * w)
    ent1 = (np.abs(A) + 0.1) * np.exp(-0.3 * B)
    return {
        "r_numel": n * m, "r_ndim": 21, "r_channel": np.repeat(A.sum(axis=1, keepdims=True), m, axis=1),
        "r_channel1": v, "r_amax": A.max(axis=0), "r_amin": A.min(), "r_argmax": np.argmax(A),
        "r_argmin1": np.argmin(A, axis=1), "r_onehot": _onehot(2, A.shape),
        "r_onehot0": (np.arange(n)[:, None] == np.argmax(A, axis=0)[None, :]) * 1.0,
        "r_topk": _topk(A, 3), "r_sort": np.sort(A.ravel()).reshape(A.shape), "r_sort1": np.sort(A, axis=1),
        "r_cumsum": np.cumsum(A.ravel()).reshape(A.shape), "r_cumsum0": np.cumsum(A, axis=0),
        "r_eye": np.eye(n), "r_eye3": np.eye(3), "r_diag": np.diag(w), "r_diagonal": np.diag(S).copy(),
        "r_trace": np.trace(S), "r_solve": sl.solve(S, w), "r_solve2": sl.solve(S, A), "r_inv": sl.inv(S),
        "r_cholesky": sl.cholesky(S, lower=True),
        "r_inv_root": np.real(sl.fractional_matrix_power(S + 1e-3 * np.eye(n), -0.25)),
        "r_sqrtm": np.real(sl.sqrtm(S)),
        "r_prox_l1": np.sign(A) * np.maximum(np.abs(A) - 0.3, 0),
        "r_prox_l2": max(0.0, 1 - 0.5 / np.linalg.norm(A)) * A,
        "r_prox_l2_1": np.maximum(0.0, 1 - 0.5 / np.linalg.norm(A, axis=1, keepdims=True)) * A,
        "r_prox_sq": A / 1.5, "r_prox_elastic": np.sign(A) * np.maximum(np.abs(A) - 0.3, 0) / 1.5,
        "r_prox_linf": A - (0.4 * np.sign(A) * _simplex_bisect(np.abs(A).ravel() / 0.4).reshape(A.shape)
                            if np.abs(A).sum() > 0.4 else A),
        "r_proj_box": np.clip(A, -0.5, 0.25), "r_proj_l2ball": A / max(1.0, np.linalg.norm(A)),
        "r_proj_l2ball0": A * np.minimum(1.0, 0.5 / col_norms), "r_proj_l1ball": l1,
        "r_proj_linfball": np.clip(A, -0.3, 0.3), "r_proj_simplex": _simplex_bisect(A.ravel()).reshape(A.shape),
        "r_proj_simplex1": np.stack([_simplex_bisect(row, 2.0) for row in A]), "r_proj_nonneg": np.maximum(A, 0),
        "r_proj_hyperplane": A - hp / np.sum(B * B) * B, "r_proj_sphere": 2.0 * A / np.linalg.norm(A),
        "r_proj_psd": (V * np.maximum(lam, 0)) @ V.T, "r_proj_stiefel": sl.polar(A)[0],
        "r_lmo_simplex": _onehot(np.argmin(A), A.shape),
        "r_lmo_simplex1": (np.arange(m)[None, :] == np.argmin(A, axis=1)[:, None]) * 1.0,
        "r_lmo_l1ball": lmo_l1.reshape(A.shape), "r_lmo_box": np.where(A > 0, -1.0, 2.0),
        "r_lmo_nuclear": -3.0 * np.outer(u1, v1),
        "r_mirror_entropic": ent / ent.sum(), "r_mirror_entropic1": ent1 / ent1.sum(axis=1, keepdims=True),
        "r_mirror_euclid": A - 0.1 * B, "r_mirror_logbarrier": np.where(1 / p + 0.5 * w > 0.5 / p, 1 / (1 / p + 0.5 * w), 2 * p),
    }


# not bit-for-bit algorithms: bisection, scipy's matrix functions, LAPACK variants
LOOSE = {"r_eigh_w", "r_eigh_V", "r_svd_U", "r_svd_s", "r_svd_Vt", "r_qr_Q", "r_qr_R", "r_qr_tall_Q", "r_qr_tall_R",
         "r_svd_tall_U", "r_svd_tall_s", "r_svd_tall_Vt", "r_svd_top_U", "r_svd_top_s", "r_svd_top_Vt",
         "r_inv_root", "r_sqrtm", "r_prox_linf", "r_proj_l1ball", "r_proj_simplex", "r_proj_simplex1", "r_proj_psd",
         "r_proj_stiefel", "r_lmo_nuclear", "r_solve", "r_solve2", "r_inv", "r_cholesky"}


def expected(A, B, v, w, p):
    def lse(x, axis=None):
        mx = np.max(x, axis=axis, keepdims=True)
        out = np.log(np.sum(np.exp(x - mx), axis=axis, keepdims=True)) + mx
        return out.reshape(()) if axis is None else np.squeeze(out, axis=axis)

    def softmax(x, axis=None):
        e = np.exp(x - np.max(x, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    return {
        "r_add": A + B, "r_sub": A - v, "r_mul": A * w[:, None], "r_div": A / (np.abs(B) + 1),
        "r_mod": np.full_like(A, 1.0), "r_pow": np.abs(A) ** 1.5, "r_neg": -(A ** 2),
        "r_cmp": (A > B) * 1.0 + ((A <= B) & (A >= -1)) * 10.0 + (A == B) * 100.0,
        "r_or": ((A < 0) | (B < 0)) * 1.0,
        "r_sqrt": np.sqrt(np.abs(A)), "r_exp": np.exp(A), "r_log": np.log(np.abs(A) + 1), "r_cos": np.cos(A),
        "r_abs": np.abs(A),
        "r_sign": np.sign(A), "r_min": np.minimum(A, B), "r_max": np.maximum(A, v), "r_clip": np.clip(A, -0.5, 0.25),
        "r_where": np.where(A > 0, A, B), "r_sigmoid": 1 / (1 + np.exp(-A)), "r_zeros": np.zeros_like(A),
        "r_sum": A.sum(), "r_sum0": A.sum(axis=0), "r_mean1": A.mean(axis=1), "r_norm": np.linalg.norm(A),
        "r_norm_ax": np.linalg.norm(A, axis=-1), "r_norm1": np.abs(A).sum(axis=0), "r_norminf": np.abs(A).max(),
        "r_dot": np.sum(A * B), "r_lse": lse(A * 30), "r_lse1": lse(A * 30, axis=1),
        "r_softmax": softmax(A, axis=0), "r_softmax_all": softmax(v), "r_normalize": p / p.sum(),
        "r_normalize1": (np.abs(A) + 1) / (np.abs(A) + 1).sum(axis=1, keepdims=True),
        "r_matmul": A @ v, "r_matmul2": A.T @ A, "r_vecmat": w @ A, "r_outer": np.outer(w, v), "r_transpose": B.T,
        # draws: PCG64 seeded by `seed` (0), in the order the lets are written
        **dict(zip(("r_randn", "r_rand"), _draws(A, v))),
    }


def _draws(A, v):
    gen = np.random.Generator(np.random.PCG64(0))
    return gen.standard_normal(A.shape), gen.random(v.shape)


@pytest.fixture(scope="module", params=["numpy", "primitives"])
def solver(request, tmp_path_factory):
    """The program as numpy lowers it, and with every composite decomposed into primitives
    (what a backend that keeps no composites runs)."""
    if request.param == "numpy":
        path = tmp_path_factory.mktemp("builtins") / "everything.iter"
        path.write_text(PROGRAM)
        return iterc.load(path).numpy()
    from iterc.api import check_text
    from iterc.backends.numpy import NUMPY, emit_module
    from iterc.ir import lower_module, optimize_module
    result = check_text(PROGRAM, "everything.iter")
    assert result.ok
    ns = {}
    exec(compile(emit_module(optimize_module(lower_module(result.module), keep=frozenset()), NUMPY),
                 "<everything>", "exec"), ns)
    return ns["make_everything"]()


@pytest.mark.parametrize("seed", range(5))
def test_each_builtin_matches_numpy(solver, seed):
    rng = np.random.default_rng(seed)
    n, m = 3 + seed, 4 + 2 * seed
    A, B = rng.normal(size=(n, m)), rng.normal(size=(n, m))
    B[0, 0] = A[0, 0]                                     # exercise equality
    v, w = rng.normal(size=m), rng.normal(size=n)
    p = rng.uniform(0.1, 2.0, size=n)
    M = rng.normal(size=(n, n))
    S, Q = M @ M.T + n * np.eye(n), rng.normal(size=(n, n))
    got = solver.solve(A=A, B=B, v=v, w=w, p=p, S=S, Q=Q).outputs
    want_all = {**expected(A, B, v, w, p), **_operators(A, B, v, w, p, S, Q), **_several_results(S, Q, A)}
    for name, want in want_all.items():
        tol = 1e-9 if name in LOOSE else 1e-12
        np.testing.assert_allclose(got[name], want, rtol=tol, atol=tol, err_msg=name)
        assert np.shape(got[name]) == np.shape(want), name


# Model-wide builtins exist only in an optimizer's step (a solver has no leaves): their
# case is an optimizer whose per-leaf scalar states receive the model-wide values.
MODEL_PROGRAM = '''
optimizer model_wide:
    param x: real[...]
    oracle g = grad(x)
    state r_total: real = 0
    state r_global_norm: real = 0
    state r_count: real = 0
    step:
        r_total <- total(sum(g * x))
        r_global_norm <- global_norm(g)
        r_count <- total(1)
        x <- x + global_norm(x) * 0
'''


@pytest.mark.parametrize("seed", range(3))
def test_model_wide_builtins_match_numpy(tmp_path, seed):
    path = tmp_path / "model_wide.iter"
    path.write_text(MODEL_PROGRAM)
    opt = iterc.load(path).numpy()
    rng = np.random.default_rng(seed)
    shapes = [(3, 4), (5,), (), (2, 3, 2, 2)][: 1 + seed % 4] + [(1 + seed,)]
    params = {f"p{i}": rng.normal(size=s) for i, s in enumerate(shapes)}
    grads = {k: rng.normal(size=np.shape(v)) for k, v in params.items()}
    _, state = opt.step(params, opt.init(params), grads)
    want = {
        "r_total": sum(np.sum(grads[k] * params[k]) for k in params),
        "r_global_norm": np.sqrt(sum(np.sum(v * v) for v in grads.values())),
        "r_count": float(len(params)),
    }
    for name, value in want.items():
        for k in params:                                  # every leaf sees the one model-wide value
            np.testing.assert_allclose(state[name][k], value, rtol=1e-12, err_msg=f"{name} at {k}")


def test_every_callable_builtin_is_covered():
    used = {word for word in REGISTRY if f"{word}(" in PROGRAM + MODEL_PROGRAM}
    callable_names = {name for name, entry in REGISTRY.items() if entry.callable and name != "prev"}
    assert callable_names <= used, f"builtins without a numpy test: {sorted(callable_names - used)}"


CHANNEL_RULE = '''
optimizer channels:
    param x: real[...]
    oracle g = grad(x)
    state c: real[...] = 0
    state r: int = 0
    step:
        c <- channel_sum(g * x)
        r <- ndim(x)
'''


def test_channel_sum_and_ndim_on_leaves_of_every_rank(tmp_path):
    """On an optimizer's leaves (any rank): channel_sum sums each slice x[i] over all the
    other axes and broadcasts it back; ndim is the leaf's rank (0 for a scalar)."""
    path = tmp_path / "channels.iter"
    path.write_text(CHANNEL_RULE)
    opt = iterc.load(path).numpy()
    rng = np.random.default_rng(0)
    shapes = {"s": (), "v": (5,), "m": (3, 4), "k": (4, 2, 3, 3), "u": (2, 1)}
    x = {k: rng.normal(size=s) for k, s in shapes.items()}
    g = {k: rng.normal(size=s) for k, s in shapes.items()}
    _, state = opt.step(x, opt.init(x), g)
    for k, s in shapes.items():
        prod = g[k] * x[k]
        want = prod if len(s) < 2 else np.stack([np.full(s[1:], prod[i].sum()) for i in range(s[0])])
        np.testing.assert_allclose(state["c"][k], want, rtol=1e-12, err_msg=k)
        assert state["r"][k] == len(s), k

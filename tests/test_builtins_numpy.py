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
    state z: real = 0
    step:
        z <- z + 1
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
    until z >= 1 max 1
    output z, r_add, r_sub, r_mul, r_div, r_mod, r_pow, r_neg, r_cmp, r_or, r_sqrt, r_exp, r_log, r_cos, r_abs, r_sign, r_min, r_max, r_clip, r_where, r_sigmoid, r_zeros, r_sum, r_sum0, r_mean1, r_norm, r_norm_ax, r_norm1, r_norminf, r_dot, r_lse, r_lse1, r_softmax, r_softmax_all, r_normalize, r_normalize1, r_matmul, r_matmul2, r_vecmat, r_outer, r_transpose
'''


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
    }


@pytest.fixture(scope="module")
def solver(tmp_path_factory):
    path = tmp_path_factory.mktemp("builtins") / "everything.iter"
    path.write_text(PROGRAM)
    return iterc.load(path).numpy()


@pytest.mark.parametrize("seed", range(5))
def test_each_builtin_matches_numpy(solver, seed):
    rng = np.random.default_rng(seed)
    n, m = 3 + seed, 4 + 2 * seed
    A, B = rng.normal(size=(n, m)), rng.normal(size=(n, m))
    B[0, 0] = A[0, 0]                                     # exercise equality
    v, w = rng.normal(size=m), rng.normal(size=n)
    p = rng.uniform(0.1, 2.0, size=n)
    got = solver.solve(A=A, B=B, v=v, w=w, p=p).outputs
    for name, want in expected(A, B, v, w, p).items():
        np.testing.assert_allclose(got[name], want, rtol=1e-12, atol=1e-12, err_msg=name)
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

"""stdlib/optim methods with per-leaf (per-layer) reductions, against independent references:
100 steps on random parameter trees that mix 0-d, 1-d, 2-d and 4-d leaves (gradient = noise + x,
tests/reference.py), in float64, to 1e-6 relative unless a case says otherwise.

| method         | reference                                                                 |
|----------------|---------------------------------------------------------------------------|
| lamb           | optax.lamb                                                                |
| lars           | optax.lars                                                                |
| adamp, sgdp    | the `adamp` package (clovaai/AdamP, PyPI 0.3.0): adamp.AdamP, adamp.SGDP  |
| ef21           | a hand-derived numpy loop (single worker, top-k compressor)               |
| riemannian_sgd | geoopt.optim.RiemannianSGD on geoopt.Stiefel() (canonical: Cayley)        |

Each method also gets a convergence smoke test on a problem with a known answer.
"""
import numpy as np
import pytest

import iterc
from reference import assert_trees_close, problem, regression_loss_after, run_iterc, run_optax, run_torch

# 0-d, 1-d, 2-d and 4-d leaves (a conv kernel [out, in, h, w] among them)
SHAPES = [(3, 4), (5,), (), (4, 2, 3, 3), (1,), (2, 3, 1, 2)]


def _problem(seed, steps=100, shapes=SHAPES):
    return problem(seed, steps=steps, shapes=shapes)


def _ids(h: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in h.items()) or "defaults"


# ---------------------------------------------------------------- lamb, lars (optax)

def _optax():
    pytest.importorskip("jax")
    return pytest.importorskip("optax")


LAMB_CASES = [
    (dict(lr=1e-2), dict()),
    (dict(lr=1e-2, weight_decay=0.1), dict(weight_decay=0.1)),
    (dict(lr=3e-2, beta1=0.8, beta2=0.99, eps=1e-3, eps_root=1e-4, weight_decay=0.01),
     dict(b1=0.8, b2=0.99, eps=1e-3, eps_root=1e-4, weight_decay=0.01)),
]


@pytest.mark.parametrize("hypers,theirs", LAMB_CASES, ids=[_ids(h) for h, _ in LAMB_CASES])
def test_lamb_matches_optax(hypers, theirs):
    optax = _optax()
    params, noises = _problem(11 + len(hypers))
    ours = run_iterc("lamb", hypers, params, noises)
    assert_trees_close(ours, run_optax(optax.lamb(hypers["lr"], **theirs), params, noises), rtol=1e-6)


LARS_CASES = [
    (dict(lr=0.5), dict()),
    (dict(lr=0.5, weight_decay=0.1, nesterov=True), dict(weight_decay=0.1, nesterov=True)),
    (dict(lr=0.3, trust_coefficient=0.02, eps=0.5, momentum=0.5, weight_decay=0.01),
     dict(trust_coefficient=0.02, eps=0.5, momentum=0.5, weight_decay=0.01)),
    (dict(lr=0.1, trust_coefficient=0.05, momentum=0.0), dict(trust_coefficient=0.05, momentum=0.0)),
]


@pytest.mark.parametrize("hypers,theirs", LARS_CASES, ids=[_ids(h) for h, _ in LARS_CASES])
def test_lars_matches_optax(hypers, theirs):
    optax = _optax()
    params, noises = _problem(23 + len(hypers))
    ours = run_iterc("lars", hypers, params, noises)
    assert_trees_close(ours, run_optax(optax.lars(hypers["lr"], **theirs), params, noises), rtol=1e-6)


@pytest.mark.parametrize("name", ["lamb", "lars"])
def test_trust_ratio_zero_leaf(name):
    """A leaf whose parameter and gradient are zero: the trust ratio falls back to 1 (no NaN),
    and the leaf stays put, as in optax."""
    optax = _optax()
    params, noises = _problem(5, steps=20)
    params["p2"] = np.zeros(())
    for noise in noises:
        noise["p2"] = np.zeros(())
    ours = run_iterc(name, dict(lr=0.1), params, noises)
    assert_trees_close(ours, run_optax(getattr(optax, name)(0.1), params, noises))
    assert ours["p2"] == 0.0


@pytest.mark.parametrize("name", ["lamb", "lars"])
def test_trust_ratio_defaults_match_optax(name):
    import inspect
    optax = _optax()
    fn = getattr(optax, name)
    names = {"beta1": "b1", "beta2": "b2"}
    ours = iterc.load(name).numpy(lr=0.5).hypers.as_dict()
    params = inspect.signature(fn).parameters
    assert params["learning_rate"].default is inspect.Parameter.empty
    with pytest.raises(ValueError, match="lr"):
        iterc.load(name).numpy()
    for k, v in ours.items():
        if k != "lr":
            default = params[names.get(k, k)].default
            assert v == (default.item() if hasattr(default, "item") else default), k


# ---------------------------------------------------------------- smoke: least squares
# 0.5 |A w + b - y|^2 / n from w = 1, b = 1 (loss about 9.6; the optimum has loss 0). The
# trust-ratio methods take steps of a size relative to |x| (lamb: lr |x|; lars:
# lr * trust_coefficient * |x| / |g| times |g|), so with a constant lr they stall at a
# relative error of order lr: the lr decays geometrically, passed per step as an override.

def _least_squares(name, hypers, steps, lr_at, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(64, 8))
    y = A @ rng.normal(size=8) + 0.5
    params = {"w": np.ones(8), "b": np.array(1.0)}
    opt = iterc.load(name).numpy(**hypers)
    state = opt.init(params)

    def loss_and_grad(p):
        r = A @ p["w"] + p["b"] - y
        return 0.5 * float(r @ r) / len(y), {"w": A.T @ r / len(y), "b": np.array(r.mean())}

    first, _ = loss_and_grad(params)
    for t in range(1, steps + 1):
        params, state = opt.step(params, state, loss_and_grad(params)[1], lr=lr_at(t))
    return first, loss_and_grad(params)[0]


SMOKE = [
    ("lamb", dict(lr=1.0), lambda t: 0.05 * 0.995 ** t, 1e-4),
    ("lars", dict(lr=1.0, trust_coefficient=0.01), lambda t: 2.0 * 0.995 ** t, 1e-4),
]


@pytest.mark.parametrize("name,hypers,lr_at,bound", SMOKE, ids=[s[0] for s in SMOKE])
def test_smoke_least_squares(name, hypers, lr_at, bound):
    first, last = _least_squares(name, hypers, 1000, lr_at)
    assert first > 9
    assert last < bound, (name, first, last)


# ---------------------------------------------------------------- adamp, sgdp (the adamp package)
# The gradient `noise + x` is never nearly orthogonal to x, so it would never exercise the
# projection. Here some leaves get gradients with their radial part removed: per output
# channel (the channel view fires), over the whole leaf only (the channel view does not, the
# layer view does), and the rest plain noise + x (neither). Rank-1 and 0-d leaves never
# project, whatever their gradient. `_branches` counts, in the reference, which view fired.

TANGENT_CHANNEL = {"p3", "p5"}     # [4, 2, 3, 3] and [2, 3, 1, 2]
TANGENT_LAYER = {"p0", "p1"}        # [3, 4], and a vector (which must not project)


def _tangent_grad(t, x, noises):
    out = {}
    for k, v in x.items():
        n = noises[t - 1][k]
        if k in TANGENT_CHANNEL:
            v2 = v.reshape(v.shape[0], -1)
            n2 = n.reshape(n.shape[0], -1)
            out[k] = (n2 - v2 * (np.sum(n2 * v2, axis=1, keepdims=True) / np.sum(v2 * v2, axis=1, keepdims=True))
                      ).reshape(v.shape)
        elif k in TANGENT_LAYER:
            out[k] = n - v * (np.sum(n * v) / np.sum(v * v))
        else:
            out[k] = n + v
    return out


def _run_ours(name, hypers, params, noises):
    opt = iterc.load(name).numpy(**hypers)
    state, x = opt.init(params), params
    for t in range(1, len(noises) + 1):
        x, state = opt.step(x, state, _tangent_grad(t, x, noises))
    return x


def _run_adamp(cls, kwargs, params, noises):
    import torch
    tp = {k: torch.tensor(np.asarray(v), dtype=torch.float64) for k, v in params.items()}
    opt = cls(list(tp.values()), **kwargs)
    fired = {"channel": 0, "layer": 0}
    original = opt._projection

    def counting(p, grad, perturb, delta, wd_ratio, eps):
        out, wd = original(p, grad, perturb, delta, wd_ratio, eps)
        if wd != 1:
            cos = opt._cosine_similarity(grad, p.data, eps, opt._channel_view)
            view = "channel" if cos.max() < delta / np.sqrt(opt._channel_view(p.data).size(1)) else "layer"
            fired[view] += 1
        return out, wd

    opt._projection = counting
    for t in range(1, len(noises) + 1):
        g = _tangent_grad(t, {k: v.numpy() for k, v in tp.items()}, noises)
        for k, p in tp.items():
            p.grad = torch.tensor(g[k], dtype=torch.float64)
        opt.step()
    return {k: v.numpy() for k, v in tp.items()}, fired


ADAMP_CASES = [
    (dict(), dict()),
    (dict(lr=1e-2, weight_decay=0.1, nesterov=True), dict(lr=1e-2, weight_decay=0.1, nesterov=True)),
    (dict(lr=2e-2, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.05, delta=0.2, wd_ratio=0.5),
     dict(lr=2e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, delta=0.2, wd_ratio=0.5)),
]


@pytest.mark.parametrize("hypers,theirs", ADAMP_CASES, ids=[_ids(h) for h, _ in ADAMP_CASES])
def test_adamp_matches_adamp_package(hypers, theirs):
    adamp = pytest.importorskip("adamp")
    params, noises = _problem(41 + len(hypers))
    ref, fired = _run_adamp(adamp.AdamP, theirs, params, noises)
    assert fired["channel"] >= 100 and fired["layer"] >= 50, fired     # both views exercised
    assert_trees_close(_run_ours("adamp", hypers, params, noises), ref, rtol=1e-6)


SGDP_CASES = [
    (dict(lr=0.05), dict(lr=0.05)),
    (dict(lr=0.05, momentum=0.9, weight_decay=0.1), dict(lr=0.05, momentum=0.9, weight_decay=0.1)),
    (dict(lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.01, delta=0.2, wd_ratio=0.3),
     dict(lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.01, delta=0.2, wd_ratio=0.3)),
    (dict(lr=0.05, momentum=0.5, dampening=0.3, eps=1e-6), dict(lr=0.05, momentum=0.5, dampening=0.3, eps=1e-6)),
]


@pytest.mark.parametrize("hypers,theirs", SGDP_CASES, ids=[_ids(h) for h, _ in SGDP_CASES])
def test_sgdp_matches_adamp_package(hypers, theirs):
    adamp = pytest.importorskip("adamp")
    params, noises = _problem(43 + len(hypers))
    ref, fired = _run_adamp(adamp.SGDP, theirs, params, noises)
    assert fired["channel"] >= 100 and fired["layer"] >= 50, fired
    assert_trees_close(_run_ours("sgdp", hypers, params, noises), ref, rtol=1e-6)


@pytest.mark.parametrize("name,cls", [("adamp", "AdamP"), ("sgdp", "SGDP")])
def test_adamp_plain_gradients_match(name, cls):
    """On the shared trajectory (gradient = noise + x, no scale-invariant leaf) both are
    their base method, step for step as the package."""
    adamp = pytest.importorskip("adamp")
    params, noises = _problem(47)
    hypers = dict(lr=0.02, weight_decay=0.1) if name == "adamp" else dict(lr=0.02, momentum=0.9, weight_decay=0.1)
    ours = run_iterc(name, hypers, params, noises)
    assert_trees_close(ours, run_torch(lambda ps: getattr(adamp, cls)(ps, **hypers), params, noises), rtol=1e-6)


def test_adamp_defaults_match_package():
    import inspect
    adamp = pytest.importorskip("adamp")
    names = {"beta1": ("betas", 0), "beta2": ("betas", 1)}
    for name, cls in (("adamp", adamp.AdamP), ("sgdp", adamp.SGDP)):
        params = inspect.signature(cls.__init__).parameters
        ours = iterc.load(name).numpy(lr=0.5).hypers.as_dict()
        assert set(ours) <= set(params) | set(names), name
        for k, v in ours.items():
            if k == "lr":
                continue
            arg, i = names.get(k, (k, None))
            default = params[arg].default
            assert v == (default if i is None else default[i]), (name, k)
    assert iterc.load("adamp").numpy().hypers.lr == 1e-3
    with pytest.raises(ValueError, match="lr"):
        iterc.load("sgdp").numpy()      # SGDP's lr is `required`


# ---------------------------------------------------------------- riemannian_sgd (geoopt)
# geoopt.Stiefel() is the canonical-metric manifold: tangent projection G - X G^T X, Cayley
# retraction, and the buffer carried by the same Cayley map (retr_transp). Known quirk of
# geoopt 0.5.1's RiemannianSGD: on the first step it initialises the buffer to a clone of the
# raw Euclidean gradient (before weight decay and before the tangent projection, so not a
# tangent vector) and then also applies `buf = momentum * buf + (1 - dampening) * rgrad`,
# counting the first gradient twice. We start the buffer at 0 (as optax's trace and SGDP do);
# the comparison gives geoopt a zero buffer before its first step, which makes its update
# exactly those corrected equations.

STIEFEL_SHAPES = [(5, 3), (4, 4), (6, 1), (8, 2), (3, 3)]


def _stiefel_problem(seed, steps=100):
    rng = np.random.default_rng(seed)
    params = {f"W{i}": np.linalg.qr(rng.normal(size=s))[0] for i, s in enumerate(STIEFEL_SHAPES)}
    noises = [{k: rng.normal(size=v.shape) for k, v in params.items()} for _ in range(steps)]
    return params, noises


def _run_geoopt(kwargs, params, noises):
    import torch
    geoopt = pytest.importorskip("geoopt")
    manifold = geoopt.Stiefel()
    assert type(manifold).__name__ == "CanonicalStiefel"      # the Cayley retraction
    tp = {k: geoopt.ManifoldParameter(torch.tensor(v), manifold=manifold) for k, v in params.items()}
    opt = geoopt.optim.RiemannianSGD(list(tp.values()), **kwargs)
    if kwargs.get("momentum", 0) > 0:
        for p in tp.values():
            opt.state[p]["momentum_buffer"] = torch.zeros_like(p)     # see the quirk above
    for noise in noises:
        for k, p in tp.items():
            p.grad = torch.tensor(noise[k]) + p.detach()
        opt.step()
    return {k: p.detach().numpy() for k, p in tp.items()}


RSGD_CASES = [
    dict(lr=0.05),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.02, momentum=0.9),
    dict(lr=0.02, momentum=0.9, nesterov=True, weight_decay=0.01),
    dict(lr=0.03, momentum=0.5, dampening=0.3),
]


@pytest.mark.parametrize("hypers", RSGD_CASES, ids=[_ids(h) for h in RSGD_CASES])
def test_riemannian_sgd_matches_geoopt(hypers):
    params, noises = _stiefel_problem(61 + len(hypers))
    ours = run_iterc("riemannian_sgd", hypers, params, noises)
    assert_trees_close(ours, _run_geoopt(hypers, params, noises), rtol=1e-6, atol=1e-10)
    for k, W in ours.items():                   # still on the manifold after 100 steps
        np.testing.assert_allclose(W.T @ W, np.eye(W.shape[1]), atol=1e-10, err_msg=k)
        assert not np.allclose(W, params[k]), k      # and it moved


def test_riemannian_sgd_stays_orthonormal_over_long_runs():
    """1000 large steps: the Cayley map is orthogonal, so X^T X = I holds to 1e-5 throughout."""
    params, noises = _stiefel_problem(7, steps=1000)
    opt = iterc.load("riemannian_sgd").numpy(lr=0.3, momentum=0.9)
    state, x = opt.init(params), params
    worst = 0.0
    for noise in noises:
        x, state = opt.step(x, state, {k: 10 * noise[k] + x[k] for k in x})
        worst = max(worst, max(np.max(np.abs(W.T @ W - np.eye(W.shape[1]))) for W in x.values()))
    assert worst < 1e-5, worst


@pytest.mark.parametrize("shape", [(5,), (), (2, 3, 2)])
def test_riemannian_sgd_rejects_leaves_that_are_not_matrices(shape):
    params = {"W": np.linalg.qr(np.ones((4, 2)) + np.eye(4, 2))[0], "bad": np.ones(shape)}
    opt = iterc.load("riemannian_sgd").numpy(lr=0.1)
    with pytest.raises(ValueError, match=r"riemannian_sgd updates rank-2 parameters.*bad"):
        opt.init(params)
    good = {"W": params["W"]}
    state = opt.init(good)
    with pytest.raises(ValueError, match="bad"):
        opt.step(params, state, params)


def test_riemannian_sgd_smoke_leading_eigenvectors():
    """min -tr(X^T M X) / 2 over X^T X = I: the optimum is -(sum of the p largest eigenvalues) / 2,
    at a basis of their eigenvectors."""
    rng = np.random.default_rng(3)
    n, p = 10, 3
    Q = np.linalg.qr(rng.normal(size=(n, n)))[0]
    lam = np.linspace(1.0, 3.0, n)
    M = Q @ np.diag(lam) @ Q.T
    x = {"X": np.linalg.qr(rng.normal(size=(n, p)))[0]}
    opt = iterc.load("riemannian_sgd").numpy(lr=0.1, momentum=0.5)
    state = opt.init(x)
    for _ in range(500):
        x, state = opt.step(x, state, {"X": -M @ x["X"]})
    X = x["X"]
    assert -0.5 * np.trace(X.T @ M @ X) == pytest.approx(-0.5 * lam[-p:].sum(), abs=1e-8)
    top = Q[:, -p:]
    np.testing.assert_allclose(X @ X.T, top @ top.T, atol=1e-5)     # the same subspace


# ---------------------------------------------------------------- ef21 (hand-derived reference)

def _topk_compress(v, k):
    """Keep the k entries of largest magnitude (ties: lower flat index), zero the rest."""
    flat = v.ravel()
    keep = np.argsort(-np.abs(flat), kind="stable")[:k]
    out = np.zeros_like(flat)
    out[keep] = flat[keep]
    return out.reshape(v.shape)


def _ef21_reference(lr, k, full_init, params, noises):
    """EF21 (Richtárik, Sokolov & Fatkhullin 2021, Algorithm 1) with one worker, per leaf:
    g^0 = grad f(x^0) (or C(grad f(x^0))); x^{t+1} = x^t - lr g^t;
    g^{t+1} = g^t + C(grad f(x^{t+1}) - g^t), C = top-k."""
    x = {key: np.array(v, dtype=np.float64) for key, v in params.items()}
    est = None
    for noise in noises:
        grad = {key: noise[key] + x[key] for key in x}
        if est is None:
            est = {key: grad[key] if full_init else _topk_compress(grad[key], k) for key in x}
        else:
            est = {key: est[key] + _topk_compress(grad[key] - est[key], k) for key in x}
        x = {key: x[key] - lr * est[key] for key in x}
    return x


EF21_CASES = [dict(lr=0.05), dict(lr=0.05, k=3), dict(lr=0.1, k=5, full_init=False), dict(lr=0.02, k=1, full_init=False)]


@pytest.mark.parametrize("hypers", EF21_CASES, ids=[_ids(h) for h in EF21_CASES])
def test_ef21_matches_hand_derived_loop(hypers):
    params, noises = _problem(71 + len(hypers))
    ours = run_iterc("ef21", hypers, params, noises)
    ref = _ef21_reference(hypers["lr"], hypers.get("k", 1), hypers.get("full_init", True), params, noises)
    assert_trees_close(ours, ref, rtol=1e-6)


def test_ef21_ties_and_uncompressed_leaves():
    """Equal magnitudes go to the lower flat index; a k at least the leaf's size sends
    everything, which is plain gradient descent."""
    x = {"a": np.zeros((2, 2)), "s": np.array(0.0)}
    opt = iterc.load("ef21").numpy(lr=1.0, k=2, full_init=False)
    state = opt.init(x)
    x1, state = opt.step(x, state, {"a": np.array([[1.0, -3.0], [3.0, 3.0]]), "s": np.array(2.0)})
    np.testing.assert_array_equal(x1["a"], [[0.0, 3.0], [-3.0, 0.0]])
    assert x1["s"] == -2.0
    params, noises = _problem(5, steps=30)
    gd = {k: v.copy() for k, v in params.items()}
    for noise in noises:
        gd = {k: gd[k] - 0.1 * (noise[k] + gd[k]) for k in gd}
    assert_trees_close(run_iterc("ef21", dict(lr=0.1, k=1000), params, noises), gd, rtol=1e-12)


def test_ef21_smoke_least_squares():
    """Top-2 of 8 coordinates a step, yet the estimate catches up: least squares to its optimum."""
    first, last = regression_loss_after("ef21", dict(lr=0.1, k=2), steps=2000)
    assert first > 6
    assert last < 1e-10, last


# ---------------------------------------------------------------- smoke: a scale-invariant weight

def _scale_invariant_run(name, hypers, steps=1000):
    """min -<W / |W|, T> (a scale-invariant loss: its gradient is orthogonal to W) for a 4-d W,
    plus 0.5 |b - b*|^2 for a vector b. Known answer: W parallel to T, b = b*.
    Returns (1 - cos(W, T), |W| / |W0|, max |b - b*|)."""
    rng = np.random.default_rng(0)
    T = rng.normal(size=(4, 2, 3, 3))
    T /= np.linalg.norm(T)
    b_star = np.array([1.0, -2.0, 0.5])
    x = {"W": rng.normal(size=T.shape), "b": rng.normal(size=3)}
    w0 = np.linalg.norm(x["W"])
    opt = iterc.load(name).numpy(**hypers)
    state = opt.init(x)
    for _ in range(steps):
        W = x["W"]
        norm = np.linalg.norm(W)
        g = {"W": -(T - np.sum(T * W / norm) * W / norm) / norm, "b": x["b"] - b_star}
        x, state = opt.step(x, state, g)
    W = x["W"]
    return 1 - np.sum(W * T) / np.linalg.norm(W), np.linalg.norm(W) / w0, np.max(np.abs(x["b"] - b_star))


def test_adamp_smoke_scale_invariant():
    gap, growth, b_err = _scale_invariant_run("adamp", dict(lr=0.01))
    assert gap < 1e-5 and b_err < 1e-4, (gap, b_err)
    assert 0.95 < growth < 1.05, growth            # the projected steps barely change |W|


def test_sgdp_smoke_scale_invariant():
    """SGDP reaches the answer, and (the paper's point) without SGD's growth of |W|."""
    gap, growth, b_err = _scale_invariant_run("sgdp", dict(lr=2.0, momentum=0.9))
    assert gap < 1e-10 and b_err < 1e-10, (gap, b_err)
    _, sgd_growth, _ = _scale_invariant_run("sgd", dict(lr=2.0, momentum=0.9))
    assert growth < 1.2 < 2.0 < sgd_growth, (growth, sgd_growth)

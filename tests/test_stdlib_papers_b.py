"""stdlib/optim methods from papers (batch b) against independent implementations.

Every comparison runs 100 steps on the shared harness (tests/reference.py): a random tree
of mixed shapes with a 0-d leaf, gradient = noise + x. All references compute in
float64, so agreement is to rtol 1e-6.

| method             | reference                                                            |
|--------------------|----------------------------------------------------------------------|
| adagrad_norm       | a numpy loop of the paper's two lines; torch Adagrad on 1-element leaves |
| nag_gs             | a numpy loop of the official JAX `nag_gs` update (skolai/nag-gs)     |
| optimistic_amsgrad | a numpy loop of Algorithm 2 of the paper, last gradient as the guess |
| mars               | pytorch_optimizer.MARS 4.1.0, mars_type="adamw"; a numpy loop for coupled decay |
| prox_adamw         | torch.optim.AdamW followed by a soft-threshold                       |
| cautious_adamw     | pytorch_optimizer.AdEMAMix(alpha=0, cautious=True)  (= AdamW + the mask) |
| cautious_lion      | pytorch_optimizer.Lion(cautious=True)                                |

Known reference bugs, and what the tests do about them:
- NAG-GS: the official PyTorch `NAGGS.step()` stores the gamma it passed in, not the one
  `nag_gs()` returns, so gamma never evolves (it runs as NAG4 with another ordering).
  The reference here is the JAX `nag_gs`, whose gamma does evolve; a test pins gamma's
  closed form.
- MARS: with weight_decouple=False, pytorch_optimizer 4.1.0 adds the L2 term to the
  gradient only after the step is computed, so it reaches `last_grad` and nothing else.
  The test compares with the corrected equations (L2 in the gradient everywhere), and
  checks that the same numpy loop with the bug reproduces pytorch_optimizer, which pins
  the diagnosis.
- SoRA: its SparseAdamW thresholds with three masked in-place lines; the third zeroes the
  entries the first two just shrank below tau, so every |x| < 2 tau becomes 0 (and
  |x| == tau is left alone). prox_adamw is the soft-threshold of the paper; a test shows
  the two differ.
"""
import inspect

import numpy as np
import pytest

import iterc
from reference import assert_trees_close, problem, regression_loss_after, run_iterc, run_torch

torch = pytest.importorskip("torch")
po = pytest.importorskip("pytorch_optimizer")


def _ids(h: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in h.items()) or "defaults"


def run_reference(init, step, params: dict, noises: list) -> dict:
    """A per-leaf numpy reference on the harness trajectory: `init(x)` gives a leaf's state,
    `step(t, x, g, state)` returns the new x and state."""
    x = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    states = {k: init(v) for k, v in x.items()}
    for t, noise in enumerate(noises, start=1):
        for k in x:
            x[k], states[k] = step(t, x[k], noise[k] + x[k], states[k])
    return x


def ours_defaults(name: str) -> dict:
    return iterc.load(name).numpy().hypers.as_dict()


# ---------------------------------------------------------------- adagrad_norm

def adagrad_norm_reference(lr=1.0, initial_accumulator=1e-2):
    """b_k^2 = b_{k-1}^2 + |g_k|^2 ;  x_{k+1} = x_k - lr / b_k * g_k, one b per leaf."""
    def step(t, x, g, b_sq):
        b_sq = b_sq + float(np.sum(g * g))
        return x - lr / np.sqrt(b_sq) * g, b_sq
    return (lambda x: initial_accumulator), step


@pytest.mark.parametrize("hypers", [dict(), dict(lr=0.3, initial_accumulator=2.0)], ids=_ids)
def test_adagrad_norm_matches_reference(hypers):
    params, noises = problem(101)
    ours = run_iterc("adagrad_norm", hypers, params, noises)
    assert_trees_close(ours, run_reference(*adagrad_norm_reference(**hypers), params, noises))


def test_adagrad_norm_is_adagrad_on_one_element_leaves():
    """With one element the leaf's norm is |g|: torch Adagrad with eps = 0 is the same rule."""
    params, noises = problem(102, shapes=[(), (1,), (1, 1)])
    ours = run_iterc("adagrad_norm", dict(lr=0.5, initial_accumulator=0.1), params, noises)
    theirs = run_torch(lambda ps: torch.optim.Adagrad(ps, lr=0.5, initial_accumulator_value=0.1, eps=0.0), params, noises)
    assert_trees_close(ours, theirs)


# ---------------------------------------------------------------- nag_gs

def nag_gs_reference(lr=0.05, mu=1.0, gamma=1.5):
    """The official JAX `scale_by_nag_gs` update_fn, per leaf and in float64 (the JAX code
    keeps gamma as float32). `v` is its `trace`, initialised to a copy of the params; the
    update it returns is added to the params (optax.apply_updates)."""
    def step(t, x, g, state):
        count, gam, v = state
        if count > 0:                     # finish the previous Gauss-Seidel sweep
            norm = lr * mu + gam
            v = v * (gam / norm) + x * (lr * mu / norm) + g * (-lr / norm)
        gam = (lr * mu + gam) / (1 + lr)  # start the next one
        coef = lr / (1 + lr)
        update = v * coef - x * coef
        return x + update, (count + 1, gam, v)
    return (lambda x: (0, gamma, x.copy())), step


NAG_GS_CASES = [dict(), dict(lr=0.1, mu=0.5, gamma=1.0), dict(lr=0.02, mu=0.0, gamma=3.0)]


@pytest.mark.parametrize("hypers", NAG_GS_CASES, ids=_ids)
def test_nag_gs_matches_official_jax_equations(hypers):
    params, noises = problem(111 + len(hypers))
    ours = run_iterc("nag_gs", hypers, params, noises)
    assert_trees_close(ours, run_reference(*nag_gs_reference(**hypers), params, noises))


def test_nag_gs_gamma_evolves():
    """gamma_t = mu + (gamma_0 - mu) / (1 + lr)^t. The PyTorch NAGGS class of skolai/nag-gs
    has a bug that keeps gamma at gamma_0 forever; the JAX code, and this file, do not."""
    opt = iterc.load("nag_gs").numpy(lr=0.1, mu=0.5, gamma=2.0)
    params, noises = problem(112, steps=30)
    state, x = opt.init(params), params
    for noise in noises:
        x, state = opt.step(x, state, {k: noise[k] + x[k] for k in x})
    expected = 0.5 + (2.0 - 0.5) / 1.1 ** 30
    for k in params:
        np.testing.assert_allclose(state["gamma_k"][k], expected, rtol=1e-12)


def test_nag_gs_first_step_leaves_x():
    """The first call only opens a sweep: v starts at x, so x does not move."""
    opt = iterc.load("nag_gs").numpy()
    x = {"w": np.array([1.0, -2.0])}
    x1, _ = opt.step(x, opt.init(x), {"w": np.array([5.0, 5.0])})
    np.testing.assert_array_equal(x1["w"], x["w"])


def test_nag_gs_defaults_are_the_official_jax_ones():
    # nag_gs(alpha=0.05, mu=1.0, gamma=1.5) in nag_gs/nag_gs_jax.py (not on PyPI)
    assert ours_defaults("nag_gs") == dict(lr=0.05, mu=1.0, gamma=1.5)


# ---------------------------------------------------------------- optimistic_amsgrad

def optimistic_amsgrad_reference(lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    """Algorithm 2 of Wang et al. with the guess m_{t+1} = g_t, written with the paper's two
    sequences: the gradient is taken at w_t, w_{t+1/2} is the AMSGrad sequence,
    h_{t+1} = beta1 theta_{t-1} + (1 - beta1) m_{t+1}, and v_0 = vhat_0 = eps."""
    def init(w):
        return dict(w_half=w.copy(), theta=np.zeros_like(w), v=np.full_like(w, eps), vhat=np.full_like(w, eps))

    def step(t, w, g, s):
        theta_prev = s["theta"]
        theta = beta1 * theta_prev + (1 - beta1) * g
        v = beta2 * s["v"] + (1 - beta2) * g ** 2
        vhat = np.maximum(s["vhat"], v)
        w_half = s["w_half"] - lr * theta / np.sqrt(vhat)
        guess = g
        h = beta1 * theta_prev + (1 - beta1) * guess
        w_next = w_half - lr * h / np.sqrt(vhat)
        return w_next, dict(w_half=w_half, theta=theta, v=v, vhat=vhat)
    return init, step


@pytest.mark.parametrize("hypers", [dict(), dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6)], ids=_ids)
def test_optimistic_amsgrad_matches_reference(hypers):
    params, noises = problem(121 + len(hypers))
    ours = run_iterc("optimistic_amsgrad", hypers, params, noises)
    assert_trees_close(ours, run_reference(*optimistic_amsgrad_reference(**hypers), params, noises))


def test_optimistic_amsgrad_takes_the_extra_step():
    """With the last gradient as the guess, each played point is the AMSGrad point moved once
    more along the same direction: x - half = half - prev(half)."""
    opt = iterc.load("optimistic_amsgrad").numpy(lr=0.1)
    x = {"w": np.array([1.0, -1.0, 0.5])}
    state = opt.init(x)
    for g in ([1.0, 2.0, -1.0], [0.5, -1.0, 3.0]):
        half = state["half"]["w"].copy()
        x, state = opt.step(x, state, {"w": np.array(g)})
        np.testing.assert_allclose(x["w"] - state["half"]["w"], state["half"]["w"] - half, rtol=1e-12)


# ---------------------------------------------------------------- mars

MARS_CASES = [
    dict(),
    dict(lr=0.01, gamma=0.1, weight_decay=0.1),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, cautious=True, weight_decay=0.05),
    dict(lr=0.01, beta1=0.9, beta2=0.999, eps=1e-6, fixed_decay=True, weight_decay=0.01),
    dict(lr=0.01, correction=False, amsgrad=True, cautious=True),
]


def _mars_torch_kwargs(h: dict) -> dict:
    return dict(lr=h.get("lr", 3e-3), betas=(h.get("beta1", 0.95), h.get("beta2", 0.99)), gamma=h.get("gamma", 0.025),
                eps=h.get("eps", 1e-8), weight_decay=h.get("weight_decay", 0.0),
                weight_decouple=h.get("weight_decouple", True), fixed_decay=h.get("fixed_decay", False),
                ams_bound=h.get("amsgrad", False), cautious=h.get("cautious", False))


@pytest.mark.parametrize("hypers", MARS_CASES, ids=_ids)
def test_mars_matches_pytorch_optimizer(hypers):
    """optimize_1d=True: the MARS rule on every leaf. correction=false is pytorch_optimizer's
    rule for leaves of rank < 2 (optimize_1d=False), checked here on 1-element leaves."""
    if hypers.get("correction", True):
        params, noises = problem(131 + len(hypers))
        kwargs = dict(optimize_1d=True, **_mars_torch_kwargs(hypers))
    else:
        params, noises = problem(131, shapes=[(5,), (), (1,), (7,)])
        h = _mars_torch_kwargs(hypers)
        kwargs = dict(optimize_1d=False, lr_1d=h.pop("lr"), betas_1d=h.pop("betas"),
                      weight_decay_1d=h.pop("weight_decay"), **h)
    ours = run_iterc("mars", hypers, params, noises)
    theirs = run_torch(lambda ps: po.MARS(ps, mars_type="adamw", **kwargs), params, noises)
    assert_trees_close(ours, theirs)


def test_mars_default_split_by_rank_matches_pytorch_optimizer():
    """pytorch_optimizer.MARS() with all defaults (optimize_1d=False) on the mixed tree equals
    stdlib mars on the leaves of rank >= 2 plus a second instance with correction=false and
    the 1-D defaults (lr_1d=3e-3, betas_1d=(0.9, 0.95), weight_decay_1d=0.1) on the others."""
    params, noises = problem(139)
    high = [k for k, v in params.items() if np.ndim(v) >= 2]
    low = [k for k in params if k not in high]
    assert high and low

    def part(keys, tree):
        return {k: tree[k] for k in keys}
    ours = run_iterc("mars", {}, part(high, params), [part(high, n) for n in noises])
    ours |= run_iterc("mars", dict(correction=False, lr=3e-3, beta1=0.9, beta2=0.95, weight_decay=0.1),
                      part(low, params), [part(low, n) for n in noises])
    theirs = run_torch(lambda ps: po.MARS(ps), params, noises)
    assert_trees_close(ours, theirs)


def mars_reference(lr=3e-3, beta1=0.95, beta2=0.99, gamma=0.025, eps=1e-8, weight_decay=0.0, amsgrad=False,
                   cautious=False, pytorch_optimizer_coupled_bug=False):
    """MARS-AdamW with coupled (L2) weight decay, in numpy. Corrected: d = g + wd * x is the
    gradient everywhere (c, the mask, g_prev). With the bug, as pytorch_optimizer 4.1.0 does
    it: c and the mask use g, and only g_prev gets g + wd * x."""
    def init(x):
        return dict(m=np.zeros_like(x), v=np.zeros_like(x), vmax=np.zeros_like(x), g_prev=np.zeros_like(x))

    def step(t, x, g, s):
        d = g + weight_decay * x
        used = g if pytorch_optimizer_coupled_bug else d
        c = used + gamma * beta1 / (1 - beta1) * (used - s["g_prev"])
        c = c / max(np.linalg.norm(c), 1.0)
        m = beta1 * s["m"] + (1 - beta1) * c
        v = beta2 * s["v"] + (1 - beta2) * c * c
        vmax = np.maximum(s["vmax"], v)
        denom = (np.sqrt((vmax if amsgrad else v) + 1e-15) + eps) / np.sqrt(1 - beta2 ** t) * (1 - beta1 ** t)
        u = m.copy()
        if cautious:
            keep = (u * used > 0).astype(float)
            u = u * keep * (keep.size / (keep.sum() + 1))
        return x - lr * u / denom, dict(m=m, v=v, vmax=vmax, g_prev=d)
    return init, step


@pytest.mark.parametrize("hypers", [dict(lr=0.01, weight_decay=0.1), dict(lr=0.01, weight_decay=0.2, cautious=True, amsgrad=True)],
                         ids=_ids)
def test_mars_coupled_decay_follows_the_corrected_equations(hypers):
    params, noises = problem(141 + len(hypers))
    ours = run_iterc("mars", dict(weight_decouple=False, **hypers), params, noises)
    assert_trees_close(ours, run_reference(*mars_reference(**hypers), params, noises))

    # the same loop with pytorch_optimizer's bug reproduces pytorch_optimizer exactly...
    buggy = run_reference(*mars_reference(pytorch_optimizer_coupled_bug=True, **hypers), params, noises)
    theirs = run_torch(lambda ps: po.MARS(ps, optimize_1d=True, **_mars_torch_kwargs(dict(weight_decouple=False, **hypers))),
                       params, noises)
    assert_trees_close(buggy, theirs)
    # ...and differs from the corrected one (if this fails, pytorch_optimizer fixed it)
    assert not all(np.allclose(ours[k], theirs[k], rtol=1e-3) for k in ours)


def test_mars_defaults_are_pytorch_optimizers():
    sig = inspect.signature(po.MARS.__init__).parameters
    d = ours_defaults("mars")
    assert (d["beta1"], d["beta2"]) == sig["betas"].default
    assert (d["amsgrad"], d["correction"]) == (sig["ams_bound"].default, True)
    for key in ("lr", "gamma", "eps", "weight_decay", "weight_decouple", "fixed_decay", "cautious"):
        assert d[key] == sig[key].default, key


# ---------------------------------------------------------------- prox_adamw

class AdamWThenSoftThreshold:
    """torch.optim.AdamW, then x <- sign(x) * max(|x| - tau, 0) after every step."""

    def __init__(self, params, threshold, threshold_times_lr, **adamw):
        self.params, self.adamw = params, torch.optim.AdamW(params, **adamw)
        self.tau = threshold * adamw.get("lr", 1e-3) if threshold_times_lr else threshold

    @torch.no_grad()
    def step(self):
        self.adamw.step()
        for p in self.params:
            p.copy_(torch.sign(p) * torch.clamp(p.abs() - self.tau, min=0.0))


PROX_CASES = [
    dict(),
    dict(lr=0.01, threshold=0.05),
    dict(lr=0.01, threshold=2.0, threshold_times_lr=True, weight_decay=0.1),
    dict(lr=0.01, threshold=0.02, amsgrad=True, beta1=0.8, beta2=0.99, eps=1e-6),
]


@pytest.mark.parametrize("hypers", PROX_CASES, ids=_ids)
def test_prox_adamw_matches_torch_adamw_plus_soft_threshold(hypers):
    params, noises = problem(151 + len(hypers))
    ours = run_iterc("prox_adamw", hypers, params, noises)
    h = dict(hypers)
    kwargs = dict(threshold=h.pop("threshold", 3e-4), threshold_times_lr=h.pop("threshold_times_lr", False),
                  betas=(h.pop("beta1", 0.9), h.pop("beta2", 0.999)), **h)
    theirs = run_torch(lambda ps: AdamWThenSoftThreshold(ps, **kwargs), params, noises)
    assert_trees_close(ours, theirs)
    if hypers.get("threshold", 0) >= 0.02:
        zeros = sum(int(np.sum(v == 0)) for v in ours.values())
        assert zeros > 0, "the l1 prox should leave exact zeros"


def test_prox_adamw_is_the_soft_threshold_not_soras_masked_lines():
    """With g = 0 and no weight decay the AdamW step is zero, so one step is the prox alone."""
    tau = 0.1
    x0 = np.array([0.15, -0.15, 0.3, 0.05, -0.005, 0.1])
    opt = iterc.load("prox_adamw").numpy(weight_decay=0, threshold=tau)
    ours, _ = opt.step({"w": x0}, opt.init({"w": x0}), {"w": np.zeros_like(x0)})
    np.testing.assert_allclose(ours["w"], [0.05, -0.05, 0.2, 0.0, 0.0, 0.0], atol=1e-15)

    # SoRA src/sparse_optimizer.py, its three lines after the AdamW step, on the same values:
    p = torch.tensor(x0)
    p[p > tau] -= tau
    p[p < -tau] += tau
    p[abs(p) < tau] = 0.0
    # +-0.15 are shrunk to +-0.05 by the first two lines, then zeroed by the third; 0.1 == tau stays
    np.testing.assert_allclose(p.numpy(), [0.0, 0.0, 0.2, 0.0, 0.0, 0.1], atol=1e-15)


def test_prox_adamw_defaults():
    """AdamW's are torch.optim.AdamW's; the threshold is SoRA's sparse_lambda_2 = 3e-4 from
    scripts/run_glue_sora_no_schedule.sh, not scaled by lr as in src/sparse_optimizer.py."""
    sig = inspect.signature(torch.optim.AdamW.__init__).parameters
    d = ours_defaults("prox_adamw")
    for key in ("lr", "eps", "weight_decay", "amsgrad"):
        assert d[key] == sig[key].default, key
    assert (d["beta1"], d["beta2"]) == sig["betas"].default
    assert (d["threshold"], d["threshold_times_lr"]) == (3e-4, False)


# ---------------------------------------------------------------- cautious mask, cautious_adamw, cautious_lion

def test_cautious_def_alone():
    """stdlib/optim/cautious.iter holds only the def: it checks, lists no method, and a user
    file can `use` it. The mask keeps u where u * g > 0 and scales by numel / (kept + 1)."""
    path = iterc.api.stdlib_dir() / "optim" / "cautious.iter"
    assert iterc.check_file(path).ok
    assert "cautious" not in {m.name for m in iterc.list_stdlib()}
    assert {"cautious_adamw", "cautious_lion"} <= {m.name for m in iterc.list_stdlib()}


def test_cautious_mask_values(tmp_path):
    f = tmp_path / "apply_mask.iter"
    f.write_text("use cautious\n\noptimizer apply_mask:\n    param x: real[...]\n    oracle g = grad(x)\n"
                 "    step:\n        x <- cautious_update(x, g)\n")
    opt = iterc.load(f).numpy()
    u = {"a": np.array([1.0, -2.0, 3.0, 0.0]), "s": np.array(2.0), "z": np.array(-1.0)}
    g = {"a": np.array([1.0, 1.0, -1.0, 5.0]), "s": np.array(3.0), "z": np.array(1.0)}
    out, _ = opt.step(u, opt.init(u), g)
    np.testing.assert_allclose(out["a"], [2.0, 0.0, 0.0, 0.0])   # 1 of 4 kept: times 4 / 2
    np.testing.assert_allclose(out["s"], 1.0)                    # a kept 0-d leaf: times 1 / 2
    np.testing.assert_allclose(out["z"], 0.0)


CAUTIOUS_ADAMW_CASES = [dict(), dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1)]


@pytest.mark.parametrize("hypers", CAUTIOUS_ADAMW_CASES, ids=_ids)
def test_cautious_adamw_matches_pytorch_optimizer(hypers):
    """pytorch_optimizer 4.1.0 has no cautious flag on a plain AdamW; AdEMAMix with alpha = 0
    (its slow EMA switched off) and decoupled decay is AdamW, and its cautious flag masks
    the first moment against the gradient, which is the mask on AdamW's step."""
    params, noises = problem(161 + len(hypers))
    ours = run_iterc("cautious_adamw", hypers, params, noises)
    kwargs = dict(lr=hypers.get("lr", 1e-3), betas=(hypers.get("beta1", 0.9), hypers.get("beta2", 0.999), 0.9999),
                  eps=hypers.get("eps", 1e-8), weight_decay=hypers.get("weight_decay", 1e-2), weight_decouple=True,
                  alpha=0.0)
    theirs = run_torch(lambda ps: po.AdEMAMix(ps, cautious=True, **kwargs), params, noises)
    assert_trees_close(ours, theirs)
    # the reference is AdamW when uncautious, and the mask does change the trajectory
    plain = run_torch(lambda ps: po.AdEMAMix(ps, cautious=False, **kwargs), params, noises)
    adamw = run_torch(lambda ps: torch.optim.AdamW(ps, lr=kwargs["lr"], betas=kwargs["betas"][:2], eps=kwargs["eps"],
                                                   weight_decay=kwargs["weight_decay"]), params, noises)
    assert_trees_close(plain, adamw)
    assert not all(np.allclose(ours[k], adamw[k], rtol=1e-4) for k in ours)


def test_cautious_adamw_defaults_are_torch_adamws():
    sig = inspect.signature(torch.optim.AdamW.__init__).parameters
    d = ours_defaults("cautious_adamw")
    for key in ("lr", "eps", "weight_decay"):
        assert d[key] == sig[key].default, key
    assert (d["beta1"], d["beta2"]) == sig["betas"].default


CAUTIOUS_LION_CASES = [
    dict(),
    dict(lr=0.01, beta1=0.8, beta2=0.9, weight_decay=0.1),
    dict(lr=0.01, weight_decay=0.1, weight_decouple=False),
    dict(lr=0.01, weight_decay=0.5, fixed_decay=True),
]


@pytest.mark.parametrize("hypers", CAUTIOUS_LION_CASES, ids=_ids)
def test_cautious_lion_matches_pytorch_optimizer(hypers):
    params, noises = problem(171 + len(hypers))
    ours = run_iterc("cautious_lion", hypers, params, noises)
    h = dict(hypers)
    kwargs = dict(betas=(h.pop("beta1", 0.9), h.pop("beta2", 0.99)), **h)
    theirs = run_torch(lambda ps: po.Lion(ps, cautious=True, **kwargs), params, noises)
    assert_trees_close(ours, theirs)


def test_cautious_lion_defaults_are_pytorch_optimizers():
    sig = inspect.signature(po.Lion.__init__).parameters
    d = ours_defaults("cautious_lion")
    for key in ("lr", "weight_decay", "weight_decouple", "fixed_decay"):
        assert d[key] == sig[key].default, key
    assert (d["beta1"], d["beta2"]) == sig["betas"].default


# ---------------------------------------------------------------- smoke: least squares

SMOKE = [
    ("adagrad_norm", dict(), 1e-8),
    ("nag_gs", dict(), 1e-3),
    ("optimistic_amsgrad", dict(lr=0.05), 1e-6),
    ("mars", dict(lr=0.05), 1e-5),
    ("mars", dict(lr=0.05, correction=False), 1e-4),
    ("prox_adamw", dict(lr=0.05), 1e-3),
    ("cautious_adamw", dict(lr=0.05), 1e-3),
    ("cautious_lion", dict(lr=0.01), 1e-2),
]


@pytest.mark.parametrize("name,hypers,below", SMOKE, ids=[f"{n}-{_ids(h)}" for n, h, _ in SMOKE])
def test_regression_loss_falls(name, hypers, below):
    first, last = regression_loss_after(name, hypers, steps=300)
    assert first > 1
    assert last < below, (name, first, last)

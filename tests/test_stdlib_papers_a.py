"""stdlib/optim, papers batch A, against independent implementations: 100 steps on the shared
random parameter trees (tests/reference.py: mixed shapes with a 0-d leaf, gradient = noise + x),
in float64, to 1e-6 relative.

| method              | reference                                                                    |
|---------------------|------------------------------------------------------------------------------|
| ademamix            | optax.contrib.ademamix (0.2.8)                                               |
| simplified_ademamix | optax.contrib.simplified_ademamix                                            |
| adopt               | optax.contrib.adopt                                                          |
| sophia              | the official SophiaG equations (Liuhong99/Sophia `sophia.py` + the refresh   |
|                     | loop of `train_sophiag.py`, HEAD a7e1572), re-derived here as a numpy loop;   |
|                     | also the paper's Algorithm 1, and optax.contrib.sophia (differences below)   |
| sophia_h            | pytorch_optimizer.SophiaH (4.1.0), its own Hutchinson estimate               |
| diffgrad            | pytorch_optimizer.DiffGrad (4.1.0), and the official diffGrad_v2.py equations |

Known reference bugs (see /work/shared/research/seeds_000_002.md, A1 and B1):
- pytorch_optimizer.DiffGrad <= 3.9.0 never applied the diffGrad coefficient (nor sqrt(1 - beta2^t))
  in its default mode; 4.1.0 fixes it. The official diffGrad.py (v1) aliased the previous gradient,
  so the coefficient was always sigmoid(0) = 1/2; diffGrad_v2.py copies it. We follow v2 and check
  both pytorch_optimizer >= 4.1.0 and a transcription of diffGrad_v2.py.
- pytorch_optimizer <= 3.9.0 drew its Rademacher Hutchinson probe as randint_like(p, 0, 1) * 2 - 1,
  always -1. Fixed in 4.1.0; SophiaH's default probe is Gaussian anyway, which is what we use.
"""
import importlib.metadata
import inspect

import numpy as np
import pytest

import iterc
from tests.reference import (assert_trees_close, gradient, problem, regression_loss_after, run_iterc,
                             run_optax)

torch = pytest.importorskip("torch")
optax = pytest.importorskip("optax")
pytorch_optimizer = pytest.importorskip("pytorch_optimizer")


def _ids(h: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in h.items()) or "defaults"


def _version(name: str) -> tuple:
    return tuple(int(p) for p in importlib.metadata.version(name).split(".")[:3] if p.isdigit())


def test_reference_versions_have_the_fixes():
    """The pytorch_optimizer oracles are correct only from 4.1.0 on (see the module docstring)."""
    assert _version("pytorch_optimizer") >= (4, 1, 0)


def _run_iterc_steps(name, hypers, params, steps, grad_fn, oracles=None, overrides=None):
    """Like reference.run_iterc, with any gradient `grad_fn(t, x)` and per-step hyper overrides."""
    opt = iterc.load(name).numpy(**hypers)
    state = opt.init(params)
    x = params
    for t in range(1, steps + 1):
        g = grad_fn(t, x)
        extra = dict(oracles(t, x, g)) if oracles is not None else {}
        if overrides is not None:
            extra.update(overrides(t))
        x, state = opt.step(x, state, g, **extra)
    return x


# ---------------------------------------------------------------- ademamix (optax.contrib)

ADEMAMIX_CASES = [
    dict(lr=0.01),
    dict(lr=0.01, beta1=0.8, beta2=0.99, beta3=0.999, alpha=8.0),
    dict(lr=0.005, eps=1e-6, eps_root=1e-8, weight_decay=0.1),
    dict(lr=0.02, beta3=0.99, alpha=0.0),
]


def _optax_ademamix(h):
    return optax.contrib.ademamix(learning_rate=h["lr"], **{o: h[k] for k, o in [
        ("beta1", "b1"), ("beta2", "b2"), ("beta3", "b3"), ("alpha", "alpha"), ("eps", "eps"),
        ("eps_root", "eps_root"), ("weight_decay", "weight_decay")] if k in h})


@pytest.mark.parametrize("hypers", ADEMAMIX_CASES, ids=_ids)
def test_ademamix_matches_optax(hypers):
    params, noises = problem(seed=101 + len(hypers))
    ours = run_iterc("ademamix", hypers, params, noises)
    assert_trees_close(ours, run_optax(_optax_ademamix(hypers), params, noises))


def _paper_alpha(count, alpha, warmup):
    """The paper's linear warm-up of alpha (Pagliardini et al., Sec. 3), at optax's count = t - 1."""
    return min(count * alpha / warmup, alpha)


def _paper_beta3(count, beta1, beta3, warmup):
    """The paper's warm-up of beta3, linear in the EMA's half-life, from beta1 to beta3."""
    a = min(count / warmup, 1.0)
    return min(np.exp(np.log(beta1) * np.log(beta3) / ((1 - a) * np.log(beta3) + a * np.log(beta1))), beta3)


def test_ademamix_schedules_are_per_step_overrides():
    """optax takes callables for alpha and b3 (of its count, t - 1); ours takes the value per step."""
    params, noises = problem(seed=131)
    warmup, alpha, beta1, beta3 = 60, 5.0, 0.9, 0.999
    # optax's count is an int32 array, and jax divides int32 in float32 even with x64 on: cast first
    a_sched = lambda c: _paper_alpha(np.float64(c), alpha, warmup)  # noqa: E731
    b_sched = lambda c: _paper_beta3(np.float64(c), beta1, beta3, warmup)  # noqa: E731
    ours = _run_iterc_steps("ademamix", dict(lr=0.01), params, len(noises),
                            lambda t, x: gradient(x, noises[t - 1]),
                            overrides=lambda t: dict(alpha=a_sched(t - 1), beta3=b_sched(t - 1)))
    theirs = run_optax(optax.contrib.ademamix(learning_rate=0.01, b1=beta1, b3=b_sched, alpha=a_sched),
                       params, noises)
    assert_trees_close(ours, theirs)


# ---------------------------------------------------------------- simplified_ademamix (optax.contrib)

SIMPLIFIED_CASES = [
    dict(lr=0.001),
    dict(lr=0.003, beta1=0.9, beta2=0.99, alpha=2.0),
    dict(lr=0.001, alpha=10.0, eps=1e-6, eps_root=1e-10, weight_decay=0.05),
]


@pytest.mark.parametrize("hypers", SIMPLIFIED_CASES, ids=_ids)
def test_simplified_ademamix_matches_optax(hypers):
    params, noises = problem(seed=151 + len(hypers))
    tx = optax.contrib.simplified_ademamix(learning_rate=hypers["lr"], **{o: hypers[k] for k, o in [
        ("beta1", "b1"), ("beta2", "b2"), ("alpha", "alpha"), ("eps", "eps"), ("eps_root", "eps_root"),
        ("weight_decay", "weight_decay")] if k in hypers})
    ours = run_iterc("simplified_ademamix", hypers, params, noises)
    assert_trees_close(ours, run_optax(tx, params, noises))


def test_simplified_ademamix_alpha_schedule():
    """optax's alpha may be a schedule of its count t - 1; ours is a per-step override."""
    params, noises = problem(seed=161)
    sched = lambda c: 4.0 * min(np.float64(c) / 50, 1.0)  # noqa: E731
    ours = _run_iterc_steps("simplified_ademamix", dict(lr=0.002), params, len(noises),
                            lambda t, x: gradient(x, noises[t - 1]), overrides=lambda t: dict(alpha=sched(t - 1)))
    theirs = run_optax(optax.contrib.simplified_ademamix(learning_rate=0.002, alpha=sched), params, noises)
    assert_trees_close(ours, theirs)


# ---------------------------------------------------------------- adopt (optax.contrib)

ADOPT_CASES = [
    dict(lr=0.01),
    dict(lr=0.01, nesterov=True),
    dict(lr=0.003, clipping=False),
    dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-4, clip_exponent=0.5, nesterov=True),
    dict(lr=0.02, clipping=False, nesterov=True, beta2=0.5),
]


@pytest.mark.parametrize("hypers", ADOPT_CASES, ids=_ids)
def test_adopt_matches_optax(hypers):
    params, noises = problem(seed=171 + len(hypers))
    p = hypers.get("clip_exponent", 0.25)
    renamed = {o: hypers[k] for k, o in [("beta1", "b1"), ("beta2", "b2"), ("eps", "eps"), ("nesterov", "nesterov"),
                                         ("clipping", "use_clipping")] if k in hypers}
    tx = optax.contrib.adopt(learning_rate=hypers["lr"], clip_value_fn=lambda c: np.float64(c) ** p, **renamed)
    ours = run_iterc("adopt", hypers, params, noises)
    assert_trees_close(ours, run_optax(tx, params, noises))


def test_adopt_first_step_does_not_move():
    """Step 1 only initialises v = g^2 (optax: b1 is 1 and the clip bound 0^(1/4) = 0 there)."""
    params, noises = problem(seed=3, steps=1)
    ours = run_iterc("adopt", dict(lr=0.1), params, noises)
    assert_trees_close(ours, params, rtol=0, atol=0)


# ---------------------------------------------------------------- sophia (official SophiaG equations)
#
# The reference is a plain numpy transcription of the official code (Liuhong99/Sophia, HEAD a7e1572):
#   sophia.py::_single_tensor_sophiag   x *= 1 - lr*wd;  m = b1*m + (1-b1)*g;
#                                       x -= lr * sign(m) * min(|m| / (rho*bs*h + 1e-15), 1)
#   sophia.py::SophiaG.update_hessian   h = b2*h + (1-b2) * ghat*ghat
#   train_sophiag.py                    update_hessian() after the optimizer step when
#                                       iter_num % hess_interval == hess_interval - 1 (0-based), i.e.
#                                       after steps k, 2k, ..., at the new iterate; none before step 1.
# The paper's Algorithm 1 refreshes at t = 1, k+1, 2k+1, ... *before* the update and divides by
# max(gamma*h, eps). Ours follows the paper; on step 1 we pass a zero estimate to reproduce the
# official loop (h stays 0, so steps 1..k are sign steps, as there). The official +1e-15 instead of
# max(., 1e-15) differs by at most 1e-15 in the denominator; with the nonnegative GNB estimates used
# here the results agree to rounding.
#
# The estimate: GNB, ghat * ghat with ghat a second gradient sample at the current iterate (in SophiaG,
# the gradient of the loss on labels sampled from the model), fed to our hess_diag oracle.

def _ghat_sq(x, t, noises2):
    return {k: (noises2[t - 1][k] + x[k]) ** 2 for k in x}


def _sophia_official(params, noises, noises2, lr=1e-4, beta1=0.965, beta2=0.99, rho=0.04, bs=5120,
                     weight_decay=1e-1, k=10, paper=False):
    """SophiaG as the official code runs it (paper=False), or Algorithm 1 of the paper (paper=True)."""
    x = {kk: np.array(v, dtype=np.float64) for kk, v in params.items()}
    m = {kk: np.zeros_like(v) for kk, v in x.items()}
    h = {kk: np.zeros_like(v) for kk, v in x.items()}
    for t in range(1, len(noises) + 1):
        if paper and (t - 1) % k == 0:
            est = _ghat_sq(x, t, noises2)
            h = {kk: beta2 * h[kk] + (1 - beta2) * est[kk] for kk in x}
        g = gradient(x, noises[t - 1])
        for kk in x:
            x[kk] = x[kk] * (1 - lr * weight_decay)
            m[kk] = beta1 * m[kk] + (1 - beta1) * g[kk]
            if paper:
                step = np.clip(m[kk] / np.maximum(rho * bs * h[kk], 1e-15), -1, 1)
            else:
                step = np.sign(m[kk]) * np.minimum(np.abs(m[kk]) / (rho * bs * h[kk] + 1e-15), 1)
            x[kk] = x[kk] - lr * step
        if not paper and t % k == 0 and t < len(noises):
            est = _ghat_sq(x, t + 1, noises2)      # on the next batch, at the new iterate
            h = {kk: beta2 * h[kk] + (1 - beta2) * est[kk] for kk in x}
    return x


SOPHIA_CASES = [
    dict(),
    dict(lr=0.01, rho=0.05, batch_size=100, weight_decay=0.2, update_period=5),
    dict(lr=0.003, beta1=0.9, beta2=0.95, rho=1.0, batch_size=1, weight_decay=0.0, update_period=1),
    dict(lr=0.02, beta1=0.5, rho=0.01, batch_size=64, update_period=7),
]
_OFFICIAL_NAMES = dict(lr="lr", beta1="beta1", beta2="beta2", rho="rho", batch_size="bs",
                       weight_decay="weight_decay", update_period="k")


@pytest.mark.parametrize("paper", [False, True], ids=["official-loop", "paper-algorithm-1"])
@pytest.mark.parametrize("hypers", SOPHIA_CASES, ids=_ids)
def test_sophia_matches_official_equations(hypers, paper):
    params, noises = problem(seed=191 + len(hypers))
    _, noises2 = problem(seed=291 + len(hypers))
    k = hypers.get("update_period", 10)

    def hess(t, x, g):
        if (t - 1) % k != 0:
            return {}
        if t == 1 and not paper:
            return {"hhat": {kk: np.zeros_like(v) for kk, v in x.items()}}
        return {"hhat": _ghat_sq(x, t, noises2)}

    ours = run_iterc("sophia", hypers, params, noises, oracles=hess)
    theirs = _sophia_official(params, noises, noises2, paper=paper,
                              **{_OFFICIAL_NAMES[key]: v for key, v in hypers.items()})
    assert_trees_close(ours, theirs)
    # the cases mix clipped and unclipped coordinates: 98%, 75%, 92% and 8% of the ratios |m / (gamma h)|
    # stay below 1 over the run (measured when the cases were chosen); and every leaf moves
    for kk in ours:
        assert not np.allclose(ours[kk], params[kk])


def test_sophia_and_optax_contrib_sophia():
    """optax.contrib.sophia (levanter-style) differs from SophiaG in these ways:
    1. it bias-corrects the momentum, m / (1 - b1^t); SophiaG does not;
    2. it refreshes h at steps 1, k+1, 2k+1, ... *after* computing that step's update, so the update
       at step t uses the estimates of earlier steps only: h changes at steps 2, k+2, 2k+2, ..., one
       step out of phase with `every k`; for k > 1 no oracle feeding can reproduce that;
    3. gamma is one number (our rho * batch_size) and the denominator is max(gamma*h, eps), eps 1e-8;
    4. its default estimator is Hutchinson with Rademacher probes (the paper's SophiaH uses Gaussian
       ones), weight decay defaults to 1e-4 (SophiaG 1e-1), and clip_threshold generalises the bound 1.
    With beta1 = 0 (no momentum, so 1 is moot), k = 1, batch_size = 1, eps = 1e-8, and our oracle fed
    on step t with the estimate optax took on step t - 1 (0 on step 1), the two agree step for step."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    params, noises = problem(seed=211)
    _, noises2 = problem(seed=212)
    gamma = 0.5

    def init(_):
        return optax.EmptyState()

    def update(updates, state, params=None, hhat=None, **_):
        return hhat, state

    tx = optax.contrib.sophia(learning_rate=0.01, b1=0.0, weight_decay=0.05, gamma=gamma, eps=1e-8,
                              update_interval=1,
                              hessian_diagonal_fn=optax.GradientTransformationExtraArgs(init, update))
    # run_optax's loop, jitted: sophia's lax.cond is slow to run eagerly
    tx_update = jax.jit(tx.update)
    x = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
    state = tx.init(x)
    for t, noise in enumerate(noises, start=1):
        g = {k: jnp.asarray(noise[k]) + x[k] for k in noise}
        hhat = _ghat_sq({k: np.asarray(v) for k, v in x.items()}, t, noises2)
        updates, state = tx_update(g, state, x, hhat={k: jnp.asarray(v) for k, v in hhat.items()})
        x = optax.apply_updates(x, updates)
    theirs = {k: np.asarray(v) for k, v in x.items()}

    taken = []        # the estimates optax took, one per step

    def shifted(t, x, g):
        fed = taken[-1] if taken else {kk: np.zeros_like(v) for kk, v in x.items()}
        taken.append(_ghat_sq(x, t, noises2))
        return {"hhat": fed}

    ours = run_iterc("sophia", dict(lr=0.01, beta1=0.0, weight_decay=0.05, rho=gamma, batch_size=1, eps=1e-8,
                                    update_period=1), params, noises, oracles=shifted)
    assert_trees_close(ours, theirs)


# ---------------------------------------------------------------- sophia_h (pytorch_optimizer.SophiaH)
#
# SophiaH computes its own Hutchinson estimate u * (H u), u = torch.randn_like(p), from a loss
# backpropagated with create_graph=True. We run it on a real loss whose gradient is the harness's
# noise + x (+ a coupling term that makes H non-diagonal), record the probes it draws, and feed the
# same u and H u to our rand_normal and hvp oracles. The loss is quadratic, so H u does not depend on x.

def _sophia_h_loss(tparams, noise, coupling):
    total = 0
    for k, p in tparams.items():
        total = total + (torch.as_tensor(noise[k]) * p).sum() + 0.5 * (p * p).sum() + 0.5 * coupling * p.sum() ** 2
    return total


def _torch_sophia_h_kwargs(h):
    out = {{"clip_threshold": "p"}.get(k, k): v for k, v in h.items() if k not in ("beta1", "beta2")}
    out["betas"] = (h.get("beta1", 0.96), h.get("beta2", 0.99))
    return out


# (hypers, coupling). With the default clip_threshold nearly every coordinate is clipped (the test then
# checks little beyond sign(m)); the large thresholds leave 68-96% of them unclipped.
SOPHIA_H_CASES = [
    (dict(), 0.0),
    (dict(lr=0.01, beta1=0.9, beta2=0.95, clip_threshold=5.0, update_period=3), 0.0),
    (dict(lr=0.01, clip_threshold=10.0, weight_decay=0.1), 0.0),
    (dict(weight_decay=0.05, fixed_decay=True), 0.0),
    (dict(lr=0.01, beta2=0.8, clip_threshold=10.0, weight_decay=0.1, weight_decouple=False), 0.0),
    (dict(lr=0.02, eps=1e-3, update_period=1, clip_threshold=2.0), 0.3),
    (dict(lr=0.005, update_period=4, clip_threshold=20.0), -0.2),
]


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph=True")
@pytest.mark.parametrize("hypers,coupling", SOPHIA_H_CASES,
                         ids=lambda c: _ids(c) if isinstance(c, dict) else f"coupling={c}")
def test_sophia_h_matches_pytorch_optimizer(hypers, coupling, monkeypatch):
    params, noises = problem(seed=231 + len(hypers))
    keys = list(params)
    probes = []
    real_randn_like = torch.randn_like

    def recording_randn_like(p, *a, **kw):
        z = real_randn_like(p, *a, **kw)
        probes.append(z.detach().numpy().copy())
        return z

    monkeypatch.setattr(torch, "randn_like", recording_randn_like)
    torch.manual_seed(0)
    tparams = {k: torch.tensor(params[k], dtype=torch.float64, requires_grad=True) for k in keys}
    topt = pytorch_optimizer.SophiaH(list(tparams.values()), **_torch_sophia_h_kwargs(hypers))
    for noise in noises:
        topt.zero_grad(set_to_none=True)
        _sophia_h_loss(tparams, noise, coupling).backward(create_graph=True)
        topt.step()
    theirs = {k: p.detach().numpy() for k, p in tparams.items()}
    monkeypatch.undo()

    k_period = hypers.get("update_period", 10)
    refreshes = len(range(1, len(noises) + 1, k_period))
    assert len(probes) == refreshes * len(keys)        # one Gaussian probe per leaf per refresh

    def hutchinson(t, x, g):
        if (t - 1) % k_period != 0:
            return {}
        i = (t - 1) // k_period
        u = dict(zip(keys, probes[i * len(keys):(i + 1) * len(keys)]))
        return {"u": u, "hu": {k: u[k] + coupling * np.sum(u[k]) for k in keys}}

    ours = _run_iterc_steps("sophia_h", hypers, params, len(noises),
                            lambda t, x: {k: noises[t - 1][k] + x[k] + coupling * np.sum(x[k]) for k in keys},
                            oracles=hutchinson)
    assert_trees_close(ours, theirs)


# ---------------------------------------------------------------- diffgrad (pytorch_optimizer.DiffGrad)

DIFFGRAD_CASES = [
    dict(),
    dict(lr=0.01, beta1=0.8, beta2=0.99, weight_decay=0.1),
    dict(lr=0.01, weight_decay=0.1, weight_decouple=True),
    dict(lr=0.01, weight_decay=0.05, weight_decouple=True, fixed_decay=True),
    dict(lr=0.01, ams_bound=True, eps=1e-6),
    dict(lr=0.01, rectify=True),
    dict(lr=0.01, rectify=True, degenerated_to_sgd=False, n_sma_threshold=6, ams_bound=True, weight_decay=0.01),
]


def _torch_diffgrad_kwargs(h):
    out = {k: v for k, v in h.items() if k not in ("beta1", "beta2")}
    out["betas"] = (h.get("beta1", 0.9), h.get("beta2", 0.999))
    out.setdefault("weight_decouple", False)       # the official (v2) form: L2 added to the gradient
    return out


@pytest.mark.parametrize("hypers", DIFFGRAD_CASES, ids=_ids)
def test_diffgrad_matches_pytorch_optimizer(hypers):
    """pytorch_optimizer's denominator is sqrt(v + 1e-15) + eps, ours (and diffGrad_v2's) sqrt(v) + eps:
    a relative difference below 1e-12 here."""
    from tests.reference import run_torch
    params, noises = problem(seed=251 + len(hypers))
    ours = run_iterc("diffgrad", hypers, params, noises)
    theirs = run_torch(lambda ps: pytorch_optimizer.DiffGrad(ps, **_torch_diffgrad_kwargs(hypers)), params, noises)
    assert_trees_close(ours, theirs)


def _diffgrad_v2(params, noises, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """shivram1987/diffGrad diffGrad_v2.py, in numpy (the previous gradient is a copy, not an alias)."""
    x = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    m, v, prev = ({k: np.zeros_like(a) for k, a in x.items()} for _ in range(3))
    for t, noise in enumerate(noises, start=1):
        for k in x:
            g = noise[k] + x[k] + weight_decay * x[k]
            m[k] = beta1 * m[k] + (1 - beta1) * g
            v[k] = beta2 * v[k] + (1 - beta2) * g * g
            dfc = 1.0 / (1.0 + np.exp(-np.abs(prev[k] - g)))
            prev[k] = g.copy()
            x[k] = x[k] - lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) * dfc * m[k] / (np.sqrt(v[k]) + eps)
    return x


@pytest.mark.parametrize("hypers", [dict(), dict(lr=0.01, weight_decay=0.1)], ids=_ids)
def test_diffgrad_matches_official_v2(hypers):
    params, noises = problem(seed=271 + len(hypers))
    assert_trees_close(run_iterc("diffgrad", hypers, params, noises), _diffgrad_v2(params, noises, **hypers))


def test_diffgrad_friction_is_not_the_v1_alias_bug():
    """With the v1 bug the coefficient is always 1/2: diffGrad would be Adam at half the step. Ours is not."""
    params, noises = problem(seed=5)
    ours = run_iterc("diffgrad", dict(lr=0.01), params, noises)
    half_adam = run_iterc("adam", dict(lr=0.005), params, noises)
    assert any(not np.allclose(ours[k], half_adam[k], rtol=1e-3) for k in ours)


# ---------------------------------------------------------------- defaults

def _signature_defaults(fn):
    params = inspect.signature(fn).parameters.items()
    return {k: p.default for k, p in params if p.default is not inspect.Parameter.empty}


def _assert_defaults(name, expected, required=()):
    if required:
        with pytest.raises(ValueError, match=required[0]):
            iterc.load(name).numpy()
    ours = iterc.load(name).numpy(**{r: 1e-3 for r in required}).hypers.as_dict()
    for key, value in expected.items():
        assert ours[key] == value, (name, key, ours[key], value)
    assert set(ours) == set(expected) | set(required), (name, sorted(set(ours) - set(expected) - set(required)))


def test_defaults_match_the_references():
    # optax.contrib: learning_rate has no default there, so lr is required here too
    d = _signature_defaults(optax.contrib.ademamix)
    _assert_defaults("ademamix", dict(beta1=d["b1"], beta2=d["b2"], beta3=d["b3"], alpha=d["alpha"], eps=d["eps"],
                                      eps_root=d["eps_root"], weight_decay=d["weight_decay"]), required=("lr",))
    d = _signature_defaults(optax.contrib.simplified_ademamix)
    _assert_defaults("simplified_ademamix", dict(beta1=d["b1"], beta2=d["b2"], alpha=d["alpha"], eps=d["eps"],
                                                 eps_root=d["eps_root"], weight_decay=d["weight_decay"]),
                     required=("lr",))
    d = _signature_defaults(optax.contrib.adopt)
    assert d["clip_value_fn"](16.0) == 16.0 ** 0.25
    _assert_defaults("adopt", dict(beta1=d["b1"], beta2=d["b2"], eps=d["eps"], nesterov=d["nesterov"],
                                   clipping=d["use_clipping"], clip_exponent=0.25), required=("lr",))
    # the official SophiaG (not installable): SophiaG.__init__(lr=1e-4, betas=(0.965, 0.99), rho=0.04,
    # weight_decay=1e-1), step(bs=5120), the constant 1e-15, and the paper's k = 10 (hess_interval)
    _assert_defaults("sophia", dict(lr=1e-4, beta1=0.965, beta2=0.99, rho=0.04, batch_size=5120, weight_decay=0.1,
                                    update_period=10, eps=1e-15))
    d = _signature_defaults(pytorch_optimizer.SophiaH.__init__)
    _assert_defaults("sophia_h", dict(lr=d["lr"], beta1=d["betas"][0], beta2=d["betas"][1],
                                      weight_decay=d["weight_decay"], weight_decouple=d["weight_decouple"],
                                      fixed_decay=d["fixed_decay"], clip_threshold=d["p"],
                                      update_period=d["update_period"], eps=d["eps"]))
    d = _signature_defaults(pytorch_optimizer.DiffGrad.__init__)
    assert d["weight_decouple"] is True     # ours is False: the official v2 form (coupled L2)
    _assert_defaults("diffgrad", dict(lr=d["lr"], beta1=d["betas"][0], beta2=d["betas"][1],
                                      weight_decay=d["weight_decay"], weight_decouple=False,
                                      fixed_decay=d["fixed_decay"], rectify=d["rectify"],
                                      n_sma_threshold=d["n_sma_threshold"], degenerated_to_sgd=d["degenerated_to_sgd"],
                                      ams_bound=d["ams_bound"], eps=d["eps"]))


# ---------------------------------------------------------------- smoke: least squares

# Each method takes the least-squares loss of tests/reference.py from 6.5 to below 1e-3 in 300 steps
# (the margins are 10x or more).
SMOKE_LOSS = 1e-3


@pytest.mark.parametrize("name,hypers", [
    ("ademamix", dict(lr=0.02, beta3=0.99, alpha=2.0)),
    ("simplified_ademamix", dict(lr=0.002, beta1=0.95)),
    ("adopt", dict(lr=0.05)),
    ("diffgrad", dict(lr=0.05)),
])
def test_smoke_regression(name, hypers):
    first, last = regression_loss_after(name, hypers)
    assert first > 6 and last < SMOKE_LOSS, (name, first, last)


def _least_squares():
    rng = np.random.default_rng(0)
    A = rng.normal(size=(64, 8))
    y = A @ rng.normal(size=8) + 0.5
    n = len(y)

    def loss_and_grad(p):
        r = A @ p["w"] + p["b"] - y
        return 0.5 * float(r @ r) / n, {"w": A.T @ r / n, "b": np.array(r.mean())}

    def hvp(u):        # H = [[A^T A, A^T 1], [1^T A, n]] / n over (w, b)
        Au = A @ u["w"] + u["b"]
        return {"w": A.T @ Au / n, "b": np.array(Au.mean())}

    hess_diag = {"w": np.sum(A * A, axis=0) / n, "b": np.array(1.0)}
    return loss_and_grad, hvp, hess_diag


def _smoke_loop(name, hypers, oracles, steps=300):
    loss_and_grad, _, _ = _least_squares()
    params = {"w": np.zeros(8), "b": np.array(0.0)}
    opt = iterc.load(name).numpy(**hypers)
    state = opt.init(params)
    first, _ = loss_and_grad(params)
    for t in range(1, steps + 1):
        _, g = loss_and_grad(params)
        params, state = opt.step(params, state, g, **oracles(t, params))
    return first, loss_and_grad(params)[0]


def test_smoke_sophia_with_exact_hessian_diagonal():
    _, _, hess_diag = _least_squares()
    first, last = _smoke_loop("sophia", dict(lr=0.1, beta1=0.9, rho=1.0, batch_size=1, weight_decay=0.0,
                                             update_period=5), lambda t, p: {"hhat": hess_diag})
    assert first > 6 and last < SMOKE_LOSS, (first, last)


def test_smoke_sophia_h_with_hutchinson_probes():
    _, hvp, _ = _least_squares()
    rng = np.random.default_rng(1)

    def probes(t, p):
        if (t - 1) % 2 != 0:
            return {}
        u = {"w": rng.normal(size=8), "b": np.array(rng.normal())}
        return {"u": u, "hu": hvp(u)}

    first, last = _smoke_loop("sophia_h", dict(lr=0.5, clip_threshold=0.1, update_period=2), probes)
    assert first > 6 and last < SMOKE_LOSS, (first, last)

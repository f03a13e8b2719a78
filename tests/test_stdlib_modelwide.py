"""stdlib methods built on model-wide values (`total`, `global_norm`, `shared state`),
against their references, on the numpy backend.

| method          | reference                                                              |
|-----------------|------------------------------------------------------------------------|
| polyak_sgd      | optax.polyak_sgd (0.2.8), `value=` the loss                            |
| adamw_clipped   | optax.chain(optax.clip_by_global_norm(c), optax.adamw(lr, ...))        |
| clipping.iter   | `clip_by_global_norm` in SGD vs optax.chain(clip_by_global_norm, sgd)  |
| alr_smag        | a numpy loop of AlrSmag (fabian-sp/step-back, stepback/optim/alr_smag.py) |
| alr_hb          | a numpy loop of the paper's ALR-HB (Wang, Johansson & Zhang, ICML 2023) |
| prodigy         | prodigyopt.Prodigy 1.1.2 (torch, float64): shared states d, d_max, d_numerator |

Every case runs 100 steps on a random tree whose leaves are 2-d, 1-d, 0-d and 4-d
(every shape contributes to the model-wide sums), with the gradient `noise + x` and the
loss `0.5 |x|^2 + 1` over the whole tree, in float64, to rtol 1e-6. The optax side is
one jitted `lax.scan`. Each method also has a smoke test on least squares, where the
gradient and the loss agree.
"""
import numpy as np
import pytest

import iterc
from reference import assert_trees_close, problem, regression_loss_after, run_iterc

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402

SHAPES = [(3, 4), (5,), (), (2, 3, 2, 2)]


def loss(x) -> float:
    return 0.5 * sum(float(np.sum(np.asarray(v) ** 2)) for v in x.values()) + 1.0


def run_optax_scan(tx, params: dict, noises: list, with_value: bool = False) -> dict:
    """`reference.run_optax`, compiled: one jit of the whole loop; `value=` the loss."""
    x0 = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
    stacked = {k: jnp.asarray(np.stack([n[k] for n in noises])) for k in params}

    @jax.jit
    def run(x, noise_seq):
        def body(carry, noise):
            x, state = carry
            g = {k: noise[k] + x[k] for k in noise}
            extra = {"value": 0.5 * sum(jnp.sum(v ** 2) for v in x.values()) + 1.0} if with_value else {}
            updates, state = tx.update(g, state, x, **extra)
            return (optax.apply_updates(x, updates), state), None

        (x, _), _ = jax.lax.scan(body, (x, tx.init(x)), noise_seq)
        return x

    return {k: np.asarray(v) for k, v in run(x0, stacked).items()}


def with_loss(t, x, g):
    return {"f": loss(x)}


# ---------------------------------------------------------------- polyak_sgd

POLYAK_CASES = [
    ({}, {}),
    ({"max_lr": 0.3, "f_min": 0.5}, {"max_learning_rate": 0.3, "f_min": 0.5}),
    ({"scaling": 0.7, "eps": 1e-3}, {"scaling": 0.7, "eps": 1e-3}),
    ({"f_min": 3.0, "positive_gap": True}, {"f_min": 3.0, "variant": "sps+"}),
]


@pytest.mark.parametrize("ours,theirs", POLYAK_CASES, ids=[str(c[0]) or "defaults" for c in POLYAK_CASES])
def test_polyak_sgd_matches_optax(ours, theirs):
    params, noises = problem(0, shapes=SHAPES)
    got = run_iterc("polyak_sgd", ours, params, noises, oracles=with_loss)
    want = run_optax_scan(optax.polyak_sgd(**theirs), params, noises, with_value=True)
    assert_trees_close(got, want, rtol=1e-6)


def test_polyak_sgd_defaults_are_optax_defaults():
    hp = iterc.load("polyak_sgd").numpy().hypers
    assert (hp.max_lr, hp.scaling, hp.f_min, hp.eps, hp.positive_gap) == (1.0, 1.0, 0.0, 0.0, False)


# ---------------------------------------------------------------- adamw_clipped and clip_by_global_norm

@pytest.mark.parametrize("max_norm", [3.0, 8.0, 100.0])      # clipped every step, on some steps, never
def test_adamw_clipped_matches_optax_chain(max_norm):
    params, noises = problem(1, shapes=SHAPES)
    got = run_iterc("adamw_clipped", {"lr": 0.05, "max_norm": max_norm}, params, noises)
    want = run_optax_scan(optax.chain(optax.clip_by_global_norm(max_norm), optax.adamw(0.05)), params, noises)
    assert_trees_close(got, want, rtol=1e-6)


def test_adamw_clipped_hypers_match_optax():
    params, noises = problem(2, shapes=SHAPES)
    ours = {"lr": 0.02, "max_norm": 6.0, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "eps_root": 1e-10,
            "weight_decay": 0.1}
    tx = optax.chain(optax.clip_by_global_norm(6.0),
                     optax.adamw(0.02, b1=0.8, b2=0.99, eps=1e-6, eps_root=1e-10, weight_decay=0.1))
    assert_trees_close(run_iterc("adamw_clipped", ours, params, noises), run_optax_scan(tx, params, noises))
    hp = iterc.load("adamw_clipped").numpy(lr=1.0, max_norm=1.0).hypers
    assert (hp.beta1, hp.beta2, hp.eps, hp.eps_root, hp.weight_decay) == (0.9, 0.999, 1e-8, 0.0, 1e-4)


CLIPPED_SGD = '''
use clipping

optimizer clipped_sgd:
    hyper lr: real = 0.1
    hyper max_norm: real = 1
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - lr * clip_by_global_norm(g, max_norm)
    converges heuristic
'''


@pytest.mark.parametrize("max_norm", [2.0, 9.0])
def test_clip_by_global_norm_def_matches_optax(tmp_path, max_norm):
    path = tmp_path / "clipped_sgd.iter"
    path.write_text(CLIPPED_SGD)
    params, noises = problem(3, shapes=SHAPES)
    got = run_iterc(str(path), {"lr": 0.1, "max_norm": max_norm}, params, noises)
    want = run_optax_scan(optax.chain(optax.clip_by_global_norm(max_norm), optax.sgd(0.1)), params, noises)
    assert_trees_close(got, want, rtol=1e-6)


# ---------------------------------------------------------------- ALR-SMAG and ALR-HB

def alr_smag_reference(params, noises, lr=0.1, beta=0.9, lb=0.0, c=1.0, weight_decay=0.0):
    """AlrSmag.step of fabian-sp/step-back, with numpy arrays for tensors."""
    x = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    d = {k: np.zeros_like(v) for k, v in x.items()}
    for noise in noises:
        value = loss(x)
        norm = 0.0
        for k in x:
            d[k] = d[k] * beta + (noise[k] + x[k])
            norm += np.sum(d[k] * d[k])
        tau = min(lr, (value - lb) / (c * norm))
        for k in x:
            if weight_decay > 0:
                x[k] = x[k] * (1 - weight_decay * tau)
            x[k] = x[k] + (-tau) * d[k]
    return x


def alr_hb_reference(params, noises, beta=0.9, f_min=0.0, max_lr=np.inf):
    """ALR-HB as in the paper: alpha = [f - f* + beta <g, x - x_prev>]_+ / |g|^2, heavy ball."""
    x = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    x_prev = {k: v.copy() for k, v in x.items()}
    for noise in noises:
        g = {k: noise[k] + x[k] for k in x}
        momentum = {k: x[k] - x_prev[k] for k in x}
        gap = loss(x) - f_min + beta * sum(np.sum(g[k] * momentum[k]) for k in x)
        alpha = min(max(gap, 0.0) / sum(np.sum(g[k] * g[k]) for k in x), max_lr)
        x_prev = x
        x = {k: x[k] - alpha * g[k] + beta * momentum[k] for k in x}
    return x


SMAG_CASES = [{}, {"beta": 0.5, "lb": 0.5, "c": 2.0}, {"lr": 0.05, "weight_decay": 0.1}, {"beta": 0.0}]


@pytest.mark.parametrize("hypers", SMAG_CASES, ids=[str(c) or "defaults" for c in SMAG_CASES])
def test_alr_smag_matches_the_step_back_loop(hypers):
    params, noises = problem(4, shapes=SHAPES)
    got = run_iterc("alr_smag", hypers, params, noises, oracles=with_loss)
    assert_trees_close(got, alr_smag_reference(params, noises, **hypers), rtol=1e-6)


def test_alr_smag_without_momentum_is_polyak_sgd():
    params, noises = problem(5, shapes=SHAPES)
    smag = run_iterc("alr_smag", {"beta": 0.0, "c": 1.0, "lr": 0.4, "lb": 0.25}, params, noises, oracles=with_loss)
    sps = run_iterc("polyak_sgd", {"max_lr": 0.4, "f_min": 0.25}, params, noises, oracles=with_loss)
    assert_trees_close(smag, sps, rtol=1e-12)


HB_CASES = [{}, {"beta": 0.5, "f_min": 0.5}, {"beta": 0.3, "max_lr": 0.2}]


@pytest.mark.parametrize("hypers", HB_CASES, ids=[str(c) or "defaults" for c in HB_CASES])
def test_alr_hb_matches_the_paper_loop(hypers):
    params, noises = problem(6, shapes=SHAPES)
    got = run_iterc("alr_hb", hypers, params, noises, oracles=with_loss)
    assert_trees_close(got, alr_hb_reference(params, noises, **hypers), rtol=1e-6)


# ---------------------------------------------------------------- Prodigy: shared states

PRODIGY_CASES = [
    ({}, {}),
    ({"lr": 0.5, "weight_decay": 0.1}, {"lr": 0.5, "weight_decay": 0.1}),
    ({"weight_decay": 0.1, "decouple": False, "use_bias_correction": True},
     {"weight_decay": 0.1, "decouple": False, "use_bias_correction": True}),
    ({"safeguard_warmup": True, "growth_rate": 1.02, "d_coef": 2.0, "beta1": 0.8, "beta3": 0.9},
     {"safeguard_warmup": True, "growth_rate": 1.02, "d_coef": 2.0, "betas": (0.8, 0.999), "beta3": 0.9}),
]


def run_prodigyopt(kwargs, params, noises):
    """prodigyopt.Prodigy on the harness trajectory; the parameters and its final d."""
    torch = pytest.importorskip("torch")
    prodigyopt = pytest.importorskip("prodigyopt")
    tparams = {k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    opt = prodigyopt.Prodigy(list(tparams.values()), **kwargs)
    for noise in noises:
        for k, p in tparams.items():
            p.grad = torch.tensor(noise[k], dtype=torch.float64) + p.detach()
        opt.step()
    group = opt.param_groups[0]
    return {k: p.detach().numpy() for k, p in tparams.items()}, group["d"], group["d_max"], group["d_numerator"]


@pytest.mark.parametrize("ours,theirs", PRODIGY_CASES, ids=[str(c[0]) or "defaults" for c in PRODIGY_CASES])
def test_prodigy_matches_prodigyopt(ours, theirs, capsys):
    params, noises = problem(7, shapes=SHAPES)
    want, d, d_max, d_numerator = run_prodigyopt(theirs, params, noises)
    opt = iterc.load("prodigy").numpy(**ours)
    state = opt.init(params)
    x = params
    for noise in noises:
        x, state = opt.step(x, state, {k: noise[k] + x[k] for k in noise})
    assert_trees_close(x, want, rtol=1e-6)
    np.testing.assert_allclose([state["d"], state["d_max"], state["d_numerator"]], [d, d_max, d_numerator],
                               rtol=1e-6)
    assert state["d"] > 10 * opt.hypers.d0                   # d was learned, not left at d0


def test_prodigy_defaults_are_prodigyopt_defaults():
    hp = iterc.load("prodigy").numpy().hypers
    assert (hp.lr, hp.beta1, hp.beta2, hp.eps, hp.weight_decay, hp.decouple, hp.use_bias_correction,
            hp.safeguard_warmup, hp.d0, hp.d_coef, hp.growth_rate) == \
        (1.0, 0.9, 0.999, 1e-8, 0.0, True, False, False, 1e-6, 1.0, float("inf"))
    assert hp.beta3 == pytest.approx(0.999 ** 0.5)


def test_a_shared_state_is_one_scalar_for_the_whole_tree():
    """Memory: `shared state d` is one number in the state, not a tree of per-leaf copies."""
    params, noises = problem(8, shapes=SHAPES)
    opt = iterc.load("prodigy").numpy()
    state = opt.init(params)
    for _ in range(2):
        assert set(state) == {"t", "p0", "s", "exp_avg", "exp_avg_sq", "d", "d_max", "d_numerator"}
        for name in ("d", "d_max", "d_numerator"):
            assert isinstance(state[name], np.float64) and np.ndim(state[name]) == 0, (name, state[name])
        for name in ("p0", "s", "exp_avg", "exp_avg_sq"):
            assert set(state[name]) == set(params)
        params, state = opt.step(params, state, {k: noises[0][k] + params[k] for k in params})
    assert opt.spec.phased and [s.name for s in opt.spec.states if s.shared] == ["d", "d_max", "d_numerator"]


# ---------------------------------------------------------------- smoke tests: least squares

def least_squares(name, hypers, steps=200, seed=0):
    """(first, last) loss of 0.5 |A w + b - y|^2 / n, interpolable (its minimum is 0), with the
    loss as the `value` oracle and its gradient as `grad`."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(64, 8))
    y = A @ rng.normal(size=8) + 0.5
    params = {"w": np.zeros(8), "b": np.array(0.0)}
    opt = iterc.load(name).numpy(**hypers)
    state = opt.init(params)

    def loss_and_grad(p):
        r = A @ p["w"] + p["b"] - y
        return 0.5 * float(r @ r) / len(y), {"w": A.T @ r / len(y), "b": np.array(r.mean())}

    first, _ = loss_and_grad(params)
    for _ in range(steps):
        f, g = loss_and_grad(params)
        params, state = opt.step(params, state, g, f=f)
    return first, loss_and_grad(params)[0]


@pytest.mark.parametrize("name,hypers,factor", [
    ("polyak_sgd", {}, 1e-6),
    ("alr_smag", {"lr": 1.0}, 1e-4),
    ("alr_hb", {"beta": 0.5}, 1e-4),
])
def test_polyak_family_solves_least_squares(name, hypers, factor):
    first, last = least_squares(name, hypers)
    assert last < factor * first, (first, last)


def test_prodigy_solves_least_squares():
    first, last = regression_loss_after("prodigy", {}, steps=300)
    assert last < 0.01 * first, (first, last)


def test_adamw_clipped_solves_least_squares():
    first, last = regression_loss_after("adamw_clipped", {"lr": 0.05, "max_norm": 1.0})
    assert last < 0.01 * first, (first, last)


def test_the_value_oracle_is_required():
    opt = iterc.load("polyak_sgd").numpy()
    params = {"w": np.zeros(3)}
    with pytest.raises(ValueError, match="oracle `f` \\(value\\) must be supplied"):
        opt.step(params, opt.init(params), {"w": np.ones(3)})


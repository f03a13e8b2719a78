"""Schedule-Free SGD and AdamW (stdlib/optim/schedule_free_*.iter) against their references.

| method              | reference                                                                   |
|---------------------|-----------------------------------------------------------------------------|
| schedule_free_sgd   | schedulefree.SGDScheduleFreeReference 1.4.1 (torch, float64)                |
|                     | optax.contrib.schedule_free_sgd + schedule_free_eval_params (r = 0)         |
| schedule_free_adamw | schedulefree.AdamWScheduleFreeReference 1.4.1 (torch, float64)              |
|                     | optax.contrib.schedule_free_adamw + schedule_free_eval_params (r = 0, decay at y) |

The Reference classes keep all three sequences per parameter (z, the average x, and y,
which the parameter holds while training); `optimizer.eval()` copies x into the
parameters and `train()` copies y back. Our `step` returns y and `eval_params` gives x.
Every case runs 100 steps on a tree of 2-d, 1-d, 0-d and 4-d leaves with the gradient
`noise + y`, in float64, and compares both the training parameters and the evaluation
parameters every 20 steps (1e-5 relative; they agree to ~1e-12), and the model-wide
weight sum and lr_max at the end.

optax differs in spelling, where it has the feature: `warmup_steps=None` for no
warm-up, `b1` for momentum/beta1, no `r` (the weight is lr_max^weight_lr_power, our r = 0)
and no `decay_at_z`; its AdamW adds `weight_decay * y` after the Adam scaling, which is
the Reference's decay at y. It stores only z and rebuilds x = (y - (1 - b1) z) / b1 in
`schedule_free_eval_params`, which needs b1 > 0. And one real difference: with
`warmup_steps`, optax's base step warms up one step behind the averaging weight (its first
z step has lr 0); test_optax_warm_up_of_the_base_step_lags_one_step pins that down.
"""
import inspect
from pathlib import Path

import numpy as np
import pytest

import iterc
from reference import problem

torch = pytest.importorskip("torch")
schedulefree = pytest.importorskip("schedulefree")

SHAPES = [(3, 4), (5,), (), (2, 3, 2, 2)]
STEPS = 100
CHECK_EVERY = 20


def run_ours(name, hypers, params, noises):
    """(train params, eval params) every CHECK_EVERY steps, and the final state."""
    opt = iterc.load(name).numpy(**hypers)
    state = opt.init(params)
    y = params
    out = []
    for t, noise in enumerate(noises, start=1):
        y, state = opt.step(y, state, {k: noise[k] + y[k] for k in noise})
        if t % CHECK_EVERY == 0:
            out.append((y, opt.eval_params(y, state)))
    return out, state


def run_reference(cls, kwargs, params, noises):
    """The same trajectory on a schedulefree Reference optimizer: (train, eval) snapshots
    (eval() swaps x into the parameters, train() swaps y back), and its param group."""
    tparams = {k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    opt = cls(list(tparams.values()), **kwargs)
    opt.train()
    out = []
    for t, noise in enumerate(noises, start=1):
        for k, p in tparams.items():
            p.grad = torch.tensor(noise[k], dtype=torch.float64) + p.detach()
        opt.step()
        if t % CHECK_EVERY == 0:
            train = {k: p.detach().numpy().copy() for k, p in tparams.items()}
            opt.eval()
            ev = {k: p.detach().numpy().copy() for k, p in tparams.items()}
            opt.train()
            np.testing.assert_array_equal(tparams["p0"].detach().numpy(), train["p0"])   # train() restores y
            out.append((train, ev))
    return out, opt.param_groups[0]


def assert_snapshots_close(ours, theirs, rtol=1e-5):
    assert len(ours) == len(theirs) == STEPS // CHECK_EVERY
    for i, ((y, x), (ty, tx)) in enumerate(zip(ours, theirs)):
        for k in ty:
            np.testing.assert_allclose(y[k], ty[k], rtol=rtol, atol=1e-12, err_msg=f"train {k} at check {i}")
            np.testing.assert_allclose(x[k], tx[k], rtol=rtol, atol=1e-12, err_msg=f"eval {k} at check {i}")
    # the views differ: the comparison of eval params is not the train params again
    y, x = ours[-1]
    assert max(float(np.max(np.abs(y[k] - x[k]))) for k in y) > 1e-3


# ---------------------------------------------------------------- SGD

SGD_CASES = [
    ({}, {}),
    ({"lr": 0.3, "momentum": 0.8, "weight_decay": 0.05}, {"lr": 0.3, "momentum": 0.8, "weight_decay": 0.05}),
    ({"lr": 0.5, "warmup_steps": 30, "r": 0.5}, {"lr": 0.5, "warmup_steps": 30, "r": 0.5}),
    ({"lr": 0.2, "warmup_steps": 150, "weight_lr_power": 1.0, "momentum": 0.5},         # warm-up longer than the run
     {"lr": 0.2, "warmup_steps": 150, "weight_lr_power": 1.0, "momentum": 0.5}),
    ({"lr": 0.4, "weight_lr_power": 0.0, "r": 2.0, "warmup_steps": 5, "weight_decay": 0.01},
     {"lr": 0.4, "weight_lr_power": 0.0, "r": 2.0, "warmup_steps": 5, "weight_decay": 0.01}),
]


@pytest.mark.parametrize("ours,theirs", SGD_CASES, ids=[str(c[0]) or "defaults" for c in SGD_CASES])
def test_schedule_free_sgd_matches_the_reference(ours, theirs):
    params, noises = problem(11, steps=STEPS, shapes=SHAPES)
    got, state = run_ours("schedule_free_sgd", ours, params, noises)
    want, group = run_reference(schedulefree.SGDScheduleFreeReference, theirs, params, noises)
    assert_snapshots_close(got, want)
    np.testing.assert_allclose([state["weight_sum"], state["lr_max"]], [group["weight_sum"], group["lr_max"]],
                               rtol=1e-12)
    assert state["t"] == group["k"] == STEPS


# ---------------------------------------------------------------- AdamW

ADAMW_CASES = [
    ({"lr": 0.01}, {"lr": 0.01}),
    ({}, {}),
    ({"lr": 0.02, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1},
     {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.1}),
    ({"lr": 0.05, "weight_decay": 0.2, "decay_at_z": True, "warmup_steps": 20, "r": 1.0},
     {"lr": 0.05, "weight_decay": 0.2, "decay_at_z": True, "warmup_steps": 20, "r": 1.0}),
    ({"lr": 0.03, "beta1": 0.5, "warmup_steps": 200, "weight_lr_power": 3.0},
     {"lr": 0.03, "betas": (0.5, 0.999), "warmup_steps": 200, "weight_lr_power": 3.0}),
]


@pytest.mark.parametrize("ours,theirs", ADAMW_CASES, ids=[str(c[0]) or "defaults" for c in ADAMW_CASES])
def test_schedule_free_adamw_matches_the_reference(ours, theirs, capsys):
    params, noises = problem(12, steps=STEPS, shapes=SHAPES)
    got, state = run_ours("schedule_free_adamw", ours, params, noises)
    want, group = run_reference(schedulefree.AdamWScheduleFreeReference, theirs, params, noises)
    assert_snapshots_close(got, want)
    np.testing.assert_allclose([state["weight_sum"], state["lr_max"]], [group["weight_sum"], group["lr_max"]],
                               rtol=1e-12)


def test_defaults_are_the_reference_defaults():
    sgd = iterc.load("schedule_free_sgd").numpy().hypers
    ref = {k: p.default for k, p in inspect.signature(schedulefree.SGDScheduleFreeReference).parameters.items()}
    assert (sgd.lr, sgd.momentum, sgd.weight_decay, sgd.warmup_steps, sgd.r, sgd.weight_lr_power) == \
        (ref["lr"], ref["momentum"], ref["weight_decay"], ref["warmup_steps"], ref["r"], ref["weight_lr_power"])
    adamw = iterc.load("schedule_free_adamw").numpy().hypers
    ref = {k: p.default for k, p in inspect.signature(schedulefree.AdamWScheduleFreeReference).parameters.items()}
    assert (adamw.lr, (adamw.beta1, adamw.beta2), adamw.eps, adamw.weight_decay, adamw.warmup_steps, adamw.r,
            adamw.weight_lr_power, adamw.decay_at_z) == \
        (ref["lr"], ref["betas"], ref["eps"], ref["weight_decay"], ref["warmup_steps"], ref["r"],
         ref["weight_lr_power"], ref["decay_at_z"])


# ---------------------------------------------------------------- optax.contrib

def run_optax_with_eval(tx, params, noises):
    """optax on the same trajectory, one jitted scan: (train params, schedule_free_eval_params)."""
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    y0 = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
    stacked = {k: jnp.asarray(np.stack([n[k] for n in noises])) for k in params}

    @jax.jit
    def run(y, noise_seq):
        def body(carry, noise):
            y, state = carry
            g = {k: noise[k] + y[k] for k in noise}
            updates, state = tx.update(g, state, y)
            return (optax.apply_updates(y, updates), state), None

        (y, state), _ = jax.lax.scan(body, (y, tx.init(y)), noise_seq)
        return y, optax.contrib.schedule_free_eval_params(state, y)

    y, x = run(y0, stacked)
    return {k: np.asarray(v) for k, v in y.items()}, {k: np.asarray(v) for k, v in x.items()}


OPTAX_CASES = [
    ("schedule_free_sgd", {}, "schedule_free_sgd", {}),
    ("schedule_free_sgd", {"lr": 0.3, "momentum": 0.8, "weight_decay": 0.05, "weight_lr_power": 1.0},
     "schedule_free_sgd", {"learning_rate": 0.3, "b1": 0.8, "weight_decay": 0.05, "weight_lr_power": 1.0}),
    ("schedule_free_adamw", {"lr": 0.01}, "schedule_free_adamw", {"learning_rate": 0.01}),
    ("schedule_free_adamw", {"lr": 0.02, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.1,
                             "weight_lr_power": 3.0},
     "schedule_free_adamw", {"learning_rate": 0.02, "b1": 0.8, "b2": 0.99, "eps": 1e-6, "weight_decay": 0.1,
                             "weight_lr_power": 3.0}),
]


@pytest.mark.parametrize("name,ours,optax_name,theirs", OPTAX_CASES,
                         ids=[f"{c[0]}-{c[1] or 'defaults'}" for c in OPTAX_CASES])
def test_matches_optax_contrib_with_schedule_free_eval_params(name, ours, optax_name, theirs):
    optax = pytest.importorskip("optax")
    params, noises = problem(13, steps=STEPS, shapes=SHAPES)
    snapshots, _ = run_ours(name, ours, params, noises)
    y, x = snapshots[-1]
    ty, tx = run_optax_with_eval(getattr(optax.contrib, optax_name)(**theirs), params, noises)
    for k in ty:
        np.testing.assert_allclose(y[k], ty[k], rtol=1e-6, atol=1e-10, err_msg=f"train {k}")
        np.testing.assert_allclose(x[k], tx[k], rtol=1e-6, atol=1e-10, err_msg=f"eval {k}")


def _lagged(name: str, z_line: str, z_lagged: str, tmp_path):
    """The stdlib file with the base step's warm-up one step behind: lr (t - 1) / warmup_steps."""
    src = (Path(__file__).resolve().parent.parent / "stdlib" / "optim" / f"{name}.iter").read_text()
    assert src.count(z_line) == 1
    path = tmp_path / f"{name}_lagged.iter"
    path.write_text(src.replace(z_line, z_lagged))
    return iterc.load(path)


@pytest.mark.parametrize("name,z_line,z_lagged,ours,theirs", [
    ("schedule_free_sgd", "z <- z - lr_t * (g + weight_decay * y)",
     "z <- z - lr * min((t - 1) / warmup_steps, 1) * (g + weight_decay * y)",
     {"lr": 0.3, "warmup_steps": 30, "weight_decay": 0.05}, {"learning_rate": 0.3, "warmup_steps": 30,
                                                             "weight_decay": 0.05}),
    ("schedule_free_adamw", "z <- z - lr_t * g / (sqrt(v / (1 - beta2 ^ t)) + eps)",
     "z <- z - lr * min((t - 1) / warmup_steps, 1) * g / (sqrt(v / (1 - beta2 ^ t)) + eps)",
     {"lr": 0.02, "warmup_steps": 20}, {"learning_rate": 0.02, "warmup_steps": 20}),
], ids=["sgd", "adamw"])
def test_optax_warm_up_of_the_base_step_lags_one_step(name, z_line, z_lagged, ours, theirs, tmp_path):
    """A documented difference: optax.contrib's schedule_free_* put the warm-up schedule both
    in the wrapper (its count starts at 1: the averaging weight sees lr / warmup_steps on the
    first step, as the Reference) and in the base optimizer (its count starts at 0: the first
    z step has lr 0). So with warm-up, optax equals our method whose z step uses
    lr (t - 1) / warmup_steps, and differs from the Reference and from ours."""
    optax = pytest.importorskip("optax")
    params, noises = problem(14, steps=STEPS, shapes=SHAPES)
    ty, tx = run_optax_with_eval(getattr(optax.contrib, name)(**theirs), params, noises)
    lagged = _lagged(name, z_line, z_lagged, tmp_path).numpy(**ours)
    state, y = lagged.init(params), params
    for noise in noises:
        y, state = lagged.step(y, state, {k: noise[k] + y[k] for k in noise})
    x = lagged.eval_params(y, state)
    for k in ty:     # optax rebuilds x from y and z every step: rounding of ~1e-8 on entries near 0
        np.testing.assert_allclose(y[k], ty[k], rtol=1e-6, atol=1e-7, err_msg=f"train {k}")
        np.testing.assert_allclose(x[k], tx[k], rtol=1e-6, atol=1e-7, err_msg=f"eval {k}")
    snapshots, _ = run_ours(name, ours, params, noises)                 # the stdlib method does differ
    assert max(float(np.max(np.abs(snapshots[-1][0][k] - ty[k]))) for k in ty) > 1e-5


# ---------------------------------------------------------------- convergence

@pytest.mark.parametrize("name,hypers", [("schedule_free_sgd", {"lr": 0.1}),
                                         ("schedule_free_adamw", {"lr": 0.05})])
def test_eval_params_reach_the_minimiser_of_a_noisy_quadratic(name, hypers):
    """f(w) = 0.5 (w - w*)' A (w - w*) with noisy gradients and a constant lr: the eval view
    (the average) ends far closer to w* than the start, and closer than the training point."""
    rng = np.random.default_rng(5)
    Q = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    A = Q @ np.diag(np.linspace(0.5, 2.0, 6)) @ Q.T
    w_star = {"w": rng.normal(size=6), "b": np.array(1.5)}
    opt = iterc.load(name).numpy(**hypers)
    params = {"w": np.zeros(6), "b": np.array(0.0)}
    state = opt.init(params)
    start = np.sqrt(np.sum(w_star["w"] ** 2) + w_star["b"] ** 2)

    def dist(p):
        return float(np.sqrt(np.sum((p["w"] - w_star["w"]) ** 2) + (p["b"] - w_star["b"]) ** 2))

    for _ in range(3000):
        grads = {"w": A @ (params["w"] - w_star["w"]) + 0.3 * rng.normal(size=6),
                 "b": np.array(params["b"] - w_star["b"] + 0.3 * rng.normal())}
        params, state = opt.step(params, state, grads)
    ev = opt.eval_params(params, state)
    assert dist(ev) < 0.02 * start, (dist(ev), start)
    assert dist(ev) < dist(params)

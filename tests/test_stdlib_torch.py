"""stdlib/optim against torch.optim for the methods torch ships beyond SGD and Adam(W):
Adadelta, Adagrad, Adamax, NAdam, RAdam, RMSprop, Rprop and ASGD.

Each configuration (the defaults, then each option that changes the math) runs 100 steps on
the harness's mixed-shape trees (a 0-d leaf included) with gradient `noise + x`, and must
match torch in float64 to rtol 1e-6. A defaults test checks every hyper against torch's
signature, and a smoke test per method checks that it fits a small least-squares problem.

torch keeps its per-parameter scalar states (the step count; NAdam's mu_product; ASGD's eta
and mu) in float32 unless the default dtype is float64. Those roundings alone move ASGD's
iterates by a few 1e-9 in 100 steps (5e-5 relative on small entries), so the comparisons run
torch with float64 as the default dtype: the same algorithm, all in float64.
"""
import inspect
import zlib

import numpy as np
import pytest

import iterc
from reference import assert_trees_close, gradient, problem, regression_loss_after, run_iterc, run_torch

torch = pytest.importorskip("torch")

# torch keyword -> our hyper names, where torch packs two knobs into one tuple
TUPLES = {"betas": ("beta1", "beta2"), "etas": ("etaminus", "etaplus"),
          "step_sizes": ("step_size_min", "step_size_max")}
# torch keywords that are not hypers: implementation switches, and maximize (a runtime option)
NOT_HYPERS = {"self", "params", "foreach", "fused", "capturable", "differentiable", "maximize"}

METHODS = {
    "adadelta": torch.optim.Adadelta,
    "adagrad": torch.optim.Adagrad,
    "adamax": torch.optim.Adamax,
    "nadam": torch.optim.NAdam,
    "radam": torch.optim.RAdam,
    "rmsprop": torch.optim.RMSprop,
    "rprop": torch.optim.Rprop,
    "asgd": torch.optim.ASGD,
}

@pytest.fixture(autouse=True)
def torch_scalars_in_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


CASES = {
    "adadelta": [
        dict(),
        dict(lr=0.5, rho=0.95),
        dict(eps=1e-3),
        dict(weight_decay=0.1),
    ],
    "adagrad": [
        dict(),
        dict(lr=0.1, lr_decay=0.05),
        dict(initial_accumulator_value=0.5),
        dict(lr=0.05, weight_decay=0.1, eps=1e-3),
    ],
    "adamax": [
        dict(),
        dict(lr=0.01, beta1=0.8, beta2=0.95),
        dict(eps=1e-2),
        dict(lr=0.01, weight_decay=0.1),
    ],
    "nadam": [
        dict(),
        dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-4),
        dict(lr=0.01, momentum_decay=0.05),
        dict(lr=0.01, weight_decay=0.1),
        dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    ],
    "radam": [
        dict(),  # rho_t > 5 from step 6: both branches run
        dict(lr=0.01, beta1=0.8, beta2=0.9, eps=1e-4),
        dict(lr=0.01, weight_decay=0.1),
        dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    ],
    "rmsprop": [
        dict(),
        dict(lr=0.005, alpha=0.9, eps=1e-4),
        dict(centered=True),
        dict(lr=0.002, momentum=0.9),
        dict(lr=0.002, momentum=0.5, centered=True, weight_decay=0.05),
        dict(weight_decay=0.1),
    ],
    "rprop": [
        dict(),
        dict(lr=0.1, etaminus=0.3, etaplus=1.5),
        dict(step_size_min=5e-3, step_size_max=0.05),  # both clamps bind
    ],
    "asgd": [
        dict(),  # t0 = 1e6: no averaging, ax follows x
        dict(lr=0.05, lambd=1e-2, alpha=0.6),
        dict(lr=0.05, t0=30),  # averaging (mu < 1) from step 33
        dict(lr=0.05, t0=10.5, weight_decay=0.1),
    ],
}


def torch_kwargs(cls, hypers: dict) -> dict:
    """Our hypers as torch keywords for `cls`: split pairs become tuples again."""
    out = dict(hypers)
    signature = inspect.signature(cls.__init__).parameters
    for key, (a, b) in TUPLES.items():
        if a in out or b in out:
            da, db = signature[key].default
            out[key] = (out.pop(a, da), out.pop(b, db))
    return out


def _id(h):
    return ",".join(f"{k}={v}" for k, v in h.items()) or "defaults"


@pytest.mark.parametrize("name,hypers", [(n, h) for n, hs in CASES.items() for h in hs],
                         ids=[f"{n}[{_id(h)}]" for n, hs in CASES.items() for h in hs])
def test_matches_torch(name, hypers):
    params, noises = problem(seed=zlib.crc32(f"{name}[{_id(hypers)}]".encode()))
    ours = run_iterc(name, hypers, params, noises)
    theirs = run_torch(lambda ps: METHODS[name](ps, **torch_kwargs(METHODS[name], hypers)), params, noises)
    assert_trees_close(ours, theirs, rtol=1e-6)


@pytest.mark.parametrize("hypers", CASES["asgd"], ids=_id)
def test_asgd_average_matches_torch(hypers):
    """ASGD's point is the averaged iterate: compare the state `ax` with torch's too."""
    params, noises = problem(seed=7)
    opt = iterc.load("asgd").numpy(**hypers)
    state, x = opt.init(params), params
    for noise in noises:
        x, state = opt.step(x, state, gradient(x, noise))

    tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    topt = torch.optim.ASGD(list(tparams.values()), **hypers)
    for noise in noises:
        for k, p in tparams.items():
            p.grad = torch.tensor(noise[k], dtype=torch.float64) + p.detach()
        topt.step()
    assert_trees_close(x, {k: p.detach().numpy() for k, p in tparams.items()})
    assert_trees_close(state["ax"], {k: topt.state[p]["ax"].numpy() for k, p in tparams.items()})
    if hypers.get("t0", 1e6) > len(noises):
        assert_trees_close(state["ax"], x)  # no averaging yet: ax is the last iterate


@pytest.mark.parametrize("name", METHODS)
def test_defaults_match_torch(name):
    """Our hypers are exactly torch's knobs (pairs split), with torch's defaults."""
    ours = iterc.load(name).numpy().hypers.as_dict()
    expected = {}
    for key, p in inspect.signature(METHODS[name].__init__).parameters.items():
        if key in NOT_HYPERS:
            continue
        if key in TUPLES:
            expected.update(zip(TUPLES[key], p.default))
        else:
            expected[key] = p.default
    assert set(ours) == set(expected), name
    for key, default in expected.items():
        assert ours[key] == default and isinstance(ours[key], bool) == isinstance(default, bool), \
            (name, key, ours[key], default)


# hypers that fit `regression_loss_after`'s least squares (the loss starts at 6.5) in 300
# steps, and the ratio last / first loss each must reach (about 10x above what each gets)
SMOKE = {
    "adadelta": (dict(lr=10.0), 0.05),
    "adagrad": (dict(lr=0.5), 1e-3),
    "adamax": (dict(lr=0.1), 1e-3),
    "nadam": (dict(lr=0.05), 1e-3),
    "radam": (dict(lr=0.05), 1e-3),
    "rmsprop": (dict(lr=0.01), 1e-3),
    "rprop": (dict(), 1e-3),
    "asgd": (dict(lr=0.1), 1e-3),
}


@pytest.mark.parametrize("name", SMOKE)
def test_fits_least_squares(name):
    hypers, ratio = SMOKE[name]
    first, last = regression_loss_after(name, hypers, steps=300)
    assert last < ratio * first, (name, first, last)

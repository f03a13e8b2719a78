"""stdlib/optim against torch.optim: 100 steps on random parameter trees, to 1e-6 relative.

Gradients come from a seeded RNG each step (a different tree of shapes per case), so the
comparison covers momentum buffers, bias correction and AMSGrad's running max over time.
"""
import numpy as np
import pytest

import iterc

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), (), (2, 3, 2), (1,)]
STEPS = 100


def _tree(rng, scale=1.0):
    return {f"p{i}": rng.normal(size=s) * scale for i, s in enumerate(SHAPES)}


def _run_both(name, torch_cls, iterc_hypers, torch_kwargs, seed):
    rng = np.random.default_rng(seed)
    params = _tree(rng)
    grads_seq = [_tree(rng) for _ in range(STEPS)]

    opt = iterc.load(name).numpy(**iterc_hypers)
    state = opt.init(params)
    ours = params
    for grads in grads_seq:
        # a gradient that depends on the iterate too, like a real loss: g = noise + x
        g = {k: grads[k] + ours[k] for k in grads}
        ours, state = opt.step(ours, state, g)

    tparams = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    topt = torch_cls(list(tparams.values()), **torch_kwargs)
    for grads in grads_seq:
        for k, p in tparams.items():
            p.grad = torch.tensor(grads[k], dtype=torch.float64) + p.detach()
        topt.step()
    assert state["t"] == STEPS
    for k in params:
        np.testing.assert_allclose(ours[k], tparams[k].detach().numpy(), rtol=1e-6, atol=1e-12, err_msg=k)


SGD_CASES = [
    dict(lr=0.01),
    dict(lr=0.02, momentum=0.9),
    dict(lr=0.01, momentum=0.8, dampening=0.3),
    dict(lr=0.01, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.5, weight_decay=0.1),
    dict(lr=0.01, momentum=0.9, nesterov=True, weight_decay=0.01),
]


@pytest.mark.parametrize("hypers", SGD_CASES, ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()))
def test_sgd_matches_torch(hypers):
    _run_both("sgd", torch.optim.SGD, hypers, hypers, seed=len(str(hypers)))


ADAM_CASES = [
    dict(),
    dict(lr=0.01, beta1=0.8, beta2=0.99),
    dict(lr=0.003, amsgrad=True),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, weight_decay=0.05, amsgrad=True, eps=1e-6),
]


def _torch_adam_kwargs(h):
    out = {k: v for k, v in h.items() if k not in ("beta1", "beta2")}
    out["betas"] = (h.get("beta1", 0.9), h.get("beta2", 0.999))
    return out


@pytest.mark.parametrize("hypers", ADAM_CASES, ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()) or "defaults")
def test_adam_matches_torch(hypers):
    _run_both("adam", torch.optim.Adam, hypers, _torch_adam_kwargs(hypers), seed=11 + len(hypers))


@pytest.mark.parametrize("hypers", ADAM_CASES, ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()) or "defaults")
def test_adamw_matches_torch(hypers):
    _run_both("adamw", torch.optim.AdamW, hypers, _torch_adam_kwargs(hypers), seed=23 + len(hypers))


def test_defaults_match_torch():
    """Each stdlib default equals torch.optim's default for the same knob."""
    import inspect
    for name, cls, mapping in [
        ("sgd", torch.optim.SGD, {"lr": "lr", "momentum": "momentum", "dampening": "dampening",
                                  "weight_decay": "weight_decay", "nesterov": "nesterov"}),
        ("adam", torch.optim.Adam, {"lr": "lr", "eps": "eps", "weight_decay": "weight_decay", "amsgrad": "amsgrad"}),
        ("adamw", torch.optim.AdamW, {"lr": "lr", "eps": "eps", "weight_decay": "weight_decay", "amsgrad": "amsgrad"}),
    ]:
        ours = iterc.load(name).numpy().hypers.as_dict()
        theirs = inspect.signature(cls.__init__).parameters
        for our_key, their_key in mapping.items():
            default = theirs[their_key].default
            default = float(default) if hasattr(default, "item") else default
            assert ours[our_key] == default, (name, our_key, ours[our_key], default)


def test_schedule_overrides_hyper_per_step():
    """A hyper passed to step() applies to that step only, as a schedule needs."""
    opt = iterc.load("sgd").numpy(lr=0.1)
    x = {"w": np.array([1.0, 2.0])}
    s = opt.init(x)
    x1, s = opt.step(x, s, {"w": np.array([1.0, 1.0])}, lr=0.5)
    np.testing.assert_allclose(x1["w"], [0.5, 1.5])
    x2, s = opt.step(x1, s, {"w": np.array([1.0, 1.0])})
    np.testing.assert_allclose(x2["w"], [0.4, 1.4])

"""Shared machinery for testing stdlib methods against independent implementations.

Every reference test runs the same trajectory on both sides: a random parameter tree of
mixed shapes (a 0-d leaf included), and on each step a gradient `noise_t + x` that
depends on the iterate, so momentum, bias correction and running statistics are
exercised over many steps. The noise sequence is drawn once and fed to both sides.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

import iterc

SHAPES = [(3, 4), (5,), (), (2, 3, 2), (1,)]
STEPS = 100


def random_tree(rng, shapes=SHAPES, scale=1.0) -> dict:
    return {f"p{i}": rng.normal(size=s) * scale for i, s in enumerate(shapes)}


def problem(seed: int, steps: int = STEPS, shapes=SHAPES):
    """(initial params, noise trees): the data of one comparison."""
    rng = np.random.default_rng(seed)
    params = random_tree(rng, shapes)
    return params, [random_tree(rng, shapes) for _ in range(steps)]


def gradient(params: dict, noise: dict) -> dict:
    return {k: noise[k] + params[k] for k in noise}


def run_iterc(name: str, hypers: dict, params: dict, noises: list, oracles: Callable | None = None,
              method: str | None = None) -> dict:
    """The stdlib method `name` on the numpy backend. `oracles(t, params, grads)` may return
    extra oracle values (hess_diag=..., value=...) for step t."""
    opt = iterc.load(name, method=method).numpy(**hypers)
    state = opt.init(params)
    x = params
    for t, noise in enumerate(noises, start=1):
        g = gradient(x, noise)
        extra = oracles(t, x, g) if oracles is not None else {}
        x, state = opt.step(x, state, g, **extra)
    assert state["t"] == len(noises)
    return x


def run_torch(make_opt: Callable, params: dict, noises: list, closure_loss: bool = False) -> dict:
    """A torch optimizer (`make_opt(list_of_tensors)`) on the same trajectory, in float64."""
    import torch
    tparams = {k: torch.tensor(np.asarray(v), dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    topt = make_opt(list(tparams.values()))
    for noise in noises:
        for k, p in tparams.items():
            p.grad = torch.tensor(noise[k], dtype=torch.float64) + p.detach()
        topt.step()
    return {k: p.detach().numpy() for k, p in tparams.items()}


def run_optax(tx, params: dict, noises: list, extra: Callable | None = None) -> dict:
    """An optax transformation on the same trajectory, in float64 (x64 enabled here)."""
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax
    x = {k: jnp.asarray(v, dtype=jnp.float64) for k, v in params.items()}
    state = tx.init(x)
    for t, noise in enumerate(noises, start=1):
        g = {k: jnp.asarray(noise[k]) + x[k] for k in noise}
        kwargs = extra(t, x, g) if extra is not None else {}
        updates, state = tx.update(g, state, x, **kwargs)
        x = optax.apply_updates(x, updates)
    return {k: np.asarray(v) for k, v in x.items()}


def assert_trees_close(ours: dict, theirs: dict, rtol: float = 1e-6, atol: float = 1e-12) -> None:
    assert set(ours) == set(theirs)
    for k in ours:
        np.testing.assert_allclose(np.asarray(ours[k]), np.asarray(theirs[k]), rtol=rtol, atol=atol, err_msg=k)


def regression_loss_after(name: str, hypers: dict, steps: int = 300, seed: int = 0, method: str | None = None):
    """Final loss of least squares `0.5 * |A w + b - y|^2 / n` minimised by the method: a smoke test."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(64, 8))
    w_true = rng.normal(size=8)
    y = A @ w_true + 0.5
    params = {"w": np.zeros(8), "b": np.array(0.0)}
    opt = iterc.load(name, method=method).numpy(**hypers)
    state = opt.init(params)

    def loss_and_grad(p):
        r = A @ p["w"] + p["b"] - y
        return 0.5 * float(r @ r) / len(y), {"w": A.T @ r / len(y), "b": np.array(r.mean())}

    first, _ = loss_and_grad(params)
    for _ in range(steps):
        _, g = loss_and_grad(params)
        params, state = opt.step(params, state, g)
    last, _ = loss_and_grad(params)
    return first, last

"""Train a small MLP with three stdlib optimizers side by side, and plot their loss curves.

The task is a synthetic regression in two dimensions; the network has two hidden layers
of 32 tanh units. Its parameters are a dict of six arrays (a weight matrix and a bias per
layer), so each optimizer's rule runs once per leaf. Gradients come from a hand-written
backward pass, checked against finite differences before training. Every optimizer starts
from the same weights and sees the same minibatches; the curves are the loss on the whole
data set after each step.

    python examples/train_mlp.py [--out PATH.png] [--steps N]

The plot goes to PATH (default: mlp_loss.png in the system's temporary folder).
"""
from __future__ import annotations

import argparse
import os
import tempfile

# The matrices here are small: BLAS threads only add overhead (and on a busy machine, a lot).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import iterc  # noqa: E402

# label -> (stdlib method, hypers)
METHODS = {
    "sgd, momentum 0.9": ("sgd", dict(lr=0.05, momentum=0.9)),
    "adam": ("adam", dict(lr=3e-3)),
    "adamw": ("adamw", dict(lr=3e-3, weight_decay=0.3)),
}
SIZES = (2, 32, 32, 1)
BATCH = 64


def make_data(rng, n: int = 512):
    X = rng.uniform(-2.0, 2.0, size=(n, 2))
    y = np.sin(2.0 * X[:, 0]) * np.cos(X[:, 1]) + 0.25 * X[:, 1] ** 2 + 0.05 * rng.normal(size=n)
    return X, y[:, None]


def init_params(rng) -> dict:
    params = {}
    for i, (fan_in, fan_out) in enumerate(zip(SIZES[:-1], SIZES[1:]), start=1):
        params[f"W{i}"] = rng.normal(size=(fan_in, fan_out)) / np.sqrt(fan_in)
        params[f"b{i}"] = np.zeros(fan_out)
    return params


def loss_and_grads(p: dict, X: np.ndarray, y: np.ndarray):
    """Mean squared error / 2 of the MLP on (X, y), and its gradient for every leaf of p."""
    h1 = np.tanh(X @ p["W1"] + p["b1"])
    h2 = np.tanh(h1 @ p["W2"] + p["b2"])
    r = h2 @ p["W3"] + p["b3"] - y
    loss = 0.5 * float(np.mean(r ** 2))
    d3 = r / len(X)                               # d loss / d output
    d2 = (d3 @ p["W3"].T) * (1.0 - h2 ** 2)       # back through the second tanh layer
    d1 = (d2 @ p["W2"].T) * (1.0 - h1 ** 2)       # and the first
    grads = {"W1": X.T @ d1, "b1": d1.sum(axis=0),       # keys in the order of p
             "W2": h1.T @ d2, "b2": d2.sum(axis=0),
             "W3": h2.T @ d3, "b3": d3.sum(axis=0)}
    return loss, grads


def check_gradients(p: dict, X: np.ndarray, y: np.ndarray, rng, h: float = 1e-6) -> float:
    """Largest relative error of the backward pass against central differences, on a few entries."""
    _, grads = loss_and_grads(p, X, y)
    worst = 0.0
    for name, value in p.items():
        for _ in range(3):
            idx = tuple(rng.integers(0, s) for s in value.shape)
            plus = {**p, name: value.copy()}
            minus = {**p, name: value.copy()}
            plus[name][idx] += h
            minus[name][idx] -= h
            numeric = (loss_and_grads(plus, X, y)[0] - loss_and_grads(minus, X, y)[0]) / (2 * h)
            worst = max(worst, abs(numeric - grads[name][idx]) / max(abs(numeric), 1e-8))
    return worst


def train(method: str, hypers: dict, params: dict, X, y, steps: int, seed: int) -> list[float]:
    """The whole-data loss before training and after each of `steps` minibatch steps."""
    opt = iterc.load(method).numpy(**hypers)
    state = opt.init(params)
    batches = np.random.default_rng(seed)         # the same minibatches for every optimizer
    curve = [loss_and_grads(params, X, y)[0]]
    for _ in range(steps):
        idx = batches.choice(len(X), size=BATCH, replace=False)
        _, grads = loss_and_grads(params, X[idx], y[idx])
        params, state = opt.step(params, state, grads)
        curve.append(loss_and_grads(params, X, y)[0])
    return curve


def plot(curves: dict, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, curve in curves.items():
        ax.plot(curve, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (whole data set)")
    ax.set_title(f"MLP {'-'.join(map(str, SIZES))}, minibatches of {BATCH}")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "mlp_loss.png"),
                        help="where to write the plot (PNG)")
    parser.add_argument("--steps", type=int, default=400)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    X, y = make_data(rng)
    params = init_params(rng)
    error = check_gradients(params, X, y, rng)
    assert error < 1e-5, f"the backward pass disagrees with finite differences (relative error {error:.2e})"

    curves = {label: train(method, hypers, params, X, y, args.steps, seed=1)
              for label, (method, hypers) in METHODS.items()}
    plot(curves, args.out)

    print(f"gradient check: largest relative error {error:.1e}")
    print(f"{'method':<20}  {'first loss':>10}  {'final loss':>10}")
    for label, curve in curves.items():
        print(f"{label:<20}  {curve[0]:>10.6f}  {curve[-1]:>10.6f}")
    print(f"plot: {args.out}")
    return curves


if __name__ == "__main__":
    main()

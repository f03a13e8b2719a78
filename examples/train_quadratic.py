"""Fit a linear model by least squares with the stdlib AdamW, in plain numpy.

The parameters are a dict of arrays (a weight vector and a scalar bias): AdamW's rule
runs once per leaf. Gradients are computed by hand; the learning rate follows a cosine
schedule by passing `lr=` to each step, which overrides the hyper for that step only.

    python examples/train_quadratic.py
"""
import math

import numpy as np

import iterc

rng = np.random.default_rng(0)
n, d = 256, 20
X = rng.normal(size=(n, d))
w_true = rng.normal(size=d)
y = X @ w_true + 0.5 + 0.01 * rng.normal(size=n)


def loss_and_grads(params):
    r = X @ params["w"] + params["b"] - y          # residuals
    loss = 0.5 * np.mean(r ** 2)
    return loss, {"w": X.T @ r / n, "b": np.mean(r)}


steps, lr0 = 300, 0.05
opt = iterc.load("adamw").numpy(lr=lr0, weight_decay=1e-4)
params = {"w": np.zeros(d), "b": np.zeros(())}
state = opt.init(params)

first, _ = loss_and_grads(params)
print(f"{'step':>5}  {'loss':>12}  {'lr':>8}")
for step in range(1, steps + 1):
    loss, grads = loss_and_grads(params)
    lr = lr0 * 0.5 * (1 + math.cos(math.pi * (step - 1) / steps))
    params, state = opt.step(params, state, grads, lr=lr)
    if step == 1 or step % 50 == 0:
        print(f"{step:>5}  {loss:>12.6f}  {lr:>8.5f}")

final, _ = loss_and_grads(params)
print(f"loss {first:.4f} -> {final:.6f} after {state['t']} steps; "
      f"|w - w_true| = {np.linalg.norm(params['w'] - w_true):.4f}, b = {float(params['b']):.4f}")
assert final < 1e-3 * first, "the loss should go down by orders of magnitude"

"""Load a method written in examples/my_method.iter by path, show its generated code,
check it against a hand-written numpy Lion, and train with it.

    python examples/run_my_method.py
"""
import subprocess
import sys
from pathlib import Path

import numpy as np

import iterc

here = Path(__file__).resolve().parent
source = here / "my_method.iter"

# 1. What `iterc compile` generates: plain numpy, with comments pointing at .iter lines.
generated = subprocess.run([sys.executable, "-m", "iterc", "compile", str(source)],
                           capture_output=True, text=True, check=True).stdout
print("$ iterc compile examples/my_method.iter   (the per-leaf step)")
start = generated.index("def step_lion_lookahead")
print(generated[start:generated.index("\n\n\n", start)])
print()

method = iterc.load(source)
print(method, "hypers:", ", ".join(method.hypers))

# 2. With k=1 and alpha=1 Lookahead does nothing, so the method is plain Lion.
def lion_reference(x, g_seq, lr, beta1, beta2, wd):
    m = np.zeros_like(x)
    for g in g_seq:
        c = beta1 * m + (1 - beta1) * g
        x = x * (1 - lr * wd) - lr * np.sign(c)
        m = beta2 * m + (1 - beta2) * g
    return x

rng = np.random.default_rng(1)
x0 = rng.normal(size=(4, 3))
g_seq = [rng.normal(size=(4, 3)) for _ in range(20)]
opt = method.numpy(lr=0.01, weight_decay=0.1, k=1, alpha=1.0)
x, state = x0, opt.init(x0)
for g in g_seq:
    x, state = opt.step(x, state, g)
np.testing.assert_allclose(x, lion_reference(x0, g_seq, 0.01, 0.9, 0.99, 0.1), rtol=1e-12)
print("k=1, alpha=1 matches a hand-written Lion over 20 steps")

# 3. Minimise an ill-conditioned quadratic 0.5 * sum(scale * w^2) with Lookahead on.
#    A sign method moves every coordinate by lr per step, so the step size decays
#    linearly to zero (a per-step `lr=` override) to settle at the minimum.
scale = np.logspace(0, 1, 10)
params = {"w": np.ones(10)}
steps, lr0 = 300, 0.05
opt = method.numpy(lr=lr0, k=5, alpha=0.5)
state = opt.init(params)
loss = lambda p: 0.5 * float(np.sum(scale * p["w"] ** 2))
first = loss(params)
for step in range(1, steps + 1):
    lr = lr0 * (1 - (step - 1) / steps)
    params, state = opt.step(params, state, {"w": scale * params["w"]}, lr=lr)
    if step % 50 == 0:
        print(f"step {step:>3}  lr {lr:.5f}  loss {loss(params):.6f}")
print(f"loss {first:.2f} -> {loss(params):.6f}")
assert loss(params) < 1e-3 * first
try:
    method.numpy(alpha=0.0)
except ValueError as exc:
    print("rejected:", exc)

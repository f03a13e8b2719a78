"""Optimal transport between two 2-D point clouds with the standard library's log-domain
Sinkhorn solver, drawn with matplotlib.

    python examples/ot_sinkhorn.py [OUT.png]

Left: the two clouds and the entropic transport plan for the squared Euclidean cost (a
line from x_i to y_j for every pair that carries at least 10% of the largest entry's mass,
darker for more). Right: the L1 error of the plan's row marginal, as the progress
callback saw it, against the iteration. Writes OUT.png (default: ot_sinkhorn.png in the system's temporary folder).
"""
import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import iterc  # noqa: E402

out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.gettempdir()) / "ot_sinkhorn.png"

rng = np.random.default_rng(0)
n, m = 60, 80
x = rng.normal(size=(n, 2)) * [0.6, 0.3] + [-1.5, 0.0]                     # an elongated blob
angle = rng.uniform(0, 2 * np.pi, m)
y = np.c_[np.cos(angle), np.sin(angle)] * rng.uniform(0.8, 1.0, (m, 1)) + [1.5, 0.0]   # a ring
C = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
a, b = np.full(n, 1 / n), np.full(m, 1 / m)

check_period = 10                 # the solver refreshes its plan and residual every 10 steps
history = []
sol = iterc.load("sinkhorn").solve(C=C, a=a, b=b, eps=0.02, tol=1e-9, max_iter=5000,
                                   check_period=check_period, callback=lambda t, r: history.append((t, r)),
                                   callback_every=check_period)
P, info = sol.P, sol.info
print(f"{info.status} after {info.iterations} iterations: L1 marginal error {info.residual:.1e}, "
      f"transport cost <P, C> = {np.sum(P * C):.4f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [1.4, 1]})
strong = np.argwhere(P > 0.1 * P.max())
weight = P[strong[:, 0], strong[:, 1]] / P.max()
for (i, j), w in zip(strong, weight):
    left.plot([x[i, 0], y[j, 0]], [x[i, 1], y[j, 1]], color="k", alpha=float(w) * 0.7, lw=0.7)
left.scatter(*x.T, s=18, c="tab:blue", label="source x (weights a)", zorder=3)
left.scatter(*y.T, s=18, c="tab:orange", label="target y (weights b)", zorder=3)
left.set_aspect("equal")
left.set_title(f"entropic OT plan, eps = 0.02 ({len(strong)} pairs drawn)")
left.legend(loc="lower left", fontsize=8)
ts, rs = zip(*history)
right.semilogy(ts, rs, marker="o", ms=3)
right.axhline(1e-9, color="gray", ls="--", lw=0.8, label="tol")
right.set_xlabel("iteration")
right.set_ylabel("L1 error of the row marginal")
right.set_title("convergence (progress callback)")
right.legend()
fig.tight_layout()
fig.savefig(out, dpi=110)
print(f"wrote {out}")

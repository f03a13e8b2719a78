"""Solve a small optimal-transport problem with the standard library's Sinkhorn solver (stdlib/ot/sinkhorn.iter)."""
import numpy as np

import iterc

rng = np.random.default_rng(0)
x, y = rng.normal(size=(6, 2)), rng.normal(size=(8, 2))
C = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
a, b = np.full(6, 1 / 6), np.full(8, 1 / 8)

sinkhorn = iterc.load("sinkhorn").numpy(eps=0.1)
sol = sinkhorn.solve(C=C, a=a, b=b)
print(f"converged={sol.info.converged} after {sol.info.iterations} iterations, residual {sol.info.residual:.2e}")
print(f"transport cost <P, C> = {np.sum(sol.P * C):.6f}")
print("row sums:", np.round(sol.P.sum(axis=1), 6))

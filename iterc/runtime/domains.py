"""Membership of an input in its declared domain (`input a: real[n] in simplex`), checked
when a solve starts, to a tolerance. Shared by every backend's runtime: the check runs on
the host, on the values the caller passed, before any compiled code sees them.

A violation is a ValueError naming the method, the input, the domain and what is wrong
(the worst entry, or the sum or norm that is off), with the tolerance used.
"""
from __future__ import annotations

import numpy as np

TOL = 1e-6          # relative to the scale of the values; float32 data normalised to a sum of 1 passes


def check(method: str, name: str, value, domain: tuple, tol: float = TOL) -> None:
    kind, args = domain[0], domain[1:]
    x = np.asarray(value, dtype=np.float64)
    shown = kind + (f"({', '.join(repr(a) for a in args)})" if args else "")

    def fail(what: str) -> None:
        raise ValueError(f"{method}: input `{name}` must lie in `{shown}`, but {what} (tolerance {tol:g})")

    def at(i) -> str:
        return f"{name}[{', '.join(map(str, np.unravel_index(i, x.shape)))}]" if x.ndim else name

    if not np.all(np.isfinite(x)):
        fail(f"{at(int(np.argmin(np.isfinite(x).ravel())))} is not finite")
    scale = max(1.0, float(np.max(np.abs(x)))) if x.size else 1.0
    if kind in ("nonneg", "simplex"):
        i = int(np.argmin(x.ravel())) if x.size else 0
        if x.size and x.ravel()[i] < -tol * scale:
            fail(f"{at(i)} = {x.ravel()[i]:g} is negative")
        if kind == "simplex":
            total = float(np.sum(x))
            if abs(total - 1.0) > tol * max(1.0, x.size ** 0.5):
                fail(f"its entries sum to {total:.10g}, not 1")
    elif kind == "positive":
        i = int(np.argmin(x.ravel())) if x.size else 0
        if x.size and not x.ravel()[i] > 0:
            fail(f"{at(i)} = {x.ravel()[i]:g} is not positive")
    elif kind == "box":
        lo, hi = float(args[0]), float(args[1])
        margin = tol * max(1.0, abs(lo), abs(hi))
        i, j = (int(np.argmin(x.ravel())), int(np.argmax(x.ravel()))) if x.size else (0, 0)
        if x.size and x.ravel()[i] < lo - margin:
            fail(f"{at(i)} = {x.ravel()[i]:g} is below {lo:g}")
        if x.size and x.ravel()[j] > hi + margin:
            fail(f"{at(j)} = {x.ravel()[j]:g} is above {hi:g}")
    elif kind in ("ball", "sphere"):
        r = float(args[0]) if kind == "ball" else 1.0
        norm = float(np.sqrt(np.sum(x * x)))
        if kind == "ball" and norm > r * (1.0 + tol) + tol:
            fail(f"its norm is {norm:.10g} > {r:g}")
        if kind == "sphere" and abs(norm - 1.0) > tol:
            fail(f"its norm is {norm:.10g}, not 1")
    elif kind == "psd":
        if x.ndim != 2 or x.shape[0] != x.shape[1]:
            fail(f"it has shape {x.shape}, not a square matrix")
        asym = float(np.max(np.abs(x - x.T))) if x.size else 0.0
        if asym > tol * scale:
            fail(f"it is not symmetric (largest |{name} - {name}.T| is {asym:g})")
        low = float(np.min(np.linalg.eigvalsh(0.5 * (x + x.T)))) if x.size else 0.0
        if low < -tol * scale:
            fail(f"its smallest eigenvalue is {low:g}")
    elif kind == "stiefel":
        if x.ndim != 2 or x.shape[0] < x.shape[1]:
            fail(f"it has shape {x.shape}, not a matrix with at least as many rows as columns")
        gap = float(np.max(np.abs(x.T @ x - np.eye(x.shape[1])))) if x.size else 0.0
        if gap > tol:
            fail(f"its columns are not orthonormal (largest |{name}.T @ {name} - I| is {gap:g})")
    else:
        raise ValueError(f"{method}: input `{name}` has an unknown domain `{kind}`")

"""The lasso path by FISTA (stdlib/convex/fista.iter), warm started, with a convergence plot.

    minimise 0.5 |A x - b|^2 + lam |x|_1    for lam = lam_max * (0.5, 0.2, 0.1, 0.05, 0.02)

lam_max = |A^T b|_inf is the smallest lam whose solution is 0. The solver gets the gradient
of the smooth part and the prox of the l1 part (soft thresholding, scaled by the step) as
Python functions, with the step 1 / L, L the largest eigenvalue of A^T A. Each lam starts
from the previous solution (a warm start); the script also solves each lam from 0 (a cold
start) to show what the warm start saves. The plot shows, for every lam, the residual that
`fista` reports after each iteration (|x_t - x_{t-1}| / step, the stopping test), recorded
with `callback=`.

    python examples/lasso_fista.py [--out PATH.png] [--save PATH.npz]

The plot goes to PATH (default: lasso_fista.png in the system's temporary folder);
--save writes A, b, the lambdas and the solutions (one row per lam) to an .npz file.
"""
from __future__ import annotations

import argparse
import os
import tempfile

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import iterc  # noqa: E402
from iterc.runtime import numpy_rt  # noqa: E402

FRACTIONS = (0.5, 0.2, 0.1, 0.05, 0.02)
TOL = 1e-8


def make_problem(rng, m: int = 200, n: int = 120, k: int = 12):
    """A sparse regression: b = A x_true + noise, x_true with k nonzeros."""
    A = rng.normal(size=(m, n)) / np.sqrt(m)
    x_true = np.zeros(n)
    x_true[rng.choice(n, size=k, replace=False)] = rng.normal(scale=2.0, size=k)
    b = A @ x_true + 0.05 * rng.normal(size=m)
    return A, b


def lasso_path(A, b, fractions=FRACTIONS, tol=TOL):
    """Solve the lasso for each lam, warm started; returns (lams, X, traces, cold iterations)."""
    step = 1.0 / np.linalg.eigvalsh(A.T @ A)[-1]
    lams = np.abs(A.T @ b).max() * np.asarray(fractions)
    fista = iterc.load("fista").numpy(step_size=step, tol=tol)

    def grad(x):
        return A.T @ (A @ x - b)

    x, X, traces, cold = np.zeros(A.shape[1]), [], [], []
    for lam in lams:
        prox = (lambda v, eta, lam=lam: numpy_rt.prox_l1(v, eta * lam))
        trace = []
        sol = fista.solve(x0=x, grad_f=grad, prox=prox, callback=lambda t, r: trace.append(r))
        assert sol.info.converged, sol.info
        x = sol.x
        X.append(x)
        traces.append(np.array(trace))
        cold.append(fista.solve(x0=np.zeros_like(x), grad_f=grad, prox=prox).info.iterations)
    return lams, np.array(X), traces, cold


def plot(lams, traces, path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for lam, trace in zip(lams, traces):
        ax.plot(np.arange(1, len(trace) + 1), trace, label=f"lam = {lam:.3g}")
    ax.axhline(TOL, color="grey", linestyle=":", linewidth=1)
    ax.set_yscale("log")
    ax.set_xlabel("iteration (warm started from the previous lam)")
    ax.set_ylabel("|x_t - x_{t-1}| / step")
    ax.set_title("lasso path by FISTA")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", default=os.path.join(tempfile.gettempdir(), "lasso_fista.png"),
                        help="where to write the plot (PNG)")
    parser.add_argument("--save", default=None, help="write A, b, the lambdas and the solutions to this .npz")
    args = parser.parse_args(argv)

    A, b = make_problem(np.random.default_rng(0))
    lams, X, traces, cold = lasso_path(A, b)
    plot(lams, traces, args.out)
    if args.save:
        np.savez(args.save, A=A, b=b, lams=lams, X=X)

    print(f"{'lam':>8}  {'nonzeros':>8}  {'objective':>10}  {'iterations':>10}  {'cold start':>10}")
    for lam, x, trace, c in zip(lams, X, traces, cold):
        objective = 0.5 * np.sum((A @ x - b) ** 2) + lam * np.abs(x).sum()
        print(f"{lam:>8.4f}  {np.count_nonzero(x):>8d}  {objective:>10.6f}  {len(trace):>10d}  {c:>10d}")
    print(f"plot: {args.out}")
    return lams, X


if __name__ == "__main__":
    main()

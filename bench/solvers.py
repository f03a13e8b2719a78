"""Entropic OT by Sinkhorn: iterc's JAX and numpy backends against ott-jax and POT, on CPU.

    python bench/solvers.py [--n 2000] [--eps 0.01] [--tol 1e-6] [--max-iter 20000] [--skip-numpy]

One problem for all: n = m points uniform in the unit square, squared Euclidean cost,
uniform marginals, entropic regularisation eps (absolute), float64 everywhere (x64 is
enabled in this process). Each solver runs until its marginal error is at most `tol` in
L1, and the table prints its wall time (a call of the compiled function; compile time,
trace + lower + XLA, apart), its iterations, and the L1 errors of both marginals of its
final plan, recomputed here the same way for all. Each is timed once: the machine's
other load shows in the printed load average. Stopping rules, aligned to "L1 error of the row marginal <= tol":
- iterc (examples/sinkhorn.iter): `until norm1(sum(P, axis=1) - a) <= tol`, tested every
  round (check_every=1) or every 10 rounds (check_every=10, as ott does);
- ott-jax: threshold=tol with norm_error=1, tested every inner_iterations=10 rounds;
- POT sinkhorn_log: stopThr is an L2 norm of the column-marginal error, so stopThr =
  tol / sqrt(n) (which bounds the L1 error by tol), tested every 10 rounds.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import jax

jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import iterc  # noqa: E402

SINKHORN = os.path.join(os.path.dirname(__file__), "..", "examples", "sinkhorn.iter")


def problem(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x, y = rng.uniform(size=(n, 2)), rng.uniform(size=(n, 2))
    C = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    a = np.full(n, 1.0 / n)
    return C, a, a.copy()


def errors(P, a, b) -> tuple[float, float]:
    P = np.asarray(P)
    return float(np.abs(P.sum(axis=1) - a).sum()), float(np.abs(P.sum(axis=0) - b).sum())


def timed(fn):
    start = time.perf_counter()
    out = fn()
    jax.block_until_ready(out)
    return out, time.perf_counter() - start


def compiled(fn, *args):
    """`fn` compiled for `args` (trace, lower and XLA), and the seconds that took."""
    start = time.perf_counter()
    executable = jax.jit(fn).lower(*args).compile()
    return executable, time.perf_counter() - start


def run_iterc_jax(C, a, b, eps, tol, max_iter, check_every):
    solver = iterc.load(SINKHORN).jax(eps=eps, tol=tol, max_iter=max_iter, check_every=check_every)
    solve, compile_s = compiled(lambda C, a, b: solver(C=C, a=a, b=b), jnp.asarray(C), jnp.asarray(a), jnp.asarray(b))
    sol, t = timed(lambda: solve(jnp.asarray(C), jnp.asarray(a), jnp.asarray(b)))
    return sol.P, int(sol.info.iterations), t, compile_s


def run_iterc_numpy(C, a, b, eps, tol, max_iter):
    sol, t = timed(lambda: iterc.load(SINKHORN).numpy(eps=eps, tol=tol, max_iter=max_iter).solve(C=C, a=a, b=b))
    return sol.P, sol.info.iterations, t, 0.0


def run_ott(C, a, b, eps, tol, max_iter):
    from ott.geometry import geometry
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import sinkhorn

    solver = sinkhorn.Sinkhorn(threshold=tol, norm_error=1, max_iterations=max_iter, inner_iterations=10,
                               lse_mode=True)

    def solve(C, a, b):
        out = solver(linear_problem.LinearProblem(geometry.Geometry(cost_matrix=C, epsilon=eps), a, b))
        return out.matrix, out.n_iters

    args = (jnp.asarray(C), jnp.asarray(a), jnp.asarray(b))
    solve, compile_s = compiled(solve, *args)
    (P, iters), t = timed(lambda: solve(*args))
    return P, int(iters), t, compile_s


def run_pot(C, a, b, eps, tol, max_iter):
    import ot
    (P, log), t = timed(lambda: ot.sinkhorn(a, b, C, reg=eps, method="sinkhorn_log", numItermax=max_iter,
                                            stopThr=tol / np.sqrt(len(a)), log=True))
    return P, int(log["niter"]), t, 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--eps", type=float, default=0.01)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--max-iter", type=int, default=20000)
    parser.add_argument("--skip-numpy", action="store_true", help="leave out the (slow) numpy backend")
    parser.add_argument("--skip-pot", action="store_true", help="leave out POT (slower still)")
    args = parser.parse_args()

    import ot
    import ott
    C, a, b = problem(args.n)
    print(f"jax {jax.__version__}, ott-jax {ott.__version__}, POT {ot.__version__}, {os.cpu_count()} cpus, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"n = m = {args.n}, eps = {args.eps}, float64; stop at L1 marginal error {args.tol:g}")
    runs = [
        ("iterc jax, check_every=1", lambda: run_iterc_jax(C, a, b, args.eps, args.tol, args.max_iter, 1)),
        ("iterc jax, check_every=10", lambda: run_iterc_jax(C, a, b, args.eps, args.tol, args.max_iter, 10)),
        ("ott-jax (inner_iterations=10)", lambda: run_ott(C, a, b, args.eps, args.tol, args.max_iter)),
    ]
    if not args.skip_pot:
        runs.append(("POT sinkhorn_log", lambda: run_pot(C, a, b, args.eps, args.tol, args.max_iter)))
    if not args.skip_numpy:
        runs.append(("iterc numpy", lambda: run_iterc_numpy(C, a, b, args.eps, args.tol, args.max_iter)))
    print()
    print(f"{'solver':<30} {'time s':>8} {'compile s':>9} {'iters':>6} {'ms/iter':>8} {'row L1 err':>11} "
          f"{'col L1 err':>11}")
    for name, run in runs:
        P, iters, t, compile_s = run()
        row, col = errors(P, a, b)
        print(f"{name:<30} {t:8.2f} {compile_s:9.2f} {iters:6d} {1e3 * t / iters:8.2f} {row:11.2e} {col:11.2e}")


if __name__ == "__main__":
    main()

"""How fast the stdlib's `sinkhorn` solves a large entropic OT problem on the CPU, against
POT's `sinkhorn_log` and ott-jax's `Sinkhorn`, in one run.

    python bench/solvers.py [--n 2000] [--eps 0.01] [--tol 1e-6] [--runs 3] [--no-pot] [--no-ott] [--no-jax]

The problem: two clouds of n points drawn uniformly in the unit square (seed 0), squared
Euclidean cost, uniform weights, float64. Each solver runs until the L1 error of the
marginal it does not fit last is at most `tol`, with its own check cadence (every 10
iterations for all three), and the time is the median over `--runs` solves:

- iterc: `iterc.load("sinkhorn").numpy(eps=..., tol=..., check_period=10).solve(C=C, a=a, b=b)`
  on the numpy backend (the generated code, as `iterc compile stdlib/ot/sinkhorn.iter` prints).
- iterc JAX: the same stdlib file on the JAX backend, `iterc.load("sinkhorn").jax(eps=..., tol=...,
  check_period=10, check_every=10)`, compiled for the problem with `jax.jit(...).lower().compile()`
  (compile time reported apart) and run in float64.
- POT: `ot.sinkhorn(a, b, C, eps, method="sinkhorn_log")`. Its stopping rule is the L2 norm
  of the error, so it is given the number of iterations it needs for an L1 error of `tol`:
  POT's iterates on (C, a, b) are iterc's on (C.T, b, a), transposed (tests/test_solvers_ot.py
  checks this to 1e-12), so that number comes from an untimed iterc run on the transposed
  problem (checked every iteration), rounded up to POT's check cadence; POT then runs that
  many iterations (`stopThr=0`), checking its error every 10 as usual.
- ott-jax: `Sinkhorn(threshold=tol, norm_error=1, inner_iterations=10)` on a `Geometry` with
  the cost matrix, under `jax.jit` with float64 enabled; the compile time (`.lower().compile()`)
  is reported apart, and the solve time excludes it.

The final L1 errors of both marginals are recomputed here from each returned plan.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import iterc


def problem(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x, y = rng.random((n, 2)), rng.random((n, 2))
    C = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    a = np.full(n, 1.0 / n)
    return C, a, a.copy()


def marginal_errors(P, a, b) -> tuple[float, float]:
    return float(np.abs(P.sum(axis=1) - a).sum()), float(np.abs(P.sum(axis=0) - b).sum())


def timed(fn, runs: int):
    times, out = [], None
    for _ in range(runs):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def bench_iterc(C, a, b, eps, tol, runs):
    start = time.perf_counter()
    solver = iterc.load("sinkhorn").numpy(eps=eps, tol=tol, max_iter=100000, check_period=10)
    load = time.perf_counter() - start
    t, sol = timed(lambda: solver.solve(C=C, a=a, b=b), runs)
    assert sol.info.converged, sol.info
    return dict(name="iterc numpy (stdlib sinkhorn)", time=t, iters=sol.info.iterations,
                errors=marginal_errors(sol.P, a, b), note=f"load + compile {load * 1e3:.0f} ms")


def bench_iterc_jax(C, a, b, eps, tol, runs):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    solve = iterc.load("sinkhorn").jax(eps=eps, tol=tol, max_iter=100000, check_period=10, check_every=10)
    Cj, aj, bj = jnp.asarray(C), jnp.asarray(a), jnp.asarray(b)
    start = time.perf_counter()
    compiled = jax.jit(lambda C, a, b: solve(C=C, a=a, b=b)).lower(Cj, aj, bj).compile()
    compile_time = time.perf_counter() - start
    jax.block_until_ready(compiled(Cj, aj, bj))                 # first run: warm caches, not timed
    t, sol = timed(lambda: jax.block_until_ready(compiled(Cj, aj, bj)), runs)
    assert bool(sol.info.converged), sol.info
    return dict(name="iterc jax (stdlib sinkhorn, jit, CPU)", time=t, iters=int(sol.info.iterations),
                errors=marginal_errors(np.asarray(sol.P), a, b), note=f"compile {compile_time:.2f} s, not included")


def pot_iterations(C, a, b, eps, tol) -> int:
    """POT's iterates on (C, a, b) are iterc's on (C.T, b, a), transposed: the first iteration
    whose column error is <= tol, rounded up to POT's cadence (it checks after 1, 11, 21, ...)."""
    sol = iterc.load("sinkhorn").solve(C=C.T, a=b, b=a, eps=eps, tol=tol, max_iter=100000, check_period=1)
    assert sol.info.converged, sol.info
    k = sol.info.iterations
    return k if (k - 1) % 10 == 0 else k + (10 - (k - 1) % 10)


def bench_pot(C, a, b, eps, tol, runs):
    import ot
    iters = pot_iterations(C, a, b, eps, tol)
    t, P = timed(lambda: ot.sinkhorn(a, b, C, eps, method="sinkhorn_log", numItermax=iters, stopThr=0.0,
                                     warn=False), runs)
    return dict(name=f"POT {ot.__version__} sinkhorn_log", time=t, iters=iters, errors=marginal_errors(P, a, b),
                note="iterations fixed by calibration (see the docstring)")


def bench_ott(C, a, b, eps, tol, runs):
    import jax
    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import ott
    from ott.geometry import geometry
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import sinkhorn

    def solve(C, a, b):
        geom = geometry.Geometry(cost_matrix=C, epsilon=eps)
        out = sinkhorn.Sinkhorn(threshold=tol, norm_error=1, inner_iterations=10, max_iterations=100000)(
            linear_problem.LinearProblem(geom, a, b))
        return out.matrix, out.n_iters, out.converged

    Cj, aj, bj = jnp.asarray(C), jnp.asarray(a), jnp.asarray(b)
    start = time.perf_counter()
    compiled = jax.jit(solve).lower(Cj, aj, bj).compile()
    compile_time = time.perf_counter() - start
    jax.block_until_ready(compiled(Cj, aj, bj))                 # first run: warm caches, not timed
    t, (P, iters, converged) = timed(lambda: jax.block_until_ready(compiled(Cj, aj, bj)), runs)
    assert bool(converged)
    return dict(name=f"ott-jax {ott.__version__} Sinkhorn (jit, CPU)", time=t, iters=int(iters),
                errors=marginal_errors(np.asarray(P), a, b), note=f"compile {compile_time:.2f} s, not included")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--eps", type=float, default=0.01)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-pot", action="store_true")
    parser.add_argument("--no-ott", action="store_true")
    parser.add_argument("--no-jax", action="store_true", help="leave out iterc's JAX backend")
    args = parser.parse_args()
    C, a, b = problem(args.n)
    print(f"n = m = {args.n}, eps = {args.eps}, L1 marginal error <= {args.tol}, median of {args.runs} runs")
    rows = [bench_iterc(C, a, b, args.eps, args.tol, args.runs)]
    if not args.no_jax:
        rows.append(bench_iterc_jax(C, a, b, args.eps, args.tol, args.runs))
    if not args.no_pot:
        rows.append(bench_pot(C, a, b, args.eps, args.tol, args.runs))
    if not args.no_ott:
        rows.append(bench_ott(C, a, b, args.eps, args.tol, args.runs))
    base = rows[0]["time"]
    print()
    print("| solver | iterations | time (s) | ms / iteration | time / iterc | L1 error rows, columns | note |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        rows_err, cols_err = r["errors"]
        print(f"| {r['name']} | {r['iters']} | {r['time']:.2f} | {r['time'] / r['iters'] * 1e3:.1f} | "
              f"{r['time'] / base:.2f} | {rows_err:.1e}, {cols_err:.1e} | {r['note']} |")


if __name__ == "__main__":
    main()

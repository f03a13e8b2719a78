"""The optimal-transport solvers of the standard library (stdlib/ot/), in float64, against
POT (`ot.sinkhorn`, `ot.emd2`), regot's Newton solver where it is installed, and, for
Mirror Sinkhorn, a numpy loop written from the paper's equations."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import iterc

ot = pytest.importorskip("ot")

ROOT = Path(__file__).resolve().parent.parent
SIZES = [(5, 5), (5, 30), (30, 100), (100, 100)]
SOLVERS = ["sinkhorn", "sinkhorn_knopp", "mirror_sinkhorn", "sinkhorn_newton_sparse"]


def problem(seed: int, n: int, m: int):
    """Two Gaussian clouds, squared Euclidean cost scaled to [0, 1], random weights."""
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) + [0.5, 0.0]
    C = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    a, b = rng.uniform(0.5, 1.5, n), rng.uniform(0.5, 1.5, m)
    return C / C.max(), a / a.sum(), b / b.sum()


def l1_errors(P, a, b) -> tuple[float, float]:
    return float(np.abs(P.sum(axis=1) - a).sum()), float(np.abs(P.sum(axis=0) - b).sum())


def solve(name, **kwargs):
    return iterc.load(name).solve(**kwargs)


def oracle_args(name, C, a, b):
    """The inputs each solver takes: Mirror Sinkhorn takes the gradient of f(P) = <C, P>."""
    return dict(a=a, b=b, grad_f=lambda P: C) if name == "mirror_sinkhorn" else dict(C=C, a=a, b=b)


# ---------------------------------------------------------------- sinkhorn, sinkhorn_knopp

@pytest.mark.parametrize("name,method", [("sinkhorn", "sinkhorn_log"), ("sinkhorn_knopp", "sinkhorn")])
@pytest.mark.parametrize("n,m", SIZES)
def test_plan_matches_pot_at_tolerance(name, method, n, m):
    C, a, b = problem(n * 1000 + m, n, m)
    eps = 0.05
    sol = solve(name, C=C, a=a, b=b, eps=eps, tol=1e-12, max_iter=50000)
    assert (sol.info.converged, sol.info.status) == (True, "converged")
    rows, cols = l1_errors(sol.P, a, b)
    assert sol.info.residual == pytest.approx(rows, rel=1e-12, abs=1e-300) and rows <= 1e-12
    assert cols <= 1e-14                                       # the last half-step fits the columns
    reference = ot.sinkhorn(a, b, C, eps, method=method, stopThr=1e-15, numItermax=100000)
    assert np.abs(sol.P - reference).max() <= 1e-9
    assert np.abs(sol.P - reference).sum() <= 1e-9


@pytest.mark.parametrize("name,method", [("sinkhorn", "sinkhorn_log"), ("sinkhorn_knopp", "sinkhorn")])
@pytest.mark.parametrize("iterations", [1, 2, 7, 40])
def test_iterates_are_pots_on_the_transposed_problem(name, method, iterations):
    """POT fits the columns first: its iterates on (C.T, b, a) are ours on (C, a, b), transposed."""
    C, a, b = problem(7, 30, 40)
    sol = solve(name, C=C, a=a, b=b, eps=0.02, tol=1e-300, max_iter=iterations)
    assert sol.info.iterations == iterations and sol.info.status == "max_iter"
    reference = ot.sinkhorn(b, a, C.T, 0.02, method=method, stopThr=0.0, numItermax=iterations, warn=False).T
    np.testing.assert_allclose(sol.P, reference, rtol=1e-11, atol=1e-300)


def test_sinkhorn_potentials_give_the_plan():
    C, a, b = problem(3, 20, 30)
    sol = solve("sinkhorn", C=C, a=a, b=b, eps=0.03, tol=1e-11)
    np.testing.assert_allclose(np.exp((sol.f[:, None] + sol.g[None, :] - C) / 0.03), sol.P, rtol=1e-12)
    knopp = solve("sinkhorn_knopp", C=C, a=a, b=b, eps=0.03, tol=1e-11)
    np.testing.assert_allclose(knopp.u[:, None] * np.exp(-C / 0.03) * knopp.v[None, :], knopp.P, rtol=1e-12)


@pytest.mark.parametrize("name", ["sinkhorn", "sinkhorn_knopp"])
def test_stops_at_a_check_and_reports_that_plan(name):
    """The plan and residual are refreshed on step 1, every check_period steps and the last
    step; the run stops at the first check whose error is <= tol."""
    C, a, b = problem(11, 30, 30)
    seen = []
    sol = solve(name, C=C, a=a, b=b, eps=0.02, tol=1e-8, check_period=7, max_iter=5000,
                callback=lambda t, r: seen.append((t, r)))
    k = sol.info.iterations
    assert sol.info.converged and k % 7 == 0 and [t for t, _ in seen] == list(range(1, k + 1))
    checks = {t: r for t, r in seen if t == 1 or t % 7 == 0}
    assert checks[k] == sol.info.residual <= 1e-8 < checks[k - 7]
    assert all(r == checks[7 * (t // 7) or 1] for t, r in seen)            # between checks: the last one
    assert sol.info.residual == pytest.approx(l1_errors(sol.P, a, b)[0], rel=1e-12)
    every = solve(name, C=C, a=a, b=b, eps=0.02, tol=1e-8, check_period=1, max_iter=5000)
    assert k - 7 < every.info.iterations <= k


def test_sinkhorn_knopp_underflows_where_log_domain_does_not():
    C = np.array([[1.0, 1.2], [1.1, 1.0]])
    a = b = np.array([0.5, 0.5])
    with np.errstate(all="ignore"):                # K = exp(-C / eps) is 0: a / (K v) divides by 0
        knopp = solve("sinkhorn_knopp", C=C, a=a, b=b, eps=1e-3)
    assert (knopp.info.converged, knopp.info.status) == (False, "nonfinite") and knopp.info.iterations == 1
    assert "not finite after iteration 1" in knopp.info.reason
    log_domain = solve("sinkhorn", C=C, a=a, b=b, eps=1e-3)
    assert log_domain.info.converged
    np.testing.assert_allclose(log_domain.P, np.diag([0.5, 0.5]), atol=1e-12)


# ---------------------------------------------------------------- the info record, for every solver

@pytest.mark.parametrize("name", SOLVERS)
def test_capped_run_reports_max_iter(name):
    C, a, b = problem(5, 12, 9)
    sol = solve(name, **oracle_args(name, C, a, b), tol=1e-300, max_iter=3)
    assert (sol.info.iterations, sol.info.converged, sol.info.status) == (3, False, "max_iter")
    assert np.isfinite(sol.info.residual) and sol.info.residual > 0
    assert "iteration cap (3)" in sol.info.reason
    rows, cols = l1_errors(sol.P, a, b)
    if name == "mirror_sinkhorn":                  # the rounded average lies in the polytope
        assert rows <= 1e-15 and cols <= 1e-15 and sol.P.min() >= 0
    elif name == "sinkhorn_newton_sparse":         # both marginals count
        assert sol.info.residual == pytest.approx(rows + cols, rel=1e-12)
    else:                                          # a check ran on the last step
        assert sol.info.residual == pytest.approx(rows, rel=1e-12)


@pytest.mark.parametrize("name", SOLVERS)
def test_progress_callback_sees_the_residual_decrease(name):
    C, a, b = problem(9, 20, 25)
    seen = []
    hypers = {"sinkhorn": dict(eps=0.02, check_period=1), "sinkhorn_knopp": dict(eps=0.02, check_period=1),
              "sinkhorn_newton_sparse": dict(eps=0.02), "mirror_sinkhorn": dict(tol=1e-6, eta0=1.0, max_iter=1000)}[name]
    sol = solve(name, **oracle_args(name, C, a, b), **{"tol": 1e-10, "max_iter": 400, **hypers},
                callback=lambda t, r: seen.append((t, r)))
    ts, rs = [t for t, _ in seen], np.array([r for _, r in seen])
    assert ts == list(range(1, sol.info.iterations + 1)) and rs[-1] == sol.info.residual
    if name in ("sinkhorn", "sinkhorn_knopp"):     # Sinkhorn's marginal error falls at every step here
        assert np.all(np.diff(rs) < 0) and sol.info.converged
    elif name == "sinkhorn_newton_sparse":         # the Newton stage takes it down by orders of magnitude
        assert sol.info.converged and rs[-1] < 1e-6 * rs[19] and np.all(np.diff(rs[19:]) < 0)
    else:                                          # O(1 / sqrt(t)), not monotone step by step
        assert rs[-1] < 0.25 * rs[0] and rs[-50:].mean() < 0.5 * rs[50:100].mean()


def test_inputs_off_the_simplex_are_rejected():
    C, a, b = problem(1, 4, 4)
    for name in SOLVERS:
        with pytest.raises(ValueError, match=r"input `a` must lie in `simplex`"):
            solve(name, **oracle_args(name, C, 2 * a, b))


# ---------------------------------------------------------------- Sinkhorn-Newton-Sparse

@pytest.mark.parametrize("n,m", SIZES)
def test_newton_sparse_matches_pot_in_fewer_iterations(n, m):
    C, a, b = problem(n * 1000 + m + 1, n, m)
    eps, tol = 0.01, 1e-11
    sol = solve("sinkhorn_newton_sparse", C=C, a=a, b=b, eps=eps, tol=tol)
    assert sol.info.converged and sol.info.residual <= tol
    assert sum(l1_errors(sol.P, a, b)) == pytest.approx(sol.info.residual, rel=1e-9)
    reference = ot.sinkhorn(a, b, C, eps, method="sinkhorn_log", stopThr=1e-15, numItermax=100000)
    assert np.abs(sol.P - reference).max() <= 1e-9
    assert np.abs(sol.P - reference).sum() <= 1e-9
    np.testing.assert_allclose(np.exp((sol.f[:, None] + sol.g[None, :] - C) / eps), sol.P, rtol=1e-10)
    plain = solve("sinkhorn", C=C, a=a, b=b, eps=eps, tol=tol, check_period=1, max_iter=100000)
    assert plain.info.converged and sol.info.iterations < plain.info.iterations
    assert sol.info.iterations <= 20 + 15                      # the warm-up, then a few Newton steps


def test_newton_sparse_dense_and_sparse_agree_with_regot():
    regot = pytest.importorskip("regot")
    C, a, b = problem(21, 60, 80)
    eps = 0.01
    reference = regot.sinkhorn_newton(np.asfortranarray(C), a, b, eps, tol=1e-14, max_iter=500).plan
    for rho in (0.0, 0.01, 0.1):                               # rho = 0: the whole Hessian
        sol = solve("sinkhorn_newton_sparse", C=C, a=a, b=b, eps=eps, tol=1e-12, rho=rho, warmup=10)
        assert sol.info.converged, (rho, sol.info)
        assert np.abs(sol.P - reference).max() <= 1e-9


def test_newton_sparse_warmup_only_is_sinkhorn():
    """With the warm-up longer than the run, the iterates are log-domain Sinkhorn's."""
    C, a, b = problem(4, 15, 20)
    sns = solve("sinkhorn_newton_sparse", C=C, a=a, b=b, eps=0.05, tol=1e-300, warmup=30, max_iter=25)
    plain = solve("sinkhorn", C=C, a=a, b=b, eps=0.05, tol=1e-300, max_iter=25)
    np.testing.assert_allclose(sns.P, plain.P, rtol=1e-13)
    np.testing.assert_allclose(sns.f, plain.f, rtol=1e-13, atol=1e-15)


# ---------------------------------------------------------------- Mirror Sinkhorn

def _logsumexp(x, axis):
    top = x.max(axis=axis, keepdims=True)
    return np.log(np.exp(x - top).sum(axis=axis, keepdims=True)) + top


def _round(F, a, b):
    """Altschuler, Weed & Rigollet (2017), Algorithm 2."""
    X = F * np.minimum(a / F.sum(axis=1), 1)[:, None]
    Y = X * np.minimum(b / X.sum(axis=0), 1)[None, :]
    ea, eb = a - Y.sum(axis=1), b - Y.sum(axis=0)
    return Y + np.outer(ea, eb) / max(np.abs(ea).sum(), 1e-300)


def mirror_sinkhorn_reference(grad_f, a, b, eta0, steps):
    """The research entry's rule: P_0 = a b^T; a mirror step P * exp(-eta_t grad_f(P)),
    eta_t = eta0 / sqrt(t), then a row scaling on odd steps t = 1, 3, ... and a column
    scaling on even ones; the answer rounds sum_t eta_t P_t / sum_t eta_t onto the polytope."""
    P = np.outer(a, b)
    S, W = np.zeros_like(P), 0.0
    for t in range(1, steps + 1):
        eta = eta0 / np.sqrt(t)
        Q = P * np.exp(-eta * grad_f(P))
        P = Q * (a / Q.sum(axis=1))[:, None] if t % 2 == 1 else Q * (b / Q.sum(axis=0))[None, :]
        S, W = S + eta * P, W + eta
    return _round(S / W, a, b), P


@pytest.mark.parametrize("steps", [1, 2, 7, 60])
@pytest.mark.parametrize("objective", ["linear", "quadratic"])
def test_mirror_sinkhorn_matches_the_equations(steps, objective):
    C, a, b = problem(31, 8, 11)
    target = np.outer(a, b) * (1 + 0.5 * np.sin(np.arange(88).reshape(8, 11)))
    grad = (lambda P: C) if objective == "linear" else (lambda P: 40 * (P - target) + C)
    sol = solve("mirror_sinkhorn", a=a, b=b, grad_f=grad, eta0=0.5, tol=1e-300, max_iter=steps)
    P, X = mirror_sinkhorn_reference(grad, a, b, 0.5, steps)
    np.testing.assert_allclose(sol.X, X, rtol=1e-11)
    np.testing.assert_allclose(sol.P, P, rtol=1e-11, atol=1e-17)
    rows, cols = l1_errors(sol.P, a, b)
    assert rows <= 1e-15 and cols <= 1e-15 and sol.P.min() >= 0


@pytest.mark.parametrize("n,m", SIZES)
def test_mirror_sinkhorn_approaches_the_exact_transport_cost(n, m):
    C, a, b = problem(n * 1000 + m + 2, n, m)
    best = ot.emd2(a, b, C)
    gaps = []
    for steps in (10, 300):
        sol = solve("mirror_sinkhorn", a=a, b=b, grad_f=lambda P: C, eta0=5.0, tol=1e-300, max_iter=steps)
        assert sum(l1_errors(sol.P, a, b)) <= 1e-14
        gaps.append(float(np.sum(C * sol.P)) - best)
    assert gaps[0] > gaps[1] >= -1e-12 and gaps[1] < 0.02


def test_mirror_sinkhorn_stops_on_the_marginal_error_of_the_average():
    C, a, b = problem(8, 10, 10)
    seen = []
    sol = solve("mirror_sinkhorn", a=a, b=b, grad_f=lambda P: C, eta0=0.3, tol=5e-3,
                callback=lambda t, r: seen.append(r))
    assert sol.info.converged and 10 < sol.info.iterations < 1000 and sol.info.residual <= 5e-3 < seen[-2]
    assert sum(l1_errors(sol.P, a, b)) <= 1e-14


# ---------------------------------------------------------------- the example

def test_example_draws_the_plan_and_the_convergence(tmp_path):
    out = tmp_path / "plan.png"
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "ot_sinkhorn.py"), str(out)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert "converged" in proc.stdout and str(out) in proc.stdout

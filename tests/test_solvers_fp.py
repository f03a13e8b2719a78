"""The fixed-point, linear-system and sampling solvers of the standard library (issue 9):
stdlib/fixed_point/{halpern, krasnoselskii_mann, picard_parallel, newton_schulz_sqrt},
stdlib/convex/conjugate_gradient and stdlib/sampling/{langevin, mirror_langevin}.

Each is run on random problems of several sizes in float64 and compared with a reference:
its published residual bound at every iteration (Halpern, Krasnosel'skii–Mann), a
hand-written loop, sequential explicit Euler (Picard), scipy.linalg.sqrtm (Newton–Schulz),
np.linalg.solve and scipy.sparse.linalg.cg (CG), and the exact moments of the target for the
samplers, within a statistical tolerance stated where it is used. The info record
(iterations, residual, converged, status) is checked, and so is a run stopped by its cap.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.sparse.linalg

import iterc


def _trace(solver, **kwargs):
    """Solve, recording the residual after every iteration: (solution, [(t, residual), ...])."""
    seen = []
    sol = solver.solve(callback=lambda t, r: seen.append((t, r)), **kwargs)
    return sol, seen


# ---------------------------------------------------------------- nonexpansive maps with a known fixed point

def _rotation(n, rng):
    """A random orthogonal matrix with no eigenvalue 1: rotations by angles in [0.3, pi - 0.3]
    on planes of a random basis, and -1 on the last axis when n is odd."""
    B, _ = np.linalg.qr(rng.normal(size=(n, n)))
    D = np.zeros((n, n))
    for i in range(0, n - 1, 2):
        a = rng.uniform(0.3, np.pi - 0.3)
        D[i:i + 2, i:i + 2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
    if n % 2:
        D[-1, -1] = -1.0
    return B @ D @ B.T


def _gap(M):
    """sigma_min(I - M): for T(x) = M x + v, |x - x*| <= |x - T(x)| / gap."""
    return np.linalg.svd(np.eye(len(M)) - M, compute_uv=False)[-1]


def rotated_ball_projection(n, rng):
    """T(x) = c + Q P(x - c), P the projection onto the unit ball and Q orthogonal with no
    eigenvalue 1: nonexpansive (a composition of two), and c is its only fixed point. Within
    the ball T is affine with linear part Q."""
    Q, c = _rotation(n, rng), rng.normal(size=n)

    def T(x):
        y = x - c
        r = np.linalg.norm(y)
        return c + Q @ (y if r <= 1 else y / r)
    return T, c, _gap(Q)


def gradient_step_at_2_over_L(n, rng):
    """T(x) = x - (2 / L)(A x - b) for A symmetric positive definite with largest eigenvalue L:
    nonexpansive but not averaged (the eigenvalue 1 - 2 = -1 makes Picard's x <- T(x) oscillate),
    with the fixed point A^-1 b."""
    M = rng.normal(size=(n, n))
    A = M @ M.T / n + 0.3 * np.eye(n)
    b = rng.normal(size=n)
    L = np.linalg.eigvalsh(A)[-1]
    return (lambda x: x - 2 / L * (A @ x - b)), np.linalg.solve(A, b), _gap(np.eye(n) - 2 / L * A)


def orthogonal_contraction(n, rng):
    """T(x) = Q (s x) + v, Q orthogonal, s in (0, 1): a contraction with x* = (I - s Q)^-1 v."""
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    s, v = rng.uniform(0.5, 0.95), rng.normal(size=n)
    return (lambda x: Q @ (s * x) + v), np.linalg.solve(np.eye(n) - s * Q, v), _gap(s * Q)


def averaged_rotation(n, rng):
    """T = (1 - a) I + a R for R(x) = c + Q (x - c), Q orthogonal without eigenvalue 1:
    a-averaged, fixed point c."""
    Q, c, a = _rotation(n, rng), rng.normal(size=n), rng.uniform(0.2, 0.9)
    M = (1 - a) * np.eye(n) + a * Q
    return (lambda x: c + M @ (x - c)), c, _gap(M)


MAPS = [rotated_ball_projection, gradient_step_at_2_over_L, orthogonal_contraction, averaged_rotation]
CASES = [(make, n, seed) for seed, (make, n) in enumerate(
    [(m, n) for m in MAPS for n in (2, 7, 30)])]


def _case_id(case):
    make, n, seed = case
    return f"{make.__name__}-n{n}"


# ---------------------------------------------------------------- Halpern

def halpern_by_hand(T, x0, tol, cap):
    x = x0.copy()
    for t in range(1, cap + 1):
        x = x0 / (t + 1) + (1 - 1 / (t + 1)) * T(x)
        r = np.linalg.norm(x - T(x))
        if r <= tol:
            return x, t, r
    return x, cap, r


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_halpern_meets_lieders_bound_and_finds_the_fixed_point(case):
    make, n, seed = case
    rng = np.random.default_rng(seed)
    T, x_star, gap = make(n, rng)
    x0 = x_star + 3 * rng.normal(size=n)
    d0 = np.linalg.norm(x0 - x_star)
    tol = 1e-3 * d0                                     # the bound guarantees it by t = 2000
    sol, seen = _trace(iterc.load("halpern").numpy(tol=tol, max_iter=2000), x0=x0, T=T)
    assert sol.info.converged and sol.info.status == "converged"
    assert [t for t, _ in seen] == list(range(1, sol.info.iterations + 1))
    # Lieder 2021, Thm 2.1: |x_t - T x_t| <= 2 |x0 - x*| / (t + 1) at every t (rounding slack 1e-12)
    for t, r in seen:
        assert r <= 2 * d0 / (t + 1) * (1 + 1e-12) + 1e-13, (t, r, 2 * d0 / (t + 1))
    assert sol.info.residual == pytest.approx(np.linalg.norm(sol.x - T(sol.x)), rel=1e-12, abs=1e-15)
    assert sol.residual == sol.info.residual
    # near x* each map is affine, T(x) = M x + v, so |x - x*| <= |x - T(x)| / sigma_min(I - M)
    assert np.linalg.norm(sol.x - x_star) <= sol.info.residual / gap * (1 + 1e-9) + 1e-12


@pytest.mark.parametrize("n,seed", [(3, 0), (16, 1)])
def test_halpern_matches_a_hand_written_loop(n, seed):
    rng = np.random.default_rng(seed)
    T, *_ = rotated_ball_projection(n, rng)
    x0 = rng.normal(size=n) * 4
    sol = iterc.load("halpern").solve(x0=x0, T=T, tol=1e-3)
    x, t, r = halpern_by_hand(T, x0, 1e-3, 100000)
    assert sol.info.iterations == t and sol.info.converged
    np.testing.assert_allclose(sol.x, x, rtol=1e-12, atol=1e-12)
    assert sol.info.residual == pytest.approx(r, rel=1e-10)


def test_halpern_calls_T_once_per_step():
    rng = np.random.default_rng(5)
    T0, *_ = orthogonal_contraction(4, rng)
    calls = []

    def T(x):
        calls.append(1)
        return T0(x)
    sol = iterc.load("halpern").solve(x0=np.zeros(4), T=T, max_iter=25)
    assert len(calls) == sol.info.iterations + 1          # T(x0) for the first step, then one per step


def test_halpern_capped_run_reports_max_iter():
    rng = np.random.default_rng(2)
    T, *_ = gradient_step_at_2_over_L(6, rng)
    x0 = rng.normal(size=6)
    sol = iterc.load("halpern").solve(x0=x0, T=T, max_iter=7)
    x, t, r = halpern_by_hand(T, x0, 0.0, 7)
    assert not sol.info.converged and sol.info.status == "max_iter" and sol.info.iterations == 7
    np.testing.assert_allclose(sol.x, x, rtol=1e-12, atol=1e-14)
    assert sol.info.residual == pytest.approx(r, rel=1e-12)


# ---------------------------------------------------------------- Krasnosel'skii–Mann

def km_by_hand(T, x0, lam, tol, cap):
    x = x0.copy()
    for t in range(1, cap + 1):
        x = (1 - lam) * x + lam * T(x)
        r = np.linalg.norm(x - T(x))
        if r <= tol:
            return x, t, r
    return x, cap, r


@pytest.mark.parametrize("lam", [0.3, 0.5, 0.8])
@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_km_meets_its_bound_and_its_residual_never_grows(case, lam):
    make, n, seed = case
    rng = np.random.default_rng(100 + seed)
    T, x_star, gap = make(n, rng)
    x0 = x_star + 3 * rng.normal(size=n)
    sol, seen = _trace(iterc.load("krasnoselskii_mann").numpy(lam=lam, tol=1e-8, max_iter=200000), x0=x0, T=T)
    assert sol.info.converged and sol.info.status == "converged"
    # |x_t - T x_t| <= |x0 - x*| / sqrt(lam (1 - lam) (t + 1)) (summed Fejér inequality) and
    # |x_t - T x_t| is nonincreasing (both with rounding slack)
    d0 = np.linalg.norm(x0 - x_star)
    prev = np.inf
    for t, r in seen:
        assert r <= d0 / np.sqrt(lam * (1 - lam) * (t + 1)) * (1 + 1e-12) + 1e-13, (t, r)
        assert r <= prev * (1 + 1e-12) + 1e-14, (t, r, prev)
        prev = r
    assert sol.info.residual == pytest.approx(np.linalg.norm(sol.x - T(sol.x)), rel=1e-12, abs=1e-15)
    # the KM iterates converge to a fixed point, here the only one: |x - x*| <= residual / gap
    assert np.linalg.norm(sol.x - x_star) <= sol.info.residual / gap * (1 + 1e-9) + 1e-12


def test_km_converges_where_picard_cycles():
    """A rotation by 90 degrees about c: x <- T(x) cycles forever, KM converges to c."""
    c = np.array([1.0, -2.0])
    R = np.array([[0.0, -1.0], [1.0, 0.0]])
    T = lambda x: c + R @ (x - c)                       # noqa: E731
    x = np.array([3.0, 0.0])
    for _ in range(4):
        x = T(x)
    np.testing.assert_allclose(x, [3.0, 0.0])           # Picard is back where it started
    sol = iterc.load("krasnoselskii_mann").solve(x0=np.array([3.0, 0.0]), T=T, tol=1e-10)
    assert sol.info.converged
    np.testing.assert_allclose(sol.x, c, atol=1e-9)


@pytest.mark.parametrize("n,lam,seed", [(3, 0.5, 0), (20, 0.25, 1)])
def test_km_matches_a_hand_written_loop(n, lam, seed):
    rng = np.random.default_rng(seed)
    T, *_ = rotated_ball_projection(n, rng)
    x0 = rng.normal(size=n) * 4
    sol = iterc.load("krasnoselskii_mann").solve(x0=x0, T=T, lam=lam, tol=1e-7)
    x, t, r = km_by_hand(T, x0, lam, 1e-7, 100000)
    assert sol.info.iterations == t and sol.info.converged
    np.testing.assert_allclose(sol.x, x, rtol=1e-12, atol=1e-12)
    assert sol.info.residual == pytest.approx(r, rel=1e-10)


def test_km_capped_run_and_lam_domain():
    rng = np.random.default_rng(3)
    T, *_ = rotated_ball_projection(5, rng)
    sol = iterc.load("krasnoselskii_mann").solve(x0=np.full(5, 10.0), T=T, max_iter=4)
    assert (sol.info.converged, sol.info.status, sol.info.iterations) == (False, "max_iter", 4)
    x, _, r = km_by_hand(T, np.full(5, 10.0), 0.5, 0.0, 4)
    np.testing.assert_allclose(sol.x, x, rtol=1e-13)
    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ValueError, match="lam"):
            iterc.load("krasnoselskii_mann").numpy(lam=bad)


# ---------------------------------------------------------------- Picard over a time grid

def euler_by_hand(f, y0, ts):
    """Sequential explicit Euler, one grid point at a time, calling f on one row."""
    Y = [np.asarray(y0, dtype=float)]
    for k in range(len(ts) - 1):
        Y.append(Y[-1] + (ts[k + 1] - ts[k]) * f(ts[k:k + 1], Y[-1][None, :])[0])
    return np.array(Y)


def _ode(d, rng, scale=1.0):
    """A nonlinear, time-dependent right-hand side, row-wise over the grid."""
    W = rng.normal(size=(d, d)) * scale
    u = rng.normal(size=d)
    return lambda t, Y: np.tanh(Y @ W.T) + np.cos(3 * t)[:, None] * u - 0.5 * Y


@pytest.mark.parametrize("m,d,scale,seed", [(2, 1, 1.0, 0), (6, 2, 1.0, 1), (40, 3, 1.0, 2),
                                            (150, 5, 0.5, 3), (25, 4, 8.0, 4)])
def test_picard_equals_sequential_euler_within_m_minus_1_sweeps(m, d, scale, seed):
    rng = np.random.default_rng(seed)
    f = _ode(d, rng, scale)
    ts = np.cumsum(rng.uniform(0.02, 0.2, size=m)) - 0.1          # a nonuniform, increasing grid
    y0 = rng.normal(size=d)
    sol = iterc.load("picard_parallel").solve(y0=y0, ts=ts, f=f)
    ref = euler_by_hand(f, y0, ts)
    assert sol.info.converged and sol.info.status == "converged"
    assert 1 <= sol.info.iterations <= m - 1
    assert sol.info.residual == 0.0                                 # tol = 0: an exact fixed point of the sweep
    np.testing.assert_allclose(sol.Y, ref, rtol=1e-12, atol=1e-12)
    assert sol.Y.shape == (m, d)


def test_picard_needs_all_sweeps_when_f_is_stiff():
    """With a large Lipschitz constant over the horizon the sweeps do not contract, and the
    exact answer arrives only by finite termination: after sweep j the first j + 1 points
    are exact."""
    rng = np.random.default_rng(7)
    m, d = 12, 2
    f = lambda t, Y: -30.0 * Y + np.sin(t)[:, None]              # noqa: E731
    ts = np.linspace(0.0, 1.0, m)
    y0 = rng.normal(size=d)
    ref = euler_by_hand(f, y0, ts)
    sol = iterc.load("picard_parallel").solve(y0=y0, ts=ts, f=f)
    assert sol.info.converged and sol.info.iterations == m - 1
    np.testing.assert_allclose(sol.Y, ref, rtol=1e-12, atol=1e-12)
    for j in (1, 4, 8):
        capped = iterc.load("picard_parallel").solve(y0=y0, ts=ts, f=f, max_iter=j)
        assert (capped.info.converged, capped.info.status, capped.info.iterations) == (False, "max_iter", j)
        np.testing.assert_allclose(capped.Y[:j + 1], ref[:j + 1], rtol=1e-12, atol=1e-12)
        assert np.abs(capped.Y[j + 1:] - ref[j + 1:]).max() > 1e-3          # the rest is not there yet
        # the residual is the sup-norm distance of Y to its next sweep
        L = np.tril(np.ones((m, m)), -1)
        h = np.append(np.diff(ts), 0.0)
        nxt = y0 + L @ (h[:, None] * f(ts, capped.Y))
        assert capped.info.residual == pytest.approx(np.abs(nxt - capped.Y).max(), rel=1e-12)


def test_picard_with_a_tolerance_stops_early_and_calls_f_once_per_sweep():
    rng = np.random.default_rng(8)
    m, d = 80, 3
    f0 = _ode(d, rng, 0.3)
    calls = []

    def f(t, Y):
        calls.append(Y.shape)
        return f0(t, Y)
    ts = np.linspace(0.0, 2.0, m)
    y0 = rng.normal(size=d)
    sol = iterc.load("picard_parallel").solve(y0=y0, ts=ts, f=f, tol=1e-9)
    assert sol.info.converged and sol.info.residual <= 1e-9 and sol.info.iterations < m - 1
    assert len(calls) == sol.info.iterations + 1 and set(calls) == {(m, d)}
    np.testing.assert_allclose(sol.Y, euler_by_hand(f0, y0, ts), atol=1e-7)


# ---------------------------------------------------------------- Newton–Schulz square root

def _spd(n, cond, rng):
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    lam = np.geomspace(1.0, cond, n) * rng.uniform(0.5, 20)
    return (Q * lam) @ Q.T


@pytest.mark.parametrize("n,cond,seed", [(1, 1.0, 0), (2, 3.0, 1), (5, 50.0, 2), (20, 1e3, 3), (60, 1e4, 4)])
def test_newton_schulz_sqrt_matches_scipy_sqrtm(n, cond, seed):
    rng = np.random.default_rng(seed)
    A = _spd(n, cond, rng)
    sol, seen = _trace(iterc.load("newton_schulz_sqrt").numpy(tol=1e-12), A=A, I=np.eye(n))
    S = np.real(scipy.linalg.sqrtm(A))
    S_inv = np.linalg.inv(S)
    assert sol.info.converged and sol.info.status == "converged" and sol.info.residual <= 1e-12
    # relative Frobenius error: the residual tolerance 1e-12 bounds the error of the normalised
    # iterates; allow a factor sqrt(cond) for the scaling back and rounding in the products
    assert np.linalg.norm(sol.sqrt_A - S) <= 1e-11 * np.sqrt(cond) * np.linalg.norm(S)
    assert np.linalg.norm(sol.inv_sqrt_A - S_inv) <= 1e-11 * np.sqrt(cond) * np.linalg.norm(S_inv)
    np.testing.assert_allclose(sol.sqrt_A @ sol.sqrt_A, A, rtol=0, atol=1e-10 * np.linalg.norm(A))
    # quadratic convergence: every eigenvalue's error e = 1 - z y obeys e' = (3 e^2 + e^3) / 4 <= e^2,
    # so |I - Z Y|_F is at most its square the step before (plus rounding)
    res = [r for _, r in seen]
    assert all(b <= a * a + 1e-13 for a, b in zip(res, res[1:])), res


def test_newton_schulz_sqrt_default_tolerance_on_an_ill_conditioned_matrix():
    """cond(A) = 1e10: the default tol (1e-10) is above the rounding floor of |I - Z Y|."""
    rng = np.random.default_rng(10)
    n = 50
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    lam = np.geomspace(1e-4, 1e6, n)
    A = (Q * lam) @ Q.T
    A = (A + A.T) / 2
    sol = iterc.load("newton_schulz_sqrt").solve(A=A, I=np.eye(n))
    assert sol.info.converged and sol.info.iterations < 60
    S = (Q * np.sqrt(lam)) @ Q.T
    assert np.linalg.norm(sol.sqrt_A - S) <= 1e-9 * np.linalg.norm(S)
    # the inverse root is limited by rounding to about eps cond(A) = 1e-6 relative (np.linalg.inv
    # of scipy's sqrtm is off by 2e-8 here; this run by 8e-8)
    S_inv = (Q / np.sqrt(lam)) @ Q.T
    assert np.linalg.norm(sol.inv_sqrt_A - S_inv) <= 1e-6 * np.linalg.norm(S_inv)


def test_newton_schulz_sqrt_capped_run_and_input_domain():
    rng = np.random.default_rng(9)
    A = _spd(8, 1e3, rng)
    sol = iterc.load("newton_schulz_sqrt").solve(A=A, I=np.eye(8), max_iter=3)
    assert (sol.info.converged, sol.info.status, sol.info.iterations) == (False, "max_iter", 3)
    assert sol.info.residual > 1e-3
    # the reported residual is |I - Z Y|_F, with Z Y = inv_sqrt_A @ sqrt_A
    assert sol.info.residual == pytest.approx(np.linalg.norm(np.eye(8) - sol.inv_sqrt_A @ sol.sqrt_A), rel=1e-9)
    with pytest.raises(ValueError, match="psd"):
        iterc.load("newton_schulz_sqrt").solve(A=-A, I=np.eye(8))


# ---------------------------------------------------------------- conjugate gradient

def _counted(A):
    calls = []

    def matvec(v):
        calls.append(1)
        return A @ v
    return matvec, calls


@pytest.mark.parametrize("n,cond,seed", [(3, 10.0, 0), (10, 100.0, 1), (40, 1e3, 2), (200, 50.0, 3)])
def test_cg_solves_spd_systems_like_scipy(n, cond, seed):
    rng = np.random.default_rng(seed)
    A, b = _spd(n, cond, rng), rng.normal(size=n)
    matvec, calls = _counted(A)
    sol = iterc.load("conjugate_gradient").solve(b=b, matvec=matvec, rtol=1e-10)
    assert sol.info.converged and sol.info.status == "converged"
    assert len(calls) == sol.info.iterations                        # one product per step
    assert sol.info.residual <= 1e-10 * np.linalg.norm(b)
    x_exact = np.linalg.solve(A, b)
    # |x - x*| / |x*| <= cond * |r| / |b|: with rtol 1e-10 and rounding, 1e-10 * cond + 1e-12
    assert np.linalg.norm(sol.x - x_exact) <= (1e-10 * cond + 1e-12) * np.linalg.norm(x_exact)
    x_scipy, status = scipy.sparse.linalg.cg(A, b, rtol=1e-10, atol=0.0, maxiter=10 * n)
    assert status == 0
    assert np.linalg.norm(sol.x - x_scipy) <= (2e-10 * cond + 1e-12) * np.linalg.norm(x_exact)
    # the recursive residual the stopping rule uses tracks the true one
    assert np.linalg.norm(b - A @ sol.x) <= 1e-10 * np.linalg.norm(b) * 10


@pytest.mark.parametrize("n,seed", [(2, 0), (5, 1), (8, 2), (12, 3)])
def test_cg_terminates_within_n_steps_on_small_systems(n, seed):
    rng = np.random.default_rng(seed)
    A, b = _spd(n, 20.0, rng), rng.normal(size=n)
    sol = iterc.load("conjugate_gradient").solve(b=b, matvec=lambda v: A @ v, rtol=1e-12)
    assert sol.info.converged and sol.info.iterations <= n
    np.testing.assert_allclose(sol.x, np.linalg.solve(A, b), rtol=1e-10, atol=1e-12)


def test_cg_terminates_in_as_many_steps_as_distinct_eigenvalues():
    rng = np.random.default_rng(4)
    n = 60
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    lam = rng.choice([1.0, 2.5, 4.0, 7.0], size=n)                 # four distinct eigenvalues
    A, b = (Q * lam) @ Q.T, rng.normal(size=n)
    sol = iterc.load("conjugate_gradient").solve(b=b, matvec=lambda v: A @ v, rtol=1e-10)
    assert sol.info.converged and sol.info.iterations <= 4
    np.testing.assert_allclose(sol.x, np.linalg.solve(A, b), rtol=1e-9)


def test_cg_capped_run_zero_right_hand_side_and_atol():
    rng = np.random.default_rng(5)
    A, b = _spd(50, 1e3, rng), rng.normal(size=50)
    sol = iterc.load("conjugate_gradient").solve(b=b, matvec=lambda v: A @ v, max_iter=3)
    assert (sol.info.converged, sol.info.status, sol.info.iterations) == (False, "max_iter", 3)
    x_scipy, info = scipy.sparse.linalg.cg(A, b, rtol=1e-30, maxiter=3)
    assert info == 3
    np.testing.assert_allclose(sol.x, x_scipy, rtol=1e-10)
    zero = iterc.load("conjugate_gradient").solve(b=np.zeros(4), matvec=lambda v: 2 * v)
    assert zero.info.converged and zero.info.iterations == 1 and not zero.x.any()
    loose = iterc.load("conjugate_gradient").solve(b=b, matvec=lambda v: A @ v, rtol=0.0, atol=1e-3)
    assert loose.info.converged and 1e-3 * 1e-3 < loose.info.residual <= 1e-3
    with pytest.raises(ValueError, match="rtol > 0 or atol > 0"):
        iterc.load("conjugate_gradient").numpy(rtol=0.0, atol=0.0)


# ---------------------------------------------------------------- samplers

def _gaussian(n, rng):
    M = rng.normal(size=(n, n))
    Sigma = M @ M.T / n + 0.5 * np.eye(n)
    return rng.normal(size=n), Sigma, np.linalg.inv(Sigma)


def _standard_errors(x):
    """Standard errors of the sample mean and of each entry of the sample covariance of the
    rows of x (independent draws), estimated from the draws themselves."""
    c = x.shape[0]
    z = x - x.mean(axis=0)
    prod = z[:, :, None] * z[:, None, :]
    return z.std(axis=0) / np.sqrt(c), prod.std(axis=0) / np.sqrt(c)


@pytest.mark.parametrize("n,step_size,seed", [(1, 0.1, 0), (3, 0.05, 1), (5, 0.1, 2)])
def test_langevin_moments_of_a_gaussian(n, step_size, seed):
    """ULA on U(x) = (x - mu)^T A (x - mu) / 2 is a Gaussian autoregression whose stationary
    law is known exactly: mean mu and covariance S = (A - h A^2 / 2)^-1 (from S = B S B + 2h I,
    B = I - h A). The c = 3000 chains start at 0 and forget it at rate (1 - h lam_min)^t: after
    the 400-step burn-in that is below 1e-3 of the spread. The final ensemble is c independent
    draws, so each moment is within 5 standard errors of S (estimated from the draws; a
    5-sigma miss has probability below 1e-6 per entry). The running averages pool c chains
    over 400 more steps: an average of correlated, identically distributed terms has a variance
    at most that of one term, so the same 5-standard-error tolerance bounds them too."""
    rng = np.random.default_rng(seed)
    mu, Sigma, A = _gaussian(n, rng)
    lam = np.linalg.eigvalsh(A)
    assert step_size * lam[-1] < 1 and (1 - step_size * lam[0]) ** 400 < 1e-3 / (1 + np.abs(mu).max())
    c = 3000
    sol = iterc.load("langevin").solve(x0=np.zeros((c, n)), grad_U=lambda X: (X - mu) @ A,
                                       step_size=step_size, steps=800, burn_in=400, seed=seed)
    assert (sol.info.converged, sol.info.status, sol.info.iterations, sol.info.residual) == \
        (False, "max_iter", 800, None)
    S = np.linalg.inv(A - step_size * A @ A / 2)
    se_mean, se_cov = _standard_errors(sol.x)
    assert np.all(np.abs(sol.x.mean(axis=0) - mu) <= 5 * se_mean)
    assert np.all(np.abs(np.cov(sol.x.T, bias=True).reshape(n, n) - S) <= 5 * se_cov)
    assert np.all(np.abs(sol.mean_x - mu) <= 5 * se_mean)
    assert np.all(np.abs(sol.cov - S) <= 5 * se_cov)
    assert sol.cov.shape == (n, n) and sol.mean_x.shape == (n,)


def test_langevin_is_unadjusted_its_bias_is_the_ula_bias():
    """At a large step the ULA covariance (A - h A^2 / 2)^-1 and the target's A^-1 differ by
    many standard errors, and the sampler lands on the first: it is the unadjusted chain."""
    A = np.array([[2.0]])
    h, c = 0.5, 4000                                   # S = 1 / (2 - 0.5 * 4 / 2) = 1, target 0.5
    sol = iterc.load("langevin").solve(x0=np.zeros((c, 1)), grad_U=lambda X: X @ A,
                                       step_size=h, steps=60, burn_in=30, seed=3)
    se = np.sqrt(2.0 / c)                             # sd of a sample variance of N(0, 1)
    assert abs(sol.x.var() - 1.0) <= 5 * se and abs(sol.x.var() - 0.5) > 20 * se


def test_langevin_is_reproducible_with_a_seed():
    grad = lambda X: X                                                  # noqa: E731
    run = lambda seed: iterc.load("langevin").solve(x0=np.ones((4, 3)), grad_U=grad, steps=20, seed=seed)  # noqa: E731
    a, b, other = run(7), run(7), run(8)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.cov, b.cov)
    assert not np.allclose(a.x, other.x)
    # the noise is the method's PCG64 stream: step 1 by hand
    one = iterc.load("langevin").solve(x0=np.ones((4, 3)), grad_U=grad, steps=1, seed=7)
    xi = np.random.Generator(np.random.PCG64(7)).standard_normal((4, 3))
    np.testing.assert_allclose(one.x, 1 - 1e-2 + np.sqrt(2e-2) * xi, rtol=1e-14)


def _dirichlet_moments(alpha):
    a0 = alpha.sum()
    m = alpha / a0
    return m, (np.diag(m) - np.outer(m, m)) / (a0 + 1)


@pytest.mark.parametrize("alpha,seed", [([2.0, 3.0, 4.0], 0), ([1.5, 2.0, 5.0, 3.0, 2.5], 1)])
def test_mirror_langevin_moments_of_a_dirichlet(alpha, seed):
    """Moments of Dirichlet(alpha) from c = 2000 chains, step 0.01, 1200 steps (600 burn-in).
    The tolerance is 5 standard errors (estimated from the final ensemble of independent
    chains, as for the Gaussian test; they bound the running averages too) plus the
    discretisation bias of an unadjusted method, O(step_size): measured with 4000 chains at
    about 1.5% of the variances at step 0.01 (0.3% at 0.005) and 0.3% of the standard
    deviations in the means, it is allowed as 3% of sqrt(Var_i Var_j) per covariance entry and
    1% of the standard deviation per mean."""
    alpha = np.asarray(alpha)
    n, c = alpha.size, 2000
    mean, cov = _dirichlet_moments(alpha)
    x0 = np.random.default_rng(seed).dirichlet(np.ones(n), size=c)
    sol = iterc.load("mirror_langevin").solve(x0=x0, grad_V=lambda X: -(alpha - 1) / X,
                                              step_size=0.01, steps=1200, burn_in=600, seed=seed)
    assert (sol.info.converged, sol.info.status, sol.info.iterations) == (False, "max_iter", 1200)
    assert np.all(sol.x > 0)
    np.testing.assert_allclose(sol.x.sum(axis=1), 1.0, rtol=1e-12)     # on the simplex, by construction
    sd = np.sqrt(np.diag(cov))
    se_mean, se_cov = _standard_errors(sol.x)
    bias_mean, bias_cov = 0.01 * sd, 0.03 * np.outer(sd, sd)
    for m_hat, c_hat in ((sol.x.mean(axis=0), np.cov(sol.x.T, bias=True)), (sol.mean_x, sol.cov)):
        assert np.all(np.abs(m_hat - mean) <= 5 * se_mean + bias_mean), (m_hat - mean) / se_mean
        assert np.all(np.abs(c_hat - cov) <= 5 * se_cov + bias_cov), (c_hat - cov) / se_cov


def test_mirror_langevin_dual_step_by_hand_and_reproducibility():
    """One step, written out: y = log x0 centred, y <- y - h (x (g - <x, g>) + n x - 1) + sqrt(2h) xi,
    centred again, x = softmax(y); with a Dirichlet's gradient the drift is sum(alpha) x - alpha."""
    alpha = np.array([2.0, 3.0, 1.5])
    x0 = np.array([[0.2, 0.5, 0.3], [0.6, 0.3, 0.1]])
    grad = lambda X: -(alpha - 1) / X                                   # noqa: E731
    h = 0.05
    one = iterc.load("mirror_langevin").solve(x0=x0, grad_V=grad, step_size=h, steps=1, seed=11)
    y = np.log(x0) - np.log(x0).mean(axis=1, keepdims=True)
    xi = np.random.Generator(np.random.PCG64(11)).standard_normal(x0.shape)
    y = y - h * (alpha.sum() * x0 - alpha) + np.sqrt(2 * h) * xi
    x = np.exp(y - y.max(axis=1, keepdims=True))
    np.testing.assert_allclose(one.x, x / x.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(one.mean_x, one.x.mean(axis=0), rtol=1e-14)   # burn_in 0: step 1 is averaged
    run = lambda seed: iterc.load("mirror_langevin").solve(x0=x0, grad_V=grad, steps=30, seed=seed)  # noqa: E731
    a, b, other = run(4), run(4), run(5)
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.cov, b.cov)
    assert not np.allclose(a.x, other.x)


def test_mirror_langevin_rejects_points_outside_the_positive_orthant():
    with pytest.raises(ValueError, match="positive"):
        iterc.load("mirror_langevin").solve(x0=np.array([[0.5, 0.5, 0.0]]), grad_V=lambda X: X)

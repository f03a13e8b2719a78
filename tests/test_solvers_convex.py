"""The convex solvers of the standard library (issue 9): stdlib/convex/{frank_wolfe,
projected_gradient, proximal_gradient, fista, mirror_descent, mirror_prox, damped_newton,
douglas_rachford, admm}.

Each runs on random problems of several sizes in float64 against an independent reference:
jaxopt.ProximalGradient (with and without acceleration), jaxopt.ProjectedGradient and
jaxopt.MirrorDescent iterate by iterate (float64 enabled), a matrix game solved as a linear
program by scipy.optimize.linprog, scipy.optimize.minimize (trust-exact, Newton-CG) for the
damped Newton method, cvxpy for the lasso and for the Frank-Wolfe problems, and the
published bounds (Frank-Wolfe's 2 L D^2 / (t + 1) and its gap, Nesterov's decrease and
quadratic phase for damped Newton, Nemirovski's O(1/t) for mirror prox). The info record
(iterations, residual, converged, status) is checked, and so is a run stopped by its cap.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.optimize

import iterc

jax = pytest.importorskip("jax")
jaxopt = pytest.importorskip("jaxopt")
cp = pytest.importorskip("cvxpy")
import jax.numpy as jnp  # noqa: E402


@pytest.fixture
def x64():
    """jaxopt computes in float64 here, as the numpy solvers do."""
    with jax.enable_x64(True):
        yield


def _trace(solver, **kwargs):
    """Solve, recording the residual after every iteration: (solution, [residual, ...])."""
    seen = []
    sol = solver.solve(callback=lambda t, r: seen.append((t, r)), **kwargs)
    assert [t for t, _ in seen] == list(range(1, sol.info.iterations + 1))
    return sol, np.array([r for _, r in seen])


def _converged(sol, tol):
    info = sol.info
    assert info.converged and info.status == "converged", info
    assert 0 <= info.residual <= tol
    return info


def _capped(sol, cap):
    info = sol.info
    assert info.iterations == cap and not info.converged and info.status == "max_iter", info
    assert np.isfinite(info.residual)


def _soft(v, lam):
    return np.sign(v) * np.maximum(np.abs(v) - lam, 0.0)


# ---------------------------------------------------------------- a lasso: 0.5 |A x - b|^2 + lam |x|_1

def lasso(seed, m, n):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(m, n)) / np.sqrt(m)
    x_true = np.where(rng.uniform(size=n) < 0.3, rng.normal(size=n), 0.0)
    b = A @ x_true + 0.05 * rng.normal(size=m)
    lam = 0.1 * np.abs(A.T @ b).max()
    L = np.linalg.eigvalsh(A.T @ A)[-1]
    return A, b, lam, L


def lasso_cvxpy(A, b, lam):
    x = cp.Variable(A.shape[1])
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A @ x - b) + lam * cp.norm1(x)))
    prob.solve()
    return x.value, prob.value


def lasso_objective(A, b, lam, x):
    return 0.5 * np.sum((A @ x - b) ** 2) + lam * np.abs(x).sum()


SIZES = [(0, 30, 10), (1, 60, 25), (2, 40, 80)]


# ---------------------------------------------------------------- proximal gradient and FISTA against jaxopt

@pytest.mark.parametrize("name,accel", [("proximal_gradient", False), ("fista", True)])
@pytest.mark.parametrize("seed,m,n", SIZES)
def test_proximal_gradient_and_fista_match_jaxopt(x64, name, accel, seed, m, n):
    A, b, lam, L = lasso(seed, m, n)
    eta = 1 / L
    x0 = np.random.default_rng(seed + 10).normal(size=n)
    grad = lambda x: A.T @ (A @ x - b)                       # noqa: E731
    prox = lambda v, e: _soft(v, e * lam)                    # noqa: E731
    solver = iterc.load(name).numpy(step_size=eta, tol=1e-9)

    def fun(x):
        return 0.5 * jnp.sum((jnp.asarray(A) @ x - jnp.asarray(b)) ** 2)

    ref = jaxopt.ProximalGradient(fun=fun, prox=jaxopt.prox.prox_lasso, stepsize=eta, maxiter=20000,
                                  tol=1e-9, acceleration=accel, jit=True)
    # iterate by iterate: 1, 5 and 40 steps, each a capped run
    for cap in (1, 5, 40):
        sol = solver.solve(x0=x0, grad_f=grad, prox=prox, max_iter=cap, tol=1e-300)
        _capped(sol, cap)
        want = jaxopt.ProximalGradient(fun=fun, prox=jaxopt.prox.prox_lasso, stepsize=eta, maxiter=cap,
                                       tol=0.0, acceleration=accel).run(jnp.asarray(x0), hyperparams_prox=lam)
        np.testing.assert_allclose(sol.x, np.asarray(want.params), rtol=1e-9, atol=1e-11)
        np.testing.assert_allclose(sol.info.residual, float(want.state.error), rtol=1e-7)
    # to convergence: the same stopping rule, so the same number of iterations (within one, for rounding)
    sol = solver.solve(x0=x0, grad_f=grad, prox=prox)
    info = _converged(sol, 1e-9)
    want = ref.run(jnp.asarray(x0), hyperparams_prox=lam)
    assert abs(info.iterations - int(want.state.iter_num)) <= 1
    np.testing.assert_allclose(sol.x, np.asarray(want.params), atol=1e-8)
    x_cp, f_cp = lasso_cvxpy(A, b, lam)
    assert lasso_objective(A, b, lam, sol.x) <= f_cp + 1e-7
    np.testing.assert_allclose(sol.x, x_cp, atol=1e-4)


@pytest.mark.parametrize("seed,m,n", SIZES)
def test_fista_and_proximal_gradient_meet_their_bounds(seed, m, n):
    """F(x_t) - F* <= 2 L |x0 - x*|^2 / (t + 1)^2 (Beck & Teboulle Thm 4.4), and
    <= L |x0 - x*|^2 / (2 t) for the plain method (Thm 3.1), at every t checked."""
    A, b, lam, L = lasso(seed, m, n)
    x0 = np.zeros(n)
    grad = lambda x: A.T @ (A @ x - b)                       # noqa: E731
    prox = lambda v, e: _soft(v, e * lam)                    # noqa: E731
    x_star = iterc.load("fista").solve(x0=x0, grad_f=grad, prox=prox, step_size=1 / L, tol=1e-12).x
    f_star = lasso_objective(A, b, lam, x_star)
    R2 = np.sum((x0 - x_star) ** 2)
    for t in (1, 3, 10, 30, 100):
        xf = iterc.load("fista").solve(x0=x0, grad_f=grad, prox=prox, step_size=1 / L, max_iter=t).x
        xp = iterc.load("proximal_gradient").solve(x0=x0, grad_f=grad, prox=prox, step_size=1 / L, max_iter=t).x
        assert lasso_objective(A, b, lam, xf) - f_star <= 2 * L * R2 / (t + 1) ** 2 + 1e-10
        assert lasso_objective(A, b, lam, xp) - f_star <= L * R2 / (2 * t) + 1e-10


# ---------------------------------------------------------------- projected gradient against jaxopt

def _proj_simplex(v):
    u = np.sort(v)[::-1]
    css = np.cumsum(u) - 1
    k = np.nonzero(u - css / np.arange(1, len(v) + 1) > 0)[0][-1]
    return np.maximum(v - css[k] / (k + 1), 0)


@pytest.mark.parametrize("where", ["simplex", "box"])
@pytest.mark.parametrize("seed,m,n", SIZES)
def test_projected_gradient_matches_jaxopt(x64, where, seed, m, n):
    A, b, _, L = lasso(seed, m, n)
    x0 = np.random.default_rng(seed).uniform(size=n)
    grad = lambda x: A.T @ (A @ x - b)                       # noqa: E731
    if where == "simplex":
        proj, jproj, hp = _proj_simplex, jaxopt.projection.projection_simplex, None
    else:
        proj, jproj, hp = (lambda v: np.clip(v, -0.1, 0.2)), jaxopt.projection.projection_box, (-0.1, 0.2)

    def fun(x):
        return 0.5 * jnp.sum((jnp.asarray(A) @ x - jnp.asarray(b)) ** 2)

    solver = iterc.load("projected_gradient").numpy(step_size=1 / L, tol=1e-9)
    for cap in (1, 7, 30):
        sol = solver.solve(x0=x0, grad_f=grad, proj=proj, max_iter=cap, tol=1e-300)
        if sol.info.converged:      # x stopped moving: a vertex of the simplex is reached in finitely many steps
            assert sol.info.residual == 0 and sol.info.iterations < cap
        else:
            _capped(sol, cap)
        want = jaxopt.ProjectedGradient(fun=fun, projection=jproj, stepsize=1 / L, maxiter=cap, acceleration=False,
                                        tol=0.0).run(jnp.asarray(x0), hyperparams_proj=hp)
        np.testing.assert_allclose(sol.x, np.asarray(want.params), rtol=1e-9, atol=1e-11)
    sol = solver.solve(x0=x0, grad_f=grad, proj=proj)
    info = _converged(sol, 1e-9)
    want = jaxopt.ProjectedGradient(fun=fun, projection=jproj, stepsize=1 / L, maxiter=50000, acceleration=False,
                                    tol=1e-9).run(jnp.asarray(x0), hyperparams_proj=hp)
    assert abs(info.iterations - int(want.state.iter_num)) <= 1
    np.testing.assert_allclose(sol.x, np.asarray(want.params), atol=1e-8)
    x = cp.Variable(n)
    cons = [x >= 0, cp.sum(x) == 1] if where == "simplex" else [x >= -0.1, x <= 0.2]
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A @ x - b)), cons)
    prob.solve()
    assert 0.5 * np.sum((A @ sol.x - b) ** 2) <= prob.value + 1e-7


# ---------------------------------------------------------------- mirror descent against jaxopt

def _simplex_problem(seed, n):
    """f(x) = 0.5 |Q x - c|^2 + <d, x> on the simplex, Q well conditioned."""
    rng = np.random.default_rng(seed)
    Q = rng.normal(size=(n + 5, n)) / np.sqrt(n)
    c, d = rng.normal(size=n + 5), 0.3 * rng.normal(size=n)
    L = np.linalg.eigvalsh(Q.T @ Q)[-1]
    return Q, c, d, L


@pytest.mark.parametrize("entropic", [True, False])
@pytest.mark.parametrize("decay", [False, True])
@pytest.mark.parametrize("seed,n", [(0, 5), (1, 20), (2, 60)])
def test_mirror_descent_matches_jaxopt(x64, entropic, decay, seed, n):
    Q, c, d, L = _simplex_problem(seed, n)
    x0 = np.random.default_rng(seed).uniform(0.5, 1.5, size=n)
    x0 /= x0.sum()
    eta = 1 / L
    grad = lambda x: Q.T @ (Q @ x - c) + d                   # noqa: E731

    def fun(x):
        return 0.5 * jnp.sum((jnp.asarray(Q) @ x - jnp.asarray(c)) ** 2) + jnp.dot(jnp.asarray(d), x)

    if entropic:
        pg = jaxopt.MirrorDescent.make_projection_grad(lambda u, hp: jax.nn.softmax(u), jnp.log)
    else:
        pg = jaxopt.MirrorDescent.make_projection_grad(lambda u, hp: jaxopt.projection.projection_simplex(u),
                                                       lambda x: x)
    step = (lambda k: eta / jnp.sqrt(k + 1.0)) if decay else eta
    solver = iterc.load("mirror_descent").numpy(step_size=eta, entropic=entropic, decay=decay, tol=1e-8)
    for cap in (1, 6, 50):
        sol = solver.solve(x0=x0, grad_f=grad, max_iter=cap, tol=1e-300)
        _capped(sol, cap)
        want = jaxopt.MirrorDescent(fun=fun, projection_grad=pg, stepsize=step, maxiter=cap,
                                    tol=0.0).run(jnp.asarray(x0), hyperparams_proj=None)
        np.testing.assert_allclose(sol.x, np.asarray(want.params), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(sol.info.residual, float(want.state.error), rtol=1e-6)
        assert abs(sol.x.sum() - 1) < 1e-12 and sol.x.min() >= 0
    x = cp.Variable(n)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(Q @ x - c) + d @ x), [x >= 0, cp.sum(x) == 1])
    prob.solve()
    if decay:       # a decaying step: O(1/sqrt(t)) progress, so check the value after a capped run
        sol = solver.solve(x0=x0, grad_f=grad, max_iter=3000)
        f = 0.5 * np.sum((Q @ sol.x - c) ** 2) + d @ sol.x
        assert prob.value - 1e-9 <= f <= prob.value + 1e-2
    else:
        sol = solver.solve(x0=x0, grad_f=grad)
        info = _converged(sol, 1e-8)
        want = jaxopt.MirrorDescent(fun=fun, projection_grad=pg, stepsize=step, maxiter=200000,
                                    tol=1e-8).run(jnp.asarray(x0), hyperparams_proj=None)
        assert abs(info.iterations - int(want.state.iter_num)) <= 1
        np.testing.assert_allclose(sol.x, np.asarray(want.params), atol=1e-8)
        f = 0.5 * np.sum((Q @ sol.x - c) ** 2) + d @ sol.x
        assert abs(f - prob.value) <= 1e-6


# ---------------------------------------------------------------- mirror prox on a matrix game

def _game_value(A):
    """min_x max_y x^T A y over two simplices, as a linear program: (value, x*)."""
    m, n = A.shape
    # variables (x, v): minimise v subject to A^T x <= v, sum x = 1, x >= 0
    res = scipy.optimize.linprog(np.r_[np.zeros(m), 1.0], A_ub=np.c_[A.T, -np.ones(n)], b_ub=np.zeros(n),
                                 A_eq=np.r_[np.ones(m), 0.0][None, :], b_eq=[1.0],
                                 bounds=[(0, None)] * m + [(None, None)], method="highs")
    assert res.status == 0
    return res.x[-1], res.x[:m]


@pytest.mark.parametrize("seed,m,n", [(0, 3, 4), (1, 10, 7), (2, 30, 40)])
def test_mirror_prox_solves_a_matrix_game(seed, m, n):
    A = np.random.default_rng(seed).uniform(-1, 1, size=(m, n))
    value, _ = _game_value(A)
    eta = 1 / np.abs(A).max()
    x0, y0 = np.full(m, 1 / m), np.full(n, 1 / n)
    gx, gy = (lambda x, y: A @ y), (lambda x, y: A.T @ x)
    solver = iterc.load("mirror_prox").numpy(step_size=eta, tol=1e-4)
    sol, gaps = _trace(solver, x0=x0, y0=y0, grad_x=gx, grad_y=gy)
    _converged(sol, 1e-4)
    xa, ya = sol.x_avg, sol.y_avg
    # the residual is the duality gap of the averages, computed independently here
    np.testing.assert_allclose(sol.residual, (A.T @ xa).max() - (A @ ya).min(), rtol=1e-9, atol=1e-14)
    assert (A @ ya).min() - 1e-12 <= value <= (A.T @ xa).max() + 1e-12
    assert abs(xa @ A @ ya - value) <= 1e-4
    for v in (xa, ya, sol.x, sol.y):
        assert abs(v.sum() - 1) < 1e-12 and v.min() >= 0
    # Nemirovski's bound: gap_t <= (log m + log n) / (eta t) from the uniform start
    t = np.arange(1, len(gaps) + 1)
    assert np.all(gaps * t * eta <= np.log(m) + np.log(n) + 1e-9)
    _capped(solver.solve(x0=x0, y0=y0, grad_x=gx, grad_y=gy, max_iter=3), 3)


def test_mirror_prox_on_a_strongly_convex_concave_saddle():
    """phi(x, y) = x^T A y + 0.5 |x - a|^2 - 0.5 |y - c|^2 (not bilinear): the residual is an
    upper bound on the duality gap, computed here with cvxpy over each simplex."""
    rng = np.random.default_rng(5)
    m, n = 6, 8
    A, a, c = rng.uniform(-1, 1, size=(m, n)), rng.uniform(size=m), rng.uniform(size=n)
    gx = lambda x, y: A @ y + (x - a)                        # noqa: E731
    gy = lambda x, y: A.T @ x - (y - c)                      # noqa: E731
    sol = iterc.load("mirror_prox").solve(x0=np.full(m, 1 / m), y0=np.full(n, 1 / n), grad_x=gx, grad_y=gy,
                                          step_size=0.3, tol=2e-4)
    _converged(sol, 2e-4)
    xa, ya = sol.x_avg, sol.y_avg
    y = cp.Variable(n)
    up = cp.Problem(cp.Maximize(xa @ A @ y - 0.5 * cp.sum_squares(y - c)), [y >= 0, cp.sum(y) == 1])
    x = cp.Variable(m)
    lo = cp.Problem(cp.Minimize(x @ (A @ ya) + 0.5 * cp.sum_squares(x - a)), [x >= 0, cp.sum(x) == 1])
    up.solve(), lo.solve()
    gap = (up.value + 0.5 * np.sum((xa - a) ** 2)) - (lo.value - 0.5 * np.sum((ya - c) ** 2))
    assert -1e-7 <= gap <= sol.residual + 1e-7
    assert sol.residual <= 10 * gap       # not bilinear, yet the linearised gap is close to the true one


# ---------------------------------------------------------------- damped Newton

def _barrier(seed, n):
    """f(x) = <c, x> - sum log(b - A x) + 0.5 |x|^2, self-concordant, x0 = 0 in its domain."""
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(3 * n, n))
    b = rng.uniform(0.5, 1.5, size=3 * n)
    c = 5 * rng.normal(size=n)

    def f(x):
        s = b - A @ x
        return np.inf if s.min() <= 0 else c @ x - np.log(s).sum() + 0.5 * x @ x

    def grad(x):
        return c + A.T @ (1 / (b - A @ x)) + x

    def hess(x):
        s = b - A @ x
        return A.T @ (A / s[:, None] ** 2) + np.eye(n)
    return f, grad, hess


@pytest.mark.parametrize("seed,n", [(0, 3), (1, 10), (2, 30)])
def test_damped_newton_on_a_log_barrier(seed, n):
    f, grad, hess = _barrier(seed, n)
    x0 = np.zeros(n)
    solver = iterc.load("damped_newton").numpy(tol=1e-10)
    sol, lams = _trace(solver, x0=x0, grad_f=grad, hess_f=hess)
    _converged(sol, 1e-10)
    ref = scipy.optimize.minimize(f, x0, jac=grad, hess=hess, method="trust-exact", options={"gtol": 1e-12})
    assert f(sol.x) <= ref.fun + 1e-10
    np.testing.assert_allclose(sol.x, ref.x, atol=1e-7)
    assert np.linalg.norm(grad(sol.x)) <= 1e-9
    # Nesterov: each step decreases f by at least omega(lambda) = lambda - log(1 + lambda) ...
    xs = [x0] + [solver.solve(x0=x0, grad_f=grad, hess_f=hess, max_iter=k).x for k in range(1, len(lams) + 1)]
    for k, lam in enumerate(lams):
        assert f(xs[k + 1]) <= f(xs[k]) - (lam - np.log1p(lam)) + 1e-12
        g = grad(xs[k])
        np.testing.assert_allclose(lam, np.sqrt(g @ np.linalg.solve(hess(xs[k]), g)), rtol=1e-8)
    # ... and once lambda < 1/4 it falls quadratically: lambda_next <= 2 lambda^2
    for lam, nxt in zip(lams[:-1], lams[1:]):
        if 1e-6 < lam < 0.25:           # (below 1e-6, lambda^2 is under the rounding of the gradient)
            assert nxt <= 2 * lam ** 2 + 1e-15
    assert lams[0] > 1      # the problem starts outside the quadratic region: the damping matters
    _capped(solver.solve(x0=x0, grad_f=grad, hess_f=hess, max_iter=2), 2)


@pytest.mark.parametrize("seed,m,n", [(0, 40, 5), (1, 200, 20)])
def test_damped_newton_on_regularised_logistic_regression(seed, m, n):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, n))
    y = np.where(X @ rng.normal(size=n) + 0.5 * rng.normal(size=m) > 0, 1.0, -1.0)
    mu = 1e-2

    def f(w):
        return np.logaddexp(0, -y * (X @ w)).sum() + 0.5 * mu * w @ w

    def grad(w):
        return -X.T @ (y * scipy.special.expit(-y * (X @ w))) + mu * w

    def hess(w):
        p = scipy.special.expit(y * (X @ w))
        return X.T @ (X * (p * (1 - p))[:, None]) + mu * np.eye(n)
    sol = iterc.load("damped_newton").solve(x0=np.zeros(n), grad_f=grad, hess_f=hess, tol=1e-10)
    _converged(sol, 1e-10)
    ref = scipy.optimize.minimize(f, np.zeros(n), jac=grad, hess=hess, method="Newton-CG",
                                  options={"xtol": 1e-12, "maxiter": 1000})
    assert f(sol.x) <= ref.fun + 1e-9
    np.testing.assert_allclose(sol.x, ref.x, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- Douglas-Rachford and ADMM on the lasso

def _lasso_proxes(A, b, lam):
    AtA, Atb = A.T @ A, A.T @ b
    n = A.shape[1]
    cache = {}

    def prox_f(v, eta):         # (I + eta A^T A)^-1 (v + eta A^T b), one Cholesky per eta
        eta = float(eta)
        if eta not in cache:
            cache[eta] = np.linalg.cholesky(np.eye(n) + eta * AtA)
        C = cache[eta]
        return np.linalg.solve(C.T, np.linalg.solve(C, v + eta * Atb))
    return prox_f, (lambda v, eta: _soft(v, eta * lam))


@pytest.mark.parametrize("name", ["douglas_rachford", "admm"])
@pytest.mark.parametrize("seed,m,n", SIZES)
def test_douglas_rachford_and_admm_solve_the_lasso(name, seed, m, n):
    A, b, lam, L = lasso(seed, m, n)
    prox_f, prox_g = _lasso_proxes(A, b, lam)
    x_cp, f_cp = lasso_cvxpy(A, b, lam)
    x0 = np.random.default_rng(seed).normal(size=n)
    hyper = {"step_size": 1 / L} if name == "douglas_rachford" else {"rho": L}
    solver = iterc.load(name).numpy(tol=1e-10, **hyper)
    sol, res = _trace(solver, x0=x0, prox_f=prox_f, prox_g=prox_g)
    _converged(sol, 1e-10)
    x = sol.x if name == "douglas_rachford" else sol.z
    assert lasso_objective(A, b, lam, x) <= f_cp + 1e-8
    np.testing.assert_allclose(x, x_cp, atol=1e-5)
    # optimality: 0 in A^T (A x - b) + lam d|x|_1
    g = A.T @ (A @ x - b)
    nz = np.abs(x) > 1e-9
    np.testing.assert_allclose(g[nz], -lam * np.sign(x[nz]), atol=1e-7)
    assert np.all(np.abs(g[~nz]) <= lam + 1e-7)
    if name == "admm":
        np.testing.assert_allclose(sol.residual, max(sol.primal, sol.dual))
        np.testing.assert_allclose(sol.primal, np.linalg.norm(sol.x - sol.z))
        np.testing.assert_allclose(sol.u * L, -g, atol=1e-6)    # rho u is the multiplier: -grad f at the solution
    else:
        # the fixed-point residual of an averaged operator never increases
        assert np.all(np.diff(res) <= 1e-12 * res[:-1] + 1e-15)
    _capped(solver.solve(x0=x0, prox_f=prox_f, prox_g=prox_g, max_iter=4), 4)


def test_douglas_rachford_relaxation_and_one_step_by_hand():
    A, b, lam, L = lasso(3, 20, 8)
    prox_f, prox_g = _lasso_proxes(A, b, lam)
    z0 = np.random.default_rng(0).normal(size=8)
    sol = iterc.load("douglas_rachford").solve(x0=z0, prox_f=prox_f, prox_g=prox_g, step_size=0.7, relax=1.5,
                                               max_iter=1)
    x = prox_f(z0, 0.7)
    np.testing.assert_allclose(sol.x, x, rtol=1e-12)
    np.testing.assert_allclose(sol.z, z0 + 1.5 * (prox_g(2 * x - z0, 0.7) - x), rtol=1e-12)
    full = iterc.load("douglas_rachford").solve(x0=z0, prox_f=prox_f, prox_g=prox_g, step_size=0.7, relax=1.5)
    np.testing.assert_allclose(full.x, lasso_cvxpy(A, b, lam)[0], atol=1e-5)
    with pytest.raises(ValueError, match="relax"):
        iterc.load("douglas_rachford").numpy(relax=2.0)


# ---------------------------------------------------------------- Frank-Wolfe over four sets

def _lmo_simplex(g):
    return np.eye(len(g))[np.argmin(g)]


def _lmo_l1(r):
    def lmo(g):
        i = np.argmax(np.abs(g))
        s = np.zeros_like(g)
        s[i] = -r * np.sign(g[i]) if g[i] != 0 else -r
        return s
    return lmo


def _lmo_box(lo, hi):
    return lambda g: np.where(g > 0, lo, hi)


def _lmo_nuclear(r, p, q):
    def lmo(g):
        U, _, Vt = np.linalg.svd(g.reshape(p, q))
        return (-r * np.outer(U[:, 0], Vt[0])).ravel()
    return lmo


def _fw_problem(kind, seed, n):
    """(grad, lmo, x0, f, L, D, cvxpy constraint builder) for f(x) = 0.5 |Q x - c|^2."""
    rng = np.random.default_rng(seed)
    Q = rng.normal(size=(n + 3, n)) / np.sqrt(n)
    c = 2 * rng.normal(size=n + 3)
    L = np.linalg.eigvalsh(Q.T @ Q)[-1]
    if kind == "simplex":
        lmo, x0, D = _lmo_simplex, np.full(n, 1 / n), np.sqrt(2)
        cons = lambda x: [x >= 0, cp.sum(x) == 1]                                 # noqa: E731
    elif kind == "l1":
        lmo, x0, D = _lmo_l1(1.5), np.zeros(n), 2 * 1.5
        cons = lambda x: [cp.norm1(x) <= 1.5]                                     # noqa: E731
    elif kind == "box":
        lmo, x0, D = _lmo_box(-0.5, 1.0), np.zeros(n), 1.5 * np.sqrt(n)
        cons = lambda x: [x >= -0.5, x <= 1.0]                                    # noqa: E731
    else:
        p = int(np.sqrt(n))
        lmo, x0, D = _lmo_nuclear(2.0, p, n // p), np.zeros(n), 2 * 2.0
        cons = lambda x: [cp.normNuc(cp.reshape(x, (p, n // p), order="C")) <= 2.0]  # noqa: E731
    grad = lambda x: Q.T @ (Q @ x - c)                                            # noqa: E731
    f = lambda x: 0.5 * np.sum((Q @ x - c) ** 2)                                  # noqa: E731
    x = cp.Variable(n)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(Q @ x - c)), cons(x))
    prob.solve()
    return grad, lmo, x0, f, L, D, prob.value


@pytest.mark.parametrize("kind", ["simplex", "l1", "box", "nuclear"])
@pytest.mark.parametrize("seed,n", [(0, 4), (1, 16), (2, 36)])
def test_frank_wolfe_over_four_sets(kind, seed, n):
    grad, lmo, x0, f, L, D, f_star = _fw_problem(kind, seed, n)
    solver = iterc.load("frank_wolfe").numpy(tol=1e-4, max_iter=20000)
    sol, gaps = _trace(solver, x0=x0, grad_f=grad, lmo=lmo)
    _converged(sol, 1e-4)
    assert f(sol.x) - f_star <= 1e-4 + 1e-7          # the gap bounds the primal gap (at the previous iterate)
    # Jaggi 2013: f(x_t) - f* <= 2 L D^2 / (t + 1), and the smallest gap so far <= 27 L D^2 / (t + 1)
    for t in (1, 2, 5, 20, 100):
        xt = solver.solve(x0=x0, grad_f=grad, lmo=lmo, max_iter=t).x
        assert f(xt) - f_star <= 2 * L * D ** 2 / (t + 1) + 1e-7
    t = np.arange(1, len(gaps) + 1)
    assert np.all(np.minimum.accumulate(gaps) * t <= 27 * L * D ** 2)
    assert np.all(gaps >= -1e-12)                    # a gap is never negative


def test_frank_wolfe_first_steps_by_hand():
    """On the simplex with f = 0.5 |x - c|^2: step 1 lands on the vertex of the smallest
    gradient entry; step 2 moves 2/3 of the way to the next vertex; the gap is <g, x - s>
    at the returned x."""
    c = np.array([0.2, 0.5, 0.3])
    grad = lambda x: x - c                                                        # noqa: E731
    x0 = np.array([0.6, 0.2, 0.2])
    fw = iterc.load("frank_wolfe").numpy(tol=1e-4)
    s1 = fw.solve(x0=x0, grad_f=grad, lmo=_lmo_simplex, max_iter=1)
    _capped(s1, 1)
    np.testing.assert_allclose(s1.x, [0, 1, 0])                # g = (0.4, -0.3, -0.1): vertex 1
    np.testing.assert_allclose(s1.gap, 0.8)                    # g = (-0.2, 0.5, -0.3), s = e2: 0.5 + 0.3
    s2 = fw.solve(x0=x0, grad_f=grad, lmo=_lmo_simplex, max_iter=2)
    np.testing.assert_allclose(s2.x, [0, 1 / 3, 2 / 3])        # 2/3 of the way from e1 to e2
    np.testing.assert_allclose(s2.gap, 7 / 18)                 # g = (-1/5, -1/6, 11/30), s = e0
    sol, gaps = _trace(fw, x0=x0, grad_f=grad, lmo=_lmo_simplex)
    _converged(sol, 1e-4)
    np.testing.assert_allclose(sol.x, c, atol=1e-3)
    assert 0.5 * np.sum((sol.x - c) ** 2) <= sol.gap


# ---------------------------------------------------------------- the same problems on JAX

def test_convex_solvers_on_jax_match_numpy_on_real_problems(x64):
    """FISTA and ADMM on a lasso, Frank-Wolfe on the simplex, mirror prox on a matrix game and
    damped Newton on logistic regression, each with oracles written in jax.numpy (traced into
    the jitted loop): the iterations and outputs of the numpy run."""
    A, b, lam, L = lasso(4, 40, 15)
    Aj, bj = jnp.asarray(A), jnp.asarray(b)
    n = A.shape[1]
    grad = lambda x: Aj.T @ (Aj @ x - bj)                                      # noqa: E731
    soft = lambda v, e: jnp.sign(v) * jnp.maximum(jnp.abs(v) - e * lam, 0.0)  # noqa: E731
    M = jnp.asarray(np.linalg.inv(np.eye(n) + A.T @ A / L))                   # prox_f at eta = 1 / rho = 1 / L
    prox_f = lambda v, e: M @ (v + e * (Aj.T @ bj))                            # noqa: E731
    G = jnp.asarray(np.random.default_rng(1).uniform(-1, 1, size=(6, 9)))
    X = np.random.default_rng(2).normal(size=(50, 4))
    y = jnp.asarray(np.sign(X @ np.ones(4) + 0.3))
    Xj = jnp.asarray(X)

    def lgrad(w):
        return -Xj.T @ (y * jax.nn.sigmoid(-y * (Xj @ w))) + 0.1 * w

    def lhess(w):
        p = jax.nn.sigmoid(y * (Xj @ w))
        return Xj.T @ (Xj * (p * (1 - p))[:, None]) + 0.1 * jnp.eye(4)

    runs = {
        "fista": dict(x0=np.zeros(n), grad_f=grad, prox=soft, step_size=1 / L, tol=1e-10),
        "admm": dict(x0=np.zeros(n), prox_f=prox_f, prox_g=soft, rho=L, tol=1e-10),
        "frank_wolfe": dict(x0=np.full(n, 1 / n), grad_f=grad, lmo=lambda g: (g == jnp.min(g)) * 1.0, tol=1e-3),
        "mirror_prox": dict(x0=np.full(6, 1 / 6), y0=np.full(9, 1 / 9), grad_x=lambda u, v: G @ v,
                            grad_y=lambda u, v: G.T @ u, tol=1e-3),
        "damped_newton": dict(x0=np.zeros(4), grad_f=lgrad, hess_f=lhess, tol=1e-12),
    }
    for name, kwargs in runs.items():
        ref = iterc.load(name).solve(**kwargs)
        sol = iterc.load(name).solve(backend="jax", **kwargs)
        assert ref.info.converged and bool(sol.info.converged), name
        assert abs(int(sol.info.iterations) - ref.info.iterations) <= 1, name
        for key, want in ref.outputs.items():
            np.testing.assert_allclose(np.asarray(sol[key]), want, rtol=1e-6, atol=1e-9, err_msg=f"{name}.{key}")

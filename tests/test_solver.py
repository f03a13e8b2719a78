"""The solver path: the stdlib's sinkhorn (stdlib/ot/sinkhorn.iter) against an independent scaling-domain Sinkhorn."""
from pathlib import Path

import numpy as np
import pytest

import iterc

SINKHORN = Path(__file__).resolve().parent.parent / "stdlib" / "ot" / "sinkhorn.iter"


def _problem(seed, n, m):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2))
    C = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    a = rng.uniform(0.5, 1.5, size=n)
    b = rng.uniform(0.5, 1.5, size=m)
    return C, a / a.sum(), b / b.sum()


def _scaling_sinkhorn(C, a, b, eps, iters):
    """Textbook Sinkhorn-Knopp: u = a / (K v), v = b / (K^T u), P = diag(u) K diag(v)."""
    K = np.exp(-C / eps)
    u, v = np.ones_like(a), np.ones_like(b)
    for _ in range(iters):
        u = a / (K @ v)
        v = b / (K.T @ u)
    return u[:, None] * K * v[None, :]


@pytest.mark.parametrize("seed,n,m,eps", [(0, 5, 7, 0.5), (1, 12, 9, 0.2), (2, 20, 20, 1.0), (3, 3, 30, 0.3)])
def test_sinkhorn_matches_scaling_reference(seed, n, m, eps):
    C, a, b = _problem(seed, n, m)
    sol = iterc.load(SINKHORN).numpy(eps=eps, tol=1e-12, max_iter=5000).solve(C=C, a=a, b=b)
    assert sol.info.converged
    assert sol.info.residual <= 1e-12
    reference = _scaling_sinkhorn(C, a, b, eps, 5000)
    np.testing.assert_allclose(sol.P, reference, rtol=1e-8, atol=1e-14)
    np.testing.assert_allclose(sol["P"].sum(axis=0), b, atol=1e-10)


def test_sinkhorn_iteration_cap_reports_not_converged():
    C, a, b = _problem(4, 6, 6)
    sol = iterc.load(SINKHORN).numpy(eps=0.05, tol=1e-14, max_iter=3).solve(C=C, a=a, b=b)
    assert sol.info.iterations == 3
    assert not sol.info.converged
    assert sol.info.residual > 1e-14


def test_solve_overrides_hypers_and_unpacks():
    C, a, b = _problem(5, 4, 4)
    solver = iterc.load(SINKHORN).numpy()
    outputs, info = solver.solve(C=C, a=a, b=b, eps=0.5)
    assert set(outputs) == {"P", "f", "g"}
    assert info.converged


def test_solver_input_errors_name_the_input_and_dim():
    C, a, b = _problem(6, 4, 5)
    solver = iterc.load(SINKHORN).numpy()
    with pytest.raises(ValueError, match=r"input `a` has n = 3 .* `C` gave n = 4"):
        solver.solve(C=C, a=a[:3], b=b)
    with pytest.raises(ValueError, match=r"missing input\(s\) `b`"):
        solver.solve(C=C, a=a)
    with pytest.raises(ValueError, match=r"input `C` must have rank 2"):
        solver.solve(C=C[0], a=a, b=b)


def test_outputs_have_declared_types_and_zero_cap_is_an_error(tmp_path):
    p = tmp_path / "count.iter"
    p.write_text('''
solver count:
    dims n
    input a: real[n]
    hyper max_iter: int = 5
    state d: real = 0
    state k: int = 0
    step:
        d <- 2 * 3
        k <- k + 1
    let total = sum(a) + d
    until k >= 2
    output d, k, total
''')
    solver = iterc.load(p).numpy()
    sol = solver.solve(a=np.ones(2))
    assert isinstance(sol.d, np.floating) and sol.d == 6.0
    assert isinstance(sol.k, np.integer) and sol.k == 2
    assert sol.total == 8.0 and sol.info.iterations == 2 and sol.info.converged
    with pytest.raises(ValueError, match="iteration cap is 0"):
        solver.solve(a=np.ones(2), max_iter=0)

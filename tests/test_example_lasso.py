"""examples/lasso_fista.py: the lasso path by FISTA, warm started, and its convergence plot.

tests/test_docs.py runs every example as it stands; this test runs it into tmp_path, as a
user would (its own process, this checkout's iterc first on the path), and checks the plot
and the solutions it saves: against cvxpy, and against the lasso's optimality conditions
(A^T (b - A x) = lam sign(x_i) where x_i != 0, and |A^T (b - A x)|_i <= lam elsewhere).
"""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "lasso_fista.py"


def test_lasso_fista_path_matches_cvxpy_and_plots(tmp_path):
    pytest.importorskip("matplotlib")
    cp = pytest.importorskip("cvxpy")
    out, saved = tmp_path / "path.png", tmp_path / "path.npz"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--save", str(saved)], cwd=tmp_path,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10_000
    assert sorted(tmp_path.iterdir()) == sorted([out, saved])     # nothing else written to the cwd

    data = np.load(saved)
    A, b, lams, X = data["A"], data["b"], data["lams"], data["X"]
    assert len(lams) == len(X) == 5 and np.all(np.diff(lams) < 0)
    x = cp.Variable(A.shape[1])
    lam = cp.Parameter(nonneg=True)
    prob = cp.Problem(cp.Minimize(0.5 * cp.sum_squares(A @ x - b) + lam * cp.norm1(x)))
    nonzeros = []
    for value, sol in zip(lams, X):
        lam.value = value
        prob.solve()
        objective = 0.5 * np.sum((A @ sol - b) ** 2) + value * np.abs(sol).sum()
        assert objective <= prob.value + 1e-7
        np.testing.assert_allclose(sol, x.value, atol=1e-4)      # cvxpy's default accuracy; KKT below is tighter
        corr = A.T @ (b - A @ sol)
        nz = sol != 0
        np.testing.assert_allclose(corr[nz], value * np.sign(sol[nz]), atol=1e-7)
        assert np.all(np.abs(corr[~nz]) <= value + 1e-7)
        nonzeros.append(int(nz.sum()))
    assert nonzeros == sorted(nonzeros) and nonzeros[0] < nonzeros[-1]   # the path grows the support

    lines = proc.stdout.splitlines()
    rows = [line.split() for line in lines[lines.index(next(l for l in lines if l.lstrip().startswith("lam"))) + 1:]
            if not line.startswith("plot:")]
    assert len(rows) == 5
    warm, cold = [int(r[3]) for r in rows], [int(r[4]) for r in rows]
    assert sum(warm[1:]) < sum(cold[1:])                          # warm starts save iterations

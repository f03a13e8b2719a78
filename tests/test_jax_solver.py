"""Solvers on the JAX backend: the stdlib sinkhorn and the builtins program against the
numpy reference, the stopping rule at a cadence (`check_every`), the iteration cap, the
info record, jit and vmap over a batch of problems, and `solve(backend=...)`."""
from pathlib import Path

import numpy as np
import pytest

jax = pytest.importorskip("jax")
import jax.numpy as jnp  # noqa: E402

import iterc  # noqa: E402
from iterc.api import list_stdlib  # noqa: E402
from test_builtins_numpy import PROGRAM, expected  # noqa: E402
from test_solver import _problem  # noqa: E402

SINKHORN = Path(__file__).resolve().parent.parent / "stdlib" / "ot" / "sinkhorn.iter"


@pytest.fixture(autouse=True)
def x64():
    """Solvers compute in float64 here, as numpy does (the default float otherwise)."""
    with jax.enable_x64(True):
        yield


@pytest.mark.parametrize("seed,n,m,eps", [(0, 5, 7, 0.5), (1, 12, 9, 0.2), (3, 3, 30, 0.3)])
def test_sinkhorn_matches_numpy(seed, n, m, eps):
    C, a, b = _problem(seed, n, m)
    method = iterc.load(SINKHORN)
    ref = method.numpy(eps=eps, tol=1e-12, max_iter=5000).solve(C=C, a=a, b=b)
    sol = method.jax(eps=eps, tol=1e-12, max_iter=5000)(C=C, a=a, b=b)
    assert int(sol.info.iterations) == ref.info.iterations and bool(sol.info.converged)
    np.testing.assert_allclose(float(sol.info.residual), ref.info.residual, rtol=1e-6, atol=1e-15)
    for name in ("P", "f", "g"):
        np.testing.assert_allclose(sol[name], ref[name], rtol=1e-10, atol=1e-14, err_msg=name)
    outputs, info = sol                                  # unpacks like numpy's Solution
    assert set(outputs) == {"P", "f", "g"} and info is sol.info


ROOT = Path(__file__).resolve().parent.parent
SOLVERS = [m.path for m in list_stdlib() if m.kind == "solver"] + \
    [ROOT / "examples" / name for name in ("halpern.iter", "langevin.iter")]


def _generic_input(rng, slot, sizes):
    """Positive entries of small sizes, moved into the input's declared domain."""
    shape = tuple(d if isinstance(d, int) else sizes.setdefault(d, 4 + len(sizes)) for d in (slot.dims or ()))
    x = rng.uniform(0.5, 1.5, size=shape)
    domain = (slot.domain or (None,))[0]
    if domain == "simplex":
        x = x / x.sum()
    elif domain == "psd":
        x = x @ x.T + np.eye(len(x))
    elif domain in ("ball", "sphere", "stiefel", "box"):
        pytest.skip(f"no generic input in `{domain}`")
    return x


# Oracles whose result is shaped like none of their arguments: (solver, oracle) -> a function
# that numpy and JAX both trace (static shapes only).
ORACLES = {
    ("damped_newton", "hess_f"): lambda x: 2.0 * np.eye(x.shape[0]),   # the Hessian of |x|^2 (grad_f is 0.5 x)
}

# Hypers that steer a solver's static branches: each entry is one more run of the test.
SOLVER_VARIANTS = {
    "mirror_descent": ({"entropic": False}, {"decay": True}, {"entropic": False, "decay": True}),
}


def _generic_oracle(method, oracle):
    """A contraction of the last argument shaped like the result: 0.5 * that argument."""
    if (method, oracle.name) in ORACLES:
        return ORACLES[method, oracle.name]
    same = [i for i, (_, dims) in enumerate(oracle.args) if dims == oracle.result[1]]
    assert same, f"add a generic `{oracle.name}` of `{method}` to ORACLES: no argument is shaped like its result"
    return lambda *args, i=same[-1]: 0.5 * args[i]


CASES = [(path, {}) for path in SOLVERS] + \
    [(path, hypers) for path in SOLVERS for hypers in SOLVER_VARIANTS.get(path.stem, ())]


@pytest.mark.parametrize("path,hypers", CASES,
                         ids=lambda c: c.stem if isinstance(c, Path) else "-".join(f"{k}={v}" for k, v in c.items()))
def test_every_stdlib_solver_matches_numpy_on_generic_inputs(path, hypers):
    """Each stdlib solver (and the example solvers), at its defaults and at the VARIANTS of
    its static hypers, on positive inputs of small sizes in their domains, with each function
    oracle a contraction of its last argument shaped like its result (or an entry of
    ORACLES): the same iterations, flag and outputs as numpy. A solver that draws random
    numbers uses numpy's PCG64 on one backend and JAX's PRNG on the other, so only the
    run itself is compared there (iterations, finiteness, shapes)."""
    method = iterc.load(path)
    spec = iterc.api._compiled_module(method.path, "numpy").__dict__[f"SPEC_{method.name}"]
    rng = np.random.default_rng(0)
    sizes: dict = {}
    inputs = {s.name: _generic_input(rng, s, sizes) for s in spec.inputs}
    oracles = {o.name: _generic_oracle(method.name, o) for o in spec.oracles}
    ref = method.solve(**inputs, **oracles, **hypers)
    sol = method.solve(backend="jax", **inputs, **oracles, **hypers)
    assert int(sol.info.iterations) == ref.info.iterations and bool(sol.info.converged) == ref.info.converged
    draws = "seed" in {h.name for h in spec.hypers}
    for name, want in ref.outputs.items():
        got = np.asarray(sol[name], float)
        assert got.shape == np.shape(want), name
        assert np.array_equal(np.isfinite(got), np.isfinite(np.asarray(want, float))), name
        if not draws:
            np.testing.assert_allclose(got, np.asarray(want, float), rtol=1e-9, atol=1e-12, err_msg=name)


def test_check_every_tests_the_stopping_rule_every_k_rounds():
    C, a, b = _problem(1, 12, 9)
    method = iterc.load(SINKHORN)
    ref = method.numpy(eps=0.2, tol=1e-10, max_iter=5000).solve(C=C, a=a, b=b)
    sol = method.jax(eps=0.2, tol=1e-10, max_iter=5000, check_every=7)(C=C, a=a, b=b)
    n = int(sol.info.iterations)
    assert n % 7 == 0 and ref.info.iterations <= n < ref.info.iterations + 7
    assert bool(sol.info.converged) and float(sol.info.residual) <= 1e-10
    np.testing.assert_allclose(sol.P, ref.P, rtol=1e-6, atol=1e-12)


@pytest.mark.parametrize("check_every", [1, 3, 10])
def test_the_cap_is_honoured_exactly(check_every):
    """7 rounds, whatever the cadence: the last block is cut short, and equals numpy's 7 rounds."""
    C, a, b = _problem(4, 6, 6)
    ref = iterc.load(SINKHORN).numpy(eps=0.05, tol=1e-14, max_iter=7).solve(C=C, a=a, b=b)
    sol = iterc.load(SINKHORN).solve(C=C, a=a, b=b, eps=0.05, tol=1e-14, max_iter=7, check_every=check_every,
                                     backend="jax")
    assert int(sol.info.iterations) == 7 and not bool(sol.info.converged)
    np.testing.assert_allclose(sol.P, ref.P, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(float(sol.info.residual), ref.info.residual, rtol=1e-8)


def test_jit_and_vmap_over_a_batch_of_problems():
    problems = [_problem(seed, 6, 5) for seed in range(3)]
    solver = iterc.load(SINKHORN).jax(eps=0.3, tol=1e-9, max_iter=2000, check_every=4)
    Cs, As, Bs = (jnp.stack([p[i] for p in problems]) for i in range(3))
    batch = jax.jit(jax.vmap(lambda C, a, b: solver(C=C, a=a, b=b)))(Cs, As, Bs)
    assert batch.P.shape == (3, 6, 5)
    for i, (C, a, b) in enumerate(problems):
        one = solver(C=C, a=a, b=b)
        assert int(batch.info.iterations[i]) == int(one.info.iterations)
        np.testing.assert_allclose(batch.P[i], one.P, rtol=1e-12, atol=1e-15)
    assert bool(jnp.all(batch.info.converged))


def test_a_real_hyper_override_is_traced_not_compiled_in():
    C, a, b = _problem(2, 4, 4)
    solver = iterc.load(SINKHORN).jax(tol=1e-9)
    traces = []
    inner = solver._solve
    solver._solve = lambda *args, **kw: (traces.append(1), inner(*args, **kw))[1]
    first, second = solver(C=C, a=a, b=b, eps=0.5), solver(C=C, a=a, b=b, eps=0.4)
    assert len(traces) == 1
    ref = iterc.load(SINKHORN).numpy(tol=1e-9).solve(C=C, a=a, b=b, eps=0.4)
    np.testing.assert_allclose(second.P, ref.P, rtol=1e-10, atol=1e-14)
    assert not np.allclose(first.P, second.P)
    with pytest.raises(ValueError, match=r"hyper condition `eps > 0` does not hold"):
        solver(C=C, a=a, b=b, eps=-1.0)


def test_solve_backend_numpy_and_errors():
    C, a, b = _problem(5, 4, 4)
    method = iterc.load(SINKHORN)
    sol = method.solve(C=C, a=a, b=b, eps=0.5)
    assert sol.info.converged and isinstance(sol.P, np.ndarray)
    with pytest.raises(ValueError, match="not available yet"):
        method.solve(C=C, a=a, b=b, backend="torch")
    with pytest.raises(ValueError, match=r"missing input\(s\) `b`"):
        method.jax()(C=C, a=a)
    with pytest.raises(ValueError, match="check_every"):
        method.jax(check_every=0)
    with pytest.raises(ValueError, match=r"`max_iter >= 1` does not hold"):
        method.jax(max_iter=0)


@pytest.mark.parametrize("seed", [1])
def test_each_builtin_matches_numpy(tmp_path, seed):
    """The builtins program of test_builtins_numpy.py, on the JAX backend. The random draws
    come from JAX's PRNG there (numpy's PCG64 in the reference), so only their shapes and
    finiteness are compared."""
    from test_builtins_numpy import LOOSE, _operators, _several_results
    path = tmp_path / "everything.iter"
    path.write_text(PROGRAM)
    rng = np.random.default_rng(seed)
    n, m = 3 + seed, 4 + 2 * seed
    A, B = rng.normal(size=(n, m)), rng.normal(size=(n, m))
    B[0, 0] = A[0, 0]
    v, w = rng.normal(size=m), rng.normal(size=n)
    p = rng.uniform(0.1, 2.0, size=n)
    M = rng.normal(size=(n, n))
    S, Q = M @ M.T + n * np.eye(n), rng.normal(size=(n, n))
    got = iterc.load(path).jax()(A=A, B=B, v=v, w=w, p=p, S=S, Q=Q).outputs
    for name, want in {**expected(A, B, v, w, p), **_operators(A, B, v, w, p, S, Q),
                       **_several_results(S, Q, A)}.items():
        assert np.shape(got[name]) == np.shape(want), name
        if name in ("r_randn", "r_rand"):
            assert np.all(np.isfinite(np.asarray(got[name]))), name
            continue
        tol = 1e-9 if name in LOOSE else 1e-12
        np.testing.assert_allclose(got[name], want, rtol=tol, atol=tol, err_msg=name)


def test_output_types_follow_the_declarations(tmp_path):
    path = tmp_path / "count.iter"
    path.write_text("solver count:\n    dims n\n    input a: real[n]\n    hyper max_iter: int = 5\n"
                    "    state d: real = 0\n    state k: int = 0\n    state done: bool = false\n    step:\n"
                    "        d <- 2 * 3\n        k <- k + 1\n        done <- k >= 2\n"
                    "    let total = sum(a) + d\n    until done\n    output d, k, total, done\n")
    sol = iterc.load(path).jax()(a=np.ones(2))
    assert sol.d.dtype == np.float64 and float(sol.d) == 6.0
    assert sol.k.dtype == np.int64 and int(sol.k) == 2 and sol.done.dtype == bool
    assert float(sol.total) == 8.0 and int(sol.info.iterations) == 2 and sol.info.residual is None
    with pytest.raises(ValueError, match="iteration cap is 0"):
        iterc.load(path).jax()(a=np.ones(2), max_iter=0)


def test_the_step_counter_is_the_widest_int(tmp_path):
    """`t` is int64 with x64 on (as an optimizer's): `1 / (t + 1)` and `sqrt(t)` are float64,
    not the float32 that int32 arithmetic gives, so an open-loop step (Frank-Wolfe's
    2 / (t + 1)) or a running mean (`/ t`) matches numpy to rounding."""
    path = tmp_path / "counter.iter"
    path.write_text(
        "solver counter:\n"
        "    state s: real = 0\n"
        "    step t:\n"
        "        s <- s + 1 / (t * (t + 1)) + 1 / sqrt(t) - 2 / (t + 2)\n"
        "    until false max 60\n"
        "    output s\n")
    ref = iterc.load(path).solve()
    sol = iterc.load(path).solve(backend="jax")
    assert np.asarray(sol["s"]).dtype == np.float64
    np.testing.assert_allclose(float(sol["s"]), float(ref["s"]), rtol=1e-14)


# ---------------------------------------------------------------- progress

def test_progress_callback_sees_numpys_rounds_and_residuals():
    """`callback=(t, residual)` on JAX runs on the host after each round that tests the stopping
    rule: with check_every=1, every round, with the residuals numpy reports."""
    C, a, b = _problem(2, 8, 6)
    method = iterc.load(SINKHORN)
    ours, ref = [], []
    sol = method.solve(C=C, a=a, b=b, eps=0.3, tol=1e-10, backend="jax", callback=lambda t, r: ours.append((t, r)))
    method.solve(C=C, a=a, b=b, eps=0.3, tol=1e-10, callback=lambda t, r: ref.append((t, r)))
    assert [t for t, _ in ours] == [t for t, _ in ref] == list(range(1, int(sol.info.iterations) + 1))
    assert all(isinstance(r, float) for _, r in ours)
    np.testing.assert_allclose([r for _, r in ours], [r for _, r in ref], rtol=1e-6, atol=1e-15)


def test_progress_callback_at_a_cadence_and_its_errors():
    C, a, b = _problem(4, 7, 9)
    solver = iterc.load(SINKHORN).jax(eps=0.2, tol=1e-300, max_iter=40, check_every=5)
    seen = []
    sol = solver(C=C, a=a, b=b, callback=lambda t, r: seen.append((t, r)), callback_every=10)
    assert [t for t, _ in seen] == [10, 20, 30, 40] and int(sol.info.iterations) == 40
    ref = []
    iterc.load(SINKHORN).solve(C=C, a=a, b=b, eps=0.2, tol=1e-300, max_iter=40,
                               callback=lambda t, r: ref.append((t, r)), callback_every=10)
    np.testing.assert_allclose([r for _, r in seen], [r for _, r in ref], rtol=1e-6)
    default = []                                         # callback_every defaults to check_every
    solver(C=C, a=a, b=b, callback=lambda t, r: default.append(t))
    assert default == [5, 10, 15, 20, 25, 30, 35, 40]
    with pytest.raises(ValueError, match="not a multiple of check_every=5.*callback_every=5"):
        solver(C=C, a=a, b=b, callback=print, callback_every=3)
    with pytest.raises(ValueError, match="callback_every must be an integer >= 1"):
        solver(C=C, a=a, b=b, callback=print, callback_every=0)
    with pytest.raises(ValueError, match="needs a callback"):
        solver(C=C, a=a, b=b, callback_every=5)
    with pytest.raises(TypeError, match="callback must be a function"):
        solver(C=C, a=a, b=b, callback=3)
    assert solver(C=C, a=a, b=b).info.iterations == 40      # no callback: the loop runs alone


def test_progress_callback_without_a_residual_gets_none():
    seen = []
    iterc.load(SINKHORN.parent.parent.parent / "examples" / "langevin.iter").solve(
        x0=np.zeros(1), grad_f=lambda x: x, steps=3, backend="jax",
                                 callback=lambda t, r: seen.append((t, r)))
    assert seen == [(1, None), (2, None), (3, None)]

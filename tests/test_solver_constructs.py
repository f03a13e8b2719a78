"""Solver constructs: function oracles, seeded random draws, the one-call `solve` API, the
non-finite stop, input domains checked at the boundary, and progress callbacks."""
from pathlib import Path

import numpy as np
import pytest

import iterc
from iterc.api import check_text
from iterc.ir import lower_module
from iterc.ir.passes import cse, dce, decompose, optimize, walk
from iterc.ir.verify import verify_method
from iterc.syntax.parser import parse_text

ROOT = Path(__file__).resolve().parent.parent
HALPERN = ROOT / "examples" / "halpern.iter"
LANGEVIN = ROOT / "examples" / "langevin.iter"


def _write(tmp_path, text, name="m.iter"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _nonexpansive(n, seed):
    """A rotation composed with the projection onto the unit ball: nonexpansive, fixed point 0
    only if the rotation fixes nothing, so shift it to have a fixed point elsewhere."""
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(n, n)))
    c = rng.normal(size=n) * 0.3

    def T(x):
        y = x - c
        r = np.linalg.norm(y)
        return c + Q @ (y if r <= 1 else y / r)
    return T


def _halpern_by_hand(T, x0, tol, cap):
    x = x0.copy()
    for t in range(1, cap + 1):
        x = x0 / (t + 1) + (1 - 1 / (t + 1)) * T(x)
        r = np.linalg.norm(x - T(x))
        if r <= tol:
            return x, t, r, True
    return x, cap, r, False


# ---------------------------------------------------------------- function oracles

@pytest.mark.parametrize("n,seed", [(3, 0), (8, 1), (20, 2)])
def test_halpern_with_a_user_map_matches_a_hand_written_loop(n, seed):
    T = _nonexpansive(n, seed)
    x0 = np.random.default_rng(seed + 10).normal(size=n)
    sol = iterc.load(HALPERN).solve(x0=x0, T=T, tol=1e-3, max_iter=50000)
    x, t, r, converged = _halpern_by_hand(T, x0, 1e-3, 50000)
    assert sol.info.converged and converged and sol.info.status == "converged"
    assert sol.info.iterations == t
    np.testing.assert_allclose(sol.x, x, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(sol.info.residual, r, rtol=1e-10)
    assert np.linalg.norm(T(sol.x) - sol.x) <= 1e-3


def test_function_oracle_of_several_arguments_and_a_scalar_result(tmp_path):
    p = _write(tmp_path, """
solver gd:
    dims n
    input A: real[n, n]
    input b: real[n]
    oracle f: (real[n], real) -> real
    oracle grad_f: real[n] -> real[n]
    hyper lr: real = 0.1 where lr > 0
    state x: real[n] = 0
    state fx: real = 0
    step:
        x <- x - lr * grad_f(x)
        fx <- f(x, 2)
    until norm(grad_f(x)) <= 1e-10 max 5000
    output x, fx
""")
    rng = np.random.default_rng(3)
    M = rng.normal(size=(4, 4))
    A = M @ M.T + 4 * np.eye(4)
    b = rng.normal(size=4)
    calls = []

    def f(x, scale):
        calls.append(scale)
        return scale * (0.5 * x @ A @ x - b @ x)

    sol = iterc.load(p).solve(A=A, b=b, f=f, grad_f=lambda x: A @ x - b, lr=0.05)
    assert sol.info.converged
    np.testing.assert_allclose(sol.x, np.linalg.solve(A, b), atol=1e-9)
    assert np.asarray(calls[0]).dtype == np.float64 and calls[0] == 2       # an int argument is cast to real
    np.testing.assert_allclose(sol.fx, 2 * (0.5 * sol.x @ A @ sol.x - b @ sol.x))


def test_wrong_shape_from_a_callable_names_the_oracle_and_both_shapes():
    with pytest.raises(ValueError) as info:
        iterc.load(HALPERN).solve(x0=np.ones(4), T=lambda x: x[:3])
    msg = str(info.value)
    assert "oracle `T`" in msg and "(3,)" in msg and "(4,)" in msg and "real[n] -> real[n]" in msg and "n = 4" in msg


def test_wrong_shape_is_caught_at_the_first_call():
    calls = []

    def T(x):
        calls.append(1)
        return np.ones(5) if len(calls) >= 2 else x
    with pytest.raises(ValueError, match=r"returned shape \(5,\)"):
        iterc.load(HALPERN).solve(x0=np.ones(2), T=T)
    assert len(calls) == 2


def test_missing_or_uncallable_oracle_is_an_error_naming_it():
    with pytest.raises(ValueError, match=r"missing oracle `T`, a function real\[n\] -> real\[n\]; pass T="):
        iterc.load(HALPERN).solve(x0=np.ones(3))
    with pytest.raises(TypeError, match=r"oracle `T` must be a callable"):
        iterc.load(HALPERN).solve(x0=np.ones(3), T=np.ones(3))
    with pytest.raises(TypeError, match=r"oracle `T` .* returned str"):
        iterc.load(HALPERN).solve(x0=np.ones(3), T=lambda x: "no")


def test_identical_calls_are_shared_and_unused_calls_dropped(tmp_path):
    """Function oracles are assumed pure: CSE computes T(x) once per value of x, DCE drops a
    call nobody reads."""
    result = check_text("""
solver s:
    dims n
    input x0: real[n]
    oracle T: real[n] -> real[n]
    state x: real[n] = x0
    step:
        let unused = T(x0)
        x <- T(x) + T(x)
    until true max 1
    output x
""", "s.iter")
    assert result.ok, result.diagnostics
    m = lower_module(result.module).methods[0]
    verify_method(m)
    before = [s for s in walk(m.loop.body) if getattr(getattr(s, "op", None), "fn", None) == "call"]
    after_m = optimize(m, verify=verify_method)
    after = [s for s in walk(after_m.loop.body) if getattr(getattr(s, "op", None), "fn", None) == "call"]
    assert len(before) == 3 and len(after) == 1
    assert after[0].op.args[0].origin.value == "oracle" and str(after[0].op.args[0].type) == "real[n] -> real[n]"


# ---------------------------------------------------------------- randomness

NOISE = """
solver noise:
    dims n
    input z: real[n]
    hyper seed: int = 0
    state g: real[n] = 0
    state u: real[n] = 0
    step:
        g <- randn_like(z)
        u <- rand_like(z)
    until true max 1
    output g, u
"""


def test_seeded_draws_are_reproducible_differ_across_seeds_and_have_the_right_moments(tmp_path):
    m = iterc.load(_write(tmp_path, NOISE))
    z = np.zeros(200_000)
    a, b, c = m.solve(z=z, seed=7), m.solve(z=z, seed=7), m.solve(z=z, seed=8)
    np.testing.assert_array_equal(a.g, b.g)
    np.testing.assert_array_equal(a.u, b.u)
    assert not np.allclose(a.g, c.g) and not np.allclose(a.u, c.u)
    assert abs(a.g.mean()) < 0.01 and abs(a.g.var() - 1) < 0.01
    assert abs(np.mean(a.g ** 3)) < 0.03 and abs(np.mean(a.g ** 4) - 3) < 0.05
    assert 0 <= a.u.min() and a.u.max() < 1
    assert abs(a.u.mean() - 0.5) < 0.005 and abs(a.u.var() - 1 / 12) < 0.002
    # the draws come from PCG64(seed) in program order: the normal draw, then the uniform one
    ref = np.random.Generator(np.random.PCG64(7))
    np.testing.assert_array_equal(a.g, ref.standard_normal(z.shape))
    np.testing.assert_array_equal(a.u, ref.random(z.shape))


def test_a_solver_draws_in_order_across_iterations_branches_and_loops(tmp_path):
    p = _write(tmp_path, """
solver walk:
    hyper seed: int = 3
    state x: real = 0
    state y: real = 0
    step t:
        if t % 2 == 0:
            x <- x + randn_like(x)
        for i in 1..2:
            y <- y + rand_like(y)
    until false max 4
    output x, y
""")
    sol = iterc.load(p).solve()
    ref = np.random.Generator(np.random.PCG64(3))
    x = y = 0.0
    for t in range(1, 5):
        if t % 2 == 0:
            x += ref.standard_normal()
        for _ in range(2):
            y += ref.random()
    assert sol.x == x and sol.y == y
    assert sol.info.status == "max_iter" and not sol.info.converged


def test_langevin_example_samples_a_gaussian():
    mu = np.array([1.0, -2.0])
    sol = iterc.load(LANGEVIN).solve(x0=np.zeros(2), grad_f=lambda x: x - mu, lr=0.05, steps=20000, seed=1)
    np.testing.assert_allclose(sol.mean, mu, atol=0.15)
    again = iterc.load(LANGEVIN).solve(x0=np.zeros(2), grad_f=lambda x: x - mu, lr=0.05, steps=20000, seed=1)
    np.testing.assert_array_equal(sol.x, again.x)


SGLD = """
optimizer sgld:
    hyper lr: real = 0.01 where lr > 0
    hyper seed: int = 0
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - lr * g + sqrt(2 * lr) * randn_like(x)
    converges heuristic
"""


def test_an_optimizer_owns_one_generator_advanced_per_step_over_leaves_in_tree_order(tmp_path):
    m = iterc.load(_write(tmp_path, SGLD))
    params = {"b": np.zeros(2), "a": np.zeros((2, 3))}
    grads = {"b": np.ones(2), "a": np.ones((2, 3))}

    def run(seed, steps=3):
        opt = m.numpy(seed=seed, lr=0.02)
        p, s = params, opt.init(params)
        for _ in range(steps):
            p, s = opt.step(p, s, grads)
        return p

    first, again, other = run(5), run(5), run(6)
    np.testing.assert_array_equal(first["a"], again["a"])
    assert not np.allclose(first["a"], other["a"])
    ref = np.random.Generator(np.random.PCG64(5))
    expect = {"a": np.zeros((2, 3)), "b": np.zeros(2)}
    for _ in range(3):
        for key in ("a", "b"):                  # optree flattens dicts by sorted key
            expect[key] = expect[key] - 0.02 * 1 + np.sqrt(2 * 0.02) * ref.standard_normal(expect[key].shape)
    np.testing.assert_allclose(first["a"], expect["a"], rtol=1e-12)
    np.testing.assert_allclose(first["b"], expect["b"], rtol=1e-12)


def test_draws_are_float32_for_float32_leaves(tmp_path):
    opt = iterc.load(_write(tmp_path, SGLD)).numpy()
    p = {"w": np.zeros(4, dtype=np.float32)}
    p, _ = opt.step(p, opt.init(p), {"w": np.zeros(4, dtype=np.float32)})
    assert p["w"].dtype == np.float32 and np.all(p["w"] != 0)


def test_the_key_is_threaded_through_the_ir_and_survives_every_pass(tmp_path):
    result = check_text(SGLD.replace("x <- x - lr * g", "if lr > 0.5:\n            x <- x - g\n        x <- x - lr * g"),
                        "sgld.iter")
    assert result.ok, result.diagnostics
    m = lower_module(result.module).methods[0]
    assert m.key is not None and m.key.origin.value == "key" and str(m.key.type) == "key"
    assert len(m.body.yields) == 2 and m.body.yields[-1].type == m.key.type
    fns = [s.op.fn for s in walk(m.body) if hasattr(s, "op") and hasattr(s.op, "fn")]
    assert fns.index("random_normal") < fns.index("rng_next")
    for p in (cse, dce, lambda x: decompose(x, frozenset())):
        m = p(m)
        verify_method(m)


def test_a_def_that_draws_is_inlined_with_the_key(tmp_path):
    p = _write(tmp_path, """
def jitter(v, s) = v + s * randn_like(v)

solver j:
    hyper seed: int = 2
    state x: real = 0
    step t:
        if t > 1:
            x <- jitter(x, 1)
    until false max 3
    output x
""")
    sol = iterc.load(p).solve()
    ref = np.random.Generator(np.random.PCG64(2))
    assert sol.x == ref.standard_normal() + ref.standard_normal()


# ---------------------------------------------------------------- stopping

def test_the_cap_stops_a_run_that_does_not_converge():
    sol = iterc.load(HALPERN).solve(x0=np.ones(3), T=_nonexpansive(3, 4), tol=1e-300, max_iter=7)
    assert sol.info.iterations == 7 and not sol.info.converged
    assert sol.info.status == "max_iter" and "cap" in sol.info.reason


def test_a_nan_stops_the_run_at_once_naming_the_state():
    calls = []

    def T(x):
        calls.append(1)
        return np.full_like(x, np.nan) if len(calls) > 4 else 0.5 * x
    sol = iterc.load(HALPERN).solve(x0=np.ones(3), T=T, tol=1e-300, max_iter=10000)
    assert not sol.info.converged and sol.info.status == "nonfinite"
    assert sol.info.iterations == 3          # T(x) in the step, T(x) in `until`: the 5th call is in step 3
    assert "`x`" in sol.info.reason and "nan" in sol.info.reason and len(calls) < 10


def test_an_infinite_state_stops_the_run(tmp_path):
    p = _write(tmp_path, """
solver blowup:
    hyper tol: real = 1e-9 where tol > 0
    state x: real = 2
    state k: int = 0
    step:
        x <- x * x
        k <- k + 1
    until abs(x - prev(x)) <= tol max 1000
    output x, k
""")
    sol = iterc.load(p).solve()
    assert sol.info.status == "nonfinite" and sol.k == sol.info.iterations < 15
    assert "state `x`" in sol.info.reason and "inf" in sol.info.reason


# ---------------------------------------------------------------- domains

DOMAINS = """
solver d:
    dims n, m
    input p: real[n] in simplex
    input q: real[n] in nonneg
    input r: real in positive
    input s: real[n] in box(-1, 2)
    input u: real[n] in ball(2)
    input v: real[n] in sphere
    input P: real[m, m] in psd
    input Q: real[n, m] in stiefel
    state x: real = 0
    step:
        x <- sum(p) + sum(q) + r + sum(s) + sum(u) + sum(v) + sum(P) + sum(Q)
    until true max 1
    output x
"""


def _valid():
    rng = np.random.default_rng(0)
    B = rng.normal(size=(2, 2))
    Q, _ = np.linalg.qr(rng.normal(size=(3, 2)))
    return dict(p=np.array([0.2, 0.3, 0.5]), q=np.array([0.0, 1.0, 2.0]), r=0.5, s=np.array([-1.0, 0.0, 2.0]),
                u=np.array([1.0, 1.0, 0.0]), v=np.array([0.6, 0.8, 0.0]), P=B @ B.T, Q=Q)


@pytest.mark.parametrize("name,value,words", [
    ("p", np.array([0.2, 0.3, 0.6]), "sum to 1.1"),
    ("p", np.array([-0.1, 0.6, 0.5]), "p[0] = -0.1 is negative"),
    ("q", np.array([0.0, -1.0, 2.0]), "q[1] = -1 is negative"),
    ("r", 0.0, "r = 0 is not positive"),
    ("s", np.array([-1.5, 0.0, 0.0]), "s[0] = -1.5 is below -1"),
    ("s", np.array([0.0, 2.5, 0.0]), "s[1] = 2.5 is above 2"),
    ("u", np.array([2.0, 2.0, 0.0]), "norm is 2.828"),
    ("v", np.array([1.0, 1.0, 0.0]), "norm is 1.414"),
    ("P", np.array([[1.0, 2.0], [2.0, 1.0]]), "smallest eigenvalue is -1"),
    ("P", np.array([[1.0, 2.0], [0.0, 1.0]]), "not symmetric"),
    ("Q", np.ones((3, 2)), "not orthonormal"),
    ("p", np.array([np.nan, 0.5, 0.5]), "p[0] is not finite"),
])
def test_inputs_outside_their_domain_are_errors_naming_the_input(tmp_path, name, value, words):
    m = iterc.load(_write(tmp_path, DOMAINS))
    assert m.solve(**_valid()).info.converged
    with pytest.raises(ValueError) as info:
        m.solve(**{**_valid(), name: value})
    assert f"input `{name}` must lie in" in str(info.value) and words in str(info.value), str(info.value)


def test_domains_are_checked_to_a_tolerance():
    m = iterc.load(ROOT / "examples" / "sinkhorn.iter")
    C = np.ones((3, 3))
    a = np.array([0.2, 0.3, 0.5], dtype=np.float32)           # sums to 1 in float32 only
    assert m.solve(C=C, a=a, b=np.full(3, 1 / 3), max_iter=5).info.iterations >= 1
    with pytest.raises(ValueError, match=r"input `b` must lie in `simplex`"):
        m.solve(C=C, a=a, b=np.full(3, 0.34))


# ---------------------------------------------------------------- API and progress

def test_one_call_solve_splits_hypers_from_inputs_and_oracles():
    sol = iterc.load("examples/sinkhorn.iter" if Path("examples/sinkhorn.iter").exists()
                     else ROOT / "examples" / "sinkhorn.iter").solve(
        C=np.array([[0.0, 1.0], [1.0, 0.0]]), a=np.array([0.5, 0.5]), b=np.array([0.5, 0.5]), eps=0.5,
        backend="numpy")
    assert sol.info.converged and sol["P"].shape == (2, 2) and sol.P is sol["P"]
    assert set(vars(sol.info)) >= {"iterations", "residual", "converged", "status", "reason"}
    with pytest.raises(ValueError, match="not available yet"):
        iterc.load(HALPERN).solve(x0=np.ones(2), T=lambda x: x, backend="torch")
    with pytest.raises(TypeError, match="is an optimizer"):
        iterc.load("adam").solve(lr=0.1)


def test_callback_gets_increasing_iterations_every_k():
    seen = []
    sol = iterc.load(HALPERN).solve(x0=np.ones(3), T=_nonexpansive(3, 5), tol=1e-300, max_iter=20,
                                    callback=lambda t, r: seen.append((t, r)), callback_every=5)
    assert [t for t, _ in seen] == [5, 10, 15, 20] and sol.info.iterations == 20
    assert all(isinstance(r, float) and r > 0 for _, r in seen)
    every = []
    iterc.load(HALPERN).solve(x0=np.ones(3), T=_nonexpansive(3, 5), tol=1e-300, max_iter=4,
                              callback=lambda t, r: every.append(t))
    assert every == [1, 2, 3, 4]
    with pytest.raises(ValueError, match="callback_every"):
        iterc.load(HALPERN).solve(x0=np.ones(3), T=lambda x: x, callback=print, callback_every=0)


def test_callback_without_a_residual_form_gets_none():
    seen = []
    iterc.load(LANGEVIN).solve(x0=np.zeros(1), grad_f=lambda x: x, steps=3, callback=lambda t, r: seen.append((t, r)))
    assert seen == [(1, None), (2, None), (3, None)]


# ---------------------------------------------------------------- syntax

def test_fmt_writes_function_oracles_canonically():
    from iterc.fmt import format_source
    src = "solver s:\n    dims n\n    input x0: real[n]\n    oracle T :(real[n])->real[n]\n" \
          "    oracle f: ( real[n] , real )  ->  real\n    state x: real[n] = x0\n    step:\n" \
          "        x <- T(x)\n    until f(x, 1) <= 0 max 3\n    output x\n"
    out, _ = format_source(src)
    assert "    oracle T: real[n] -> real[n]\n" in out and "    oracle f: (real[n], real) -> real\n" in out
    assert parse_text(out)[0] is not None

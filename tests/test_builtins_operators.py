"""Prox operators, projections, LMOs and mirror steps against jaxopt and closed forms,
on random inputs and edge cases, and the facts their registry entries record.

Every operator runs twice: as numpy lowers it (its `rt.*` helper) and with every
composite decomposed into primitives (what a backend that keeps no composites runs).
jaxopt runs once, in a subprocess with float64 enabled (x64 is process-global, so it
stays out of this process), on all the inputs gathered up front.
"""
from __future__ import annotations

import functools
import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from iterc.api import check_text
from iterc.backends.numpy import NUMPY, emit_module
from iterc.builtins import REGISTRY
from iterc.diagnostics import render_all
from iterc.ir import lower_module, optimize_module

PATHS = ("numpy", "primitives")
TOL = dict(rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- running one expression

@functools.lru_cache(maxsize=None)
def _compiled(expr: str, shapes: tuple, path: str):
    lines = [f"    input {name}: real{shape}" for name, shape in shapes]
    program = "solver op:\n" + "\n".join(lines) + textwrap.dedent(f"""
        state z: real = 0
        step:
            z <- z + 1
        let out = {expr}
        until true max 1
        output out
    """).replace("\n", "\n    ")
    result = check_text(program, "op.iter")
    assert result.ok, render_all(result.diagnostics)
    keep = NUMPY.keep if path == "numpy" else frozenset()
    ns: dict = {}
    exec(compile(emit_module(optimize_module(lower_module(result.module), keep=keep), NUMPY), "<op>", "exec"), ns)
    return ns["make_op"]()


def run(expr: str, path: str, **inputs) -> np.ndarray:
    """`expr` over the named inputs (arrays of rank <= 2, or numbers)."""
    inputs = {k: np.asarray(v, dtype=np.float64) for k, v in inputs.items()}
    shapes = tuple((k, "" if v.ndim == 0 else "[n]" if v.ndim == 1 else
                    "[n, n]" if v.shape[0] == v.shape[1] else "[n, m]") for k, v in inputs.items())
    return np.asarray(_compiled(expr, shapes, path).solve(**inputs)["out"])


# ---------------------------------------------------------------- jaxopt, in a subprocess

# name -> (expression over x, y, ...; the jaxopt reference as source text over the same names)
JAXOPT = {
    "prox_l1": ("prox_l1(x, lam)", "prox.prox_lasso(x, lam)"),
    "prox_l2": ("prox_l2(x, lam)", "prox.prox_group_lasso(x, lam)"),
    "prox_sq": ("prox_sq(x, lam)", "prox.prox_ridge(x, lam)"),
    "prox_elastic": ("prox_elastic(x, l1, l2)", "prox.prox_elastic_net(x, (l1, l2 / l1))"),
    "prox_linf": ("prox_linf(x, lam)", "x - lam * projection.projection_l1_ball(x / lam, 1.0)"),
    "proj_box": ("proj_box(x, lo, hi)", "projection.projection_box(x, (lo, hi))"),
    "proj_l2ball": ("proj_l2ball(x, r)", "projection.projection_l2_ball(x, r)"),
    # (jaxopt recompiles projection_l1_ball for every radius: scale into the unit ball instead)
    "proj_l1ball": ("proj_l1ball(x, r)", "r * projection.projection_l1_ball(x / r, 1.0)"),
    "proj_linfball": ("proj_linfball(x, r)", "projection.projection_linf_ball(x, r)"),
    "proj_simplex": ("proj_simplex(x, r)", "projection.projection_simplex(x, r)"),
    "proj_simplex_1": ("proj_simplex(x)", "projection.projection_simplex(x)"),
    "proj_nonneg": ("proj_nonneg(x)", "projection.projection_non_negative(x)"),
    "proj_hyperplane": ("proj_hyperplane(x, a, b)", "projection.projection_hyperplane(x, (a, b))"),
    "proj_sphere": ("proj_sphere(x, r)", "projection.projection_l2_sphere(x, r)"),
}

_SCRIPT = """
import pickle, sys
import jax
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp
import numpy as np
from jaxopt import prox, projection
cases = pickle.load(sys.stdin.buffer)
compiled = {}              # one jitted function per reference and argument names: one compile per shape
out = []
for source, env in cases:
    names = tuple(sorted(env))
    key = (source, names)
    if key not in compiled:
        fn = eval("lambda " + ", ".join(names) + ": " + source, {"prox": prox, "projection": projection, "jnp": jnp})
        compiled[key] = jax.jit(fn)
    out.append(np.asarray(compiled[key](*(jnp.asarray(env[k], dtype=jnp.float64) for k in names))))
pickle.dump(out, sys.stdout.buffer)
"""


def _vec(rng, n=7, scale=1.0):
    return rng.normal(size=n) * scale


def _jaxopt_cases():
    """(key, name, env) for random inputs and edge cases jaxopt handles (r > 0, x != 0 for the sphere)."""
    cases = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        x = _vec(rng, 7, scale=1 + seed)
        lam, r = float(rng.uniform(0.05, 2.0)), float(rng.uniform(0.1, 3.0))
        a, b = _vec(rng, x.size), float(rng.normal())
        env = dict(x=x, lam=lam, r=r, l1=lam, l2=float(rng.uniform(0.1, 2.0)), lo=-r / 2, hi=r, a=a, b=b)
        for name, (expr, _) in JAXOPT.items():
            names = [k for k in env if k in expr.replace("(", " ").replace(",", " ").replace(")", " ").split()]
            cases.append((f"{name}-{seed}", name, {k: env[k] for k in names}))
    # every vector has 7 entries: jaxopt compiles once per shape, and that dominates the time
    small = np.array([0.1, -0.2, 0.05, 0.0, 0.0, 0.1, -0.1])
    ties = np.array([0.5, 0.5, 0.5, 0.1, 0.5, -0.3, 0.1])
    edge = [
        ("inside-l2", "proj_l2ball", dict(x=small, r=1.0)),
        ("inside-l1", "proj_l1ball", dict(x=small, r=1.0)),
        ("inside-box", "proj_box", dict(x=small, lo=-1.0, hi=1.0)),
        ("inside-simplex", "proj_simplex", dict(x=np.array([0.2, 0.3, 0.1, 0.0, 0.1, 0.2, 0.1]), r=1.0)),
        ("ties-simplex", "proj_simplex", dict(x=ties, r=1.0)),
        ("ties-simplex-2", "proj_simplex", dict(x=np.ones(7), r=2.0)),
        ("ties-simplex-neg", "proj_simplex", dict(x=-np.ones(7), r=1.0)),
        ("ties-l1", "proj_l1ball", dict(x=np.array([1.0, -1.0, 1.0, 0.2, -1.0, 0.0, 0.2]), r=1.0)),
        ("zero-simplex", "proj_simplex", dict(x=np.zeros(7), r=1.0)),
        ("zero-prox_l1", "prox_l1", dict(x=np.zeros(7), lam=0.3)),
        ("zero-prox_l2", "prox_l2", dict(x=np.zeros(7), lam=0.3)),
        ("zero-l2", "proj_l2ball", dict(x=np.zeros(7), r=1.0)),
        ("zero-l1", "proj_l1ball", dict(x=np.zeros(7), r=1.0)),
        ("lam0-prox_l1", "prox_l1", dict(x=ties, lam=0.0)),
        ("big-lam-prox_l2", "prox_l2", dict(x=small, lam=10.0)),
        ("on-plane", "proj_hyperplane", dict(x=np.array([1.0, 2.0, 0.0, 0, 0, 0, 1]),
                                             a=np.array([1.0, -1.0, 3.0, 0, 0, 0, 0]), b=-1.0)),
        ("on-sphere", "proj_sphere", dict(x=np.array([0.6, 0.8, 0.0, 0, 0, 0, 0]), r=1.0)),
    ]
    return cases + edge


@pytest.fixture(scope="module")
def jaxopt_refs():
    cases = _jaxopt_cases()
    payload = pickle.dumps([(JAXOPT[name][1], env) for _, name, env in cases])
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", _SCRIPT], input=payload, capture_output=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    return cases, pickle.loads(proc.stdout)


@pytest.mark.parametrize("path", PATHS)
def test_against_jaxopt(jaxopt_refs, path):
    cases, refs = jaxopt_refs
    for (key, name, env), want in zip(cases, refs):
        got = run(JAXOPT[name][0], path, **env)
        np.testing.assert_allclose(got, want, **TOL, err_msg=f"{key}: {JAXOPT[name][0]} with {env}")
        assert got.shape == want.shape, key


# ---------------------------------------------------------------- closed forms and edge cases jaxopt lacks

def _closed_form_cases():
    rng = np.random.default_rng(11)
    x, g = rng.normal(size=6), rng.normal(size=6)
    p = rng.dirichlet(np.ones(6))
    A = rng.normal(size=(5, 3))
    Q = rng.normal(size=(4, 4))
    w, V = np.linalg.eigh(0.5 * (Q + Q.T))
    U, _, Vt = np.linalg.svd(A, full_matrices=False)
    orth = np.linalg.qr(rng.normal(size=(5, 3)))[0]
    spd = Q @ Q.T + np.eye(4)
    e0 = np.eye(6)[0]
    return [
        # r = 0 where allowed: the set is the origin
        ("r0-l2", "proj_l2ball(x, r)", dict(x=x, r=0.0), np.zeros(6)),
        ("r0-l1", "proj_l1ball(x, r)", dict(x=x, r=0.0), np.zeros(6)),
        ("r0-linf", "proj_linfball(x, r)", dict(x=x, r=0.0), np.zeros(6)),
        ("s0-simplex", "proj_simplex(x, r)", dict(x=x, r=0.0), np.zeros(6)),
        ("lam0-linf", "prox_linf(x, lam)", dict(x=x, lam=0.0), x),
        ("lam0-l2", "prox_l2(x, lam)", dict(x=x, lam=0.0), x),
        ("r0-lmo_l1", "lmo_l1ball(g, r)", dict(g=g, r=0.0), np.zeros(6)),
        # zero vectors
        ("zero-sphere", "proj_sphere(x, r)", dict(x=np.zeros(6), r=2.0), 2.0 * e0),
        ("zero-lmo_l1", "lmo_l1ball(g, r)", dict(g=np.zeros(6), r=2.0), -2.0 * e0),
        ("zero-lmo_simplex", "lmo_simplex(g)", dict(g=np.zeros(6)), e0),
        ("zero-hyperplane-normal", "proj_hyperplane(x, a, b)", dict(x=x, a=np.zeros(6), b=1.0), x),
        ("zero-mirror", "mirror_entropic(x, g, lam)", dict(x=np.full(6, 1 / 6), g=np.zeros(6), lam=0.7),
         np.full(6, 1 / 6)),
        ("zero-linf", "prox_linf(x, lam)", dict(x=np.zeros(6), lam=0.5), np.zeros(6)),
        # matrices
        ("psd", "proj_psd(Q)", dict(Q=Q), (V * np.maximum(w, 0)) @ V.T),
        ("psd-inside", "proj_psd(Q)", dict(Q=spd), spd),
        ("stiefel", "proj_stiefel(A)", dict(A=A), U @ Vt),
        ("stiefel-inside", "proj_stiefel(A)", dict(A=orth), orth),
        ("nuclear", "lmo_nuclear(A, r)", dict(A=A, r=2.0), -2.0 * np.outer(U[:, 0], Vt[0])),
        # LMOs and mirror steps
        ("lmo_simplex", "lmo_simplex(g)", dict(g=g), np.eye(6)[np.argmin(g)]),
        ("lmo_simplex-ties", "lmo_simplex(g)", dict(g=np.array([1.0, -2.0, 0.0, -2.0])), np.eye(4)[1]),
        ("lmo_l1", "lmo_l1ball(g, r)", dict(g=g, r=1.5),
         -1.5 * np.sign(g[np.argmax(abs(g))]) * np.eye(6)[np.argmax(abs(g))]),
        ("lmo_box", "lmo_box(g, lo, hi)", dict(g=g, lo=-1.0, hi=3.0), np.where(g > 0, -1.0, 3.0)),
        ("entropic", "mirror_entropic(x, g, lam)", dict(x=p, g=g, lam=0.7),
         p * np.exp(-0.7 * g) / np.sum(p * np.exp(-0.7 * g))),
        ("entropic-big", "mirror_entropic(x, g, lam)", dict(x=p, g=g * 1e4, lam=1.0),
         np.eye(6)[np.argmin(g)]),
        ("entropic-support", "mirror_entropic(x, g, lam)",
         dict(x=np.array([0.5, 0.5, 0.0]), g=np.array([0.0, 0.0, -1e4]), lam=1.0), np.array([0.5, 0.5, 0.0])),
        ("euclid", "mirror_euclid(x, g, lam)", dict(x=x, g=g, lam=0.3), x - 0.3 * g),
        ("logbarrier", "mirror_logbarrier(x, g, lam)", dict(x=p, g=np.abs(g), lam=0.4), 1 / (1 / p + 0.4 * np.abs(g))),
        ("logbarrier-guard", "mirror_logbarrier(x, g, lam)", dict(x=np.array([1.0, 1.0]), g=np.array([-5.0, 0.5]),
                                                                  lam=1.0), np.array([2.0, 1 / 1.5])),
    ]


@pytest.mark.parametrize("path", PATHS)
def test_closed_forms_and_edge_cases(path):
    for key, expr, env, want in _closed_form_cases():
        got = run(expr, path, **env)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=f"{key}: {expr}")


def test_no_warnings_on_edge_cases():
    """Zero norms and r = 0 are guarded, not divided by (numpy would warn)."""
    with np.errstate(divide="raise", invalid="raise", over="raise"):
        for path in PATHS:
            for key, expr, env, _ in _closed_form_cases():
                if "psd" not in key and "stiefel" not in key and "nuclear" not in key:
                    run(expr, path, **env)


# ---------------------------------------------------------------- facts, checked empirically

def _members():
    """name -> (expression, extra inputs, membership test of the output)."""
    return {
        "prox_l1": ("prox_l1(x, 0.3)", None),
        "prox_l2": ("prox_l2(x, 0.3)", None),
        "prox_sq": ("prox_sq(x, 0.7)", None),
        "prox_elastic": ("prox_elastic(x, 0.3, 0.5)", None),
        "prox_linf": ("prox_linf(x, 0.4)", None),
        "proj_box": ("proj_box(x, -0.5, 0.25)", lambda y: np.all((y >= -0.5 - 1e-12) & (y <= 0.25 + 1e-12))),
        "proj_l2ball": ("proj_l2ball(x, 1.5)", lambda y: np.linalg.norm(y) <= 1.5 + 1e-12),
        "proj_l1ball": ("proj_l1ball(x, 1.5)", lambda y: np.abs(y).sum() <= 1.5 + 1e-12),
        "proj_linfball": ("proj_linfball(x, 0.5)", lambda y: np.abs(y).max() <= 0.5 + 1e-12),
        "proj_simplex": ("proj_simplex(x, 2.0)", lambda y: y.min() >= 0 and abs(y.sum() - 2.0) < 1e-12),
        "proj_nonneg": ("proj_nonneg(x)", lambda y: y.min() >= 0),
        "proj_hyperplane": ("proj_hyperplane(x, a, 0.7)", None),       # membership checked below (needs a)
        "proj_sphere": ("proj_sphere(x, 1.5)", lambda y: abs(np.linalg.norm(y) - 1.5) < 1e-12),
        "proj_psd": ("proj_psd(X)", lambda Y: np.allclose(Y, Y.T) and np.linalg.eigvalsh(Y).min() >= -1e-12),
        "proj_stiefel": ("proj_stiefel(X)", lambda Y: np.allclose(Y.T @ Y, np.eye(Y.shape[1]), atol=1e-12)),
        "mirror_entropic": ("mirror_entropic(p, x, 0.8)", lambda y: y.min() > 0 and abs(y.sum() - 1) < 1e-12),
        "mirror_logbarrier": ("mirror_logbarrier(p, x, 3.0)", lambda y: y.min() > 0 and np.all(np.isfinite(y))),
    }


def _inputs(rng, name, scale):
    if name in ("proj_psd", "proj_stiefel"):
        return {"X": rng.normal(size=(4, 4) if name == "proj_psd" else (5, 3)) * scale}
    env = {"x": rng.normal(size=7) * scale}
    if name == "proj_hyperplane":
        env["a"] = np.linspace(-1, 1.5, 7)
    if name.startswith("mirror"):
        env["p"] = np.full(7, 1 / 7)
    return env


def test_recorded_facts():
    """Which entries claim what: prox operators and convex projections are firmly
    nonexpansive; projections land in their set; LMOs return vertices. Projections onto
    the (non-convex) sphere and Stiefel manifold only land in their set."""
    for name, entry in REGISTRY.items():
        if name.startswith("prox_"):
            assert entry.facts == {"firmly_nonexpansive"}, name
        elif name.startswith("proj_"):
            want = {"maps_into_set"} if name in ("proj_sphere", "proj_stiefel") else \
                {"firmly_nonexpansive", "maps_into_set"}
            assert entry.facts == want, name
        elif name.startswith("lmo_"):
            assert entry.facts == {"vertex_of_set"}, name
    members = _members()
    claimed = {n for n, e in REGISTRY.items() if "firmly_nonexpansive" in e.facts or "maps_into_set" in e.facts}
    assert claimed <= set(members), sorted(claimed - set(members))


@pytest.mark.parametrize("path", PATHS)
def test_facts_hold_on_random_pairs(path):
    rng = np.random.default_rng(5)
    for name, (expr, member) in _members().items():
        facts = REGISTRY[name].facts
        for trial in range(12):
            scale = [0.1, 1.0, 5.0][trial % 3]
            ex, ey = _inputs(rng, name, scale), _inputs(rng, name, scale)
            key = "X" if "X" in ex else "x"
            ey = {**ex, key: ey[key]}
            px, py = run(expr, path, **ex), run(expr, path, **ey)
            if "firmly_nonexpansive" in facts:
                d = px - py
                assert np.sum(d * d) <= np.sum(d * (ex[key] - ey[key])) + 1e-10, (name, trial)
            if "maps_into_set" in facts:
                if name == "proj_hyperplane":
                    assert abs(np.sum(ex["a"] * px) - 0.7) < 1e-10, name
                else:
                    assert member(px), (name, trial, px)


def test_sphere_and_stiefel_projections_are_not_nonexpansive():
    """Why those two do not claim firm nonexpansiveness: two close points, far images."""
    x, y = np.array([0.1, 0.0]), np.array([-0.1, 0.0])
    px, py = run("proj_sphere(x, 1.0)", "numpy", x=x), run("proj_sphere(x, 1.0)", "numpy", x=y)
    assert np.sum((px - py) ** 2) > np.sum((px - py) * (x - y))
    X, Y = np.diag([0.1, 1.0]), np.diag([-0.1, 1.0])
    PX, PY = run("proj_stiefel(X)", "numpy", X=X), run("proj_stiefel(X)", "numpy", X=Y)
    assert np.sum((PX - PY) ** 2) > np.sum((PX - PY) * (X - Y))


def _set_points(rng, name, shape, r, k=200):
    """Random points of each LMO's set (vertices and interior points)."""
    n = int(np.prod(shape))
    if name == "lmo_simplex":
        return rng.dirichlet(np.ones(n) * 0.3, size=k).reshape((k,) + shape)
    if name == "lmo_l1ball":
        z = rng.laplace(size=(k, n))
        return (z / np.abs(z).sum(axis=1, keepdims=True) * r * rng.uniform(0, 1, (k, 1))).reshape((k,) + shape)
    if name == "lmo_box":
        return rng.uniform(-1.0, 2.0, size=(k,) + shape)
    pts = []
    for _ in range(k):
        M = rng.normal(size=shape)
        pts.append(M / np.linalg.svd(M, compute_uv=False).sum() * r)
    return np.array(pts)


def _is_vertex(name, s, r):
    if name == "lmo_simplex":
        return np.sum(s == 1.0) == 1 and np.sum(s == 0.0) == s.size - 1
    if name == "lmo_l1ball":
        return np.sum(np.abs(s) == r) == 1 and np.sum(s == 0.0) == s.size - 1
    if name == "lmo_box":
        return np.all((s == -1.0) | (s == 2.0))
    sv = np.linalg.svd(s, compute_uv=False)
    return abs(sv[0] - r) < 1e-12 and np.all(sv[1:] < 1e-12)


@pytest.mark.parametrize("path", PATHS)
def test_lmos_minimise_over_their_sets(path):
    rng = np.random.default_rng(9)
    exprs = {"lmo_simplex": "lmo_simplex(g)", "lmo_l1ball": "lmo_l1ball(g, 1.5)",
             "lmo_box": "lmo_box(g, -1.0, 2.0)", "lmo_nuclear": "lmo_nuclear(g, 1.5)"}
    assert set(exprs) == {n for n, e in REGISTRY.items() if "vertex_of_set" in e.facts}
    for name, expr in exprs.items():
        shape = (4, 3) if name == "lmo_nuclear" else (6,)
        for trial in range(8):
            g = rng.normal(size=shape) * [0.1, 1.0, 10.0, 1.0][trial % 4]
            s = run(expr, path, g=g)
            assert _is_vertex(name, s, 1.5), (name, s)
            value = np.sum(g * s)
            others = _set_points(rng, name, shape, 1.5)
            assert value <= np.min(np.sum(others * g, axis=tuple(range(1, others.ndim)))) + 1e-12, name


# ---------------------------------------------------------------- axis forms

@pytest.mark.parametrize("path", PATHS)
def test_axis_forms_act_per_slice(path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(4, 5))
    rows = {
        "proj_simplex(X, 1.5, axis=1)": lambda row: run("proj_simplex(x, 1.5)", path, x=row),
        "proj_l2ball(X, 0.8, axis=1)": lambda row: run("proj_l2ball(x, 0.8)", path, x=row),
        "prox_l2(X, 0.8, axis=1)": lambda row: run("prox_l2(x, 0.8)", path, x=row),
        "lmo_simplex(X, axis=1)": lambda row: run("lmo_simplex(x)", path, x=row),
        "mirror_entropic(abs(X) + 0.1, X, 0.5, axis=1)":
            lambda row: run("mirror_entropic(abs(x) + 0.1, x, 0.5)", path, x=row),
    }
    for expr, per_row in rows.items():
        got = run(expr, path, X=X)
        np.testing.assert_allclose(got, np.stack([per_row(row) for row in X]), **TOL, err_msg=expr)
        got0 = run(expr.replace("axis=1", "axis=0"), path, X=X)
        np.testing.assert_allclose(got0, np.stack([per_row(col) for col in X.T], axis=1), **TOL, err_msg=expr)


# ---------------------------------------------------------------- whole methods

METHODS = '''
optimizer fista_lasso:
    hyper lr: real = 0.5 where lr > 0
    hyper lam: real = 0.3 where lam >= 0
    param y: real[...]
    oracle g = grad(y)
    state x: real[...] = y
    step t:
        let x_new = prox_l1(y - lr * g, lr * lam)
        y <- x_new + (t - 1) / (t + 2) * (x_new - x)
        x <- x_new

optimizer frank_wolfe_l1:
    hyper r: real = 1.0
    param x: real[...]
    oracle g = grad(x)
    step t:
        x <- x + 2 / (t + 2) * (lmo_l1ball(g, r) - x)

solver projected_least_squares:
    input A: real[m, n]
    input b: real[m]
    hyper lr: real = 0.01 where lr > 0
    state p: real[n] = 1 / n
    step:
        p <- proj_simplex(p - lr * (A.T @ (A @ p - b)))
    until norm(p - prev(p)) <= 1e-13 max 20000
    output p
'''


def test_methods_built_from_operators_converge(tmp_path):
    import iterc
    path = tmp_path / "ops.iter"
    path.write_text(METHODS)
    rng = np.random.default_rng(0)
    c = rng.normal(size=(3, 4))
    opt = iterc.load(path, "fista_lasso").numpy()          # f(y) = ||y - c||² / 2: the optimum is prox_l1(c, lam)
    y = np.zeros_like(c)
    state = opt.init(y)
    for _ in range(200):
        y, state = opt.step(y, state, y - c)
    np.testing.assert_allclose(state["x"], np.sign(c) * np.maximum(np.abs(c) - 0.3, 0), atol=1e-8)
    fw = iterc.load(path, "frank_wolfe_l1").numpy()        # min ||x - c||² / 2 over the l1 ball of radius 1
    x = np.zeros_like(c)
    state = fw.init(x)
    for _ in range(3000):
        x, state = fw.step(x, state, x - c)
    assert np.abs(x).sum() <= 1 + 1e-12
    want = run("proj_l1ball(x, 1.0)", "numpy", x=c)
    assert np.linalg.norm(x - want) < 0.05
    A, b = rng.normal(size=(8, 5)), rng.normal(size=8)
    p = iterc.load(path, "projected_least_squares").numpy().solve(A=A, b=b)["p"]
    grad = A.T @ (A @ p - b)                               # KKT: the gradient is smallest on the support
    assert abs(p.sum() - 1) < 1e-12 and p.min() >= 0
    assert np.all(grad[p > 1e-9] <= grad.min() + 1e-6)


def test_numel_is_per_leaf_not_static(tmp_path):
    """`numel(x)` differs between leaves, so it is placed LEAF: a branch on it runs per leaf
    and a state used only under it is still allocated (a STATIC placement would make the
    state's liveness a function of the hypers alone, which cannot see x)."""
    import iterc
    path = tmp_path / "numel.iter"
    path.write_text('''
optimizer o:
    hyper lr: real = 0.5
    hyper k: int = 2
    param x: real[...]
    oracle g = grad(x)
    state m: real[...] = 0
    step:
        if numel(x) > 3:
            m <- 0.5 * m + g
            x <- x - lr * m * topk_mask(g, k)
        else:
            x <- x - lr * onehot(argmax(abs(g)), g) * g
''')
    opt = iterc.load(path).numpy()
    params = {"big": np.array([1.0, -4.0, 2.0, 3.0, 0.5]), "small": np.array([1.0, -3.0])}
    state = opt.init(params)
    new, state = opt.step(params, state, params)
    np.testing.assert_allclose(new["big"], [1.0, -2.0, 2.0, 1.5, 0.5])      # the two largest |g|, halved
    np.testing.assert_allclose(new["small"], [1.0, -1.5])                   # the largest |g|, halved
    np.testing.assert_allclose(state["m"]["big"], params["big"])

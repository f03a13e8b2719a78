"""Phases: a step that reads model-wide values (`total`, `global_norm`, shared states)
is cut into model segments and leaf phases (iterc/ir/phases.py), verified, and printed
by the numpy backend as one loop over the leaves per leaf phase.

Each program here runs on a tree whose leaves are 2-d, 1-d, 0-d and 4-d against a
numpy loop written from the program's meaning, with the IR verified after every pass.
"""
from dataclasses import replace

import numpy as np
import pytest

import iterc
from iterc.api import check_text
from iterc.backends.numpy import NUMPY
from iterc.ir import Assign, If, Phase, Place, lower_module, optimize_module, walk
from iterc.ir.phases import is_model_op
from iterc.ir.printer import method_text
from iterc.ir.verify import IRVerifyError, verify_method

SHAPES = [(3, 4), (5,), (), (2, 3, 2, 2)]


def phased(src: str):
    """The optimized, phase-split IR of the single method in `src` (verified after every pass)."""
    result = check_text(src, "main.iter")
    assert result.ok, result.diagnostics
    return optimize_module(lower_module(result.module), verify=verify_method, keep=NUMPY.keep).methods[0]


def load(src: str, tmp_path, **hypers):
    path = tmp_path / "main.iter"
    path.write_text(src)
    return iterc.load(path).numpy(**hypers)


def tree(seed: int, shapes=SHAPES) -> dict:
    rng = np.random.default_rng(seed)
    return {f"p{i}": rng.normal(size=s) for i, s in enumerate(shapes)}


def kinds(m) -> list[str]:
    return [p.kind for p in m.phases]


# ---------------------------------------------------------------- which methods are phased

def test_methods_without_model_values_keep_one_per_leaf_step():
    """No `total`, no shared state: no phases, and the per-leaf step as before."""
    for name in ("adam", "sgd", "lion", "sophia", "adagrad_norm"):
        path = iterc.api._resolve_method_file(name)
        m = optimize_module(lower_module(iterc.check_file(path).module), keep=NUMPY.keep).methods[0]
        assert m.phases == (), name
        assert f"def step_{name}(hp, t, x," in iterc.load(name).source()


def test_polyak_sgd_runs_in_two_leaf_phases():
    m = optimize_module(lower_module(iterc.check_file(iterc.api._resolve_method_file("polyak_sgd")).module),
                        verify=verify_method, keep=NUMPY.keep).methods[0]
    assert kinds(m) == ["model", "leaf", "model", "leaf"]
    prologue, first, segment, second = m.phases
    assert {s.target.source for s in prologue.stmts if isinstance(s, Assign)} >= {"gap"}    # no total needed
    assert [v.name for v in first.loads] == ["g"] and len(first.stores) == 1
    assert first.stores == segment.loads                    # the partial of |g|^2 crosses into the total
    assert any(is_model_op(s) for s in segment.stmts)
    assert {v.name for v in second.loads} == {"g", "x"} and [v.source for v in second.stores] == ["x"]
    text = method_text(m)
    assert "-- leaf phase 1 loads (%g) stores (%_sum)" in text
    assert "%sq_norm: real M =" in text and "-- leaf phase 2 loads" in text


def test_a_shared_state_without_total_is_one_leaf_phase(tmp_path):
    src = '''
optimizer counted:
    hyper lr: real = 0.5
    param x: real[...]
    oracle g = grad(x)
    shared state k: real = 0
    step:
        k <- k + 1
        x <- x - lr / k * g
    converges heuristic
'''
    m = phased(src)
    assert kinds(m) == ["model", "leaf"]
    assert {s.target.source for s in m.phases[0].stmts} == {"k", None}       # k + 1, and lr / k
    assert all(s.target.place <= Place.MODEL for s in m.phases[0].stmts)
    opt = load(src, tmp_path)
    params = tree(0)
    state = opt.init(params)
    assert state["k"] == 0.0 and np.ndim(state["k"]) == 0
    for step in range(1, 4):
        grads = tree(step)
        new, state = opt.step(params, state, grads)
        for key in params:
            np.testing.assert_allclose(new[key], params[key] - 0.5 / step * grads[key])
        params = new
    assert state["k"] == 3.0


# ---------------------------------------------------------------- scheduling

WAR = '''
optimizer war:
    param x: real[...]
    oracle g = grad(x)
    step:
        let n = total(sum(g * g))
        let u = x / sqrt(n)
        x <- x - 0.1 * g
        x <- x - u
    converges heuristic
'''


def test_a_rebinding_never_moves_before_a_read_of_the_old_value(tmp_path):
    """`x <- x - 0.1 * g` could run in the first leaf phase, but `u` reads the x before it
    (and backends print every version of x as `x`): it stays in the second phase."""
    m = phased(WAR)
    assert kinds(m) == ["leaf", "model", "leaf"]
    assert not any(isinstance(s, Assign) and s.target.source == "x" for s in m.phases[0].stmts)
    opt = load(WAR, tmp_path)
    params, grads = tree(1), tree(2)
    new, _ = opt.step(params, opt.init(params), grads)
    n = sum(np.sum(v * v) for v in grads.values())
    for key in params:
        np.testing.assert_allclose(new[key], params[key] - 0.1 * grads[key] - params[key] / np.sqrt(n))


def test_per_leaf_work_moves_to_the_phase_that_reads_it():
    """ALR-HB's `beta * momentum` is read only after the totals: computed there, so only
    `momentum` (needed for the first total anyway) crosses, not a second tensor."""
    m = optimize_module(lower_module(iterc.check_file(iterc.api._resolve_method_file("alr_hb")).module),
                        verify=verify_method, keep=NUMPY.keep).methods[0]
    first = m.phases[[p.kind for p in m.phases].index("leaf")]
    assert sorted(v.source or "" for v in first.stores if v.type.shape != ()) == ["momentum", "x_prev"]
    code = iterc.load("alr_hb").source()
    assert "momentums = [None] * len(xs)" in code and "_mul" not in code


def test_totals_of_values_that_are_the_same_on_every_leaf(tmp_path):
    """`total(1)` counts the leaves; `total(lr)` is lr times that; leaves of every shape count."""
    src = '''
optimizer counting:
    hyper lr: real = 0.25
    param x: real[...]
    oracle g = grad(x)
    step:
        let leaves = total(1)
        let elements = total(sum(x * 0 + 1))
        x <- x * 0 + leaves + elements / 100 + total(lr)
    converges heuristic
'''
    opt = load(src, tmp_path)
    params = tree(3)
    new, _ = opt.step(params, opt.init(params), tree(4))
    for key in params:
        np.testing.assert_allclose(new[key], 4 + (12 + 5 + 1 + 24) / 100 + 4 * 0.25)


def test_dimensions_and_prev_cross_phases(tmp_path):
    src = '''
optimizer ranked:
    param x: real[n]
    dims n
    oracle g = grad(x)
    step:
        x <- x - 0.5 * g
        let moved = total(sum((x - prev(x)) ^ 2))
        x <- x + n / total(n) * moved * prev(x)
    converges heuristic
'''
    opt = load(src, tmp_path)
    params = tree(5, [(3,), (5,), (2,)])
    grads = tree(6, [(3,), (5,), (2,)])
    new, _ = opt.step(params, opt.init(params), grads)
    moved = sum(np.sum((0.5 * g) ** 2) for g in grads.values())
    for key in params:
        x = params[key] - 0.5 * grads[key]
        np.testing.assert_allclose(new[key], x + len(x) / 10 * moved * params[key])


# ---------------------------------------------------------------- regions

CUT = '''
optimizer clipper:
    hyper lr: real = 0.1
    hyper clip: bool = true
    hyper max_norm: real = 1
    param x: real[...]
    oracle g = grad(x)
    state m: real[...] = 0
    shared state k: real = 0
    step t:
        var u = g
        if clip:
            let gn = global_norm(g)
            u <- g * min(1, max_norm / gn)
            k <- k + 1
        else:
            u <- g * 2
        every 2:
            m <- 0.9 * m + u
            k <- k * 2
        for i in 1..2:
            k <- k + 0.5
        x <- x - lr * m * k
    converges heuristic
'''


@pytest.mark.parametrize("clip", [True, False])
def test_an_if_with_a_total_and_per_leaf_work_is_cut_into_pieces(tmp_path, clip):
    """`if clip:` (the same on every leaf) holds a global norm and per-leaf work: one `if`
    per part of the step on the same condition; `every 2:` mixes a shared state and a
    per-leaf state; the `for` loop only updates the shared state (a model region)."""
    m = phased(CUT)
    conds = [s.cond.name for p in m.phases for s in p.stmts if isinstance(s, If) and hasattr(s.cond, "name")]
    assert conds.count("clip") == 4                   # prologue, leaf phase 1, model segment, leaf phase 2
    loop = next(s for s in walk(m.body) if type(s).__name__ == "For")
    assert all(p.place == Place.MODEL for p in loop.params + loop.results)
    opt = load(CUT, tmp_path, clip=clip)
    rng = np.random.default_rng(7)
    params = tree(8)
    state = opt.init(params)
    x = params
    ref_x, ref_m, k = dict(params), {key: np.zeros_like(v) for key, v in params.items()}, 0.0
    for t in range(1, 8):
        g = {key: rng.normal(size=np.shape(v)) for key, v in params.items()}
        x, state = opt.step(x, state, g)
        if clip:
            gn = np.sqrt(sum(np.sum(v * v) for v in g.values()))
            u = {key: g[key] * min(1, 1.0 / gn) for key in g}
            k += 1
        else:
            u = {key: g[key] * 2 for key in g}
        if (t - 1) % 2 == 0:
            ref_m = {key: 0.9 * ref_m[key] + u[key] for key in g}
            k *= 2
        k += 1.0
        ref_x = {key: ref_x[key] - 0.1 * ref_m[key] * k for key in g}
    for key in params:
        np.testing.assert_allclose(x[key], ref_x[key])
        np.testing.assert_allclose(state["m"][key], ref_m[key])
    assert state["k"] == k


# ---------------------------------------------------------------- the verifier

def test_the_verifier_rejects_broken_phases():
    m = optimize_module(lower_module(iterc.check_file(iterc.api._resolve_method_file("polyak_sgd")).module),
                        keep=NUMPY.keep).methods[0]
    verify_method(m)
    prologue, first, segment, second = m.phases
    broken = {
        "not the body's statements": (prologue, first, segment),
        "both leaf phases": (prologue, first, Phase("leaf", segment.stmts, segment.loads), second),
        "computes a model-wide value": (prologue, Phase("leaf", first.stmts + segment.stmts, first.loads,
                                                        first.stores), second),
        "without loading it": (prologue, first, segment, Phase("leaf", second.stmts, second.loads[:1],
                                                                second.stores)),
        "no earlier leaf phase stored": (prologue, Phase("leaf", first.stmts, first.loads), segment, second),
    }
    for message, phases in broken.items():
        with pytest.raises(IRVerifyError, match=message):
            verify_method(replace(m, phases=phases))


# ---------------------------------------------------------------- the runtime

def test_dtypes_follow_each_leaf(tmp_path):
    """Per leaf: computed in float32 for 16-bit leaves, stored back in the leaf's dtype;
    every leaf still adds its part to the model-wide sums."""
    import ml_dtypes
    opt = iterc.load("adamw_clipped").numpy(lr=0.05, max_norm=1.0)
    f64 = tree(9)
    mixed = {"p0": f64["p0"].astype(np.float32), "p1": f64["p1"].astype(ml_dtypes.bfloat16),
             "p2": f64["p2"], "p3": f64["p3"].astype(np.float16)}
    grads = tree(10)
    new, state = opt.step(mixed, opt.init(mixed), {k: np.asarray(v, dtype=mixed[k].dtype) for k, v in grads.items()})
    want, _ = opt.step(f64, opt.init(f64), grads)
    for key in mixed:
        assert new[key].dtype == mixed[key].dtype and state["m"][key].dtype == mixed[key].dtype
        np.testing.assert_allclose(np.asarray(new[key], dtype=np.float64), want[key], rtol=2e-2, atol=2e-2)


def test_trees_without_leaves_and_with_none_leaves():
    opt = iterc.load("prodigy").numpy()
    params, state = opt.step({}, opt.init({}), {})
    assert params == {} and state["d"] == 1e-6
    tree_ = {"a": np.ones(3), "skip": None, "b": [np.ones((2, 2))]}
    grads = {"a": np.ones(3), "skip": None, "b": [np.ones((2, 2))]}
    new, state = opt.step(tree_, opt.init(tree_), grads)
    assert new["skip"] is None and new["b"][0].shape == (2, 2) and np.ndim(state["d"]) == 0


def test_the_generated_step_reads_like_the_source():
    code = iterc.load("polyak_sgd").source()
    step = code[code.index("def step_polyak_sgd"):code.index("def make_polyak_sgd")]
    assert step.startswith("def step_polyak_sgd(hp, t, xs, gs, f):")
    assert step.count("for i in range(len(xs)):") == 2
    assert "sq_norm_parts[i] = np.sum(g * g)  # polyak_sgd.iter:" in step
    assert "sq_norm = hp.scaling ** 2 * rt.total(sq_norm_parts)" in step
    assert "SPEC_polyak_sgd" in code and "phased=True," in code


def test_a_model_value_a_leaf_phase_rebinds_keeps_a_name_of_its_own(tmp_path):
    """`a` starts model-wide (0.0, once per step) and the leaf phase rebinds it per leaf:
    every leaf must start from 0.0, not from the previous leaf's `a`."""
    src = '''
optimizer counted_per_leaf:
    param x: real[n]
    dims n
    oracle g = grad(x)
    step:
        var a = 0.0
        for i in 1..n:
            a <- a + 1
        x <- x - 0.1 * g * a * total(1)
    converges heuristic
'''
    m = phased(src)
    assert any(isinstance(s, Assign) and s.target.source == "a_model" for s in m.phases[0].stmts)
    opt = load(src, tmp_path)
    params = tree(11, [(3,), (5,), (2,)])
    grads = tree(12, [(3,), (5,), (2,)])
    new, _ = opt.step(params, opt.init(params), grads)
    for key in params:
        np.testing.assert_allclose(new[key], params[key] - 0.1 * grads[key] * len(params[key]) * 3)

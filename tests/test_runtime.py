"""The numpy runtime's contract: trees, shapes, aliasing, dtypes, static hypers, liveness.

Each case here was a bug reproduced in review; the tests pin the fixed behaviour."""
import collections

import ml_dtypes
import numpy as np
import pytest

import iterc


def test_gradient_of_the_wrong_shape_names_the_leaf_and_both_shapes():
    opt = iterc.load("adam").numpy()
    params = {"w": np.zeros(3)}
    with pytest.raises(ValueError, match=r"params\['w'\] has shape \(3, 1\), but the parameter has shape \(3,\)"):
        opt.step(params, opt.init(params), {"w": np.ones((3, 1))})


def test_state_never_aliases_the_callers_gradient(tmp_path):
    p = tmp_path / "keep.iter"
    p.write_text('''
optimizer keep:
    param x: real[...]
    oracle g = grad(x)
    state m: real[...] = 0
    step:
        m <- g
        x <- x - 0.1 * m
    converges heuristic
''')
    opt = iterc.load(p).numpy()
    x = np.ones(3)
    g = np.array([1.0, 2.0, 3.0])
    new, state = opt.step(x, opt.init(x), g)
    g[:] = 100.0                                   # the caller reuses its buffer
    np.testing.assert_allclose(state["m"], [1.0, 2.0, 3.0])
    assert new is not x


def test_state_unused_under_static_hypers_is_not_allocated():
    params = {"w": np.zeros(4)}
    plain = iterc.load("adam").numpy()
    assert "vmax" not in plain.init(params)
    _, state = plain.step(params, plain.init(params), {"w": np.ones(4)})
    assert set(state) == {"t", "m", "v"}
    ams = iterc.load("adam").numpy(amsgrad=True)
    assert "vmax" in ams.init(params)


def test_static_hyper_cannot_change_per_step_but_real_hypers_can():
    opt = iterc.load("adam").numpy()
    x = np.zeros(2)
    with pytest.raises(ValueError, match="`amsgrad` is static"):
        opt.step(x, opt.init(x), np.ones(2), amsgrad=True)
    opt.step(x, opt.init(x), np.ones(2), lr=0.5)   # a schedule: fine


def test_every_period_below_one_is_rejected_at_instantiation(tmp_path):
    p = tmp_path / "ev.iter"
    p.write_text('''
optimizer ev:
    hyper k: int = 2
    param x: real[...]
    oracle g = grad(x)
    state n: real[...] = 0
    step:
        every k:
            n <- n + 1
        x <- x - 0.1 * g
    converges heuristic
''')
    with pytest.raises(ValueError, match="`every k` needs a period of at least 1, got 0"):
        iterc.load(p).numpy(k=0)


def test_solver_inputs_keep_their_element_type_and_f32_states_stay_f32(tmp_path):
    p = tmp_path / "count.iter"
    p.write_text('''
solver count:
    dims n
    input k: int[n]
    input y: real[n]
    state s: f32[n] = 0
    step:
        s <- s + y * 0.5
    let total = sum(k)
    until true max 1
    output s, total
''')
    sol = iterc.load(p).numpy().solve(k=np.array([1, 2, 3]), y=np.ones(3))
    assert sol["s"].dtype == np.float32
    assert sol["total"] == 6 and np.asarray(sol["total"]).dtype.kind == "i"


def test_fixed_size_dims_are_checked_against_the_leaf(tmp_path):
    p = tmp_path / "fixed.iter"
    p.write_text('''
optimizer fixed:
    param W: real[3, n]
    oracle g = grad(W)
    step:
        W <- W - 0.1 * g
    converges heuristic
''')
    opt = iterc.load(p).numpy()
    W = np.ones((3, 4))
    opt.step(W, opt.init(W), W)
    bad = np.ones((2, 4))
    with pytest.raises(ValueError, match=r"3 entries along axis 0 .* but params has shape \(2, 4\)"):
        opt.init(bad)


def test_trees_dict_order_namedtuples_and_none_leaves():
    opt = iterc.load("sgd").numpy(lr=0.5)
    params = {"b": np.array([1.0]), "a": np.array([2.0, 3.0]), "skip": None}
    grads = {"a": np.array([1.0, 1.0]), "b": np.array([2.0]), "skip": None}     # jax.grad sorts keys
    new, _ = opt.step(params, opt.init(params), grads)
    assert list(new) == ["b", "a", "skip"] and new["skip"] is None
    np.testing.assert_allclose(new["a"], [1.5, 2.5])
    np.testing.assert_allclose(new["b"], [0.0])
    Pair = collections.namedtuple("Pair", "w b")
    p = Pair(np.array([1.0, 2.0]), np.array(3.0))
    new, _ = opt.step(p, opt.init(p), Pair(np.ones(2), np.array(1.0)))
    assert isinstance(new, Pair) and new.w.shape == (2,) and new.b.shape == ()
    np.testing.assert_allclose(new.b, 2.5)


def test_bf16_storage_computes_in_f32_and_stores_bf16():
    bf16 = np.dtype(ml_dtypes.bfloat16)
    opt = iterc.load("adam").numpy(lr=1e-2)
    x = {"w": np.linspace(-1, 1, 8).astype(bf16), "v": np.linspace(0, 1, 4).astype(np.float32)}
    state = opt.init(x)
    assert state["m"]["w"].dtype == bf16 and state["m"]["v"].dtype == np.float32
    ref = iterc.load("adam").numpy(lr=1e-2)
    x32 = {k: v.astype(np.float32) for k, v in x.items()}
    s32 = ref.init(x32)
    for step in range(5):
        g = {k: (np.asarray(v, dtype=np.float32) * 2 + 0.1 * step) for k, v in x.items()}
        x, state = opt.step(x, state, {k: v.astype(x[k].dtype) for k, v in g.items()})
        x32, s32 = ref.step(x32, s32, g)
    assert x["w"].dtype == bf16 and x["v"].dtype == np.float32
    np.testing.assert_allclose(x["w"].astype(np.float32), x32["w"], atol=2e-2)   # bf16 rounding only
    np.testing.assert_array_equal(x["v"], x32["v"])


def test_maximize_matches_torch():
    torch = pytest.importorskip("torch")
    from reference import assert_trees_close, problem, run_iterc, run_torch
    params, noises = problem(seed=5, steps=50)
    ours = run_iterc("adamw", {"lr": 0.01, "maximize": True}, params, noises)
    theirs = run_torch(lambda ps: torch.optim.AdamW(ps, lr=0.01, maximize=True), params, noises)
    assert_trees_close(ours, theirs)

"""The eval view (`eval x = ...`): what an optimizer's parameters are at evaluation time.

`opt.eval_params(params, state)` applies the method's eval expression to every leaf, from
the param and the states as the last step left them; the expected values here are
computed by hand from the same recurrences, on random trees over many steps.
"""
import numpy as np
import pytest

import iterc
from iterc.api import compile_ir_text

AVERAGED = """
optimizer averaged_sgd:
    \"\"\"SGD that is evaluated at the running average of its iterates (Polyak-Ruppert).\"\"\"
    hyper lr: real = 0.1 where lr > 0
    hyper beta: real = 0.5 where 0 < beta < 1
    param y: real[...]
    oracle g = grad(y)
    state z: real[...] = y
    state avg: real[...] = y  # the average of the z iterates
    shared state count: real = 0
    step:
        count <- count + 1
        z <- z - lr * g
        avg <- avg + (z - avg) / count
        y <- beta * avg + (1 - beta) * z
    eval y = avg * count / count
"""

NO_AVG_FLAG = """
optimizer flagged:
    hyper lr: real = 0.1 where lr > 0
    hyper use_m: bool = false
    param x: real[...]
    oracle g = grad(x)
    state m: real[...] = x  # touched by the step only under use_m
    step:
        if use_m:
            m <- 0.5 * (m + x)
        x <- x - lr * g
    eval x = m
"""

SCALAR_EVAL = """
optimizer zero_eval:
    param W: real[m, n]
    oracle g = grad(W)
    state r: real[m] = 0
    step:
        r <- norm(g, axis=1)
        W <- W - 0.1 * g
    eval W = 2 * r[:, None] + 0 * W + 1
"""


def _load(tmp_path, text, name="m.iter"):
    p = tmp_path / name
    p.write_text(text)
    return iterc.load(p)


def _tree(rng):
    return {"w": rng.normal(size=(3, 4)), "b": rng.normal(size=(4,)), "s": np.array(rng.normal()),
            "k": rng.normal(size=(2, 1, 3, 2))}


def test_eval_params_follow_the_hand_written_recurrence(tmp_path):
    rng = np.random.default_rng(0)
    opt = _load(tmp_path, AVERAGED).numpy(lr=0.05, beta=0.7)
    params = _tree(rng)
    state = opt.init(params)
    z = {k: v.copy() for k, v in params.items()}
    avg = {k: v.copy() for k, v in params.items()}
    y = {k: v.copy() for k, v in params.items()}
    for t in range(1, 60):
        grads = {k: rng.normal(size=np.shape(v)) for k, v in params.items()}
        params, state = opt.step(params, state, grads)
        for k in z:
            z[k] = z[k] - 0.05 * grads[k]
            avg[k] = avg[k] + (z[k] - avg[k]) / t
            y[k] = 0.7 * avg[k] + 0.3 * z[k]
        ev = opt.eval_params(params, state)
        for k in z:
            np.testing.assert_allclose(params[k], y[k], rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(ev[k], avg[k], rtol=1e-12, atol=1e-12)
            assert ev[k].shape == params[k].shape
    assert opt.has_eval_view
    # a new tree: the params and the state are untouched
    before = {k: v.copy() for k, v in params.items()}
    ev = opt.eval_params(params, state)
    ev["w"][...] = 0
    for k in params:
        np.testing.assert_array_equal(params[k], before[k])
    assert not np.shares_memory(ev["b"], state["avg"]["b"])


def test_a_method_without_an_eval_view_returns_params_unchanged():
    opt = iterc.load("adam").numpy(lr=0.1)
    params = {"a": np.ones(3), "b": [np.zeros((2, 2)), None]}
    state = opt.init(params)
    params, state = opt.step(params, state, {"a": np.ones(3), "b": [np.ones((2, 2)), None]})
    assert opt.eval_params(params, state) is params
    assert not opt.has_eval_view


def test_a_state_only_the_eval_view_reads_is_allocated(tmp_path):
    """`m` is touched by the step only under `use_m`; the eval view reads it whatever the hypers."""
    opt = _load(tmp_path, NO_AVG_FLAG).numpy(use_m=False)
    params = {"a": np.arange(3.0)}
    state = opt.init(params)
    assert "m" in state
    params, state = opt.step(params, state, {"a": np.ones(3)})
    np.testing.assert_allclose(opt.eval_params(params, state)["a"], np.arange(3.0))   # m kept its initial value


def test_eval_view_broadcasts_and_keeps_the_leaf_dtype(tmp_path):
    opt = _load(tmp_path, SCALAR_EVAL).numpy()
    rng = np.random.default_rng(1)
    params = [rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(4, 1))]
    state = opt.init(params)
    grads = [rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(4, 1))]
    params, state = opt.step(params, state, grads)
    ev = opt.eval_params(params, state)
    assert ev[0].dtype == np.float32 and ev[1].dtype == np.float64
    for e, g in zip(ev, grads):
        want = np.broadcast_to(2 * np.linalg.norm(g, axis=1)[:, None] + 1, g.shape)
        np.testing.assert_allclose(e, want, rtol=1e-6)


def test_eval_params_with_a_wrong_state_tree_is_a_clear_error(tmp_path):
    opt = _load(tmp_path, AVERAGED).numpy()
    params = {"a": np.ones(2)}
    state = opt.init(params)
    with pytest.raises(ValueError, match="tree structure"):
        opt.eval_params({"a": np.ones(2), "b": np.ones(1)}, state)


def test_generated_code_and_ir_show_the_eval_view(tmp_path):
    m = _load(tmp_path, AVERAGED)
    src = m.source()
    assert "def eval_averaged_sgd(hp, y, z, avg, count):" in src
    assert "eval_params=eval_averaged_sgd" in src
    ir = compile_ir_text(tmp_path / "m.iter")
    assert "  eval %y:" in ir


RECONSTRUCT = """
optimizer lean:
    \"\"\"Schedule-free's memory-lean form: keep y and z, rebuild x = (y - (1 - beta) z) / beta.\"\"\"
    hyper lr: real = 0.1 where lr > 0
    hyper beta: real = 0.9 where 0 < beta < 1
    param y: real[...]
    oracle g = grad(y)
    state z: real[...] = y
    step t:
        let x = (y - (1 - beta) * z) / beta
        z <- z - lr * g
        y <- beta * (x + (z - x) / t) + (1 - beta) * z
    eval y = (y - (1 - beta) * z) / beta
"""


def test_eval_view_reads_hypers_and_takes_overrides(tmp_path):
    opt = _load(tmp_path, RECONSTRUCT).numpy(lr=0.2, beta=0.8)
    rng = np.random.default_rng(3)
    params = {"a": rng.normal(size=(2, 3)), "b": np.array(0.5)}
    state = opt.init(params)
    x = {k: v.copy() for k, v in params.items()}
    z = {k: v.copy() for k, v in params.items()}
    for t in range(1, 30):
        grads = {k: rng.normal(size=np.shape(v)) for k, v in params.items()}
        params, state = opt.step(params, state, grads)
        for k in x:
            z[k] = z[k] - 0.2 * grads[k]
            x[k] = x[k] + (z[k] - x[k]) / t
    ev = opt.eval_params(params, state)
    for k in x:
        np.testing.assert_allclose(ev[k], x[k], rtol=1e-10, atol=1e-12)
    other = opt.eval_params(params, state, beta=0.5)
    for k in x:
        np.testing.assert_allclose(other[k], (params[k] - 0.5 * state["z"][k]) / 0.5, rtol=1e-12)
    with pytest.raises(ValueError, match="beta"):
        opt.eval_params(params, state, beta=1.5)


def test_the_verifier_rejects_an_eval_block_that_reads_an_oracle_or_the_counter(tmp_path):
    from dataclasses import replace

    from iterc.api import check_file
    from iterc.ir import Block, lower_module, optimize
    from iterc.ir.verify import IRVerifyError, verify_method

    (tmp_path / "m.iter").write_text(AVERAGED)
    m = optimize(lower_module(check_file(tmp_path / "m.iter").module).methods[0], verify=verify_method)
    assert m.eval is not None and m.eval.stmts
    verify_method(m)
    oracle = m.oracles[0].var
    with pytest.raises(IRVerifyError, match="eval"):
        verify_method(replace(m, eval=Block((), (oracle,))))
    with pytest.raises(IRVerifyError, match="eval"):
        verify_method(replace(m, eval=Block((), (m.counter,))))

"""The Python API: iterc.load by name or path, method selection, hyper validation."""
import numpy as np
import pytest

import iterc
from iterc.diagnostics import DiagnosticError

TWO_METHODS = '''
optimizer plain:
    hyper lr: real = 0.1 where lr > 0
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - lr * g
    converges heuristic

optimizer scaled:
    hyper L: real where L > 0
    hyper lr: real = 1 / L where 0 < lr <= 1 / L
    hyper k: int in [1, 100] = 2
    param x: real[...]
    oracle g = grad(x)
    oracle h = hess_diag(x) every k
    state d: real[...] = 1
    step t:
        every k:
            d <- 1 + abs(h)
        x <- x - lr * g / d
    converges heuristic
'''


@pytest.fixture
def two(tmp_path):
    p = tmp_path / "two.iter"
    p.write_text(TWO_METHODS)
    return p


def test_load_by_stdlib_name_and_dotted_name():
    assert iterc.load("adamw").name == "adamw"
    assert iterc.load("optim.sgd").name == "sgd"


def test_load_unknown_name_suggests():
    with pytest.raises(LookupError, match="did you mean `adam`"):
        iterc.load("addam")


def test_method_selection(two):
    with pytest.raises(ValueError, match="defines 2 methods"):
        iterc.load(two)
    assert iterc.load(two, method="plain").name == "plain"
    with pytest.raises(ValueError, match="no method `nope`"):
        iterc.load(two, method="nope")


def test_required_hyper_and_dependent_default(two):
    scaled = iterc.load(two, method="scaled")
    with pytest.raises(ValueError, match="hyper `L` is required"):
        scaled.numpy()
    opt = scaled.numpy(L=4.0)
    assert opt.hypers.lr == 0.25
    with pytest.raises(ValueError, match=r"`0 < lr <= 1 / L` does not hold"):
        scaled.numpy(L=4.0, lr=0.5)
    with pytest.raises(ValueError, match=r"`k in \[1, 100\]` does not hold"):
        scaled.numpy(L=1.0, k=0)
    with pytest.raises(ValueError, match="must be an integer"):
        scaled.numpy(L=1.0, k=2.5)


def test_every_k_oracle_is_needed_only_on_its_steps(two):
    opt = iterc.load(two, method="scaled").numpy(L=1.0, k=2)
    x = np.array([1.0, -2.0])
    s = opt.init(x)
    g = np.array([1.0, 1.0])
    with pytest.raises(ValueError, match=r"oracle `h` \(hess_diag\) must be supplied on step 1"):
        opt.step(x, s, g)
    x1, s = opt.step(x, s, g, h=np.array([1.0, 3.0]))           # t=1: d = 1 + |h|
    np.testing.assert_allclose(s["d"], [2.0, 4.0])
    x2, s = opt.step(x1, s, g)                                    # t=2: no h needed, d kept
    np.testing.assert_allclose(x2, x1 - 1.0 * g / np.array([2.0, 4.0]))
    with pytest.raises(ValueError, match="step 3"):
        opt.step(x2, s, g)


def test_load_reports_diagnostics(tmp_path):
    bad = tmp_path / "bad.iter"
    bad.write_text("optimizer o:\n    param x: real[...]\n    step:\n        x <- y\n")
    with pytest.raises(DiagnosticError) as err:
        iterc.load(bad)
    assert "E0101" in str(err.value)


def test_param_tree_structures_round_trip():
    opt = iterc.load("sgd").numpy(lr=0.5)
    params = {"a": [np.ones(2), (np.zeros((1, 2)), 3.0)], "b": np.array(1.0)}
    grads = {"a": [np.ones(2), (np.ones((1, 2)), 1.0)], "b": np.array(2.0)}
    new, state = opt.step(params, opt.init(params), grads)
    assert isinstance(new["a"], list) and isinstance(new["a"][1], tuple)
    np.testing.assert_allclose(new["a"][1][1], 2.5)
    np.testing.assert_allclose(new["b"], 0.0)
    assert state["t"] == 1


def test_ranked_param_rejects_other_ranks(tmp_path):
    p = tmp_path / "mat.iter"
    p.write_text('''
optimizer rowscale:
    hyper lr: real = 0.1
    param W: real[m, n]
    oracle g = grad(W)
    step:
        W <- W - lr * g / (norm(g, axis=1)[:, None] + 1)
    converges heuristic
''')
    opt = iterc.load(p).numpy()
    W = np.ones((2, 3))
    g = np.arange(6.0).reshape(2, 3)
    new, _ = opt.step(W, opt.init(W), g)
    expected = W - 0.1 * g / (np.linalg.norm(g, axis=1)[:, None] + 1)
    np.testing.assert_allclose(new, expected)
    with pytest.raises(ValueError, match=r"rank-2 parameters \(`W: real\[m, n\]`\), but params has shape"):
        opt.step(np.ones(3), opt.init(W), np.ones(3))


def test_storage_type_of_a_state_persists_across_steps(tmp_path):
    p = tmp_path / "f32.iter"
    p.write_text('''
optimizer heavy:
    hyper lr: real = 0.1
    param x: real[...]
    oracle g = grad(x)
    state m: f32[...] = 0
    step:
        m <- 0.9 * m + g
        x <- x - lr * m
    converges heuristic
''')
    opt = iterc.load(p).numpy()
    x = np.ones(3)
    s = opt.init(x)
    assert s["m"].dtype == np.float32
    for _ in range(3):
        x, s = opt.step(x, s, np.full(3, 1 / 3))
        assert s["m"].dtype == np.float32 and x.dtype == np.float64

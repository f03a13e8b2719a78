"""`var`: loop variables rebound inside loops and branches, carried by their regions, never stored."""
import numpy as np
import pytest

import iterc
from iterc.api import check_text
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "newton_schulz.iter"


def _newton_schulz(B, steps):
    X = B / (np.linalg.norm(B) + 1e-7)
    for _ in range(steps):
        A = X @ X.T
        X = 3.4445 * X + (-4.775 * A + 2.0315 * A @ A) @ X
    return X


@pytest.mark.parametrize("steps", [1, 5])
def test_newton_schulz_matches_a_hand_written_loop(steps):
    opt = iterc.load(EXAMPLE).numpy(lr=0.02, momentum=0.9, steps=steps)
    rng = np.random.default_rng(steps)
    W = {"a": rng.normal(size=(4, 6)), "b": rng.normal(size=(3, 3))}
    state = opt.init(W)
    ref_W = {k: v.copy() for k, v in W.items()}
    ref_B = {k: np.zeros_like(v) for k, v in W.items()}
    for _ in range(30):
        g = {k: rng.normal(size=v.shape) + v for k, v in W.items()}
        W, state = opt.step(W, state, g)
        for k in ref_W:
            ref_B[k] = 0.9 * ref_B[k] + (g[k] - W[k] + W[k])
            ref_W[k] = ref_W[k] - 0.02 * _newton_schulz(ref_B[k], steps)
    for k in W:
        np.testing.assert_allclose(W[k], ref_W[k], rtol=1e-10, atol=1e-12)


def test_a_loop_variable_is_not_state():
    opt = iterc.load(EXAMPLE).numpy()
    W = {"w": np.ones((2, 3))}
    state = opt.init(W)
    _, state = opt.step(W, state, {"w": np.ones((2, 3))})
    assert set(state) == {"t", "B"}


def test_var_in_branches_and_repeat():
    src = '''
optimizer halve:
    param x: real[...]
    oracle g = grad(x)
    step:
        var s = g
        if sum(s * s) > 1:
            s <- s / 2
        repeat:
            s <- s / 2
        until norm(s) < 1 max 10
        x <- x - s
    converges heuristic
'''
    result = check_text(src, "halve.iter")
    assert result.ok, result.diagnostics
    import tempfile
    with tempfile.NamedTemporaryFile("w", suffix=".iter", delete=False) as f:
        f.write(src)
    opt = iterc.load(f.name).numpy()
    g = np.array([3.0, 4.0])
    new, state = opt.step(np.zeros(2), opt.init(np.zeros(2)), g)
    s = g / 2                      # |g|^2 = 25 > 1
    s = s / 2
    while not np.linalg.norm(s) < 1:
        s = s / 2
    np.testing.assert_allclose(new, -s)
    assert set(state) == {"t"}


def test_var_read_outside_its_block_is_undefined_and_let_hint_points_to_var():
    outside = check_text('''
optimizer o:
    param x: real[...]
    oracle g = grad(x)
    step:
        for i in 1..2:
            var s = g
            s <- s * 2
        x <- x - s
    converges heuristic
''', "o.iter")
    assert [d.code for d in outside.errors] == ["E0101"]
    rebind = check_text('''
optimizer o:
    param x: real[...]
    oracle g = grad(x)
    step:
        let s = g
        s <- s * 2
        x <- x - s
    converges heuristic
''', "o.iter")
    assert rebind.errors[0].code == "E0104" and "declare it with `var`" in rebind.errors[0].hint

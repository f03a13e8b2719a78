"""Random expressions over random inputs: the numpy result is the same before the passes,
after CSE/DCE, and after decomposing every composite into primitives."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck

from iterc.api import check_text
from iterc.backends.numpy import NUMPY, emit_module
from iterc.ir import lower_module, optimize_module
from iterc.ir.verify import verify_method

MATRIX_UNARY = ["exp({})", "sigmoid({})", "abs({})", "sqrt(abs({}) + 1)", "log(abs({}) + 1)", "-{}", "sign({})",
                "softmax({}, axis=1)", "softmax({}, axis=0)", "normalize(abs({}) + 1, axis=1)", "clip({}, -0.5, 0.5)",
                "({} - logsumexp({}, axis=1)[:, None])", "{} / (norm({}) + 1)", "{} * mean({})", "{} + norminf({})",
                "{} * norm1({}, axis=0)[None, :]", "where({} > 0, {}, 0.5 * {})", "max({}, 0.1)", "min({}, s)",
                "{} - sum({}, axis=0)[None, :] / 4", "outer(v, w) * {}", "{} * dot({}, {})"]
BINARY = ["{} + {}", "{} - {}", "{} * {}", "{} / (abs({}) + 1)"]


def _matrix(draw, depth):
    if depth == 0:
        return draw(st.sampled_from(["A", "B", "s * A", "A.T.T"]))
    if draw(st.booleans()):
        a = _matrix(draw, depth - 1)
        template = draw(st.sampled_from(MATRIX_UNARY))
        return "(" + template.replace("{}", a) + ")"
    a, b = _matrix(draw, depth - 1), _matrix(draw, depth - 1)
    return "(" + draw(st.sampled_from(BINARY)).format(a, b, b) + ")"


@st.composite
def expressions(draw):
    return _matrix(draw, draw(st.integers(1, 3)))


def _program(expr: str) -> str:
    return f'''
solver prop:
    dims n, m
    input A: real[n, m]
    input B: real[n, m]
    input v: real[n]
    input w: real[m]
    hyper s: real = 0.7
    state z: real[n, m] = 0
    step:
        z <- {expr}
    let again = {expr}
    until true max 1
    output z, again
'''


def _run(module, inputs):
    code = emit_module(module, NUMPY)
    ns = {}
    exec(compile(code, "<prop>", "exec"), ns)
    sol = ns["make_prop"]().solve(**inputs)
    return sol["z"], sol["again"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(), st.integers(0, 2 ** 31 - 1))
def test_passes_keep_the_meaning(expr, seed):
    result = check_text(_program(expr), "prop.iter")
    assert result.ok, (expr, result.diagnostics)
    rng = np.random.default_rng(seed)
    inputs = dict(A=rng.normal(size=(4, 3)), B=rng.normal(size=(4, 3)), v=rng.normal(size=4), w=rng.normal(size=3))
    ir = lower_module(result.module)
    plain = _run(ir, inputs)
    optimized = _run(optimize_module(ir, verify=verify_method), inputs)
    decomposed = _run(optimize_module(ir, verify=verify_method, keep=frozenset()), inputs)
    for a, b, c in zip(plain, optimized, decomposed):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12, err_msg=expr)
        np.testing.assert_allclose(c, a, rtol=1e-9, atol=1e-12, err_msg=expr)

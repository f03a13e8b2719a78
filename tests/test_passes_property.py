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
# selection, sorting, matrices, prox operators, projections, LMOs, mirror steps ([4, 3] in and out)
OPERATORS = ["prox_l1({}, 0.3)", "prox_l2({}, 0.5)", "prox_l2({}, s, axis=1)", "prox_sq({}, s)",
             "prox_elastic({}, 0.2, s)", "prox_linf({}, 0.4)", "proj_box({}, -0.5, s)", "proj_l2ball({}, 1.0)",
             "proj_l2ball({}, 0.5, axis=0)", "proj_l1ball({}, 1.0)", "proj_linfball({}, 0.3)", "proj_simplex({})",
             "proj_simplex({}, 2.0, axis=1)", "proj_nonneg({})", "proj_hyperplane({}, B, 0.5)",
             "proj_sphere({}, 2.0)", "proj_stiefel({})", "lmo_simplex({}, axis=0)", "lmo_l1ball({}, 2.0)",
             "lmo_box({}, -1.0, s)", "lmo_nuclear({}, 1.5)", "mirror_entropic(abs({}) + 0.1, B, 0.3, axis=1)",
             "mirror_euclid({}, B, s)", "mirror_logbarrier(abs({}) + 0.1, {}, 0.5)", "sort({}, axis=1)", "sort({})",
             "cumsum({}, axis=0)", "cumsum({})", "topk_mask({}, 5)", "onehot(argmax({}, axis=1), {}, axis=1)",
             "onehot(argmin({}), {})", "{} * amax({})", "{} + amin({}, axis=0)[None, :]", "{} / numel({})",
             "{} @ inv_root({}.T @ {}, 2, 0.1)", "{} @ matrix_sqrt({}.T @ {})", "{} @ proj_psd(outer(w, w) - {}.T @ {})",
             "{} @ inv({}.T @ {} + eye(m))", "solve({}.T @ {} + eye(m), {}.T).T", "{} @ diag(w)",
             "{} * trace({}.T @ {})", "{} * diagonal({}.T @ {})[None, :]", "{} @ cholesky({}.T @ {} + eye(m))",
             "eye(n) @ {}"]
OPERATORS = [t.replace("{}", "({})") if "@" in t or ".T" in t else t for t in OPERATORS]     # `s * A`.T
MATRIX_UNARY += OPERATORS
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


@pytest.mark.parametrize("template", OPERATORS)
def test_each_new_builtin_keeps_its_meaning(template):
    """Every form above at least once (the random test below may not draw them all)."""
    test_passes_keep_the_meaning.hypothesis.inner_test(template.replace("{}", "(A - 0.3 * B)"), 7)


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

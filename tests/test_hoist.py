"""Loop-invariant code motion (`hoist_invariants` in iterc/ir/passes.py): a solver's
invariant tensor work is computed once before its loop, and nothing else moves."""
from __future__ import annotations

import numpy as np
import pytest

import iterc
from iterc.api import check_text
from iterc.backends.numpy import NUMPY, emit_module
from iterc.ir import lower_module, optimize_module, passes
from iterc.ir.nodes import Apply, Assign
from iterc.ir.passes import walk
from iterc.ir.verify import verify_method

SOURCE = '''
solver h:
    dims n
    input A: real[n, n]
    input x0: real[n]
    oracle T: real[n] -> real[n]
    hyper lam: real = 0.5 where lam > 0
    hyper seed: int = 0
    hyper max_iter: int = 4 where max_iter >= 1
    state x: real[n] = x0
    state y: real[n] = 0
    state k: real = 0
    step t:
        let B = exp(-A / lam)
        let s = 2 * lam
        let size = norm(A)
        x <- B @ x / size + s * T(x0) + 1e-3 * randn_like(x0)
        if t > 1:
            y <- log(sum(A * A, axis=0) + 2)
        k <- sum(x0)
    let total = sum(A) + k
    until norm(x) < 0
    output x, y, k, total
'''


def _method(hoist: bool = True):
    result = check_text(SOURCE, "h.iter")
    assert result.ok, result.diagnostics
    ir = lower_module(result.module)
    if not hoist:
        saved, passes.hoist_invariants = passes.hoist_invariants, lambda m: m
    try:
        return optimize_module(ir, verify=verify_method)
    finally:
        if not hoist:
            passes.hoist_invariants = saved


def _fns(block) -> list[str]:
    return [s.op.fn for s in walk(block) if isinstance(s, Assign) and isinstance(s.op, Apply)]


def test_invariant_tensor_work_moves_before_the_loop_and_nothing_else_does():
    (m,) = _method().methods
    init, body = _fns(m.init), _fns(m.loop.body)
    assert {"neg", "div", "exp", "norm", "sum"} <= set(init)       # -A / lam, exp, norm(A), sum(A)
    assert "exp" not in body and "norm" in body                      # norm(x) in `until` is not invariant
    assert body.count("call") == 1 and "random_normal" in body       # oracle calls and draws stay
    assert "log" in body                                             # inside an `if`: stays
    # a state's new value stays, even when invariant; host-scalar arithmetic stays inline
    k_new = [s for s in m.loop.body.stmts if isinstance(s, Assign) and s.target.source == "k"]
    assert k_new and k_new[0].op.fn == "sum"
    assert any(isinstance(s, Assign) and s.target.source == "s" for s in m.loop.body.stmts)
    code = emit_module(_method(), NUMPY)
    loop_at = code.index("while t < _cap:")
    assert code.index("B = np.exp(-A / hp.lam)") < loop_at and code.index("np.log(") > loop_at


def test_hoisting_keeps_the_results_the_oracle_calls_and_the_draws():
    rng = np.random.default_rng(0)
    A, x0 = rng.normal(size=(5, 5)), rng.normal(size=5)
    results = []
    for hoist in (True, False):
        ns: dict = {}
        exec(compile(emit_module(_method(hoist), NUMPY), "<h>", "exec"), ns)
        calls = []
        sol = ns["make_h"]().solve(A=A, x0=x0, T=lambda v: calls.append(1) or np.tanh(v))
        assert len(calls) == 4 and sol.info.iterations == 4
        results.append(sol)
    for name in ("x", "y", "k", "total"):
        np.testing.assert_array_equal(results[0][name], results[1][name])


def test_optimizers_are_left_alone():
    (m,) = lower_module(iterc.check_file(iterc.api.stdlib_dir() / "optim" / "adam.iter").module).methods
    assert passes.hoist_invariants(m) is m


@pytest.mark.parametrize("name,line", [("sinkhorn", "_div_2 = C / hp.eps"),
                                       ("sinkhorn_knopp", "K = np.exp(-C / hp.eps)")])
def test_stdlib_sinkhorn_computes_its_kernel_once(name, line):
    code = iterc.load(name).source()
    assert code.index(line) < code.index("while t < _cap:")

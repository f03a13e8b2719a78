"""The IR: every corpus program lowers to IR that passes the verifier; IR text is pinned
for the stdlib; control flow and prev/def semantics are checked by running the numpy code
against hand-derived values."""
import os
from pathlib import Path

import numpy as np
import pytest

import iterc
from iterc.api import check_file, check_text
from iterc.ir import lower_module
from iterc.ir.printer import module_text
from iterc.ir.verify import verify_module
from programs import golden_stem

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted((ROOT / "stdlib").rglob("*.iter")) + sorted((ROOT / "examples").glob("*.iter"))
GOLDEN = Path(__file__).resolve().parent / "codegen"


@pytest.mark.parametrize("source", CORPUS, ids=golden_stem)
def test_corpus_ir_verifies(source):
    result = check_file(source)
    assert result.ok, result.diagnostics
    verify_module(lower_module(result.module))


@pytest.mark.parametrize("source", sorted((ROOT / "stdlib").rglob("*.iter"))
                         + [ROOT / "examples" / "halpern.iter", ROOT / "examples" / "langevin.iter"],
                         ids=golden_stem)
def test_stdlib_ir_golden(source, request):
    text = module_text(lower_module(check_file(source).module))
    golden = GOLDEN / f"{golden_stem(source)}.ir"
    try:
        update = request.config.getoption("--update-golden")
    except ValueError:
        update = os.environ.get("ITERC_UPDATE_GOLDEN") == "1"
    if update:
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden.name}; create it with --update-golden and review it"
    assert text == golden.read_text()


CONTROL = '''
def shrink(v, tau) = sign(v) * max(abs(v) - tau, 0)

optimizer control:
    hyper lr: real = 0.5
    hyper k: int = 3
    param x: real[...]
    oracle g = grad(x)
    state hits: real[...] = 0
    state total: real[...] = 0
    state moved: real[...] = 0
    step t:
        every k:
            hits <- hits + 1
        for i in 1..k:
            total <- total + i
        repeat:
            total <- total + 0.5
        until sum(total) >= 100 * t max 4
        x <- shrink(x - lr * g, 0.25)
        moved <- x - prev(x)
    converges heuristic
'''


def test_control_flow_semantics(tmp_path):
    p = tmp_path / "control.iter"
    p.write_text(CONTROL)
    opt = iterc.load(p).numpy()
    x = np.array([2.0, -0.1])
    s = opt.init(x)
    hits, total = 0.0, 0.0
    for t in range(1, 8):
        g = np.array([1.0, 1.0])
        new, s = opt.step(x, s, g)
        # hand-derived: every 3 steps starting at t=1; for adds 1+2+3; repeat adds 0.5 up to 4 times
        hits += 1.0 if (t - 1) % 3 == 0 else 0.0
        total += 6.0
        for _ in range(4):
            total += 0.5
            if total >= 100 * t:
                break
        y = x - 0.5 * g
        expected = np.sign(y) * np.maximum(np.abs(y) - 0.25, 0)
        np.testing.assert_allclose(new, expected)
        np.testing.assert_allclose(s["moved"], expected - x)
        np.testing.assert_allclose(s["hits"], hits)
        np.testing.assert_allclose(s["total"], total)
        x = new


def test_def_arguments_keep_their_meaning():
    """A hyper passed to a def stays a run-time hyper (not baked in), and a def's locals never
    clash with the caller's names."""
    src = '''
def scaled(v, a):
    let tmp = a * v
    return tmp + a

optimizer o:
    hyper lr: real = 0.1
    param x: real[...]
    oracle g = grad(x)
    step:
        let tmp = 2 * g
        x <- x - scaled(tmp, lr)
    converges heuristic
'''
    result = check_text(src, "main.iter")
    assert result.ok, result.diagnostics
    ir = lower_module(result.module)
    verify_module(ir)
    from iterc.backends import emit
    code = emit(ir, "numpy")
    assert "hp.lr" in code and "0.1 *" not in code.split("def step_o")[1]
    ns = {}
    exec(compile(code, "<gen>", "exec"), ns)
    opt = ns["make_o"](lr=0.5)
    new, _ = opt.step(np.array([1.0]), opt.init(np.array([1.0])), np.array([2.0]))
    np.testing.assert_allclose(new, [1.0 - (0.5 * 4.0 + 0.5)])


def test_def_calls_where_no_statement_can_hold_bindings(tmp_path):
    """Hyper defaults and conditions, state initial values and oracle periods may call defs:
    they are substituted inline (defs are pure)."""
    p = tmp_path / "defctx.iter"
    p.write_text('''
def half(v) = v / 2
def twice(v):
    let w = v * 2
    return w

optimizer o:
    hyper L: real = 4
    hyper lr: real = half(L) where lr <= twice(L)
    hyper k: int = 2
    param x: real[...]
    oracle g = grad(x)
    oracle h = hess_diag(x) every k
    state d: real[...] = twice(x)
    step:
        every k:
            d <- d + h
        x <- x - lr * g / d
    converges heuristic
''')
    verify_module(lower_module(check_file(p).module))
    loaded = iterc.load(p)
    opt = loaded.numpy()
    assert opt.hypers.lr == 2.0
    np.testing.assert_allclose(opt.init(np.array([1.0, 3.0]))["d"], [2.0, 6.0])
    with pytest.raises(ValueError, match=r"`lr <= twice\(L\)` does not hold"):
        loaded.numpy(lr=9.0)


# ---------------------------------------------------------------- passes

@pytest.mark.parametrize("source", CORPUS, ids=golden_stem)
def test_corpus_verifies_after_every_pass(source):
    """CSE, DCE, decomposition (none, numpy's, all composites) and liveness keep SSA form."""
    from iterc.backends.numpy import NUMPY
    from iterc.ir import optimize_module
    from iterc.ir.verify import verify_method
    ir = lower_module(check_file(source).module)
    for keep in (None, NUMPY.keep, frozenset()):
        optimize_module(ir, verify=verify_method, keep=keep)


def test_cse_computes_a_repeated_norm_once():
    src = '''
optimizer clipped:
    param x: real[...]
    oracle g = grad(x)
    state m: real[...] = 0
    step:
        if norm(g) > 1:
            m <- g / norm(g)
        x <- x - 0.1 * m
    converges heuristic
'''
    from iterc.backends import emit
    code = emit(lower_module(check_text(src, "clip.iter").module), "numpy")
    assert code.count("rt.norm(g)") == 1, code


def test_cse_does_not_reuse_a_value_whose_name_was_rebound(tmp_path):
    """`m <- norm(g)` twice around `m <- m + 1`: the second is not `m = m` (backends print
    every version of m as m), it computes the norm again."""
    src = '''
optimizer o:
    param x: real[...]
    oracle g = grad(x)
    state m: real = 0
    step:
        m <- norm(g)
        m <- m + 1
        x <- x - m * g
        m <- norm(g)
        for i in 1..2:
            m <- m * 2
            m <- norm(g)
    converges heuristic
'''
    path = tmp_path / "o.iter"
    path.write_text(src)
    opt = iterc.load(path).numpy()
    x0, g = np.array([3.0, 4.0]), np.array([0.6, 0.8])
    x, state = opt.step(x0, opt.init(x0), g)
    np.testing.assert_allclose(state["m"], 1.0)
    np.testing.assert_allclose(x, x0 - 2.0 * g)


def test_dce_drops_unused_work_and_values_have_identity():
    from iterc.ir import Const, Var, Place, walk
    from iterc.types import REAL
    assert Const(1, REAL) == Const(1, REAL, span=object())      # spans never take part in equality
    assert Var("a", REAL, Place.STEP) == Var("a", REAL, Place.STEP, span=object())
    src = '''
optimizer o:
    param x: real[...]
    oracle g = grad(x)
    step:
        let unused = exp(g) * 3
        x <- x - 0.1 * g
    converges heuristic
'''
    from iterc.ir import optimize_module
    ir = optimize_module(lower_module(check_text(src, "o.iter").module))
    fns = [s.op.fn for s in walk(ir.methods[0].body) if hasattr(s, "op") and hasattr(s.op, "fn")]
    assert "exp" not in fns


def test_placements_and_static_hypers():
    """bool/int hypers are static; real hypers and t are per step; reductions are per leaf."""
    from iterc.ir import Place, optimize_module, walk
    src = '''
optimizer o:
    hyper lr: real = 0.1
    hyper flag: bool = true
    hyper k: int = 2
    param x: real[...]
    oracle g = grad(x)
    step t:
        let s = lr / t
        let n = norm(g)
        if flag and n > 1:
            x <- x - s * g / n
    converges heuristic
'''
    m = optimize_module(lower_module(check_text(src, "o.iter").module)).methods[0]
    assert [h.static for h in m.hypers] == [False, True, True]
    places = {s.target.source: s.target.place for s in walk(m.body) if hasattr(s, "target") and s.target.source}
    assert places["s"] == Place.STEP and places["n"] == Place.LEAF and places["x"] == Place.ELEMENT

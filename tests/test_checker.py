"""Unit tests of the checker: the checked model, shape rules, `use` across files, reading files.

Diagnostics of single files are golden tests (tests/golden/*.test); what needs real files
on disk (`use` of a relative file, cyclic `use`, unreadable bytes) or inspects the checked
model lives here.
"""
from __future__ import annotations

import importlib.util
import statistics
import time
from pathlib import Path

import pytest

from iterc import api
from iterc.check.model import CheckedMethod
from iterc.diagnostics import render_all
from iterc.types import LEAF, ShapeError, Type, broadcast

ROOT = Path(__file__).resolve().parent.parent

ADAM = '''\
optimizer adam:
    """Adam."""
    hyper lr: real = 1e-3            where lr > 0
    hyper beta1: real in [0, 1) = 0.9
    hyper k: int = 2                 where k >= 1
    hyper amsgrad: bool = false
    param x: real[...]
    oracle g = grad(x)
    oracle h = hess_diag(x) every k
    state m: f32[...] = 0
    state v: real[...] = 0
    step t:
        m <- beta1 * m + (1 - beta1) * g
        every k:
            v <- v + h
        if amsgrad:
            x <- x - lr * m / (sqrt(max(v, prev(v))) + 1e-8)
        else:
            x <- x - lr * m / (sqrt(v) + 1e-8)
    converges heuristic
'''

SINKHORN = '''\
solver sinkhorn:
    dims n, m
    input C: real[n, m]
    input a: real[n] in simplex
    input b: real[m] in simplex
    hyper eps: real = 0.05 where eps > 0
    hyper max_iter: int = 100
    state f: real[n] = 0
    state g: real[m] = 0
    step:
        f <- eps * (log(a) - logsumexp((g[None, :] - C) / eps, axis=1))
        g <- eps * (log(b) - logsumexp((f[:, None] - C) / eps, axis=0))
    let P = exp((f[:, None] + g[None, :] - C) / eps)
    let moved = norm(f - prev(f))
    until norm1(sum(P, axis=1) - a) <= 1e-6
    output P, f, g, moved
'''


def checked(text: str, path: str = "main.iter") -> CheckedMethod:
    result = api.check_text(text, path)
    assert result.ok, render_all(result.diagnostics)
    assert result.diagnostics == [], render_all(result.diagnostics)
    return result.module.method()


def codes(result) -> list[str]:
    return [d.code for d in result.diagnostics]


# ---------------------------------------------------------------- the checked model

def test_optimizer_model_has_its_members_with_types():
    m = checked(ADAM)
    assert (m.kind, m.name, m.doc, m.counter) == ("optimizer", "adam", "Adam.", "t")
    assert [h.symbol.name for h in m.hypers] == ["lr", "beta1", "k", "amsgrad"]
    assert [str(h.symbol.type) for h in m.hypers] == ["real", "real", "int", "bool"]
    assert all(h.symbol.static for h in m.hypers)
    assert m.hypers[1].interval is not None and m.hypers[1].interval.lo_closed and not m.hypers[1].interval.hi_closed
    assert [c.span.text for c in m.hypers[0].conditions] == ["lr > 0"]
    assert [(p.name, p.type) for p in m.params] == [("x", Type("real", LEAF))]
    assert [(o.name, o.type, o.decl.kind.name) for o in m.oracles] == [
        ("g", Type("real", LEAF), "grad"), ("h", Type("real", LEAF), "hess_diag")]
    assert m.oracles[1].decl.every.span.text == "k"
    assert [(s.name, str(s.type), s.storage) for s in m.states] == [("m", "real[...]", "f32"), ("v", "real[...]", "real")]
    assert m.prev_used == {"v"}
    assert m.inputs == [] and m.outputs == [] and m.until is None
    assert set(m.symbols) >= {"lr", "beta1", "k", "amsgrad", "x", "g", "h", "m", "v"}


def test_solver_model_has_dims_inputs_lets_and_outputs():
    m = checked(SINKHORN)
    assert m.kind == "solver"
    assert [d.name for d in m.dims] == ["n", "m"]
    assert [(i.name, str(i.type)) for i in m.inputs] == [("C", "real[n, m]"), ("a", "real[n]"), ("b", "real[m]")]
    assert [(s.name, str(s.type)) for s in m.states] == [("f", "real[n]"), ("g", "real[m]")]
    assert [let.name.name for let in m.lets] == ["P", "moved"]
    assert [o.name for o in m.outputs] == ["P", "f", "g", "moved"]
    assert str(m.symbols["P"].type) == "real[n, m]"
    assert m.until is not None and m.until.max_iter is None
    assert m.max_iter is not None and m.max_iter.id == "max_iter"      # the `max_iter` hyper caps the loop
    assert m.prev_used == {"f"}                                     # prev in a post-step let


def test_expression_types_are_recorded():
    m = checked(SINKHORN)
    P = m.lets[0].value                                  # exp((f[:, None] + g[None, :] - C) / eps)
    assert str(m.typing.type_of(P)) == "real[n, m]"
    inner = P.args[0].left.left                          # f[:, None] + g[None, :]
    assert str(m.typing.type_of(inner.left)) == "real[n, 1]"
    assert str(m.typing.type_of(inner.right)) == "real[1, m]"
    assert str(m.typing.type_of(inner)) == "real[n, m]"
    assert m.typing.symbols[id(inner.left.value)].kind == "state"


def test_static_expressions_are_marked():
    m = checked(ADAM)
    every_period = m.oracles[1].decl.every
    assert m.typing.static >= {id(every_period)}
    update = m.step.body[0].value                        # beta1 * m + (1 - beta1) * g
    assert id(update) not in m.typing.static
    assert id(update.left.left) in m.typing.static       # beta1


def test_step_counter_gets_a_fresh_name_when_not_named():
    m = checked("optimizer o:\n    hyper t: real = 1\n    param x: real[...]\n    oracle g = grad(x)\n"
                "    step:\n        x <- x - t * g\n")
    assert m.counter not in m.symbols and m.counter != "t"


def test_several_methods_in_one_file():
    result = api.check_text(ADAM + "\n" + SINKHORN, "main.iter")
    assert result.ok
    assert [m.name for m in result.module.methods] == ["adam", "sinkhorn"]
    with pytest.raises(ValueError, match="defines 2 methods"):
        result.module.method()
    assert result.module.method("sinkhorn").kind == "solver"


def test_a_file_with_errors_has_no_model():
    result = api.check_text(ADAM.replace("lr * m", "lrr * m"), "main.iter")
    assert not result.ok and result.module is None
    assert codes(result) == ["E0101", "E0101"]


# ---------------------------------------------------------------- broadcasting with symbolic dims

@pytest.mark.parametrize("a, b, want", [
    ((), ("n",), ("n",)),
    (("n",), (), ("n",)),
    (("n", 1), ("m",), ("n", "m")),
    ((1, "m"), ("n", 1), ("n", "m")),
    (("n", "m"), ("m",), ("n", "m")),
    ((3, 4), (4,), (3, 4)),
    (LEAF, LEAF, LEAF),
    (LEAF, (), LEAF),
    ((), LEAF, LEAF),
])
def test_broadcast_accepts(a, b, want):
    assert broadcast(a, b) == want


@pytest.mark.parametrize("a, b", [
    (("n",), ("m",)),               # symbols are compared by name: n and m may differ
    (("n", "m"), ("m", "n")),
    ((3,), (4,)),
    (("n",), (3,)),                 # a symbol is not known to equal a number
    (LEAF, ("n",)),                 # the leaf shape has no fixed rank
    ((2, 3), LEAF),
])
def test_broadcast_rejects(a, b):
    with pytest.raises(ShapeError):
        broadcast(a, b)


def test_shape_error_shows_both_shapes():
    src = ("solver s:\n    dims n, m\n    input a: real[n]\n    input b: real[m]\n    state v: real[n] = 0\n"
           "    step:\n        v <- a + b\n    until true max 1\n    output v\n")
    result = api.check_text(src, "main.iter")
    [d] = result.diagnostics
    assert d.code == "E0201" and "[n]" in d.message and "[m]" in d.message
    assert [n.message for n in d.notes] == ["`a` has type real[n]", "`b` has type real[m]"]


# ---------------------------------------------------------------- `use` across files

HELPERS = '''\
def sq(v) = v * v

def clipped(v, c):
    let lo = -c
    return clip(v, lo, c)
'''

USER = '''\
{use}

optimizer o:
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - {call}
'''


@pytest.mark.parametrize("use, call", [
    ('use "helpers.iter"', "clipped(sq(g), 1.0)"),
    ("use helpers", "sq(g)"),
    ('use "helpers.iter" as h', "h.clipped(h.sq(g), 1.0)"),
])
def test_use_of_a_relative_file(tmp_path, use, call):
    (tmp_path / "helpers.iter").write_text(HELPERS)
    main = tmp_path / "main.iter"
    main.write_text(USER.format(use=use, call=call))
    result = api.check_file(main)
    assert result.ok and result.diagnostics == [], render_all(result.diagnostics)
    step = result.module.method().step.body[0]
    assert str(result.module.method().typing.type_of(step.value)) == "real[...]"


def test_use_of_a_file_in_a_subfolder(tmp_path):
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "helpers.iter").write_text(HELPERS)
    main = tmp_path / "main.iter"
    main.write_text(USER.format(use="use lib.helpers", call="sq(g)"))
    result = api.check_file(main)
    assert result.ok, render_all(result.diagnostics)


def test_use_of_a_stdlib_module():
    assert (ROOT / "stdlib" / "optim" / "adam.iter").is_file()
    for use in ("use optim.adam", "use adam", "use optim.sgd as sgd"):
        result = api.check_text(USER.format(use=use, call="g"), "main.iter")
        assert result.ok and result.diagnostics == [], (use, render_all(result.diagnostics))


def test_use_of_a_stdlib_module_from_a_file(tmp_path):
    main = tmp_path / "main.iter"
    main.write_text(USER.format(use="use optim.adamw", call="g"))
    assert api.check_file(main).ok


def test_unknown_def_of_an_aliased_module(tmp_path):
    (tmp_path / "helpers.iter").write_text(HELPERS)
    main = tmp_path / "main.iter"
    main.write_text(USER.format(use='use "helpers.iter" as h', call="h.sqr(g)"))
    result = api.check_file(main)
    [d] = result.diagnostics
    assert (d.code, d.message, d.hint) == ("E0116", "module `h` has no def `sqr`", "did you mean `sq`?")


def test_missing_relative_file(tmp_path):
    (tmp_path / "helpers.iter").write_text(HELPERS)
    main = tmp_path / "main.iter"
    main.write_text(USER.format(use='use "helper.iter"', call="g"))
    [d] = api.check_file(main).diagnostics
    assert d.code == "E0105" and d.hint == "did you mean `helpers.iter`?"


def test_error_in_a_used_file_points_into_that_file(tmp_path):
    (tmp_path / "helpers.iter").write_text("def sq(v) = v *\n")
    main = tmp_path / "main.iter"
    main.write_text(USER.format(use='use "helpers.iter"', call="g"))
    result = api.check_file(main)
    assert not result.ok
    d = result.diagnostics[0]
    assert d.code == "E0003" and d.span.source.path.endswith("helpers.iter")
    assert "helpers.iter:1:" in render_all(result.diagnostics)


def test_cyclic_use(tmp_path):
    (tmp_path / "a.iter").write_text('use "b.iter"\n\ndef fa(v) = v + 1\n')
    (tmp_path / "b.iter").write_text('use "a.iter"\n\ndef fb(v) = v * 2\n')
    result = api.check_file(tmp_path / "a.iter")
    assert codes(result) == ["E0106"]
    [d] = result.diagnostics
    assert d.message == "cyclic `use`: a.iter -> b.iter -> a.iter"
    assert d.span.source.path.endswith("b.iter") and d.span.text == 'use "a.iter"'
    out = render_all(result.diagnostics)
    assert "b.iter:1:1" in out and "= hint:" in out


def test_cyclic_use_through_a_method_file(tmp_path):
    (tmp_path / "a.iter").write_text('use b\n\ndef fa(v) = fb(v) + 1\n')
    (tmp_path / "b.iter").write_text('use c\n\ndef fb(v) = v * 2\n')
    (tmp_path / "c.iter").write_text('use a\n\ndef fc(v) = v\n')
    main = tmp_path / "main.iter"
    main.write_text(USER.format(use="use a", call="fa(g)"))
    result = api.check_file(main)
    assert codes(result) == ["E0106"]
    assert result.diagnostics[0].message == "cyclic `use`: a.iter -> b.iter -> c.iter -> a.iter"


def test_self_use(tmp_path):
    main = tmp_path / "main.iter"
    main.write_text(USER.format(use='use "main.iter"', call="g"))
    [d] = api.check_file(main).diagnostics
    assert (d.code, d.message) == ("E0106", "cyclic `use`: main.iter -> main.iter")


# ---------------------------------------------------------------- reading files

def test_invalid_utf8_is_a_located_diagnostic(tmp_path):
    p = tmp_path / "bad.iter"
    p.write_bytes(b"optimizer o:\n    param x: real[...] # caf\xe9\n")
    [d] = api.check_file(p).diagnostics
    assert d.code == "E0001" and "0xe9" in d.message
    assert "bad.iter:2:" in render_all([d])


def test_lone_surrogate_in_text_is_invalid_utf8():
    [d] = api.check_text("optimizer o\udc80:\n", "main.iter").diagnostics
    assert d.code == "E0001"


def test_missing_file_and_directory(tmp_path):
    [d] = api.check_file(tmp_path / "nope.iter").diagnostics
    assert d.code == "E0008" and "no such file" in d.message
    [d] = api.check_file(tmp_path).diagnostics
    assert d.code == "E0008" and "directory" in d.message


def test_crlf_and_bom_are_accepted(tmp_path):
    p = tmp_path / "win.iter"
    p.write_bytes(b"\xef\xbb\xbf" + ADAM.replace("\n", "\r\n").encode())
    result = api.check_file(p)
    assert result.ok and result.diagnostics == []


def test_diagnostics_come_out_in_source_order():
    src = ADAM.replace("hyper lr: real = 1e-3", "hyper lr: real = -1").replace("sqrt(v)", "sqrtt(v)")
    result = api.check_text(src, "main.iter")
    starts = [d.span.start for d in result.diagnostics]
    assert starts == sorted(starts) and codes(result) == ["E0214", "E0116"]


# ---------------------------------------------------------------- speed (measured, not asserted)

def _bench():
    spec = importlib.util.spec_from_file_location("check_inprocess", ROOT / "bench" / "check_inprocess.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_checking_a_300_line_file_in_process():
    bench = _bench()
    src = bench.program(300)
    assert src.count("\n") == 300
    result = api.check_text(src, "bench.iter")
    assert result.ok and result.diagnostics == [], render_all(result.diagnostics)
    assert len(result.module.methods) >= 8
    times = []
    for _ in range(15):
        start = time.perf_counter()
        api.check_text(src, "bench.iter")
        times.append(time.perf_counter() - start)
    print(f"\n300-line file: in-process check_text median {statistics.median(times) * 1000:.2f} ms "
          f"(min {min(times) * 1000:.2f} ms); see bench/check_inprocess.py")


# ---------------------------------------------------------------- hints that work when followed

RANKED_STATE_UNDER_LEAF = '''\
optimizer o:
    param x: real[...]
    oracle g = grad(x)
    state v: real[n] = 0
    step:
        v <- 0.9 * v + g
        x <- x - v
'''


@pytest.mark.parametrize("fix", [("param x: real[...]", "param x: real[n]"),
                                 ("state v: real[n]", "state v: real[...]")])
def test_ranked_state_hint_when_followed_checks_clean(fix):
    result = api.check_text(RANKED_STATE_UNDER_LEAF)
    assert [d.code for d in result.diagnostics] == ["E0112"]
    hint = result.diagnostics[0].hint
    assert "`dims" not in hint and fix[1].split(": ")[1] + "`" in hint
    fixed = api.check_text(RANKED_STATE_UNDER_LEAF.replace(*fix))
    assert fixed.ok and not fixed.diagnostics, render_all(fixed.diagnostics)


def test_step_let_hint_when_followed_checks_clean():
    src = ("solver halve:\n    hyper tol: real = 1e-6\n    state x: real = 1\n    step:\n"
           "        let d = x / 2\n        x <- x - d\n    until d <= tol max 100\n    output x\n")
    result = api.check_text(src)
    assert [d.code for d in result.diagnostics] == ["E0101"]
    assert "solver-level `let`" in result.diagnostics[0].hint
    fixed = api.check_text(src.replace("    until", "    let d = x - prev(x)\n    until").replace(
        "d <= tol", "abs(d) <= tol"))
    assert fixed.ok, render_all(fixed.diagnostics)


def test_def_reading_a_hyper_is_one_error_and_no_warning():
    src = ("def scaled(v) = lr * v\n\noptimizer o:\n    hyper lr: real = 0.1\n    param x: real[...]\n"
           "    oracle g = grad(x)\n    step:\n        x <- x - scaled(g)\n")
    result = api.check_text(src)
    assert [d.code for d in result.diagnostics] == ["E0101"]
    fixed = api.check_text(src.replace("scaled(v) = lr * v", "scaled(v, lr) = lr * v").replace(
        "scaled(g)", "scaled(g, lr)"))
    assert fixed.ok and not fixed.diagnostics, render_all(fixed.diagnostics)
    # a hyper that no def reads and nothing else reads is still reported
    unused = api.check_text(src.replace("    param", "    hyper beta: real = 0.9\n    param"))
    assert [d.code for d in unused.diagnostics] == ["E0101", "W0002"]
    assert "`beta`" in unused.diagnostics[1].message


def test_checking_restores_the_garbage_collector_setting(monkeypatch):
    """check_source pauses the cyclic GC while it builds the tree (a speed-up), and only then."""
    import gc

    import iterc.syntax.parser as parser

    assert gc.isenabled()
    api.check_text(RANKED_STATE_UNDER_LEAF)
    assert gc.isenabled()
    gc.disable()
    try:
        api.check_text(RANKED_STATE_UNDER_LEAF)
        assert not gc.isenabled()                    # the caller's choice is kept
    finally:
        gc.enable()

    def boom(source):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(parser, "parse_source", boom)
    with pytest.raises(RuntimeError):
        api.check_text(RANKED_STATE_UNDER_LEAF)
    assert gc.isenabled()                            # also after an exception

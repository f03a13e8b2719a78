"""Fixes that diagnostics carry as data (editors offer them as code actions): applying a
diagnostic's fix must give a program without that diagnostic."""
from __future__ import annotations

import pytest

from iterc.api import check_text
from iterc.check import CheckTrace
from iterc.syntax.source import Source


def apply_fix(text: str, fix) -> str:
    for edit in sorted(fix.edits, key=lambda e: e.span.start, reverse=True):
        text = text[:edit.span.start] + edit.text + text[edit.span.end:]
    return text


HEAD = "optimizer o:\n    hyper lr: real = 0.1 where lr > 0\n"

CASES = {
    "undefined name": (HEAD + "    param x: real[...]\n    oracle g = grad(x)\n    step:\n"
                       "        x <- x - lrr * g\n", "E0101", "replace `lrr` with `lr`"),
    "unknown function": (HEAD + "    param x: real[...]\n    oracle g = grad(x)\n    step:\n"
                         "        x <- x - lr * sqr(g)\n", "E0116", "replace `sqr` with `sqrt`"),
    "unknown domain": (HEAD + "    param x: real[n] in simplx\n    oracle g = grad(x)\n    step:\n"
                       "        x <- x - lr * g\n", "E0108", "replace `simplx` with `simplex`"),
    "unknown type": (HEAD + "    param x: reel[...]\n    oracle g = grad(x)\n    step:\n"
                     "        x <- x - lr * g\n", "E0107", "replace `reel` with `real`"),
    "axis": (HEAD + "    param W: real[m, n]\n    oracle g = grad(W)\n    state r: real[m] = 0\n    step:\n"
             "        r <- norm(g, axis=1)\n        W <- W - lr * g / r\n", "E0201",
             "insert an axis: `r[:, None]`"),
    "transpose": (HEAD + "    param W: real[m, n]\n    oracle g = grad(W)\n    state P: real[n, m] = 0\n"
                  "    step:\n        P <- 0.5 * P + g\n        W <- W - lr * P.T\n", "E0201", "transpose `g`"),
    "where condition": (HEAD + "    hyper k: int = 5\n    param x: real[...]\n    oracle g = grad(x)\n"
                        "    step:\n        every k:\n            x <- x - lr * g\n", "W0007",
                        "add `where k >= 1` to `hyper k`"),
    "where condition, more": ("optimizer o:\n    hyper k: int = 5 where 1 > 0\n    param x: real[...]\n"
                              "    oracle g = grad(x)\n    step:\n        every k:\n            x <- x - g\n",
                              "W0007", "add `where k >= 1` to `hyper k`"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_fix_removes_its_diagnostic(name):
    text, code, title = CASES[name]
    diags = check_text(text, "main.iter").diagnostics
    found = [d for d in diags if d.code == code]
    assert found and found[0].fix is not None, [(d.code, d.message, d.fix) for d in diags]
    assert found[0].fix.title == title
    fixed = apply_fix(text, found[0].fix)
    after = check_text(fixed, "main.iter").diagnostics
    assert not [d for d in after if d.code == code], (fixed, [(d.code, d.message) for d in after])


def test_no_fix_without_a_sure_change():
    text = HEAD + "    param x: real[...]\n    oracle g = grad(x)\n    step:\n        x <- x - zzz * g\n"
    (d,) = [d for d in check_text(text, "main.iter").diagnostics if d.code == "E0101"]
    assert d.fix is None


def test_guarded_period_is_quiet():
    for cond in ("where k >= 1", "in [1, 10]", "where k > 0"):
        text = (f"optimizer o:\n    hyper k: int = 5 {cond}\n    param x: real[...]\n    oracle g = grad(x)\n"
                "    step:\n        every k:\n            x <- x - g\n")
        assert not [d for d in check_text(text, "main.iter").diagnostics if d.code == "W0007"], cond


def test_trace_keeps_types_of_a_file_with_errors():
    from iterc.api import check_source
    text = HEAD + "    param x: real[...]\n    oracle g = grad(x)\n    step:\n        let s = lr * g\n" \
                  "        x <- x - s * nosuch\n"
    trace = CheckTrace()
    result = check_source(Source("main.iter", text), trace)
    assert not result.ok and result.module is None
    (m,) = trace.methods
    assert str(m.symbols["lr"].type) == "real" and str(m.symbols["x"].type) == "real[...]"
    assert [str(s.type) for s in m.locals] == ["real[...]"]
    assert any(str(t) == "real[...]" for t in m.typing.types.values())

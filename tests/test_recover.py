"""Several syntax errors in one file are all reported, each once, and nothing else is."""
import re
from pathlib import Path

from iterc.api import check_text

ROOT = Path(__file__).resolve().parent.parent


def test_one_mistake_repeated_in_every_method_is_reported_everywhere():
    # three stdlib files, pinned: the whole library would pass the cap on reported errors
    texts = [(ROOT / "stdlib" / "optim" / f"{name}.iter").read_text() for name in ("adam", "adamw", "sgd")]
    names = []
    src = ""
    for i, text in enumerate(texts * 2):                 # six methods, multi-line docstrings included
        name = text.split("optimizer ")[1].split(":")[0]
        names.append(f"{name}_{i}")
        src += text.replace(f"optimizer {name}:", f"optimizer {name}_{i}:") + "\n"
    broken = src.replace("x <- x - lr", "x = x - lr").replace("x <- x - step_size", "x = x - step_size")
    result = check_text(broken, "many.iter")
    lines = broken.split("\n")
    error_lines = [d.span.source.line_col(d.span.start)[0] for d in result.errors]
    assert len(error_lines) == len(set(error_lines))
    assert all(" = x - " in lines[n - 1] for n in error_lines), [lines[n - 1] for n in error_lines]
    expected = {i + 1 for i, line in enumerate(lines) if " = x - " in line}
    # every method reports its mistake; within one member only the first one is reported
    per_method = {}
    for n in expected:
        owner = max(i for i, line in enumerate(lines[:n]) if line.startswith("optimizer "))
        per_method.setdefault(owner, []).append(n)
    assert {min(v) for v in per_method.values()} <= set(error_lines)
    assert all(d.code == "E0003" for d in result.errors)


def test_no_cascade_from_an_unclosed_bracket():
    src = '''optimizer a:
    hyper beta: real = (0.9
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - beta * g
    converges heuristic
'''
    result = check_text(src, "main.iter")
    assert [d.code for d in result.diagnostics] == ["E0003"]
    assert "unclosed `(`" in result.errors[0].message

"""The hand-written records (iterc/_records.py) behave like the frozen dataclasses they replaced."""
from __future__ import annotations

import dataclasses
import pickle
import subprocess
import sys
from pathlib import Path

from iterc.diagnostics import Diagnostic, Note, Severity, error
from iterc.syntax import ast
from iterc.syntax.parser import parse_text
from iterc.syntax.source import Source, Span
from iterc.types import Type

ROOT = Path(__file__).resolve().parent.parent
SRC = Source("main.iter", "x + 1\n")


def sp(a: int, b: int) -> Span:
    return Span(SRC, a, b)


def test_equality_and_hashing_by_value():
    a = ast.Binary("+", ast.Name("x", sp(0, 1)), ast.Num(1, True, sp(4, 5)), sp(2, 3), sp(0, 5))
    b = ast.Binary("+", ast.Name("x", sp(0, 1)), ast.Num(1, True, sp(4, 5)), sp(2, 3), sp(0, 5))
    assert a == b and hash(a) == hash(b) and not (a != b)
    assert a != dataclasses.replace(a, op="-")
    assert ast.Name("x", sp(0, 1)) != ast.Ident("x", sp(0, 1))          # same fields, other class
    assert Span(Source("main.iter", SRC.text), 0, 1) != sp(0, 1)         # sources compare by identity
    assert Type("real", ("n",)) == Type("real", ("n",)) and {Type("int"): 1}[Type("int")] == 1
    assert Note("n") == Note("n", None)


def test_repr_is_the_dataclass_repr():
    assert repr(ast.Name("x", sp(0, 1))) == "Name(id='x', span=<main.iter:1:1>)"
    assert repr(Type("real")) == "Type(elem='real', shape=())"


def test_dataclasses_functions_work():
    node = ast.Call(ast.Name("f", sp(0, 1)), (), (), sp(0, 3))
    assert dataclasses.is_dataclass(node) and dataclasses.is_dataclass(ast.Call)
    assert not dataclasses.is_dataclass(ast.Node)
    assert [f.name for f in dataclasses.fields(ast.Call)] == ["func", "args", "kwargs", "span"]
    assert [f.name for f in dataclasses.fields(node)] == ["func", "args", "kwargs", "span"]
    assert dataclasses.replace(node, args=(node.func,)).args == (node.func,)
    assert dataclasses.asdict(ast.Num(2.5, False, sp(0, 1)))["value"] == 2.5
    d = error("E0101", "undefined name `x`", sp(0, 1), hint="h")
    moved = dataclasses.replace(d, span=sp(4, 5), notes=(Note("n", sp(0, 1)),))
    assert (moved.code, moved.severity, moved.span, moved.hint, moved.notes[0].message) == \
        ("E0101", Severity.ERROR, sp(4, 5), "h", "n")
    assert isinstance(moved, Diagnostic)


def test_match_args():
    match ast.Binary("+", ast.Name("x", sp(0, 1)), ast.Num(1, True, sp(4, 5)), sp(2, 3), sp(0, 5)):
        case ast.Binary("+", ast.Name(name), ast.Num(value)):
            assert (name, value) == ("x", 1)
        case _:
            raise AssertionError("no match")


def test_a_parsed_module_pickles_and_compares():
    module, diags = parse_text("optimizer o:\n    param x: real[...]\n    oracle g = grad(x)\n    step:\n"
                               "        x <- x - 0.1 * g\n")
    assert not diags
    again = pickle.loads(pickle.dumps(module))
    assert repr(again) == repr(module)


def test_check_imports_neither_dataclasses_nor_lark():
    """A cold `iterc check` of a valid file stays light (see docs/performance.md)."""
    probe = ("import sys\nfrom iterc.cli import main\n"
             "try:\n    main(['check', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
             "print('LOADED=' + ','.join(sorted({'dataclasses', 'lark', 'json', 'difflib', 'numpy'} & set(sys.modules))))\n")
    proc = subprocess.run([sys.executable, "-c", probe, str(ROOT / "stdlib" / "optim" / "adamw.iter")],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "LOADED=\n" in proc.stdout, proc.stdout

"""The fast parser and the lark grammar agree: same AST (spans included) wherever the fast
path accepts a program, and the fast path accepts every valid corpus program.

grammar/iter.lark is the specification; iterc/syntax/fastparse.py is an optimisation of it.
"""
import dataclasses
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iterc.syntax.fastparse import fast_parse
from iterc.syntax.parser import parse_source_lark
from iterc.syntax.source import Source

ROOT = Path(__file__).resolve().parent.parent
CORPUS = sorted((ROOT / "stdlib").rglob("*.iter")) + sorted((ROOT / "examples").glob("*.iter"))
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"


def _golden_sources() -> list[str]:
    out = []
    for f in sorted(GOLDEN_DIR.glob("*.test")):
        for case in re.split(r"^\[case [^\]]*\]\n", f.read_text(), flags=re.M)[1:]:
            out.append(case.split("[out]")[0])
    return out


SAMPLES = [p.read_text() for p in CORPUS] + _golden_sources()


def ast_diff(a, b, path="module"):
    """The first difference between two ASTs, spans compared by offsets, or None."""
    if type(a) is not type(b):
        return f"{path}: {type(a).__name__} vs {type(b).__name__}"
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            if f.name == "span" or (f.name.endswith("span") and x is not None):
                if (x.start, x.end) != (y.start, y.end):
                    return f"{path}.{f.name}: {x.start}-{x.end} vs {y.start}-{y.end}"
                continue
            d = ast_diff(x, y, f"{path}.{f.name}")
            if d:
                return d
        return None
    if isinstance(a, (tuple, list)):
        if len(a) != len(b):
            return f"{path}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b)):
            d = ast_diff(x, y, f"{path}[{i}]")
            if d:
                return d
        return None
    if a != b and not (a != a and b != b):
        return f"{path}: {a!r} vs {b!r}"
    return None


def _both(text: str):
    src = Source("main.iter", text)
    return fast_parse(src), parse_source_lark(src)[0]


def test_fast_path_accepts_every_valid_corpus_program():
    for path in CORPUS:
        fast, slow = _both(path.read_text())
        assert slow is not None, path
        assert fast is not None, f"fast parser declined {path}"
        assert ast_diff(fast, slow) is None, (path, ast_diff(fast, slow))


def test_agreement_on_golden_programs():
    declined = 0
    for text in SAMPLES:
        fast, slow = _both(text)
        if fast is None:
            declined += slow is not None
            continue
        assert slow is not None, f"fast parser accepted a program lark rejects:\n{text}"
        assert ast_diff(fast, slow) is None, (ast_diff(fast, slow), text)
    assert declined <= len(SAMPLES) // 10, f"fast path declined {declined} valid programs"


_TOKEN = re.compile(r'"""[\s\S]*?"""|"[^"\n]*"|\d+\.\d+|\w+|<-|<=|>=|==|!=|\.\.|\n[ ]*|\S')


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SAMPLES))
    tokens = _TOKEN.findall(text)
    for _ in range(draw(st.integers(1, 3))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "replace"]))
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i])
        elif op == "swap" and i + 1 < len(tokens):
            tokens[i], tokens[i + 1] = tokens[i + 1], tokens[i]
        elif op == "replace":
            tokens[i] = draw(st.sampled_from(["(", ")", "[", "]", ":", ",", "<-", "=", "..", "x", "1", "1.5",
                                              "not", "and", "max", "in", "every", "shared", "eval", "\n", "\n    ", "^", "-", "None",
                                              "rule", "for", "otherwise", "as", "matrix"]))
    joined = ""
    for tok in tokens:
        sep = "" if tok.startswith("\n") or joined.endswith("\n") or joined.endswith(" ") or not joined else " "
        joined += sep + tok
    return joined


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_agreement_on_mutated_programs(text):
    fast, slow = _both(text)
    if fast is None:
        return
    assert slow is not None, f"fast parser accepted a program lark rejects:\n{text}"
    assert ast_diff(fast, slow) is None, (ast_diff(fast, slow), text)


def _chain(n: int) -> str:
    return ("optimizer o:\n    param x: real[...]\n    oracle g = grad(x)\n    step:\n"
            f"        x <- {' + '.join(['x'] * n)}\n    converges heuristic\n")


def test_depth_limit_is_the_same_on_both_paths():
    from iterc.api import check_text
    from iterc.syntax.fastparse import fast_parse_or_error
    for n, too_deep in [(150, False), (199, False), (260, True), (5000, True)]:
        src = Source("main.iter", _chain(n))
        codes = [d.code for d in check_text(_chain(n), "main.iter").errors]
        assert codes == (["E0007"] if too_deep else []), (n, codes)
        lark_codes = [d.code for d in parse_source_lark(src, recover=False)[1]]
        assert lark_codes == (["E0007"] if too_deep else []), (n, lark_codes)
        module, diag = fast_parse_or_error(src)
        if diag is not None:                 # the fast path decides only when it is sure
            assert too_deep and diag.code == "E0007"


def test_eval_view_parses_the_same_on_both_paths():
    text = ("optimizer o:\n    param y: real[...]\n    oracle g = grad(y)\n    state z: real[...] = y\n"
            "    step:\n        z <- z - 0.1 * g\n        y <- 0.5 * (y + z)\n"
            "    eval y = (y - 0.5 * z) / (1 - 0.5)  # the average\n    converges heuristic\n")
    fast, slow = _both(text)
    assert fast is not None and slow is not None
    assert ast_diff(fast, slow) is None, ast_diff(fast, slow)
    ev = fast.methods[0].members[-2]
    assert type(ev).__name__ == "Eval" and ev.name.name == "y" and ev.span.text.startswith("eval y = (y")
    # `eval` stays a contextual keyword: usable where a name is expected in an expression
    fast, slow = _both(text.replace("0.1 * g", "0.1 * g * eval"))
    assert ast_diff(fast, slow) is None

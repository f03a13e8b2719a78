"""`iterc fmt`: canonical layout that never changes what a program means.

Properties, over every `.iter` file in the repository, every source in the golden tests,
the samples below and generated expressions:
- the output parses to the same AST as the input (positions aside) and keeps every comment;
- formatting is idempotent: fmt(fmt(x)) == fmt(x).
Then the style itself, one rule per test.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from iterc.fmt import format_source
from programs import MINIMAL_OPTIMIZER
from iterc.fmt.same import first_difference
from iterc.syntax.parser import parse_text

ROOT = Path(__file__).resolve().parent.parent


def fmt(text: str) -> str:
    out, diags = format_source(text)
    assert out is not None, [d.message for d in diags]
    return out


def assert_same_meaning(before: str, after: str) -> None:
    a, da = parse_text(before)
    b, db = parse_text(after)
    assert a is not None and b is not None, ([d.message for d in da], [d.message for d in db], after)
    difference = first_difference(a, b)
    assert difference is None, f"{difference}\n--- formatted:\n{after}"


def assert_canonical(text: str) -> str:
    once = fmt(text)
    assert_same_meaning(text, once)
    assert fmt(once) == once, "not idempotent"
    return once


# ---------------------------------------------------------------- corpus

SAMPLES = {
    "minimal": MINIMAL_OPTIMIZER,
    "everything": '''\
# header comment
use prox   # trailing use
use   foo.bar as baz
use "local.iter"
def sq(a)=a^2
def h(a, b):
    """Helper.
       indented more
    """
    let c = (a+b)
    # before return
    return (c*2)
# about sophia
optimizer sophia:   # hdr
    """Sophia-G: clipped diagonal second-order steps.
    Liu, Li, Hall, Liang, Ma. arXiv:2305.14342."""

    hyper lr: real = 1e-4            where lr > 0
    hyper beta1: real = 0.965        where 0 <= beta1 < 1, beta1 != 0.5
    hyper k: int = 10                where k >= 1
    hyper w : real in [0 , 1] = 0.5
    hyper flag: bool = not true or (false and true)


    param x: real[...]               # any shape; one leaf of the parameter tree
    oracle g = grad( x )
    oracle h = hess_diag(x) every k  # supplied by the caller only on those steps
    oracle z = rand_normal()

    state m: real[...] = 0
    state hbar: f32[...] = 0
    step t:                          # t counts steps from 1

        m <- beta1*m + (1-beta1)*g
        every k:
            hbar <- beta2 * hbar + (1 - beta2) * h
            # end of every
        # after every
        x <- x * (1 - lr * weight_decay)
        x <- x - lr * clip(m / max(rho * hbar, eps), -1, 1)
        if t>1:
            x <- -(x^2)
        else:
            if t < 0:
                x <- (-x)^2
            else:  # else comment
                x <- x[:,None] @ f(a, axis = 1 , b)
        for i in 1..K:
            repeat:
                x <- x
            until x < 1 max 10 # until comment
    converges heuristic              # no guarantee
# trailer

solver sinkhorn:
    dims n, m
    input a: real[n] in simplex
    input C: real[n, m] in box(0, (1))
    state f: real[n] = 0
    step:
        f <- eps * (log(a) - logsumexp((g[None, :] - C) / eps, axis=1))
    let P = exp((f[:, None] + g[None, :] - C) / eps)
    until norm1(sum(P, axis=1) - a) <= tol
    output P, f, g
    converges linear by cite "Franklin & Lorenz 1989"
optimizer prox_grad_l1:
    assume loss: convex, smooth(L), strongly_convex(mu=1)
    hyper L: real                    where L > 0      # no default: the caller must give it
    hyper lr: real = 1 / L           where 0 < lr <= 1 / L
    param x: real[...] in ball(r=2)
    oracle g = grad(x)
    step:
        x <- prox(lr * lam * norm1)(x - lr * g)
    converges rate O(1/t) on loss + lam * norm1 by cite """Beck &
      Teboulle 2009"""
''',
    "continuations_and_brackets": '''\
optimizer wrapped:
    hyper lr: real = \\
        0.01
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- f(x,   # first argument
               # the rate
               lr,
               g)   # last
        x <- (x
              + 1)
    converges heuristic
''',
    "elif_chain": '''\
optimizer e:
    param x: real[...]
    oracle g = grad(x)
    step t:
        if t == 1:
            x <- x
        elif t == 2:
            x <- x + 1
        elif t == 3:
            x <- x + 2
        else:
            x <- x + 3
    converges to fixed_point
''',
    "comments_only": "# just a comment\n\n   # an indented one\n",
    "empty": "",
    "blank_lines_everywhere": '''\


optimizer a:

    param x: real[...]


    oracle g = grad(x)
    step:

        x <- x - g



    converges sublinear



''',
    "docstring_quotes": '''\
optimizer q:
    """A "quoted" word.

        An indented paragraph line.
    Last line ends with a "quote" """
    param x: real[...]
    oracle g = grad(x)
    step:
        x <- x - g
    converges heuristic
''',
}


def _golden_sources() -> list[tuple[str, str]]:
    found = []
    for path in sorted((ROOT / "tests" / "golden").glob("*.test")):
        for m in re.finditer(r"^\[case ([A-Za-z0-9_]+)\]\n(.*?)^\[out\]", path.read_text(encoding="utf-8"),
                             re.S | re.M):
            found.append((f"{path.name}::{m.group(1)}", m.group(2)))
    return found


def _doc_sources() -> list[tuple[str, str]]:
    found = []
    for path in sorted([ROOT / "README.md", *(ROOT / "docs").glob("*.md")]):
        if path.is_file():
            blocks = re.findall(r"^```iter\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M)
            found += [(f"{path.name}::{i}", block) for i, block in enumerate(blocks)]
    return found


def _corpus() -> list[tuple[str, str]]:
    items = [(f"sample::{name}", text) for name, text in SAMPLES.items()]
    for folder in ("stdlib", "examples", "tests"):
        for path in sorted((ROOT / folder).rglob("*.iter")):
            items.append((str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")))
    items += _golden_sources() + _doc_sources()
    return items


CORPUS = _corpus()


@pytest.mark.parametrize("name,text", CORPUS, ids=[n for n, _ in CORPUS])
def test_corpus_round_trips(name, text):
    module, _ = parse_text(text)
    if module is None:
        out, diags = format_source(text)                 # a negative golden case
        assert out is None and diags
        return
    assert_canonical(text)


def test_the_corpus_covers_the_stdlib():
    assert any(name.startswith("stdlib/") for name, _ in CORPUS)


# ---------------------------------------------------------------- generated expressions

NAMES = st.sampled_from(["x", "y", "lr", "g", "t", "m", "max", "rate", "on", "step_size", "T"])
NUMBERS = st.sampled_from(["0", "1", "2", "10", "0.5", "1e-3", "1E+10", ".5", "2.5e-8", "007", "inf"])
ATOMS = st.one_of(NAMES, NUMBERS, st.sampled_from(["true", "false", '"s"']))
BINARY = ["+", "-", "*", "/", "@", "%", "^", "and", "or"]
COMPARE = ["<", "<=", ">", ">=", "==", "!="]


def _compound(children, parens):
    """Expressions built from `children`; `parens(text)` decides how to wrap each operand."""
    binary = st.builds(lambda l, op, r: f"{parens(l)} {op} {parens(r)}", children, st.sampled_from(BINARY), children)
    compare = st.builds(lambda a, ops, rest: " ".join([parens(a)] + [f"{o} {parens(r)}" for o, r in zip(ops, rest)]),
                        children, st.lists(st.sampled_from(COMPARE), min_size=1, max_size=2),
                        st.lists(children, min_size=2, max_size=2))
    unary = st.builds(lambda op, e: f"{op}{parens(e)}", st.sampled_from(["-", "+", "not "]), children)
    call = st.builds(lambda f, args, kw: f"{f}(" + ", ".join(args + [f"axis={k}" for k in kw]) + ")",
                     st.sampled_from(["f", "max", "sqrt"]), st.lists(children, max_size=3),
                     st.lists(children, max_size=1))
    index = st.builds(lambda v, items: f"{parens(v)}[" + ", ".join(items) + "]", children,
                      st.lists(st.one_of(children, st.just(":"), st.just("None")), min_size=1, max_size=3))
    attr = st.builds(lambda v: f"{parens(v)}.T", children)
    return st.one_of(binary, compare, unary, call, index, attr)


def _always(text: str) -> str:
    return f"({text})"


FULLY_PARENTHESIZED = st.recursive(ATOMS, lambda c: _compound(c, _always), max_leaves=12)


@st.composite
def loosely_parenthesized(draw):
    wrap = draw(st.lists(st.booleans(), min_size=64, max_size=64))
    counter = iter(range(10**6))

    def maybe(text: str) -> str:
        return f"({text})" if wrap[next(counter) % 64] else text

    return draw(st.recursive(ATOMS, lambda c: _compound(c, maybe), max_leaves=12))


def _program(expression: str) -> str:
    return (
        "optimizer o:\n"
        f"    hyper h: real = 1 where {expression}\n"
        "    param x: real[...]\n"
        "    oracle g = grad(x)\n"
        "    step t:\n"
        f"        x <- {expression}\n"
        f"        if {expression}:\n"
        f"            let y = {expression}  # why\n"
        "    converges heuristic\n"
    )


_SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(FULLY_PARENTHESIZED)
def test_generated_expressions_keep_their_meaning(expression):
    text = _program(expression)
    module, diags = parse_text(text)
    assume(module is not None)          # e.g. a string where only a number may go is still fine
    assert_canonical(text)


@_SETTINGS
@given(loosely_parenthesized())
def test_loosely_parenthesized_expressions_keep_their_meaning(expression):
    text = _program(expression)
    module, _ = parse_text(text)
    assume(module is not None)
    assert_canonical(text)


def test_fully_parenthesized_input_parses():
    # guard against the generator silently producing only unparseable programs
    module, diags = parse_text(_program("((-(x)) ^ (2)) * (f((y), axis=(1)))"))
    assert module is not None, [d.message for d in diags]


# ---------------------------------------------------------------- style

def _step(body: str) -> str:
    lines = "".join(f"        {line}\n" for line in body.split("\n"))
    return ("optimizer o:\n    param x: real[...]\n    oracle g = grad(x)\n    step t:\n"
            + lines + "    converges heuristic\n")


def _step_line(statement: str) -> str:
    return fmt(_step(statement)).split("\n")[4].strip()


@pytest.mark.parametrize("written,canonical", [
    ("x <- x-lr*g", "x <- x - lr * g"),
    ("x <- (x - (lr * g))", "x <- x - lr * g"),
    ("x <- (x - lr) * g", "x <- (x - lr) * g"),
    ("x <- a - (b - c)", "x <- a - (b - c)"),
    ("x <- (a - b) - c", "x <- a - b - c"),
    ("x <- a / (b * c)", "x <- a / (b * c)"),
    ("x <- -(x^2)", "x <- -x ^ 2"),
    ("x <- (-x)^2", "x <- (-x) ^ 2"),
    ("x <- a^(b^c)", "x <- a ^ b ^ c"),
    ("x <- (a^b)^c", "x <- (a ^ b) ^ c"),
    ("x <- 2^(-k)", "x <- 2 ^ -k"),
    ("x <- -(-x)", "x <- - -x"),
    ("x <- a * (-b)", "x <- a * -b"),
    ("x <- f(a)(b)", "x <- f(a)(b)"),
    ("x <- (f(a)).T", "x <- f(a).T"),
    ("x <- (x + 1).T", "x <- (x + 1).T"),
    ("x <- (x[0])[1]", "x <- x[0][1]"),
    ("x <- x[ : , None ]", "x <- x[:, None]"),
    ("x <- f( a , axis = 1 )", "x <- f(a, axis=1)"),
    ("x <- f(axis=1, a)", "x <- f(a, axis=1)"),
    ("x <- f(a, b,)", "x <- f(a, b)"),
    ("x <- 1e-3 + 1E+10 + .5 + 007", "x <- 1e-3 + 1E+10 + .5 + 007"),
    ("x <- not (a < b)", "x <- not a < b"),
    ("x <- (a < b) < c", "x <- (a < b) < c"),
    ("x <- a < b < c", "x <- a < b < c"),
    ("x <- (not a) and b", "x <- not a and b"),
    ("x <- not (a and b)", "x <- not (a and b)"),
    ("x <- a or (b and c)", "x <- a or (b and c)"),
    ("x <- a or b and c", "x <- a or (b and c)"),
    ("x <- (a or b) and c", "x <- (a or b) and c"),
    ("x <- (a or b) or c", "x <- a or b or c"),
    ('x <- f("s")', 'x <- f("s")'),
    ("x<-x", "x <- x"),
    ("let   y=x", "let y = x"),
])
def test_expression_style(written, canonical):
    assert _step_line(written) == canonical


def test_a_long_flat_chain_does_not_recurse():
    text = _step("x <- " + " + ".join(["x"] * 190))
    out = fmt(text)
    assert out.count(" + ") == 189


def test_a_chain_past_the_nesting_limit_is_a_diagnostic():
    """Each operator of a chain nests the tree one level: 5000 terms is E0007, not a crash."""
    out, diags = format_source(_step("x <- " + " + ".join(["x"] * 5000)))
    assert out is None
    assert [d.code for d in diags] == ["E0007"]


def test_deeply_nested_blocks():
    depth = 60
    body = "".join("    " * i + f"if x > {i}:\n" for i in range(depth)) + "    " * depth + "x <- x\n"
    once = assert_canonical(_step(body.rstrip("\n")))
    assert "    " * (depth + 2) + "x <- x" in once


def test_members_are_canonical():
    text = (
        "optimizer o :\n"
        "    hyper lr : real=0.1   where lr>0 , lr<1\n"
        "    hyper w: real in [ 0 , 1 ]\n"
        "    dims n ,m\n"
        "    param x : real[ n , m ] in ball( 1 )\n"
        "    input a: real[n]in simplex\n"
        "    state s : f32[...]=0\n"
        "    shared   state d:real=1e-6\n"
        "    eval x=( x+s )/2\n"
        "    oracle g=grad( x )every 2\n"
        "    assume loss : convex , smooth( L )\n"
        "    until norm(x)<1e-6 max 100\n"
        "    output x ,a\n"
        "    converges rate 1/t on loss by cite \"Nesterov 1983\"\n"
        "    step :\n"
        "        for i in 1 .. n :\n"
        "            x <- x\n"
    )
    assert fmt(text) == (
        "optimizer o:\n"
        "    hyper lr: real = 0.1 where lr > 0, lr < 1\n"
        "    hyper w: real in [0, 1]\n"
        "    dims n, m\n"
        "    param x: real[n, m] in ball(1)\n"
        "    input a: real[n] in simplex\n"
        "    state s: f32[...] = 0\n"
        "    shared state d: real = 1e-6\n"
        "    eval x = (x + s) / 2\n"
        "    oracle g = grad(x) every 2\n"
        "    assume loss: convex, smooth(L)\n"
        "    until norm(x) < 1e-6 max 100\n"
        "    output x, a\n"
        "    converges rate 1 / t on loss by cite \"Nesterov 1983\"\n"
        "    step:\n"
        "        for i in 1..n:\n"
        "            x <- x\n"
    )


def test_rules_are_canonical():
    text = (
        "optimizer o :\n"
        "    param x : real[...]\n"
        "    oracle g=grad(x)\n"
        "    rule   for x : real[ m,n ]   as   matrix :\n"
        "        state B : real[m,n]=0\n"
        "        step t :\n"
        "            x <- x-B\n"
        "    rule for x:real:\n"
        "        step:\n"
        "            x <- x\n"
        "    rule otherwise=adamw( lr = 1e-3 , amsgrad=true )\n"
    )
    assert fmt(text) == (
        "optimizer o:\n"
        "    param x: real[...]\n"
        "    oracle g = grad(x)\n"
        "    rule for x: real[m, n] as matrix:\n"
        "        state B: real[m, n] = 0\n"
        "        step t:\n"
        "            x <- x - B\n"
        "    rule for x: real:\n"
        "        step:\n"
        "            x <- x\n"
        "    rule otherwise = adamw(lr=1e-3, amsgrad=true)\n"
    )


def test_comments_stay_where_they_were():
    text = (
        "# file header\n"
        "\n"
        "optimizer o:  # on the header\n"
        "    param x: real[...]\n"
        "    # above the oracle\n"
        "    oracle g = grad(x)\n"
        "    step:\n"
        "        x <- x - g     # trailing\n"
        "        # closing the step block\n"
        "    # closing the method, at member depth\n"
        "    converges heuristic\n"
        "# after everything\n"
    )
    assert fmt(text) == (
        "# file header\n"
        "\n"
        "optimizer o:  # on the header\n"
        "    param x: real[...]\n"
        "    # above the oracle\n"
        "    oracle g = grad(x)\n"
        "    step:\n"
        "        x <- x - g  # trailing\n"
        "        # closing the step block\n"
        "    # closing the method, at member depth\n"
        "    converges heuristic\n"
        "\n"
        "\n"
        "# after everything\n"
    )


def test_comments_inside_a_wrapped_statement_move_above_it_in_order():
    out = fmt(SAMPLES["continuations_and_brackets"])
    assert (
        "        # first argument\n"
        "        # the rate\n"
        "        x <- f(x, lr, g)  # last\n"
    ) in out
    assert "    hyper lr: real = 0.01\n" in out


def test_trailing_comments_on_consecutive_lines_line_up():
    out = fmt("optimizer o:\n    param x: real[...]  # the iterate\n    oracle g = grad(x)  # its gradient\n"
              "    step:\n        x <- x - g\n    converges heuristic\n")
    assert "    param x: real[...]  # the iterate\n    oracle g = grad(x)  # its gradient\n" in out
    out = fmt("optimizer o:\n    param x: real[...]    # the iterate\n    oracle gradient = grad(x) # g\n"
              "    step:\n        x <- x - gradient\n    converges heuristic\n")
    assert "    param x: real[...]         # the iterate\n    oracle gradient = grad(x)  # g\n" in out


def test_blank_lines():
    out = fmt(SAMPLES["blank_lines_everywhere"])
    assert out == (
        "optimizer a:\n"
        "    param x: real[...]\n"
        "\n"
        "    oracle g = grad(x)\n"
        "    step:\n"
        "        x <- x - g\n"
        "\n"
        "    converges sublinear\n"
    )


def test_two_blank_lines_between_methods_and_long_defs_only():
    out = fmt("use a\nuse b\ndef f(x) = x\ndef g(x) = x\noptimizer o:\n    param x: real[...]\n"
              "    oracle g = grad(x)\n    step:\n        x <- x\n    converges heuristic\n"
              "# about p\nsolver p:\n    input a: real[3]\n    state s: real = 0\n    step:\n"
              "        s <- s\n    output s\n    converges heuristic\n")
    assert out.startswith("use a\nuse b\ndef f(x) = x\ndef g(x) = x\n\n\noptimizer o:\n")
    assert "    converges heuristic\n\n\n# about p\nsolver p:\n" in out


def test_elif_is_printed_for_a_lone_if_in_else():
    out = fmt(_step("if t == 1:\n    x <- x\nelse:\n    if t == 2:\n        x <- -x\n    else:\n        x <- 0"))
    assert "        if t == 1:\n            x <- x\n        elif t == 2:\n            x <- -x\n" \
           "        else:\n            x <- 0\n" in out
    assert_canonical(SAMPLES["elif_chain"])
    assert "elif t == 3:" in fmt(SAMPLES["elif_chain"])


def test_docstrings_are_reindented():
    out = fmt('optimizer o:\n    """\n      Title.\n\n      Body line.\n          indented.\n      """\n'
              "    param x: real[...]\n    oracle g = grad(x)\n    step:\n        x <- x\n    converges heuristic\n")
    assert '    """Title.\n\n    Body line.\n        indented."""\n' in out


def test_crlf_and_bom_become_plain_lf():
    text = SAMPLES["minimal"]
    assert fmt("\ufeff" + text.replace("\n", "\r\n")) == text


def test_tabs_inside_lines_become_spaces():
    assert _step_line("x <-\tx\t-\tg") == "x <- x - g"


def test_parse_errors_return_diagnostics():
    out, diags = format_source("optimizer o\n    param x: real[...]\n")
    assert out is None
    assert diags and diags[0].code == "E0003"


def test_half_open_intervals_round_trip():
    text = ("optimizer o:\n    hyper w: real in [0, 1) = 0.5\n    param x: real[...]\n"
            "    oracle g = grad(x)\n    step:\n        x <- x - w * g\n    converges heuristic\n")
    module, diags = parse_text(text)
    if module is None:
        pytest.xfail("the parser rejects the half-open interval the grammar allows: "
                     + "; ".join(d.message for d in diags))
    assert fmt(text) == text


def _safe_lines(text: str) -> list[int]:
    """Lines after which a comment may go without landing inside a string or a `\\` join."""
    safe, inside = [], False
    for i, line in enumerate(text.split("\n")[:-1]):
        if line.count('"""') % 2:
            inside = not inside
        if not inside and '"""' not in line and not line.endswith("\\"):
            safe.append(i)
    return safe


@_SETTINGS
@given(st.sampled_from(["everything", "elif_chain", "continuations_and_brackets", "blank_lines_everywhere"]),
       st.lists(st.tuples(st.integers(0, 10**6), st.booleans(), st.integers(0, 14)), min_size=1, max_size=8))
def test_comments_anywhere_survive_and_settle(sample, insertions):
    lines = SAMPLES[sample].split("\n")
    safe = _safe_lines(SAMPLES[sample])
    placed = sorted(((safe[where % len(safe)], trailing, indent) for where, trailing, indent in insertions),
                    reverse=True)                  # bottom-up, so earlier line numbers stay valid
    for n, (i, trailing, indent) in enumerate(placed):
        if trailing and lines[i].strip():
            lines[i] += f"  # c{n}"
        else:
            lines.insert(i + 1, " " * indent + f"# c{n}")
    text = "\n".join(lines)
    module, _ = parse_text(text)
    assume(module is not None)
    once = assert_canonical(text)
    assert sorted(re.findall(r"# c\d+", once)) == sorted(re.findall(r"# c\d+", text))


def test_shipped_sources_are_canonical():
    """`iterc fmt --check` passes on what we ship: the stdlib and the examples."""
    root = Path(__file__).resolve().parent.parent
    for path in sorted(root.glob("stdlib/**/*.iter")) + sorted(root.glob("examples/*.iter")):
        text = path.read_text()
        out, diags = format_source(text, str(path))
        assert out == text, f"{path} is not canonically formatted; run `iterc fmt {path}`"

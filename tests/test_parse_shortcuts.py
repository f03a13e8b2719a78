"""The shortcuts of the error path give exactly the diagnostics of the plain lark path:
`parse_source` looks for the first syntax error with the items the fast parser accepted
blanked out, and recovery remembers pieces already found valid (parser._VALID_PIECES)."""
from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iterc.syntax import parser
from iterc.syntax.parser import parse_source, parse_source_lark
from iterc.syntax.source import Source

from test_fuzz import SEEDS, mutated_sources


def rows(diags):
    return [(d.code, d.message, d.span.start if d.span else None, d.span.end if d.span else None, d.hint,
             tuple((n.message, n.span.start if n.span else None) for n in d.notes)) for d in diags]


def same_as_plain_lark(text: str) -> None:
    src = Source("main.iter", text)
    module, fast = parse_source(src)
    if module is not None:
        return
    parser._VALID_PIECES.clear()
    _, plain = parse_source_lark(src)
    assert rows(fast) == rows(plain), text
    _, again = parse_source(src)                      # with the memo of valid pieces filled
    assert rows(again) == rows(plain), text


@st.composite
def long_files(draw) -> str:
    """Two to four seeds in one file, then mutated: errors land in later items too."""
    parts = draw(st.lists(st.sampled_from(SEEDS), min_size=2, max_size=4))
    base = "\n\n".join(p.rstrip("\n") for p in parts) + "\n"
    mutant = draw(mutated_sources())
    at = draw(st.integers(0, len(base)))
    cut = base.rfind("\n", 0, at) + 1
    return base[:cut] + mutant + base[cut:] if draw(st.booleans()) else base[:cut] + mutant


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(long_files())
def test_first_error_shortcut_matches_the_whole_parse(text):
    same_as_plain_lark(text)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_sources())
def test_shortcuts_on_mutated_seeds(text):
    same_as_plain_lark(text)


def test_a_late_error_is_found_with_the_early_items_blanked():
    good = SEEDS[0].rstrip("\n")
    text = good + "\n\n" + good.replace("optimizer ", "optimizer other_", 1).replace("<-", "<", 1) + "\n"
    info: dict = {}
    from iterc.syntax.fastparse import fast_parse_or_error
    assert fast_parse_or_error(Source("main.iter", text), info) == (None, None)
    assert info["valid_until"] > len(good)
    same_as_plain_lark(text)

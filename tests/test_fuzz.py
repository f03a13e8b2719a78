"""Fuzzing the front end: a mutated valid program only ever yields diagnostics.

The seeds are every `stdlib/**/*.iter` file and the valid programs of the golden tests
(`tests/golden/*.test` cases named `valid_*`). Each example applies one to three mutations
(delete, duplicate or swap tokens, truncate, insert a random character, control and
non-ASCII characters included) and checks that `api.check_text`:

- never raises;
- returns diagnostics whose codes are registered, whose spans lie inside the file, and
  which render (plain, coloured and as JSON);
- never shows the parser's internals (lark token names, `Token(...)`) to the user.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from iterc import api
from iterc.diagnostics import CODES, render, render_all, to_json
from iterc.syntax.parser import decode, parse_source_lark

from test_diagnostics_golden import collect_cases

ROOT = Path(__file__).resolve().parent.parent

SEEDS: list[str] = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "stdlib").rglob("*.iter"))]
SEEDS += [c.source for c in collect_cases() if c.name.startswith("valid_")]

# words and punctuation; whitespace runs are tokens too, so joining gives the layout back
_TOKEN = re.compile(r'"""[\s\S]*?"""|"[^"\n]*"|\s+|\d+\.\d+(?:[eE][+-]?\d+)?|\w+|<-|<=|>=|==|!=|\.\.\.?|[^\w\s]')

# what the user must never see: lark's terminal names and reprs
_INTERNALS = re.compile(r"__ANON|\bLPAR\b|\bRPAR\b|\bLSQB\b|\bRSQB\b|_NEWLINE|_INDENT|_DEDENT|\$END|Token\(|"
                        r"\bCOMPARE_OP\b|\bADD_OP\b|\bMUL_OP\b|\bMETHOD_KIND\b|\bCOLON\b|\bCOMMA\b|"
                        r"\bEQUAL\b|\bCIRCUMFLEX\b|UnexpectedToken|UnexpectedCharacters|Traceback")
_SOURCE_ECHO = re.compile(r"^\s*\d+ \|")          # `12 |     x <- ...`: the user's own text

_ODD_CHARS = ["\t", "\x00", "\x07", "\x0b", "\x0c", "\r", "\x1b", "\x7f", "\u00a0", "\u2028", "\u200b", "\ufeff",
              "\udc80", "λ", "é", "≤", "€", "😀", "(", ")", "[", "]", ":", "\"", "'", "#", "\\", "\n", "    "]

MUTATIONS = ("delete", "duplicate", "swap", "truncate", "insert")


def test_there_are_seeds():
    assert len(SEEDS) >= 5
    for text in SEEDS:
        assert api.check_text(text, "main.iter").ok, text


@st.composite
def mutated_sources(draw) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(MUTATIONS))
        if op == "truncate":
            text = text[:draw(st.integers(0, len(text)))]
            continue
        if op == "insert":
            ch = draw(st.one_of(st.sampled_from(_ODD_CHARS), st.characters()))
            at = draw(st.integers(0, len(text)))
            text = text[:at] + ch + text[at:]
            continue
        tokens = _TOKEN.findall(text)
        words = [i for i, t in enumerate(tokens) if not t.isspace()]
        if not words:
            continue
        k = draw(st.integers(0, len(words) - 1))
        i = words[k]
        if op == "delete":
            del tokens[i]
        elif op == "duplicate":
            tokens.insert(i, tokens[i] + " ")
        elif op == "swap" and k + 1 < len(words):
            j = words[k + 1]
            tokens[i], tokens[j] = tokens[j], tokens[i]
        text = "".join(tokens)
    return text


def check_diagnostics_are_sound(text: str) -> None:
    result = api.check_text(text, "main.iter")          # must not raise
    diagnostics = list(result.diagnostics)
    # the lark parser is the one that words syntax errors; valid programs usually take the
    # fast path, so run it directly too
    source, _ = decode("main.iter", text.encode("utf-8", errors="surrogatepass"))
    if source is not None:
        diagnostics += parse_source_lark(source)[1]
    for d in diagnostics:
        assert d.code in CODES, d
        assert d.message and not _INTERNALS.search(d.message), d.message
        assert not d.hint or not _INTERNALS.search(d.hint), d.hint
        for note in d.notes:
            assert not _INTERNALS.search(note.message), note.message
        for span in [d.span] + [n.span for n in d.notes]:
            if span is None:
                continue
            src = span.source
            assert 0 <= span.start <= span.end <= len(src.text) + 1, (span.start, span.end, len(src.text))
            line, col = src.line_col(span.start)
            assert 1 <= line <= src.line_count
            assert 1 <= col <= len(src.line_text(line)) + 1
        plain = render(d)
        assert plain.startswith(f"{d.severity.value}[{d.code}]: ")
        render(d, color=True)
    text_out = render_all(diagnostics, color=False)
    for line in text_out.split("\n"):
        if not _SOURCE_ECHO.match(line):
            assert not _INTERNALS.search(line), line
    json.loads(to_json(diagnostics))
    if result.ok:
        assert result.module is not None


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_sources())
def test_mutated_programs_only_give_diagnostics(text):
    check_diagnostics_are_sound(text)


@pytest.mark.parametrize("cut", [0, 1, 7, 13, 40])
def test_every_prefix_of_a_seed_is_handled(cut):
    """Truncation at fixed offsets of every seed: the commonest editor state."""
    for text in SEEDS:
        check_diagnostics_are_sound(text[:cut] if cut < len(text) else text)
        check_diagnostics_are_sound(text[:len(text) * cut // 41])

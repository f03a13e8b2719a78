"""Golden diagnostics tests in mypyc's `.test` format.

Each `tests/golden/*.test` file holds many cases:

    [case undefined_name_with_suggestion]
    optimizer o:
        ...
    [out]
    error[E0101]: undefined name `lrr`
     --> main.iter:5:18
    ...

The source is checked as a file named `main.iter`, and `[out]` is exactly
`render_all(diagnostics, color=False)` with trailing whitespace stripped from each line
(an empty `[out]` means "no diagnostics at all"). Text before the first case is a free
comment. `pytest tests/test_diagnostics_golden.py --update-golden` rewrites the `[out]`
sections in place; review the diff like code.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from iterc import api
from iterc.diagnostics import render_all

GOLDEN_DIR = Path(__file__).parent / "golden"
SOURCE_NAME = "main.iter"

_CASE = re.compile(r"^\[case ([A-Za-z0-9_]+)\]\s*$")
_OUT = re.compile(r"^\[out\]\s*$")


@dataclass
class Case:
    file: Path
    name: str
    source: str          # fed to the checker as is
    expected: str        # the [out] section, trailing blank lines dropped
    line: int            # 1-based line of the `[case ...]` header, for messages


def _strip_trailing_blank(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def parse_test_file(path: Path) -> tuple[str, list[Case]]:
    return parse_test_text(path.read_text(encoding="utf-8"), path)


def parse_test_text(text: str, path: Path) -> tuple[str, list[Case]]:
    """Split a .test file into its header (free text before the first case) and its cases."""
    lines = text.split("\n")
    header: list[str] = []
    cases: list[Case] = []
    i = 0
    while i < len(lines) and not _CASE.match(lines[i]):
        header.append(lines[i])
        i += 1
    while i < len(lines):
        m = _CASE.match(lines[i])
        assert m, f"{path}:{i + 1}: expected a `[case NAME]` line"
        name, start = m.group(1), i + 1
        i += 1
        src: list[str] = []
        while i < len(lines) and not _OUT.match(lines[i]) and not _CASE.match(lines[i]):
            src.append(lines[i])
            i += 1
        assert i < len(lines) and _OUT.match(lines[i]), f"{path}:{start}: case `{name}` has no `[out]` section"
        i += 1
        out: list[str] = []
        while i < len(lines) and not _CASE.match(lines[i]):
            out.append(lines[i].rstrip())
            i += 1
        src = _strip_trailing_blank(src)
        source = "\n".join(src) + "\n" if src else ""
        cases.append(Case(path, name, source, "\n".join(_strip_trailing_blank(out)), start))
    return "\n".join(header), cases


def format_test_file(header: str, cases: list[Case]) -> str:
    parts = [header.rstrip("\n") + "\n"] if header.strip() else []
    for c in cases:
        body = f"[case {c.name}]\n{c.source}[out]\n"
        if c.expected:
            body += c.expected + "\n"
        parts.append(body)
    return "\n".join(parts)


def render_case(source: str) -> str:
    """What a case's [out] section must equal."""
    result = api.check_text(source, SOURCE_NAME)
    text = render_all(result.diagnostics, color=False)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def collect_cases() -> list[Case]:
    cases: list[Case] = []
    for path in sorted(GOLDEN_DIR.glob("*.test")):
        cases += parse_test_file(path)[1]
    return cases


CASES = collect_cases()


def _rewrite(case: Case, actual: str) -> None:
    header, cases = parse_test_file(case.file)
    for c in cases:
        if c.name == case.name:
            c.expected = actual
    case.file.write_text(format_test_file(header, cases), encoding="utf-8")


def test_case_names_are_unique():
    seen: dict[str, str] = {}
    for c in CASES:
        where = f"{c.file.name}:{c.line}"
        assert c.name not in seen, f"case `{c.name}` at {where} repeats the one at {seen[c.name]}"
        seen[c.name] = where


def test_golden_files_round_trip():
    """Formatting a parsed file gives the file back, so --update-golden only touches [out]s."""
    for path in sorted(GOLDEN_DIR.glob("*.test")):
        header, cases = parse_test_file(path)
        header2, cases2 = parse_test_text(format_test_file(header, cases), path)
        assert header2.strip() == header.strip()
        assert [(c.name, c.source, c.expected) for c in cases2] == [(c.name, c.source, c.expected) for c in cases]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Case, request):
    actual = render_case(case.source)
    if request.config.getoption("--update-golden"):
        if actual != case.expected:
            _rewrite(case, actual)
        return
    assert actual == case.expected, (
        f"{case.file.name}:{case.line}: output of case `{case.name}` differs "
        f"(rerun with --update-golden to accept it)")

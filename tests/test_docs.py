"""The documentation is tested, so that it stays true to the compiler.

docs/language.md and docs/diagnostics.md
    Every ```iter block is checked as a file named `main.iter`. Its first line says what
    to expect:

        (no marker)           a valid program: no errors and no warnings; it is also
                              compiled to numpy, and every method whose hypers all have
                              defaults is instantiated (so runtime `where` checks pass)
        # error E0201 ...     at least one error, and each listed code among them
        # warning W0002 ...   no errors, and each listed code among the warnings
        # file: NAME.iter     not checked on its own: written next to main.iter for
                              every block of the same document (for `use` examples)
        # fragment            not a whole file; skipped

    In docs/diagnostics.md an `# error`/`# warning` block followed by a ```text block
    must render to exactly that text (`render_all`, as `iterc check main.iter` prints it).
    Every code in iterc/diagnostics/codes.py has a `### CODE` section there.

docs/language.md's builtin table (between the `builtins:begin`/`builtins:end` markers)
    equals the table generated from the builtin registry.

docs/stdlib.md names every method of the standard library, and is exactly what
    `iterc doc` generates from the .iter files (run `iterc doc -o docs/stdlib.md`).

README.md
    every `iterc ...` line in its code blocks exits 0 run from the repository root.

examples/
    every examples/*.py runs to completion (exit 0) from the repository root, and every
    examples/*.iter checks without errors.

`pytest tests/test_docs.py --update-golden` rewrites the rendered diagnostics and the
builtin table in place; review the diff like code.
"""
from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from iterc import api
from iterc.diagnostics import CODES, render_all

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
EXAMPLES = ROOT / "examples"
CHECKED_DOCS = ("language.md", "diagnostics.md")

_FENCE = re.compile(r"^(`{3,})(\S*)\s*$")
_MARKER = re.compile(r"^#\s*(error|warning|fragment|file:)\s*(.*?)\s*$")


@dataclass
class Block:
    doc: str             # file name under docs/
    lang: str            # the fence's info string: "iter", "text", ...
    text: str            # the content, ending in a newline
    line: int            # 1-based line of the opening fence
    start: int           # index of the first content line in the document's lines
    end: int             # index of the closing fence line

    @property
    def marker(self) -> tuple[str, list[str]]:
        first = self.text.split("\n", 1)[0]
        m = _MARKER.match(first)
        if not m:
            return "ok", []
        kind = m.group(1).rstrip(":")
        return kind, m.group(2).split()

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def read_blocks(doc: str) -> list[Block]:
    lines = (DOCS / doc).read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, lang, open_at = m.group(1), m.group(2), i
        i += 1
        body: list[str] = []
        while i < len(lines) and lines[i].rstrip() != fence:
            body.append(lines[i])
            i += 1
        assert i < len(lines), f"docs/{doc}:{open_at + 1}: unclosed code block"
        blocks.append(Block(doc, lang, "\n".join(body) + "\n", open_at + 1, open_at + 1, i))
        i += 1
    return blocks


def _iter_blocks(doc: str) -> list[Block]:
    if not (DOCS / doc).is_file():          # reported by test_docs_exist, not at collection
        return []
    return [b for b in read_blocks(doc) if b.lang == "iter"]


def test_docs_exist():
    for doc in CHECKED_DOCS + ("stdlib.md",):
        assert (DOCS / doc).is_file(), f"docs/{doc} is missing"


def _companion_files(doc: str) -> dict[str, str]:
    files = {}
    for b in _iter_blocks(doc):
        kind, args = b.marker
        if kind == "file":
            assert args and args[0].endswith(".iter"), f"{b.id}: `# file:` needs a NAME.iter"
            files[args[0]] = b.text
    return files


def _check_block(block: Block, tmp_path: Path, monkeypatch):
    for name, text in _companion_files(block.doc).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    (tmp_path / "main.iter").write_text(block.text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    return api.check_file("main.iter")


ALL_BLOCKS = [b for doc in CHECKED_DOCS for b in _iter_blocks(doc)]


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda b: b.id)
def test_iter_block(block: Block, tmp_path, monkeypatch):
    kind, codes = block.marker
    if kind in ("fragment", "file"):
        pytest.skip(f"`# {kind}` block")
    result = _check_block(block, tmp_path, monkeypatch)
    shown = render_all(result.diagnostics)
    errors = {d.code for d in result.diagnostics if d.is_error}
    warnings = {d.code for d in result.diagnostics if not d.is_error}
    if kind == "ok":
        assert not result.diagnostics, f"{block.id}: expected a clean program, got:\n{shown}"
        _compile_and_instantiate(block)
    elif kind == "error":
        assert errors, f"{block.id}: expected errors, got:\n{shown or 'nothing'}"
        missing = set(codes) - errors
        assert not missing, f"{block.id}: expected {sorted(missing)} among the errors, got:\n{shown}"
    else:
        assert not errors, f"{block.id}: expected only warnings, got:\n{shown}"
        missing = set(codes) - warnings
        assert not missing, f"{block.id}: expected {sorted(missing)} among the warnings, got:\n{shown}"


def _compile_and_instantiate(block: Block) -> None:
    import types

    code = api.compile_file("main.iter", "numpy")
    module = types.ModuleType("doc_example")
    exec(compile(code, f"<{block.id}>", "exec"), module.__dict__)
    result = api.check_file("main.iter")
    for m in result.module.methods:
        assert m.name in module.METHODS
        if all(h.decl.default is not None for h in m.hypers):
            module.METHODS[m.name]()          # runs the `where` conditions on the defaults


def test_language_reference_has_examples():
    blocks = _iter_blocks("language.md")
    assert len(blocks) >= 25
    fragments = [b.id for b in blocks if b.marker[0] == "fragment"]
    assert len(fragments) <= 3, f"too many untested fragments: {fragments}"


# ---------------------------------------------------------------- diagnostics.md

def _rendered_pairs() -> list[tuple[Block, Block]]:
    """(iter block, the text block right after it) for each checked example in diagnostics.md."""
    blocks = read_blocks("diagnostics.md")
    lines = (DOCS / "diagnostics.md").read_text(encoding="utf-8").split("\n")
    pairs = []
    for a, b in zip(blocks, blocks[1:]):
        if a.lang == "iter" and a.marker[0] in ("error", "warning") and b.lang == "text":
            between = lines[a.end + 1:b.start - 1]
            if all(not line.strip() for line in between):
                pairs.append((a, b))
    return pairs


def test_diagnostics_rendered_output(tmp_path, monkeypatch, request):
    update = request.config.getoption("--update-golden")
    stale = []
    replacements = []
    for i, (src, out) in enumerate(_rendered_pairs()):
        case = tmp_path / f"case{i}"
        case.mkdir()
        result = _check_block(src, case, monkeypatch)
        text = render_all(result.diagnostics).replace(str(case.resolve()) + "/", "")
        rendered = "\n".join(l.rstrip() for l in text.split("\n")) + "\n"
        if rendered != out.text:
            stale.append(f"{src.id}:\n--- documented\n{out.text}--- actual\n{rendered}")
            replacements.append((out, rendered))
    monkeypatch.chdir(ROOT)
    if update and replacements:
        path = DOCS / "diagnostics.md"
        lines = path.read_text(encoding="utf-8").split("\n")
        for out, rendered in sorted(replacements, key=lambda r: -r[0].start):
            lines[out.start:out.end] = rendered.rstrip("\n").split("\n")
        path.write_text("\n".join(lines), encoding="utf-8")
        return
    assert not stale, "docs/diagnostics.md is out of date (run with --update-golden):\n\n" + "\n\n".join(stale)


def test_every_code_is_documented():
    text = (DOCS / "diagnostics.md").read_text(encoding="utf-8")
    documented = re.findall(r"^### ([EW]\d{4})\b", text, flags=re.M)
    assert sorted(set(documented)) == sorted(CODES), (
        f"undocumented: {sorted(set(CODES) - set(documented))}; "
        f"unknown: {sorted(set(documented) - set(CODES))}")
    assert len(documented) == len(set(documented)), "a code has two sections"


def test_diagnostic_examples_sit_under_their_code():
    """An example marked `# error E0201` stands in the `### E0201` section."""
    lines = (DOCS / "diagnostics.md").read_text(encoding="utf-8").split("\n")
    for b in _iter_blocks("diagnostics.md"):
        kind, codes = b.marker
        if kind not in ("error", "warning"):
            continue
        heading = next((l for l in reversed(lines[:b.line]) if l.startswith("### ")), "")
        assert codes and heading.split()[1] == codes[0], f"{b.id}: `{b.text.splitlines()[0]}` under `{heading}`"


# ---------------------------------------------------------------- builtin table

_TABLE = re.compile(r"(<!-- builtins:begin -->\n)(.*?)(<!-- builtins:end -->)", re.S)


def builtin_table() -> str:
    from iterc.builtins import REGISTRY

    rows = ["| function | kind | summary |", "|---|---|---|"]
    for name, e in REGISTRY.items():
        if not e.callable:
            continue
        sig = e.signature()
        rows.append(f"| `{sig}` | {e.kind.value} | {e.summary.replace('|', '&#124;')} |")
    rows += ["", "| operator | builtin | kind | summary |", "|---|---|---|---|"]
    syntax = {"transpose": "`x.T`", "expand": "`x[:, None]`"}
    internal = []
    for name, e in REGISTRY.items():
        if e.callable:
            continue
        if e.operator is None and name not in syntax:
            internal.append(f"| `{name}` | {e.kind.value} | {e.summary.replace('|', '&#124;')} |")
            continue
        if e.operator is not None:
            shown = f"`{e.operator}`" if name not in ("neg", "pos") else f"unary `{e.operator}`"
        else:
            shown = syntax[name]
        rows.append(f"| {shown} | {name} | {e.kind.value} | {e.summary.replace('|', '&#124;')} |")
    rows += ["", "Primitives that only lowering produces (decompositions of the composites above):", "",
             "| primitive | kind | summary |", "|---|---|---|"] + internal
    return "\n".join(rows) + "\n"


def test_builtin_table_matches_registry(request):
    path = DOCS / "language.md"
    text = path.read_text(encoding="utf-8")
    m = _TABLE.search(text)
    assert m, "docs/language.md has no `<!-- builtins:begin -->` ... `<!-- builtins:end -->` table"
    want = builtin_table()
    if m.group(2) != want:
        if request.config.getoption("--update-golden"):
            path.write_text(text[:m.start(2)] + want + text[m.end(2):], encoding="utf-8")
            return
        pytest.fail("the builtin table in docs/language.md is out of date (run with --update-golden)")


# ---------------------------------------------------------------- stdlib.md

def test_stdlib_doc_names_every_method():
    text = (DOCS / "stdlib.md").read_text(encoding="utf-8")
    missing = [m.name for m in api.list_stdlib() if not re.search(rf"^##+ `?{m.name}`?\b", text, flags=re.M)]
    assert not missing, f"docs/stdlib.md has no section for: {missing}"


def test_stdlib_doc_is_generated():
    from iterc.docgen import COMMAND, generate

    text, problems = generate()
    assert not problems, render_all(problems)
    committed = (DOCS / "stdlib.md").read_text(encoding="utf-8")
    assert committed == text, f"docs/stdlib.md is not what `iterc doc` generates: run `{COMMAND}`"


# ---------------------------------------------------------------- examples

SCRIPTS = sorted(EXAMPLES.glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_script_runs(script: Path):
    proc = subprocess.run([sys.executable, str(script.relative_to(ROOT))], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, f"{script.name} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.iter")), ids=lambda p: p.name)
def test_example_iter_checks(path: Path):
    result = api.check_file(path)
    assert result.ok, render_all(result.diagnostics)


# ---------------------------------------------------------------- README commands

def readme_commands() -> list[str]:
    """The `iterc ...` lines of the README's code blocks, as written there."""
    commands, fence = [], None
    for line in (ROOT / "README.md").read_text(encoding="utf-8").split("\n"):
        m = _FENCE.match(line)
        if m and (fence is None or m.group(1) == fence):
            fence = m.group(1) if fence is None else None
            continue
        if fence is not None and line.startswith("iterc "):
            commands.append(line)
    return commands


def test_readme_has_commands():
    assert len(readme_commands()) >= 4


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_works_from_the_repo_root(command: str, tmp_path):
    """Each command exits 0 run as written from the repository root; an `-o FILE` goes to
    a temporary folder instead, and no file of the repository may change."""
    import os
    import shlex

    args = shlex.split(command, comments=True)[1:]
    for i, arg in enumerate(args[:-1]):
        if arg in ("-o", "--output"):
            args[i + 1] = str(tmp_path / Path(args[i + 1]).name)
    tracked = sorted(p for folder in ("examples", "stdlib") for p in (ROOT / folder).rglob("*") if p.is_file())
    before = {p: p.read_bytes() for p in tracked}
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    proc = subprocess.run([sys.executable, "-m", "iterc", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, f"`{command}` exited {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    assert {p: p.read_bytes() for p in tracked} == before, f"`{command}` changed a file of the repository"
    assert not (ROOT / "my_method_ref.py").exists()

"""`iterc doc` (docs/stdlib.md from the stdlib's .iter files) and how `iterc list` shows
files of defs. The committed docs/stdlib.md itself is compared in tests/test_docs.py."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from iterc.cli import cli
from iterc.docgen import generate

ROOT = Path(__file__).resolve().parent.parent

METHOD = '''# A comment at the top: the method's description.
use helpers

optimizer clipped:
    """Clipped SGD.
    Someone et al. 2020."""
    hyper lr: real = (1 + 1) * 0.05 where lr > 0  # the step size
    hyper beta: real in [0, 1) = 0.5
    hyper cap: real where not (cap < 0) or (cap > 1 and lr < 1)
    param x: real[...]
    oracle g = grad(x)
    state m: real[...] = 0  # a buffer
    step:
        m <- beta * m + g  # keep it
        x <- x - lr * half(clip(m, -cap, cap))
    converges heuristic
'''

HELPERS = '''# Helper defs for the test library. Second sentence.
#
#     a code line

def half(u) = u / 2


def twice(u, v):
    """Twice u.
    Ignores v."""
    return 2 * u
'''

SOLVER = '''solver halve:
    """Halve until small."""
    state x: real = 1
    step:
        x <- x / 2
    until x <= 1e-3 max 100
    output x
'''


def library(tmp_path: Path) -> Path:
    root = tmp_path / "stdlib"
    (root / "optim").mkdir(parents=True)
    (root / "optim" / "clipped.iter").write_text(METHOD, encoding="utf-8")
    (root / "helpers.iter").write_text(HELPERS, encoding="utf-8")
    (root / "halve.iter").write_text(SOLVER, encoding="utf-8")
    return root


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_method_section_has_what_the_source_says(tmp_path):
    text, problems = generate(library(tmp_path))
    assert not problems
    section = text.split("### `clipped`", 1)[1].split("\n## ", 1)[0]
    assert "Clipped SGD." in section and "Someone et al. 2020." in section
    assert "optimizer · `stdlib/optim/clipped.iter`" in section
    assert "A comment at the top: the method's description." in section
    assert "| `lr` | real | `(1 + 1) * 0.05` | `lr > 0` | the step size |" in section
    assert "| `beta` | real | `0.5` | `beta in [0, 1)` |  |" in section
    assert "| `cap` | real | required | `not (cap < 0) or (cap > 1 and lr < 1)` |  |" in section
    assert "- `state m: real[...] = 0` — a buffer" in section
    assert "```iter\nstep:\n    m <- beta * m + g  # keep it\n    x <- x - lr * half(clip(m, -cap, cap))\n```" in section
    assert "Imports: `use helpers`." in section


def test_families_defs_and_solvers(tmp_path):
    text, _ = generate(library(tmp_path))
    assert text.index("## Methods at the root") < text.index("### `halve`") < text.index("## Family `optim`")
    assert "- `until x <= 1e-3 max 100`" in text and "- `output x`" in text
    defs = text.split("## Modules of defs", 1)[1]
    assert "### `helpers`" in defs and "in a method: `use helpers`" in defs
    assert "| `half(u)` |  |" in defs and "| `twice(u, v)` | Twice u. Ignores v. |" in defs
    assert "### `helpers`" not in text.split("## Modules of defs", 1)[0]      # not a method
    assert "| [`clipped`](#clipped) | optim | optimizer | Clipped SGD. |" in text


def test_doc_prints_writes_and_checks(tmp_path, monkeypatch):
    printed = run("doc")
    assert printed.exit_code == 0 and printed.output == generate()[0]
    out = tmp_path / "stdlib.md"
    assert run("doc", "-o", str(out)).exit_code == 0
    assert out.read_text(encoding="utf-8") == printed.output
    assert run("doc", "--check", "-o", str(out)).exit_code == 0
    out.write_text(printed.output + "stale\n", encoding="utf-8")
    stale = run("doc", "--check", "-o", str(out))
    assert stale.exit_code == 1 and "iterc doc -o docs/stdlib.md" in stale.output
    assert out.read_text(encoding="utf-8").endswith("stale\n")                 # --check writes nothing
    monkeypatch.chdir(tmp_path)                                                 # default: ./docs/stdlib.md
    assert run("doc", "--check").exit_code == 1
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "stdlib.md").write_text(printed.output, encoding="utf-8")
    assert run("doc", "--check").exit_code == 0


def test_doc_imports_no_array_library():
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "iterc", "doc"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert not imported & {"numpy", "jax", "torch", "optax"}, sorted(imported & {"numpy", "jax", "torch", "optax"})


def test_list_shows_files_of_defs_apart_from_methods():
    lines = run("list").output.splitlines()
    rows = {line.split()[0]: line for line in lines}
    assert rows["schedules"].split()[1:3] == ["defs", "."]
    assert "warmup_cosine" in rows["schedules"] and "Learning-rate schedules" in rows["schedules"]
    assert rows["sgd_warmup_cosine"].split()[1] == "optimizer"
    methods = [line.split()[0] for line in lines if line.split()[1] != "defs"]
    assert lines[:len(methods)] == [rows[m] for m in methods]                   # defs come after the methods
    import json
    assert "schedules" not in {r["name"] for r in json.loads(run("list", "--format", "json").output)}


def test_list_def_modules_api(tmp_path):
    from iterc.stdlib_index import list_def_modules, list_methods

    root = library(tmp_path)
    (mod,) = list_def_modules(root)
    assert (mod.module, mod.family, mod.summary) == ("helpers", "", "Helper defs for the test library.")
    assert mod.defs == ("half(u)", "twice(u, v)")
    assert [m.name for m in list_methods(root)] == ["halve", "clipped"]

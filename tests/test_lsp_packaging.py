"""What ships around the language server: the `lsp` extra and command, lazy imports, and
the editor packaging in editors/ (VS Code extension, Neovim Lua)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import pytest

from lsp_support import ROOT

VSCODE = ROOT / "editors" / "vscode"
NVIM = ROOT / "editors" / "nvim"


def test_lsp_extra_is_all_the_server_needs():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extra = " ".join(project["optional-dependencies"]["lsp"])
    assert "pygls" in extra and "lsprotocol" in extra
    imported = subprocess.run(
        [sys.executable, "-c", "import sys, iterc.lsp.server; "
         "print(sorted({m.split('.')[0] for m in sys.modules} & {'jax', 'torch', 'triton', 'numpy'}))"],
        capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == "[]"


def test_check_and_importing_the_cli_do_not_import_pygls():
    probe = ("import sys\nfrom iterc.cli import main\n"
             "assert 'pygls' not in sys.modules and 'lsprotocol' not in sys.modules\n"
             "try:\n    main(['check', sys.argv[1]])\nexcept SystemExit:\n    pass\n"
             "print(sorted({m.split('.')[0] for m in sys.modules} & {'pygls', 'lsprotocol', 'jax', 'torch', 'triton'}))\n")
    proc = subprocess.run([sys.executable, "-c", probe, str(ROOT / "stdlib" / "optim" / "adamw.iter")],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("[]"), proc.stdout


def test_lsp_command_accepts_stdio():
    from click.testing import CliRunner

    from iterc.cli import cli
    result = CliRunner().invoke(cli, ["lsp", "--help"])
    assert result.exit_code == 0 and "--stdio" in result.output     # vscode-languageclient passes it


# ---------------------------------------------------------------- VS Code

def _json(path):
    return json.loads(path.read_text(encoding="utf-8"))


def test_vscode_extension_is_consistent():
    pkg = _json(VSCODE / "package.json")
    (lang,) = pkg["contributes"]["languages"]
    (grammar,) = pkg["contributes"]["grammars"]
    assert lang["id"] == grammar["language"] == "iter" and lang["extensions"] == [".iter"]
    assert (VSCODE / lang["configuration"]).is_file() and (VSCODE / grammar["path"]).is_file()
    assert (VSCODE / pkg["main"]).is_file() and "vscode-languageclient" in pkg["dependencies"]
    assert pkg["contributes"]["configuration"]["properties"]["iterc.server.args"]["default"] == ["lsp"]
    assert _json(VSCODE / grammar["path"])["scopeName"] == grammar["scopeName"]
    conf = _json(VSCODE / lang["configuration"])
    assert conf["comments"]["lineComment"] == "#"
    js = (VSCODE / pkg["main"]).read_text()
    assert "vscode-languageclient/node" in js and "TransportKind.stdio" in js


def _patterns(node):
    if isinstance(node, dict):
        for key in ("match", "begin", "end"):
            if key in node:
                yield node.get("name", ""), node[key]
        for v in node.values():
            yield from _patterns(v)
    elif isinstance(node, list):
        for v in node:
            yield from _patterns(v)


def _words(regex: str) -> set[str]:
    return {w for group in re.findall(r"\\b\(([^)]*)\)", regex) for w in group.split("|")}


def _regenerate_word_lists(path) -> None:
    """`--update-golden`: write the registry's builtins, domains and oracle kinds into the grammar."""
    from iterc.builtins import REGISTRY
    from iterc.check.names import DOMAINS, ORACLE_KINDS

    grammar = _json(path)
    repo = grammar["repository"]
    repo["builtin"]["match"] = "\\b(" + "|".join(n for n, e in REGISTRY.items() if e.callable) + ")(?=\\s*\\()"
    repo["domain"]["match"] = "\\b(" + "|".join(DOMAINS) + ")\\b"
    repo["oracle"]["match"] = "\\b(" + "|".join(ORACLE_KINDS) + ")(?=\\s*\\()"
    path.write_text(json.dumps(grammar, indent=2) + "\n", encoding="utf-8")


def test_textmate_grammar_covers_the_language(request):
    """The grammar names every builtin, domain, oracle kind, type and keyword (after adding
    a builtin: `pytest tests/test_lsp_packaging.py --update-golden` rewrites its lists)."""
    from iterc.builtins import REGISTRY
    from iterc.check.names import DOMAINS, LANGUAGE_WORDS, ORACLE_KINDS
    from iterc.types import STORAGE_NAMES

    if request.config.getoption("--update-golden"):
        _regenerate_word_lists(VSCODE / "syntaxes" / "iter.tmLanguage.json")
    grammar = _json(VSCODE / "syntaxes" / "iter.tmLanguage.json")
    found: dict[str, set[str]] = {}
    for name, regex in _patterns(grammar):
        re.compile(regex)                                  # Oniguruma is a superset for these
        found.setdefault(name.rsplit(".", 1)[0], set()).update(_words(regex))
    builtins = {n for n, e in REGISTRY.items() if e.callable}
    assert found["support.function.builtin"] == builtins, \
        "the grammar's builtins differ from the registry: run pytest tests/test_lsp_packaging.py --update-golden"
    assert found["support.constant.domain"] == set(DOMAINS)
    assert found["support.function.oracle"] == set(ORACLE_KINDS)
    assert found["storage.type"] == set(STORAGE_NAMES)
    keywords = set().union(*(v for k, v in found.items() if k.startswith(("keyword", "constant.language"))))
    assert LANGUAGE_WORDS | {"max"} <= keywords, sorted(LANGUAGE_WORDS - keywords)


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_vscode_extension_js_parses():
    proc = subprocess.run(["node", "--check", str(VSCODE / "extension.js")], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr


# ---------------------------------------------------------------- Neovim

def test_neovim_setup_covers_every_version():
    lua = (NVIM / "lua" / "iterc.lua").read_text()
    for api in ("vim.lsp.config", "vim.lsp.enable", "vim.lsp.start", "vim.lsp.start_client", "buf_attach_client"):
        assert api in lua
    assert '"iterc", "lsp"' in lua and "*.iter" in lua
    assert "setfiletype iter" in (NVIM / "ftdetect" / "iter.lua").read_text()


def test_readme_documents_the_editors():
    readme = (ROOT / "README.md").read_text()
    assert "## Editors" in readme and "editors/vscode" in readme and "editors/nvim" in readme
    assert "iterc lsp" in readme


def test_lsp_without_pygls_says_what_to_install():
    probe = ("import sys\nsys.modules['pygls'] = None\nfrom iterc.cli import main\n"
             "try:\n    main(['lsp'])\nexcept SystemExit as exc:\n    print('exit', exc.code)\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "exit 2" in proc.stdout and 'pip install "iterc[lsp]"' in proc.stderr, proc.stdout + proc.stderr

"""A real editor: Neovim, headless, set up with editors/nvim (the `iter` filetype and the
server), opens a .iter file, waits for `iterc lsp`'s diagnostics, asks for hover and
completion, and writes what it received as JSON (tests/nvim/lsp_probe.lua)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from lsp_support import ADAMW, ROOT

NVIM = shutil.which("nvim")
pytestmark = pytest.mark.skipif(NVIM is None, reason="nvim is not installed (Debian: apt-get install neovim)")


def test_neovim_gets_diagnostics_hover_and_completion(tmp_path):
    text = ADAMW.read_text().replace("m <- beta1 * m + (1 - beta1) * g", "m <- beta1 * m + (1 - betaa) * g")
    lines = text.split("\n")
    path = tmp_path / "probe.iter"
    path.write_text(text)
    hover_line = next(i for i, line in enumerate(lines) if "v <- beta2" in line)
    complete_line = next(i for i, line in enumerate(lines) if "let bc2_sqrt" in line)
    out = tmp_path / "probe.json"
    env = dict(os.environ, ITERC_PROBE_OUT=str(out), ITERC_PROBE_FILE=str(path), ITERC_PYTHON=sys.executable,
               ITERC_NVIM_DIR=str(ROOT / "editors" / "nvim"),
               ITERC_HOVER_LINE=str(hover_line), ITERC_HOVER_COL=str(lines[hover_line].index("v <-")),
               ITERC_COMPLETE_LINE=str(complete_line), ITERC_COMPLETE_COL=str(len(lines[complete_line])),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_DATA_HOME=str(tmp_path / "data"),
               XDG_STATE_HOME=str(tmp_path / "state"))
    proc = subprocess.run([NVIM, "--headless", "-n", "-u", "NONE", "-i", "NONE",
                           "-c", f"luafile {ROOT / 'tests' / 'nvim' / 'lsp_probe.lua'}"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=90)
    assert out.exists(), f"nvim wrote nothing (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    got = json.loads(out.read_text())
    assert got["ok"], got.get("error")
    assert got["filetype"] == "iter" and got["clients"] == 1
    line = next(i for i, line in enumerate(lines) if "betaa" in line)
    assert [(d["lnum"], d["col"], d["message"], d["source"]) for d in got["diagnostics"]] == \
        [(line, lines[line].index("betaa"), "undefined name `betaa`", "iterc")]
    assert "state v: real[...] = 0" in got["hover"] and "element type `real`" in got["hover"]
    labels = {c["label"]: c["detail"] for c in got["completion"]}
    assert labels["step_size"] == "let: real" and labels["sqrt"] == "sqrt(x)" and "bc2_sqrt" not in labels

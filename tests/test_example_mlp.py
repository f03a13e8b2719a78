"""examples/train_mlp.py: three stdlib optimizers train a small MLP, and the plot is written.

tests/test_docs.py runs every example as it stands (from the repository root, no
arguments, plot into the temporary folder); this test runs it into tmp_path and checks
what it reports. The script runs in its own process, as a user would run it, with this
checkout's iterc first on the path.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "train_mlp.py"
FACTOR = 5          # each optimizer ends at most at a fifth of the first loss


def test_train_mlp_plots_three_falling_loss_curves(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "curves.png"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out), "--steps", "250"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(tmp_path.iterdir()) == [out]                     # nothing else written to the cwd

    lines = proc.stdout.splitlines()
    table = lines[lines.index(next(l for l in lines if l.startswith("method"))) + 1:]
    losses = {}
    for line in table:
        if line.startswith("plot:"):
            break
        label, first, final = line.rsplit(None, 2)
        losses[label] = (float(first), float(final))
    assert set(losses) == {"sgd, momentum 0.9", "adam", "adamw"}
    for label, (first, final) in losses.items():
        assert final < first / FACTOR, f"{label}: loss {first} -> {final}"

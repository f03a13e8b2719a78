"""Run-time errors and warnings from generated code name the `.iter` file and line."""
from __future__ import annotations

import subprocess
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np
import pytest

import iterc
from iterc import sourcemap

ROOT = Path(__file__).resolve().parent.parent

LOG_STEP = '''\
optimizer logstep:
    hyper lr: real = 0.1 where lr > 0
    param x: real[...]
    oracle g = grad(x)
    step:
        let y = log(x)
        x <- x - lr * y * g
'''

SOLVER = '''\
solver rescale:
    dims n
    input a: real[n]
    state f: real[n] = 0
    step:
        f <- 2 * normalize(a)
    until true max 2
    output f
'''


@pytest.fixture
def log_step(tmp_path):
    path = tmp_path / "logstep.iter"
    path.write_text(LOG_STEP)
    return path


def test_a_numpy_warning_points_at_the_iter_line(log_step):
    opt = iterc.load(log_step).numpy()
    x = np.array([-2.0, 3.0])
    with pytest.warns(RuntimeWarning, match="invalid value encountered in log") as record:
        opt.step(x, opt.init(x), np.ones(2))
    [w] = [w for w in record if issubclass(w.category, RuntimeWarning)]
    assert (w.filename, w.lineno) == (str(log_step), 6)          # `let y = log(x)`


def test_the_shown_warning_quotes_the_iter_source(log_step):
    """What a user sees on stderr: `logstep.iter:6: RuntimeWarning: ...` and the .iter line."""
    probe = ("import warnings, numpy as np, iterc\n"
             "warnings.simplefilter('default')\n"
             f"opt = iterc.load({str(log_step)!r}).numpy()\n"
             "x = np.array([-1.0])\n"
             "opt.step(x, opt.init(x), np.ones(1))\n")
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    assert f"{log_step}:6: RuntimeWarning: invalid value encountered in log" in proc.stderr
    assert "let y = log(x)" in proc.stderr


INV_STEP = """optimizer invstep:
    hyper lr: real = 0.1
    param W: real[n, n]
    oracle g = grad(W)
    step:
        let P = inv(W)
        W <- W - lr * P @ g
    converges heuristic
"""


def test_an_error_in_a_step_carries_a_note_with_the_iter_line(tmp_path):
    """(A gradient of the wrong shape is caught before the step, naming the leaf; an error
    raised inside the step, here a singular matrix, names the .iter line.)"""
    path = tmp_path / "invstep.iter"
    path.write_text(INV_STEP)
    opt = iterc.load(path).numpy()
    W = np.zeros((2, 2))
    with pytest.raises(np.linalg.LinAlgError, match="Singular matrix") as info:
        opt.step(W, opt.init(W), np.ones((2, 2)))
    notes = getattr(info.value, "__notes__", [])
    assert notes == [f"in the .iter source, at {path}:6\n    let P = inv(W)"]
    shown = "".join(traceback.format_exception(info.value))
    assert f"at {path}:6" in shown
    assert "P = np.linalg.inv(W)  # invstep.iter:6" in shown       # the generated line, via linecache


def test_a_warning_raised_inside_the_runtime_blames_the_calling_iter_line(tmp_path):
    path = tmp_path / "rescale.iter"
    path.write_text(SOLVER)
    solver = iterc.load(path).numpy()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        solver.solve(a=np.zeros(2))                     # 0 / 0 inside rt.normalize
    assert record, "expected a RuntimeWarning"
    assert {(w.filename, w.lineno) for w in record} == {(str(path), 6)}


def test_warnings_as_errors_also_get_the_note(log_step):
    opt = iterc.load(log_step).numpy()
    x = np.array([-1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(RuntimeWarning) as info:
            opt.step(x, opt.init(x), np.ones(1))
    assert info.value.__notes__ == [f"in the .iter source, at {log_step}:6\n    let y = log(x)"]


def test_errors_outside_generated_code_are_left_alone(log_step):
    opt = iterc.load(log_step).numpy()
    with pytest.raises(ValueError) as info:
        opt.step(np.ones(2), opt.init(np.ones(2)), np.ones(2), lr=-1)   # hyper check, in the runtime
    assert not getattr(info.value, "__notes__", None)


def test_the_map_reads_the_location_comments():
    source = ("def step_o(hp, x):\n"
              "    \"\"\"doc # o.iter:1\"\"\"\n"
              "    y = x + 1  # o.iter:7\n"
              "    if y > 0:  # helpers.iter:3\n"
              "        pass\n"
              "    return y\n")
    smap = sourcemap.SourceMap("<gen>", source, "/some/dir/o.iter")
    assert smap.lines == {3: ("/some/dir/o.iter", 7), 4: ("/some/dir/helpers.iter", 3)}

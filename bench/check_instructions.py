"""Instruction counts of `iterc check` (valgrind), for machines too busy to time.

    python bench/check_instructions.py

Wall clock and even CPU time swing with the load of a shared machine; the number of
instructions executed does not. This runs, under `valgrind --tool=cachegrind`:

- a cold `python -m iterc check stdlib/optim/adamw.iter` and `python -c "import click"`,
  and prints the ratio (the cold-start target is at most 1.5x);
- the in-process check of the three 300-line files of check_speed.py, counted as the
  difference between a process that checks the file three more times and one that
  checks it once more (so imports and setup cancel out).

A count is not a time (the cost of an instruction varies), but two counts of the same kind
of work compare well, e.g. before and after a change. Needs valgrind; takes a minute or two.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADAMW = ROOT / "stdlib" / "optim" / "adamw.iter"

_INPROCESS = """
import sys
sys.path[:0] = [{bench!r}, {root!r}]
from check_speed import dense, stdlib_style
from check_inprocess import program
from iterc.api import check_text
text = {{"stdlib-style": stdlib_style, "every-construct": program, "dense": dense}}[sys.argv[1]]()
check_text(text, "big.iter")
for _ in range(int(sys.argv[2])):
    check_text(text, "big.iter")
"""


def instructions(args: list[str]) -> int:
    """Instructions executed by `python ARGS` from the repository root."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT)
    subprocess.run([sys.executable, *args], capture_output=True, env=env, cwd=ROOT)   # write bytecode
    proc = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                           sys.executable, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    m = re.search(r"I\s+refs:\s+([\d,]+)", proc.stderr)
    if m is None:
        raise SystemExit(f"valgrind gave no count for {args}:\n{proc.stderr[-2000:]}")
    return int(m.group(1).replace(",", ""))


def main() -> None:
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed")
    click = instructions(["-c", "import click"])
    check = instructions(["-m", "iterc", "check", str(ADAMW)])
    print(f"cold   python -c 'import click'           {click / 1e6:8.1f} M instructions")
    print(f"cold   python -m iterc check adamw.iter   {check / 1e6:8.1f} M instructions"
          f"  = {check / click:.2f} x import click (target <= 1.5)")
    script = _INPROCESS.format(bench=str(ROOT / "bench"), root=str(ROOT))
    for label in ("stdlib-style", "every-construct", "dense"):
        once = instructions(["-c", script, label, "1"])
        thrice = instructions(["-c", script, label, "3"])
        print(f"in-process {label:15s} check: {(thrice - once) / 2 / 1e6:8.1f} M instructions")


if __name__ == "__main__":
    main()

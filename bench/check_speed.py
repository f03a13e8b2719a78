"""How fast `iterc check` answers: a cold process, and an in-process check of 300 lines.

    python bench/check_speed.py [--runs 20]

Targets: a cold `iterc check stdlib/optim/adamw.iter` (a whole new process) at most 1.5x
as long as `python -c "import click"` (the floor for a click command line), and under
0.3 s; checking a 300-line file in a warm process under 30 ms.

The cold commands run interleaved (click, then each iterc command, round after round), so
that a busy machine slows them alike, and the ratio to `import click` is the number to
read. They run from this checkout (PYTHONPATH), with bytecode caching on
(PYTHONDONTWRITEBYTECODE unset) after one warm-up run each, as an installed iterc would
run. Each time is given twice: wall clock, and CPU time (user + system, of the child
process or of this one). On a machine busier than it has cores, wall clock includes
waiting for a core and says little; CPU time still measures the work. Prints medians;
the in-process numbers also give parse-only and `fmt` times, to show where the time goes.
"""
from __future__ import annotations

import argparse
import os
try:
    import resource                       # CPU time of child processes (POSIX)
except ImportError:                       # pragma: no cover - Windows
    resource = None
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))             # measure this checkout, not whichever iterc is installed
ADAMW = ROOT / "stdlib" / "optim" / "adamw.iter"


def _cold_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _children_cpu() -> float:
    if resource is None:
        return float("nan")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cold_processes(commands: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float]]:
    """(median wall time, median CPU time) in s of each command in a fresh process, the
    commands interleaved."""
    env = _cold_env()
    for cmd in commands.values():            # warm the OS file cache and write bytecode, not Python
        subprocess.run(cmd, capture_output=True, check=True, env=env, cwd=ROOT)
    wall: dict[str, list[float]] = {label: [] for label in commands}
    cpu: dict[str, list[float]] = {label: [] for label in commands}
    for _ in range(runs):
        for label, cmd in commands.items():
            start, start_cpu = time.perf_counter(), _children_cpu()
            proc = subprocess.run(cmd, capture_output=True, env=env, cwd=ROOT)
            wall[label].append(time.perf_counter() - start)
            cpu[label].append(_children_cpu() - start_cpu)
            if proc.returncode != 0:
                raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout.decode()}{proc.stderr.decode()}")
    return {label: (statistics.median(wall[label]), statistics.median(cpu[label])) for label in commands}


def stdlib_style(n_lines: int = 300) -> str:
    """The stdlib optimizers, renamed and repeated until the file has about n_lines lines."""
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "stdlib").rglob("*.iter"))]
    parts, lines, i = [], 0, 0
    while lines < n_lines:
        text = texts[i % len(texts)]
        for kind in ("optimizer ", "solver "):
            if f"\n{kind}" in "\n" + text:
                name = ("\n" + text).split(f"\n{kind}")[1].split(":")[0]
                text = text.replace(f"{kind}{name}:", f"{kind}{name}_{i}:", 1)
        parts.append(text)
        lines += text.count("\n") + 1
        i += 1
    return "\n".join(parts)


def dense(n_lines: int = 300) -> str:
    """One long step of busy lines (about 28 tokens each): the parser's worst case."""
    head = ["optimizer big:", "    hyper lr: real = 1e-3 where lr > 0",
            "    hyper beta: real = 0.9 where 0 <= beta < 1", "    param x: real[...]",
            "    oracle g = grad(x)", "    state m: real[...] = 0", "    step t:"]
    body, i = [], 0
    while len(head) + len(body) < n_lines - 1:
        body.append(f"        let a{i} = beta * m + (1 - beta) * g * sqrt(abs(x) + {i}.0)")
        body.append(f"        m <- clip(a{i} / (norm(a{i}) + 1e-8), -1, 1) + max(m, 0) * lr ^ 2")
        i += 1
    return "\n".join(head + body + ["    converges heuristic"]) + "\n"


def median_ms(fn, runs: int) -> tuple[float, float]:
    """(median wall time, median CPU time of this process) in ms."""
    fn()                                                            # warm: grammar cache, imports
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return statistics.median(wall) * 1000, statistics.median(cpu) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=20, help="cold-process runs (median)")
    ap.add_argument("--inproc-runs", type=int, default=50, help="in-process runs (median and min)")
    args = ap.parse_args()

    from iterc.api import check_text
    from iterc.fmt import format_source
    from iterc.syntax.parser import parse_text

    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus{load}")
    commands = {"python -c 'import click'": [sys.executable, "-c", "import click"],
                "python -m iterc check": [sys.executable, "-m", "iterc", "check", str(ADAMW)]}
    script = shutil.which("iterc", path=str(Path(sys.executable).parent))
    if script:
        commands["iterc check (console script)"] = [script, "check", str(ADAMW)]
    medians = cold_processes(commands, args.runs)
    floor_wall, floor_cpu = medians["python -c 'import click'"]
    for label, (wall, cpu) in medians.items():
        line = f"cold   {label:30s} median of {args.runs}: wall {wall * 1000:6.1f} ms, cpu {cpu * 1000:6.1f} ms"
        if label != "python -c 'import click'":
            ratio_wall, ratio_cpu = wall / floor_wall, cpu / floor_cpu
            verdict = "ok" if ratio_cpu <= 1.5 and cpu < 0.3 else "OVER TARGET"
            line += (f"  = {ratio_wall:.2f} (wall), {ratio_cpu:.2f} (cpu) x import click "
                     f"(target <= 1.5, and < 300 ms) {verdict}")
        print(line)

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from check_inprocess import program as every_construct
    workloads = (("stdlib-style", stdlib_style()), ("every-construct", every_construct()), ("dense", dense()))
    for label, text in workloads:
        n = text.count("\n")
        result = check_text(text, "big.iter")
        if not result.ok:
            raise SystemExit(f"the {label} benchmark program does not check:\n"
                             + "\n".join(d.message for d in result.errors[:5]))
        check, check_cpu = median_ms(lambda: check_text(text, "big.iter"), args.inproc_runs)
        parse, parse_cpu = median_ms(lambda: parse_text(text, "big.iter"), args.inproc_runs)
        fmt, fmt_cpu = median_ms(lambda: format_source(text, "big.iter"), max(5, args.inproc_runs // 5))
        verdict = "ok" if check_cpu < 30 else "OVER TARGET"
        print(f"in-process {label:15s} {n} lines: check {check:6.1f} ms wall, {check_cpu:5.1f} ms cpu "
              f"(target < 30 ms) {verdict}; parse {parse:5.1f} / {parse_cpu:5.1f} ms; fmt {fmt:5.1f} / {fmt_cpu:5.1f} ms")


if __name__ == "__main__":
    main()

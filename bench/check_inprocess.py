"""Time `api.check_text` in process on a generated 300-line valid file (target: well under 30 ms).

The file mixes every construct the checker walks: optimizers with hypers, `where`
conditions, intervals, oracles (one with `every k`), f32 states, and steps with `let`,
`every`, `if/elif/else`, `for`, `repeat ... until ... max` and `prev`; solvers with dims,
inputs, broadcasting with `[:, None]`, axis reductions, post-step lets, `until` and
`output`; and `def`s called from both.

Run: python bench/check_inprocess.py [--runs N]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))   # this checkout, not an installed iterc

_DEFS = '''def lerp(a, b, w) = a + w * (b - a)

def clipped(v, c):
    """Clip v into [-c, c]."""
    let lo = -c
    return clip(v, lo, c)
'''

_OPTIMIZER = '''
optimizer opt_{i}:
    """Generated optimizer number {i}."""
    hyper lr: real = 1e-3            where lr > 0
    hyper beta: real in [0, 1) = 0.9
    hyper eps: real = 1e-8           where eps > 0
    hyper k: int = 2                 where k >= 1
    hyper nesterov: bool = false
    param x: real[...]
    oracle g = grad(x)
    oracle h = hess_diag(x) every k
    state m: f32[...] = 0
    state d: real[...] = 0
    step t:
        m <- lerp(g, m, beta)
        every k:
            d <- 0.5 * d + 0.5 * abs(h)
        let s = lr / sqrt(t)
        if nesterov:
            x <- x - s * (g + beta * m) / (sqrt(d) + eps)
        elif t > 100 and norm(m) > 1:
            x <- x - s * m / norm(m)
        else:
            x <- x - s * clipped(m, 1.0)
        for j in 1..3:
            x <- x - 0.01 * (x - prev(x)) / j
        repeat:
            x <- 0.5 * x
        until norm(x - prev(x)) <= 1e-3 max 5
    converges heuristic
'''

_SOLVER = '''
solver sinkhorn_{i}:
    """Generated solver number {i}."""
    dims n, m
    input C: real[n, m]
    input a: real[n] in simplex
    input b: real[m] in simplex
    hyper eps: real = 0.05           where eps > 0
    hyper tol: real = 1e-6           where tol > 0
    state f: real[n] = 0
    state g: real[m] = 0
    step:
        f <- eps * (log(a) - logsumexp((g[None, :] - C) / eps, axis=1))
        g <- eps * (log(b) - logsumexp((f[:, None] - C) / eps, axis=0))
    let P = exp((f[:, None] + g[None, :] - C) / eps)
    until norm1(sum(P, axis=1) - a) <= tol max 1000
    output P, f, g
    converges linear by cite "Franklin & Lorenz 1989"
'''


def program(n_lines: int = 300) -> str:
    """A valid file of about n_lines lines (never more), alternating optimizers and solvers."""
    parts, i = [_DEFS], 0
    while True:
        unit = (_OPTIMIZER if i % 3 != 2 else _SOLVER).format(i=i)
        if sum(p.count("\n") for p in parts) + unit.count("\n") > n_lines:
            break
        parts.append(unit)
        i += 1
    # top up with short optimizers so the file has exactly n_lines lines
    filler = "\noptimizer fill_{i}:\n    param x: real[...]\n    oracle g = grad(x)\n    step:\n        x <- x - 0.1 * g\n"
    while sum(p.count("\n") for p in parts) + filler.count("\n") <= n_lines:
        parts.append(filler.format(i=i))
        i += 1
    text = "".join(parts)
    return text + "\n" * (n_lines - text.count("\n"))


def median_ms(src: str, runs: int = 50) -> float:
    from iterc.api import check_text

    result = check_text(src, "bench.iter")
    assert result.ok and not result.diagnostics, [d.message for d in result.diagnostics]
    times, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        check_text(src, "bench.iter")
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    median_ms.cpu = statistics.median(cpu) * 1000  # CPU time: what a busy machine does not inflate
    return statistics.median(times) * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args()
    src = program()
    ms = median_ms(src, args.runs)
    print(f"{src.count(chr(10))}-line generated file: in-process check_text, median of {args.runs}: "
          f"{ms:.2f} ms wall, {median_ms.cpu:.2f} ms cpu (target: well under 30 ms)")


if __name__ == "__main__":
    main()

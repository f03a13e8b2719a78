"""Time an in-process `check` of a generated 300-line .iter file (target: under 30 ms).

Run: python bench/check_300_lines.py
"""
import statistics
import time

from iterc.api import check_text


def program(n_lines: int = 300) -> str:
    head = ["optimizer big:", '    """A long generated optimizer for timing the checker."""',
            "    hyper lr: real = 1e-3 where lr > 0", "    hyper beta: real = 0.9 where 0 <= beta < 1",
            "    param x: real[...]", "    oracle g = grad(x)", "    state m: real[...] = 0", "    step t:"]
    body = []
    i = 0
    while len(head) + len(body) < n_lines - 1:
        body.append(f"        let a{i} = beta * m + (1 - beta) * g * sqrt(abs(x) + {i}.0)")
        body.append(f"        m <- clip(a{i} / (norm(a{i}) + 1e-8), -1, 1) + max(m, 0) * lr ^ 2")
        i += 1
    return "\n".join(head + body + ["    converges heuristic"]) + "\n"


def stdlib_style(n_lines: int = 300) -> str:
    """A realistic file: the stdlib optimizers, renamed and repeated up to n_lines."""
    from pathlib import Path
    root = Path(__file__).resolve().parent.parent / "stdlib" / "optim"
    texts = [p.read_text() for p in sorted(root.glob("*.iter"))]
    out, i = [], 0
    while sum(t.count("\n") for t in out) < n_lines:
        text = texts[i % len(texts)]
        name = text.split("optimizer ")[1].split(":")[0]
        out.append(text.replace(f"optimizer {name}:", f"optimizer {name}_{i}:"))
        i += 1
    lines = "".join(out).split("\n")[:n_lines]
    while lines and lines[-1].startswith(" "):       # end on a whole method
        lines.pop()
    return "\n".join(lines[:-1] if lines[-1].strip() else lines) + "\n"


def median_ms(src: str, runs: int = 30) -> float:
    assert check_text(src, "big.iter").ok, "benchmark program must be valid"
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        check_text(src, "big.iter")
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    for label, src in [("stdlib-style", stdlib_style()), ("dense (28 tokens/line)", program())]:
        lines = src.count("\n")
        print(f"{label:24s} {lines} lines: in-process check, median of 30: {median_ms(src):.1f} ms (target < 30 ms)")


if __name__ == "__main__":
    main()

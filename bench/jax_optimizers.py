"""iterc's JAX `adamw` against `optax.adamw` on a GPT-2-small-shaped parameter tree.

    python bench/jax_optimizers.py [--d-model 256] [--layers 12] [--vocab 8192] [--steps 50] [--rounds 5] [--others]

The tree has GPT-2 small's 148 leaves (token and position embeddings, 12 blocks of two
layer norms, attention and MLP weights and biases, a final layer norm), scaled down so a
2-core CPU runs it (the defaults give about 12M parameters). Both optimizers run in the
same process on the same data, alternating, and each pattern reports the median of
`--steps` timed calls after a warm-up:

- update: `jax.jit(tx.update)(grads, state, params)` alone;
- train step: update and `optax.apply_updates` under one jit, params and state donated.

Both patterns are timed in `--rounds` rounds; each round gives the ratio iterc / optax of
the medians (goal <= 1.0), and the table shows the median round (its times, the bandwidth
a byte model implies: fp32 AdamW reads params, grads, m, v and writes updates (or params),
m, v, 28 bytes per parameter), the median of the rounds' ratios and their range. On a
shared 2-core machine one round's ratio moves by a few percent either way, so the spread is
printed too. Load-independent: the elementwise ops per parameter in the compiled programs
(every op of every fusion, times the elements it runs over, divided by the parameter
count; parameters, constants, broadcasts and reshapes not counted) and the number of
fusions. Then a measured copy bandwidth for scale, and compile time (trace + lower, XLA;
the least of three fresh transformations each).
"""
from __future__ import annotations

import argparse
import math
import os
import re
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import iterc  # noqa: E402

BYTES_PER_PARAM = 28


def gpt2_tree(d: int, layers: int, vocab: int, ctx: int, seed: int = 0) -> dict:
    """GPT-2's parameter tree (names and shapes, d_model = d), random float32 values."""
    rng = np.random.default_rng(seed)

    def w(*shape):
        return jnp.asarray(rng.normal(size=shape, scale=0.02), jnp.float32)

    tree = {"wte": w(vocab, d), "wpe": w(ctx, d), "ln_f": {"g": w(d), "b": w(d)}, "h": []}
    for _ in range(layers):
        tree["h"].append({
            "ln_1": {"g": w(d), "b": w(d)},
            "attn": {"c_attn": {"w": w(d, 3 * d), "b": w(3 * d)}, "c_proj": {"w": w(d, d), "b": w(d)}},
            "ln_2": {"g": w(d), "b": w(d)},
            "mlp": {"c_fc": {"w": w(d, 4 * d), "b": w(4 * d)}, "c_proj": {"w": w(4 * d, d), "b": w(d)}},
        })
    return tree


def interleaved(calls: dict, steps: int) -> dict[str, float]:
    """Median seconds per call of each zero-argument function, timed in alternation (the order
    flips every round), so a change in machine load hits all of them alike."""
    for call in calls.values():                       # warm-up (and compile)
        jax.block_until_ready(call())
    times: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for i in range(steps):
        for name in (names if i % 2 == 0 else names[::-1]):
            start = time.perf_counter()
            jax.block_until_ready(calls[name]())
            times[name].append(time.perf_counter() - start)
    return {name: (statistics.median(t), min(t)) for name, t in times.items()}


def fused_ops(hlo: str) -> tuple[int, int]:
    """(elementwise ops summed over every fusion's output elements, number of fusions) of an
    optimized HLO module's entry computation."""
    ops = {}
    for m in re.finditer(r"^(%[\w.\-]+) \([^\n]*\{\n(.*?)\n\}", hlo, re.S | re.M):
        ops[m.group(1)] = sum(1 for line in m.group(2).split("\n") if "=" in line and not re.search(
            r" (parameter|constant|broadcast|bitcast|reshape|tuple|get-tuple-element)\(", line))
    entry = hlo[hlo.index("ENTRY"):]
    total = count = 0
    for m in re.finditer(r"= \w+\[([\d,]*)\][^\n]*? fusion\([^\n]*calls=(%[\w.\-]+)", entry):
        total += ops.get(m.group(2), 0) * math.prod(int(d) for d in m.group(1).split(",") if d)
        count += 1
    return total, count


def compile_time(fn, *args) -> tuple[float, float]:
    start = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    traced = time.perf_counter() - start
    start = time.perf_counter()
    lowered.compile()
    return traced, time.perf_counter() - start


def donated(fn, carry: tuple, *rest):
    """A zero-argument call of `fn(*carry, *rest) -> carry` that donates and replaces its carry."""
    box = list(carry)

    def call():
        box[:] = fn(*box, *rest)
        return box
    return call


def copy_bandwidth(n: int, steps: int) -> float:
    """GB/s of x <- x * c over n float32 values, in place (donated): 8 bytes moved per value."""
    scale = jax.jit(lambda x: (x * 1.0001,), donate_argnums=0)
    t = interleaved({"copy": donated(scale, (jnp.ones(n, jnp.float32),))}, steps)["copy"][0]
    return 2 * 4 * n / t / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--d-model", type=int, default=256)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--vocab", type=int, default=8192)
    parser.add_argument("--ctx", type=int, default=256)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--others", action="store_true",
                        help="also time the train step of sgd, adam, lion and rmsprop against optax's")
    args = parser.parse_args()

    params = gpt2_tree(args.d_model, args.layers, args.vocab, args.ctx)
    grads = jax.tree.map(lambda p: p * 0.5 + 0.01, params)
    n = sum(p.size for p in jax.tree.leaves(params))
    hypers = dict(lr=1e-3, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.01)
    makers = {
        "iterc": lambda: iterc.load("adamw").optax(learning_rate=hypers["lr"], b1=hypers["b1"], b2=hypers["b2"],
                                                   eps=hypers["eps"], weight_decay=hypers["weight_decay"]),
        "optax": lambda: optax.adamw(hypers["lr"], b1=hypers["b1"], b2=hypers["b2"], eps=hypers["eps"],
                                     weight_decay=hypers["weight_decay"]),
    }
    txs = {name: make() for name, make in makers.items()}
    print(f"jax {jax.__version__}, optax {optax.__version__}, {jax.devices()[0].platform}, "
          f"{os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}")
    print(f"tree: {len(jax.tree.leaves(params))} leaves, {n / 1e6:.1f}M float32 parameters "
          f"(d_model {args.d_model}, {args.layers} layers, vocab {args.vocab}); median of {args.steps} steps")
    copy = copy_bandwidth(n, args.steps)
    print(f"copy bandwidth (x * c over {n / 1e6:.1f}M float32): {copy:.1f} GB/s")

    results: dict[str, dict[str, float]] = {name: {} for name in txs}
    jax.jit(lambda x: x + 1).lower(1.0).compile()        # JAX's one-time start-up is nobody's compile time
    for i in range(3):                                  # fresh transformations (no trace cache), alternating
        for name in (list(makers) if i % 2 == 0 else list(makers)[::-1]):
            tx = makers[name]()
            times = compile_time(tx.update, grads, tx.init(params), params)
            for what, t in zip(("trace", "compile"), times):
                results[name][what] = min(results[name].get(what, t), t)

    # update alone: the same inputs every call (nothing donated)
    update_calls = {}
    for name, tx in txs.items():
        update, state = jax.jit(tx.update), tx.init(params)
        update_calls[name] = lambda update=update, state=state: update(grads, state, params)
        results[name]["update ops"] = fused_ops(update.lower(grads, state, params).compile().as_text())

    # train step: update and apply_updates in one jit, params and state donated and carried
    def make_step(tx):
        def step(params, state, grads):
            updates, state = tx.update(grads, state, params)
            return optax.apply_updates(params, updates), state
        return jax.jit(step, donate_argnums=(0, 1))

    train_calls = {}
    for name, tx in txs.items():
        step = make_step(tx)
        results[name]["train step ops"] = fused_ops(step.lower(params, tx.init(params), grads).compile().as_text())
        train_calls[name] = donated(step, (jax.tree.map(jnp.copy, params), tx.init(params)), grads)

    rounds: dict[str, list] = {"update": [], "train step": []}
    for _ in range(args.rounds):
        for pattern, calls in (("update", update_calls), ("train step", train_calls)):
            rounds[pattern].append(interleaved(calls, args.steps))

    print()
    print(f"{'pattern':<12} {'iterc ms':>9} {'optax ms':>9} {'ratio':>6} {'range':>11} {'iterc GB/s':>11}"
          f" {'optax GB/s':>11} {'ops/param':>10} {'fusions':>9}")
    for pattern in ("update", "train step"):
        ratios = sorted(r["iterc"][0] / r["optax"][0] for r in rounds[pattern])
        mid = statistics.median_low(ratios)
        middle = next(r for r in rounds[pattern] if r["iterc"][0] / r["optax"][0] == mid)
        a, b = middle["iterc"][0], middle["optax"][0]
        gbs = [BYTES_PER_PARAM * n / t / 1e9 for t in (a, b)]
        ops = [results[k][pattern + " ops"] for k in ("iterc", "optax")]
        print(f"{pattern:<12} {a * 1e3:9.2f} {b * 1e3:9.2f} {statistics.median(ratios):6.3f} "
              f"{ratios[0]:5.2f}-{ratios[-1]:.2f} {gbs[0]:11.1f} {gbs[1]:11.1f} "
              f"{ops[0][0] / n:4.1f}/{ops[1][0] / n:4.1f} {ops[0][1]:4d}/{ops[1][1]:d}")
    print(f"(ratio: the median of {args.rounds} rounds' ratios of medians; ops/param and fusions: iterc/optax)")
    print()
    print(f"{'compile':<12} {'iterc s':>9} {'optax s':>9} {'ratio':>6}")
    for what in ("trace", "compile"):
        a, b = results["iterc"][what], results["optax"][what]
        print(f"{what:<12} {a:9.3f} {b:9.3f} {a / b:6.2f}")
    if args.others:
        other_methods(params, grads, args, n, make_step)


# stdlib methods beside optax's of the same name, with the same hypers (the same work per
# element; the update rules agree where the names do, e.g. optax.sgd has no dampening)
OTHERS = {
    "sgd (momentum 0.9)": (lambda: iterc.load("sgd").optax(lr=1e-2, momentum=0.9),
                           lambda: optax.sgd(1e-2, momentum=0.9)),
    "adam": (lambda: iterc.load("adam").optax(lr=1e-3), lambda: optax.adam(1e-3)),
    "lion": (lambda: iterc.load("lion").optax(lr=1e-4, weight_decay=1e-2), lambda: optax.lion(1e-4, weight_decay=1e-2)),
    "rmsprop": (lambda: iterc.load("rmsprop").optax(lr=1e-3), lambda: optax.rmsprop(1e-3)),
}


def other_methods(params, grads, args, n, make_step) -> None:
    """The train step of a few more methods against optax's: ratio of medians (median of
    the rounds), element ops per parameter and fusions, both from the compiled programs."""
    print()
    print(f"{'train step':<20} {'iterc ms':>9} {'optax ms':>9} {'ratio':>6} {'range':>11} {'ops/param':>10}"
          f" {'fusions':>9}")
    for label, makers in OTHERS.items():
        calls, ops = {}, {}
        for name, make in zip(("iterc", "optax"), makers):
            tx = make()
            step = make_step(tx)
            ops[name] = fused_ops(step.lower(params, tx.init(params), grads).compile().as_text())
            calls[name] = donated(step, (jax.tree.map(jnp.copy, params), tx.init(params)), grads)
        rounds = [interleaved(calls, args.steps) for _ in range(args.rounds)]
        ratios = sorted(r["iterc"][0] / r["optax"][0] for r in rounds)
        middle = next(r for r in rounds if r["iterc"][0] / r["optax"][0] == statistics.median_low(ratios))
        print(f"{label:<20} {middle['iterc'][0] * 1e3:9.2f} {middle['optax'][0] * 1e3:9.2f} "
              f"{statistics.median(ratios):6.3f} {ratios[0]:5.2f}-{ratios[-1]:.2f} "
              f"{ops['iterc'][0] / n:4.1f}/{ops['optax'][0] / n:4.1f} {ops['iterc'][1]:4d}/{ops['optax'][1]:d}")


if __name__ == "__main__":
    main()

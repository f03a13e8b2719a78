"""stdlib/schedules.iter against optax's schedules, and a method that uses one.

Convention under test: a schedule def takes the method's step counter `t` (1 on the first
step) and equals optax's schedule of the same shape at the step count `t - 1` (optax counts
the steps already taken, from 0). Each def is evaluated by a tiny optimizer that records
`def(t, ...)` in a scalar state on every step; its values for t = 1..STEPS are compared with
`schedule(t - 1)` in float64, to 1e-12.
"""
from __future__ import annotations

import numpy as np
import pytest

import iterc

from reference import assert_trees_close, problem, run_iterc, run_optax

optax = pytest.importorskip("optax")
jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)

STEPS = 120

# def name -> its arguments after t, with the type of the hyper that feeds each one
SIGNATURES = {
    "linear_warmup": [("init_value", "real"), ("peak_value", "real"), ("warmup_steps", "int")],
    "cosine": [("init_value", "real"), ("decay_steps", "int"), ("alpha", "real")],
    "warmup_cosine": [("init_value", "real"), ("peak_value", "real"), ("warmup_steps", "int"),
                      ("decay_steps", "int"), ("end_value", "real")],
    "wsd": [("init_value", "real"), ("peak_value", "real"), ("warmup_steps", "int"), ("stable_steps", "int"),
            ("decay_steps", "int"), ("end_value", "real")],
    "exponential": [("init_value", "real"), ("transition_steps", "int"), ("decay_rate", "real"),
                    ("staircase", "bool")],
    "step_decay": [("init_value", "real"), ("step_size", "int"), ("gamma", "real")],
    "polynomial": [("init_value", "real"), ("end_value", "real"), ("power", "real"), ("transition_steps", "int")],
}


def _probe_program() -> str:
    out = ["use schedules", ""]
    for name, args in SIGNATURES.items():
        out += [f"optimizer probe_{name}:"]
        out += [f"    hyper {a}: {ty}" for a, ty in args]
        out += ["    param x: real[...]", "    oracle g = grad(x)", "    state v: real = 0", "    step t:",
                f"        v <- {name}(t, {', '.join(a for a, _ in args)})", "        x <- x - v * g", ""]
    return "\n".join(out)


@pytest.fixture(scope="module")
def probe_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("schedules") / "probe.iter"
    path.write_text(_probe_program(), encoding="utf-8")
    return path


def ours(probe_path, name: str, **args) -> np.ndarray:
    """def `name` at t = 1..STEPS, as compiled by iterc."""
    opt = iterc.load(probe_path, method=f"probe_{name}").numpy(**args)
    x, g = {"w": np.zeros(())}, {"w": np.zeros(())}
    state = opt.init(x)
    values = []
    for _ in range(STEPS):
        x, state = opt.step(x, state, g)
        values.append(float(state["v"]["w"]))
    return np.array(values)


def theirs(schedule) -> np.ndarray:
    """An optax schedule at the step counts t - 1 = 0..STEPS-1."""
    values = np.asarray(schedule(jax.numpy.arange(STEPS, dtype=jax.numpy.int64)), dtype=np.float64)
    return np.broadcast_to(values, (STEPS,))                      # a constant schedule gives one number


def close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_the_probe_covers_every_def():
    from iterc.syntax.parser import parse_source
    from iterc.api import read_source, stdlib_dir
    module, _ = parse_source(read_source(stdlib_dir() / "schedules.iter")[0])
    assert {d.name.name for d in module.defs} == set(SIGNATURES)
    assert not module.methods


@pytest.mark.parametrize("init, peak, warmup", [(0.0, 1.0, 10), (0.1, 2.5, 1), (1e-3, 3e-4, 7), (0.2, 0.7, 119)])
def test_linear_warmup(probe_path, init, peak, warmup):
    got = ours(probe_path, "linear_warmup", init_value=init, peak_value=peak, warmup_steps=warmup)
    close(got, theirs(optax.linear_schedule(init, peak, warmup)))
    assert got[0] == init                                       # the first step runs at init_value


def test_linear_warmup_of_zero_steps_starts_at_the_peak(probe_path):
    # optax.linear_schedule(init, peak, 0) would stay at init; a 0-step warmup is skipped here
    got = ours(probe_path, "linear_warmup", init_value=0.0, peak_value=0.5, warmup_steps=0)
    close(got, np.full(STEPS, 0.5))


@pytest.mark.parametrize("init, decay, alpha", [(1.0, 50, 0.0), (0.3, 17, 0.1), (2.0, 1, 0.5), (0.1, 200, 0.0)])
def test_cosine(probe_path, init, decay, alpha):
    got = ours(probe_path, "cosine", init_value=init, decay_steps=decay, alpha=alpha)
    close(got, theirs(optax.cosine_decay_schedule(init, decay, alpha)))


@pytest.mark.parametrize("init, peak, warmup, decay, end", [
    (0.0, 1.0, 10, 100, 0.0), (1e-4, 0.1, 5, 60, 1e-3), (0.5, 1.0, 0, 30, 0.1), (0.0, 2.0, 1, 2, 0.0)])
def test_warmup_cosine(probe_path, init, peak, warmup, decay, end):
    got = ours(probe_path, "warmup_cosine", init_value=init, peak_value=peak, warmup_steps=warmup,
               decay_steps=decay, end_value=end)
    close(got, theirs(optax.warmup_cosine_decay_schedule(init, peak, warmup, decay, end)))


def _optax_wsd(init, peak, warmup, stable, decay, end):
    return optax.join_schedules(
        [optax.linear_schedule(init, peak, warmup), optax.constant_schedule(peak),
         optax.linear_schedule(peak, end, decay)],
        [warmup, warmup + stable])


@pytest.mark.parametrize("init, peak, warmup, stable, decay, end", [
    (0.0, 1.0, 10, 30, 20, 0.0), (0.1, 1.0, 0, 5, 13, 0.01), (0.0, 2.0, 3, 0, 7, 0.5), (0.0, 1.0, 20, 200, 10, 0.0)])
def test_wsd(probe_path, init, peak, warmup, stable, decay, end):
    got = ours(probe_path, "wsd", init_value=init, peak_value=peak, warmup_steps=warmup, stable_steps=stable,
               decay_steps=decay, end_value=end)
    close(got, theirs(_optax_wsd(init, peak, warmup, stable, decay, end)))


@pytest.mark.parametrize("init, steps, rate, staircase", [
    (1.0, 10, 0.5, False), (1.0, 10, 0.5, True), (0.3, 7, 0.9, True), (2.0, 3, 1.1, False), (0.1, 1, 0.97, False)])
def test_exponential(probe_path, init, steps, rate, staircase):
    got = ours(probe_path, "exponential", init_value=init, transition_steps=steps, decay_rate=rate,
               staircase=staircase)
    close(got, theirs(optax.exponential_decay(init, steps, rate, staircase=staircase)))


@pytest.mark.parametrize("init, size, gamma", [(1.0, 10, 0.1), (0.5, 3, 0.5), (2.0, 1, 0.9), (0.1, 30, 0.2)])
def test_step_decay(probe_path, init, size, gamma):
    got = ours(probe_path, "step_decay", init_value=init, step_size=size, gamma=gamma)
    boundaries = {k: gamma for k in range(size, STEPS + 1, size)}
    close(got, theirs(optax.piecewise_constant_schedule(init, boundaries)))
    close(got, theirs(optax.exponential_decay(init, size, gamma, staircase=True)))


@pytest.mark.parametrize("init, end, power, steps", [
    (1.0, 0.0, 1.0, 50), (1.0, 0.1, 2.0, 30), (0.5, 0.01, 0.5, 40), (0.0, 1.0, 3.0, 100), (1.0, 0.0, 1.0, 150)])
def test_polynomial(probe_path, init, end, power, steps):
    got = ours(probe_path, "polynomial", init_value=init, end_value=end, power=power, transition_steps=steps)
    close(got, theirs(optax.polynomial_schedule(init, end, power, steps)))


def test_polynomial_of_zero_steps_is_at_its_end(probe_path):
    got = ours(probe_path, "polynomial", init_value=1.0, end_value=0.25, power=2.0, transition_steps=0)
    close(got, np.full(STEPS, 0.25))


def test_schedules_are_not_methods():
    with pytest.raises(LookupError, match="defines no methods"):
        iterc.load("schedules")
    assert "schedules" not in {m.name for m in iterc.list_stdlib()}


# ---------------------------------------------------------------- a method that uses one

SGD_WARMUP_COSINE_CASES = [
    dict(lr=0.1, warmup_steps=10, decay_steps=100),
    dict(lr=0.05, init_lr=0.01, end_lr=1e-3, warmup_steps=0, decay_steps=60, momentum=0.8, nesterov=True),
    dict(lr=0.2, init_lr=0.02, warmup_steps=25, decay_steps=80, end_lr=0.01, momentum=0.0),
]


@pytest.mark.parametrize("hypers", SGD_WARMUP_COSINE_CASES, ids=lambda h: ",".join(f"{k}={v}" for k, v in h.items()))
def test_sgd_warmup_cosine_matches_optax(hypers):
    h = dict(init_lr=0.0, end_lr=0.0, momentum=0.9, nesterov=False) | hypers
    schedule = optax.warmup_cosine_decay_schedule(h["init_lr"], h["lr"], h["warmup_steps"], h["decay_steps"],
                                                  h["end_lr"])
    # optax keeps the step count as int32, and jax evaluates the schedule of an int32 count
    # in float32; an int64 count keeps the learning rate in float64, as iterc computes it.
    schedule64 = lambda count: schedule(jax.numpy.asarray(count, dtype=jax.numpy.int64))  # noqa: E731
    params, noises = problem(seed=7 + len(hypers))
    got = run_iterc("sgd_warmup_cosine", hypers, params, noises)
    want = run_optax(optax.sgd(schedule64, momentum=h["momentum"], nesterov=h["nesterov"]), params, noises)
    assert_trees_close(got, want, rtol=1e-9)


def test_sgd_warmup_cosine_needs_its_length():
    with pytest.raises(ValueError, match="decay_steps"):
        iterc.load("sgd_warmup_cosine").numpy()
    with pytest.raises(ValueError, match="decay_steps > warmup_steps"):
        iterc.load("sgd_warmup_cosine").numpy(warmup_steps=10, decay_steps=10)

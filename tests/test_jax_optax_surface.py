"""What an optax user does with a JAX-compiled method, checked against the numpy reference:
arbitrary pytrees, schedules, optax.chain, optax.inject_hyperparams, jit without
retracing, vmap over independent runs, pickled state, maximize, the errors, and the
command line that writes the module."""
import ast
import pickle
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import iterc  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


class Pair(NamedTuple):
    w: object
    b: object


def _params(rng):
    """Keys out of order, a list with a None, a NamedTuple, a Python float, a 0-d array."""
    return {"zeta": rng.normal(size=(3, 2)).astype(np.float32),
            "alpha": [rng.normal(size=4).astype(np.float32), None, 0.5],
            "mid": {"pair": Pair(rng.normal(size=(2,)).astype(np.float32), np.asarray(1.5, np.float32))}}


def _grads(rng, params):
    return jax.tree.map(lambda x: np.asarray(rng.normal(size=np.shape(x)), np.float32) + np.asarray(x, np.float32),
                        params)


def _close(ours, ref, rtol=1e-5):
    assert jax.tree.structure(ours) == jax.tree.structure(ref)
    for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref)):
        np.testing.assert_allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=rtol, atol=1e-6)


def _run_both(name, hypers, steps=6, tx=None, numpy_overrides=lambda t: {}, maximize=False, seed=0):
    """The same steps on numpy and on `tx` (default: the method's optax form), grads from a shared RNG."""
    rng = np.random.default_rng(seed)
    params = _params(rng)
    grads = [_grads(rng, params) for _ in range(steps)]
    opt = iterc.load(name).numpy(**hypers, maximize=maximize)
    state, ref = opt.init(params), params
    for t, g in enumerate(grads, start=1):
        ref, state = opt.step(ref, state, g, **numpy_overrides(t))
    tx = tx or iterc.load(name).optax(**hypers, maximize=maximize)
    x = params
    state = tx.init(x)
    step = jax.jit(lambda x, s, g: _apply(tx, x, s, g))
    for g in grads:
        x, state = step(x, state, g)
    return x, ref, state


def _apply(tx, x, state, g, **extra):
    updates, state = tx.update(g, state, x, **extra)
    return optax.apply_updates(x, updates), state


def test_arbitrary_pytrees_keep_their_structure_and_match_numpy():
    ours, ref, state = _run_both("adamw", dict(lr=0.05))
    _close(ours, ref)
    assert isinstance(ours["mid"]["pair"], Pair) and ours["alpha"][1] is None
    assert jax.tree.structure(state.m) == jax.tree.structure(ours)


def test_state_is_a_named_tuple_with_none_for_unused_states():
    tx = iterc.load("adamw").optax()
    state = tx.init({"w": jnp.ones(3)})
    assert type(state).__name__ == "AdamwState" and state._fields == ("count", "m", "v", "vmax")
    assert state.vmax is None and int(state.count) == 0
    assert repr(state).startswith("AdamwState(count=")
    assert iterc.load("adamw").optax(amsgrad=True).init({"w": jnp.ones(3)}).vmax is not None


def test_a_schedule_is_evaluated_at_the_step_count_inside_update():
    sched = optax.exponential_decay(0.1, transition_steps=2, decay_rate=0.5)
    ours, ref, _ = _run_both("sgd", dict(momentum=0.9), tx=iterc.load("sgd").optax(learning_rate=sched, momentum=0.9),
                             numpy_overrides=lambda t: {"lr": float(sched(t - 1))})
    _close(ours, ref)
    # a warmup from 0 is a fine schedule, though `lr > 0` does not hold at its first step
    warm = iterc.load("adamw").optax(optax.linear_schedule(0.0, 1e-3, 10))
    x = {"w": jnp.ones(3)}
    updates, _ = warm.update({"w": jnp.ones(3)}, warm.init(x), x)
    np.testing.assert_array_equal(updates["w"], 0.0)
    with pytest.raises(ValueError, match="static.*cannot be a schedule"):
        iterc.load("adamw").optax(amsgrad=lambda count: True)


def test_chain_after_clip_by_global_norm():
    clip = 1.0
    rng = np.random.default_rng(4)
    params = _params(rng)
    grads = [_grads(rng, params) for _ in range(5)]
    opt = iterc.load("adamw").numpy(lr=0.01)
    state, ref = opt.init(params), params
    for g in grads:
        norm = np.sqrt(sum(np.sum(np.square(np.asarray(v, np.float64))) for v in jax.tree.leaves(g)))
        ref, state = opt.step(ref, state, jax.tree.map(lambda v: v * min(1.0, clip / norm), g))
    tx = optax.chain(optax.clip_by_global_norm(clip), iterc.load("adamw").optax(0.01))
    x, s = params, tx.init(params)
    step = jax.jit(lambda x, s, g: _apply(tx, x, s, g))
    for g in grads:
        x, s = step(x, s, g)
    _close(x, ref)


def test_inject_hyperparams_changes_the_learning_rate_without_retracing():
    tx = optax.inject_hyperparams(iterc.load("adam").optax)(learning_rate=0.02, b1=0.8)
    traces = []

    @jax.jit
    def step(x, s, g):
        traces.append(1)
        return _apply(tx, x, s, g)

    rng = np.random.default_rng(5)
    params = _params(rng)
    grads = [_grads(rng, params) for _ in range(6)]
    x = jax.tree.map(lambda v: jnp.asarray(v, jnp.float32), params)    # strongly typed, so no retrace on types
    s = tx.init(x)
    lrs = [0.02, 0.02, 0.01, 0.01, 0.005, 0.005]
    for lr, g in zip(lrs, grads):
        s.hyperparams["learning_rate"] = jnp.asarray(lr, jnp.float32)
        x, s = step(x, s, g)
    assert len(traces) == 1
    opt = iterc.load("adam").numpy(beta1=0.8)
    ref, state = params, opt.init(params)
    for lr, g in zip(lrs, grads):
        ref, state = opt.step(ref, state, g, lr=lr)
    _close(x, ref)


def test_inject_hyperparams_needs_static_args_for_an_int_hyper(tmp_path):
    path = tmp_path / "periodic.iter"
    path.write_text("optimizer periodic:\n    hyper lr: real = 0.1 where lr > 0\n    hyper k: int = 2 where k >= 1\n"
                    "    param x: real[...]\n    oracle g = grad(x)\n    state m: real[...] = 0\n    step:\n"
                    "        every k:\n            m <- 0\n        m <- 0.9 * m + g\n        x <- x - lr * m\n")
    factory = iterc.load(path).optax
    x = {"w": jnp.ones(3)}
    bad = optax.inject_hyperparams(factory)(learning_rate=0.1, k=3)
    with pytest.raises(ValueError, match=r"static_args=\('k',\)"):
        jax.jit(lambda s: bad.update(x, s, x))(bad.init(x))
    good = optax.inject_hyperparams(factory, static_args=("k",))(learning_rate=0.1, k=3)
    updates, _ = jax.jit(lambda s: good.update(x, s, x))(good.init(x))
    np.testing.assert_allclose(updates["w"], -0.1)


def test_jit_does_not_retrace_when_a_real_hyper_changes():
    tx = iterc.load("sgd").optax(0.1, momentum=0.9)
    traces = []

    @jax.jit
    def step(x, s, g, lr):
        traces.append(1)
        return _apply(tx, x, s, g, lr=lr)

    x = {"w": jnp.ones(3)}
    s = tx.init(x)
    for lr in (0.1, 0.05, 0.02):
        x, s = step(x, s, {"w": jnp.ones(3)}, lr)
    assert len(traces) == 1
    ref = iterc.load("sgd").numpy(lr=0.1, momentum=0.9)
    rx, rs = {"w": np.ones(3, np.float32)}, None
    rs = ref.init(rx)
    for lr in (0.1, 0.05, 0.02):
        rx, rs = ref.step(rx, rs, {"w": np.ones(3, np.float32)}, lr=lr)
    _close(x, rx)


def test_vmap_over_independent_runs():
    tx = iterc.load("sgd").optax(0.05, momentum=0.9, nesterov=True)
    rng = np.random.default_rng(6)
    runs = [{"w": rng.normal(size=(2, 3)).astype(np.float32), "b": rng.normal(size=()).astype(np.float32)}
            for _ in range(3)]
    grads = [[jax.tree.map(lambda v: rng.normal(size=np.shape(v)).astype(np.float32), r) for r in runs]
             for _ in range(4)]
    batched = jax.tree.map(lambda *v: jnp.stack(v), *runs)
    state = jax.vmap(tx.init)(batched)
    step = jax.jit(jax.vmap(lambda x, s, g: _apply(tx, x, s, g)))
    for gs in grads:
        batched, state = step(batched, state, jax.tree.map(lambda *v: jnp.stack(v), *gs))
    for i, run in enumerate(runs):
        x, s = run, tx.init(run)
        for gs in grads:
            x, s = _apply(tx, x, s, gs[i])
        _close(jax.tree.map(lambda v: v[i], batched), x, rtol=1e-6)
    np.testing.assert_array_equal(state.count, [4, 4, 4])


def test_state_pickles_and_restores_in_a_fresh_process(tmp_path):
    tx = iterc.load("adamw").optax(0.01)
    x = {"w": jnp.arange(3.0)}
    s = tx.init(x)
    updates, s = tx.update({"w": jnp.ones(3)}, s, x)
    again = pickle.loads(pickle.dumps(s))
    assert type(again) is type(s)
    _close(again, s, rtol=0)
    tx.update({"w": jnp.ones(3)}, again, x)               # usable as is
    path = tmp_path / "state.pkl"
    path.write_bytes(pickle.dumps(s))
    probe = f"import pickle; s = pickle.loads(open({str(path)!r}, 'rb').read()); print(type(s).__name__, s._fields)"
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "AdamwState ('count', 'm', 'v', 'vmax')"


def test_state_checkpoints_with_orbax_and_training_resumes_exactly(tmp_path):
    """Params and an optimizer state (a NamedTuple with a None field, None leaves in the
    tree) saved by orbax's StandardCheckpointer and restored against `tx.init`'s structure:
    the same class, and the next steps give the same params as the run that never stopped."""
    ocp = pytest.importorskip("orbax.checkpoint")
    tx = iterc.load("adamw").optax(lr=0.01, weight_decay=0.1)
    rng = np.random.default_rng(5)
    x = {"w": jnp.asarray(rng.normal(size=(3, 4)), jnp.float32), "rest": [jnp.zeros(2), None, jnp.float32(1.5)]}
    grads = [jax.tree.map(lambda v: jnp.asarray(rng.normal(size=np.shape(v)), jnp.float32), x) for _ in range(6)]
    s = tx.init(x)
    for g in grads[:3]:
        x, s = _apply(tx, x, s, g)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(tmp_path / "step3", {"params": x, "opt": s})
    checkpointer.wait_until_finished()
    target = jax.tree.map(ocp.utils.to_shape_dtype_struct, {"params": x, "opt": tx.init(x)})
    back = checkpointer.restore(tmp_path / "step3", target)
    assert type(back["opt"]) is type(s) and back["opt"].vmax is None and int(back["opt"].count) == 3
    resumed_x, resumed_s = back["params"], back["opt"]
    for g in grads[3:]:
        x, s = _apply(tx, x, s, g)
        resumed_x, resumed_s = _apply(tx, resumed_x, resumed_s, g)
    for ours, ref in ((resumed_x, x), (resumed_s, s)):
        assert jax.tree.structure(ours) == jax.tree.structure(ref)
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(ref)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


WRAPPERS = {
    "MultiSteps": lambda tx: optax.MultiSteps(tx, every_k_schedule=3),
    "masked": lambda tx: optax.masked(tx, {"w": True, "b": False, "s": True}),
    "apply_if_finite": lambda tx: optax.apply_if_finite(tx, max_consecutive_errors=3),
    "multi_transform": lambda tx: optax.multi_transform({"a": tx, "b": optax.sgd(0.1)}, {"w": "a", "b": "b", "s": "a"}),
}


@pytest.mark.parametrize("wrap", list(WRAPPERS))
def test_optax_wrappers_take_an_iterc_transformation_as_they_take_optax_adamw(wrap):
    """Gradient accumulation, masks, skipping non-finite steps and per-label transforms:
    the same params as the wrapper around optax.adamw, in float64, over 9 steps (one
    gradient non-finite, which apply_if_finite skips)."""
    with jax.enable_x64(True):
        rng = np.random.default_rng(2)
        params = {"w": jnp.asarray(rng.normal(size=(3, 4))), "b": jnp.asarray(rng.normal(size=4)), "s": jnp.float64(0.5)}
        grads = [jax.tree.map(lambda v: jnp.asarray(rng.normal(size=np.shape(v))), params) for _ in range(9)]
        grads[4] = {**grads[4], "w": grads[4]["w"].at[0, 0].set(jnp.nan)} if wrap == "apply_if_finite" else grads[4]
        out = []
        for tx in (iterc.load("adamw").optax(lr=0.01, weight_decay=0.1), optax.adamw(0.01, weight_decay=0.1)):
            tx = WRAPPERS[wrap](tx)
            x, state = params, tx.init(params)
            update = jax.jit(tx.update)
            for g in grads:
                updates, state = update(g, state, x)
                x = optax.apply_updates(x, updates)
            out.append(x)
        for k in params:
            assert np.all(np.isfinite(np.asarray(out[0][k])))
            np.testing.assert_allclose(np.asarray(out[0][k]), np.asarray(out[1][k]), rtol=1e-12, atol=1e-14, err_msg=k)
        moved = {k: not np.allclose(out[0][k], params[k]) for k in params}
        assert moved == {"w": True, "b": True, "s": True}


def test_a_zero_weight_decay_is_skipped_as_torch_skips_it():
    """A real hyper that is exactly 0 when the transformation is made multiplies to zeros
    that XLA never reads (`g + weight_decay * x` costs no pass over x). As torch.optim.Adam
    skips a zero weight decay, an infinite parameter entry then gets a finite update; the
    other entries match torch. Given per call or through inject_hyperparams, the hyper is a
    traced value and nothing is skipped."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    x0 = rng.normal(size=(3, 4)).astype(np.float32)
    x0[1, 2] = np.inf
    grads = [rng.normal(size=(3, 4)).astype(np.float32) for _ in range(5)]
    p = torch.nn.Parameter(torch.tensor(x0))
    opt = torch.optim.Adam([p], lr=0.01, weight_decay=0.0)
    for g in grads:
        p.grad = torch.tensor(g)
        opt.step()
    tx = iterc.load("adam").optax(lr=0.01)                 # weight_decay = 0, the default
    x, state = {"w": jnp.asarray(x0)}, None
    state = tx.init(x)
    for g in grads:
        updates, state = jax.jit(tx.update)({"w": jnp.asarray(g)}, state, x)
        assert np.isfinite(np.asarray(updates["w"])).all()
        x = optax.apply_updates(x, updates)
    np.testing.assert_allclose(np.asarray(x["w"]), p.detach().numpy(), rtol=1e-5, atol=1e-6)
    x = {"w": jnp.asarray(x0)}
    state = tx.init(x)
    updates, _ = tx.update({"w": jnp.asarray(grads[0])}, state, x, weight_decay=0.0)   # per call: traced
    assert np.isnan(np.asarray(updates["w"])[1, 2])


def test_maximize_ascends_like_numpy():
    ours, ref, _ = _run_both("adam", dict(lr=0.01), maximize=True)
    _close(ours, ref)


def test_oracles_beyond_the_gradient_are_extra_args(tmp_path):
    path = tmp_path / "polyak.iter"
    path.write_text("optimizer polyak:\n    hyper f_star: real = 0\n    param x: real[...]\n    oracle g = grad(x)\n"
                    "    oracle f = value(x)\n    oracle h = hess_diag(x)\n    step:\n"
                    "        x <- x - (f - f_star) / (dot(g, g) + 1e-12) * g / h\n")
    tx = iterc.load(path).optax()
    x = {"w": jnp.asarray([1.0, -2.0])}
    g = {"w": jnp.asarray([2.0, -4.0])}
    by_kind, _ = tx.update(g, tx.init(x), x, value=5.0, hess_diag={"w": jnp.asarray([2.0, 4.0])})
    by_name, _ = tx.update(g, tx.init(x), x, f=5.0, h={"w": jnp.asarray([2.0, 4.0])}, unrelated=1)
    np.testing.assert_allclose(by_kind["w"], [-0.25, 0.25])
    np.testing.assert_allclose(by_name["w"], by_kind["w"])
    with pytest.raises(ValueError, match=r"oracle `f` \(value\) must be supplied every step; pass value="):
        tx.update(g, tx.init(x), x, hess_diag=g)


def test_errors_a_user_meets():
    m = iterc.load("adamw")
    with pytest.raises(ValueError, match=r"hyper condition `lr > 0` does not hold \(lr=-1.0\)"):
        m.optax(lr=-1)
    with pytest.raises(TypeError):
        m.optax(betta1=0.9)                              # not a parameter of the factory
    tx = m.optax()
    x = {"w": jnp.ones(3)}
    s = tx.init(x)
    with pytest.raises(ValueError, match="static .* cannot change per step"):
        tx.update(x, s, x, amsgrad=True)
    with pytest.raises(ValueError, match="needs the parameters"):
        tx.update(x, s)
    with pytest.raises(ValueError, match="tree structure"):
        tx.update({"v": jnp.ones(3)}, s, x)
    with pytest.raises(TypeError, match="solver"):
        iterc.load(ROOT / "stdlib" / "ot" / "sinkhorn.iter").optax


def test_compile_target_jax_writes_a_readable_module(tmp_path):
    out = tmp_path / "adamw_jax.py"
    probe = ("import sys\nfrom iterc.cli import main\ntry:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n"
             "    assert not e.code, e.code\nprint('JAX_IMPORTED=' + str('jax' in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", probe, "compile", "stdlib/optim/adamw.iter", "--target", "jax",
                           "-o", str(out)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "JAX_IMPORTED=False" in proc.stdout                 # printing JAX code imports no JAX
    code = out.read_text()
    imports = {alias.name for node in ast.walk(ast.parse(code)) if isinstance(node, (ast.Import, ast.ImportFrom))
               for alias in node.names}
    modules = {node.module for node in ast.walk(ast.parse(code)) if isinstance(node, ast.ImportFrom)}
    assert imports <= {"jax", "jax.numpy", "optax", "jax_rt"} and modules <= {"iterc.runtime"}
    assert "# adamw.iter:22" in code
    namespace: dict = {}
    exec(compile(code, str(out), "exec"), namespace)
    tx = namespace["METHODS"]["adamw"](1e-3)
    assert tx is not None and isinstance(tx, optax.GradientTransformationExtraArgs)
    assert namespace["adamw"] is namespace["METHODS"]["adamw"]


def test_update_traces_without_warnings():
    """Without x64, the step counter is int32 quietly (asking for int64 warned on every trace)."""
    import warnings
    tx = iterc.load("adamw").optax(1e-3)
    params = {"a": jnp.ones(3)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        updates, state = jax.jit(tx.update)(params, tx.init(params), params)
    assert int(state.count) == 1

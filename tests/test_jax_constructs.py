"""Every construct of the language on the JAX backend, against the numpy reference in float64.

The corpus is every valid program of docs/language.md (each construct's own example:
`every`, `if`/`elif` on a step, a leaf reduction, `for`, `repeat ... until`, `prev`,
ranked params and axis reductions, scalar and storage-typed states, `value` and
`hess_diag` oracles with `every k`, solvers with lets and `until`), plus programs for
the lowerings the corpus does not reach (a `for` too long to unroll, a `repeat` inside a
traced `if`, an every-k oracle left out on the steps that do not read it). A construct
without a JAX lowering fails here: compiling raises, and so does the test.
"""
import atexit
import pathlib
import shutil
import tempfile

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")
import jax.numpy as jnp  # noqa: E402

import iterc  # noqa: E402
from iterc.backends import target_of  # noqa: E402
from iterc.backends.pyexpr import Target, check_lowerable  # noqa: E402
from iterc.builtins import REGISTRY, Kind  # noqa: E402
from iterc.diagnostics import DiagnosticError  # noqa: E402
from test_docs import read_blocks  # noqa: E402

EXTRA = {
    "long_for.iter": '''
optimizer long_for:
    hyper lr: real = 0.1 where lr > 0
    hyper K: int = 20 where K >= 1
    param x: real[...]
    oracle g = grad(x)
    state s: real = 0
    step:
        for i in 1..K:
            s <- s + i / K
            x <- x - lr / (K + i) * g * s
''',
    "repeat_in_if.iter": '''
optimizer repeat_in_if:
    """A backtracking-like inner loop, only on steps whose gradient is large."""
    hyper lr: real = 1 where lr > 0
    param x: real[...]
    oracle g = grad(x)
    state s: real = 1
    step t:
        if norm(g) > 2:
            s <- lr
            repeat:
                s <- s / 2
            until s * norm(g) <= 1 max 30
        else:
            s <- lr / t
        x <- x - s * g
''',
    "mixed_states.iter": '''
optimizer mixed_states:
    hyper lr: real = 0.1 where lr > 0
    hyper beta: real = 0.9 where 0 <= beta < 1
    hyper k: int = 3 where k >= 1
    param x: real[...]
    oracle g = grad(x)
    oracle h = hess_diag(x) every k
    state m: f32[...] = 0
    state d: bf16[...] = 1
    state c: int = 0
    state big: bool = false
    step t:
        every k:
            d <- max(h, 0.5)
            c <- c + 1
        big <- norminf(g) > 1.5
        m <- beta * m + where(big, g / norminf(g), g)
        x <- x - lr * m / d
''',
}


def _corpus(tmp: pathlib.Path):
    """(path, method name, kind) for every valid program of docs/language.md, then EXTRA."""
    blocks = [b for b in read_blocks("language.md") if b.lang == "iter"]
    helpers = {b.marker[1][0]: b.text for b in blocks if b.marker[0] == "file"}
    out = []
    for b in blocks:
        if b.marker[0] != "ok":
            continue
        folder = tmp / f"line{b.line}"
        folder.mkdir()
        for name, text in helpers.items():
            (folder / name).write_text(text)
        out.append(folder / "main.iter")
        out[-1].write_text(b.text)
    for name, text in EXTRA.items():
        out.append(tmp / name)
        out[-1].write_text(text)
    return [(p, m.name, m.kind) for p in out for m in iterc.check_file(p).module.methods]


_TMP = pathlib.Path(tempfile.mkdtemp(prefix="iterc-jax-corpus-"))    # parametrization needs the files now
atexit.register(shutil.rmtree, _TMP, ignore_errors=True)
CORPUS = _corpus(_TMP)


def _spec(path, name):
    return iterc.api._compiled_module(path, "numpy").__dict__[f"SPEC_{name}"]


def _oracles(spec, t, x, omit_off_steps=False):
    out = {}
    for o in spec.oracles:
        if o.kind == "grad":
            continue
        if omit_off_steps and o.every is not None and (t - 1) % 3:
            continue                                      # the caller may leave it out on these steps
        if o.kind == "value":
            out[o.name] = float(sum(0.5 * np.sum(np.asarray(v) ** 2) for v in x.values()))
        elif o.kind == "hess_diag":
            out[o.name] = {k: np.full(np.shape(v), 1.0 + 0.1 * t) for k, v in x.items()}
        else:
            out[o.name] = {k: np.cos(np.asarray(v) * t) for k, v in x.items()}
    return out


def _shapes(spec, rng):
    if spec.param.dims is None:
        return [(3, 4), (5,), (), (2, 3, 2)]
    sizes: dict = {}
    return [tuple(d if isinstance(d, int) else sizes.setdefault((i, d), int(rng.integers(2, 5)))
                  for d in spec.param.dims) for i in range(3)]


OPTIMIZERS = [pytest.param(p, n, id=n) for p, n, kind in CORPUS if kind == "optimizer"]
SOLVERS = [pytest.param(p, n, id=n) for p, n, kind in CORPUS if kind == "solver"]


@pytest.mark.parametrize("path,name", OPTIMIZERS)
def test_optimizer_matches_numpy(path, name):
    spec = _spec(path, name)
    rng = np.random.default_rng(len(name))
    hypers = {h.name: 1.0 for h in spec.hypers if h.required}
    params = {f"p{i}": rng.uniform(0.5, 1.5, size=s) for i, s in enumerate(_shapes(spec, rng))}
    noises = [{k: 2 * rng.normal(size=np.shape(v)) for k, v in params.items()} for _ in range(12)]
    method = iterc.load(path, method=name)
    omit = name == "mixed_states"
    opt = method.numpy(**hypers)
    state, ref = opt.init(params), params
    for t, noise in enumerate(noises, start=1):
        ref, state = opt.step(ref, state, {k: noise[k] + ref[k] for k in noise}, **_oracles(spec, t, ref, omit))
    with jax.enable_x64(True):
        tx = method.optax(**hypers)
        x = {k: jnp.asarray(v) for k, v in params.items()}
        s = tx.init(x)

        @jax.jit
        def step(x, s, noise, extra):
            updates, s = tx.update(jax.tree.map(jnp.add, noise, x), s, x, **extra)
            return optax.apply_updates(x, updates), s

        for t, noise in enumerate(noises, start=1):
            x, s = step(x, s, noise, _oracles(spec, t, x, omit))
        for k in ref:
            np.testing.assert_allclose(np.asarray(x[k]), ref[k], rtol=1e-9, atol=1e-12, err_msg=k)
        for slot in spec.states:
            if state.get(slot.name) is None:
                continue
            ours = getattr(s, slot.name)
            if slot.shared:                               # one scalar for the whole tree
                assert np.asarray(ours).dtype == np.asarray(state[slot.name]).dtype, slot.name
                np.testing.assert_allclose(np.asarray(ours, np.float64), np.asarray(state[slot.name], np.float64),
                                           rtol=1e-6, atol=1e-9, err_msg=slot.name)
                continue
            for k in ref:                                 # states keep their storage dtype
                assert np.asarray(ours[k]).dtype == np.asarray(state[slot.name][k]).dtype, (slot.name, k)
                np.testing.assert_allclose(np.asarray(ours[k], np.float64), np.asarray(state[slot.name][k], np.float64),
                                           rtol=1e-6, atol=1e-9, err_msg=f"{slot.name}[{k}]")


@pytest.mark.parametrize("path,name", SOLVERS)
def test_solver_matches_numpy(path, name):
    spec = _spec(path, name)
    rng = np.random.default_rng(1)
    sizes: dict = {}
    inputs = {s.name: rng.uniform(0.5, 1.5, size=tuple(d if isinstance(d, int) else sizes.setdefault(d, 3 + len(sizes))
                                                       for d in (s.dims or ()))) for s in spec.inputs}
    for s in spec.inputs:                                   # move inputs into their declared domains
        if s.domain and s.domain[0] == "simplex":
            inputs[s.name] = inputs[s.name] / inputs[s.name].sum()
    oracles = {o.name: (lambda *args: 0.5 * args[-1]) for o in spec.oracles}     # a contraction
    method = iterc.load(path, method=name)
    ref = method.solve(**inputs, **oracles)
    if "seed" in {h.name for h in spec.hypers}:
        pytest.skip("random draws: numpy's PCG64 and JAX's PRNG differ (tests/test_jax_solver.py runs it)")
    with jax.enable_x64(True):
        sol = method.solve(backend="jax", **inputs, **oracles)
        assert int(sol.info.iterations) == ref.info.iterations and bool(sol.info.converged) == ref.info.converged
        for k, want in ref.outputs.items():
            got = np.asarray(sol.outputs[k])
            assert got.shape == np.shape(want) and got.dtype.kind == np.asarray(want).dtype.kind, k
            np.testing.assert_allclose(got.astype(float), np.asarray(want, float), rtol=1e-9, atol=1e-12, err_msg=k)


def test_the_corpus_reaches_every_region_lowering():
    """Python if, rt.select, rt.cond, the unrolled and the lax for, repeat, and the solver loop."""
    code = "\n".join(iterc.load(p, method=n).source("jax") for p, n, _ in CORPUS)
    for piece in ("rt.select(", "rt.cond(", "rt.fori_loop(", "rt.repeat(", "rt.iterate(", "    if hp."):
        assert piece in code, piece
    assert len(OPTIMIZERS) >= 15 and len(SOLVERS) >= 6


def test_every_builtin_has_a_jax_lowering():
    jax_table = target_of("jax").table
    missing = [name for name, entry in REGISTRY.items()
               if entry.primitive and entry.kind != Kind.SPECIAL and name not in jax_table]
    assert not missing


def test_a_missing_lowering_fails_compilation(tmp_path):
    path, name, _ = next(c for c in CORPUS if c[1] == "clipped_sgd")
    from iterc.backends import prepare
    from iterc.ir import lower_module
    module = lower_module(iterc.check_file(path).module)
    table = dict(target_of("jax").table)
    del table["norm"], table["sqrt"]                     # norm is kept or decomposed into sqrt: both gone
    with pytest.raises(DiagnosticError, match="has no lowering on target `jax`"):
        prepare(module, Target("jax", "jnp", table))
    with pytest.raises(DiagnosticError):
        check_lowerable(Target("jax", "jnp", {}), module.methods)

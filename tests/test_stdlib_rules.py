"""Methods with rules per leaf shape, against independent references.

muon: its matrix rule (rank >= 2 leaves, viewed as [shape[0], rest]) against
torch.optim.Muon on those leaves (the 4-d leaf handed to torch as its 2-d view, since
torch takes 2-d parameters only), and its delegation `rule otherwise = adamw(...)` against
torch.optim.AdamW on the 0-d and 1-d leaves: one tree mixing 0-d, 1-d, 2-d (tall and wide)
and 4-d leaves, 100 steps, gradient `noise + x`, float64, rtol 1e-5.

torch runs the Newton-Schulz iteration in bfloat16 (`grad.bfloat16()` in
_zeropower_via_newtonschulz). The exact comparison runs torch's own function with that cast
taken out (the source is torch's, edited at that one call), so both sides compute the same
algorithm in float64; a separate test runs torch unmodified, in bfloat16, for a few steps
at a tolerance that bf16's 8-bit mantissa allows.
"""
import inspect

import numpy as np
import optree
import pytest

import iterc
from reference import gradient, problem

torch = pytest.importorskip("torch")

SHAPES = [(), (5,), (4, 6), (7, 3), (3, 2, 2, 2), (1,)]
MATRIX = {"p2", "p3", "p4"}
STEPS = 100


@pytest.fixture
def ns_in_float64(monkeypatch):
    """torch's Newton-Schulz without its bfloat16 cast."""
    import torch.optim._muon as tm
    src = inspect.getsource(tm._zeropower_via_newtonschulz)
    assert src.count("grad.bfloat16()") == 1, "torch's Newton-Schulz changed: re-read torch/optim/_muon.py"
    namespace = dict(vars(tm))
    exec(src.replace("grad.bfloat16()", "grad.clone()"), namespace)
    monkeypatch.setattr(tm, "_zeropower_via_newtonschulz", namespace["_zeropower_via_newtonschulz"])


def _torch_muon(params, noises, muon_kw, adamw_kw):
    tp = {k: torch.tensor(np.asarray(v).reshape(v.shape[0], -1) if k in MATRIX else np.asarray(v),
                          dtype=torch.float64, requires_grad=True) for k, v in params.items()}
    muon = torch.optim.Muon([tp[k] for k in tp if k in MATRIX], **muon_kw)
    adamw = torch.optim.AdamW([tp[k] for k in tp if k not in MATRIX], **adamw_kw)
    for noise in noises:
        for k, p in tp.items():
            p.grad = torch.tensor(np.asarray(noise[k]).reshape(p.shape), dtype=torch.float64) + p.detach()
        muon.step()
        adamw.step()
    return {k: p.detach().numpy().reshape(np.shape(params[k])) for k, p in tp.items()}


def _ours(hypers, params, noises):
    opt = iterc.load("muon").numpy(**hypers)
    state = opt.init(params)
    x = params
    for noise in noises:
        x, state = opt.step(x, state, gradient(x, noise))
    return x, state


MUON_CASES = [
    (dict(), dict(), dict(lr=3e-4, weight_decay=0.01)),
    (dict(lr=0.02, momentum=0.9, weight_decay=0.05, adam_lr=1e-3, adam_beta1=0.8, adam_beta2=0.99,
          adam_eps=1e-6, adam_weight_decay=0.1),
     dict(lr=0.02, momentum=0.9, weight_decay=0.05),
     dict(lr=1e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    (dict(lr=0.01, nesterov=False), dict(lr=0.01, nesterov=False), dict(lr=3e-4, weight_decay=0.01)),
    (dict(lr=0.01, match_rms_adamw=True, ns_steps=3, ns_a=3.0, ns_b=-3.2, ns_c=1.2, eps=1e-5),
     dict(lr=0.01, adjust_lr_fn="match_rms_adamw", ns_steps=3, ns_coefficients=(3.0, -3.2, 1.2), eps=1e-5),
     dict(lr=3e-4, weight_decay=0.01)),
]


@pytest.mark.parametrize("ours,muon_kw,adamw_kw", MUON_CASES, ids=["defaults", "hypers", "no_nesterov", "rms_ns"])
def test_muon_matches_torch_muon_and_adamw(ours, muon_kw, adamw_kw, ns_in_float64):
    params, noises = problem(11, STEPS, SHAPES)
    x, state = _ours(ours, params, noises)
    ref = _torch_muon(params, noises, muon_kw, adamw_kw)
    for k in params:
        np.testing.assert_allclose(x[k], ref[k], rtol=1e-5, atol=1e-10, err_msg=k)
        assert not np.allclose(x[k], params[k])              # every leaf moved
    # the rules chosen at init: matrices (2-d, 4-d) to Newton-Schulz, the rest to adamw
    rules = {k: int(state["leaves"][k]["rule"]) for k in params}
    assert {k for k, r in rules.items() if r == 0} == MATRIX
    assert state["leaves"]["p4"]["B"].shape == (3, 8)       # the momentum of the 4-d leaf's matrix view


def test_muon_defaults_are_torchs():
    sig = inspect.signature(torch.optim.Muon).parameters
    opt = iterc.load("muon").numpy()
    hp = opt.hypers
    assert hp.lr == sig["lr"].default and hp.weight_decay == sig["weight_decay"].default
    assert hp.momentum == sig["momentum"].default and hp.nesterov == sig["nesterov"].default
    assert (hp.ns_a, hp.ns_b, hp.ns_c) == sig["ns_coefficients"].default
    assert hp.ns_steps == sig["ns_steps"].default and hp.eps == sig["eps"].default
    assert hp.match_rms_adamw == (sig["adjust_lr_fn"].default == "match_rms_adamw")
    adamw = inspect.signature(torch.optim.AdamW).parameters
    assert hp.adam_weight_decay == adamw["weight_decay"].default
    assert (hp.adam_beta1, hp.adam_beta2) == adamw["betas"].default and hp.adam_eps == adamw["eps"].default


def test_muon_close_to_torch_in_bfloat16():
    """torch unmodified: its Newton-Schulz in bfloat16 (relative error about 2^-8 per
    product); ours in float64. 5 steps, compared to 5e-2 of the step taken."""
    params, noises = problem(3, 5, SHAPES)
    x, _ = _ours(dict(lr=0.02), params, noises)
    ref = _torch_muon(params, noises, dict(lr=0.02), dict(lr=3e-4, weight_decay=0.01))
    for k in MATRIX:
        moved = np.abs(ref[k] - params[k]).max()
        assert np.abs(x[k] - ref[k]).max() < 5e-2 * moved, k


def test_rule_index_survives_a_resume_and_is_checked():
    """The rule is chosen at init and recorded: a resumed run (state flattened and rebuilt,
    as a checkpoint would) takes the same rules and gives the same iterates."""
    params, noises = problem(5, 6, SHAPES)
    opt = iterc.load("muon").numpy(lr=0.02)
    state = opt.init(params)
    x = params
    for noise in noises[:3]:
        x, state = opt.step(x, state, gradient(x, noise))
    leaves, spec = optree.tree_flatten(state)
    resumed = optree.tree_unflatten(spec, [np.array(v) for v in leaves])
    a, b = x, x
    sa, sb = state, resumed
    for noise in noises[3:]:
        a, sa = opt.step(a, sa, gradient(a, noise))
        b, sb = opt.step(b, sb, gradient(b, noise))
    for k in params:
        np.testing.assert_array_equal(a[k], b[k])
    bad = dict(x, p1=np.zeros((5, 2)))
    with pytest.raises(ValueError, match=r"params\['p1'\] has shape \(5, 2\)"):
        opt.step(bad, state, optree.tree_map(np.ones_like, bad))


MEMORY = """
optimizer layered:
    hyper lr: real = 0.1 where lr > 0
    param x: real[...]
    oracle g = grad(x)

    rule for x: real[m, n] as matrix:
        state B: real[m, n] = 0
        state r: real[m] = 0
        step:
            B <- 0.9 * B + g
            r <- 0.5 * r + sum(g * g, axis=1)
            var X = B / max(norm(B), 1e-12)
            for i in 1..3:
                X <- 1.5 * X - 0.5 * X @ X.T @ X
            x <- x - lr * X / sqrt(max(r, 1e-12))[:, None]

    rule for x: real[n]:
        state v: real[n] = 0
        step:
            v <- v + g * g
            x <- x - lr * g / (sqrt(v) + 1e-8)

    rule otherwise = adamw(lr=lr)
"""


def test_a_rule_allocates_its_own_states_only(tmp_path):
    """Per-leaf records hold exactly the states of the leaf's rule, shaped by the rule's
    dims (the matrix view for a 4-d leaf); the loop variable `X` is stored nowhere; the
    delegate's `vmax` (AMSGrad only) is not allocated; total memory is what the rules
    declare."""
    path = tmp_path / "layered.iter"
    path.write_text(MEMORY)
    opt = iterc.load(path).numpy()
    rng = np.random.default_rng(0)
    params = {"w": rng.normal(size=(4, 3)), "k": rng.normal(size=(2, 3, 2, 2)), "b": rng.normal(size=5),
              "s": np.float64(0.3)}
    state = opt.init(params)
    shapes = {k: {n: np.shape(v) for n, v in rec.items() if n != "rule"} for k, rec in state["leaves"].items()}
    assert shapes == {"w": {"B": (4, 3), "r": (4,)}, "k": {"B": (2, 12), "r": (2,)}, "b": {"v": (5,)},
                      "s": {"m": (), "v": ()}}
    stored = sum(np.asarray(v).size for k, rec in state["leaves"].items() for n, v in rec.items() if n != "rule")
    assert stored == (12 + 4) + (24 + 2) + 5 + 2
    x = params
    for _ in range(3):
        x, state = opt.step(x, state, optree.tree_map(lambda a: a + 0.1, x))
    shapes_after = {k: {n: np.shape(v) for n, v in rec.items() if n != "rule"} for k, rec in state["leaves"].items()}
    assert shapes_after == shapes
    # the vector rule is exactly Adagrad (v starts at 0): check the arithmetic of one leaf
    b, v = params["b"], np.zeros(5)
    for _ in range(3):
        gb = b + 0.1
        v = v + gb * gb
        b = b - 0.1 * gb / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(x["b"], b, rtol=1e-12)
    source = iterc.load(path).source()
    assert "X = B / " in source and "\"X\"" not in source


def test_no_rule_for_a_leaf_is_an_error_naming_it(tmp_path):
    path = tmp_path / "only_matrices.iter"
    path.write_text(MEMORY.replace("    rule otherwise = adamw(lr=lr)\n", ""))
    opt = iterc.load(path).numpy()
    with pytest.raises(ValueError, match=r"no rule takes params\['s'\] with shape \(\)"):
        opt.init({"w": np.ones((2, 2)), "s": np.float64(1.0)})


# ---------------------------------------------------------------- adafactor

AF_SHAPES = [(), (5,), (4, 6), (7, 3), (2, 3, 4), (1,)]


@pytest.fixture
def torch_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _run(name, hypers, params, noises):
    opt = iterc.load(name).numpy(**hypers)
    state = opt.init(params)
    x = params
    for noise in noises:
        x, state = opt.step(x, state, gradient(x, noise))
    return x, state


AF_TORCH = [
    (dict(), dict()),
    (dict(lr=0.05, beta2_decay=-0.5, d=2.0, weight_decay=0.1, eps1=1e-10, eps2=1e-2),
     dict(lr=0.05, beta2_decay=-0.5, d=2.0, weight_decay=0.1, eps=(1e-10, 1e-2))),
    (dict(lr=0.3), dict(lr=0.3)),          # the relative step 1/sqrt(t) caps lr from step 12 on
]


@pytest.mark.parametrize("ours,theirs", AF_TORCH, ids=["defaults", "hypers", "relative_cap"])
def test_adafactor_matches_torch(ours, theirs, torch_float64):
    """Factored moments for the 2-d leaves (tall and wide) and the 3-d leaf (batched over its
    first axis, as torch does), full moments for the 0-d and 1-d ones; 100 steps, rtol 1e-5."""
    from reference import run_torch
    params, noises = problem(21, 100, AF_SHAPES)
    x, state = _run("adafactor", ours, params, noises)
    ref = run_torch(lambda ps: torch.optim.Adafactor(ps, **theirs), params, noises)
    for k in params:
        np.testing.assert_allclose(x[k], ref[k], rtol=1e-5, atol=1e-12, err_msg=k)
    kept = {k: sorted(n for n in rec if n != "rule") for k, rec in state["leaves"].items()}
    assert kept == {"p0": ["v"], "p1": ["v"], "p2": ["col", "row"], "p3": ["col", "row"], "p4": ["col", "row"],
                    "p5": ["v"]}
    assert state["leaves"]["p2"]["row"].shape == (4,) and state["leaves"]["p4"]["col"].shape == (2, 4)


def test_adafactor_defaults_are_torchs():
    sig = inspect.signature(torch.optim.Adafactor).parameters
    hp = iterc.load("adafactor").numpy().hypers
    assert hp.lr == sig["lr"].default and hp.beta2_decay == sig["beta2_decay"].default
    assert hp.d == sig["d"].default and hp.weight_decay == sig["weight_decay"].default
    eps1, eps2 = sig["eps"].default
    assert eps1 is None and hp.eps1 == np.finfo(np.float64).eps and hp.eps2 == eps2
    assert hp.relative_step and hp.scale_parameter and hp.eps_sq == 0


def _optax_adafactor(lr, relative_step=True, **kw):
    import jax.numpy as jnp
    import optax
    rate = (lambda count: jnp.minimum(lr, 1 / jnp.sqrt(count + 1.0))) if relative_step else lr
    return optax.adafactor(learning_rate=rate, min_dim_size_to_factor=1, decay_rate=0.8, **kw)


AF_OPTAX = [
    (dict(eps1=0.0, eps_sq=1e-30), dict(lr=1e-2)),
    (dict(lr=0.05, eps1=0.0, eps_sq=1e-30, relative_step=False, weight_decay=0.2, d=2.0),
     dict(lr=0.05, relative_step=False, weight_decay_rate=0.05 * 0.2, clipping_threshold=2.0)),
    (dict(lr=0.02, eps1=0.0, eps_sq=1e-20, scale_parameter=False),
     dict(lr=0.02, multiply_by_parameter_scale=False, eps=1e-20)),
]


@pytest.mark.parametrize("ours,theirs", AF_OPTAX, ids=["relative", "constant_lr_decay", "no_param_scale"])
def test_adafactor_matches_optax(ours, theirs):
    """optax.adafactor with torch's choices made explicit: factor every matrix
    (min_dim_size_to_factor=1), the relative step min(lr, 1/sqrt(t)) as its learning-rate
    schedule, and our `eps_sq` for its epsilon (with eps1 = 0, since optax has no floor).
    optax computes the decay 1 - t^-0.8 in float32 (`_decay_rate_pow`), so the weight of the
    new g^2, t^-0.8 = 1 - decay, carries an error of about 6e-8 / t^-0.8 (2e-6 relative at
    t = 100): entries of the iterates drift by up to 1e-5 of the leaf's scale, which is the
    tolerance here (rtol 1e-5 and atol 1e-5 times the leaf's largest entry)."""
    pytest.importorskip("optax")
    from reference import run_optax
    params, noises = problem(22, 100, AF_SHAPES)
    x, _ = _run("adafactor", ours, params, noises)
    ref = run_optax(_optax_adafactor(**theirs), params, noises)
    for k in params:
        np.testing.assert_allclose(x[k], ref[k], rtol=1e-5, atol=1e-5 * np.abs(ref[k]).max(), err_msg=k)


def test_adafactor_rank_four_is_unfactored():
    """Leaves of rank 4 keep the full second moment (torch factors their last two axes):
    the documented difference, checked against Adafactor's unfactored update by hand."""
    rng = np.random.default_rng(4)
    w = rng.normal(size=(2, 2, 3, 2))
    noises = [{"w": rng.normal(size=w.shape)} for _ in range(5)]
    x, state = _run("adafactor", dict(lr=0.05), {"w": w}, noises)
    assert set(state["leaves"]["w"]) == {"rule", "v"} and state["leaves"]["w"]["v"].shape == w.shape
    p, v = w.copy(), np.zeros_like(w)
    for t, noise in enumerate(noises, start=1):
        g = noise["w"] + p
        alpha = min(0.05, 1 / np.sqrt(t)) * max(1e-3, np.sqrt(np.mean(p * p)))
        v = v + t ** -0.8 * (g * g - v)
        u = g / np.sqrt(np.maximum(v, np.finfo(float).eps ** 2))
        p = p - alpha * u / max(1.0, np.sqrt(np.mean(u * u)))
    np.testing.assert_allclose(x["w"], p, rtol=1e-12)


# ---------------------------------------------------------------- model-wide values across rules

CLIPPED = """
optimizer clipped:
    hyper lr: real = 0.1 where lr > 0
    hyper max_norm: real = 1 where max_norm > 0
    param x: real[...]
    oracle g = grad(x)

    step:
        let gn = global_norm(g)
        let scale = min(1, max_norm / (gn + 1e-12))

    rule for x: real[m, n] as matrix:
        state B: real[m, n] = 0
        step:
            B <- 0.9 * B + scale * g
            x <- x - lr * B / sqrt(n)

    rule otherwise:
        step:
            x <- x - lr * scale * g
"""


def test_a_global_norm_before_the_rules_adds_up_the_leaves_of_every_rule(tmp_path):
    """The step before the rules runs on every leaf (its `global_norm` is over the matrix
    leaves and the others together) and each rule reads its model-wide lets; checked by
    hand against the clipped-gradient updates, over steps where clipping is and is not
    active (max_norm between the norms seen), and with a per-step override of max_norm."""
    path = tmp_path / "clipped.iter"
    path.write_text(CLIPPED)
    opt = iterc.load(path).numpy(lr=0.05, max_norm=12.0)
    params, noises = problem(31, 30, SHAPES)
    state = opt.init(params)
    assert set(state["leaves"]["p2"]) == {"rule", "B"} and set(state["leaves"]["p0"]) == {"rule"}
    x = params
    ref = {k: np.array(v, dtype=float) for k, v in params.items()}
    B = {k: np.zeros((np.shape(v)[0], int(np.prod(np.shape(v)[1:])))) for k, v in params.items() if k in MATRIX}
    scales = []
    for t, noise in enumerate(noises, start=1):
        max_norm = 12.0 if t % 3 else 6.0
        x, state = opt.step(x, state, gradient(x, noise), **({} if t % 3 else {"max_norm": 6.0}))
        g = gradient(ref, noise)
        gn = np.sqrt(sum(np.sum(v * v) for v in g.values()))
        scale = min(1.0, max_norm / (gn + 1e-12))
        scales.append(scale)
        for k in ref:
            if k in MATRIX:
                shape = ref[k].shape
                B[k] = 0.9 * B[k] + scale * g[k].reshape(B[k].shape)
                ref[k] = (ref[k].reshape(B[k].shape) - 0.05 * B[k] / np.sqrt(B[k].shape[1])).reshape(shape)
            else:
                ref[k] = ref[k] - 0.05 * scale * g[k]
    assert min(scales) < 1 and max(scales) == 1                 # clipping both active and not
    for k in params:
        np.testing.assert_allclose(x[k], ref[k], rtol=1e-12, atol=1e-14, err_msg=k)


# ---------------------------------------------------------------- patterns

def test_overlap_agrees_with_matching_on_every_small_shape():
    """The checker's E0224 test (`overlap`) says two patterns overlap exactly when some leaf
    shape fits both by the runtime's matching (and the IR's), over every shape of rank <= 4
    with sizes 1, 2, 3, 6: plain patterns of rank 0..3 with static sizes 1..3 and names that may
    repeat (`real[n, n]`), and `as matrix` patterns whose width may be a product (6).
    Against a plain pattern that repeats a name, `as matrix` is allowed to be conservative."""
    import itertools

    from iterc.check.model import Pattern as CheckPattern
    from iterc.check.rules import overlap
    from iterc.ir.nodes import LeafPattern
    from iterc.runtime.spec import Pattern as RtPattern

    patterns = [(None, (), False)]
    for rank in range(4):
        for dims in itertools.product(["a", "b", 1, 3], repeat=rank):
            patterns.append((rank, dims, False))
    for dims in itertools.product(["a", 2, 3, 6], ["b", 2, 3, 6]):
        patterns.append((2, dims, True))
    shapes = [s for r in range(5) for s in itertools.product([1, 2, 3, 6], repeat=r)]
    fits = {}
    for p in patterns:
        rt, ir = RtPattern(*p), LeafPattern(*p)
        fits[p] = {s for s in shapes if rt.matches(s)}
        assert fits[p] == {s for s in shapes if ir.matches(s)}
    assert (2, 2) in fits[(2, ("a", "a"), False)] and (2, 3) not in fits[(2, ("a", "a"), False)]
    checked = 0
    for p, q in itertools.combinations(patterns[1:], 2):
        both = bool(fits[p] & fits[q])
        says = overlap(CheckPattern(*p), CheckPattern(*q))
        repeats = any(not m and len(set(d for d in dims if isinstance(d, str))) <
                      len([d for d in dims if isinstance(d, str)]) for _, dims, m in (p, q))
        if (p[2] or q[2]) and repeats:
            assert says or not both, (p, q)           # conservative: never misses an overlap
            continue
        assert says == both, (p, q)
        checked += 1
    assert checked > 4000


# ---------------------------------------------------------------- JAX

@pytest.mark.parametrize("source,hypers", [("muon", dict(lr=0.02)), ("adafactor", dict(lr=0.05)),
                                           ("clipped", dict(lr=0.05, max_norm=12.0))])
def test_rules_on_jax_match_numpy_in_float64(source, hypers, tmp_path):
    """The JAX lowering of rules (rule chosen at trace time, records in the optax state, the
    step before the rules across all leaves) against numpy, under jit, in float64, with a
    4-d leaf; and the jitted update does not retrace from step to step."""
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    if source == "clipped":
        path = tmp_path / "clipped.iter"
        path.write_text(CLIPPED)
        method = iterc.load(path)
    else:
        method = iterc.load(source)
    params, noises = problem(41, 20, SHAPES)
    with jax.enable_x64(True):
        import jax.numpy as jnp
        tx = method.optax(**hypers)
        x = {k: jnp.asarray(v) for k, v in params.items()}
        state = tx.init(x)
        traces = []

        @jax.jit
        def step(x, state, g):
            traces.append(1)
            updates, state = tx.update(g, state, x)
            return optax.apply_updates(x, updates), state

        for noise in noises:
            x, state = step(x, state, {k: jnp.asarray(noise[k]) + x[k] for k in noise})
        assert len(traces) == 1 and int(state.count) == len(noises)
        ours = {k: np.asarray(v) for k, v in x.items()}
        records = jax.tree.map(np.asarray, state.leaves)
    opt = method.numpy(**hypers)
    ref_state = opt.init(params)
    ref = params
    for noise in noises:
        ref, ref_state = opt.step(ref, ref_state, gradient(ref, noise))
    for k in params:
        np.testing.assert_allclose(ours[k], ref[k], rtol=1e-10, atol=1e-12, err_msg=k)
        assert set(records[k]) == set(ref_state["leaves"][k])
        for f in records[k]:
            np.testing.assert_allclose(records[k][f], ref_state["leaves"][k][f], rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------- shampoo

def _inv_root(S, p):
    """S^(-1/p) of a symmetric positive definite S, by eigendecomposition (scipy's eigh)."""
    from scipy.linalg import eigh
    w, V = eigh(S)
    return (V * w ** (-1.0 / p)) @ V.T


def _shampoo_reference(params, noises, lr, eps, wd=0.0, decouple=False, every=1):
    """Gupta, Koren & Singer 2018, Algorithm 1, written out densely: matrices (rank >= 2 as
    [shape[0], rest]) L^(-1/4) G R^(-1/4), vectors H^(-1/2) g, scalars a plain step; roots
    refreshed when t % every == 0 (zero before the first refresh)."""
    x = {k: np.array(v, dtype=float) for k, v in params.items()}
    st = {}
    for t, noise in enumerate(noises, start=1):
        for k in x:
            g = noise[k] + x[k]
            shape = x[k].shape
            if decouple:
                x[k] = x[k] * (1 - lr * wd)
                d = g
            else:
                d = g + wd * x[k]
            if len(shape) == 0:
                x[k] = x[k] - lr * d
                continue
            if len(shape) == 1:
                s = st.setdefault(k, {"H": eps * np.eye(shape[0]), "P": np.zeros((shape[0], shape[0]))})
                s["H"] = s["H"] + np.outer(d, d)
                if t % every == 0:
                    s["P"] = _inv_root(s["H"], 2)
                x[k] = x[k] - lr * s["P"] @ d
                continue
            D = d.reshape(shape[0], -1)
            m, n = D.shape
            s = st.setdefault(k, {"L": eps * np.eye(m), "R": eps * np.eye(n), "PL": np.zeros((m, m)),
                                  "PR": np.zeros((n, n))})
            s["L"], s["R"] = s["L"] + D @ D.T, s["R"] + D.T @ D
            if t % every == 0:
                s["PL"], s["PR"] = _inv_root(s["L"], 4), _inv_root(s["R"], 4)
            x[k] = (x[k].reshape(m, n) - lr * s["PL"] @ D @ s["PR"]).reshape(shape)
    return x


SH_CASES = [dict(lr=1e-3), dict(lr=0.01, matrix_eps=1e-3, weight_decay=0.05),
            dict(lr=0.01, weight_decay=0.05, weight_decouple=True), dict(lr=0.01, update_every=3)]


@pytest.mark.parametrize("hypers", SH_CASES, ids=["defaults", "decay", "decoupled", "every3"])
def test_shampoo_matches_the_dense_reference(hypers):
    """Against the paper's algorithm in numpy (scipy eigh for the roots) on a tree with 0-d,
    1-d, 2-d (tall and wide) and 4-d leaves, 100 steps, rtol 1e-8 (both are the same float64
    arithmetic up to the order of the eigen-solvers' rounding)."""
    params, noises = problem(51, 100, SHAPES)
    x, state = _run("shampoo", hypers, params, noises)
    ref = _shampoo_reference(params, noises, hypers["lr"], hypers.get("matrix_eps", 1e-6),
                             hypers.get("weight_decay", 0.0), hypers.get("weight_decouple", False),
                             hypers.get("update_every", 1))
    for k in params:
        np.testing.assert_allclose(x[k], ref[k], rtol=1e-8, atol=1e-12, err_msg=k)
        assert not np.allclose(x[k], params[k])
    assert state["leaves"]["p4"]["L"].shape == (3, 3) and state["leaves"]["p4"]["R"].shape == (8, 8)
    assert set(state["leaves"]["p1"]) == {"rule", "H", "P"} and set(state["leaves"]["p0"]) == {"rule"}


@pytest.mark.parametrize("hypers,theirs", [
    (dict(lr=1e-3), dict(lr=1e-3)),
    (dict(lr=0.01, matrix_eps=1e-3, weight_decay=0.05), dict(lr=0.01, matrix_eps=1e-3, weight_decay=0.05)),
    (dict(lr=0.01, weight_decay=0.05, weight_decouple=True), dict(lr=0.01, weight_decay=0.05, weight_decouple=True)),
    (dict(lr=0.01, update_every=3), dict(lr=0.01, preconditioning_compute_steps=3)),
], ids=["defaults", "decay", "decoupled", "every3"])
def test_shampoo_matches_pytorch_optimizer(hypers, theirs, torch_float64):
    """pytorch_optimizer.Shampoo (momentum 0, its default) on the 0-d, 1-d and 2-d leaves,
    where its per-axis preconditioning is the paper's (a rank-k tensor there gets exponent
    -1/(2k) per axis, not the matrix view, so the 4-d leaf is left out); its roots come from
    an SVD, ours from eigh: rtol 1e-7 over 100 steps."""
    pytorch_optimizer = pytest.importorskip("pytorch_optimizer")
    from reference import run_torch
    shapes = [s for s in SHAPES if len(s) <= 2]
    params, noises = problem(52, 100, shapes)
    x, _ = _run("shampoo", hypers, params, noises)
    ref = run_torch(lambda ps: pytorch_optimizer.Shampoo(ps, **theirs), params, noises)
    for k in params:
        np.testing.assert_allclose(x[k], ref[k], rtol=1e-7, atol=1e-12, err_msg=k)


def test_shampoo_defaults_are_pytorch_optimizers():
    pytorch_optimizer = pytest.importorskip("pytorch_optimizer")
    sig = inspect.signature(pytorch_optimizer.Shampoo).parameters
    hp = iterc.load("shampoo").numpy().hypers
    assert hp.lr == sig["lr"].default and hp.matrix_eps == sig["matrix_eps"].default
    assert hp.weight_decay == sig["weight_decay"].default and hp.weight_decouple == sig["weight_decouple"].default
    assert hp.update_every == sig["preconditioning_compute_steps"].default and sig["momentum"].default == 0.0

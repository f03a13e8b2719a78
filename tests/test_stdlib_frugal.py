"""stdlib/optim/frugal.iter (FRUGAL, coordinate and blockwise variants) against references.

Every comparison runs 100 float64 steps on a tree of 0-d, 1-d, 2-d and 4-d leaves with the
gradient `noise + x`: density 1 is AdamW (the stdlib's and torch.optim.AdamW), density 0
is signSGD (or SGD) with decoupled weight decay written out here, and in between the
method matches a numpy reference of FRUGAL's equations written here, given the method's
own masks (read back from its state after each step) — and those masks are checked to be
exactly the generator calls the language promises (PCG64(seed), the leaves in sorted key
order, `rng.random(shape) < density`, or one draw per leaf with `blockwise`), redrawn
only every `update_gap` steps. On JAX (whose PRNG key draws other masks) the same
reference, given JAX's masks, must match in float64, and the masks' density is checked
statistically. A smoke test fits a least-squares problem.
"""
import numpy as np
import pytest

import iterc
from reference import gradient, regression_loss_after, run_iterc

SHAPES = [(), (5,), (3, 4), (2, 3, 2, 2)]
STEPS = 100


def _problem(seed, shapes=SHAPES, steps=STEPS):
    rng = np.random.default_rng(seed)
    tree = lambda: {f"p{i}": rng.normal(size=s) for i, s in enumerate(shapes)}  # noqa: E731
    return tree(), [tree() for _ in range(steps)]


def _run_with_masks(hypers, params, noises):
    """The numpy method; returns the final params and the mask it used on each step."""
    opt = iterc.load("frugal").numpy(**hypers)
    state, x, masks = opt.init(params), params, []
    for noise in noises:
        x, state = opt.step(x, state, gradient(x, noise))
        masks.append({k: np.array(v) for k, v in state["mask"].items()})
    return x, masks


def frugal_reference(params, noises, masks, update_gap, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8,
                     weight_decay=1e-2, free_lr_scale=1.0, sign_free=True):
    """FRUGAL's equations with the subsets given: `masks[t - 1][leaf]` is the 0/1 mask of the
    state-full coordinates on step t. On a redraw step a coordinate that enters the subset
    starts Adam afresh (moments and bias-correction clock zero), one that stays keeps them."""
    x = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    m = {k: np.zeros_like(v) for k, v in x.items()}
    v2 = {k: np.zeros_like(v) for k, v in x.items()}
    clock = {k: np.zeros(np.shape(v), dtype=int) for k, v in x.items()}
    prev = {k: np.zeros(np.shape(v), dtype=bool) for k, v in x.items()}
    for t, noise in enumerate(noises, start=1):
        for key in x:
            g = noise[key] + x[key]
            on = masks[t - 1][key].astype(bool)
            if (t - 1) % update_gap == 0:
                fresh = on & ~prev[key]
                for s in (m[key], v2[key], clock[key]):
                    s[fresh | ~on] = 0
            else:
                assert np.array_equal(on, prev[key]), "the subset changed between redraws"
            prev[key] = on
            x[key] = np.asarray(x[key] * (1 - lr * weight_decay))
            clock[key][on] += 1
            m[key][on] = beta1 * m[key][on] + (1 - beta1) * g[on]
            v2[key][on] = beta2 * v2[key][on] + (1 - beta2) * g[on] ** 2
            k = clock[key][on]
            mhat, vhat = m[key][on] / (1 - beta1 ** k), v2[key][on] / (1 - beta2 ** k)
            x[key][on] -= lr * mhat / (np.sqrt(vhat) + eps)
            free = np.sign(g[~on]) if sign_free else g[~on]
            x[key][~on] -= lr * free_lr_scale * free
    return x


def _replayed_masks(seed, params, steps, update_gap, density, blockwise=False):
    """The masks the generator calls of the language's draw rules give."""
    rng = np.random.Generator(np.random.PCG64(seed))
    out, cur = [], None
    for t in range(1, steps + 1):
        if (t - 1) % update_gap == 0:
            cur = {}
            for k in sorted(params):                       # optree's order: dict keys sorted
                u = rng.random(()) if blockwise else rng.random(np.shape(params[k]))
                cur[k] = np.broadcast_to(u < density, np.shape(params[k])).astype(np.float64)
        out.append(cur)
    return out


def _close(ours, theirs, rtol=1e-10, atol=1e-10):
    assert set(ours) == set(theirs)
    for k in theirs:
        np.testing.assert_allclose(np.asarray(ours[k]), np.asarray(theirs[k]), rtol=rtol, atol=atol, err_msg=k)


@pytest.mark.parametrize("hypers", [dict(lr=1e-2), dict(lr=3e-3, beta1=0.8, beta2=0.99, weight_decay=0.1,
                                                        update_gap=7, blockwise=True, eps=1e-6)])
def test_density_one_is_adamw(hypers):
    params, noises = _problem(1)
    ours = run_iterc("frugal", dict(hypers, density=1.0), params, noises)
    adamw = {k: v for k, v in hypers.items() if k not in ("update_gap", "blockwise")}
    _close(ours, run_iterc("adamw", adamw, params, noises))
    torch = pytest.importorskip("torch")
    from reference import run_torch
    theirs = run_torch(lambda ps: torch.optim.AdamW(
        ps, lr=adamw["lr"], betas=(adamw.get("beta1", 0.9), adamw.get("beta2", 0.999)),
        eps=adamw.get("eps", 1e-8), weight_decay=adamw.get("weight_decay", 1e-2)), params, noises)
    _close(ours, theirs)


@pytest.mark.parametrize("sign_free", [True, False])
def test_density_zero_is_the_state_free_rule(sign_free):
    params, noises = _problem(2)
    lr, wd, scale = 1e-2, 0.05, 0.5
    ours, masks = _run_with_masks(dict(lr=lr, weight_decay=wd, free_lr_scale=scale, density=0.0, update_gap=5,
                                       sign_free=sign_free), params, noises)
    assert all(not np.any(m[k]) for m in masks for k in m)
    x = {k: np.array(v) for k, v in params.items()}
    for noise in noises:
        for k in x:
            g = noise[k] + x[k]
            x[k] = x[k] * (1 - lr * wd) - lr * scale * (np.sign(g) if sign_free else g)
    _close(ours, x)


CASES = [dict(density=0.25, update_gap=10),
         dict(density=0.5, update_gap=7, lr=1e-2, weight_decay=0.1, free_lr_scale=0.1, seed=3),
         dict(density=0.6, update_gap=1, sign_free=False, free_lr_scale=0.5, beta1=0.5, seed=5),
         dict(density=0.5, update_gap=9, blockwise=True, seed=11, lr=1e-2)]


@pytest.mark.parametrize("hypers", CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_partial_density_matches_the_reference_with_the_same_masks(hypers):
    params, noises = _problem(3)
    ours, masks = _run_with_masks(hypers, params, noises)
    gap = hypers["update_gap"]
    replay = _replayed_masks(hypers.get("seed", 0), params, STEPS, gap, hypers["density"],
                             hypers.get("blockwise", False))
    for used, drawn in zip(masks, replay):
        _close(used, drawn, rtol=0, atol=0)
    on = [np.mean(np.concatenate([np.ravel(m[k]) for k in sorted(m)])) for m in masks[::gap]]
    assert 0 < np.mean(on) < 1                              # both rules are exercised
    ref_hypers = {k: v for k, v in hypers.items() if k not in ("density", "update_gap", "blockwise", "seed")}
    _close(ours, frugal_reference(params, noises, masks, gap, **ref_hypers))


def test_redraws_change_the_subset_and_follow_the_density():
    params, noises = _problem(4, shapes=[(100, 50), (3,)], steps=30)
    _, masks = _run_with_masks(dict(density=0.3, update_gap=10), params, noises)
    firsts = [masks[i]["p0"] for i in (0, 10, 20)]
    for a in firsts:                                        # Binomial(5000, 0.3): sd 0.0065
        assert abs(a.mean() - 0.3) < 0.03
    assert np.mean(firsts[0] != firsts[1]) > 0.3            # independent draws differ on 2 p (1 - p) = 42%


def test_same_seed_same_run_other_seed_other_run():
    params, noises = _problem(5, steps=20)
    a = run_iterc("frugal", dict(density=0.5, update_gap=4, seed=1), params, noises)
    b = run_iterc("frugal", dict(density=0.5, update_gap=4, seed=1), params, noises)
    c = run_iterc("frugal", dict(density=0.5, update_gap=4, seed=2), params, noises)
    _close(a, b, rtol=0, atol=0)
    assert any(not np.allclose(a[k], c[k]) for k in a if np.size(a[k]) > 1)


@pytest.mark.parametrize("hypers", [dict(lr=0.05, density=0.5, update_gap=10),
                                    dict(lr=0.05, density=0.5, update_gap=10, blockwise=True),
                                    dict(lr=0.05, density=0.0, free_lr_scale=0.2)])
def test_frugal_fits_least_squares(hypers):
    first, last = regression_loss_after("frugal", dict(hypers, weight_decay=0.0), steps=300)
    assert last < 0.05 * first, (first, last)


def test_jax_with_its_own_masks_matches_the_reference():
    """JAX draws other masks (a PRNG key); given them, the reference matches in float64."""
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp
    hypers = dict(density=0.4, update_gap=6, lr=1e-2, weight_decay=0.1, free_lr_scale=0.5, seed=7)
    params, noises = _problem(6)
    with jax.enable_x64(True):
        tx = iterc.load("frugal").optax(learning_rate=hypers["lr"],
                                        **{k: v for k, v in hypers.items() if k != "lr"})
        x = {k: jnp.asarray(v) for k, v in params.items()}
        state, masks = tx.init(x), []
        step = jax.jit(lambda x, s, g: tx.update(g, s, x))
        for noise in noises:
            updates, state = step(x, state, {k: jnp.asarray(noise[k]) + x[k] for k in x})
            x = optax.apply_updates(x, updates)
            masks.append({k: np.asarray(v) for k, v in state.mask.items()})
        ours = {k: np.asarray(v) for k, v in x.items()}
    assert ours["p3"].dtype == np.float64
    assert all(set(np.unique(m[k])) <= {0.0, 1.0} for m in masks for k in m)
    assert 0 < np.mean([np.mean(m["p3"]) for m in masks]) < 1
    ref_hypers = {k: v for k, v in hypers.items() if k not in ("density", "update_gap", "seed")}
    _close(ours, frugal_reference(params, noises, masks, hypers["update_gap"], **ref_hypers))


def test_jax_masks_follow_the_density():
    jax = pytest.importorskip("jax")
    import jax.numpy as jnp
    tx = iterc.load("frugal").optax(learning_rate=1e-3, density=0.3, update_gap=2)
    x = {"w": jnp.zeros((100, 50)), "b": jnp.zeros(3)}
    state = tx.init(x)
    seen = []
    for _ in range(4):
        _, state = tx.update({k: jnp.ones_like(v) for k, v in x.items()}, state, x)
        seen.append(np.asarray(state.mask["w"]))
    for a in seen:
        assert abs(a.mean() - 0.3) < 0.03                  # Binomial(5000, 0.3): sd 0.0065
    assert np.array_equal(seen[0], seen[1]) and np.array_equal(seen[2], seen[3])
    assert np.mean(seen[0] != seen[2]) > 0.3                # a redraw on step 3

"""Sharded parameters on a mesh of 8 CPU devices (in a subprocess: the device count is fixed
when JAX starts): the jitted update gives the unsharded result, including a method with a
per-leaf norm (a reduction XLA must all-reduce across shards) and model-wide ones
(adamw_clipped's global norm over every leaf, prodigy's shared states), and the state
stays sharded like the parameters (shared states: replicated scalars), from `init` on and
after every update."""
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("jax")
ROOT = Path(__file__).resolve().parent.parent

SCRIPT = textwrap.dedent('''
    import os
    os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=8"
    import sys
    import jax, jax.numpy as jnp, numpy as np, optax
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    import iterc

    assert len(jax.devices()) == 8, jax.devices()
    mesh = Mesh(np.array(jax.devices()).reshape(4, 2), ("data", "model"))
    specs = {"w": P("data", "model"), "v": P("model"), "s": P()}
    rng = np.random.default_rng(0)
    shapes = {"w": (16, 8), "v": (8,), "s": ()}
    params = {k: jnp.asarray(rng.normal(size=s), jnp.float32) for k, s in shapes.items()}
    grads = [{k: jnp.asarray(rng.normal(size=s), jnp.float32) for k, s in shapes.items()} for _ in range(5)]
    shard = lambda tree: {k: jax.device_put(v, NamedSharding(mesh, specs[k])) for k, v in tree.items()}

    def same_sharding(tree, like):
        """Leaves shaped like their parameter are split like it; others (scalar states) replicated."""
        for k, v in tree.items():
            if v.shape == like[k].shape:
                assert v.sharding.is_equivalent_to(like[k].sharding, v.ndim), (k, v.sharding, like[k].sharding)
            else:
                assert v.sharding.is_fully_replicated and len(v.sharding.device_set) == 8, (k, v.sharding)

    def run(tx, params, grads):
        state = tx.init(params)
        step = jax.jit(lambda x, s, g: (lambda u, s: (optax.apply_updates(x, u), s))(*tx.update(g, s, x)))
        states = [state]
        for g in grads:
            params, state = step(params, state, g)
            states.append(state)
        assert step._cache_size() == 1, "a second compile: init's placement differs from update's"
        return params, states

    clipped = iterc.load(sys.argv[1]).optax(lr=0.1)
    # model-wide: a global norm over every shard of every leaf, and shared (scalar) states
    modelwide = (iterc.load("adamw_clipped").optax(0.01, max_norm=1.0), iterc.load("prodigy").optax())
    for tx in (iterc.load("adamw").optax(0.01, amsgrad=True), clipped) + modelwide:
        plain, _ = run(tx, params, grads)
        sharded, states = run(tx, shard(params), [shard(g) for g in grads])
        for k in plain:
            np.testing.assert_allclose(np.asarray(sharded[k]), np.asarray(plain[k]), rtol=1e-6, atol=1e-7)
        same_sharding(sharded, shard(params))
        for state in states:
            for name in state._fields[1:]:
                value = getattr(state, name)
                if isinstance(value, dict):
                    same_sharding(value, shard(params))
                elif value is not None:                        # a shared state: one replicated scalar
                    assert value.shape == () and value.sharding.is_fully_replicated, (name, value.sharding)
                    assert len(value.sharding.device_set) == 8, (name, value.sharding)
    print("SHARDING OK")
''')

NORMED = '''
optimizer normed:
    """A step of length lr along each leaf's gradient, with momentum on the normalised direction."""
    hyper lr: real = 0.1 where lr > 0
    param x: real[...]
    oracle g = grad(x)
    state m: real[...] = 0
    state n: real = 0
    step:
        n <- norm(g)
        m <- 0.9 * m + g / (n + 1e-12)
        x <- x - lr * m / max(norm(m), 1)
'''


def test_sharded_update_matches_unsharded_and_keeps_state_sharded(tmp_path):
    path = tmp_path / "normed.iter"
    path.write_text(NORMED)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SHARDING OK" in proc.stdout

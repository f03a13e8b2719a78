"""Runtime for `--target jax` modules: optax transformations, lax-loop solvers, helpers.

Generated code holds the per-leaf math (`init_NAME`, `step_NAME`) or one round of a solve
(`solve_NAME`); what every method shares lives here once:

- hypers (`_Hypers`): given values, optax aliases, schedules (a real hyper that is a
  function of the step count, evaluated inside `update`), per-call overrides, and static
  hypers, which must be Python values at trace time;
- the optimizer (`optimizer`): an `optax.GradientTransformationExtraArgs` over any pytree,
  with the dtype policy of `dtypes.py` (compute in float32 for 16-bit leaves, store each
  state in its slot's dtype), oracles beyond the gradient as keyword extra args, and a
  NamedTuple state (`state_class`) that pickles and prints by field name;
- control flow with unified types (`cond`, `select`, `fori_loop`, `repeat`): a branch or a
  loop round may produce a weakly typed Python scalar where the other side has a float32
  tensor, which `lax` rejects; these helpers cast both to the common type;
- the solver (`iterate`, `Solver`, `Solution`): a `lax.while_loop` that tests the stopping
  rule every `check_every` rounds, jit-able and vmap-able.
"""
from __future__ import annotations

import collections
import math
import types
from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax import lax

from . import linalg
from .dtypes import compute_dtype, is_float, numpy_dtype
from .hypers import Condition, Hyper, Hypers, resolve
from .spec import Oracle, Pattern, Slot, Spec, bind_dims, check_param_shape, check_state_shape, choose_rule

__all__ = ["Spec", "Slot", "Hyper", "Condition", "Oracle", "optimizer", "state_class", "Solver", "Solution",
           "SolveInfo", "solver", "require_steps", "full", "cast", "size", "norm", "channel_sum", "normalize",
           "host", "cond", "select", "fori_loop", "repeat", "iterate", "bind_dims", "total", "leafwise", "leaf_keys",
           "check_state_shape"]

def _widest_int():
    """int64 with x64 enabled, else int32 (asking for int64 without x64 warns on every trace)."""
    return jax.dtypes.canonicalize_dtype(jnp.int64)


UNROLL = 8                     # a `for` with static bounds and at most this many rounds is unrolled


# ---------------------------------------------------------------- dtypes and math helpers

def _canonical(dtype) -> np.dtype:
    """A dtype JAX can hold now: float64 is float32 unless x64 is enabled."""
    return np.dtype(jax.dtypes.canonicalize_dtype(dtype))


def _dtype(dtype) -> np.dtype:
    if isinstance(dtype, str):
        return _canonical(numpy_dtype(dtype))
    return _canonical(np.dtype(dtype))


def full(shape, value, dtype=float):
    """An array of `shape` filled from `value` (a scalar or a broadcastable array)."""
    return jnp.broadcast_to(jnp.asarray(value, _dtype(dtype)), shape)


_ELEM = {"real": float, "int": int, "bool": bool}


def cast(x, elem: str):
    if isinstance(x, (bool, int, float)):               # a static value stays a Python value
        return _ELEM[elem](x)
    x = jnp.asarray(x)
    if elem == "real" and is_float(x.dtype):
        return x
    return x.astype(_dtype(_ELEM[elem]))


def size(x, axis=None) -> int:
    shape = jnp.shape(x)
    return math.prod(shape) if axis is None else shape[axis]


def sort(x, axis=None):
    """Without `axis`, all elements sorted and laid out in x's shape (row-major), as numpy's rt.sort."""
    x = jnp.asarray(x)
    return jnp.sort(x, axis=axis) if axis is not None else jnp.sort(x, axis=None).reshape(x.shape)


def cumsum(x, axis=None):
    x = jnp.asarray(x)
    return jnp.cumsum(x, axis=axis) if axis is not None else jnp.cumsum(x).reshape(x.shape)


def iota(x, axis=None):
    x = jnp.asarray(x)
    if axis is None:
        return jnp.arange(x.size).reshape(x.shape)
    return jax.lax.broadcasted_iota(jnp.int32, x.shape, axis % x.ndim)


def proj_stiefel(A):
    u, _, vt = jnp.linalg.svd(A, full_matrices=False)
    return u @ vt


def lmo_nuclear(G, r):
    u, _, vt = jnp.linalg.svd(G, full_matrices=False)
    return -r * jnp.outer(u[:, 0], vt[0])


def qr(A):
    """The reduced QR of a tall or square A (m >= n): Q [m, n], R [n, n]; a wide A fails at trace time."""
    linalg.check_qr(jnp.shape(A))
    return jnp.linalg.qr(A, mode="reduced")


def svd(A, r=None):
    """The thin SVD of a tall or square A, or with r (static) its r largest singular triplets."""
    linalg.check_svd(jnp.shape(A), r)
    u, s, vt = jnp.linalg.svd(A, full_matrices=False)
    return (u, s, vt) if r is None else (u[:, :r], s[:r], vt[:r])


def rng_next(key):
    return jax.random.split(key)[0]


def _float_like(x):
    x = jnp.asarray(x)
    return x.dtype if jnp.issubdtype(x.dtype, jnp.floating) else jnp.float32


def random_normal(key, x):
    """Standard normal noise shaped like x, from the second half of a split of `key`."""
    return jax.random.normal(jax.random.split(key)[1], jnp.shape(x), _float_like(x))


def random_uniform(key, x):
    return jax.random.uniform(jax.random.split(key)[1], jnp.shape(x), _float_like(x))


def total(parts):
    """A model-wide sum: one scalar per leaf (a leaf phase's partials), added up in the
    default float width (float64 under x64) or as an int when the partials are ints."""
    if not parts:
        return jnp.zeros((), _dtype(float))
    parts = [jnp.asarray(p) for p in parts]
    if all(jnp.issubdtype(p.dtype, jnp.integer) or p.dtype == jnp.bool_ for p in parts):
        return sum(p.astype(_widest_int()) for p in parts)
    return jnp.sum(jnp.stack([p.astype(_dtype(float)) for p in parts]))


def leafwise(fn: Callable, *lists, n: int = 1):
    """One leaf phase of a phased step: `fn` on each leaf's values (one list per argument,
    in leaf order), traced once per leaf inside the jitted update. Returns one list per
    result of `fn` (`n` of them; a single list when n is 1)."""
    outs = [fn(*args) for args in zip(*lists)]
    if n == 1:
        return outs
    return tuple([o[j] for o in outs] for j in range(n))


def leaf_keys(key, n: int) -> list:
    """One key per leaf for a draw in a leaf phase: the leaf's index folded into `key`."""
    return [jax.random.fold_in(key, i) for i in range(n)]


def norm(x, axis=None):
    return jnp.sqrt(jnp.sum(jnp.square(x), axis=axis))


def channel_sum(x):
    """Each element replaced by the sum of its slice x[i] (all axes but the first)."""
    x = jnp.asarray(x)
    return jnp.broadcast_to(jnp.sum(x, axis=tuple(range(1, x.ndim)), keepdims=True), x.shape)


def normalize(x, axis=None):
    return x / jnp.sum(x, axis=axis, keepdims=True)


def _host(fn):
    return lambda x: fn(x).item()


# Math on static scalars (Python values at trace time), with numpy's semantics (sqrt(-1) is nan).
host = types.SimpleNamespace(sqrt=_host(np.sqrt), exp=_host(np.exp), log=_host(np.log), tanh=_host(np.tanh),
                             sign=_host(np.sign), isfinite=_host(np.isfinite))


# ---------------------------------------------------------------- control flow with unified types

def _concrete(pred) -> Optional[bool]:
    """A condition known now (a Python bool, or an array outside any trace), else None."""
    if isinstance(pred, jax.core.Tracer):
        return None
    return bool(pred)


def _common(a: jax.ShapeDtypeStruct, b: jax.ShapeDtypeStruct) -> jax.ShapeDtypeStruct:
    """The type both sides fit: broadcast shape; a weakly typed side takes the other's dtype."""
    if jax.dtypes.issubdtype(a.dtype, jax.dtypes.prng_key):
        return a                                  # a PRNG key (the generator threaded through a loop)
    shape = jnp.broadcast_shapes(a.shape, b.shape)
    if a.weak_type != b.weak_type:
        dtype = b.dtype if a.weak_type else a.dtype
    else:
        dtype = jnp.promote_types(a.dtype, b.dtype)
    return jax.ShapeDtypeStruct(shape, dtype)


def _conform(values, want):
    return jax.tree.map(lambda v, w: jnp.broadcast_to(jnp.asarray(v, w.dtype), w.shape), values, want)


def _types(values):
    return jax.eval_shape(lambda v: v, values)


def cond(pred, then_fn: Callable, else_fn: Callable, *operands):
    """`if` on a traced scalar: `lax.cond`, both branches' results cast to their common type."""
    known = _concrete(pred)
    if known is not None:
        return (then_fn if known else else_fn)(*operands)
    want = jax.tree.map(_common, jax.eval_shape(then_fn, *operands), jax.eval_shape(else_fn, *operands))
    return lax.cond(pred, lambda *ops: _conform(then_fn(*ops), want),
                    lambda *ops: _conform(else_fn(*ops), want), *operands)


def select(pred, then_fn: Callable, else_fn: Callable, *operands):
    """`if` on a traced scalar whose branches are cheap elementwise code: run both, `jnp.where`."""
    known = _concrete(pred)
    if known is not None:
        return (then_fn if known else else_fn)(*operands)
    return jax.tree.map(lambda a, b: jnp.where(pred, a, b), then_fn(*operands), else_fn(*operands))


def _loop_carry(round_fn: Callable, carry: tuple):
    """The carry cast to the types a round keeps (a literal 0 into a float32 tensor, a weak
    scalar into a strong one), and those types."""
    want = _types(carry)
    for _ in range(3):
        out = jax.eval_shape(round_fn, _conform(carry, want))
        new = jax.tree.map(_common, want, out)
        if new == want:
            break
        want = new
    return _conform(carry, want), want


def _as_tuple(out, n: int) -> tuple:
    return (out,) if n == 1 else tuple(out)


def fori_loop(lo, hi, body: Callable, *init):
    """`for i in lo..hi - 1`, as lax.fori_loop: `body(i, *carry)` returns the next carry.
    Static bounds with at most UNROLL rounds are unrolled."""
    n = len(init)
    carry = tuple(init)
    if isinstance(lo, int) and isinstance(hi, int) and hi - lo <= UNROLL:
        for i in range(lo, hi):
            carry = _as_tuple(body(i, *carry), n)
    else:
        carry, want = _loop_carry(lambda c: _as_tuple(body(lo, *c), n), carry)
        carry = lax.fori_loop(lo, hi, lambda i, c: _conform(_as_tuple(body(i, *c), n), want), carry)
    return carry[0] if n == 1 else carry


def repeat(cap, body: Callable, *init):
    """`repeat: ... until STOP max cap`: `body(*carry)` returns (*carry, stop). Runs at least
    once (for cap >= 1), stops after a round whose stop holds; returns (*carry, stopped)."""
    n = len(init)

    def round_(c):
        out = body(*c)
        return tuple(out[:n]), out[n]

    carry, want = _loop_carry(lambda c: round_(c)[0], tuple(init))

    def more(s):
        k, _, stop = s
        return (k < cap) & jnp.logical_not(stop)

    def step(s):
        k, c, _ = s
        c, stop = round_(c)
        return k + 1, _conform(c, want), jnp.asarray(stop, bool)

    _, carry, stopped = lax.while_loop(more, step, (jnp.int32(0), carry, jnp.asarray(False)))
    return (*carry, stopped)


def iterate(round_fn: Callable, reads: tuple, init: tuple, cap: int, check_every: int = 1,
            progress: Optional[Callable] = None, observed: Optional[int] = None):
    """A solver's loop: rounds t = 1, 2, ..., each `round_fn(t, *[values[i] for i in reads])`
    returning every carried value, the last one the stop flag. Ends after a round whose flag
    holds, or after `cap` rounds. The flag is tested every `check_every` rounds: the rounds
    in between keep only what the next round reads, so XLA drops the rest (the residual,
    the solver's lets). `progress(t, residual)`, if given, runs on the host after each
    round that tests the flag (`values[observed]` is the residual then). Returns (rounds
    run, values)."""
    k = int(check_every)

    def pick(values):
        return tuple(values[i] for i in reads)

    values, want = _loop_carry(lambda v: tuple(round_fn(jnp.asarray(1, _widest_int()), *pick(v))), tuple(init))

    def full_round(t, part):
        out = _conform(tuple(round_fn(t, *part)), want)
        if progress is not None:
            jax.debug.callback(progress, t, *(() if observed is None else (out[observed],)), ordered=True)
        return out

    # the widest int (int64 with x64), as an optimizer's t: `1 / (t + 1)` is then a float of
    # the default width, not float32
    state = (jnp.asarray(0, _widest_int()), values)
    if k > 1 and cap >= k:
        def block_more(s):
            t, v = s
            return (t + k <= cap) & jnp.logical_not(v[-1])

        def block(s):
            t, v = s
            part = lax.fori_loop(0, k - 1, lambda i, p: pick(full_round(t + i + 1, p)), pick(v))
            return t + k, full_round(t + k, part)

        state = lax.while_loop(block_more, block, state)

    def more(s):
        t, v = s
        return (t < cap) & jnp.logical_not(v[-1])

    def one(s):
        t, v = s
        return t + 1, full_round(t + 1, pick(v))

    return lax.while_loop(more, one, state)


def require_steps(spec: Spec, cap) -> int:
    cap = int(cap)
    if cap < 1:
        raise ValueError(f"{spec.name}: the iteration cap is {cap}; a solver takes at least one step")
    return cap


# ---------------------------------------------------------------- hypers

def _static_value(spec: Spec, name: str, value):
    """A static hyper as a Python value; a traced one cannot steer control flow."""
    if isinstance(value, jax.core.Tracer):
        raise ValueError(f"{spec.name}: hyper `{name}` is static (it steers control flow or sizes), so it must "
                         f"be a Python value, not a traced array; with optax.inject_hyperparams, pass "
                         f"static_args=({name!r},)")
    if hasattr(value, "shape") and getattr(value, "shape", None) == ():
        return value.item()
    return value


class _Zero(float):
    """A real hyper that is exactly 0 when the transformation is made (not a schedule, not
    overridden for the call, not injected): its product with a tensor is zeros of the
    tensor's shape, which XLA never reads, so `g + weight_decay * x` costs no pass over x,
    as torch skips a zero weight decay (a non-finite x then gives 0 there, not NaN). With a
    scalar it stays this zero; everywhere else it is 0.0."""
    __slots__ = ()

    def __new__(cls):
        return float.__new__(cls, 0.0)

    def __mul__(self, other):
        if isinstance(other, (int, float)):
            return self
        shape = getattr(other, "shape", None)
        if shape is None:
            return NotImplemented
        return self if shape == () else jnp.zeros_like(other)

    __rmul__ = __mul__

    def __neg__(self):
        return self

    def __pos__(self):
        return self

    def __repr__(self) -> str:
        return "0.0"


_ZERO = _Zero()


def _fold_zeros(spec: Spec, hp: Hypers, keep=()) -> Hypers:
    """`hp` with each real hyper that is a Python 0.0 (and not in `keep`) as `_ZERO`."""
    zero = {h.name for h in spec.hypers if h.elem == "real" and not h.static and h.name not in keep
            and type(getattr(hp, h.name, None)) is float and getattr(hp, h.name) == 0.0}
    if not zero:
        return hp
    return Hypers({k: (_ZERO if k in zero else v) for k, v in hp.as_dict().items()})


class _Hypers:
    """The hypers of one instantiation. `base` is resolved and checked once (conditions on
    scheduled hypers are not: a warmup from 0 may start outside `lr > 0`); `at(count)`
    evaluates the schedules and per-call overrides at trace time."""

    def __init__(self, spec: Spec, given: dict[str, Any], schedules_allowed: bool = True):
        self.spec = spec
        self.static = {h.name for h in spec.hypers if h.static}
        given = {k: (_static_value(spec, k, v) if k in self.static else v) for k, v in given.items()}
        self.schedules = {k: v for k, v in given.items() if callable(v)}
        for name in self.schedules:
            if name in self.static or not schedules_allowed:
                why = "is static" if name in self.static else "belongs to a solver"
                raise ValueError(f"{spec.name}: hyper `{name}` {why}; it cannot be a schedule")
        self.given = given
        probe = {**given, **{k: f(0) for k, f in self.schedules.items()}}
        conditions = tuple(c for c in spec.conditions if not set(c.names) & set(self.schedules))
        self.base = resolve(spec.name, spec.hypers, conditions, probe)
        spec.check_periods(self.base)
        self.traced_base = _fold_zeros(spec, self.base, keep=set(self.schedules))

    def check_overrides(self, overrides: dict[str, Any]) -> None:
        static = [k for k in overrides if k in self.static]
        if static:
            raise ValueError(f"{self.spec.name}: hyper `{static[0]}` is static (it steers control flow or sizes), "
                             f"so it cannot change per step; set it when creating the optimizer")

    def at(self, count, overrides: Optional[dict[str, Any]] = None) -> Hypers:
        """The hypers of one step: a real hyper exactly 0 for good is `_ZERO` (see there)."""
        if not self.schedules and not overrides:
            return self.traced_base
        values = dict(self.given)
        values.update({k: f(count) for k, f in self.schedules.items()})
        values.update(overrides or {})
        return _fold_zeros(self.spec, resolve(self.spec.name, self.spec.hypers, (), values),
                           keep=set(self.schedules) | set(overrides or {}))


def _merge_aliases(spec: Spec, hypers: dict[str, Any], aliases: Optional[dict[str, Any]]) -> dict[str, Any]:
    """Given hypers (None: not given), with optax's names (`learning_rate=` for `lr`) folded in."""
    given = {k: v for k, v in hypers.items() if v is not None}
    for name, value in (aliases or {}).items():
        if value is None:
            continue
        if name in given:
            raise ValueError(f"{spec.name}: hyper `{name}` is given twice, by its name and by its optax alias")
        given[name] = value
    return given


# ---------------------------------------------------------------- trees and state

def _flatten(tree):
    """Leaves (as float arrays), the treedef and a printable path per leaf."""
    with_path, treedef = jax.tree_util.tree_flatten_with_path(tree)
    leaves, paths = [], []
    for path, leaf in with_path:
        x = jnp.asarray(leaf)
        if not is_float(x.dtype):
            x = x.astype(_dtype(float))
        leaves.append(x)
        paths.append("params" + jax.tree_util.keystr(path))
    return leaves, treedef, paths


def _leaves_like(spec: Spec, treedef, tree, what: str) -> list:
    try:
        return treedef.flatten_up_to(tree)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{spec.name}: {what} must have the parameters' tree structure ({treedef}): {exc}") from None


_STATE_CLASSES: dict[tuple, type] = {}


def state_class(name: str, fields: tuple[str, ...]) -> type:
    """The NamedTuple of an optimizer's state: `count`, then one tree per state (None when
    the hypers leave it unused). One class per (name, fields), so a pickled state
    restores in a fresh process as an instance of the same class."""
    key = (name, tuple(fields))
    cls = _STATE_CLASSES.get(key)
    if cls is None:
        cls = collections.namedtuple(name, fields)
        cls.__module__ = __name__
        cls.__doc__ = f"{name}({', '.join(fields)}): the step count, then one tree per state (None when unused)."
        cls.__reduce__ = _reduce_state
        _STATE_CLASSES[key] = cls
    return cls


def _reduce_state(self):
    return _restore_state, (type(self).__name__, self._fields, tuple(self))


def _restore_state(name, fields, values):
    return state_class(name, fields)(*values)


# ---------------------------------------------------------------- optimizers

class _Optimizer:
    """The optax transformation of one method. A method without model-wide values has a
    per-leaf step, run on each leaf in turn; a phased one's step takes every leaf at once
    (one list per per-leaf slot, in leaf order, and one scalar per shared state or `value`
    oracle), as numpy's does. Both are traced inside `update`, so under `jax.jit` the leaves
    are visited only while tracing. A shared state is one scalar field of the state."""

    def __init__(self, spec: Spec, init_leaf: Callable, step_leaf: Callable, state_cls: type,
                 given: dict[str, Any], maximize: bool, init_shared: Optional[Callable] = None,
                 eval_leaf: Optional[Callable] = None):
        self.spec = spec
        self.eval_leaf = eval_leaf
        self.init_leaf, self.step_leaf, self.state_cls = init_leaf, step_leaf, state_cls
        self.init_shared = init_shared
        self.maximize = bool(maximize)
        self.hypers = _Hypers(spec, given)
        self.live = {s.name for s in spec.live_states(self.hypers.base)}
        self.hyper_names = {h.name for h in spec.hypers}
        kinds = collections.Counter(o.kind for o in spec.oracles)
        self.grad = next((o for o in spec.oracles if o.kind == "grad"), None)
        # extra-arg names an oracle answers to: its .iter name, and its kind when no other oracle has it
        self.keys = {o.name: ((o.name, o.kind) if kinds[o.kind] == 1 else (o.name,)) for o in spec.oracles}

    def __repr__(self) -> str:
        return f"<iterc jax optimizer {self.spec.name} {self.hypers.base}>"

    def _storage(self, slot: Slot, like) -> np.dtype:
        return _canonical(numpy_dtype(slot.dtype, like=like))

    def init(self, params):
        leaves, treedef, paths = _flatten(params)
        hp = self.hypers.at(0)
        per_leaf = [s for s in self.spec.states if not s.shared]
        trees: dict[str, list] = {s.name: [] for s in per_leaf if s.name in self.live}
        ref = next((x for x in leaves if _committed(x)), None)
        for path, x in zip(paths, leaves):
            check_param_shape(self.spec, path, x.shape)
            for slot, value in zip(per_leaf, self.init_leaf(hp, x, self.live)):
                if slot.name in self.live:
                    trees[slot.name].append(_place_like(jnp.asarray(value, self._storage(slot, x.dtype)), x, ref))
        states = {s.name: (treedef.unflatten(trees[s.name]) if s.name in self.live else None) for s in per_leaf}
        shared = [s for s in self.spec.states if s.shared]
        if shared:                                       # one scalar each, as numpy's init_shared gives
            for slot, value in zip(shared, self.init_shared(hp, self.live)):
                states[slot.name] = _place_like(self._shared_out(value, slot), ref, ref) \
                    if slot.name in self.live else None
        if self.spec.random:                             # the generator, seeded by `hyper seed` as numpy's
            states[self.state_cls._fields[-1]] = _place_like(jax.random.PRNGKey(int(hp.seed)), ref, ref)
        return self.state_cls(count=_place_like(jnp.zeros([], jnp.int32), ref, ref), **states)

    def _shared_out(self, value, slot: Slot):
        """A shared state as stored: a scalar of its storage dtype (`real`: the default float)."""
        return jnp.asarray(value, self._storage(slot, _dtype(float))).reshape(())

    @staticmethod
    def _shared_in(value, slot: Slot):
        if value is None:
            return None
        return jnp.asarray(value, _dtype(_ELEM[slot.elem]))

    def _oracle(self, o: Oracle, updates, extra: dict, treedef, leaves) -> list:
        """One value per leaf (compute dtype), a missing every-k oracle as NaN."""
        value = next((extra[k] for k in self.keys[o.name] if extra.get(k) is not None), None)
        if value is None and o is self.grad:
            value = updates
        if value is None:
            if o.every is None:
                raise ValueError(f"{self.spec.name}: oracle `{o.name}` ({o.kind}) must be supplied every step; "
                                 f"pass {o.kind if len(self.keys[o.name]) > 1 else o.name}=... to update")
            # supplied only on the steps `every k` runs: a step that reads it without one gets NaN, visibly
            return [jnp.full(() if o.kind == "value" else x.shape, jnp.nan, _compute(x.dtype)) for x in leaves]
        if o.kind == "value":
            return [jnp.asarray(value, _compute(x.dtype)) for x in leaves]
        out = []
        for x, v in zip(leaves, _leaves_like(self.spec, treedef, value, f"oracle `{o.name}` ({o.kind})")):
            v = jnp.asarray(v, _compute(x.dtype))
            if v.shape != x.shape:
                raise ValueError(f"{self.spec.name}: oracle `{o.name}` has a leaf of shape {v.shape} where the "
                                 f"parameter has shape {x.shape}")
            out.append(-v if self.maximize and o.kind == "grad" else v)
        return out

    def update(self, updates, state, params=None, **extra):
        spec = self.spec
        if params is None:
            raise ValueError(f"{spec.name}: update needs the parameters (update(grads, state, params)): the "
                             f"step computes the new parameters from the old ones")
        overrides = {k: v for k, v in extra.items() if k in self.hyper_names}
        self.hypers.check_overrides(overrides)
        count = state.count
        hp = self.hypers.at(count, overrides)
        t = jnp.asarray(count, _widest_int()) + 1   # the widest int: t / k is then a float of the default width
        leaves, treedef, paths = _flatten(params)
        if spec.phased:
            return self._update_phased(hp, t, count, leaves, treedef, updates, extra, state)
        oracles = [self._oracle(o, updates, extra, treedef, leaves) for o in spec.oracles]
        states = [_leaves_like(spec, treedef, getattr(state, s.name), f"state `{s.name}`")
                  if s.name in self.live else [None] * len(leaves) for s in spec.states]
        new_updates, new_states = [], [[] for _ in spec.states]
        keys = {}
        if spec.random:
            # one split per step (the state keeps the first half), then one stream per leaf:
            # the leaf's index folded into the step's key; a leaf's step returns its last key
            next_key, step_key = jax.random.split(state[-1])
            keys[state._fields[-1]] = next_key
        leaf_step = self.step_leaf(hp, t)       # the step's per-step values, traced once for all leaves
        for i, x in enumerate(leaves):
            cd = _compute(x.dtype)
            xc = x.astype(cd)
            ins = [None if s[i] is None else jnp.asarray(s[i], cd) for s in states]
            if spec.random:
                ins.append(jax.random.fold_in(step_key, i))
            out = leaf_step(xc, *(o[i] for o in oracles), *ins)
            u = jnp.asarray(out[0], cd) if spec.update else jnp.asarray(out[0], cd) - xc
            new_updates.append(u.astype(x.dtype))
            for j, slot in enumerate(spec.states):
                if slot.name in self.live:
                    new_states[j].append(jnp.asarray(out[1 + j], self._storage(slot, x.dtype)))
        trees = {s.name: (treedef.unflatten(new_states[j]) if s.name in self.live else None)
                 for j, s in enumerate(spec.states)}
        return treedef.unflatten(new_updates), self.state_cls(count=optax.safe_increment(count), **trees, **keys)

    def eval_params(self, params, state, **overrides):
        """The parameters at evaluation time (`eval x = ...` on every leaf, from the param and
        the states the last step left), as `optax.contrib.schedule_free_eval_params` gives
        them; `params` itself for a method without an eval view. Jit-able. A state wrapped by
        `optax.inject_hyperparams` is unwrapped, and its hyperparams are used."""
        if hasattr(state, "inner_state") and hasattr(state, "hyperparams"):
            overrides = {**{_ALIASES.get(k, k): v for k, v in state.hyperparams.items()
                            if _ALIASES.get(k, k) in self.hyper_names and _ALIASES.get(k, k) not in self.hypers.static},
                         **overrides}
            state = state.inner_state
        if self.eval_leaf is None:
            return params
        spec = self.spec
        self.hypers.check_overrides(overrides)
        hp = self.hypers.at(jnp.maximum(jnp.asarray(state.count) - 1, 0), overrides)   # the last step's hypers
        leaves, treedef, _ = _flatten(params)
        cds = [_compute(x.dtype) for x in leaves]
        states_in = self._states_in(state, treedef, len(leaves), cds)
        out = []
        for i, (x, cd) in enumerate(zip(leaves, cds)):
            args = [s if slot.shared else s[i] for slot, s in zip(spec.states, states_in)]
            out.append(jnp.asarray(self.eval_leaf(hp, x.astype(cd), *args), cd).astype(x.dtype))
        return treedef.unflatten(out)

    def _states_in(self, state, treedef, n: int, cds) -> list:
        """Each state as a step reads it: a shared one as its scalar, a per-leaf one as a list
        of its leaves in their compute dtypes (a state that is not live: a list of None)."""
        out = []
        for slot in self.spec.states:
            value = getattr(state, slot.name) if slot.name in self.live else None
            if slot.shared:
                out.append(self._shared_in(value, slot))
            elif value is None:
                out.append([None] * n)
            else:
                out.append([jnp.asarray(v, cd) for v, cd in
                            zip(_leaves_like(self.spec, treedef, value, f"state `{slot.name}`"), cds)])
        return out

    def _update_phased(self, hp, t, count, leaves, treedef, updates, extra, state):
        """Every leaf at once: lists in (each leaf in its compute dtype), lists out; a `value`
        oracle is one scalar of the default float width."""
        spec = self.spec
        cds = [_compute(x.dtype) for x in leaves]
        xs = [x.astype(cd) for x, cd in zip(leaves, cds)]
        one = [jnp.zeros((), _dtype(float))]
        oracles_in = [self._oracle(o, updates, extra, treedef, one)[0] if o.kind == "value"
                      else self._oracle(o, updates, extra, treedef, leaves) for o in spec.oracles]
        states_in = self._states_in(state, treedef, len(leaves), cds)
        keys = {}
        if spec.random:                     # the step's key; the state keeps the other half of the split
            keys[state._fields[-1]], step_key = jax.random.split(state[-1])
            states_in.append(step_key)
        out = self.step_leaf(hp, t, xs, *oracles_in, *states_in)
        new_updates = [(jnp.asarray(v, cd) if spec.update else jnp.asarray(v, cd) - xc).astype(x.dtype)
                       for v, cd, xc, x in zip(out[0], cds, xs, leaves)]
        trees = {}
        for slot, values in zip(spec.states, out[1:]):
            if slot.name not in self.live:
                trees[slot.name] = None
            elif slot.shared:
                trees[slot.name] = self._shared_out(values, slot)
            else:
                trees[slot.name] = treedef.unflatten([jnp.asarray(v, self._storage(slot, x.dtype))
                                                      for v, x in zip(values, leaves)])
        return treedef.unflatten(new_updates), self.state_cls(count=optax.safe_increment(count), **trees, **keys)


def _compute(storage) -> np.dtype:
    return _canonical(compute_dtype(storage))


def _committed(x) -> bool:
    return isinstance(x, jax.Array) and not isinstance(x, jax.core.Tracer) and x.committed


def _replicated(sharding):
    """A scalar's placement beside arrays placed by `sharding`: the same devices, unsplit."""
    if isinstance(sharding, jax.sharding.NamedSharding):
        return jax.sharding.NamedSharding(sharding.mesh, jax.sharding.PartitionSpec())
    return jax.sharding.SingleDeviceSharding(min(sharding.device_set, key=lambda d: d.id))


def _place_like(state, x, ref):
    """States of parameters placed on devices (committed) are placed too: one shaped like its
    leaf gets the leaf's sharding, any other is replicated beside it. Otherwise a jitted
    update would compile twice, once for uncommitted and once for committed states."""
    if ref is None:
        return state
    if _committed(x) and state.shape == x.shape:
        return jax.device_put(state, x.sharding)
    return jax.device_put(state, _replicated((x if _committed(x) else ref).sharding))


_ALIASES = {"learning_rate": "lr", "b1": "beta1", "b2": "beta2"}    # optax's names, as the factories take them


class Transformation(optax.GradientTransformationExtraArgs):
    """An optax GradientTransformationExtraArgs (a NamedTuple of init and update) that also
    has `eval_params(params, state)`: the parameters at evaluation time (the method's
    `eval x = ...` view; `params` itself for a method without one)."""

    def eval_params(self, params, state, **overrides):
        return self.__dict__["_eval_params"](params, state, **overrides)


def optimizer(spec: Spec, init_leaf: Callable, step_leaf: Callable, state_cls: type, hypers: dict[str, Any],
              aliases: Optional[dict[str, Any]] = None, maximize: bool = False,
              init_shared: Optional[Callable] = None, eval_leaf: Optional[Callable] = None):
    """An optax GradientTransformationExtraArgs running `step_leaf` on every leaf (a phased
    method's step on all leaves at once; `init_shared` gives its shared states).

    `update(grads, state, params, **extra)` returns (new_params - params, new_state): extra
    args name further oracles (`value=`, `hess_diag=`, `hvp=`, or the oracle's own name) or
    override a real hyper for this call (`lr=`); others are ignored, as in optax.chain."""
    opt = _Optimizer(spec, init_leaf, step_leaf, state_cls, _merge_aliases(spec, hypers, aliases), maximize,
                     init_shared, eval_leaf)
    tx = Transformation(opt.init, opt.update)
    tx.__dict__["_eval_params"] = opt.eval_params
    return tx


def eval_params(spec: Spec, eval_leaf: Callable, params, state, hypers: dict[str, Any]):
    """`NAME_eval_params(params, state, **hypers)` of a generated module: the eval view under
    the given hypers (ours or optax's names; the defaults where not given; those of an
    `optax.inject_hyperparams` state where `state` is one)."""
    given = {}
    for name, value in hypers.items():
        name = _ALIASES.get(name, name) if name not in {h.name for h in spec.hypers} else name
        if value is not None:
            given[name] = value
    opt = _Optimizer(spec, None, None, None, given, False, None, eval_leaf)
    return opt.eval_params(params, state)


# ---------------------------------------------------------------- optimizers with rules

class Rule(NamedTuple):
    """One rule: its pattern and the generated optimizer of its leaves (spec, per-leaf init
    and step, state class); `hypers` maps the outer hypers to a delegate's (None: the same)."""
    pattern: Pattern
    spec: Spec
    init: Callable
    step: Callable
    state_cls: type
    hypers: Optional[Callable[[Hypers], dict]] = None


class _RuledOptimizer:
    """An optimizer whose leaves go to rules by shape (chosen at trace time: shapes are
    static), each rule an _Optimizer of its own over its leaves (viewed `as matrix` where the
    pattern says so). The state is `count` and `leaves`, a tree of the parameters' structure
    whose leaves are per-leaf records `{"rule": k, STATE: array, ...}` with only that rule's
    live states, as numpy's. The step before the rules, if any, is a phased _Optimizer run on
    every leaf; its shared states reach every rule as per-step hypers."""

    def __init__(self, spec: Spec, rules, state_cls: type, given: dict[str, Any], maximize: bool, before=None):
        self.spec, self.rules, self.state_cls = spec, tuple(rules), state_cls
        self.hypers = _Hypers(spec, given)
        self.hyper_names = {h.name for h in spec.hypers}
        base = self.hypers.base
        self.inner = [_Optimizer(r.spec, r.init, r.step, r.state_cls, self._given(r, base), maximize)
                      for r in self.rules]
        self.before = None
        if before is not None:
            bspec, binit, bstep, bcls, bshared = before
            self.before = _Optimizer(bspec, binit, bstep, bcls, base.as_dict(), maximize, init_shared=bshared)

    def __repr__(self) -> str:
        return f"<iterc jax optimizer {self.spec.name} {self.hypers.base}>"

    @staticmethod
    def _given(rule: Rule, hp: Hypers) -> dict:
        return hp.as_dict() if rule.hypers is None else dict(rule.hypers(hp))

    def _choose(self, paths, leaves) -> list[int]:
        out = []
        for path, x in zip(paths, leaves):
            check_param_shape(self.spec, path, x.shape)
            k = choose_rule(self.rules, x.shape)
            if k is None:
                patterns = ", ".join(r.pattern.text() for r in self.rules)
                raise ValueError(f"{self.spec.name}: no rule takes {path} with shape {x.shape} (rules: {patterns})")
            out.append(k)
        return out

    def init(self, params):
        leaves, treedef, paths = _flatten(params)
        chosen = self._choose(paths, leaves)
        records: list = [None] * len(leaves)
        for k, (rule, inner) in enumerate(zip(self.rules, self.inner)):
            idx = [i for i, c in enumerate(chosen) if c == k]
            if not idx:
                continue
            sub = inner.init([leaves[i].reshape(rule.pattern.view(leaves[i].shape)) for i in idx])
            names = [s.name for s in inner.spec.states if s.name in inner.live]
            for j, i in enumerate(idx):
                records[i] = {"rule": jnp.asarray(k, jnp.int32), **{n: getattr(sub, n)[j] for n in names}}
        count = jnp.zeros([], jnp.int32)
        return self.state_cls(count=count, leaves=treedef.unflatten(records))

    def _sub(self, value, treedef, idx, views, what: str):
        """An oracle for one rule's leaves: its per-leaf values viewed as the rule sees them."""
        if value is None or not jax.tree_util.tree_leaves(value) or jnp.ndim(value) == 0 \
                and not isinstance(value, (dict, list, tuple)):
            return value
        vals = _leaves_like(self.spec, treedef, value, what)
        return [jnp.asarray(vals[i]).reshape(v) for i, v in zip(idx, views)]

    def update(self, updates, state, params=None, **extra):
        spec = self.spec
        if params is None:
            raise ValueError(f"{spec.name}: update needs the parameters (update(grads, state, params)): the "
                             f"step computes the new parameters from the old ones")
        overrides = {k: v for k, v in extra.items() if k in self.hyper_names}
        self.hypers.check_overrides(overrides)
        others = {k: v for k, v in extra.items() if k not in self.hyper_names}
        count = state.count
        hp = self.hypers.at(count, overrides)
        leaves, treedef, paths = _flatten(params)
        chosen = self._choose(paths, leaves)
        records = _leaves_like(spec, treedef, state.leaves, "the state's `leaves`")
        grads = _leaves_like(spec, treedef, updates, "the updates")
        exports = {}
        if self.before is not None:
            bspec = self.before.spec
            bstate = self.before.state_cls(count=count, **{s.name: jnp.zeros([], _dtype(float))
                                                           for s in bspec.states})
            real = {h.name: getattr(hp, h.name) for h in bspec.hypers if not h.static}
            _, out = self.before.update(updates, bstate, params, **real, **others)
            exports = {s.name: getattr(out, s.name) for s in bspec.states}
        new_updates: list = [None] * len(leaves)
        new_records: list = [None] * len(leaves)
        for k, (rule, inner) in enumerate(zip(self.rules, self.inner)):
            idx = [i for i, c in enumerate(chosen) if c == k]
            if not idx:
                continue
            views = [rule.pattern.view(leaves[i].shape) for i in idx]
            xs = [leaves[i].reshape(v) for i, v in zip(idx, views)]
            gs = [jnp.asarray(grads[i]).reshape(v) for i, v in zip(idx, views)]
            names = [s.name for s in inner.spec.states if s.name in inner.live]
            sub_state = inner.state_cls(count=count, **{s.name: ([records[i][s.name] for i in idx]
                                                                 if s.name in inner.live else None)
                                                        for s in inner.spec.states})
            given = {**self._given(rule, hp), **(exports if rule.hypers is None else {})}
            real = {h.name: given[h.name] for h in inner.spec.hypers if not h.static and h.name in given}
            sub_extra = {key: self._sub(v, treedef, idx, views, f"oracle `{key}`") for key, v in others.items()}
            ups, new_sub = inner.update(gs, sub_state, xs, **real, **sub_extra)
            for j, i in enumerate(idx):
                new_updates[i] = ups[j].reshape(leaves[i].shape)
                new_records[i] = {"rule": records[i]["rule"], **{n: getattr(new_sub, n)[j] for n in names}}
        return treedef.unflatten(new_updates), self.state_cls(count=optax.safe_increment(count),
                                                               leaves=treedef.unflatten(new_records))


def ruled_optimizer(spec: Spec, rules, state_cls: type, hypers: dict[str, Any],
                    aliases: Optional[dict[str, Any]] = None, maximize: bool = False, before=None):
    """An optax GradientTransformationExtraArgs for a method with rules (see _RuledOptimizer)."""
    opt = _RuledOptimizer(spec, rules, state_cls, _merge_aliases(spec, hypers, aliases), maximize, before)
    return optax.GradientTransformationExtraArgs(opt.init, opt.update)


# ---------------------------------------------------------------- solvers

class SolveInfo(NamedTuple):
    iterations: Any
    residual: Any
    converged: Any


@jax.tree_util.register_pytree_node_class
class Solution:
    """A solver's result: outputs by name (`sol["P"]` or `sol.P`) and `sol.info`; a pytree,
    so it comes back from `jax.jit` and `jax.vmap`."""

    def __init__(self, outputs: dict[str, Any], info: SolveInfo):
        self.outputs = outputs
        self.info = info

    def tree_flatten(self):
        return (self.outputs, self.info), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        return cls(*children)

    def __getitem__(self, name: str):
        return self.outputs[name]

    def __getattr__(self, name: str):
        outputs = self.__dict__.get("outputs", {})
        if name in outputs:
            return outputs[name]
        raise AttributeError(name)

    def __iter__(self):
        yield self.outputs
        yield self.info

    def __repr__(self) -> str:
        return f"Solution(outputs={self.outputs!r}, info={self.info!r})"


def _as_elem(value, elem: str):
    value = jnp.asarray(value)
    if elem == "real" and is_float(value.dtype):
        return value
    return value.astype(_dtype(_ELEM[elem]))


class Solver:
    """A compiled solver: `solver(**inputs_and_hypers)` -> Solution, built on lax.while_loop.

    Real hypers may be overridden per call (traced: no recompile when they change);
    static ones (caps, sizes) select a compiled variant. `check_every=k` tests the
    stopping rule every k rounds. Calls are jitted; the solver can itself be called under
    `jax.jit` or `jax.vmap` (a batch of problems)."""

    def __init__(self, spec: Spec, solve_fn: Callable, hypers: dict[str, Any], check_every: int = 1):
        if isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 1:
            raise ValueError(f"{spec.name}: check_every must be an integer >= 1, got {check_every!r}")
        self.spec = spec
        self._solve = solve_fn
        self.check_every = check_every
        self._hypers = _Hypers(spec, {k: v for k, v in hypers.items() if v is not None}, schedules_allowed=False)
        self.hypers = self._hypers.base
        self._compiled: dict[tuple, Callable] = {}

    def __repr__(self) -> str:
        return f"<iterc jax solver {self.spec.name} {self.hypers}>"

    def __call__(self, **kwargs) -> Solution:
        spec = self.spec
        missing = [s.name for s in spec.inputs if s.name not in kwargs]
        if missing:
            raise ValueError(f"{spec.name}: missing input(s) {', '.join('`' + m + '`' for m in missing)}")
        inputs = {s.name: kwargs.pop(s.name) for s in spec.inputs}
        progress = self._progress(kwargs.pop("callback", None), kwargs.pop("callback_every", None))
        functions = {}
        for o in spec.oracles:
            if o.name not in kwargs:
                raise ValueError(f"{spec.name}: missing function oracle `{o.name}`; pass {o.name}=a_function")
            fn = kwargs.pop(o.name)
            if not callable(fn):
                raise TypeError(f"{spec.name}: oracle `{o.name}` must be a function, got {type(fn).__name__}")
            functions[o.name] = fn
        static = {k: _static_value(spec, k, v) for k, v in kwargs.items() if k in self._hypers.static}
        dynamic = {k: v for k, v in kwargs.items() if k not in static}
        if kwargs:                                        # check overrides now, where they are known
            hp = resolve(spec.name, spec.hypers, spec.conditions, kwargs | static, base=self.hypers)
            spec.check_periods(hp)
        key = tuple(sorted(static.items())) + tuple((n, id(f)) for n, f in functions.items()) + (id(progress),)
        if key not in self._compiled:
            self._compiled[key] = jax.jit(self._run(static, functions, progress))
        return self._compiled[key](inputs, dynamic)

    solve = __call__

    def _progress(self, callback: Optional[Callable], every) -> Optional[Callable]:
        """The host side of `callback=(t, residual)`: called after the rounds that test the
        stopping rule (every `check_every`), those a multiple of `callback_every`. Under
        vmap, once per problem of the batch."""
        name = self.spec.name
        if callback is None:
            if every is not None:
                raise ValueError(f"{name}: callback_every= needs a callback=")
            return None
        if not callable(callback):
            raise TypeError(f"{name}: callback must be a function of (t, residual), got {type(callback).__name__}")
        every = self.check_every if every is None else every
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            raise ValueError(f"{name}: callback_every must be an integer >= 1, got {every!r}")
        if every % self.check_every:
            raise ValueError(f"{name}: callback_every={every} is not a multiple of check_every={self.check_every}; "
                             f"the JAX solve computes the residual only on the rounds that check it "
                             f"(pass callback_every={self.check_every * max(1, round(every / self.check_every))})")

        def report(t, residual=None):
            t = int(t)
            if t % every == 0:
                callback(t, None if residual is None else float(residual))
        report.__name__ = f"progress_{name}"
        return report

    def _run(self, static: dict[str, Any], functions: Optional[dict[str, Callable]] = None,
             progress: Optional[Callable] = None) -> Callable:
        spec = self.spec
        functions = functions or {}

        def run(inputs, dynamic):
            hp = resolve(spec.name, spec.hypers, (), {**self._hypers.given, **static, **dynamic})
            arrays = {s.name: jnp.asarray(inputs[s.name], _dtype(numpy_dtype(s.dtype))) for s in spec.inputs}
            extra = {"progress": progress} if progress is not None else {}
            outputs, info = self._solve(hp, **arrays, **functions, check_every=self.check_every, **extra)
            return Solution({name: _as_elem(outputs[name], elem) for name, elem in spec.outputs}, info)
        return run


def solver(spec: Spec, solve_fn: Callable, hypers: dict[str, Any], check_every: int = 1) -> Solver:
    return Solver(spec, solve_fn, hypers, check_every)

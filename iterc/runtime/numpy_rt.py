"""Runtime for `--target numpy` modules: the reference stepper and solver, and math helpers.

Generated code holds the per-leaf math (`init_NAME`, `step_NAME`, `solve_NAME`); what is
the same for every method -- hyperparameters, parameter trees (optree), the step
counter, oracle routing, dtypes (the policy in `dtypes.py`), dimension binding, input
domains, function oracles, the random generator, progress reports -- lives here once.

Randomness: the IR threads a generator key; here the key is an `np.random.Generator`
(PCG64) that each draw advances in place. A solver makes one from `hyper seed` when a
solve starts; an optimizer makes one when it is instantiated and keeps it, so its draws
continue from step to step (leaves in tree order, each leaf's draws in program order).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np
import optree

from . import domains, linalg
from .dtypes import compute_dtype, is_float, numpy_dtype
from .hypers import Condition, Hyper, Hypers, resolve
from .spec import Oracle, Pattern, Slot, Spec, bind_dims, check_param_shape, check_state_shape, choose_rule

__all__ = ["check_state_shape", "Spec", "Slot", "Hyper", "Condition", "Oracle", "Optimizer", "RuledOptimizer", "Rule",
           "Pattern",
           "choose_rule", "Solver", "Solution", "SolveInfo",
           "require_steps", "full", "cast", "size", "sigmoid", "norm", "channel_sum", "logsumexp", "softmax",
           "normalize", "total", "bind_dims", "rng", "randn_like", "rand_like", "solve_info", "FunctionOracle",
           "iota", "sort", "cumsum", "onehot", "topk_mask", "inv_root", "matrix_sqrt", "proj_psd",
           "proj_stiefel", "lmo_nuclear", "qr", "svd", "prox_l1", "prox_l2", "prox_sq", "prox_elastic", "prox_linf",
           "proj_box", "proj_l2ball", "proj_l1ball", "proj_linfball", "proj_simplex", "proj_nonneg",
           "proj_hyperplane", "proj_sphere", "lmo_simplex", "lmo_l1ball", "lmo_box", "mirror_entropic",
           "mirror_euclid", "mirror_logbarrier"]


# ---------------------------------------------------------------- math helpers

def full(shape, value, dtype=np.float64) -> np.ndarray:
    """A fresh array of `shape` filled from `value` (a scalar or a broadcastable array)."""
    dtype = numpy_dtype(dtype) if isinstance(dtype, str) else np.dtype(dtype)
    return np.array(np.broadcast_to(np.asarray(value, dtype=dtype), shape), dtype=dtype)


_ELEM = {"real": np.float64, "int": np.int64, "bool": np.bool_}


def cast(x, elem: str):
    x = np.asarray(x)
    if elem == "real" and is_float(x.dtype):
        return x
    return x.astype(_ELEM[elem])


def size(x, axis=None) -> int:
    x = np.asarray(x)
    return x.size if axis is None else x.shape[axis]


def _float(x):
    x = np.asarray(x)
    return x if is_float(x.dtype) else x.astype(np.float64)


def sigmoid(x):
    x = _float(x)
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def norm(x, axis=None):
    return np.sqrt(np.sum(np.square(x), axis=axis))


def channel_sum(x):
    """Each element replaced by the sum of its slice x[i] (all axes but the first)."""
    x = np.asarray(x)
    return np.broadcast_to(np.sum(x, axis=tuple(range(1, x.ndim)), keepdims=True), x.shape).copy()


def logsumexp(x, axis=None):
    x = _float(x)
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0).astype(x.dtype)
    z = x - top
    z = np.exp(z, out=z) if isinstance(z, np.ndarray) else np.exp(z)   # in place: one allocation fewer
    out = np.log(np.sum(z, axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis) if axis is not None else out.reshape(())[()]


def softmax(x, axis=None):
    x = _float(x)
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return z / np.sum(z, axis=axis, keepdims=True)


def normalize(x, axis=None):
    return x / np.sum(x, axis=axis, keepdims=True)


def total(parts) -> np.float64:
    """A model-wide sum: one scalar per leaf (a phase's partials), added up in float64.
    A numpy scalar, not a Python float: dividing by a zero total gives inf, as in a leaf."""
    if not parts:
        return np.float64(0.0)
    first = np.asarray(parts[0])
    if first.dtype.kind in "iub":
        return sum(int(p) for p in parts)
    return np.float64(np.sum(np.asarray([np.float64(p) for p in parts])))


# ---------------------------------------------------------------- randomness

def rng(seed) -> np.random.Generator:
    """The generator a method draws from: PCG64 seeded by the hyper `seed`."""
    return np.random.Generator(np.random.PCG64(int(seed)))


def _draw(values, like):
    like = np.asarray(like)
    dtype = like.dtype if is_float(like.dtype) else np.dtype(np.float64)
    if like.ndim == 0:
        return dtype.type(values)
    return np.asarray(values, dtype=dtype)


def randn_like(key: np.random.Generator, x):
    """Standard normal noise shaped like x (in x's float dtype); advances `key`."""
    return _draw(key.standard_normal(np.shape(x)), x)


def rand_like(key: np.random.Generator, x):
    """Uniform noise in [0, 1) shaped like x (in x's float dtype); advances `key`."""
    return _draw(key.random(np.shape(x)), x)
# ---------------------------------------------------------------- selection and sorting
#
# Without `axis=`, sort and cumsum run over all elements in row-major order and the result
# keeps x's shape; iota gives each element's flat index (or its index along `axis`).

def _keep(axis):
    return axis is not None


def iota(x, axis=None):
    x = np.asarray(x)
    if axis is None:
        return np.arange(x.size).reshape(x.shape)
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    return np.broadcast_to(np.arange(x.shape[axis]).reshape(shape), x.shape)


def sort(x, axis=None):
    x = np.asarray(x)
    return np.sort(x, axis=None).reshape(x.shape) if axis is None else np.sort(x, axis=axis)


def cumsum(x, axis=None):
    x = np.asarray(x)
    return np.cumsum(x, axis=None).reshape(x.shape) if axis is None else np.cumsum(x, axis=axis)


def onehot(i, like, axis=None):
    """1.0 at flat index i of a value shaped like `like` (along `axis`: at i[...] in each slice)."""
    like = np.asarray(like)
    if axis is not None and np.ndim(i) > 0:
        i = np.expand_dims(i, axis)
    return np.where(iota(like, axis) == i, 1.0, 0.0).astype(_float(like).dtype)


def topk_mask(x, k):
    """1.0 at the k largest |x| (flat; ties to the lower flat index), else 0.0."""
    x = np.asarray(x)
    y = np.abs(x).ravel()
    out = np.zeros(y.size, dtype=_float(x).dtype)
    k = int(k)
    if k > 0:
        out[np.argsort(-y, kind="stable")[:k]] = 1.0
    return out.reshape(x.shape)


# ---------------------------------------------------------------- matrices

def _eigh_sym(A):
    A = _float(A)
    return np.linalg.eigh(0.5 * (A + A.T))


def _spectral(A, f):
    w, V = _eigh_sym(A)
    return (V * f(np.maximum(w, 0.0))) @ V.T


def inv_root(A, p, eps):
    """(S₊ + eps I)^(-1/p), S the symmetric part of A and S₊ its PSD part."""
    return _spectral(A, lambda w: (w + eps) ** (-1.0 / p))


def matrix_sqrt(A):
    return _spectral(A, np.sqrt)


def proj_psd(A):
    return _spectral(A, lambda w: w)


def proj_stiefel(A):
    U, _, Vt = np.linalg.svd(_float(A), full_matrices=False)
    return U @ Vt


def lmo_nuclear(G, r):
    U, _, Vt = np.linalg.svd(_float(G), full_matrices=False)
    return -r * np.outer(U[:, 0], Vt[0])


def qr(A):
    """The reduced QR of a tall or square A (m >= n): Q [m, n], R [n, n]."""
    A = _float(A)
    linalg.check_qr(A.shape)
    return np.linalg.qr(A, mode="reduced")


def svd(A, r=None):
    """The thin SVD of a tall or square A (U [m, n], s [n], Vt [n, n]), or with r its r
    largest singular triplets, of any A (U [m, r], s [r], Vt [r, n]); s descending."""
    A = _float(A)
    linalg.check_svd(A.shape, r)
    U, s, Vt = np.linalg.svd(A, full_matrices=False)
    return (U, s, Vt) if r is None else (U[:, :r], s[:r], Vt[:r])


# ---------------------------------------------------------------- prox operators and projections

def prox_l1(x, lam):
    x = _float(x)
    return np.sign(x) * np.maximum(np.abs(x) - lam, 0.0)


def prox_l2(x, lam, axis=None):
    x = _float(x)
    n = np.sqrt(np.sum(np.square(x), axis=axis, keepdims=_keep(axis)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > lam, 1.0 - lam / n, 0.0) * x


def prox_sq(x, lam):
    return _float(x) / (1.0 + lam)


def prox_elastic(x, l1, l2):
    return prox_l1(x, l1) / (1.0 + l2)


def prox_linf(x, lam):
    return _float(x) - proj_l1ball(x, lam)


def proj_box(x, lo, hi):
    return np.minimum(np.maximum(_float(x), lo), hi)


def proj_l2ball(x, r, axis=None):
    x = _float(x)
    n = np.sqrt(np.sum(np.square(x), axis=axis, keepdims=_keep(axis)))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > r, r / n, 1.0) * x


def _simplex_1d(v, s):
    """Duchi et al. 2008: theta from the largest rho with u_rho > (sum_{i<=rho} u_i - s) / rho."""
    u = np.sort(v)[::-1]
    css = np.cumsum(u)
    k = np.arange(1, v.size + 1)
    hit = np.nonzero(u - (css - s) / k > 0)[0]
    if hit.size == 0:                     # s == 0: the simplex is the origin
        return np.zeros_like(v)
    rho = hit[-1] + 1
    return np.maximum(v - (css[rho - 1] - s) / rho, 0.0)


def proj_simplex(x, s=1.0, axis=None):
    x = _float(x)
    if axis is None:
        return _simplex_1d(x.ravel(), s).reshape(x.shape)
    return np.apply_along_axis(_simplex_1d, axis, x, s)


def proj_l1ball(x, r):
    x = _float(x)
    if np.sum(np.abs(x)) <= r:
        return x
    return np.sign(x) * proj_simplex(np.abs(x), r)


def proj_linfball(x, r):
    return np.minimum(np.maximum(_float(x), -r), r)


def proj_nonneg(x):
    return np.maximum(_float(x), 0.0)


def proj_hyperplane(x, a, b):
    x = _float(x)
    aa = np.sum(a * a)
    return x - (np.sum(a * x) - b) / aa * a if aa > 0 else x


def proj_sphere(x, r):
    x = _float(x)
    n = np.sqrt(np.sum(np.square(x)))
    if n > 0:
        return r / n * x
    return np.where(iota(x) == 0, r, 0.0).astype(x.dtype)


# ---------------------------------------------------------------- linear minimisation oracles

def lmo_simplex(g, axis=None):
    return onehot(np.argmin(g, axis=axis), g, axis)


def lmo_l1ball(g, r):
    g = _float(g)
    i = np.argmax(np.abs(g))
    out = np.zeros(g.size, dtype=g.dtype)
    out[i] = r if g.ravel()[i] < 0 else -r
    return out.reshape(g.shape)


def lmo_box(g, lo, hi):
    return _float(np.where(np.asarray(g) > 0, lo, hi))


# ---------------------------------------------------------------- mirror steps

def mirror_entropic(x, g, step, axis=None):
    """x·exp(-step·g), normalised; shifted by the largest exponent on x's support."""
    x = _float(x)
    z = -step * np.asarray(g)
    support = x > 0
    top = np.max(np.where(support, z, -np.inf), axis=axis, keepdims=_keep(axis))
    top = np.where(np.isfinite(top), top, 0.0)
    w = x * np.exp(np.where(support, z - top, 0.0))
    return w / np.sum(w, axis=axis, keepdims=_keep(axis))


def mirror_euclid(x, g, step):
    return _float(x) - step * g


def mirror_logbarrier(x, g, step):
    """1/x_new = 1/x + step·g, i.e. x / (1 + step·g·x), the factor floored at 1/2."""
    x = _float(x)
    return x / np.maximum(1.0 + step * g * x, 0.5)


# ---------------------------------------------------------------- trees

def _path(path: tuple) -> str:
    return "params" + "".join(f"[{k!r}]" for k in path)


def _flatten(tree):
    paths, leaves, spec = optree.tree_flatten_with_path(tree)
    return leaves, spec, [_path(p) for p in paths]


# ---------------------------------------------------------------- optimizers

def _leafwise(spec: Spec, step_leaf: Callable) -> Callable:
    """The step of a method without phases, in the form of a phased one: lists in, lists
    out, the per-leaf step run on each leaf in turn (a random method's generator, passed
    last, goes to every leaf's step: leaves draw in tree order)."""
    scalar = [o.kind == "value" for o in spec.oracles]
    n_oracles = len(scalar)

    def step_all(hp, t, xs, *rest):
        key = rest[-1:] if spec.random else ()
        rest = rest[:-1] if spec.random else rest
        oracles, states = rest[:n_oracles], rest[n_oracles:]
        outs = []
        for i, x in enumerate(xs):
            args = [o if s else o[i] for o, s in zip(oracles, scalar)]
            outs.append(step_leaf(hp, t, x, *args, *(s[i] for s in states), *key))
        if not outs:
            return tuple([] for _ in range(1 + len(states)))
        return tuple(list(column) for column in zip(*outs))
    return step_all


def _shared_in(value, slot: Slot):
    """A shared state as the step computes with it: float64 for reals (one scalar, no leaf
    dtype to follow), Python ints and bools otherwise."""
    if value is None:
        return None
    if slot.elem == "int":
        return int(value)
    if slot.elem == "bool":
        return bool(value)
    return np.float64(value)


def _shared_out(value, slot: Slot):
    """A shared state as it is stored: one numpy scalar of its storage dtype."""
    return numpy_dtype(slot.dtype if slot.dtype != "like_param" else "f64").type(np.asarray(value).reshape(()))


def _with_overrides(spec: Spec, base: Hypers, overrides: dict, per: str) -> Hypers:
    """The hypers for one step (or call) with real hypers overridden; a static hyper
    (control flow, sizes) cannot change after the optimizer is made."""
    static = [h.name for h in spec.hypers if h.static and h.name in overrides]
    if static:
        raise ValueError(f"{spec.name}: hyper `{static[0]}` is static (it steers control flow or sizes), so it "
                         f"cannot change per {per}; set it when creating the optimizer")
    return resolve(spec.name, spec.hypers, spec.conditions, overrides, base=base) if overrides else base


def _float_leaves(spec: Spec, params):
    """The parameter leaves as arrays (ints as float64), each checked against the param's
    shape, with the tree structure and the leaves' paths."""
    leaves, structure, paths = _flatten(params)
    arrays = []
    for path, leaf in zip(paths, leaves):
        arr = np.asarray(leaf)
        if not is_float(arr.dtype):
            arr = arr.astype(np.float64)
        check_param_shape(spec, path, arr.shape)
        arrays.append(arr)
    return arrays, structure, paths


class Optimizer:
    """A reference optimizer over a parameter tree: `init(params)`, `step(params, state, grads, **oracles)`.

    Trees are any optree pytree: dicts (in any key order), lists, tuples, NamedTuples,
    None leaves (skipped). State is a dict: `t` (steps taken), one tree per state that
    the hypers use (`vmax` only with `amsgrad=True`), and one scalar per `shared state`.
    Real hypers can be overridden per step (schedules): `step(..., lr=0.01)`; static ones
    (bool, int) cannot. `maximize=True` ascends instead of descending (the gradient oracle
    is negated).

    The generated step takes every leaf at once (`step(hp, t, xs, oracles..., states...)`
    with one list per per-leaf slot and one scalar per shared state or `value` oracle): a
    phased method's step as generated, any other method's per-leaf step wrapped to that
    form (`_leafwise`). Loads cast each leaf to its compute dtype, stores cast back.
    """

    def __init__(self, spec: Spec, init_leaf: Callable, step: Callable, hypers: dict[str, Any],
                 init_shared: Optional[Callable] = None, eval_params: Optional[Callable] = None):
        self.spec = spec
        self._eval_leaf = eval_params
        self._init_leaf = init_leaf
        self._init_shared = init_shared
        self._step = step if spec.phased else _leafwise(spec, step)
        hypers = dict(hypers)
        self.maximize = bool(hypers.pop("maximize", False)) if "maximize" not in {h.name for h in spec.hypers} \
            else False
        self.hypers = resolve(spec.name, spec.hypers, spec.conditions, hypers)
        spec.check_periods(self.hypers)
        self.live = spec.live_states(self.hypers)
        # one generator per instance, advanced by every step (leaves in tree order)
        self.rng = rng(self.hypers.seed) if spec.random else None

    def __repr__(self) -> str:
        return f"<iterc numpy optimizer {self.spec.name} {self.hypers}>"

    def _leaves(self, params):
        return _float_leaves(self.spec, params)

    def init(self, params) -> dict:
        leaves, structure, _ = self._leaves(params)
        live = {s.name for s in self.live}
        per_leaf = [self._init_leaf(self.hypers, x, live) for x in leaves]
        shared = iter(self._init_shared(self.hypers, live) if self._init_shared is not None else ())
        state: dict[str, Any] = {"t": 0}
        i = 0
        for slot in self.spec.states:
            if slot.shared:
                value = next(shared)
                if slot.name in live:
                    state[slot.name] = _shared_out(value, slot)
                continue
            if slot.name in live:
                stored = [np.array(s[i], dtype=numpy_dtype(slot.dtype, like=x.dtype)) for s, x in zip(per_leaf, leaves)]
                state[slot.name] = optree.tree_unflatten(structure, stored)
            i += 1
        return state

    def _oracle_leaves(self, o: Oracle, value, structure, paths, leaves, t):
        if o.kind == "value":
            return float(value)                       # one number for the whole model
        vals, vstructure, _ = _flatten(value)
        if vstructure != structure:
            raise ValueError(f"{self.spec.name}: oracle `{o.name}` must have the same tree structure as the "
                             f"parameters: {vstructure} vs {structure}")
        out = []
        for path, v, x in zip(paths, vals, leaves):
            v = np.asarray(v)
            if v.shape != x.shape:
                raise ValueError(f"{self.spec.name}: oracle `{o.name}` at {path} has shape {v.shape}, but the "
                                 f"parameter has shape {x.shape}")
            out.append(-v if self.maximize and o.kind == "grad" else v)
        return out

    def step(self, params, state: dict, grads=None, **kwargs):
        spec = self.spec
        oracle_names = {o.name for o in spec.oracles}
        overrides = {k: v for k, v in kwargs.items() if k not in oracle_names}
        hp = _with_overrides(spec, self.hypers, overrides, "step")
        t = int(state["t"]) + 1
        leaves, structure, paths = self._leaves(params)
        n = len(leaves)
        oracle_leaves = []
        for o in spec.oracles:
            value = grads if o.kind == "grad" and o.name not in kwargs else kwargs.get(o.name)
            needed = o.every is None or (t - 1) % int(o.every(hp)) == 0
            if value is None:
                if needed:
                    when = "every step" if o.every is None else f"on step {t} (every {int(o.every(hp))} steps)"
                    raise ValueError(f"{spec.name}: oracle `{o.name}` ({o.kind}) must be supplied {when}; "
                                     f"pass {'grads' if o.kind == 'grad' else o.name + '='}...")
                oracle_leaves.append(None if o.kind == "value" else [None] * n)
                continue
            oracle_leaves.append(self._oracle_leaves(o, value, structure, paths, leaves, t))
        live = {s.name for s in self.live}
        state_leaves = []
        for slot in spec.states:
            if slot.shared:
                state_leaves.append(_shared_in(state[slot.name], slot) if slot.name in live else None)
                continue
            if slot.name not in live:
                state_leaves.append([None] * n)
                continue
            vals, sstructure, _ = _flatten(state[slot.name])
            if sstructure != structure:
                raise ValueError(f"{spec.name}: state `{slot.name}` does not have the parameters' tree structure")
            state_leaves.append(vals)
        cds = [compute_dtype(x.dtype) for x in leaves]
        xs = [np.asarray(x, dtype=cd) for x, cd in zip(leaves, cds)]
        oracles_in = [o if o is None or isinstance(o, float) else
                      [None if v is None else np.asarray(v, dtype=cd) for v, cd in zip(o, cds)] for o in oracle_leaves]
        states_in = [s if slot.shared else [None if v is None else np.asarray(v, dtype=cd) for v, cd in zip(s, cds)]
                     for slot, s in zip(spec.states, state_leaves)]
        key = (self.rng,) if self.rng is not None else ()
        out = self._step(hp, t, xs, *oracles_in, *states_in, *key)
        new_params = [np.array(v, dtype=x.dtype) for v, x in zip(out[0], leaves)]      # copies, never the caller's
        new_state: dict[str, Any] = {"t": t}
        for slot, values in zip(spec.states, out[1:]):
            if slot.name not in live:
                continue
            if slot.shared:
                new_state[slot.name] = _shared_out(values, slot)
                continue
            stored = [np.array(v, dtype=numpy_dtype(slot.dtype, like=x.dtype)) for v, x in zip(values, leaves)]
            new_state[slot.name] = optree.tree_unflatten(structure, stored)
        return optree.tree_unflatten(structure, new_params), new_state

    @property
    def has_eval_view(self) -> bool:
        """Whether the method says what its parameters are at evaluation time (`eval x = ...`)."""
        return self._eval_leaf is not None

    def eval_params(self, params, state: dict, **overrides):
        """The parameters at evaluation time: a new tree, each leaf the method's `eval x = ...`
        of that leaf's param and states (schedule-free: the averaged iterate, where training
        holds the interpolated point). Evaluate the model, and save checkpoints, with these;
        keep stepping from `params`. A method without an eval view returns `params` itself.
        Real hypers the eval view reads may be overridden for this call, as in `step`."""
        if self._eval_leaf is None:
            return params
        spec = self.spec
        hp = _with_overrides(spec, self.hypers, overrides, "call")
        leaves, structure, _ = self._leaves(params)
        live = {s.name for s in self.live}
        cds = [compute_dtype(x.dtype) for x in leaves]
        states_in = []
        for slot in spec.states:
            if slot.name not in live:
                states_in.append(None if slot.shared else [None] * len(leaves))
            elif slot.shared:
                states_in.append(_shared_in(state[slot.name], slot))
            else:
                vals, sstructure, _ = _flatten(state[slot.name])
                if sstructure != structure:
                    raise ValueError(f"{spec.name}: state `{slot.name}` does not have the parameters' tree structure")
                states_in.append([np.asarray(v, dtype=cd) for v, cd in zip(vals, cds)])
        out = []
        for i, (x, cd) in enumerate(zip(leaves, cds)):
            args = [s if slot.shared else s[i] for slot, s in zip(spec.states, states_in)]
            value = self._eval_leaf(hp, np.asarray(x, dtype=cd), *args)
            out.append(np.array(value, dtype=x.dtype))
        return optree.tree_unflatten(structure, out)


# ---------------------------------------------------------------- optimizers with rules

@dataclass(frozen=True)
class Rule:
    """One rule: its pattern, and the generated optimizer (spec, per-leaf init and step)
    for its leaves; `hypers` maps the outer hypers to a delegate's (None: the same hypers)."""
    pattern: Pattern
    spec: Spec
    init: Callable
    step: Callable
    hypers: Optional[Callable[[Hypers], dict]] = None


class RuledOptimizer:
    """An optimizer whose leaves go to rules by shape, each rule an Optimizer of its own.

    The rule is chosen once per leaf, at `init`, and recorded: the state is `t` and
    `leaves`, a tree with the parameters' structure whose leaves are per-leaf records
    `{"rule": index, STATE: array, ...}` holding only that rule's (live) states, as
    torch's `state[p]`. A rule whose pattern says `as matrix` sees rank >= 2 leaves
    reshaped to [shape[0], prod(rest)] (its states have that shape). A delegation runs the
    delegate's generated step with its hypers mapped from ours, every step (so a schedule
    on `adam_lr` reaches the delegate's `lr`).
    """

    def __init__(self, spec: Spec, rules, hypers: dict[str, Any], before=None):
        self.spec = spec
        self.rules = tuple(rules)
        hypers = dict(hypers)
        self.maximize = bool(hypers.pop("maximize", False)) if "maximize" not in {h.name for h in spec.hypers} \
            else False
        self.hypers = resolve(spec.name, spec.hypers, spec.conditions, hypers)
        self.inner = [Optimizer(r.spec, r.init, r.step, {**self._given(r, self.hypers), "maximize": self.maximize})
                      for r in self.rules]
        self.before = None
        if before is not None:                      # the step before the rules: model-wide values for them
            bspec, binit, bstep, bshared = before
            self.before = Optimizer(bspec, binit, bstep, {**self.hypers.as_dict(), "maximize": self.maximize},
                                    init_shared=bshared)

    def _exports(self, params, grads, hp: Hypers, t: int, oracles: dict) -> dict:
        """Run the step before the rules on every leaf: its shared states are the model-wide
        values (a `global_norm` over the leaves of all rules) that the rules read as hypers."""
        if self.before is None:
            return {}
        spec = self.before.spec
        state = {"t": t, **{s.name: 0.0 for s in spec.states}}
        real = {h.name: getattr(hp, h.name) for h in spec.hypers if not h.static}
        extra = {o.name: oracles[o.name] for o in spec.oracles if o.name in oracles}
        _, out = self.before.step(params, state, grads, **real, **extra)
        return {s.name: out[s.name] for s in spec.states}

    def __repr__(self) -> str:
        return f"<iterc numpy optimizer {self.spec.name} {self.hypers}>"

    def _given(self, rule: Rule, hp: Hypers) -> dict:
        if rule.hypers is None:
            return hp.as_dict()
        return dict(rule.hypers(hp))

    def _leaves(self, params):
        return _float_leaves(self.spec, params)

    has_eval_view = False               # the checker rejects `eval` in a method with rules

    def eval_params(self, params, state: dict, **overrides):
        """The parameters at evaluation time: a method with rules has no eval view, so `params`."""
        return params

    def rule_of(self, path: str, shape: tuple) -> int:
        k = choose_rule(self.rules, shape)
        if k is None:
            patterns = ", ".join(r.pattern.text() for r in self.rules)
            raise ValueError(f"{self.spec.name}: no rule takes {path} with shape {shape} (rules: {patterns})")
        return k

    def init(self, params) -> dict:
        leaves, structure, paths = self._leaves(params)
        chosen = [self.rule_of(p, x.shape) for p, x in zip(paths, leaves)]
        records: list = [None] * len(leaves)
        for k, (rule, inner) in enumerate(zip(self.rules, self.inner)):
            idx = [i for i, c in enumerate(chosen) if c == k]
            if not idx:
                continue
            sub = inner.init([leaves[i].reshape(rule.pattern.view(leaves[i].shape)) for i in idx])
            names = [s.name for s in inner.live]
            for j, i in enumerate(idx):
                records[i] = {"rule": np.int32(k), **{n: sub[n][j] for n in names}}
        return {"t": 0, "leaves": optree.tree_unflatten(structure, records)}

    def step(self, params, state: dict, grads=None, **kwargs):
        spec = self.spec
        oracle_names = {o.name for o in spec.oracles}
        overrides = {k: v for k, v in kwargs.items() if k not in oracle_names}
        hp = _with_overrides(spec, self.hypers, overrides, "step")
        leaves, structure, paths = self._leaves(params)
        records = structure.flatten_up_to(state["leaves"])
        exports = self._exports(params, grads, hp, int(state["t"]), kwargs)
        oracles = {}
        for o in spec.oracles:
            value = grads if o.kind == "grad" and o.name not in kwargs else kwargs.get(o.name)
            if value is None or o.kind == "value":
                oracles[o.kind] = value
                continue
            vals, vstructure, _ = _flatten(value)
            if vstructure != structure:
                raise ValueError(f"{spec.name}: oracle `{o.name}` must have the same tree structure as the "
                                 f"parameters: {vstructure} vs {structure}")
            oracles[o.kind] = [np.asarray(v) for v in vals]
        new_leaves: list = [None] * len(leaves)
        new_records: list = [None] * len(leaves)
        for path, x, rec in zip(paths, leaves, records):
            k, now = int(rec["rule"]), choose_rule(self.rules, x.shape)
            if now != k:
                goes = f"rule `{self.rules[now].pattern.text()}`" if now is not None else "no rule"
                raise ValueError(f"{spec.name}: {path} has shape {x.shape}, which goes to {goes}, but its state "
                                 f"was made for rule `{self.rules[k].pattern.text()}` at init")
        for k, (rule, inner) in enumerate(zip(self.rules, self.inner)):
            idx = [i for i, rec in enumerate(records) if int(rec["rule"]) == k]
            if not idx:
                continue
            views = [rule.pattern.view(leaves[i].shape) for i in idx]
            xs = [leaves[i].reshape(v) for i, v in zip(idx, views)]
            names = [s.name for s in inner.live]
            sub_state = {"t": state["t"], **{n: [records[i][n] for i in idx] for n in names}}
            sub_oracles = {}
            for o in inner.spec.oracles:
                value = oracles.get(o.kind)
                if value is None or o.kind == "value":
                    sub_oracles[o.name] = value
                else:
                    for i in idx:
                        if value[i].shape != leaves[i].shape:
                            raise ValueError(f"{spec.name}: oracle of kind `{o.kind}` at {paths[i]} has shape "
                                             f"{value[i].shape}, but the parameter has shape {leaves[i].shape}")
                    sub_oracles[o.name] = [value[i].reshape(v) for i, v in zip(idx, views)]
            given = {**self._given(rule, hp), **(exports if rule.hypers is None else {})}
            real = {h.name: given[h.name] for h in inner.spec.hypers if not h.static and h.name in given}
            grad = next((o.name for o in inner.spec.oracles if o.kind == "grad"), None)
            gs = sub_oracles.pop(grad) if grad is not None else None
            new_xs, new_sub = inner.step(xs, sub_state, gs, **real, **sub_oracles)
            for j, i in enumerate(idx):
                new_leaves[i] = new_xs[j].reshape(leaves[i].shape)
                new_records[i] = {"rule": np.int32(k), **{n: new_sub[n][j] for n in names}}
        new_state = {"t": int(state["t"]) + 1, "leaves": optree.tree_unflatten(structure, new_records)}
        return optree.tree_unflatten(structure, new_leaves), new_state


# ---------------------------------------------------------------- solvers

@dataclass(frozen=True)
class SolveInfo:
    """How a solve ended. `status` is "converged" (the `until` test held), "max_iter" (the
    cap was reached first) or "nonfinite" (a state became nan or inf: the run stopped at
    once); `reason` says it in words, naming the state."""
    iterations: int
    residual: Optional[float]
    converged: bool
    status: str = "converged"
    reason: str = ""


def solve_info(spec: Spec, t: int, residual, converged, states: dict) -> SolveInfo:
    """The info of a solve that ended after `t` iterations: the loop stops on the `until`
    test or on a state that is not finite (`states`: the ones the loop checks)."""
    residual = None if residual is None else float(residual)
    for name, value in states.items():
        value = np.asarray(value)
        bad = ~np.isfinite(value)
        if np.any(bad):
            i = int(np.argmax(bad.ravel()))
            entry = name if value.ndim == 0 else \
                f"{name}[{', '.join(str(int(k)) for k in np.unravel_index(i, value.shape))}]"
            return SolveInfo(t, residual, False, "nonfinite",
                             f"state `{name}` is not finite after iteration {t}: {entry} = {value.ravel()[i]}")
    if bool(converged):
        return SolveInfo(t, residual, True, "converged", f"the `until` test holds after iteration {t}")
    return SolveInfo(t, residual, False, "max_iter",
                     f"the iteration cap ({t}) was reached before the `until` test held")


@dataclass
class Solution:
    """A solver's result: outputs by name (`sol["P"]` or `sol.P`) and `sol.info`."""
    outputs: dict[str, Any]
    info: SolveInfo

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


class FunctionOracle:
    """A caller's function, as a solver calls it: what it returns is converted to the declared
    element type and checked against the declared shape (dims bound from the inputs) on
    every call, so a wrong shape fails at the first call, naming the oracle."""

    __slots__ = ("method", "oracle", "fn", "shape", "dtype", "dims")

    def __init__(self, method: str, oracle: Oracle, fn: Callable, dims: dict[str, int]):
        self.method, self.oracle, self.fn, self.dims = method, oracle, fn, dims
        elem, shape = oracle.result
        self.shape = tuple(d if isinstance(d, int) else dims[d] for d in shape)
        self.dtype = _ELEM[elem]

    def __call__(self, *args):
        out = self.fn(*args)
        name = self.oracle.name
        try:
            arr = np.asarray(out, dtype=self.dtype)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{self.method}: oracle `{name}` ({self.oracle.signature()}) returned "
                            f"{type(out).__name__}, which is not a {self.oracle.result[0]} array: {exc}") from None
        if arr.shape != self.shape:
            used = {d: self.dims[d] for d in self.oracle.result[1] if isinstance(d, str)}
            with_dims = f" with {', '.join(f'{k} = {v}' for k, v in used.items())}" if used else ""
            raise ValueError(f"{self.method}: oracle `{name}` returned shape {arr.shape}, but it is declared "
                             f"`{self.oracle.signature()}`, so{with_dims} it must return shape {self.shape}")
        return arr if arr.ndim else arr[()]


def _progress(callback: Callable, every: int) -> Callable:
    every = int(every)
    if every < 1:
        raise ValueError(f"callback_every must be at least 1, got {every}")

    def report(t, residual):
        if t % every == 0:
            callback(t, None if residual is None else float(residual))
    return report


class Solver:
    """A reference solver: `solve(**inputs, **oracles, **hypers, callback=None, callback_every=1)`
    -> Solution. Inputs are checked against their declared ranks, dims and domains; function
    oracles are Python callables; `callback(t, residual)` is called every `callback_every`
    iterations."""

    def __init__(self, spec: Spec, solve_fn: Callable, hypers: dict[str, Any]):
        self.spec = spec
        self._solve = solve_fn
        self.hypers = resolve(spec.name, spec.hypers, spec.conditions, hypers)
        spec.check_periods(self.hypers)

    def __repr__(self) -> str:
        return f"<iterc numpy solver {self.spec.name} {self.hypers}>"

    def solve(self, callback: Optional[Callable] = None, callback_every: int = 1, **kwargs) -> Solution:
        spec = self.spec
        missing = [s.name for s in spec.inputs if s.name not in kwargs]
        if missing:
            raise ValueError(f"{spec.name}: missing input(s) {', '.join('`' + m + '`' for m in missing)}")
        functions = [o for o in spec.oracles if o.kind == "function"]
        for o in functions:
            if o.name not in kwargs:
                raise ValueError(f"{spec.name}: missing oracle `{o.name}`, a function {o.signature()}; "
                                 f"pass {o.name}=<callable> to solve()")
            if not callable(kwargs[o.name]):
                raise TypeError(f"{spec.name}: oracle `{o.name}` must be a callable ({o.signature()}), "
                                f"got {type(kwargs[o.name]).__name__}")
        inputs = {s.name: np.asarray(kwargs.pop(s.name), dtype=numpy_dtype(s.dtype)) for s in spec.inputs}
        given = {o.name: kwargs.pop(o.name) for o in functions}
        hp = resolve(spec.name, spec.hypers, spec.conditions, kwargs, base=self.hypers) if kwargs else self.hypers
        if kwargs:
            spec.check_periods(hp)
        dims = bind_dims(spec, inputs)             # ranks and shared dims first, then the values
        for s in spec.inputs:
            if s.domain is not None:
                domains.check(spec.name, s.name, inputs[s.name], s.domain)
        extra: dict[str, Any] = {o.name: FunctionOracle(spec.name, o, given[o.name], dims) for o in functions}
        if callback is not None:
            extra["_progress"] = _progress(callback, callback_every)
        outputs, info = self._solve(hp, **inputs, **extra)
        storage = {s.name: numpy_dtype(s.dtype) for s in spec.states + spec.inputs if s.elem == "real"}
        return Solution({name: _as_elem(outputs[name], elem, storage.get(name)) for name, elem in spec.outputs}, info)


def _as_elem(value, elem: str, storage=None):
    """An output in its declared element type (a `real` state assigned `2 * 3` is 6.0, not 6)
    and a state or input in its storage dtype (an f32 state comes back as f32)."""
    arr = np.asarray(value)
    if storage is not None:
        arr = arr.astype(storage)
    elif not (elem == "real" and is_float(arr.dtype)):
        arr = arr.astype(_ELEM[elem])
    return arr[()] if arr.ndim == 0 else arr


def require_steps(spec: Spec, cap) -> int:
    cap = int(cap)
    if cap < 1:
        raise ValueError(f"{spec.name}: the iteration cap is {cap}; a solver takes at least one step")
    return cap

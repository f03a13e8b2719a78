"""Runtime for `--target numpy` modules: the reference stepper and solver, and math helpers.

Generated code holds the per-leaf math (`init_NAME`, `step_NAME`, `solve_NAME`); what is
the same for every method -- hyperparameters, parameter trees, the step counter, oracle
routing, dimension binding -- lives here once.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from .hypers import Condition, Hyper, Hypers, resolve
from .tree import flatten, paths, unflatten

__all__ = ["Spec", "Hyper", "Condition", "Oracle", "Optimizer", "Solver", "Solution", "SolveInfo",
           "require_steps", "full", "sigmoid", "norm", "logsumexp", "softmax", "normalize", "bind_dims"]

_DTYPES = {"f64": np.float64, "f32": np.float32, "f16": np.float16, "bf16": np.float32}


# ---------------------------------------------------------------- specs

@dataclass(frozen=True)
class Oracle:
    name: str
    kind: str                                      # grad | value | hvp | hess_diag | rand_normal
    every: Optional[Callable[[Hypers], int]] = None


@dataclass(frozen=True)
class Spec:
    name: str
    kind: str                                      # optimizer | solver
    hypers: tuple[Hyper, ...] = ()
    conditions: tuple[Condition, ...] = ()
    param: Optional[str] = None
    param_shape: Optional[tuple] = None            # None: any shape; else dims (names or ints)
    states: tuple[str, ...] = ()
    oracles: tuple[Oracle, ...] = ()
    inputs: tuple[tuple[str, tuple], ...] = ()     # solver: (name, dims)
    outputs: tuple[tuple[str, str], ...] = ()      # solver: (name, element type)


# ---------------------------------------------------------------- math helpers

def full(shape, value, dtype=np.float64) -> np.ndarray:
    """A fresh array of `shape` filled from `value` (a scalar or a broadcastable array)."""
    dtype = _DTYPES.get(dtype, dtype)
    return np.array(np.broadcast_to(np.asarray(value, dtype=dtype), shape), dtype=dtype)


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def norm(x, axis=None):
    return np.sqrt(np.sum(np.square(x), axis=axis))


def logsumexp(x, axis=None):
    x = np.asarray(x, dtype=float)
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis) if axis is not None else out.reshape(())[()]


def softmax(x, axis=None):
    x = np.asarray(x, dtype=float)
    z = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return z / np.sum(z, axis=axis, keepdims=True)


def normalize(x, axis=None):
    return x / np.sum(x, axis=axis, keepdims=True)


def bind_dims(spec: Spec, values: dict[str, np.ndarray]) -> dict[str, int]:
    """Read symbolic dims off the inputs; a mismatch names the input and the dim."""
    dims: dict[str, int] = {}
    source: dict[str, str] = {}
    for name, shape in spec.inputs:
        arr = values[name]
        if arr.ndim != len(shape):
            want = "a scalar" if not shape else f"rank {len(shape)} [{', '.join(map(str, shape))}]"
            raise ValueError(f"{spec.name}: input `{name}` must have {want}, but has shape {arr.shape}")
        for axis, (d, n) in enumerate(zip(shape, arr.shape)):
            if isinstance(d, int):
                if n != d:
                    raise ValueError(f"{spec.name}: input `{name}` must have {d} entries along axis {axis}, has {n}")
            elif d in dims and dims[d] != n:
                raise ValueError(f"{spec.name}: input `{name}` has {d} = {n} along axis {axis}, but "
                                 f"`{source[d]}` gave {d} = {dims[d]}")
            else:
                dims.setdefault(d, n)
                source.setdefault(d, name)
    return dims


# ---------------------------------------------------------------- optimizers

class Optimizer:
    """A reference optimizer over a parameter tree: `init(params)`, `step(params, state, grads, **oracles)`.

    State is a dict: `t` (steps taken) and one tree per declared state, shaped like the
    parameters. Hypers given at construction can be overridden per step (schedules):
    `step(..., lr=0.01)`.
    """

    def __init__(self, spec: Spec, init_leaf: Callable, step_leaf: Callable, hypers: dict[str, Any]):
        self.spec = spec
        self._init_leaf = init_leaf
        self._step_leaf = step_leaf
        self.hypers = resolve(spec.name, spec.hypers, spec.conditions, hypers)

    def __repr__(self) -> str:
        return f"<iterc numpy optimizer {self.spec.name} {self.hypers}>"

    def _leaves(self, params):
        leaves, structure = flatten(params)
        arrays = []
        for path, leaf in zip(paths(structure), leaves):
            arr = np.asarray(leaf)
            if not np.issubdtype(arr.dtype, np.floating):
                arr = arr.astype(np.float64)
            if self.spec.param_shape is not None and arr.ndim != len(self.spec.param_shape):
                raise ValueError(f"{self.spec.name} updates rank-{len(self.spec.param_shape)} parameters, "
                                 f"but {path} has shape {arr.shape}")
            arrays.append(arr)
        return arrays, structure

    def init(self, params) -> dict:
        leaves, structure = self._leaves(params)
        per_leaf = [self._init_leaf(self.hypers, x) for x in leaves]
        state = {"t": 0}
        for i, name in enumerate(self.spec.states):
            state[name] = unflatten(structure, [s[i] for s in per_leaf])
        return state

    def step(self, params, state: dict, grads=None, **kwargs):
        oracle_names = {o.name for o in self.spec.oracles}
        overrides = {k: v for k, v in kwargs.items() if k not in oracle_names}
        hp = resolve(self.spec.name, self.spec.hypers, self.spec.conditions, overrides, base=self.hypers) \
            if overrides else self.hypers
        t = int(state["t"]) + 1
        leaves, structure = self._leaves(params)
        n = len(leaves)
        oracle_leaves = []
        for o in self.spec.oracles:
            value = grads if o.kind == "grad" and o.name not in kwargs else kwargs.get(o.name)
            needed = o.every is None or (t - 1) % int(o.every(hp)) == 0
            if value is None:
                if needed:
                    when = "every step" if o.every is None else f"on step {t} (every {int(o.every(hp))} steps)"
                    raise ValueError(f"{self.spec.name}: oracle `{o.name}` ({o.kind}) must be supplied {when}; "
                                     f"pass {'grads' if o.kind == 'grad' else o.name + '='}...")
                oracle_leaves.append([None] * n)
                continue
            if o.kind == "value":
                oracle_leaves.append([float(value)] * n)
                continue
            vals, vstructure = flatten(value)
            if vstructure != structure:
                raise ValueError(f"{self.spec.name}: oracle `{o.name}` must have the same tree structure as params")
            oracle_leaves.append([np.asarray(v, dtype=leaves[i].dtype) for i, v in enumerate(vals)])
        state_leaves = [flatten(state[s])[0] for s in self.spec.states]
        new_params, new_states = [], [[] for _ in self.spec.states]
        for i, x in enumerate(leaves):
            out = self._step_leaf(hp, t, x, *[o[i] for o in oracle_leaves], *[s[i] for s in state_leaves])
            new_params.append(np.asarray(out[0], dtype=x.dtype))
            for j, s in enumerate(out[1:]):
                old = state_leaves[j][i]                # a state keeps its storage type (f32 stays f32)
                new_states[j].append(np.asarray(s, dtype=old.dtype) if isinstance(old, np.ndarray) else s)
        new_state = {"t": t}
        for j, name in enumerate(self.spec.states):
            new_state[name] = unflatten(structure, new_states[j])
        return unflatten(structure, new_params), new_state


# ---------------------------------------------------------------- solvers

@dataclass(frozen=True)
class SolveInfo:
    iterations: int
    residual: Optional[float]
    converged: bool


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


class Solver:
    """A reference solver: `solve(**inputs_and_hypers)` -> Solution."""

    def __init__(self, spec: Spec, solve_fn: Callable, hypers: dict[str, Any]):
        self.spec = spec
        self._solve = solve_fn
        self.hypers = resolve(spec.name, spec.hypers, spec.conditions, hypers)

    def __repr__(self) -> str:
        return f"<iterc numpy solver {self.spec.name} {self.hypers}>"

    def solve(self, **kwargs) -> Solution:
        input_names = [name for name, _ in self.spec.inputs]
        missing = [n for n in input_names if n not in kwargs]
        if missing:
            raise ValueError(f"{self.spec.name}: missing input(s) {', '.join('`' + m + '`' for m in missing)}")
        inputs = {n: np.asarray(kwargs.pop(n), dtype=np.float64) for n in input_names}
        hp = resolve(self.spec.name, self.spec.hypers, self.spec.conditions, kwargs, base=self.hypers) \
            if kwargs else self.hypers
        outputs, info = self._solve(hp, **inputs)
        return Solution({name: _as_elem(outputs[name], elem) for name, elem in self.spec.outputs}, info)


_CASTS = {"real": np.float64, "int": np.int64, "bool": np.bool_}


def _as_elem(value, elem: str):
    """An output in its declared element type: `real` state assigned `2 * 3` is 6.0, not 6."""
    arr = np.asarray(value, dtype=_CASTS[elem])
    return arr[()] if arr.ndim == 0 else arr


def require_steps(spec: Spec, cap) -> int:
    cap = int(cap)
    if cap < 1:
        raise ValueError(f"{spec.name}: the iteration cap is {cap}; a solver takes at least one step")
    return cap

"""How JAX spells each builtin: every primitive, and the composites JAX writes directly.

Values placed STATIC (static hypers, dims, literals) are plain Python values at trace
time, so ops on them use Python's operators and builtins (`and`, `min`, a conditional
expression) or `rt.host` (numpy on host scalars): they stay Python values, which can steer
a Python `if` under `jax.jit`. Everything else (real hypers, the step counter, tensors) may
be traced and goes through `jnp`.
"""
from __future__ import annotations

from ...ir import Place
from ..pyexpr import ByPlace, Infix, Prefix, Target

_JNP_ELEM = {"real": "float", "int": "int", "bool": "bool"}


def _shape(dims) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"


def _static(host, array) -> ByPlace:
    """`host` when every argument is a STATIC scalar (a Python value at trace time), else `array`."""
    return ByPlace(Place.STATIC, host, array)


def _axis(kw) -> str:
    axis = kw.get("axis")
    return f"axis={axis}" if axis is not None else "axis=None"


TABLE = {
    # primitives
    "add": Infix("+", 9), "sub": Infix("-", 9), "mul": Infix("*", 10), "div": Infix("/", 10),
    "mod": Infix("%", 10), "pow": Infix("**", 12),
    "eq": Infix("==", 4), "ne": Infix("!=", 4), "lt": Infix("<", 4), "le": Infix("<=", 4),
    "gt": Infix(">", 4), "ge": Infix(">=", 4),
    "and": _static(Infix("and", 2), "jnp.logical_and({0}, {1})"),
    "or": _static(Infix("or", 1), "jnp.logical_or({0}, {1})"),
    "not": _static(Prefix("not ", 3), "jnp.logical_not({0})"),
    "neg": Prefix("-", 11), "pos": Prefix("+", 11),
    "matmul": Infix("@", 10), "transpose": "{0}.T", "expand": "{0}[{index}]",
    "sqrt": _static("rt.host.sqrt({0})", "jnp.sqrt({0})"), "exp": _static("rt.host.exp({0})", "jnp.exp({0})"),
    "log": _static("rt.host.log({0})", "jnp.log({0})"), "tanh": _static("rt.host.tanh({0})", "jnp.tanh({0})"),
    "abs": _static("abs({0})", "jnp.abs({0})"), "sign": _static("rt.host.sign({0})", "jnp.sign({0})"),
    "min": _static("min({0}, {1})", "jnp.minimum({0}, {1})"),
    "max": _static("max({0}, {1})", "jnp.maximum({0}, {1})"),
    "zeros": lambda args, kw, types, t: f"jnp.zeros({_shape(kw['shape'])}, dtype={_JNP_ELEM[t.elem]})",
    "where": _static("({1} if {0} else {2})", "jnp.where({0}, {1}, {2})"),
    "zeros_like": "jnp.zeros_like({0})", "isfinite": _static("rt.host.isfinite({0})", "jnp.isfinite({0})"),
    "cast": lambda args, kw, types, t: f"rt.cast({args[0]}, \"{kw['elem']}\")",
    "reduce_sum": "jnp.sum({0}{axis_kw})", "reduce_max": "jnp.max({0}{axis_kw})", "reduce_min": "jnp.min({0}{axis_kw})",
    "size": "rt.size({0}{axis_kw})",
    "total": "rt.total({0})",                  # its argument prints as the list of per-leaf partials
    "cos": _static("rt.host.cos({0})", "jnp.cos({0})"),
    "reduce_all": "jnp.all({0}{axis_kw})",
    "sort": "rt.sort({0}{axis_kw})", "cumsum": "rt.cumsum({0}{axis_kw})", "iota": "rt.iota({0}{axis_kw})",
    "solve": "jnp.linalg.solve({0}, {1})", "cholesky": "jnp.linalg.cholesky({0})",
    "eigh_vecs": "jnp.linalg.eigh({0})[1]",
    "ndim": "jnp.ndim({0})", "channel_sum": "rt.channel_sum({0})",
    # svd and qr through rt: reduced forms, a wide matrix refused at trace time
    "eigh": "jnp.linalg.eigh({0})",
    "svd": lambda args, kw, types, t: f"rt.svd({', '.join(args)})", "qr": "rt.qr({0})",
    "get": lambda args, kw, types, t: f"{args[0]}[{kw['index']}]",
    "proj_stiefel": "rt.proj_stiefel({0})", "lmo_nuclear": "rt.lmo_nuclear({0}, {1})",
    # a function oracle is the caller's function, traced under jit
    "call": lambda args, kw, types, t: f"{args[0]}({', '.join(args[1:])})",
    # the generator is a PRNG key threaded through the loops: a draw uses one half of a
    # split, the next key is the other (independent functions of the key)
    "rng_key": "jax.random.key({0})", "rng_next": "rt.rng_next({0})",
    "random_normal": "rt.random_normal({0}, {1})", "random_uniform": "rt.random_uniform({0}, {1})",
    # composites JAX writes itself
    "sum": "jnp.sum({0}{axis_kw})", "mean": "jnp.mean({0}{axis_kw})", "norm": "rt.norm({0}{axis_kw})",
    "norm1": "jnp.sum(jnp.abs({0}){axis_kw})", "norminf": "jnp.max(jnp.abs({0}){axis_kw})",
    "logsumexp": "jax.nn.logsumexp({0}{axis_kw})",
    "softmax": lambda args, kw, types, t: f"jax.nn.softmax({args[0]}, {_axis(kw)})",
    "normalize": "rt.normalize({0}{axis_kw})", "dot": "jnp.sum(jnp.multiply({0}, {1}))",
    "sigmoid": "jax.nn.sigmoid({0})", "clip": "jnp.clip({0}, {1}, {2})", "outer": "jnp.outer({0}, {1})",
}

JAX = Target("jax", "jnp", TABLE, update=True)

"""How numpy spells each builtin: every primitive, and the composites numpy writes
directly (readable reference code; their decompositions are tested against these)."""
from __future__ import annotations

from ...ir import Place
from ..pyexpr import ByPlace, Infix, Prefix, Target

_NP_ELEM = {"real": "np.float64", "int": "np.int64", "bool": "bool"}


def _shape(dims) -> str:
    return "(" + ", ".join(str(d) for d in dims) + ("," if len(dims) == 1 else "") + ")"

def _rt(name: str):
    """`rt.NAME(args..., axis=k)`: a runtime helper, every argument passed (optional ones too)."""
    def low(args, kw, types, t) -> str:
        axis = f", axis={kw['axis']}" if kw.get("axis") is not None else ""
        return f"rt.{name}({', '.join(args)}{axis})"
    return low


_RT = ("iota", "sort", "cumsum", "onehot", "topk_mask", "inv_root", "matrix_sqrt", "proj_psd", "proj_stiefel",
       "lmo_nuclear", "prox_l1", "prox_l2", "prox_sq", "prox_elastic", "prox_linf", "proj_box", "proj_l2ball",
       "proj_l1ball", "proj_linfball", "proj_simplex", "proj_nonneg", "proj_hyperplane", "proj_sphere",
       "lmo_simplex", "lmo_l1ball", "lmo_box", "mirror_entropic", "mirror_euclid", "mirror_logbarrier")

TABLE = {
    # primitives
    "add": Infix("+", 9), "sub": Infix("-", 9), "mul": Infix("*", 10), "div": Infix("/", 10),
    "mod": Infix("%", 10), "pow": Infix("**", 12),
    "eq": Infix("==", 4), "ne": Infix("!=", 4), "lt": Infix("<", 4), "le": Infix("<=", 4),
    "gt": Infix(">", 4), "ge": Infix(">=", 4),
    "and": ByPlace(Place.MODEL, Infix("and", 2), "np.logical_and({0}, {1})"),
    "or": ByPlace(Place.MODEL, Infix("or", 1), "np.logical_or({0}, {1})"),
    "not": ByPlace(Place.MODEL, Prefix("not ", 3), "np.logical_not({0})"),
    "neg": Prefix("-", 11), "pos": Prefix("+", 11),
    "matmul": Infix("@", 10), "transpose": "{0}.T", "expand": "{0}[{index}]",
    "sqrt": "np.sqrt({0})", "exp": "np.exp({0})", "log": "np.log({0})", "tanh": "np.tanh({0})", "cos": "np.cos({0})",
    "abs": "np.abs({0})", "sign": "np.sign({0})", "min": "np.minimum({0}, {1})", "max": "np.maximum({0}, {1})",
    "zeros": lambda args, kw, types, t: f"np.zeros({_shape(kw['shape'])}, dtype={_NP_ELEM[t.elem]})",
    "where": "np.where({0}, {1}, {2})", "zeros_like": "np.zeros_like({0})", "isfinite": "np.isfinite({0})",
    "cast": lambda args, kw, types, t: f"rt.cast({args[0]}, \"{kw['elem']}\")",
    "reduce_sum": "np.sum({0}{axis_kw})", "reduce_max": "np.max({0}{axis_kw})", "reduce_min": "np.min({0}{axis_kw})",
    "size": "rt.size({0}{axis_kw})",
    "total": "rt.total({0})",                  # its argument prints as the list of per-leaf partials
    # composites numpy writes itself
    "sum": "np.sum({0}{axis_kw})", "mean": "np.mean({0}{axis_kw})", "norm": "rt.norm({0}{axis_kw})",
    "norm1": "np.sum(np.abs({0}){axis_kw})", "norminf": "np.max(np.abs({0}){axis_kw})",
    "logsumexp": "rt.logsumexp({0}{axis_kw})", "softmax": "rt.softmax({0}{axis_kw})",
    "normalize": "rt.normalize({0}{axis_kw})", "dot": "np.sum(np.multiply({0}, {1}))",
    "sigmoid": "rt.sigmoid({0})", "clip": "np.clip({0}, {1}, {2})", "outer": "np.outer({0}, {1})",
    "reduce_all": "np.all({0}{axis_kw})",
    # a function oracle is a Python callable (the runtime wraps it to check what it returns)
    "call": lambda args, kw, types, t: f"{args[0]}({', '.join(args[1:])})",
    # the key is an np.random.Generator: a draw advances it in place, so the next key is
    # the same object (`_rng = _rng`, which the emitter does not print)
    "rng_key": "rt.rng({0})", "rng_next": "{0}",
    "random_normal": "rt.randn_like({0}, {1})", "random_uniform": "rt.rand_like({0}, {1})",
    # primitives: sorting, indices, linear algebra (the operators among them are in _RT)
    "solve": "np.linalg.solve({0}, {1})", "cholesky": "np.linalg.cholesky({0})",
    "eigh_vecs": "np.linalg.eigh({0})[1]",
    # several results: the tuple, then `get` each item
    # (svd and qr through rt: reduced forms, and a clear error for a wide matrix)
    "eigh": "np.linalg.eigh({0})", "svd": _rt("svd"), "qr": _rt("qr"),
    "get": lambda args, kw, types, t: f"{args[0]}[{kw['index']}]",
    # composites numpy writes itself: selection and matrices
    "numel": "np.size({0})", "amax": "np.max({0}{axis_kw})", "amin": "np.min({0}{axis_kw})",
    "argmax": "np.argmax({0}{axis_kw})", "argmin": "np.argmin({0}{axis_kw})", "eye": "np.eye({0})",
    "diag": "np.diag({0})", "diagonal": "np.diagonal({0}).copy()", "trace": "np.trace({0})",
    "inv": "np.linalg.inv({0})", "ndim": "np.ndim({0})", "channel_sum": "rt.channel_sum({0})",
    **{name: _rt(name) for name in _RT},
}

NUMPY = Target("numpy", "np", TABLE)

# A solver runs on whole arrays, with no per-leaf loop: its scalars (LEAF-placed) are plain
# numpy scalars, so its flags combine with Python's `and`/`or`/`not`.
SOLVER_TABLE = {**TABLE,
                "and": ByPlace(Place.LEAF, Infix("and", 2), "np.logical_and({0}, {1})"),
                "or": ByPlace(Place.LEAF, Infix("or", 1), "np.logical_or({0}, {1})"),
                "not": ByPlace(Place.LEAF, Prefix("not ", 3), "np.logical_not({0})")}
NUMPY_SOLVER = Target("numpy", "np", SOLVER_TABLE)

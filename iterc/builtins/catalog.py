"""Every builtin, one entry each: signature, shape/element rule, kind, and for composites
the decomposition into primitives.

Shape rules raise BuiltinError with a diagnostic code; the checker attaches the span.
A decomposition receives `emit(fn, *args, **kw)`, which appends one op and returns its
result, so a composite reads as the formula it stands for.
"""
from __future__ import annotations

from ..types import LEAF, Type, ShapeError, broadcast, join_elem, shape_str
from .registry import Builtin, BuiltinError, Kind, Sig, register


# ---------------------------------------------------------------- rule helpers

def _arg_words(sig: Sig, i: int) -> str:
    """How a message names argument i: "the left operand" of `*`, "argument 2" of `clip`."""
    if sig.name.isidentifier() and sig.name not in ("and", "or", "not"):
        return f"argument {i + 1}"
    if len(sig.args) == 1:
        return "its operand"
    return "the left operand" if i == 0 else "the right operand"


def _numeric(sig: Sig, i: int) -> None:
    t = sig.args[i]
    if t.elem == "bool":
        raise BuiltinError("E0204", f"`{sig.name}` needs numbers, but {_arg_words(sig, i)} is {t}", arg=i,
                           hint="booleans are not numbers here; use `where(cond, 1.0, 0.0)` to convert")


def _boolean(sig: Sig, i: int) -> None:
    t = sig.args[i]
    if t.elem != "bool":
        raise BuiltinError("E0204", f"`{sig.name}` needs a bool, but {_arg_words(sig, i)} is {t}", arg=i,
                           hint="compare it to get a bool, e.g. `x > 0`")


def _broadcast_all(sig: Sig, idxs) -> object:
    shape = ()
    for i in idxs:
        try:
            shape = broadcast(shape, sig.args[i].shape)
        except ShapeError as exc:
            raise BuiltinError(
                "E0201", f"shapes {shape_str(shape) if shape != () else 'scalar'} and "
                f"{shape_str(sig.args[i].shape)} do not broadcast in `{sig.name}`: {exc}", arg=i,
                hint=_bcast_hint(shape, sig.args[i].shape)) from None
    return shape


def _bcast_hint(a, b) -> str:
    if a == LEAF or b == LEAF:
        return "declare the parameter with a rank (e.g. `param x: real[m, n]`) to mix it with ranked values"
    return "insert an axis with `x[:, None]` or `x[None, :]`, or transpose with `.T`"


def _axis(sig: Sig, arg: int = 0):
    """Validate a static `axis=` against the argument's rank; returns the normalised axis or None."""
    axis = sig.kw.get("axis")
    if axis is None:
        return None
    t = sig.args[arg]
    if t.shape == LEAF:
        raise BuiltinError("E0202", f"`{sig.name}(..., axis={axis})` needs a value of known rank, "
                           f"but argument {arg + 1} is {t}", arg=arg,
                           hint="declare the parameter with a rank, e.g. `param x: real[m, n]`, or drop `axis=`")
    rank = len(t.shape)
    if not -rank <= axis < rank:
        raise BuiltinError("E0203", f"axis {axis} is out of range for {t} (rank {rank})", keyword="axis",
                           hint=("the only axis is 0" if rank == 1 else f"valid axes are 0 to {rank - 1} "
                                 f"(or -1 to -{rank}, counting from the end)") if rank else "a scalar has no axes")
    return axis % rank


def elementwise_rule(n: int, result: str | None = None, want: str = "numeric"):
    def rule(sig: Sig) -> Type:
        for i in range(n):
            (_boolean if want == "bool" else _numeric)(sig, i)
        shape = _broadcast_all(sig, list(range(n)))
        elem = result
        if elem is None:
            elem = "int"
            for t in sig.args:
                elem = join_elem(elem, t.elem)
        return Type(elem, shape)
    return rule


def comparison_rule(sig: Sig) -> Type:
    if sig.name in ("eq", "ne", "==", "!=") and all(t.elem == "bool" for t in sig.args):
        return Type("bool", _broadcast_all(sig, [0, 1]))
    for i in range(2):
        _numeric(sig, i)
    return Type("bool", _broadcast_all(sig, [0, 1]))


def reduction_rule(result: str | None):
    def rule(sig: Sig) -> Type:
        _numeric(sig, 0)
        t = sig.args[0]
        axis = _axis(sig)
        elem = result or t.elem
        if axis is None:
            return Type(elem, ())
        return Type(elem, tuple(d for i, d in enumerate(t.shape) if i != axis))
    return rule


def same_shape_rule(sig: Sig) -> Type:
    _numeric(sig, 0)
    _axis(sig)
    return Type("real", sig.args[0].shape)


def where_rule(sig: Sig) -> Type:
    _boolean(sig, 0)
    _numeric(sig, 1)
    _numeric(sig, 2)
    return Type(join_elem(sig.args[1].elem, sig.args[2].elem), _broadcast_all(sig, [0, 1, 2]))


def clip_rule(sig: Sig) -> Type:
    for i in range(3):
        _numeric(sig, i)
    elem = join_elem(join_elem(sig.args[0].elem, sig.args[1].elem), sig.args[2].elem)
    return Type(elem, _broadcast_all(sig, [0, 1, 2]))


def dot_rule(sig: Sig) -> Type:
    _numeric(sig, 0)
    _numeric(sig, 1)
    a, b = sig.args
    if a.shape != b.shape and a.shape != () and b.shape != ():
        raise BuiltinError("E0201", f"`dot` needs two values of the same shape, got {a} and {b}", arg=1,
                           hint="`dot(a, b)` is `sum(a * b)`; use `@` for a matrix product")
    return Type("real", ())


def _ranked(sig: Sig, i: int, rank: int, what: str) -> tuple:
    t = sig.args[i]
    if t.shape == LEAF or len(t.shape) != rank:
        have = "any shape `[...]`" if t.shape == LEAF else f"rank {len(t.shape)} ({t})"
        noun = {1: "a vector (rank 1)", 2: "a matrix (rank 2)"}.get(rank, f"a rank-{rank} value")
        hint = None
        if t.shape == LEAF:
            hint = "declare the parameter with a rank, e.g. `param x: real[m, n]`"
        elif sig.name == ".T" and len(t.shape) == 1:
            hint = "a vector has nothing to transpose; `v[:, None]` is a column and `v[None, :]` a row"
        raise BuiltinError("E0202", f"{what} needs {noun}, but {_arg_words(sig, i)} has {have}", arg=i,
                           hint=hint)
    return t.shape


def outer_rule(sig: Sig) -> Type:
    a = _ranked(sig, 0, 1, "`outer`")
    b = _ranked(sig, 1, 1, "`outer`")
    return Type("real", (a[0], b[0]))


def matmul_rule(sig: Sig) -> Type:
    _numeric(sig, 0)
    _numeric(sig, 1)
    a, b = sig.args
    for i, t in enumerate((a, b)):
        if t.shape == LEAF or len(t.shape) not in (1, 2):
            have = "any shape `[...]`" if t.shape == LEAF else f"shape {shape_str(t.shape)}"
            raise BuiltinError("E0202", f"`@` needs vectors or matrices, but the {'left' if i == 0 else 'right'} "
                               f"operand has {have}", arg=i,
                               hint="declare the parameter with a rank, e.g. `param x: real[m, n]`")
    inner_a = a.shape[-1]
    inner_b = b.shape[0]
    if inner_a != inner_b:
        raise BuiltinError("E0210", f"matrix product of {a} and {b}: inner dimensions {inner_a} and {inner_b} differ",
                           hint="transpose one side with `.T`")
    shape = a.shape[:-1] + b.shape[1:]
    return Type(join_elem(a.elem, b.elem), shape)


def transpose_rule(sig: Sig) -> Type:
    shape = _ranked(sig, 0, 2, "`.T`")
    return Type(sig.args[0].elem, (shape[1], shape[0]))


def zeros_like_rule(sig: Sig) -> Type:
    return Type("real", sig.args[0].shape)



def reduce_rule(sig: Sig) -> Type:
    """`reduce_*(x, axis=k, keepdims=b)`: like a reduction, keeping a unit axis when asked."""
    t = sig.args[0]
    axis = sig.kw.get("axis")
    if axis is None or t.shape == LEAF:
        return Type(t.elem, ())
    axis %= len(t.shape)
    if sig.kw.get("keepdims"):
        return Type(t.elem, tuple(1 if i == axis else d for i, d in enumerate(t.shape)))
    return Type(t.elem, tuple(d for i, d in enumerate(t.shape) if i != axis))


def cast_rule(sig: Sig) -> Type:
    return Type(sig.kw["elem"], sig.args[0].shape)


def size_rule(sig: Sig) -> Type:
    return Type("int", ())


# ---------------------------------------------------------------- primitives: operators

E, R, M, S, L = Kind.ELEMENTWISE, Kind.REDUCTION, Kind.MATMUL, Kind.SHAPE, Kind.LIBRARY

_ARITH = [("add", "+", "sum"), ("sub", "-", "difference"), ("mul", "*", "product"),
          ("div", "/", "quotient"), ("mod", "%", "remainder")]
for _name, _sym, _what in _ARITH:
    register(Builtin(_name, ("a", "b"), elementwise_rule(2, "real" if _name == "div" else None), E,
                     f"elementwise {_what} `a {_sym} b` (NumPy broadcasting)", operator=_sym, callable=False))

register(Builtin("pow", ("a", "b"), elementwise_rule(2, "real"), E, "elementwise power `a ^ b`",
                 operator="^", callable=False))

for _name, _sym in [("eq", "=="), ("ne", "!="), ("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">=")]:
    register(Builtin(_name, ("a", "b"), comparison_rule, E, f"elementwise comparison `a {_sym} b`",
                     operator=_sym, callable=False))

register(Builtin("and", ("a", "b"), elementwise_rule(2, "bool", want="bool"), E, "logical and",
                 operator="and", callable=False))
register(Builtin("or", ("a", "b"), elementwise_rule(2, "bool", want="bool"), E, "logical or",
                 operator="or", callable=False))
register(Builtin("not", ("a",), elementwise_rule(1, "bool", want="bool"), E, "logical not",
                 operator="not", callable=False), unary=True)
register(Builtin("neg", ("a",), elementwise_rule(1), E, "negation `-a`", operator="-", callable=False), unary=True)
register(Builtin("pos", ("a",), elementwise_rule(1), E, "unary plus `+a`", operator="+", callable=False),
         unary=True)
register(Builtin("matmul", ("a", "b"), matmul_rule, M, "matrix product `a @ b` (vectors and matrices)",
                 operator="@", callable=False))
register(Builtin("transpose", ("a",), transpose_rule, S, "matrix transpose `a.T`", callable=False))
def expand_rule(sig: Sig) -> Type:
    """`x[:, None]`: `:` keeps an axis, `None` inserts one of length 1 (`index=` holds the items)."""
    t = sig.args[0]
    index = sig.kw.get("index")
    if index is None or t.shape == LEAF:
        return t
    dims = iter(t.shape)
    return Type(t.elem, tuple(1 if item == "None" else next(dims) for item in index) + tuple(dims))


register(Builtin("expand", ("a",), expand_rule, S, "index with `:` and `None` to add axes", keywords=("index",),
                 callable=False))

# ---------------------------------------------------------------- primitives: functions

for _name, _what in [("sqrt", "square root"), ("exp", "exponential"), ("log", "natural logarithm"),
                     ("cos", "cosine (radians)")]:
    register(Builtin(_name, ("x",), elementwise_rule(1, "real"), E, f"elementwise {_what}"))
register(Builtin("tanh", ("x",), elementwise_rule(1, "real"), E, "elementwise hyperbolic tangent",
                 callable=False))
register(Builtin("abs", ("x",), elementwise_rule(1), E, "elementwise absolute value"))
register(Builtin("sign", ("x",), elementwise_rule(1), E, "elementwise sign (-1, 0 or 1)"))
register(Builtin("min", ("a", "b"), elementwise_rule(2), E, "elementwise minimum of two values"))
register(Builtin("max", ("a", "b"), elementwise_rule(2), E, "elementwise maximum of two values"))
register(Builtin("where", ("cond", "a", "b"), where_rule, E, "a where cond holds, else b (elementwise)"))
register(Builtin("zeros_like", ("x",), zeros_like_rule, E, "zeros of the shape of x"))
register(Builtin("zeros", (), lambda sig: Type(sig.kw.get("elem", "real"), tuple(sig.kw["shape"])), E,
                 "zeros of a static shape (`shape=` dims, `elem=`)", keywords=("shape", "elem"), callable=False))
register(Builtin("isfinite", ("x",), elementwise_rule(1, "bool"), E, "elementwise: neither inf nor nan",
                 callable=False))
register(Builtin("cast", ("x",), cast_rule, E, "the value in another element type (`elem=`)",
                 keywords=("elem",), callable=False))
for _op in ("sum", "max", "min"):
    register(Builtin(f"reduce_{_op}", ("x",), reduce_rule, R, f"{_op} over the leaf or `axis=` (`keepdims=`)",
                     keywords=("axis", "keepdims"), callable=False))
register(Builtin("size", ("x",), size_rule, S, "the number of elements (over the leaf or along `axis=`)",
                 keywords=("axis",), callable=False))


# ---------------------------------------------------------------- composites

def _ax(kw, keepdims=False):
    out = {"axis": kw.get("axis")}
    if keepdims:
        out["keepdims"] = True
    return out


def _sum(emit, args, kw, t):
    return emit("reduce_sum", args[0], **_ax(kw))


def _mean(emit, args, kw, t):
    return emit("div", emit("reduce_sum", args[0], **_ax(kw)), emit("size", args[0], **_ax(kw)))


def _norm(emit, args, kw, t):
    x = args[0]
    return emit("sqrt", emit("reduce_sum", emit("mul", x, x), **_ax(kw)))


def _norm1(emit, args, kw, t):
    return emit("reduce_sum", emit("abs", args[0]), **_ax(kw))


def _norminf(emit, args, kw, t):
    return emit("reduce_max", emit("abs", args[0]), **_ax(kw))


def _logsumexp(emit, args, kw, t):
    x = args[0]
    top = emit("reduce_max", x, **_ax(kw, keepdims=True))
    top = emit("where", emit("isfinite", top), top, 0.0)            # all -inf: no nan from -inf - -inf
    total = emit("reduce_sum", emit("exp", emit("sub", x, top)), **_ax(kw))
    return emit("add", emit("log", total), emit("reduce_max", top, **_ax(kw)))


def _softmax(emit, args, kw, t):
    x = args[0]
    z = emit("exp", emit("sub", x, emit("reduce_max", x, **_ax(kw, keepdims=True))))
    return emit("div", z, emit("reduce_sum", z, **_ax(kw, keepdims=True)))


def _normalize(emit, args, kw, t):
    return emit("div", args[0], emit("reduce_sum", args[0], **_ax(kw, keepdims=True)))


def _dot(emit, args, kw, t):
    return emit("reduce_sum", emit("mul", args[0], args[1]))


def _sigmoid(emit, args, kw, t):
    return emit("mul", 0.5, emit("add", 1.0, emit("tanh", emit("mul", 0.5, args[0]))))


def _clip(emit, args, kw, t):
    return emit("min", emit("max", args[0], args[1]), args[2])


def _outer(emit, args, kw, t):
    return emit("mul", emit("expand", args[0], index=(":", "None")), emit("expand", args[1], index=("None", ":")))


register(Builtin("sigmoid", ("x",), elementwise_rule(1, "real"), E, "elementwise logistic sigmoid 1 / (1 + exp(-x))",
                 decompose=_sigmoid))
register(Builtin("clip", ("x", "lo", "hi"), clip_rule, E, "clamp x into [lo, hi] elementwise", decompose=_clip))

for _name, _res, _what, _dec in [
        ("sum", None, "sum of the elements", _sum),
        ("mean", "real", "mean of the elements", _mean),
        ("norm", "real", "Euclidean (Frobenius) norm", _norm),
        ("norm1", "real", "sum of absolute values", _norm1),
        ("norminf", "real", "largest absolute value", _norminf),
        ("logsumexp", "real", "log(sum(exp(x))), computed stably", _logsumexp)]:
    register(Builtin(_name, ("x",), reduction_rule(_res), R,
                     f"{_what}, over all elements of the leaf or along `axis=`", keywords=("axis",), decompose=_dec))

register(Builtin("dot", ("a", "b"), dot_rule, R, "inner product sum(a * b) of two same-shaped values", decompose=_dot))
register(Builtin("softmax", ("x",), same_shape_rule, R, "exp(x) / sum(exp(x)), over the leaf or `axis=`",
                 keywords=("axis",), decompose=_softmax))
register(Builtin("normalize", ("x",), same_shape_rule, R,
                 "x / sum(x): rescale a positive vector onto the simplex (over the leaf or `axis=`)",
                 keywords=("axis",), decompose=_normalize))
register(Builtin("outer", ("a", "b"), outer_rule, M, "outer product of two vectors: [n] x [m] -> [n, m]",
                 decompose=_outer))

# ---------------------------------------------------------------- model-wide values
# An optimizer's step is written for one leaf; these reduce over every leaf of the
# parameter tree, once per step. The IR gives their results the placement MODEL and
# `split_phases` cuts the step around them (see iterc/ir/phases.py).

def total_rule(sig: Sig) -> Type:
    _numeric(sig, 0)
    t = sig.args[0]
    if t.shape != ():
        raise BuiltinError("E0202", f"`total` adds up one scalar per leaf over all leaves, but its argument is {t}",
                           arg=0, hint="reduce each leaf to a scalar first: `total(sum({arg0}))` (and `global_norm(x)` "
                                       "is the Euclidean norm over all leaves)")
    return Type("real" if t.elem == "real" else t.elem, ())


def global_norm_rule(sig: Sig) -> Type:
    _numeric(sig, 0)
    return Type("real", ())


def _global_norm(emit, args, kw, t):
    x = args[0]
    return emit("sqrt", emit("total", emit("reduce_sum", emit("mul", x, x))))


register(Builtin("total", ("s",), total_rule, Kind.MODEL,
                 "sum over all leaves of the parameter tree of a per-leaf scalar (optimizers)"))
register(Builtin("global_norm", ("x",), global_norm_rule, Kind.MODEL,
                 "Euclidean norm over all leaves of the parameter tree: sqrt(total(sum(x * x))) (optimizers)",
                 decompose=_global_norm))

# `prev` is typed by the checker (it needs to know what its argument names); lowering
# replaces it by the value at the start of the step, so no backend ever sees it.
register(Builtin("prev", ("x",), lambda sig: sig.args[0], Kind.SPECIAL,
                 "the value of a state or parameter at the start of the step"))

"""Every builtin, one entry each: signature, shape/element rule, kind, and for composites
the decomposition into primitives.

Shape rules raise BuiltinError with a diagnostic code; the checker attaches the span.
A decomposition receives `emit(fn, *args, **kw)`, which appends one op and returns its
result, so a composite reads as the formula it stands for.
"""
from __future__ import annotations

from ..types import KEY, LEAF, Type, ShapeError, broadcast, join_elem, shape_str
from .registry import REGISTRY, Builtin, BuiltinError, Kind, Sig, register


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
    args = sig.args
    first = args[idxs[0]].shape if idxs else ()
    for i in idxs:
        if args[i].shape != first:
            break
    else:
        return first                                    # the common case: one shape throughout
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
    check_arg = _boolean if want == "bool" else _numeric
    idxs = tuple(range(n))

    def rule(sig: Sig) -> Type:
        for i in idxs:
            check_arg(sig, i)
        shape = _broadcast_all(sig, idxs)
        elem = result
        if elem is None:
            elem = "int"
            for t in sig.args:
                elem = join_elem(elem, t.elem)
        return Type(elem, shape)
    return rule


def comparison_rule(sig: Sig) -> Type:
    a, b = sig.args
    if sig.name in ("eq", "ne", "==", "!=") and a.elem == "bool" and b.elem == "bool":
        return Type("bool", _broadcast_all(sig, (0, 1)))
    _numeric(sig, 0)
    _numeric(sig, 1)
    return Type("bool", _broadcast_all(sig, (0, 1)))


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

# ---------------------------------------------------------------- function oracles and randomness

def call_rule(sig: Sig) -> Type:
    """`call(f, args...)`: a function oracle applied to its arguments (the checker has
    matched them against the declaration; lowering builds it, users write `f(x)`)."""
    fn = sig.args[0]
    return fn.result


def _like_rule(sig: Sig) -> Type:
    _numeric(sig, len(sig.args) - 1)
    return Type("real", sig.args[-1].shape)


register(Builtin("call", ("f", "x"), call_rule, L, "apply a solver's function oracle `f` to its arguments",
                 callable=False))

# The draws a user writes. They read and advance the method's generator, so lowering
# replaces each by `random_*` on the current key and `rng_next` (no backend sees them).
register(Builtin("randn_like", ("x",), _like_rule, Kind.SPECIAL,
                 "standard normal noise shaped like x, from the generator seeded by `hyper seed`"))
register(Builtin("rand_like", ("x",), _like_rule, Kind.SPECIAL,
                 "uniform noise in [0, 1) shaped like x, from the generator seeded by `hyper seed`"))

# The generator, explicit in the IR: a key value threaded through the step and the loops
# (as JAX threads a PRNG key through `while_loop`). `random_*(k, x)` and `rng_next(k)` are
# independent functions of k: a draw never reuses the key that the next draw gets.
register(Builtin("rng_key", ("seed",), lambda sig: KEY, L, "a generator key from an int seed", callable=False))
register(Builtin("rng_next", ("key",), lambda sig: KEY, L, "the key after a draw from `key`", callable=False))
register(Builtin("random_normal", ("key", "x"), _like_rule, L,
                 "standard normal noise shaped like x, drawn with `key`", callable=False))
register(Builtin("random_uniform", ("key", "x"), _like_rule, L,
                 "uniform noise in [0, 1) shaped like x, drawn with `key`", callable=False))
register(Builtin("reduce_all", ("x",), reduce_rule, R, "logical and over the leaf or `axis=` (`keepdims=`)",
                 keywords=("axis", "keepdims"), callable=False))

# ================================================================ selection, sorting, matrices,
# prox operators, projections, LMOs and mirror steps
#
# New primitives (every backend lowers them): `sort`, `cumsum` (flat in the value's shape
# without `axis=`), `iota` (indices), `solve`, `cholesky`, `eigh_vecs` (eigenvectors of a
# symmetric matrix), `proj_stiefel` and `lmo_nuclear` (SVD). Everything else below is a
# composite written in primitives.

# ---------------------------------------------------------------- rule helpers

def _scalar(sig: Sig, i: int, what: str = "a scalar") -> None:
    t = sig.args[i]
    if t.shape != ():
        raise BuiltinError("E0202", f"`{sig.name}` needs {what} as {_param_words(sig, i)}, but it is {t}", arg=i,
                           hint="pass a number or a hyper, or reduce the value first (e.g. `sum(...)`)")


def _param_words(sig: Sig, i: int) -> str:
    """"`lam` (argument 2)": a parameter by name where the registry knows it."""
    entry = REGISTRY.get(sig.name)
    if entry is not None and i < len(entry.params):
        return f"`{entry.params[i]}` (argument {i + 1})"
    return f"argument {i + 1}"


def _int_arg(sig: Sig, i: int) -> None:
    t = sig.args[i]
    if t.elem != "int":
        raise BuiltinError("E0204", f"`{sig.name}` needs an int as argument {i + 1}, but it is {t}", arg=i,
                           hint="pass an integer literal, an `int` hyper, or the result of `argmax`/`numel`")


def _into(sig: Sig, i: int, j: int) -> None:
    """Argument j broadcasts into argument i's shape (the result keeps x's shape)."""
    x, a = sig.args[i].shape, sig.args[j].shape
    try:
        ok = broadcast(x, a) == x
    except ShapeError:
        ok = False
    if not ok:
        raise BuiltinError("E0201", f"argument {j + 1} of `{sig.name}` has shape {shape_str(a)}, which does not "
                           f"broadcast into argument {i + 1}'s shape {shape_str(x) if x != () else 'scalar'}",
                           arg=j, hint="pass a scalar, or a value of the same shape as argument "
                                       f"{i + 1}")


def _matrix(sig: Sig, i: int, square: bool = False) -> tuple:
    """Argument i is a matrix (E0202 otherwise), square when asked (E0201 naming both dims)."""
    t = sig.args[i]
    if t.shape == LEAF or len(t.shape) != 2:
        have = "any shape `[...]`" if t.shape == LEAF else f"rank {len(t.shape)} ({t})"
        if t.shape == LEAF:
            hint = "declare the parameter with a rank, e.g. `param A: real[n, n]`"
        elif len(t.shape) == 1:
            hint = ("`diag(v)` makes a diagonal matrix of a vector" +
                    ("; `1 / v` is the elementwise reciprocal" if sig.name == "inv" else ""))
        else:
            hint = None
        raise BuiltinError("E0202", f"`{sig.name}` needs a matrix (rank 2), but argument {i + 1} has {have}",
                           arg=i, hint=hint)
    n, m = t.shape
    if square and n != m:
        raise BuiltinError("E0201", f"`{sig.name}` needs a square matrix, but argument {i + 1} is {t}: "
                           f"{n} rows and {m} columns", arg=i,
                           hint=f"a square matrix has equal dimensions; e.g. `A.T @ A` is [{m}, {m}] and "
                                f"`A @ A.T` is [{n}, {n}]")
    return t.shape


def _real_like(i: int, *into: int, scalars: tuple = ()):
    """A rule: the result is real with argument i's shape; `into` arguments broadcast into
    it, `scalars` must be scalars."""
    def rule(sig: Sig) -> Type:
        for k in range(len(sig.args)):
            _numeric(sig, k)
        for k in into:
            if k < len(sig.args):
                _into(sig, i, k)
        for k in scalars:
            if k < len(sig.args):
                _scalar(sig, k)
        _axis(sig, i)
        return Type("real", sig.args[i].shape)
    return rule


def _same_rule(sig: Sig) -> Type:
    """sort, cumsum: the argument's type; `axis=` validated."""
    _numeric(sig, 0)
    _axis(sig)
    return sig.args[0]


def iota_rule(sig: Sig) -> Type:
    _axis(sig)
    return Type("int", sig.args[0].shape)


def numel_rule(sig: Sig) -> Type:
    return Type("int", ())


def arg_rule(sig: Sig) -> Type:
    return reduction_rule("int")(sig)


def onehot_rule(sig: Sig) -> Type:
    _int_arg(sig, 0)
    _numeric(sig, 1)
    like = sig.args[1]
    axis = _axis(sig, 1)
    i = sig.args[0].shape
    if axis is None:
        if i != ():
            raise BuiltinError("E0202", f"`onehot(i, like)` without `axis=` needs one flat index, but `i` is "
                               f"{sig.args[0]}", arg=0,
                               hint="pass `axis=` to put one 1 in each slice along that axis")
    else:
        want = tuple(d for k, d in enumerate(like.shape) if k != axis)
        if i != () and i != want:
            raise BuiltinError("E0201", f"`onehot(i, like, axis={sig.kw['axis']})` needs `i` of shape "
                               f"{shape_str(want) if want else 'scalar'} (like's shape without axis "
                               f"{axis}), but it is {sig.args[0]}", arg=0,
                               hint=f"`argmax(x, axis={sig.kw['axis']})` gives indices of that shape")
    return Type("real", like.shape)


def topk_rule(sig: Sig) -> Type:
    _numeric(sig, 0)
    _scalar(sig, 1, "an int")
    _int_arg(sig, 1)
    return Type("real", sig.args[0].shape)


def eye_rule(sig: Sig) -> Type:
    t = sig.args[0]
    n = sig.value(0)
    if t.elem == "int" and t.shape == () and (isinstance(n, str) or (isinstance(n, int) and n >= 0)):
        return Type("real", (n, n))
    why = (f"it is {t}" if t.elem != "int" or t.shape != () else "it is negative" if isinstance(n, int)
           else "it is not a dimension")
    raise BuiltinError("E0205", f"`eye(n)` needs a dimension or a literal integer as `n`, but {why}", arg=0,
                       hint="use a dimension (`dims n`, or a dim of a declared shape such as `real[n, n]`), "
                            "an `int` hyper, or a literal such as `eye(3)`")


def diag_rule(sig: Sig) -> Type:
    t = sig.args[0]
    if t.shape == LEAF or len(t.shape) != 1:
        have = "any shape `[...]`" if t.shape == LEAF else f"rank {len(t.shape)} ({t})"
        raise BuiltinError("E0202", f"`diag(v)` needs a vector (rank 1), but argument 1 has {have}", arg=0,
                           hint="`diagonal(A)` takes the diagonal of a matrix" if t.rank == 2 else
                           "declare the parameter with a rank, e.g. `param v: real[n]`")
    _numeric(sig, 0)
    return Type(t.elem, (t.shape[0], t.shape[0]))


def diagonal_rule(sig: Sig) -> Type:
    n, _ = _matrix(sig, 0, square=True)
    _numeric(sig, 0)
    return Type(sig.args[0].elem, (n,))


def trace_rule(sig: Sig) -> Type:
    _matrix(sig, 0, square=True)
    _numeric(sig, 0)
    return Type(sig.args[0].elem, ())


def square_rule(sig: Sig) -> Type:
    """inv, cholesky, matrix_sqrt, proj_psd, eigh_vecs, inv_root(A, p, eps)."""
    shape = _matrix(sig, 0, square=True)
    for k in range(len(sig.args)):
        _numeric(sig, k)
    for k in range(1, len(sig.args)):
        _scalar(sig, k)
    return Type("real", shape)


def matrix_rule(sig: Sig) -> Type:
    """proj_stiefel(A), lmo_nuclear(G, r): a matrix in, the same shape out."""
    shape = _matrix(sig, 0)
    for k in range(len(sig.args)):
        _numeric(sig, k)
    for k in range(1, len(sig.args)):
        _scalar(sig, k)
    return Type("real", shape)


def solve_rule(sig: Sig) -> Type:
    n, _ = _matrix(sig, 0, square=True)
    _numeric(sig, 0)
    _numeric(sig, 1)
    b = sig.args[1]
    if b.shape == LEAF or len(b.shape) not in (1, 2):
        have = "any shape `[...]`" if b.shape == LEAF else f"rank {len(b.shape)} ({b})"
        raise BuiltinError("E0202", f"`solve(A, b)` needs a vector or a matrix as b, but argument 2 has {have}",
                           arg=1, hint=f"b is [{n}] (one right-hand side) or [{n}, k] (k of them)")
    if b.shape[0] != n:
        raise BuiltinError("E0210", f"`solve(A, b)`: A is {sig.args[0]} but b is {b}: b's first dimension "
                           f"{b.shape[0]} differs from A's {n}", arg=1,
                           hint=f"b needs one row per row of A: [{n}] or [{n}, k]")
    return Type("real", b.shape)


# ---------------------------------------------------------------- decomposition helpers

def _red(emit, op: str, x, axis):
    """reduce_OP over the whole value (a scalar) or along `axis` keeping it (broadcasts back)."""
    if axis is None:
        return emit(f"reduce_{op}", x)
    return emit(f"reduce_{op}", x, axis=axis, keepdims=True)


def _safe_div(emit, num, den, cond, otherwise):
    """where(cond, num / den, otherwise), never dividing where cond fails (no warnings)."""
    return emit("where", cond, emit("div", num, emit("where", cond, den, 1.0)), otherwise)


def _l2(emit, x, axis=None):
    return emit("sqrt", _red(emit, "sum", emit("mul", x, x), axis))


def _arg_extreme(emit, x, axis, op: str):
    """argmax/argmin: the first index where x reaches its max/min (flat without axis)."""
    top = _red(emit, op, x, axis)
    idx = emit("iota", x, axis=axis)
    miss = emit("size", x, axis=axis)
    return emit("reduce_min", emit("where", emit("eq", x, top), idx, miss), axis=axis)


def _onehot_mask(emit, i, like, axis):
    idx = emit("iota", like, axis=axis)
    if axis is not None and i.type.shape != ():
        i = emit("expand", i, index=(":",) * axis + ("None",))
    return emit("eq", idx, i)


def _eye_mask(emit, a, b):
    """[n, 1] a and [1, n] b (or a square matrix twice): True on the diagonal."""
    return emit("eq", emit("iota", a, axis=0), emit("iota", b, axis=1))


def _simplex(emit, x, s, axis):
    """Projection onto {p >= 0, sum p = s}: p = max(x - tau, 0), tau = max_k (c_k - s) / k
    over the sorted-descending prefix sums c_k (Held et al.; ties need no care)."""
    u = emit("neg", emit("sort", emit("neg", x), axis=axis))
    c = emit("cumsum", u, axis=axis)
    k = emit("add", emit("iota", u, axis=axis), 1)
    tau = _red(emit, "max", emit("div", emit("sub", c, s), k), axis)
    return emit("max", emit("sub", x, tau), 0.0)


def _l1ball(emit, x, r):
    a = emit("abs", x)
    inside = emit("le", emit("reduce_sum", a), r)
    return emit("where", inside, x, emit("mul", emit("sign", x), _simplex(emit, a, r, None)))


def _spectral(emit, A, f):
    """V f(w) Vᵀ for the symmetric part S of A = V diag(w) Vᵀ (w as Rayleigh quotients)."""
    S = emit("mul", 0.5, emit("add", A, emit("transpose", A)))
    V = emit("eigh_vecs", S)
    w = emit("reduce_sum", emit("mul", V, emit("matmul", S, V)), axis=0)
    fw = f(emit("max", w, 0.0))
    return emit("matmul", emit("mul", V, emit("expand", fw, index=("None", ":"))), emit("transpose", V))


# ---------------------------------------------------------------- primitives only lowering produces

register(Builtin("iota", ("x",), iota_rule, E,
                 "the index of each element of x along `axis=` (without it, its row-major flat index), as ints",
                 keywords=("axis",), callable=False))
def _tuple_rule(results):
    def rule(sig: Sig):
        from ..types import TupleType
        shape = _matrix(sig, 0, square=True)
        _numeric(sig, 0)
        return TupleType(tuple(Type("real", results(shape)[i]) for i in range(len(results(shape)))))
    return rule


def _not_wide(sig: Sig, fix: str) -> tuple:
    """A matrix argument that is not known to be wide: [m, n] with m >= n is checked when the
    run starts (the runtime helper), literal sizes here."""
    m, n = shape = _matrix(sig, 0)
    _numeric(sig, 0)
    if isinstance(m, int) and isinstance(n, int) and m < n:
        raise BuiltinError("E0201", f"`{sig.name}` of a wide matrix: argument 1 is {sig.args[0]}, "
                           f"{m} rows < {n} columns", arg=0, hint=fix)
    return shape


def qr_rule(sig: Sig):
    """The reduced QR of a tall or square [m, n] (m >= n): Q [m, n], R [n, n]."""
    from ..types import TupleType
    m, n = _not_wide(sig, "take `qr(A.T)`: A.T = Q R gives A = R.T Q.T")
    return TupleType((Type("real", (m, n)), Type("real", (n, n))))


def svd_rule(sig: Sig):
    """Thin SVD of a tall or square [m, n]: U [m, n], s [n], Vt [n, n]; the top r of any
    [m, n] with `svd(A, r)`: U [m, r], s [r], Vt [r, n]."""
    from ..types import TupleType
    if len(sig.args) == 1:
        m, n = _not_wide(sig, "take `svd(A.T)`: A.T = U diag(s) Vt gives A = Vt.T diag(s) U.T, "
                              "or the top r with `svd(A, r)`")
        return TupleType((Type("real", (m, n)), Type("real", (n,)), Type("real", (n, n))))
    m, n = _matrix(sig, 0)
    _numeric(sig, 0)
    t, r = sig.args[1], sig.value(1)
    if not (t.elem == "int" and t.shape == () and (isinstance(r, str) or (isinstance(r, int) and r >= 1))):
        why = (f"it is {t}" if t.elem != "int" or t.shape != () else "it is not positive" if isinstance(r, int)
               else "it is not a dimension")
        raise BuiltinError("E0205", f"`svd(A, r)` needs a dimension, an `int` hyper or a positive literal integer "
                           f"as the rank `r`, since it sizes the results, but {why}", arg=1,
                           hint="use a literal such as `svd(A, 2)`, an `int` hyper, or a dimension (`dims r`, or "
                                "a dim of a declared shape)")
    for d, word in ((m, "rows"), (n, "columns")):
        if isinstance(r, int) and isinstance(d, int) and r > d:
            raise BuiltinError("E0201", f"`svd(A, {r})` asks for {r} singular triplets, but argument 1 is "
                               f"{sig.args[0]}, with {d} {word}", arg=1, hint="r is at most min(rows, columns)")
    return TupleType((Type("real", (m, r)), Type("real", (r,)), Type("real", (r, n))))


# Builtins with several results, unpacked with `let w, V = eigh(A)` (the IR binds the tuple,
# then `get(i)` each item). qr and svd take tall and square matrices (the reduced forms; a
# wide one is a runtime error naming the fix), and svd(A, r) the top r of any matrix.
register(Builtin("eigh", ("A",), _tuple_rule(lambda s: ((s[0],), s)), L,
                 "eigenvalues (ascending) and eigenvectors (as columns) of a symmetric matrix: `let w, V = eigh(A)`",
                 results=("w", "V")))
register(Builtin("svd", ("A", "r"), svd_rule, L,
                 "singular value decomposition A = U diag(s) Vt, descending s: `let U, s, Vt = svd(A)` is the thin "
                 "one of a tall or square [m, n] (U [m, n], s [n], Vt [n, n]); `svd(A, r)` the r largest "
                 "singular triplets of any [m, n] (U [m, r], s [r], Vt [r, n]; r a literal, a dimension or an `int` hyper)",
                 results=("U", "s", "Vt"), defaults=(None,)))
register(Builtin("qr", ("A",), qr_rule, L,
                 "reduced QR decomposition of a tall or square [m, n], Q [m, n] with orthonormal columns and R "
                 "[n, n] upper triangular: `let Q, R = qr(A)`",
                 results=("Q", "R")))


def get_rule(sig: Sig) -> Type:
    return sig.args[0].items[sig.kw["index"]]


register(Builtin("get", ("t",), get_rule, S, "item `index` of a builtin's several results (from `let a, b = ...`)",
                 keywords=("index",), callable=False))


register(Builtin("eigh_vecs", ("A",), square_rule, L,
                 "the eigenvectors of a symmetric matrix, as columns (decompositions pass the symmetric part)",
                 callable=False))


# ---------------------------------------------------------------- composites: selection

def _numel(emit, args, kw, t):
    return emit("size", args[0])


def _amax(emit, args, kw, t):
    return emit("reduce_max", args[0], **_ax(kw))


def _amin(emit, args, kw, t):
    return emit("reduce_min", args[0], **_ax(kw))


def _argmax(emit, args, kw, t):
    return _arg_extreme(emit, args[0], kw.get("axis"), "max")


def _argmin(emit, args, kw, t):
    return _arg_extreme(emit, args[0], kw.get("axis"), "min")


def _onehot(emit, args, kw, t):
    return emit("where", _onehot_mask(emit, args[0], args[1], kw.get("axis")), 1.0, 0.0)


def _topk_mask(emit, args, kw, t):
    x, k = args
    y = emit("abs", x)
    s = emit("sort", y)
    pos = emit("iota", y)
    kth = emit("reduce_max", emit("where", emit("eq", pos, emit("sub", emit("size", y), k)), s, float("-inf")))
    above = emit("gt", y, kth)
    tie = emit("eq", y, kth)
    room = emit("sub", k, emit("reduce_sum", emit("where", above, 1, 0)))
    first = emit("le", emit("cumsum", emit("where", tie, 1, 0)), room)
    keep = emit("and", emit("or", above, emit("and", tie, first)), emit("gt", k, 0))
    return emit("where", keep, 1.0, 0.0)


# numel is placed LEAF, not STATIC like the dims: a leaf's size is known per leaf (at trace
# time in JAX) but not at instantiation, where static conditions are evaluated from hypers.
register(Builtin("numel", ("x",), numel_rule, S, "the number of elements of x (an int; for a param, of the leaf)",
                 decompose=_numel))
register(Builtin("amax", ("x",), reduction_rule(None), R,
                 "largest element, over all elements of the leaf or along `axis=`", keywords=("axis",),
                 decompose=_amax))
register(Builtin("amin", ("x",), reduction_rule(None), R,
                 "smallest element, over all elements of the leaf or along `axis=`", keywords=("axis",),
                 decompose=_amin))
register(Builtin("argmax", ("x",), arg_rule, R,
                 "index of the first largest element: flat (row-major) over the value, or along `axis=`",
                 keywords=("axis",), decompose=_argmax))
register(Builtin("argmin", ("x",), arg_rule, R,
                 "index of the first smallest element: flat (row-major) over the value, or along `axis=`",
                 keywords=("axis",), decompose=_argmin))
register(Builtin("onehot", ("i", "like"), onehot_rule, E,
                 "1.0 at flat index i of a value shaped like `like`, 0.0 elsewhere; with `axis=`, at index i[...] "
                 "along that axis", keywords=("axis",), decompose=_onehot))
register(Builtin("topk_mask", ("x", "k"), topk_rule, L,
                 "1.0 where |x| is among the k largest of the value, else 0.0 (exactly min(k, numel) ones; "
                 "ties go to the lower flat index)", decompose=_topk_mask))
register(Builtin("sort", ("x",), _same_rule, L,
                 "x sorted ascending along `axis=`; without it, all elements sorted and laid out in x's shape "
                 "(row-major)", keywords=("axis",)))
register(Builtin("cumsum", ("x",), _same_rule, L,
                 "cumulative sum along `axis=`; without it, over all elements in row-major order, in x's shape",
                 keywords=("axis",)))
register(Builtin("ndim", ("x",), numel_rule, S,
                 "the number of axes of x (an int; for a param, of the leaf: 0 for a scalar)"))
register(Builtin("channel_sum", ("x",), same_shape_rule, R,
                 "per output channel: each element is the sum of its slice x[i] (all axes but the first), so the "
                 "result has x's shape; a 0-d or 1-d x is its own channel sums"))


# ---------------------------------------------------------------- composites: matrices

def _eye(emit, args, kw, t):
    n = t.shape[0]
    col = emit("zeros", shape=(n, 1))
    row = emit("zeros", shape=(1, n))
    return emit("where", _eye_mask(emit, col, row), 1.0, 0.0)


def _diag(emit, args, kw, t):
    col = emit("expand", args[0], index=(":", "None"))
    return emit("where", _eye_mask(emit, col, emit("expand", args[0], index=("None", ":"))), col, 0)


def _diagonal(emit, args, kw, t):
    A = args[0]
    return emit("reduce_sum", emit("where", _eye_mask(emit, A, A), A, 0), axis=1)


def _trace(emit, args, kw, t):
    A = args[0]
    return emit("reduce_sum", emit("where", _eye_mask(emit, A, A), A, 0))


def _inv(emit, args, kw, t):
    A = args[0]
    return emit("solve", A, emit("where", _eye_mask(emit, A, A), 1.0, 0.0))


def _inv_root(emit, args, kw, t):
    A, p, eps = args
    return _spectral(emit, A, lambda w: emit("pow", emit("add", w, eps), emit("neg", emit("div", 1.0, p))))


def _matrix_sqrt(emit, args, kw, t):
    return _spectral(emit, args[0], lambda w: emit("sqrt", w))


register(Builtin("eye", ("n",), eye_rule, E, "the n x n identity matrix (n a dimension, an `int` hyper or a literal integer)",
                 decompose=_eye))
register(Builtin("diag", ("v",), diag_rule, E, "the diagonal matrix with v on its diagonal: [n] -> [n, n]",
                 decompose=_diag))
register(Builtin("diagonal", ("A",), diagonal_rule, R, "the diagonal of a square matrix: [n, n] -> [n]",
                 decompose=_diagonal))
register(Builtin("trace", ("A",), trace_rule, R, "the sum of the diagonal of a square matrix",
                 decompose=_trace))
register(Builtin("solve", ("A", "b"), solve_rule, L,
                 "the solution x of A x = b (A square; b a vector or a matrix of right-hand sides)"))
register(Builtin("cholesky", ("A",), square_rule, L,
                 "the lower-triangular Cholesky factor L of a symmetric positive definite A = L Lᵀ"))
register(Builtin("inv", ("A",), square_rule, L, "the inverse of a square matrix (prefer `solve(A, b)`)",
                 decompose=_inv))
register(Builtin("inv_root", ("A", "p", "eps"), square_rule, L,
                 "(S₊ + eps I)^(-1/p) for the symmetric part S of A, S₊ its PSD part (eigenvalues clipped at 0), "
                 "via eigh", decompose=_inv_root))
register(Builtin("matrix_sqrt", ("A",), square_rule, L,
                 "the PSD square root S₊^(1/2) of the symmetric part S of A (eigenvalues clipped at 0), via eigh",
                 decompose=_matrix_sqrt))


# ---------------------------------------------------------------- composites: prox operators

PROX = frozenset({"firmly_nonexpansive"})
PROJ = frozenset({"firmly_nonexpansive", "maps_into_set"})
LMO = frozenset({"vertex_of_set"})


def _soft(emit, x, lam):
    return emit("mul", emit("sign", x), emit("max", emit("sub", emit("abs", x), lam), 0.0))


def _prox_l1(emit, args, kw, t):
    return _soft(emit, args[0], args[1])


def _prox_l2(emit, args, kw, t):
    x, lam = args
    n = _l2(emit, x, kw.get("axis"))
    big = emit("gt", n, lam)
    return emit("mul", emit("sub", 1.0, _safe_div(emit, lam, n, big, 1.0)), x)


def _prox_sq(emit, args, kw, t):
    return emit("div", args[0], emit("add", 1.0, args[1]))


def _prox_elastic(emit, args, kw, t):
    x, l1, l2 = args
    return emit("div", _soft(emit, x, l1), emit("add", 1.0, l2))


def _prox_linf(emit, args, kw, t):
    x, lam = args
    return emit("sub", x, _l1ball(emit, x, lam))


register(Builtin("prox_l1", ("x", "lam"), _real_like(0, 1), E,
                 "prox of lam·‖x‖₁: soft thresholding sign(x)·max(|x| - lam, 0)", facts=PROX, decompose=_prox_l1))
register(Builtin("prox_l2", ("x", "lam"), _real_like(0, scalars=(1,)), R,
                 "prox of lam·‖x‖₂ (block soft thresholding): max(1 - lam/‖x‖, 0)·x, the norm over the value or "
                 "along `axis=`", keywords=("axis",), facts=PROX, decompose=_prox_l2))
register(Builtin("prox_sq", ("x", "lam"), _real_like(0, 1), E, "prox of (lam/2)·‖x‖²: x / (1 + lam)",
                 facts=PROX, decompose=_prox_sq))
register(Builtin("prox_elastic", ("x", "l1", "l2"), _real_like(0, 1, 2), E,
                 "prox of l1·‖x‖₁ + (l2/2)·‖x‖²: prox_l1(x, l1) / (1 + l2)", facts=PROX, decompose=_prox_elastic))
register(Builtin("prox_linf", ("x", "lam"), _real_like(0, scalars=(1,)), L,
                 "prox of lam·‖x‖∞, by Moreau: x - proj_l1ball(x, lam)", facts=PROX, decompose=_prox_linf))


# ---------------------------------------------------------------- composites: projections

def _proj_box(emit, args, kw, t):
    return emit("min", emit("max", args[0], args[1]), args[2])


def _proj_l2ball(emit, args, kw, t):
    x, r = args
    n = _l2(emit, x, kw.get("axis"))
    out = emit("gt", n, r)
    return emit("mul", _safe_div(emit, r, n, out, 1.0), x)


def _proj_l1ball(emit, args, kw, t):
    return _l1ball(emit, args[0], args[1])


def _proj_linfball(emit, args, kw, t):
    r = args[1]
    return emit("min", emit("max", args[0], emit("neg", r)), r)


def _proj_simplex(emit, args, kw, t):
    s = args[1] if len(args) > 1 else 1.0
    return _simplex(emit, args[0], s, kw.get("axis"))


def _proj_nonneg(emit, args, kw, t):
    return emit("max", args[0], 0.0)


def _proj_hyperplane(emit, args, kw, t):
    x, a, b = args
    ax = emit("reduce_sum", emit("mul", a, x))
    aa = emit("reduce_sum", emit("mul", a, a))
    c = _safe_div(emit, emit("sub", ax, b), aa, emit("gt", aa, 0.0), 0.0)
    return emit("sub", x, emit("mul", c, a))


def _proj_sphere(emit, args, kw, t):
    x, r = args
    n = _l2(emit, x)
    nonzero = emit("gt", n, 0.0)
    first = emit("where", emit("eq", emit("iota", x), 0), r, 0.0)
    return emit("where", nonzero, emit("mul", _safe_div(emit, r, n, nonzero, 0.0), x), first)


def _proj_psd(emit, args, kw, t):
    return _spectral(emit, args[0], lambda w: w)


register(Builtin("proj_box", ("x", "lo", "hi"), _real_like(0, 1, 2), E,
                 "projection onto the box lo <= x <= hi (lo, hi scalars or shaped like x)", facts=PROJ,
                 decompose=_proj_box))
register(Builtin("proj_l2ball", ("x", "r"), _real_like(0, scalars=(1,)), R,
                 "projection onto the Euclidean ball ‖x‖ <= r (over the value or along `axis=`)",
                 keywords=("axis",), facts=PROJ, decompose=_proj_l2ball))
register(Builtin("proj_l1ball", ("x", "r"), _real_like(0, scalars=(1,)), L,
                 "projection onto the l1 ball ‖x‖₁ <= r (sort-based)", facts=PROJ, decompose=_proj_l1ball))
register(Builtin("proj_linfball", ("x", "r"), _real_like(0, scalars=(1,)), E,
                 "projection onto the l∞ ball: clip(x, -r, r)", facts=PROJ, decompose=_proj_linfball))
register(Builtin("proj_simplex", ("x", "s"), _real_like(0, scalars=(1,)), L,
                 "projection onto the simplex {p >= 0, sum p = s} (sort-based; over the value or each slice along "
                 "`axis=`)", keywords=("axis",), facts=PROJ, decompose=_proj_simplex, defaults=(1.0,)))
register(Builtin("proj_nonneg", ("x",), _real_like(0), E, "projection onto the nonnegative orthant: max(x, 0)",
                 facts=PROJ, decompose=_proj_nonneg))
def hyperplane_rule(sig: Sig) -> Type:
    t = _real_like(0, scalars=(2,))(sig)
    x, a = sig.args[0], sig.args[1]
    if a.shape != x.shape:
        raise BuiltinError("E0201", f"`proj_hyperplane(x, a, b)` needs the normal `a` shaped like x, but x is {x} "
                           f"and a is {a}", arg=1, hint="the hyperplane is {y: sum(a * y) = b}, over all elements")
    return t


register(Builtin("proj_hyperplane", ("x", "a", "b"), hyperplane_rule, R,
                 "projection onto the hyperplane {y: <a, y> = b} (x unchanged when a = 0)", facts=PROJ,
                 decompose=_proj_hyperplane))
register(Builtin("proj_sphere", ("x", "r"), _real_like(0, scalars=(1,)), R,
                 "projection onto the sphere ‖x‖ = r: r·x/‖x‖ (r at the first element when x = 0; the sphere "
                 "is not convex, so this is not nonexpansive)", facts=frozenset({"maps_into_set"}),
                 decompose=_proj_sphere))
register(Builtin("proj_psd", ("A",), square_rule, L,
                 "projection onto the PSD cone: the symmetric part of A with its negative eigenvalues set to 0",
                 facts=PROJ, decompose=_proj_psd))
register(Builtin("proj_stiefel", ("A",), matrix_rule, L,
                 "projection onto matrices with orthonormal columns (or rows): the polar factor U Vᵀ of A = U S Vᵀ "
                 "(SVD; not convex, so not nonexpansive)",
                 facts=frozenset({"maps_into_set"})))


# ---------------------------------------------------------------- composites: LMOs

def _lmo_simplex(emit, args, kw, t):
    g = args[0]
    axis = kw.get("axis")
    return emit("where", _onehot_mask(emit, _arg_extreme(emit, g, axis, "min"), g, axis), 1.0, 0.0)


def _lmo_l1ball(emit, args, kw, t):
    g, r = args
    at = _onehot_mask(emit, _arg_extreme(emit, emit("abs", g), None, "max"), g, None)
    gi = emit("reduce_sum", emit("where", at, g, 0))
    return emit("where", at, emit("where", emit("lt", gi, 0), r, emit("neg", r)), 0.0)


def _lmo_box(emit, args, kw, t):
    g, lo, hi = args
    return emit("where", emit("gt", g, 0), lo, hi)


register(Builtin("lmo_simplex", ("g",), _real_like(0), R,
                 "argmin of <g, s> over the unit simplex: onehot at the first argmin of g (per slice along "
                 "`axis=`)", keywords=("axis",), facts=LMO, decompose=_lmo_simplex))
register(Builtin("lmo_l1ball", ("g", "r"), _real_like(0, scalars=(1,)), R,
                 "argmin of <g, s> over the l1 ball of radius r: -r·sign(g_i)·e_i at i = argmax |g| "
                 "(-r·e_i when g = 0)", facts=LMO, decompose=_lmo_l1ball))
register(Builtin("lmo_box", ("g", "lo", "hi"), _real_like(0, 1, 2), E,
                 "argmin of <g, s> over the box lo <= s <= hi: lo where g > 0, else hi", facts=LMO,
                 decompose=_lmo_box))
register(Builtin("lmo_nuclear", ("G", "r"), matrix_rule, L,
                 "argmin of <G, S> over the nuclear-norm ball of radius r: -r u₁ v₁ᵀ (top singular pair of G)",
                 facts=LMO))


# ---------------------------------------------------------------- composites: mirror steps

def _mirror_entropic(emit, args, kw, t):
    x, g, step = args
    axis = kw.get("axis")
    z = emit("neg", emit("mul", step, g))
    support = emit("gt", x, 0)
    top = _red(emit, "max", emit("where", support, z, float("-inf")), axis)
    top = emit("where", emit("isfinite", top), top, 0.0)
    w = emit("mul", x, emit("exp", emit("where", support, emit("sub", z, top), 0.0)))
    return emit("div", w, _red(emit, "sum", w, axis))


def _mirror_euclid(emit, args, kw, t):
    x, g, step = args
    return emit("sub", x, emit("mul", step, g))


def _mirror_logbarrier(emit, args, kw, t):
    x, g, step = args
    return emit("div", x, emit("max", emit("add", 1.0, emit("mul", emit("mul", step, g), x)), 0.5))


register(Builtin("mirror_entropic", ("x", "g", "step"), _real_like(0, 1, 2), R,
                 "entropic mirror step on the simplex: x·exp(-step·g), normalised (over the value or along "
                 "`axis=`)", keywords=("axis",), facts=frozenset({"maps_into_set"}), decompose=_mirror_entropic))
register(Builtin("mirror_euclid", ("x", "g", "step"), _real_like(0, 1, 2), E,
                 "Euclidean mirror step: x - step·g", decompose=_mirror_euclid))
register(Builtin("mirror_logbarrier", ("x", "g", "step"), _real_like(0, 1, 2), E,
                 "log-barrier mirror step on the positive orthant: 1/x_new = 1/x + step·g, with the factor "
                 "1 + step·g·x floored at 1/2 (x at most doubles), so x stays positive",
                 facts=frozenset({"maps_into_set"}), decompose=_mirror_logbarrier))

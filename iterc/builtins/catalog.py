"""Every builtin, one entry each: signature, shape/element rule, kind, lowering per backend.

Shape rules raise BuiltinError with a diagnostic code; the checker attaches the span.
NumPy lowerings are templates over the argument code ({0}, {1}, ...) and `{axis_kw}`
(", axis=1" or ""), or functions for the cases a template cannot say.
"""
from __future__ import annotations

from ..types import LEAF, Type, ShapeError, broadcast, join_elem, shape_str
from .registry import Builtin, BuiltinError, ByShape, Infix, Prefix, Sig, register


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


# ---------------------------------------------------------------- numpy lowering helpers

# ---------------------------------------------------------------- operators

_ARITH = [("add", "+", 9, "sum"), ("sub", "-", 9, "difference"), ("mul", "*", 10, "product"),
          ("div", "/", 10, "quotient"), ("mod", "%", 10, "remainder")]
for _name, _sym, _prec, _what in _ARITH:
    register(Builtin(_name, ("a", "b"), elementwise_rule(2, "real" if _name == "div" else None), "elementwise",
                     f"elementwise {_what} `a {_sym} b` (NumPy broadcasting)",
                     lower={"numpy": Infix(_sym, _prec)}, operator=_sym, callable=False))

register(Builtin("pow", ("a", "b"), elementwise_rule(2, "real"), "elementwise", "elementwise power `a ^ b`",
                 lower={"numpy": Infix("**", 12)}, operator="^", callable=False))

for _name, _sym in [("eq", "=="), ("ne", "!="), ("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">=")]:
    register(Builtin(_name, ("a", "b"), comparison_rule, "elementwise", f"elementwise comparison `a {_sym} b`",
                     lower={"numpy": Infix(_sym, 4)}, operator=_sym, callable=False))

register(Builtin("and", ("a", "b"), elementwise_rule(2, "bool", want="bool"), "elementwise", "logical and",
                 lower={"numpy": ByShape(Infix("and", 2), "np.logical_and({0}, {1})")}, operator="and", callable=False))
register(Builtin("or", ("a", "b"), elementwise_rule(2, "bool", want="bool"), "elementwise", "logical or",
                 lower={"numpy": ByShape(Infix("or", 1), "np.logical_or({0}, {1})")}, operator="or", callable=False))
register(Builtin("not", ("a",), elementwise_rule(1, "bool", want="bool"), "elementwise", "logical not",
                 lower={"numpy": ByShape(Prefix("not ", 3), "np.logical_not({0})")}, operator="not", callable=False), unary=True)
register(Builtin("neg", ("a",), elementwise_rule(1), "elementwise", "negation `-a`",
                 lower={"numpy": Prefix("-", 11)}, operator="-", callable=False), unary=True)
register(Builtin("pos", ("a",), elementwise_rule(1), "elementwise", "unary plus `+a`",
                 lower={"numpy": Prefix("+", 11)}, operator="+", callable=False), unary=True)
register(Builtin("matmul", ("a", "b"), matmul_rule, "matmul", "matrix product `a @ b` (vectors and matrices)",
                 lower={"numpy": Infix("@", 10)}, operator="@", callable=False))
register(Builtin("transpose", ("a",), transpose_rule, "shape", "matrix transpose `a.T`",
                 lower={"numpy": "{0}.T"}, callable=False))
register(Builtin("expand", ("a",), lambda sig: sig.args[0], "shape", "index with `:` and `None` to add axes",
                 lower={"numpy": "{0}[{index}]"}, callable=False))

# ---------------------------------------------------------------- elementwise functions

for _name, _what in [("sqrt", "square root"), ("exp", "exponential"), ("log", "natural logarithm"),
                     ("sigmoid", "logistic sigmoid 1 / (1 + exp(-x))")]:
    register(Builtin(_name, ("x",), elementwise_rule(1, "real"), "elementwise", f"elementwise {_what}",
                     lower={"numpy": f"np.{_name}({{0}})" if _name != "sigmoid" else "rt.sigmoid({0})"}))

register(Builtin("abs", ("x",), elementwise_rule(1), "elementwise", "elementwise absolute value",
                 lower={"numpy": "np.abs({0})"}))
register(Builtin("sign", ("x",), elementwise_rule(1), "elementwise", "elementwise sign (-1, 0 or 1)",
                 lower={"numpy": "np.sign({0})"}))
register(Builtin("min", ("a", "b"), elementwise_rule(2), "elementwise", "elementwise minimum of two values",
                 lower={"numpy": "np.minimum({0}, {1})"}))
register(Builtin("max", ("a", "b"), elementwise_rule(2), "elementwise", "elementwise maximum of two values",
                 lower={"numpy": "np.maximum({0}, {1})"}))
register(Builtin("clip", ("x", "lo", "hi"), clip_rule, "elementwise", "clamp x into [lo, hi] elementwise",
                 lower={"numpy": "np.clip({0}, {1}, {2})"}))
register(Builtin("where", ("cond", "a", "b"), where_rule, "elementwise", "a where cond holds, else b (elementwise)",
                 lower={"numpy": "np.where({0}, {1}, {2})"}))
register(Builtin("zeros_like", ("x",), zeros_like_rule, "elementwise", "zeros of the shape of x",
                 lower={"numpy": "np.zeros_like({0}, dtype=float)"}))

# ---------------------------------------------------------------- reductions

for _name, _res, _what, _np in [
        ("sum", None, "sum of the elements", "np.sum({0}{axis_kw})"),
        ("mean", "real", "mean of the elements", "np.mean({0}{axis_kw})"),
        ("norm", "real", "Euclidean (Frobenius) norm", "rt.norm({0}{axis_kw})"),
        ("norm1", "real", "sum of absolute values", "np.sum(np.abs({0}){axis_kw})"),
        ("norminf", "real", "largest absolute value", "np.max(np.abs({0}){axis_kw})"),
        ("logsumexp", "real", "log(sum(exp(x))), computed stably", "rt.logsumexp({0}{axis_kw})")]:
    register(Builtin(_name, ("x",), reduction_rule(_res), "reduction",
                     f"{_what}, over all elements of the leaf or along `axis=`", keywords=("axis",),
                     lower={"numpy": _np}))

register(Builtin("dot", ("a", "b"), dot_rule, "reduction", "inner product sum(a * b) of two same-shaped values",
                 lower={"numpy": "np.sum(np.multiply({0}, {1}))"}))

# ---------------------------------------------------------------- library calls

register(Builtin("softmax", ("x",), same_shape_rule, "library", "exp(x) / sum(exp(x)), over the leaf or `axis=`",
                 keywords=("axis",), lower={"numpy": "rt.softmax({0}{axis_kw})"}))
register(Builtin("normalize", ("x",), same_shape_rule, "library",
                 "x / sum(x): rescale a positive vector onto the simplex (over the leaf or `axis=`)",
                 keywords=("axis",), lower={"numpy": "rt.normalize({0}{axis_kw})"}))
register(Builtin("outer", ("a", "b"), outer_rule, "matmul", "outer product of two vectors: [n] x [m] -> [n, m]",
                 lower={"numpy": "np.outer({0}, {1})"}))

# `prev` is typed by the checker (it needs to know what its argument names); the entry
# gives it a place in the registry for arity, docs and lowering.
register(Builtin("prev", ("x",), lambda sig: sig.args[0], "special",
                 "the value of a state or parameter at the start of the step",
                 lower={"numpy": "{0}"}))

"""Types of `.iter` values: an element type and a shape.

Shapes: `()` is a scalar, `LEAF` ("...") is "the shape of the parameter leaf" (known only
per leaf, at run time), and a tuple of dims is a ranked shape. A dim is a symbol (`"n"`)
or a static int. Broadcasting follows NumPy, with symbols compared by name.
"""
from __future__ import annotations

from typing import Union

from ._records import ValueRecord

Dim = Union[str, int]
LEAF = "..."
Shape = Union[str, tuple]          # LEAF or tuple[Dim, ...]

ELEM_NAMES = ("bool", "int", "real")
STORAGE_NAMES = {"real": "real", "f64": "real", "f32": "real", "f16": "real", "bf16": "real",
                 "int": "int", "bool": "bool"}
_RANK = {"bool": 0, "int": 1, "real": 2}


class Type(ValueRecord):
    __slots__ = ("elem", "shape")
    elem: str                      # bool | int | real
    shape: Shape

    def __init__(self, elem, shape=()):
        self.elem = elem
        self.shape = shape

    @property
    def is_scalar(self) -> bool:
        return self.shape == ()

    @property
    def is_leaf(self) -> bool:
        return self.shape == LEAF

    @property
    def rank(self):
        return None if self.shape == LEAF else len(self.shape)

    def with_elem(self, elem: str) -> "Type":
        return Type(elem, self.shape)

    def with_shape(self, shape: Shape) -> "Type":
        return Type(self.elem, shape)

    def __str__(self) -> str:
        if self.shape == ():
            return self.elem
        return f"{self.elem}{shape_str(self.shape)}"


def shape_str(shape: Shape) -> str:
    if shape == LEAF:
        return "[...]"
    return "[" + ", ".join(str(d) for d in shape) + "]"


REAL = Type("real")
INT = Type("int")
BOOL = Type("bool")
# A random generator's state, threaded through a method by lowering (never written by a
# user): a PRNG key in JAX, an np.random.Generator in numpy. Only the rng_* primitives
# and the random draws read it.
KEY = Type("key")


class FnType(ValueRecord):
    """The type of a function oracle, `real[n] -> real[n]` or `(real[n], real) -> real`:
    a solver's caller passes a function of these argument types returning `result`. It is
    not a value type (no shape): it is only ever called."""

    __slots__ = ("params", "result")
    params: tuple[Type, ...]
    result: Type

    def __init__(self, params, result):
        self.params = params
        self.result = result

    def __str__(self) -> str:
        args = str(self.params[0]) if len(self.params) == 1 else "(" + ", ".join(map(str, self.params)) + ")"
        return f"{args} -> {self.result}"


class TupleType(ValueRecord):
    """The several results of a builtin such as `eigh` (eigenvalues, eigenvectors): only ever
    unpacked at once by `let w, V = eigh(A)`, into one value per item (the IR's `get`)."""

    __slots__ = ("items",)
    items: tuple[Type, ...]
    elem = "tuple"
    shape = ("tuple",)                 # not a scalar: placed like a tensor (ELEMENT) in the IR
    is_scalar = False

    def __init__(self, items):
        self.items = tuple(items)

    def __str__(self) -> str:
        return "(" + ", ".join(map(str, self.items)) + ")"


def join_elem(a: str, b: str) -> str:
    """The element type of arithmetic on a and b: int op real is real."""
    return a if _RANK[a] >= _RANK[b] else b


class ShapeError(Exception):
    pass


def broadcast(a: Shape, b: Shape) -> Shape:
    """NumPy broadcasting with symbolic dims; raises ShapeError when it cannot be proven to work."""
    if a == ():
        return b
    if b == ():
        return a
    if a == LEAF or b == LEAF:
        if a == b:
            return LEAF
        raise ShapeError("a value shaped like the parameter leaf `[...]` has no fixed rank, so it "
                         "cannot be combined with a ranked shape")
    out = []
    for i in range(1, max(len(a), len(b)) + 1):
        da = a[-i] if i <= len(a) else 1
        db = b[-i] if i <= len(b) else 1
        if da == db or db == 1:
            out.append(da)
        elif da == 1:
            out.append(db)
        else:
            raise ShapeError(f"dimension {da} does not match dimension {db}")
    return tuple(reversed(out))

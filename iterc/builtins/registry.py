"""Registry machinery: the Builtin record, signatures handed to shape rules, errors they raise."""
from __future__ import annotations

from typing import Any, Callable, Optional, Union

from .._records import ValueRecord
from ..types import Type

KINDS = ("elementwise", "reduction", "matmul", "shape", "library", "special")


# Records with value equality, as the frozen dataclasses they were (see iterc/_records.py).

class Infix(ValueRecord):
    """Lower to an infix operator of the target language, at a precedence level."""
    __slots__ = ("symbol", "prec")
    symbol: str
    prec: int

    def __init__(self, symbol, prec):
        self.symbol = symbol
        self.prec = prec


class Prefix(ValueRecord):
    __slots__ = ("symbol", "prec")
    symbol: str
    prec: int

    def __init__(self, symbol, prec):
        self.symbol = symbol
        self.prec = prec


class ByShape(ValueRecord):
    """One lowering for all-scalar arguments, another when any argument is an array
    (Python's `and` on scalars, `np.logical_and` on arrays)."""
    __slots__ = ("scalar", "array")
    scalar: "Lowering"
    array: "Lowering"

    def __init__(self, scalar, array):
        self.scalar = scalar
        self.array = array


Lowering = Union[str, Infix, Prefix, ByShape, Callable[..., str]]


class BuiltinError(Exception):
    """Raised by a shape rule; the checker turns it into a located diagnostic."""

    def __init__(self, code: str, message: str, arg: Optional[int] = None, hint: Optional[str] = None,
                 keyword: Optional[str] = None):
        super().__init__(message)
        self.code, self.message, self.arg, self.hint, self.keyword = code, message, arg, hint, keyword


class Sig(ValueRecord):
    """What a shape rule sees: argument types, and static keyword values (e.g. axis)."""
    __slots__ = ("name", "args", "kw")
    name: str
    args: list[Type]
    kw: dict[str, Any]

    def __init__(self, name, args, kw):
        self.name = name
        self.args = args
        self.kw = kw

    __hash__ = None                            # mutable


class Builtin(ValueRecord):
    __slots__ = ("name", "params", "rule", "kind", "summary", "keywords", "lower", "operator", "callable")
    name: str
    params: tuple[str, ...]                    # positional parameter names, for messages and docs
    rule: Callable[[Sig], Type]                # shape and element-type rule
    kind: str                                  # one of KINDS
    summary: str
    keywords: tuple[str, ...]                  # static keyword arguments (e.g. "axis")
    lower: dict[str, Lowering]
    operator: Optional[str]                    # the .iter operator this entry implements, if any
    callable: bool                             # False: reachable only through syntax (`.T`, `x[:, None]`)

    def __init__(self, name, params, rule, kind, summary, keywords=(), lower=None, operator=None, callable=True):
        assert kind in KINDS, kind
        self.name = name
        self.params = params
        self.rule = rule
        self.kind = kind
        self.summary = summary
        self.keywords = keywords
        self.lower = {} if lower is None else lower
        self.operator = operator
        self.callable = callable


REGISTRY: dict[str, Builtin] = {}
OPERATORS: dict[str, Builtin] = {}             # binary operator symbol -> entry
UNARY_OPERATORS: dict[str, Builtin] = {}       # "-", "+", "not" -> entry


def register(entry: Builtin, unary: bool = False) -> Builtin:
    assert entry.name not in REGISTRY, entry.name
    REGISTRY[entry.name] = entry
    if entry.operator is not None:
        (UNARY_OPERATORS if unary else OPERATORS)[entry.operator] = entry
    return entry


def lookup(name: str) -> Optional[Builtin]:
    entry = REGISTRY.get(name)
    return entry if entry is not None and entry.callable else None

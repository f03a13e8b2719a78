"""Registry machinery: the Builtin record, signatures handed to shape rules, errors they raise."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Union

from ..types import Type

KINDS = ("elementwise", "reduction", "matmul", "shape", "library", "special")


@dataclass(frozen=True)
class Infix:
    """Lower to an infix operator of the target language, at a precedence level."""
    symbol: str
    prec: int


@dataclass(frozen=True)
class Prefix:
    symbol: str
    prec: int


@dataclass(frozen=True)
class ByShape:
    """One lowering for all-scalar arguments, another when any argument is an array
    (Python's `and` on scalars, `np.logical_and` on arrays)."""
    scalar: "Lowering"
    array: "Lowering"


Lowering = Union[str, Infix, Prefix, ByShape, Callable[..., str]]


class BuiltinError(Exception):
    """Raised by a shape rule; the checker turns it into a located diagnostic."""

    def __init__(self, code: str, message: str, arg: Optional[int] = None, hint: Optional[str] = None,
                 keyword: Optional[str] = None):
        super().__init__(message)
        self.code, self.message, self.arg, self.hint, self.keyword = code, message, arg, hint, keyword


@dataclass
class Sig:
    """What a shape rule sees: argument types, and static keyword values (e.g. axis)."""
    name: str
    args: list[Type]
    kw: dict[str, Any]


@dataclass(frozen=True)
class Builtin:
    name: str
    params: tuple[str, ...]                    # positional parameter names, for messages and docs
    rule: Callable[[Sig], Type]                # shape and element-type rule
    kind: str                                  # one of KINDS
    summary: str
    keywords: tuple[str, ...] = ()             # static keyword arguments (e.g. "axis")
    lower: dict[str, Lowering] = field(default_factory=dict)
    operator: Optional[str] = None             # the .iter operator this entry implements, if any
    callable: bool = True                      # False: reachable only through syntax (`.T`, `x[:, None]`)

    def __post_init__(self):
        assert self.kind in KINDS, self.kind


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

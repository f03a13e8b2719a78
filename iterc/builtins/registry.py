"""Registry machinery: the Builtin record, signatures handed to shape rules, errors they raise.

A builtin is a *primitive* (every backend lowers it: arithmetic, comparison, `where`,
unary math, `reduce_*`, matmul, expand/transpose, cast) or a *composite*, defined by a
`decompose` function that rewrites it into primitives. Backends may override a
composite with a faster or more readable form (numpy's `rt.norm`, torch's
`_foreach_norm`); without an override, the decomposition is what runs. How a builtin is
written in each target lives in that backend's folder, never here.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..types import Type


class Kind(enum.Enum):
    ELEMENTWISE = "elementwise"      # maps elements to elements (fusable)
    REDUCTION = "reduction"          # reduces over the leaf or an axis
    MATMUL = "matmul"                # contracts axes
    SHAPE = "shape"                  # reshapes or views, no arithmetic
    LIBRARY = "library"              # a kernel backend calls the framework between kernels
    MODEL = "model"                  # over all leaves of the parameter tree: one value per step (phases)
    SPECIAL = "special"              # resolved by lowering (prev)


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


# decompose(emit, args, kw, result_type) -> operand, where emit(fn, args, **kw) appends one
# primitive (or composite, decomposed in turn) and returns its result.
Decompose = Callable[..., Any]


@dataclass(frozen=True)
class Builtin:
    name: str
    params: tuple[str, ...]                    # positional parameter names, for messages and docs
    rule: Callable[[Sig], Type]                # shape and element-type rule
    kind: Kind
    summary: str
    keywords: tuple[str, ...] = ()             # static keyword arguments (e.g. "axis")
    operator: Optional[str] = None             # the .iter operator this entry implements, if any
    callable: bool = True                      # False: reachable only through syntax or lowering
    decompose: Optional[Decompose] = None      # composites: how to write it in primitives
    facts: frozenset = frozenset()             # properties for later passes (e.g. "firmly_nonexpansive")

    @property
    def primitive(self) -> bool:
        return self.decompose is None


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


def result_type(name: str, args: list[Type], kw: dict[str, Any]) -> Type:
    """The type of `name` applied to `args` (used when lowering builds ops the checker never saw)."""
    return REGISTRY[name].rule(Sig(name, list(args), dict(kw)))

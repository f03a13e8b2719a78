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
from typing import Any, Callable, Optional

from .._records import Record
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


class Sig(Record):
    """What a shape rule sees: argument types, and static keyword values (e.g. axis).

    `values` holds, per argument, what the checker knows of its value before the run: a
    dimension's name (`n`) or a literal integer, else None. It is empty when lowering
    builds an op itself; only rules that make a shape from a value (`eye(n)`) read it."""
    __slots__ = ("name", "args", "kw", "values")
    name: str
    args: list[Type]
    kw: dict[str, Any]
    values: tuple

    def __init__(self, name, args, kw, values=()):
        self.name = name
        self.args = args
        self.kw = kw
        self.values = values

    def value(self, i: int):
        return self.values[i] if i < len(self.values) else None


# decompose(emit, args, kw, result_type) -> operand, where emit(fn, args, **kw) appends one
# primitive (or composite, decomposed in turn) and returns its result.
Decompose = Callable[..., Any]


class Builtin(Record):
    """One builtin (compared by identity: there is one entry per name)."""
    __slots__ = ("name", "params", "rule", "kind", "summary", "keywords", "operator", "callable", "decompose",
                 "facts", "defaults", "results")
    name: str
    params: tuple[str, ...]                    # positional parameter names, for messages and docs
    rule: Callable[[Sig], Type]                # shape and element-type rule
    kind: Kind
    summary: str
    keywords: tuple[str, ...]                  # static keyword arguments (e.g. "axis")
    operator: Optional[str]                    # the .iter operator this entry implements, if any
    callable: bool                             # False: reachable only through syntax or lowering
    decompose: Optional[Decompose]             # composites: how to write it in primitives
    facts: frozenset                           # properties for later passes (e.g. "firmly_nonexpansive")
    defaults: tuple                            # default values of the last len(defaults) params, which
                                               # a call may omit (the rule and decompose see fewer args;
                                               # None: no value, shown `[r]`)
    results: tuple[str, ...]                   # names of several results (`eigh`: w, V); () for one

    def __init__(self, name, params, rule, kind, summary, keywords=(), operator=None, callable=True,
                 decompose=None, facts=frozenset(), defaults=(), results=()):
        self.name, self.params, self.rule, self.kind, self.summary = name, params, rule, kind, summary
        self.keywords, self.operator, self.callable = keywords, operator, callable
        self.decompose, self.facts, self.defaults = decompose, facts, defaults
        self.results = results

    @property
    def primitive(self) -> bool:
        return self.decompose is None

    @property
    def min_args(self) -> int:
        return len(self.params) - len(self.defaults)

    def shown_params(self) -> list[str]:
        """The positional parameters as docs show them, defaults included: `["x", "s=1"]`."""
        shown = list(self.params)
        for k, d in enumerate(self.defaults):
            i = len(shown) - len(self.defaults) + k
            shown[i] = f"[{shown[i]}]" if d is None else f"{shown[i]}={d:g}" if isinstance(d, float) \
                else f"{shown[i]}={d}"
        return shown

    def signature(self, keywords: bool = True) -> str:
        """`proj_simplex(x, s=1, axis=)`: how docs and hints show a call."""
        return f"{self.name}({', '.join(self.shown_params() + ([f'{k}=' for k in self.keywords] if keywords else []))})"


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


def result_type(name: str, args: list[Type], kw: dict[str, Any], values: tuple = ()) -> Type:
    """The type of `name` applied to `args` (used when lowering builds ops the checker never saw)."""
    return REGISTRY[name].rule(Sig(name, list(args), dict(kw), tuple(values)))

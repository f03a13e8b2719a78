"""Hyperparameter specs and their validation at instantiation, shared by every backend.

A violated `where` condition or a missing required hyper is a ValueError that names the
method, the hyper and the condition: the error a user sees when they call e.g.
`load("adamw").numpy(lr=-1)`.
"""
from __future__ import annotations

import difflib
import numbers
from dataclasses import dataclass
from typing import Any, Callable, Optional, Union

_MISSING = object()


@dataclass(frozen=True)
class Hyper:
    name: str
    elem: str                                        # real | int | bool
    default: Union[Any, Callable[["Hypers"], Any]] = _MISSING
    static: bool = False                             # steers control or sizes: fixed at instantiation

    @property
    def required(self) -> bool:
        return self.default is _MISSING


@dataclass(frozen=True)
class Condition:
    text: str                                        # as written in .iter (rebuilt canonically)
    names: tuple[str, ...]                           # the hypers it constrains
    test: Callable[["Hypers"], Any]


class Hypers:
    """Resolved hyperparameter values, read in generated code as `hp.lr`."""

    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def __repr__(self) -> str:
        return "Hypers(" + ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items()) + ")"


def _coerce(method: str, h: Hyper, value: Any) -> Any:
    kind = {"real": "a real number", "int": "an integer", "bool": "true or false"}[h.elem]
    if h.elem == "bool":
        if isinstance(value, bool) or (hasattr(value, "dtype") and getattr(value, "dtype", None) == bool):
            return bool(value)
    elif isinstance(value, bool):
        pass
    elif h.elem == "int":
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real) and float(value).is_integer():
            return int(value)
    elif isinstance(value, numbers.Real):
        return float(value)
    elif hasattr(value, "shape") and getattr(value, "shape", None) == ():
        return value                                 # a traced or 0-d array scalar (schedules under jit)
    raise ValueError(f"{method}: hyper `{h.name}` must be {kind}, got {value!r}")


def resolve(method: str, hypers: tuple[Hyper, ...], conditions: tuple[Condition, ...],
            given: dict[str, Any], base: Optional[Hypers] = None) -> Hypers:
    """Defaults (in declaration order, so one may use an earlier one), coercion, then conditions."""
    known = {h.name: h for h in hypers}
    for name in given:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"; did you mean `{close[0]}`?" if close else f"; its hypers are: {', '.join(known) or 'none'}"
            raise ValueError(f"{method} has no hyper `{name}`{hint}")
    values: dict[str, Any] = {}
    for h in hypers:
        if h.name in given:
            values[h.name] = _coerce(method, h, given[h.name])
        elif base is not None and h.name in base.__dict__:
            values[h.name] = base.__dict__[h.name]
        elif h.required:
            raise ValueError(f"{method}: hyper `{h.name}` is required (it has no default); "
                             f"pass {h.name}=... when instantiating")
        else:
            default = h.default(Hypers(values)) if callable(h.default) else h.default
            values[h.name] = _coerce(method, h, default)
    hp = Hypers(values)
    for c in conditions:
        try:
            ok = c.test(hp)
            ok = bool(ok)
        except TypeError:                            # traced values cannot be decided here
            continue
        if not ok:
            shown = ", ".join(f"{n}={values[n]!r}" for n in c.names if n in values)
            raise ValueError(f"{method}: hyper condition `{c.text}` does not hold ({shown})")
    return hp

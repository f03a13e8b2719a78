"""Print IR values as Python expressions with minimal parentheses (shared by Python backends)."""
from __future__ import annotations

import math
from typing import Callable

from ..builtins import REGISTRY, ByShape, Infix, Prefix
from ..ir import Apply, Const, Ref

ATOM = 13


def _const(v: Const) -> tuple[str, int]:
    if isinstance(v.value, bool):
        return ("True" if v.value else "False"), ATOM
    if isinstance(v.value, float) and math.isinf(v.value):
        return "np.inf", ATOM
    text = repr(v.value)
    return text, (11 if text.startswith("-") else ATOM)


class ExprPrinter:
    def __init__(self, target: str, ref: Callable[[Ref], str]):
        self.target = target
        self.ref = ref

    def __call__(self, v) -> str:
        return self.print(v)[0]

    def print(self, v) -> tuple[str, int]:
        if isinstance(v, Const):
            return _const(v)
        if isinstance(v, Ref):
            return self.ref(v), ATOM
        if isinstance(v, Apply):
            return self.apply(v)
        raise AssertionError(f"cannot print {type(v).__name__}")

    def apply(self, v: Apply) -> tuple[str, int]:
        entry = REGISTRY[v.fn]
        low = entry.lower[self.target]
        if isinstance(low, ByShape):
            low = low.scalar if all(a.type.is_scalar for a in v.args) else low.array
        kw = dict(v.kw)
        if isinstance(low, Infix):
            (a, pa), (b, pb) = self.print(v.args[0]), self.print(v.args[1])
            right_assoc = low.symbol == "**"
            comparison = low.prec == 4
            if pa < low.prec or (right_assoc and pa <= low.prec) or (comparison and pa <= low.prec):
                a = f"({a})"
            if pb < low.prec or (not right_assoc and pb <= low.prec):
                b = f"({b})"
            return f"{a} {low.symbol} {b}", low.prec
        if isinstance(low, Prefix):
            a, pa = self.print(v.args[0])
            if pa < low.prec:
                a = f"({a})"
            return f"{low.symbol}{a}", low.prec
        args = [self.print(a)[0] for a in v.args]
        if callable(low):
            code = low(args, kw, [a.type for a in v.args], v.type)
            return code, (ATOM if code.endswith(")") and code.split("(")[0].replace(".", "").replace("_", "").isalnum()
                          else 1)
        axis = kw.get("axis")
        index = ", ".join(kw.get("index", ()))
        arg0 = args[0] if args else ""
        if "{0}[" in low or "{0}." in low:
            p0 = self.print(v.args[0])
            arg0 = p0[0] if p0[1] >= ATOM else f"({p0[0]})"
            args = [arg0] + args[1:]
        return low.format(*args, axis_kw=f", axis={axis}" if axis is not None else "", index=index), ATOM

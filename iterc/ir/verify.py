"""An internal verifier between lowering and emission: catches compiler bugs, not user errors.

Checks that every Ref is defined before use (in scope order), that Apply names a
registry entry, that updates target states or the parameter, and that region carried
sets are exactly what their bodies update. Runs in tests and under ITERC_VERIFY=1.
"""
from __future__ import annotations

from ..builtins import REGISTRY
from .nodes import Apply, Bind, Const, ForRegion, IfRegion, MethodIR, ModuleIR, Ref, WhileRegion


class IRVerifyError(AssertionError):
    pass


def _check_value(v, defined: set[str], where: str) -> None:
    if isinstance(v, Const):
        return
    if isinstance(v, Ref):
        if v.kind in ("hyper",):
            return
        if v.name not in defined:
            raise IRVerifyError(f"{where}: %{v.name} ({v.kind}) is used before it is defined")
        return
    if isinstance(v, Apply):
        if v.fn not in REGISTRY:
            raise IRVerifyError(f"{where}: unknown builtin {v.fn!r}")
        if v.type is None:
            raise IRVerifyError(f"{where}: {v.fn} has no type")
        for a in v.args:
            _check_value(a, defined, where)
        return
    raise IRVerifyError(f"{where}: not an IR value: {v!r}")


def _updated(stmts) -> list[str]:
    out: list[str] = []
    for s in stmts:
        names = [s.name] if isinstance(s, Bind) and s.kind == "update" else list(getattr(s, "carried", ()))
        for n in names:
            if n not in out:
                out.append(n)
    return out


def _check_block(stmts, defined: set[str], updatable: set[str], where: str) -> None:
    defined = set(defined)
    for s in stmts:
        if isinstance(s, Bind):
            _check_value(s.value, defined, where)
            if s.kind == "update" and s.name not in updatable:
                raise IRVerifyError(f"{where}: update of %{s.name}, which is not a state or the parameter")
            defined.add(s.name)
        elif isinstance(s, (IfRegion, ForRegion, WhileRegion)):
            if isinstance(s, IfRegion):
                _check_value(s.cond, defined, where)
                bodies = [s.then, s.orelse]
                _check_block(s.then, defined, updatable, where)
                _check_block(s.orelse, defined, updatable, where)
            elif isinstance(s, ForRegion):
                _check_value(s.lo, defined, where)
                _check_value(s.hi, defined, where)
                bodies = [s.body]
                _check_block(s.body, defined | {s.var}, updatable, where)
            else:
                _check_value(s.max_iter, defined, where)
                bodies = [s.body]
                _check_block(s.body, defined, updatable, where)
                inner = defined | {b.name for b in s.body if isinstance(b, Bind)}
                _check_value(s.cond, inner, where)
            expected = _updated([x for body in bodies for x in body])
            if sorted(expected) != sorted(s.carried):
                raise IRVerifyError(f"{where}: region carries {s.carried}, but its body updates {tuple(expected)}")
        else:
            raise IRVerifyError(f"{where}: not an IR statement: {s!r}")


def verify_method(m: MethodIR) -> None:
    where = f"{m.source_path}: {m.name}"
    base = {m.counter} | set(m.dims) | {s.name for s in m.states} | {o.name for o in m.oracles} \
        | {i.name for i in m.inputs} | {copy for _, copy in m.prev}
    if m.param is not None:
        base.add(m.param.name)
    updatable = {s.name for s in m.states} | ({m.param.name} if m.param is not None else set())
    _check_block(m.body, base, updatable, where)
    if m.kind == "solver":
        _check_block(m.after, base | _defined_names(m.body), updatable, where)


def _defined_names(stmts) -> set[str]:
    return {s.name for s in stmts if isinstance(s, Bind)}


def verify_module(module: ModuleIR) -> None:
    for m in module.methods:
        verify_method(m)

"""Print IR as text: `iterc compile --emit ir`, the cheapest debugger there is."""
from __future__ import annotations

from .nodes import Apply, Bind, Const, ForRegion, IfRegion, MethodIR, ModuleIR, Ref, WhileRegion


def value_text(v) -> str:
    if isinstance(v, Const):
        return repr(v.value)
    if isinstance(v, Ref):
        return f"%{v.name}" if v.kind not in ("hyper", "dim") else f"${v.name}"
    if isinstance(v, Apply):
        kw = "".join(f", {k}={val!r}" for k, val in v.kw)
        return f"{v.fn}({', '.join(value_text(a) for a in v.args)}{kw}): {v.type}"
    return repr(v)


def _stmts(stmts, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    for s in stmts:
        if isinstance(s, Bind):
            out.append(f"{pad}{'let' if s.kind == 'let' else 'set'} %{s.name} = {value_text(s.value)}")
        elif isinstance(s, IfRegion):
            out.append(f"{pad}{s.origin} {value_text(s.cond)} carries ({', '.join(s.carried)}):")
            _stmts(s.then, depth + 1, out)
            if s.orelse:
                out.append(f"{pad}else:")
                _stmts(s.orelse, depth + 1, out)
        elif isinstance(s, ForRegion):
            out.append(f"{pad}for %{s.var} in {value_text(s.lo)}..{value_text(s.hi)} carries ({', '.join(s.carried)}):")
            _stmts(s.body, depth + 1, out)
        elif isinstance(s, WhileRegion):
            out.append(f"{pad}repeat max {value_text(s.max_iter)} carries ({', '.join(s.carried)}):")
            _stmts(s.body, depth + 1, out)
            out.append(f"{pad}until {value_text(s.cond)}")


def method_text(m: MethodIR) -> str:
    out = [f"{m.kind} {m.name}"]
    for h in m.hypers:
        default = f" = {value_text(h.default)}" if h.default is not None else " (required)"
        out.append(f"  hyper ${h.name}: {h.elem}{default}")
        for text, _ in h.conditions:
            out.append(f"    where {text}")
    if m.param is not None:
        out.append(f"  param %{m.param.name}: {m.param.type}")
    for i in m.inputs:
        out.append(f"  input %{i.name}: {i.type}")
    for o in m.oracles:
        every = f" every {value_text(o.every)}" if o.every is not None else ""
        out.append(f"  oracle %{o.name} = {o.kind}: {o.type}{every}")
    for s in m.states:
        out.append(f"  state %{s.name}: {s.type} = {value_text(s.init)}")
    out.append(f"  step %{m.counter}:")
    for name, copy in m.prev:
        out.append(f"    let %{copy} = %{name}")
    _stmts(m.body, 2, out)
    if m.kind == "solver":
        if m.after:
            out.append("  after step:")
            _stmts(m.after, 2, out)
        out.append(f"  until {value_text(m.until)} max {value_text(m.max_iter)}")
        out.append(f"  output {', '.join('%' + o for o in m.outputs)}")
    return "\n".join(out)


def module_text(module: ModuleIR) -> str:
    return "\n\n".join(method_text(m) for m in module.methods) + "\n"

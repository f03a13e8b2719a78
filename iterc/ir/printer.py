"""Print IR as text: `iterc compile --emit ir`, the cheapest debugger there is.

`%name` is a value, `$name` a hyper or dim; each binding shows its type and placement
(`S` static, `P` step, `M` model, `L` leaf, `E` element). A phased step prints its
phases in order, each with the per-leaf values it loads and stores.
"""
from __future__ import annotations

from .nodes import Apply, Assign, Block, Const, For, If, OptimizerIR, Origin, Var, While

_PLACE = {0: "S", 1: "P", 2: "M", 3: "L", 4: "E"}


def operand_text(v) -> str:
    if isinstance(v, Const):
        return repr(v.value)
    if isinstance(v, Var):
        return f"${v.name}" if v.origin in (Origin.HYPER, Origin.DIM) else f"%{v.name}"
    return repr(v)


def _binding(v: Var) -> str:
    return f"%{v.name}: {v.type} {_PLACE[int(v.place)]}"


def op_text(op) -> str:
    if isinstance(op, Apply):
        kw = "".join(f", {k}={val!r}" for k, val in op.kw)
        return f"{op.fn}({', '.join(operand_text(a) for a in op.args)}{kw})"
    return operand_text(op)


def _list(vs) -> str:
    return ", ".join(operand_text(v) for v in vs)


def block_lines(block: Block, depth: int, out: list[str]) -> None:
    pad = "  " * depth
    for s in block.stmts:
        if isinstance(s, Assign):
            out.append(f"{pad}{_binding(s.target)} = {op_text(s.op)}")
        elif isinstance(s, If):
            out.append(f"{pad}{', '.join(_binding(r) for r in s.results) or '()'} = {s.origin} {operand_text(s.cond)}:")
            block_lines(s.then, depth + 1, out)
            out.append(f"{pad}else:")
            block_lines(s.orelse, depth + 1, out)
        elif isinstance(s, For):
            params = ", ".join(f"%{p.name} = {operand_text(i)}" for p, i in zip(s.params, s.inits))
            out.append(f"{pad}{', '.join(_binding(r) for r in s.results) or '()'} = for %{s.var.name} in "
                       f"{operand_text(s.lo)}..{operand_text(s.hi)} ({params}):")
            block_lines(s.body, depth + 1, out)
        elif isinstance(s, While):
            params = ", ".join(f"%{p.name} = {operand_text(i)}" for p, i in zip(s.params, s.inits))
            counter = f" counting %{s.counter.name}" if s.counter is not None else ""
            observe = f" observing {_list(s.observe)}" if s.observe else ""
            out.append(f"{pad}{', '.join(_binding(r) for r in s.results)} = while max {operand_text(s.max_iter)}"
                       f"{counter}{observe} ({params}):")
            block_lines(s.body, depth + 1, out)
    if block.yields:
        out.append(f"{pad}yield {_list(block.yields)}")


def _expr_block(block: Block) -> str:
    lines: list[str] = []
    block_lines(block, 0, lines)
    return "; ".join(lines)


def method_text(m, hypers: bool = True) -> str:
    out = [f"{m.kind} {m.name}"]
    for h in (m.hypers if hypers else ()):
        default = f" = {{{_expr_block(h.default)}}}" if h.default is not None else " (required)"
        out.append(f"  hyper ${h.name}: {h.elem}{' static' if h.static else ''}{default}")
        for text, _ in h.conditions:
            out.append(f"    where {text}")
    if isinstance(m, OptimizerIR):
        out.append(f"  param %{m.param.name}: {m.param.type} {m.param.dtype.value}")
        for o in m.oracles:
            every = f" every {{{_expr_block(o.every)}}}" if o.every is not None else ""
            out.append(f"  oracle %{o.var.name} = {o.kind}: {o.var.type}{every}")
        for s in m.states:
            shared = " shared" if s.shared else ""
            out.append(f"  state %{s.name}: {s.type} {s.dtype.value}{shared} = {{{_expr_block(s.init)}}}")
        for name, block in m.live:
            out.append(f"  live %{name} when {{{_expr_block(block)}}}")
        if m.key is not None:
            out.append(f"  key %{m.key.name}: {m.key.type} (from $seed, yielded last)")
        if m.rules:
            if m.before is not None:
                out.append(f"  before the rules:")
                out.extend("    " + line for line in method_text(m.before, False).split("\n"))
            for r in m.rules:
                if r.delegate is not None:
                    given = ", ".join(f"{k} = {{{_expr_block(b)}}}" for k, b in r.hyper_map)
                    out.append(f"  rule {r.pattern.text()} = {r.delegate}({given}):")
                else:
                    out.append(f"  rule {r.pattern.text()}:")
                out.extend("    " + line for line in method_text(r.method, r.delegate is not None).split("\n"))
            return "\n".join(out)
        out.append(f"  step %{m.counter.name}:")
        if m.phases:
            leaf = 0
            for p in m.phases:
                if p.kind == "leaf":
                    leaf += 1
                    head = f"leaf phase {leaf}"
                else:
                    head = "model prologue" if p is m.phases[0] else "model segment"
                io = (f" loads ({_list(p.loads)})" if p.loads else "") + \
                     (f" stores ({_list(p.stores)})" if p.stores else "")
                out.append(f"    -- {head}{io}")
                block_lines(Block(p.stmts), 2, out)
            out.append(f"    yield {_list(m.body.yields)}")
        else:
            block_lines(m.body, 2, out)
        if m.eval is not None:
            out.append(f"  eval %{m.param.name}:")
            block_lines(m.eval, 2, out)
    else:
        for i in m.inputs:
            domain = f" in {i.domain[0]}{'(' + ', '.join(map(repr, i.domain[1:])) + ')' if len(i.domain) > 1 else ''}" \
                if i.domain else ""
            out.append(f"  input %{i.name}: {i.type} {i.dtype.value}{domain}")
        for o in m.oracles:
            out.append(f"  oracle %{o.var.name}: {o.var.type}")
        for s in m.states:
            out.append(f"  state %{s.name}: {s.type} {s.dtype.value}")
        out.append("  init:")
        block_lines(m.init, 2, out)
        out.append(f"  loop carries ({', '.join(m.carried)}):")
        block_lines(Block((m.loop,)), 2, out)
        out.append(f"  output {', '.join(f'{n} = {operand_text(v)}' for n, v in m.outputs)}")
        if m.checked:
            out.append(f"  stops when not finite: {', '.join(m.checked)}")
    return "\n".join(out)


def module_text(module) -> str:
    return "\n\n".join(method_text(m) for m in module.methods) + "\n"

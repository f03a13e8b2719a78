"""What the server answers, as functions of an Analysis: diagnostics, hover, navigation,
rename, document symbols, formatting, semantic tokens, code actions and inlay hints.
(Completion and signature help are in complete.py.) Nothing here talks to the client."""
from __future__ import annotations

import re
from typing import Optional

from lsprotocol import types

from ..builtins import REGISTRY, lookup
from ..check.names import DOMAINS, reserved_reason
from ..diagnostics import Diagnostic, Severity
from ..syntax import ast
from ..types import LEAF, STORAGE_NAMES
from .analysis import Analysis
from .index import KIND_WORDS, RENAMABLE, Binding, Occ
from .positions import Lines, _units, path_to_uri

UNNECESSARY = ("W0001", "W0002", "W0003", "W0006")

DOMAIN_DOCS = {
    "simplex": "entries nonnegative and summing to 1",
    "nonneg": "entries >= 0",
    "positive": "entries > 0",
    "sphere": "unit Euclidean norm",
    "psd": "a symmetric positive semidefinite matrix",
    "stiefel": "a matrix with orthonormal columns",
    "box": "entries in [lo, hi]: `box(lo, hi)`",
    "ball": "Euclidean norm at most r: `ball(r)`",
}
ORACLE_DOCS = {
    "grad": "the gradient, shaped like the param; supplied by the caller each step",
    "value": "the loss, a `real` scalar; supplied by the caller",
    "hvp": "a Hessian-vector product with direction `u`, shaped like the param",
    "hess_diag": "the Hessian diagonal, shaped like the param",
    "rand_normal": "standard normal noise shaped like the param (from the caller's generator)",
}
FACT_DOCS = {
    "convex": "the problem is convex", "strongly_convex": "strongly convex with modulus `mu`",
    "smooth": "the gradient is `L`-Lipschitz", "lipschitz": "the function is `G`-Lipschitz",
    "monotone": "the operator is monotone", "nonexpansive": "the map is nonexpansive",
    "contractive": "the map is a contraction with factor `q`",
}


def uri_of(a: Analysis, span) -> str:
    return a.uri if a.owns(span) else path_to_uri(span.source.path)


def _one_line(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


# ---------------------------------------------------------------- diagnostics

def to_lsp_diagnostic(a: Analysis, d: Diagnostic) -> types.Diagnostic:
    related = []
    rng = None
    message = d.message
    if d.span is not None and a.owns(d.span):
        rng = a.range_of(d.span)
    elif d.span is not None:
        # an error in another file (a used module, a def there): shown where this file
        # reaches it, with the real place as related information
        line, col = d.span.source.line_col(d.span.start)
        message = f"{d.message} (in {d.span.source.path}:{line}:{col})"
        related.append(types.DiagnosticRelatedInformation(
            types.Location(path_to_uri(d.span.source.path), a.range_of(d.span)), d.message))
        here = next((n.span for n in d.notes if a.owns(n.span)), None)
        if here is None and a.module is not None and a.module.uses:
            here = a.module.uses[0].span
        rng = a.range_of(here) if here is not None else None
    if rng is None:
        rng = types.Range(types.Position(0, 0), types.Position(0, 0))
    own = types.Location(a.uri, rng)
    for n in d.notes:
        loc = types.Location(uri_of(a, n.span), a.range_of(n.span)) if n.span is not None else own
        related.append(types.DiagnosticRelatedInformation(loc, n.message))
    if d.hint:
        related.append(types.DiagnosticRelatedInformation(own, f"hint: {d.hint}"))
    data = {"hint": d.hint} if d.hint else None
    if d.fix is not None:
        data = dict(data or {}, fix=d.fix.title)
    return types.Diagnostic(
        range=rng, message=message, code=d.code, source="iterc",
        severity=types.DiagnosticSeverity.Error if d.severity is Severity.ERROR else types.DiagnosticSeverity.Warning,
        related_information=related or None,
        tags=[types.DiagnosticTag.Unnecessary] if d.code in UNNECESSARY else None,
        data=data)


def lsp_diagnostics(a: Analysis) -> list[types.Diagnostic]:
    out = [to_lsp_diagnostic(a, d) for d in a.diagnostics]
    if a.internal_error:
        zero = types.Range(types.Position(0, 0), types.Position(0, 0))
        out.append(types.Diagnostic(range=zero, source="iterc", code="internal",
                                    severity=types.DiagnosticSeverity.Error,
                                    message=f"internal error in iterc: {a.internal_error} (a bug in iterc, "
                                            "not in this file; please report it)"))
    return out


# ---------------------------------------------------------------- hover

def describe_type(t) -> str:
    if t is None:
        return ""
    if t.shape == ():
        shape = "scalar"
    elif t.shape == LEAF:
        shape = "shape `[...]` (the shape of the parameter leaf, known per leaf)"
    else:
        shape = f"shape `[{', '.join(str(d) for d in t.shape)}]` (rank {len(t.shape)})"
    return f"element type `{t.elem}`, {shape}"


def _decl_text(b: Binding) -> str:
    node = b.node
    if b.kind in ("hyper", "param", "state", "input", "oracle", "let", "local", "deflocal"):
        return _one_line(node.span.text)
    if b.kind == "loopvar":
        return _one_line(f"for {node.var.name} in {node.lo.span.text}..{node.hi.span.text}")
    if b.kind == "counter":
        return f"step {b.name}"
    if b.kind == "dim":
        return f"dims {b.name}" if isinstance(node, ast.Ident) and b.note is None else f"dim {b.name}"
    if b.kind == "defarg":
        return f"{b.name}  (argument of def {b.owner.name.name})"
    if b.kind == "def":
        return def_signature(node)
    if b.kind == "alias":
        return _one_line(node.span.text)
    if b.kind == "method":
        return f"{node.kind} {node.name.name}"
    return b.name


def def_signature(d: ast.Def) -> str:
    return f"def {d.name.name}({', '.join(p.name for p in d.params)})"


def builtin_signature(name: str) -> str:
    e = REGISTRY[name]
    params = list(e.params) + [f"{k}=" for k in e.keywords]
    return f"{name}({', '.join(params)})"


def _md(code: str, *lines: str) -> str:
    body = "\n\n".join(x for x in lines if x)
    value = f"```iter\n{code}\n```" + (f"\n\n{body}" if body else "")
    return value


def _binding_hover(a: Analysis, occ: Occ) -> Optional[str]:
    b = occ.binding
    idx = a.index
    lines = []
    kind = KIND_WORDS.get(b.kind, b.kind)
    where = ""
    if b.method is not None:
        where = f" of {b.method.kind} `{b.method.name.name}`"
    elif b.owner is not None:
        where = f" of def `{b.owner.name.name}`"
    head = f"*{kind}*{where}"
    types_here = []
    if occ.role == "ref" and occ.node is not None:
        types_here = idx.types_of(occ.node, occ.ctx)
    if not types_here and b.symbol is not None and b.symbol.type is not None:
        types_here = [b.symbol.type]
    if not types_here and b.kind in ("defarg", "deflocal"):
        types_here = idx.types_of(b.node.value if b.kind == "deflocal" else b.node, b.owner)
    if not types_here and b.kind in ("loopvar", "counter", "dim"):
        from ..types import INT
        types_here = [INT]
    if not types_here and b.kind == "local" and b.method is not None:
        types_here = idx.types_of(b.node.value, b.method)
    if b.kind == "def":
        d = b.node
        lines.append(head)
        if d.doc:
            lines.append(d.doc.strip())
        if not a.owns(d.span):
            lines.append(f"from `{d.span.source.path}`")
        if occ.role == "ref" and isinstance(occ.node, ast.Call):
            t = idx.types_of(occ.node, occ.ctx)
            if t:
                lines.append(f"this call: `{t[0]}` — {describe_type(t[0])}")
        return _md(_decl_text(b), *lines)
    if b.kind == "alias":
        _, defs = idx.aliases.get(b.name, (None, {}))
        lines.append(f"*module* `{b.name}`: " + (", ".join(f"`{n}`" for n in sorted(defs)) or "no defs"))
        return _md(_decl_text(b), *lines)
    if b.kind == "method":
        m = b.node
        return _md(_decl_text(b), (m.doc or "").strip())
    if len(types_here) == 1:
        t = types_here[0]
        lines.append(f"{head}: `{t}` — {describe_type(t)}")
    elif types_here:
        lines.append(f"{head}: typed at each call — " + ", ".join(f"`{t}`" for t in types_here))
    else:
        lines.append(head)
    node = b.node
    if b.kind == "hyper":
        lines.append(f"default: `{_one_line(node.default.span.text)}`" if node.default is not None
                     else "required: no default, the caller must give it")
        conds = [f"`{_one_line(c.span.text)}`" for c in node.where]
        if node.interval is not None:
            conds.insert(0, f"`{b.name} {_one_line(node.interval.span.text)}`")
        lines.append("conditions: " + ", ".join(conds) if conds else "conditions: none")
    if b.kind in ("param", "state", "input"):
        storage = node.type.elem.name
        if storage not in ("real", "int", "bool"):
            lines.append(f"stored as `{storage}`")
        if node.domain is not None:
            name = node.domain.name.name
            shown = _one_line(node.domain.span.text).removeprefix("in ").strip()
            lines.append(f"domain: `{shown}` ({DOMAIN_DOCS.get(name, 'unknown domain')}; "
                         "membership is not verified yet)")
        if b.kind == "state" and node.init is not None:
            lines.append(f"initial value: `{_one_line(node.init.span.text)}`")
    if b.kind == "oracle":
        lines.append(ORACLE_DOCS.get(node.kind.name, ""))
        if node.every is not None:
            lines.append(f"supplied every `{node.every.span.text}` steps")
    if b.kind == "counter":
        lines.append("the step number, 1 on the first step (not static)")
    if b.kind == "dim":
        lines.append((b.note or "its size is not given by any param or input") + "; static inside the step")
    if b.symbol is not None and b.symbol.static and b.kind in ("local", "let"):
        lines.append("static: known before the run starts")
    return _md(_decl_text(b), *lines)


def _expr_hover(a: Analysis, offset: int) -> Optional[tuple[str, object]]:
    idx = a.index
    path = idx.path_at(offset)
    ctx = next((n for n in reversed(path) if isinstance(n, (ast.Method, ast.Def))), None)
    for node in reversed(path):
        if isinstance(node, ast.Binary) and node.op_span.start <= offset <= node.op_span.end:
            from ..builtins import OPERATORS
            entry = OPERATORS.get(node.op)
            ts = idx.types_of(node, ctx)
            text = f"`{node.op}`: {entry.summary}" if entry else ""
            if ts:
                text += f"\n\n`{_one_line(node.span.text, 60)}`: `{ts[0]}` — {describe_type(ts[0])}"
            return _md(_one_line(node.span.text, 80), text), node
        if isinstance(node, (ast.Binary, ast.Unary, ast.Compare, ast.Call, ast.Index, ast.Attr, ast.Num, ast.Bool)):
            ts = idx.types_of(node, ctx)
            if ts:
                body = "; ".join(f"`{t}` — {describe_type(t)}" for t in ts)
                return _md(_one_line(node.span.text, 80), body), node
    return None


def hover(a: Analysis, offset: int) -> Optional[types.Hover]:
    if a.module is None:
        return None
    idx = a.index
    occ = idx.occ_at(offset)
    value = None
    span_range = None
    if occ is not None:
        span_range = a.lines.range(occ.start, occ.end)
        if occ.binding is not None:
            value = _binding_hover(a, occ)
        elif occ.role == "builtin":
            e = REGISTRY[occ.name]
            text = [f"*builtin {e.kind}*: {e.summary}"]
            ts = idx.types_of(occ.node, occ.ctx)
            if ts:
                text.append(f"this call: `{ts[0]}` — {describe_type(ts[0])}")
            value = _md(builtin_signature(occ.name), *text)
        elif occ.role == "type":
            name = occ.name
            elem = STORAGE_NAMES.get(name)
            text = (f"element type `{elem}`" + (f", stored as {name}" if name != elem else "")) if elem \
                else "unknown type"
            value = _md(_one_line(occ.node.span.text), text)
        elif occ.role == "domain":
            value = _md(_one_line(occ.node.span.text),
                        f"*domain* `{occ.name}`: {DOMAIN_DOCS.get(occ.name, 'unknown domain')}",
                        f"takes {DOMAINS[occ.name]} argument(s); membership is not verified yet"
                        if occ.name in DOMAINS else "")
        elif occ.role == "oracle":
            value = _md(_one_line(occ.node.span.text), f"*oracle* `{occ.name}`: {ORACLE_DOCS.get(occ.name, 'unknown')}")
        elif occ.role == "fact":
            value = _md(_one_line(occ.node.span.text), f"*assumption* `{occ.name}`: "
                        f"{FACT_DOCS.get(occ.name, 'unknown')}; checked for form only")
        elif occ.role == "kwarg":
            value = _md(f"{occ.name}=", "static keyword: the axis (a literal integer, negative from the end)")
        elif occ.role == "module":
            use = occ.node
            path = resolve_use(a, use)
            value = _md(_one_line(use.span.text), f"`{path}`" if path else "module not found")
        elif occ.role == "attr" and occ.name == "T":
            ts = idx.types_of(occ.node, occ.ctx)
            value = _md(".T", "matrix transpose" + (f": `{ts[0]}`" if ts else ""))
    if value is None:
        found = _expr_hover(a, offset)
        if found is None:
            return None
        value, node = found
        span_range = a.range_of(node.span)
    return types.Hover(contents=types.MarkupContent(kind=types.MarkupKind.Markdown, value=value), range=span_range)


# ---------------------------------------------------------------- navigation

def resolve_use(a: Analysis, use: ast.Use):
    from pathlib import Path

    from ..check import _Loader
    here = Path(a.path) if a.path and Path(a.path).is_file() else None
    try:
        p = _Loader().resolve(use, here)
    except OSError:
        return None
    return p


def definition(a: Analysis, offset: int) -> Optional[list[types.Location]]:
    if a.module is None:
        return None
    occ = a.index.occ_at(offset)
    if occ is None:
        return None
    if occ.role == "module":
        p = resolve_use(a, occ.node)
        if p is None:
            return None
        zero = types.Range(types.Position(0, 0), types.Position(0, 0))
        return [types.Location(path_to_uri(str(p)), zero)]
    b = occ.binding
    if b is None:
        return None
    if b.implicit:
        st = b.node
        return [types.Location(a.uri, a.lines.range(st.span.start, st.span.start + 4))]
    if b.span is None:
        return None
    return [types.Location(uri_of(a, b.span), a.range_of(b.span))]


def references(a: Analysis, offset: int, include_declaration: bool) -> Optional[list[types.Location]]:
    if a.module is None:
        return None
    occ = a.index.occ_at(offset)
    if occ is None or occ.binding is None:
        return None
    out = []
    for o in a.index.references(occ.binding):
        if o.role == "decl" and not include_declaration:
            continue
        out.append(types.Location(a.uri, a.lines.range(o.start, o.end)))
    return out


def highlights(a: Analysis, offset: int) -> Optional[list[types.DocumentHighlight]]:
    if a.module is None:
        return None
    occ = a.index.occ_at(offset)
    if occ is None or occ.binding is None:
        return None
    return [types.DocumentHighlight(a.lines.range(o.start, o.end),
                                    types.DocumentHighlightKind.Write if o.role == "decl"
                                    else types.DocumentHighlightKind.Read)
            for o in a.index.references(occ.binding)]


class RenameError(Exception):
    pass


def _renamable(a: Analysis, offset: int) -> Occ:
    if a.module is None:
        raise RenameError("the file does not parse; fix the syntax error first")
    occ = a.index.occ_at(offset)
    if occ is None or occ.binding is None:
        raise RenameError("there is no name to rename here")
    b = occ.binding
    if b.kind not in RENAMABLE:
        raise RenameError(f"a {KIND_WORDS.get(b.kind, b.kind)} cannot be renamed here "
                          "(only hypers, params, states, inputs, oracles, dims and local names)")
    if b.implicit or b.span is None or not a.owns(b.span):
        raise RenameError(f"`{b.name}` is not declared in this file")
    return occ


def prepare_rename(a: Analysis, offset: int):
    occ = _renamable(a, offset)
    return types.PrepareRenamePlaceholder(range=a.lines.range(occ.start, occ.end), placeholder=occ.name)


def rename(a: Analysis, offset: int, new_name: str) -> types.WorkspaceEdit:
    occ = _renamable(a, offset)
    b = occ.binding
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", new_name):
        raise RenameError(f"`{new_name}` is not a name (a letter or `_`, then letters, digits and `_`)")
    why = reserved_reason(new_name)
    if why:
        raise RenameError(f"`{new_name}` cannot be a name: {why}")
    if lookup(new_name) is not None:
        raise RenameError(f"`{new_name}` is a builtin function; a name like it would hide it")
    idx = a.index
    for other in idx.bindings:
        if other is b or other.name != new_name:
            continue
        if other.kind in ("def", "alias") or other.method is not None and other.method is b.method \
                or other.owner is not None and other.owner is b.owner:
            lo, hi = max(b.region[0], other.region[0]), min(b.region[1], other.region[1])
            same_scope = other.kind in ("def", "alias") or lo < hi or b.kind in ("hyper", "param", "state", "input",
                                                                                 "oracle", "dim", "let")
            if same_scope:
                raise RenameError(f"`{new_name}` is already defined here ({KIND_WORDS.get(other.kind, other.kind)})")
    edits = [types.TextEdit(a.lines.range(o.start, o.end), new_name) for o in idx.references(b)]
    return types.WorkspaceEdit(changes={a.uri: edits})


# ---------------------------------------------------------------- document symbols

def _sym(a: Analysis, name: str, kind, node, sel, detail=None, children=None) -> types.DocumentSymbol:
    return types.DocumentSymbol(name=name, kind=kind, range=a.range_of(node.span), selection_range=a.range_of(sel),
                                detail=detail, children=children)


def document_symbols(a: Analysis) -> list[types.DocumentSymbol]:
    module = a.module
    if module is None:
        return []
    out = []
    K = types.SymbolKind
    for use in module.uses:
        name = use.file if use.file is not None else ".".join(i.name for i in use.path)
        out.append(_sym(a, name, K.Module, use, use.alias.span if use.alias else use.span, "use"))
    for d in module.defs:
        out.append(_sym(a, d.name.name, K.Function, d, d.name.span, def_signature(d)))
    kinds = {ast.Hyper: (K.Constant, "hyper"), ast.Param: (K.Field, "param"), ast.Input: (K.Field, "input"),
             ast.State: (K.Variable, "state"), ast.Oracle: (K.Event, "oracle"), ast.Let: (K.Variable, "let")}
    for m in module.methods:
        children = []
        for mb in m.members:
            if type(mb) in kinds:
                kind, word = kinds[type(mb)]
                detail = _one_line(mb.span.text[mb.name.span.end - mb.span.start:].lstrip(": "), 60)
                children.append(_sym(a, mb.name.name, kind, mb, mb.name.span, f"{word} {detail}".strip()))
            elif isinstance(mb, ast.Dims):
                for ident in mb.names:
                    children.append(_sym(a, ident.name, K.TypeParameter, mb, ident.span, "dims"))
            elif isinstance(mb, ast.Step):
                lets = []
                stack = list(mb.body)
                while stack:
                    s = stack.pop(0)
                    if isinstance(s, ast.Let):
                        lets.append(_sym(a, s.name.name, K.Variable, s, s.name.span, "let"))
                    for attr in ("body", "orelse"):
                        stack.extend(getattr(s, attr, ()) or ())
                name = f"step {mb.counter.name}" if mb.counter else "step"
                sel = mb.counter.span if mb.counter else type(mb.span)(mb.span.source, mb.span.start, mb.span.start + 4)
                children.append(_sym(a, name, K.Method, mb, sel, None, lets or None))
            elif isinstance(mb, ast.Until):
                sel = type(mb.span)(mb.span.source, mb.span.start, mb.span.start + 5)
                children.append(_sym(a, "until", K.Event, mb, sel, _one_line(mb.cond.span.text, 60)))
            elif isinstance(mb, ast.Output):
                for ident in mb.names:
                    children.append(_sym(a, ident.name, K.Property, mb, ident.span, "output"))
        out.append(_sym(a, m.name.name, K.Class, m, m.name.span, m.kind, children))
    return out


# ---------------------------------------------------------------- formatting

def _end_position(text: str, encoding: str) -> types.Position:
    t = text.replace("\r\n", "\n").replace("\r", "\n")
    line = t.count("\n")
    last = t[t.rfind("\n") + 1:]
    return types.Position(line=line, character=_units(last, encoding))


def formatting(a: Analysis) -> Optional[list[types.TextEdit]]:
    from ..fmt import format_source
    if a.source is None:
        return None
    formatted, _ = format_source(a.source.text, a.path)
    if formatted is None:
        return None
    if formatted == a.text:
        return []
    end = _end_position(a.text, a.lines.encoding)
    return [types.TextEdit(types.Range(types.Position(0, 0), end), formatted)]


# ---------------------------------------------------------------- semantic tokens

TOKEN_TYPES = ["namespace", "type", "typeParameter", "parameter", "variable", "property", "enumMember",
               "function", "method", "class", "keyword", "comment", "string", "number", "operator", "event"]
TOKEN_MODIFIERS = ["declaration", "readonly", "defaultLibrary", "static"]
_T = {name: i for i, name in enumerate(TOKEN_TYPES)}
_M = {name: 1 << i for i, name in enumerate(TOKEN_MODIFIERS)}
LEGEND = types.SemanticTokensLegend(token_types=TOKEN_TYPES, token_modifiers=TOKEN_MODIFIERS)

KEYWORDS = frozenset("""use as def return optimizer solver hyper param oracle state eval input dims let output step
until max every if elif else for in repeat assume converges by cite where and or not true false None
heuristic to linear sublinear rate on shared rule otherwise matrix""".split())

_TOKEN_KINDS = {2: "comment", 3: "nl", 4: "string", 5: "float", 6: "int", 7: "name", 8: "op", 9: "other"}
_BINDING_TOKENS = {
    "hyper": ("variable", ("readonly",)), "param": ("variable", ()), "state": ("variable", ()),
    "input": ("variable", ("readonly",)), "oracle": ("variable", ("readonly",)),
    "dim": ("typeParameter", ()), "let": ("variable", ("readonly",)), "local": ("variable", ("readonly",)),
    "loopvar": ("variable", ("readonly",)), "counter": ("variable", ("readonly",)),
    "defarg": ("parameter", ()), "deflocal": ("variable", ("readonly",)), "def": ("function", ()),
    "alias": ("namespace", ()), "method": ("class", ()),
}
_ROLE_TOKENS = {"builtin": ("function", ("defaultLibrary",)), "type": ("type", ()), "domain": ("enumMember", ()),
                "oracle": ("function", ("defaultLibrary",)), "fact": ("enumMember", ()),
                "kwarg": ("parameter", ()), "module": ("namespace", ()), "attr": ("property", ())}


def _classify(occ: Optional[Occ], word: str):
    if occ is not None:
        if occ.binding is not None:
            kind, mods = _BINDING_TOKENS.get(occ.binding.kind, ("variable", ()))
            if occ.role == "decl":
                mods = mods + ("declaration",)
            return kind, mods
        if occ.role in _ROLE_TOKENS:
            return _ROLE_TOKENS[occ.role]
        if occ.role == "unknown":
            return None
    if word in KEYWORDS:
        return "keyword", ()
    if word == "inf":
        return "number", ()
    if word in STORAGE_NAMES:
        return "type", ()
    return None


def semantic_tokens(a: Analysis) -> list[int]:
    from ..syntax.fastparse import _TOKEN          # the language's own token pattern

    if a.source is None:
        return []
    text = a.source.text
    occs = {}
    if a.module is not None:
        occs = {o.start: o for o in a.index.occs}
    lines: Lines = a.lines
    data: list[int] = []
    prev_line, prev_char = 0, 0

    def emit(start: int, end: int, kind: str, mods=()):
        nonlocal prev_line, prev_char
        # one token per line (a docstring spans several)
        while start < end:
            nl = text.find("\n", start, end)
            piece_end = end if nl < 0 else nl
            if piece_end > start:
                pos = lines.position(start)
                length = _units(text[start:piece_end], lines.encoding)
                d_line = pos.line - prev_line
                d_char = pos.character - prev_char if d_line == 0 else pos.character
                bits = 0
                for m in mods:
                    bits |= _M[m]
                data.extend((d_line, d_char, length, _T[kind], bits))
                prev_line, prev_char = pos.line, pos.character
            if nl < 0:
                break
            start = nl + 1

    for m in _TOKEN.finditer(text):
        kind = _TOKEN_KINDS.get(m.lastindex)       # group 1 is the leading blanks; then one group per kind
        if kind in ("nl", None):
            continue
        start, end = m.span(m.lastindex)
        if kind == "comment":
            emit(start, end, "comment")
        elif kind == "string":
            emit(start, end, "string")
        elif kind in ("float", "int"):
            emit(start, end, "number")
        elif kind == "name":
            found = _classify(occs.get(start), text[start:end])
            if found is not None:
                emit(start, end, found[0], found[1])
        elif kind == "op" and text[start:end] == "<-":
            emit(start, end, "operator")
    return data


# ---------------------------------------------------------------- code actions

def code_actions(a: Analysis, rng: types.Range) -> list[types.CodeAction]:
    if a.source is None:
        return []
    lo, hi = a.lines.offset(rng.start), a.lines.offset(rng.end)
    out = []
    for d in a.diagnostics:
        if d.fix is None or d.span is None or not a.owns(d.span):
            continue
        if d.span.end < lo or d.span.start > hi:
            continue
        if not all(a.owns(e.span) for e in d.fix.edits):
            continue
        edits = [types.TextEdit(a.lines.range(e.span.start, e.span.end), e.text) for e in d.fix.edits]
        out.append(types.CodeAction(title=d.fix.title, kind=types.CodeActionKind.QuickFix,
                                    diagnostics=[to_lsp_diagnostic(a, d)], is_preferred=True,
                                    edit=types.WorkspaceEdit(changes={a.uri: edits})))
    return out


# ---------------------------------------------------------------- inlay hints

def inlay_hints(a: Analysis, rng: Optional[types.Range]) -> list[types.InlayHint]:
    if a.module is None:
        return []
    lo, hi = (a.lines.offset(rng.start), a.lines.offset(rng.end)) if rng is not None else (0, len(a.text) + 1)
    idx = a.index
    out = []
    for b in idx.bindings:
        if b.kind not in ("local", "let", "deflocal") or b.span is None or not a.owns(b.span):
            continue
        if not lo <= b.span.end <= hi:
            continue
        ts = []
        if b.symbol is not None and b.symbol.type is not None:
            ts = [b.symbol.type]
        else:
            ts = idx.types_of(b.node.value, b.owner if b.kind == "deflocal" else b.method)
        if not ts:
            continue
        label = ": " + " | ".join(str(t) for t in ts)
        out.append(types.InlayHint(position=a.lines.position(b.span.end), label=label,
                                   kind=types.InlayHintKind.Type,
                                   tooltip=describe_type(ts[0]) if len(ts) == 1 else "typed at each call"))
    out.sort(key=lambda h: (h.position.line, h.position.character))
    return out

"""Completion and signature help.

What to offer depends on where the cursor is on its line (after `use`, after `in` in a
declaration, at the start of a member or of a statement, inside an expression); that is
read from the line being typed, which rarely parses yet. The names in scope, their types
and the defs come from an analysis of the file (see server.py for which one).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Optional

from lsprotocol import types

from ..builtins import REGISTRY
from ..check.names import DOMAINS, FACTS, ORACLE_KINDS
from ..types import STORAGE_NAMES
from .features import DOMAIN_DOCS, FACT_DOCS, ORACLE_DOCS, builtin_signature, def_signature
from .index import KIND_WORDS

K = types.CompletionItemKind

TOP_KEYWORDS = ["optimizer", "solver", "def", "use"]
MEMBERS = {
    "optimizer": ["hyper", "param", "oracle", "state", "dims", "step", "rule", "eval", "assume", "converges"],
    "solver": ["hyper", "input", "state", "dims", "step", "let", "until", "output", "assume", "converges"],
}
STATEMENTS = ["let", "every", "if", "elif", "else", "for", "repeat", "until"]
VALUE_WORDS = ["and", "or", "not", "true", "false", "inf"]
CONVERGES = ["heuristic", "to fixed_point", "linear", "sublinear", "rate"]
_BLOCK_WORDS = ("step", "every", "if", "elif", "else", "for", "repeat")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")


def _item(label, kind, detail=None, doc=None, sort="5", insert=None, label_detail=None) -> types.CompletionItem:
    return types.CompletionItem(
        label=label, kind=kind, detail=detail, sort_text=f"{sort}{label}",
        documentation=types.MarkupContent(types.MarkupKind.Markdown, doc) if doc else None,
        insert_text=insert,
        label_details=types.CompletionItemLabelDetails(detail=label_detail) if label_detail else None)


def _in_comment_or_string(before: str) -> bool:
    quotes = 0
    for ch in before:
        if ch == '"':
            quotes += 1
        elif ch == "#" and quotes % 2 == 0:
            return True
    return quotes % 2 == 1


def _header_above(lines: list[str], line_no: int, indent: int) -> Optional[str]:
    """The nearest code line above with less indentation: the block header the cursor is in."""
    for i in range(line_no - 1, -1, -1):
        text = lines[i]
        stripped = text.strip()
        if not stripped or stripped.startswith("#") or stripped.startswith('"'):
            continue
        if len(text) - len(text.lstrip(" ")) < indent:
            return stripped
    return None


def stdlib_modules() -> list[tuple[str, Path]]:
    from ..api import stdlib_dir
    try:
        root = stdlib_dir()
    except FileNotFoundError:
        return []
    out = []
    for p in sorted(root.rglob("*.iter")):
        out.append((".".join(p.relative_to(root).with_suffix("").parts), p))
    return out


def _module_items(doc_path: Optional[str], quoted: bool) -> list[types.CompletionItem]:
    items = []
    here = Path(doc_path).parent if doc_path and Path(doc_path).is_file() else None
    if quoted:
        if here is not None:
            for p in sorted(here.glob("*.iter")):
                if str(p) != str(Path(doc_path)):
                    items.append(_item(p.name, K.File, "file next to this one", sort="0"))
        return items
    seen = set()
    if here is not None:
        for p in sorted(here.glob("*.iter")):
            if p.stem.isidentifier() and str(p) != str(Path(doc_path)):
                seen.add(p.stem)
                items.append(_item(p.stem, K.Module, f"{p.name}, next to this file", sort="0"))
    for dotted, p in stdlib_modules():
        if dotted not in seen:
            seen.add(dotted)
            items.append(_item(dotted, K.Module, "standard library", f"`{p.name}`", sort="1"))
    return items


def _binding_item(b, sort: str) -> types.CompletionItem:
    t = None
    if b.symbol is not None and b.symbol.type is not None:
        t = str(b.symbol.type)
    kind = {"hyper": K.Constant, "param": K.Variable, "state": K.Variable, "input": K.Field, "oracle": K.Event,
            "dim": K.TypeParameter, "def": K.Function, "alias": K.Module}.get(b.kind, K.Variable)
    detail = KIND_WORDS.get(b.kind, b.kind) + (f": {t}" if t else "")
    if b.kind == "def":
        detail = def_signature(b.node)
        doc = (b.node.doc or "").strip() or None
        return _item(b.name, kind, detail, doc, sort=sort,
                     label_detail="(" + ", ".join(p.name for p in b.node.params) + ")")
    return _item(b.name, kind, detail, sort=sort)


def _builtin_items() -> list[types.CompletionItem]:
    out = []
    for name, e in REGISTRY.items():
        if not e.callable:
            continue
        sig = builtin_signature(name)
        out.append(_item(name, K.Function, sig, f"{e.summary} ({e.kind})", sort="3",
                         label_detail=sig[len(name):]))
    return out


def completion(text: str, line_no: int, col_units: int, doc_path: Optional[str], scope) -> types.CompletionList:
    """`text`: the document now; `scope`: (Analysis, offset in it) whose names are in scope
    at the cursor, or None."""
    lines = text.replace("\r\n", "\n").split("\n")
    line = lines[line_no] if line_no < len(lines) else ""
    before = line[:col_units] if line.isascii() else _prefix(line, col_units)
    items: list[types.CompletionItem] = []
    if _in_comment_or_string(before) and not re.match(r'^\s*use\s+"[^"]*$', before):
        return types.CompletionList(is_incomplete=False, items=[])
    indent = len(line) - len(line.lstrip(" "))

    m = re.match(r'^\s*use\s+("?)[\w./]*$', before)
    if m:
        return types.CompletionList(is_incomplete=False, items=_module_items(doc_path, bool(m.group(1))))
    if re.match(r"^\s*(param|state|input)\s+\w+\s*:\s*[^=]*\bin\s+\w*$", before):
        items = [_item(n, K.EnumMember, f"domain, {DOMAINS[n]} argument(s)", DOMAIN_DOCS.get(n), sort="0")
                 for n in DOMAINS]
        return types.CompletionList(is_incomplete=False, items=items)
    if re.match(r"^\s*(hyper|param|state|input)\s+\w+\s*:\s*\w*$", before):
        items = [_item(n, K.TypeParameter, "element type" if n == STORAGE_NAMES[n] else "storage type (real)",
                       sort="0" if n == "real" else "1") for n in STORAGE_NAMES]
        return types.CompletionList(is_incomplete=False, items=items)
    if re.match(r"^\s*oracle\s+\w+\s*=\s*\w*$", before):
        param = _param_name(scope)
        items = [_item(n, K.Function, f"{n}({param or 'x'}{', u' if n == 'hvp' else ''})", ORACLE_DOCS[n],
                       sort="0", insert=f"{n}({param}{', u' if n == 'hvp' else ''})" if param else None)
                 for n in ORACLE_KINDS]
        return types.CompletionList(is_incomplete=False, items=items)
    if re.match(r"^\s*assume\s+\w+\s*:[^(]*$", before) and re.search(r"[:,]\s*\w*$", before):
        items = [_item(n, K.EnumMember, "assumption" + (f", {FACTS[n]} argument" if FACTS[n] else ""),
                       FACT_DOCS.get(n), sort="0") for n in FACTS]
        return types.CompletionList(is_incomplete=False, items=items)
    if re.match(r"^\s*converges\s+\w*$", before):
        items = [_item(w, K.Keyword, "convergence claim", sort="0") for w in CONVERGES]
        return types.CompletionList(is_incomplete=False, items=items)
    alias = re.search(r"([A-Za-z_]\w*)\.(\w*)$", before)
    if alias:
        idx = scope[0].index if scope is not None and scope[0].module is not None else None
        if idx is not None and alias.group(1) in idx.aliases:
            _, defs = idx.aliases[alias.group(1)]
            items = [_item(n, K.Function, def_signature(d), (d.doc or "").strip() or None, sort="0")
                     for n, d in sorted(defs.items())]
        else:
            items = [_item("T", K.Property, "matrix transpose", sort="0")]
        return types.CompletionList(is_incomplete=False, items=items)

    only_word = re.fullmatch(r"\s*[A-Za-z_]*", before) is not None
    if only_word:
        if indent == 0:
            return types.CompletionList(is_incomplete=False,
                                        items=[_item(w, K.Keyword, "top-level item", sort="0") for w in TOP_KEYWORDS])
        header = _header_above(lines, line_no, indent) or ""
        word = header.split()[0].rstrip(":") if header else ""
        if word in ("optimizer", "solver"):
            items = [_item(w, K.Keyword, f"{word} member", sort="0") for w in MEMBERS[word]]
            return types.CompletionList(is_incomplete=False, items=items)
        if word in _BLOCK_WORDS:
            items = [_item(w, K.Keyword, "statement", sort="4") for w in STATEMENTS]
            for b in _visible(scope, indent).values():
                if b.kind in ("state", "param"):
                    items.append(_binding_item(b, "0"))
            return types.CompletionList(is_incomplete=False, items=items)
        if word == "def":
            return types.CompletionList(is_incomplete=False,
                                        items=[_item(w, K.Keyword, "def body", sort="0") for w in ("let", "return")])

    # an expression
    visible = _visible(scope, indent)
    hyper_line = re.match(r"^\s*hyper\s", before) is not None
    for b in visible.values():
        if hyper_line and b.kind != "hyper":
            continue
        if b.kind == "method":
            continue
        sort = "0" if b.kind in ("local", "loopvar", "counter", "defarg", "deflocal") else \
            "2" if b.kind in ("def", "alias") else "1"
        items.append(_binding_item(b, sort))
    if not hyper_line:
        items.extend(_builtin_items())
    items.extend(_item(w, K.Keyword, "keyword", sort="4") for w in VALUE_WORDS)
    if hyper_line and not re.search(r"\bwhere\b", before):
        items.append(_item("where", K.Keyword, "conditions on the hyper", sort="0"))
    return types.CompletionList(is_incomplete=False, items=items)


def _prefix(line: str, units: int) -> str:
    count = 0
    for i, ch in enumerate(line):
        if count >= units:
            return line[:i]
        count += 2 if ord(ch) > 0xFFFF else 1
    return line


def _visible(scope, indent: int) -> dict:
    if scope is None or scope[0].module is None:
        return {}
    a, offset = scope
    return a.index.visible(offset, indent)


def _param_name(scope) -> Optional[str]:
    if scope is None or scope[0].module is None:
        return None
    a, offset = scope
    for b in a.index.visible(offset).values():
        if b.kind == "param":
            return b.name
    return None


# ---------------------------------------------------------------- signature help

def _code(line: str) -> str:
    """A line without its comment (a `#` outside a string)."""
    quotes = 0
    for i, ch in enumerate(line):
        if ch == '"':
            quotes += 1
        elif ch == "#" and quotes % 2 == 0:
            return line[:i]
    return line


def _open_call(text: str, offset: int) -> Optional[tuple[str, int, str]]:
    """(callee, index of the active argument, text of the active argument so far) of the
    innermost call still open at `offset`, looking back over at most 20 lines of code."""
    line_start = text.rfind("\n", 0, offset) + 1
    lines = [_code(text[line_start:offset])]
    at = line_start
    while at > 0 and len(lines) < 20:
        prev = text.rfind("\n", 0, at - 1) + 1
        lines.append(_code(text[prev:at - 1]))
        at = prev
    code = "\n".join(reversed(lines))
    depth, commas, last_comma = 0, 0, len(code)
    for i in range(len(code) - 1, -1, -1):
        ch = code[i]
        if ch in ")]":
            depth += 1
        elif ch in "([":
            if depth == 0:
                if ch == "[":
                    return None
                m = re.search(r"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*)?)\s*$", code[:i])
                if not m:
                    return None
                return m.group(1), commas, code[last_comma:].lstrip(", ")
            depth -= 1
        elif ch == "," and depth == 0:
            if commas == 0:
                last_comma = i + 1
            commas += 1
    return None


def signature_help(text: str, offset: int, scope) -> Optional[types.SignatureHelp]:
    found = _open_call(text, offset)
    if found is None:
        return None
    callee, active, current = found
    idx = scope[0].index if scope is not None and scope[0].module is not None else None
    params: list[str]
    doc = None
    if "." in callee:
        alias, name = callee.split(".", 1)
        if idx is None or alias not in idx.aliases or name not in idx.aliases[alias][1]:
            return None
        d = idx.aliases[alias][1][name]
        params, label, doc = [p.name for p in d.params], def_signature(d)[4:], d.doc
        label = f"{callee}({', '.join(params)})"
    elif callee in REGISTRY and REGISTRY[callee].callable:
        e = REGISTRY[callee]
        params = list(e.params) + [f"{k}=" for k in e.keywords]
        label, doc = builtin_signature(callee), f"{e.summary} ({e.kind})"
        if current.strip().startswith(tuple(e.keywords)) and e.keywords:
            active = len(e.params)
    elif idx is not None and callee in idx.top.names and idx.top.names[callee].kind == "def":
        d = idx.top.names[callee].node
        params, label, doc = [p.name for p in d.params], def_signature(d)[4:], d.doc
    else:
        return None
    spans, at = [], label.index("(") + 1
    for p in params:
        spans.append(types.ParameterInformation(label=(at, at + len(p))))
        at += len(p) + 2
    sig = types.SignatureInformation(
        label=label, parameters=spans,
        documentation=types.MarkupContent(types.MarkupKind.Markdown, doc.strip()) if doc else None,
        active_parameter=min(active, max(0, len(params) - 1)))
    return types.SignatureHelp(signatures=[sig], active_signature=0,
                               active_parameter=min(active, max(0, len(params) - 1)))

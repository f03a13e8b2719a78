"""AST -> a flat list of output lines ("units"), each remembering where it came from.

A unit is one logical line of canonical output: a member, a statement, a block header
(`step t:`, `if c:`, `else:`), a docstring. It keeps the source lines it covers and the
column it started at, which is what `layout.py` needs to put comments and blank lines
back. Blocks are walked with an explicit stack, so deep nesting cannot overflow Python's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional

from ..syntax import ast
from ..syntax.source import Source
from .exprs import arg, expr, number, quote

INDENT = "    "
_DEF_SEPARATOR = re.compile(r"\)(?:[ \t\f]|\\\r?\n)*([=:])")


@dataclass
class Unit:
    level: int
    text: str                    # first line unindented; further lines (docstrings) carry their own indent
    first: int                   # 1-based source line of its first token
    last: int                    # source line of its last token
    col: int                     # 0-based source column of its first token
    opener: bool = False         # ends with `:` and opens a block
    top: Optional[str] = None    # for top-level units: "use", "def_short", "def", "method"
    comment: bool = False
    above: list = field(default_factory=list)      # comment units printed just above this one
    trailing: Optional[str] = None                 # comment text printed after it on its line


class _Locator:
    """Source positions the AST does not store: line numbers, tight statement ends
    (a statement's span runs on over its newline and any comments after it), keywords."""

    def __init__(self, source: Source, comments: tuple):
        self.source = source
        self.text = source.text
        self.comment_at_end = {c.span.end: c.span.start for c in comments}

    def line(self, offset: int) -> int:
        return self.source.line_col(offset)[0]

    def col(self, offset: int) -> int:
        return self.source.line_col(offset)[1] - 1

    def tight_end(self, end: int, floor: int = 0) -> int:
        """Step back from `end` over whitespace, comments and line continuations."""
        text = self.text
        end = min(end, len(text))
        while end > floor:
            ch = text[end - 1]
            if ch in " \t\f\r\n":
                end -= 1
            elif end in self.comment_at_end:
                end = self.comment_at_end[end]
            elif ch == "\\":
                end -= 1
            else:
                break
        return max(end, floor)

    def last_line(self, start: int, end: int) -> int:
        return self.line(max(start, self.tight_end(end, start) - 1))

    def keyword_before(self, word: str, lo: int, hi: int) -> int:
        """Offset of the last `word` that starts a line in text[lo:hi], else of the last
        `word` at all, else `hi`."""
        region = self.text[lo:hi]
        found = None
        for m in re.finditer(rf"(?m)^[ \t]*({word})\b", region):
            found = m.start(1)
        if found is None:
            for m in re.finditer(rf"\b{word}\b", region):
                found = m.start()
        return lo + found if found is not None else hi

    def docstring(self, lo: int, hi: int) -> tuple[int, int]:
        """(start, end) of the first string literal in text[lo:hi] outside comments."""
        text = self.text
        i = lo
        while i < hi:
            ch = text[i]
            if ch == "#":
                j = text.find("\n", i)
                i = hi if j < 0 else j + 1
                continue
            if ch == '"':
                if text.startswith('"""', i):
                    j = text.find('"""', i + 3)
                    return i, (j + 3 if j >= 0 else hi)
                j = text.find('"', i + 1)
                return i, (j + 1 if j >= 0 else hi)
            i += 1
        return lo, lo


def docstring_text(doc: str, level: int) -> str:
    """A docstring whose cleaned value (see syntax/common.py `clean_doc`) is `doc`."""
    lines = doc.split("\n")
    indent = INDENT * level
    first = lines[0]
    if first.startswith('"'):
        first = " " + first
    body = [first] + [(indent + line) if line else "" for line in lines[1:]]
    if body[-1].endswith('"'):
        body[-1] += " "
    return '"""' + "\n".join(body) + '"""'


def type_text(t: ast.TypeExpr) -> str:
    if t.dims is None:
        return t.elem.name
    if t.dims == "...":
        return t.elem.name + "[...]"
    return t.elem.name + "[" + ", ".join(number(d) if isinstance(d, ast.Num) else d.name for d in t.dims) + "]"


def domain_text(d: Optional[ast.Domain]) -> str:
    if d is None:
        return ""
    args = "(" + ", ".join(arg(a) for a in d.args) + ")" if d.args else ""
    return f" in {d.name.name}{args}"


def _names(idents) -> str:
    return ", ".join(i.name for i in idents)


def member_text(m) -> str:
    """One line for a member or a simple statement (not a block)."""
    kind = type(m)
    if kind is ast.Hyper:
        out = f"hyper {m.name.name}: {type_text(m.type)}"
        if m.interval is not None:
            iv = m.interval
            out += f" in {'[' if iv.lo_closed else '('}{expr(iv.lo)}, {expr(iv.hi)}{']' if iv.hi_closed else ')'}"
        if m.default is not None:
            out += f" = {expr(m.default)}"
        if m.where:
            out += " where " + ", ".join(expr(w) for w in m.where)
        return out
    if kind is ast.Param:
        return f"param {m.name.name}: {type_text(m.type)}{domain_text(m.domain)}"
    if kind is ast.Input:
        return f"input {m.name.name}: {type_text(m.type)}{domain_text(m.domain)}"
    if kind is ast.State:
        out = f"{'shared ' if m.shared else ''}state {m.name.name}: {type_text(m.type)}{domain_text(m.domain)}"
        return out + (f" = {expr(m.init)}" if m.init is not None else "")
    if kind is ast.Oracle:
        out = f"oracle {m.name.name} = {m.kind.name}(" + ", ".join(arg(a) for a in m.args) + ")"
        return out + (f" every {expr(m.every)}" if m.every is not None else "")
    if kind is ast.Eval:
        return f"eval {m.name.name} = {expr(m.value)}"
    if kind is ast.FnOracle:
        params = type_text(m.params[0]) if len(m.params) == 1 else \
            "(" + ", ".join(type_text(p) for p in m.params) + ")"
        return f"oracle {m.name.name}: {params} -> {type_text(m.result)}"
    if kind is ast.Dims:
        return "dims " + _names(m.names)
    if kind is ast.Output:
        return "output " + _names(m.names)
    if kind is ast.Until:
        return f"until {expr(m.cond)}" + (f" max {expr(m.max_iter)}" if m.max_iter is not None else "")
    if kind is ast.Assume:
        facts = []
        for f in m.facts:
            facts.append(f.name.name + ("(" + ", ".join(arg(a) for a in f.args) + ")" if f.args else ""))
        return f"assume {m.subject.name}: " + ", ".join(facts)
    if kind is ast.Converges:
        if m.kind == "to":
            claim = f"to {m.target.name}"
        elif m.kind == "rate":
            claim = f"rate {expr(m.rate)}" + (f" on {expr(m.on)}" if m.on is not None else "")
        else:
            claim = m.kind
        return f"converges {claim}" + (f" by cite {quote(m.cite)}" if m.cite is not None else "")
    if kind is ast.Let:
        return f"let {m.name.name} = {expr(m.value)}"
    if kind is ast.LetTuple:
        return f"let {', '.join(n.name for n in m.names)} = {expr(m.value)}"
    if kind is ast.VarDecl:
        return f"var {m.name.name} = {expr(m.value)}"
    if kind is ast.Assign:
        return f"{m.target.name} <- {expr(m.value)}"
    raise TypeError(f"not a simple member: {kind.__name__}")


def rule_pattern_text(r: ast.Rule) -> str:
    if r.var is None:
        return "otherwise"
    return f"for {r.var.name}: {type_text(r.type)}" + (" as matrix" if r.matrix else "")


def _for_header(s: ast.For) -> str:
    lo, hi = expr(s.lo), expr(s.hi)
    sep = " .. " if hi.startswith(".") else ".."
    return f"for {s.var.name} in {lo}{sep}{hi}:"


class UnitBuilder:
    def __init__(self, module: ast.Module):
        self.module = module
        self.loc = _Locator(module.span.source, module.comments)
        self.units: list[Unit] = []

    def build(self) -> list[Unit]:
        items = sorted(self.module.uses + self.module.defs + self.module.methods, key=lambda n: n.span.start)
        for item in items:
            if isinstance(item, ast.Use):
                self._use(item)
            elif isinstance(item, ast.Def):
                self._def(item)
            else:
                self._method(item)
        return self.units

    # ------------------------------------------------------------ helpers
    def _emit(self, level: int, text: str, start: int, end: int, *, opener=False, top=None,
              first_at: Optional[int] = None) -> Unit:
        loc = self.loc
        at = start if first_at is None else first_at
        unit = Unit(level, text, loc.line(at), loc.last_line(at, end), loc.col(at), opener, top)
        self.units.append(unit)
        return unit

    def _doc(self, doc: Optional[str], level: int, lo: int, hi: int) -> None:
        if doc is None:
            return
        start, end = self.loc.docstring(lo, hi)
        self._emit(level, docstring_text(doc, level), start, end)

    # ------------------------------------------------------------ top level
    def _use(self, u: ast.Use) -> None:
        target = ".".join(i.name for i in u.path) if u.file is None else quote(u.file)
        alias = f" as {u.alias.name}" if u.alias is not None else ""
        self._emit(0, f"use {target}{alias}", u.span.start, u.span.end, top="use")

    def _def(self, d: ast.Def) -> None:
        head = f"def {d.name.name}({_names(d.params)})"
        after = _DEF_SEPARATOR.search(self.loc.text, d.name.span.end)
        if after is not None and after.group(1) == "=":
            self._emit(0, f"{head} = {expr(d.result)}", d.span.start, d.span.end, top="def_short")
            return
        ret_at = self.loc.keyword_before("return", d.name.span.end, d.result.span.start)
        body_start = min(d.lets[0].span.start, ret_at) if d.lets else ret_at
        header_end = self.loc.tight_end(body_start, d.span.start)
        if d.doc is not None:
            doc_start, _ = self.loc.docstring(d.name.span.end, body_start)
            header_end = self.loc.tight_end(doc_start, d.span.start)
        self._emit(0, head + ":", d.span.start, header_end, opener=True, top="def")
        self._doc(d.doc, 1, d.name.span.end, body_start)
        for let in d.lets:
            self._emit(1, member_text(let), let.span.start, let.span.end)
        self._emit(1, f"return {expr(d.result)}", ret_at, d.span.end)

    def _method(self, m: ast.Method) -> None:
        first = m.members[0].span.start if m.members else m.span.end
        header_end = self.loc.tight_end(first, m.span.start)
        doc_start = first
        if m.doc is not None:
            doc_start, _ = self.loc.docstring(m.name.span.end, first)
            header_end = self.loc.tight_end(doc_start, m.span.start)
        self._emit(0, f"{m.kind} {m.name.name}:", m.span.start, header_end, opener=True, top="method")
        self._doc(m.doc, 1, m.name.span.end, first)
        self._members(m.members, 1)

    def _members(self, members, level: int) -> None:
        for member in members:
            if isinstance(member, ast.Step):
                head = "step" + (f" {member.counter.name}" if member.counter is not None else "") + ":"
                self._block_header(level, head, member.span.start, member.body)
                self._statements(member.body, level + 1)
            elif isinstance(member, ast.Rule):
                head = "rule " + rule_pattern_text(member)
                if member.delegate is not None:
                    self._emit(level, f"{head} = {expr(member.delegate)}", member.span.start, member.span.end)
                    continue
                self._block_header(level, head + ":", member.span.start, member.members)
                self._members(member.members, level + 1)
            else:
                self._emit(level, member_text(member), member.span.start, member.span.end)

    def _block_header(self, level: int, text: str, start: int, body, first_at=None) -> None:
        end = self.loc.tight_end(body[0].span.start, start) if body else start
        self._emit(level, text, start, end, opener=True, first_at=first_at)

    # ------------------------------------------------------------ statements
    def _statements(self, body, level: int) -> None:
        """Emit a block. Work items are (kind, payload, level), popped in order."""
        work = [("stmt", s, level) for s in reversed(body)]
        while work:
            kind, s, lv = work.pop()
            if kind == "until":                  # the closing line of a `repeat`
                start = self.loc.keyword_before("until", s.body[-1].span.start, s.until.span.start)
                self._emit(lv, f"until {expr(s.until)} max {expr(s.max_iter)}", start, s.span.end)
                continue
            if kind == "else":
                start = self.loc.keyword_before("else", s.body[-1].span.start, s.orelse[0].span.start)
                self._block_header(lv, "else:", start, s.orelse)
                work.extend(("stmt", x, lv + 1) for x in reversed(s.orelse))
                continue
            t = type(s)
            if t in (ast.Assign, ast.Let, ast.LetTuple, ast.VarDecl):
                self._emit(lv, member_text(s), s.span.start, s.span.end)
                continue
            later = []
            if t is ast.If:
                word = "elif" if kind == "elif" else "if"
                self._block_header(lv, f"{word} {expr(s.cond)}:", s.span.start, s.body)
                if len(s.orelse) == 1 and type(s.orelse[0]) is ast.If:
                    later.append(("elif", s.orelse[0], lv))
                elif s.orelse:
                    later.append(("else", s, lv))
            elif t is ast.Every:
                self._block_header(lv, f"every {expr(s.period)}:", s.span.start, s.body)
            elif t is ast.For:
                self._block_header(lv, _for_header(s), s.span.start, s.body)
            elif t is ast.Repeat:
                self._block_header(lv, "repeat:", s.span.start, s.body)
                later.append(("until", s, lv))
            else:
                raise TypeError(f"not a statement: {t.__name__}")
            work.extend(reversed(later))
            work.extend(("stmt", x, lv + 1) for x in reversed(s.body))

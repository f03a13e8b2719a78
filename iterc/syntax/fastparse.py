"""A hand-written parser for valid programs: the fast path of `parse_source`.

grammar/iter.lark stays the specification and the error reporter. This parser accepts the
same language and builds the same AST (spans included) as the lark path; on anything it
does not accept it gives up (`Bail`) and the caller re-parses with lark, so every syntax
diagnostic still comes from one place. tests/test_fastparse.py checks that the two agree
on every corpus program and on randomly mutated ones.
"""
from __future__ import annotations

import re
from typing import Optional

from . import ast
from .common import MAX_EXPR_DEPTH, clean_doc   # MAX_EXPR_DEPTH: the height limit the lark path enforces (E0007)
from .source import Source, Span

# The depth counter below is at most twice the height of the AST it builds (a call's
# argument counts twice, every other level once). Past MAX_DEPTH the lark path decides
# (it reports E0007 above a height of 200); past PROVEN_TOO_DEEP the height is surely over
# 200, and the fast path reports E0007 itself instead of having lark parse a huge input.
MAX_DEPTH = 150
PROVEN_TOO_DEEP = 400
MAX_BRACKETS = 64

# One findall step per token: the leading blanks, then the token in the group of its kind
# (the other groups are empty); every group empty is the end of the text. `other` catches
# any character nothing else does, so the matches tile the whole text and positions are
# running sums of lengths.
_TOKEN = re.compile(r"""([ \t\f]*)(?:
    (\#[^\n]*)                                                              # comment
  | (\n[ \t\f]*)                                                            # nl
  | (\"\"\"[\s\S]*?\"\"\"|"[^"\n]*")                                        # string
  | (\d+\.\d+(?:[eE][+-]?\d+)?|\d+[eE][+-]?\d+|\.\d+(?:[eE][+-]?\d+)?)      # float
  | (\d+)                                                                   # int
  | ([A-Za-z_][A-Za-z0-9_]*)                                                # name
  | (\.\.\.|\.\.|<-|->|<=|>=|==|!=|[-+*/@%^<>=()\[\],:.])                   # op
  | ([\s\S])                                                                # other
  | $
)""", re.VERBOSE)

_CMP = frozenset(("<=", ">=", "==", "!=", "<", ">"))
_PREC = {"or": 1, "and": 2, "<=": 4, ">=": 4, "==": 4, "!=": 4, "<": 4, ">": 4,
         "+": 5, "-": 5, "*": 6, "/": 6, "@": 6, "%": 6}
_MEMBERS = frozenset(("hyper", "param", "oracle", "state", "shared", "input", "dims", "let", "output", "step", "until",
                      "assume", "converges", "eval", "rule"))


class Bail(Exception):
    """The fast path does not accept this input; use the lark path."""


class TooDeep(Exception):
    def __init__(self, start: int, end: int):
        self.start, self.end = start, end


class _Tok:
    __slots__ = ("kind", "value", "start", "end")

    def __init__(self, kind, value, start, end):
        self.kind, self.value, self.start, self.end = kind, value, start, end


def _tokenize(text: str, source: Source, comments: list) -> list[_Tok]:
    """Tokens with layout: one pass over regex matches; a newline is held back until the
    next real token shows the indentation of its line."""
    toks: list[_Tok] = []
    append = toks.append
    levels = [0]
    depth = 0
    pending = -1                      # start of a held-back newline, or -1
    indent = ""
    pos = 0
    for blanks, comment, nl, string, float_, int_, name, op, other in _TOKEN.findall(text):
        start = pos + len(blanks)
        if name:                      # the kinds, most frequent first
            kind, value = "name", name
        elif op:
            kind, value = "op", op
            if op == "(" or op == "[":
                depth += 1
                if depth > MAX_BRACKETS:
                    raise Bail
            elif op == ")" or op == "]":
                depth = max(0, depth - 1)
        elif nl:
            pos = start + len(nl)
            if depth == 0:
                if pending < 0:
                    pending = start
                indent = nl[1:]
            continue
        elif int_:
            kind, value = "int", int_
        elif float_:
            kind, value = "float", float_
        elif comment:
            pos = start + len(comment)
            comments.append(ast.Comment(comment[1:], Span(source, start, pos)))
            continue
        elif string:
            kind, value = "string", string
        elif other:
            raise Bail                # a stray character, or a line continuation: the lark path decides
        else:
            break                     # the end of the text
        pos = stop = start + len(value)
        if pending >= 0:
            if toks:                  # layout tokens sit where the last line's code ends
                pending = toks[-1].end
            if not toks or toks[-1].kind != "nl":
                append(_Tok("nl", None, pending, pending))
            if "\t" in indent:
                raise Bail
            width = len(indent)
            if width > levels[-1]:
                levels.append(width)
                append(_Tok("indent", None, pending, pending))
            else:
                while width < levels[-1]:
                    levels.pop()
                    append(_Tok("dedent", None, pending, pending))
                if width != levels[-1]:
                    raise Bail
            pending = -1
        elif not toks and start != 0 and text[start - 1] != "\n":
            raise Bail                # the first line is indented
        append(_Tok(kind, value, start, stop))
    n = len(text)
    if toks and toks[-1].kind != "nl":
        at = toks[-1].end
        append(_Tok("nl", None, at, at))
    end = toks[-1].start if toks else 0
    while len(levels) > 1:
        levels.pop()
        append(_Tok("dedent", None, end, end))
    append(_Tok("eof", None, n, n))
    return toks


class _Parser:
    def __init__(self, source: Source, toks: list[_Tok]):
        self.src = source
        self.toks = toks
        self.i = 0
        self.depth = 0
        self.deep = False                  # went past MAX_DEPTH: the lark path must decide
        self.line_start = 0                # where the current line's code starts, for E0007
        self.item_start = 0                # where the top-level item being parsed starts

    def too_deep(self) -> None:
        self.deep = True
        if self.depth > PROVEN_TOO_DEEP:
            raise TooDeep(self.line_start, self.toks[self.i].end)

    # ------------------------------------------------------------ token helpers

    def peek(self, k: int = 0) -> _Tok:
        return self.toks[self.i + k]

    def at(self, value: str) -> bool:
        t = self.toks[self.i]
        return t.value == value and t.kind in ("op", "name")

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, value: str) -> _Tok:
        t = self.toks[self.i]
        if t.value != value or t.kind not in ("op", "name"):
            raise Bail
        self.i += 1
        return t

    def expect_kind(self, kind: str) -> _Tok:
        t = self.toks[self.i]
        if t.kind != kind:
            raise Bail
        self.i += 1
        return t

    def span(self, start: int, end: int) -> Span:
        return Span(self.src, start, end)

    def ident(self) -> ast.Ident:
        t = self.expect_kind("name")
        return ast.Ident(t.value, self.span(t.start, t.end))

    def prev_end(self) -> int:
        return self.toks[self.i - 1].end

    # ------------------------------------------------------------ expressions
    # Each returns (node, extent_start, extent_end); the extent includes parentheses,
    # as lark's rule positions do.

    def expr(self):
        # No try/finally around the depth counters here and below: a Bail or TooDeep ends
        # the whole parse, so the counter only has to be right on normal returns.
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.too_deep()
        result = self.binary(1)
        self.depth -= 1
        return result

    def _deeper(self) -> None:
        """Each operator of a left-assoc chain nests the tree one level deeper."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.too_deep()

    def binary(self, min_prec: int):
        """Precedence climbing over or < and < not < comparisons < + - < * / @ % (all left-assoc;
        comparisons chain into one Compare, as in the grammar)."""
        t = self.toks[self.i]
        if t.kind == "name" and t.value == "not" and min_prec <= 3:
            self.i += 1
            self._deeper()
            operand, _, e = self.binary(3)
            self.depth -= 1
            return self._climb(ast.Unary("not", operand, Span(self.src, t.start, e)), t.start, e, min_prec)
        left, s, e = self.unary()
        return self._climb(left, s, e, min_prec)

    def _climb(self, left, s: int, e: int, min_prec: int):
        """The operators after `left` that bind at least as tightly as `min_prec`."""
        toks = self.toks
        base = self.depth
        while True:
            op = toks[self.i]                          # the binary operator here, if any
            kind = op.kind
            if kind == "op":
                prec = _PREC.get(op.value, 0)
            elif kind == "name" and (op.value == "and" or op.value == "or"):
                prec = _PREC[op.value]
            else:
                prec = 0
            if prec < min_prec:                        # also "not an operator" (prec 0)
                self.depth = base
                return left, s, e
            if prec == 4:                              # a comparison chain
                ops, operands = [], [left]
                while True:
                    op = toks[self.i]
                    if op.kind != "op" or op.value not in _CMP:
                        break
                    self._deeper()
                    self.i += 1
                    ops.append(op.value)
                    right, _, e = self.binary(5)
                    operands.append(right)
                left = ast.Compare(tuple(ops), tuple(operands), Span(self.src, s, e))
                continue
            self._deeper()
            self.i += 1
            # the right operand is `self.binary(prec + 1)`, written out for the usual case of a
            # single term followed by an operator that binds no tighter (`b` in `a * b + c`)
            t = toks[self.i]
            if t.kind == "name" and t.value == "not" and prec < 3:
                right, _, e = self.binary(prec + 1)
            else:
                right, rs, e = self.unary()
                nxt = toks[self.i]
                if nxt.kind == "op":
                    if _PREC.get(nxt.value, 0) > prec:
                        right, _, e = self._climb(right, rs, e, prec + 1)
                elif nxt.kind == "name" and (nxt.value == "and" or nxt.value == "or") and _PREC[nxt.value] > prec:
                    right, _, e = self._climb(right, rs, e, prec + 1)
            # left.span.to(right.span), which is left's start to right's end
            left = ast.Binary(op.value, left, right, Span(self.src, op.start, op.end),
                              Span(self.src, left.span.start, right.span.end))

    def unary(self):
        """A prefix `-`/`+`, or an atom with its postfix operations and a `^` power (inlined:
        this is the parser's innermost loop)."""
        toks = self.toks
        t = toks[self.i]
        kind = t.kind
        if kind == "op" and (t.value == "-" or t.value == "+"):
            self.i += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                self.too_deep()
            operand, _, e = self.unary()
            self.depth -= 1
            return ast.Unary(t.value, operand, Span(self.src, t.start, e)), t.start, e
        # the atom
        self.i += 1
        s, e = t.start, t.end
        if kind == "name":
            value = t.value
            if value == "true" or value == "false":
                node = ast.Bool(value == "true", Span(self.src, s, e))
            elif value == "inf":
                node = ast.Num(float("inf"), False, Span(self.src, s, e))
            elif value == "not" or value == "None":
                raise Bail
            else:
                node = ast.Name(value, Span(self.src, s, e))
        elif kind == "int":
            node = ast.Num(int(t.value), True, Span(self.src, s, e))
        elif kind == "float":
            node = ast.Num(float(t.value), False, Span(self.src, s, e))
        elif kind == "string":
            raw = t.value
            node = ast.Str(raw[3:-3] if raw.startswith('"""') else raw[1:-1], Span(self.src, s, e))
        elif kind == "op" and t.value == "(":
            node, _, _ = self.expr()
            e = self.expect(")").end                  # the extent includes the parentheses
        else:
            raise Bail
        nxt = toks[self.i]
        if nxt.kind != "op":
            return node, s, e
        value = nxt.value
        if value == "(" or value == "[" or value == ".":
            base = self.depth
            node, s, e = self._postfix_ops(node, s, e)
            self.depth = base
            nxt = toks[self.i]
            if nxt.kind != "op":
                return node, s, e
            value = nxt.value
        if value == "^":                              # right-assoc, binds tighter than unary minus
            self.i += 1
            self.depth += 1
            if self.depth > MAX_DEPTH:
                self.too_deep()
            right, _, e = self.unary()
            self.depth -= 1
            node = ast.Binary("^", node, right, Span(self.src, nxt.start, nxt.end), Span(self.src, s, e))
        return node, s, e

    def _postfix_ops(self, node, s, e):
        while True:
            t = self.toks[self.i]
            if t.kind != "op":
                return node, s, e
            if t.value == "(":
                self.i += 1
                args, kwargs = self.arg_list(")")
                e = self.expect(")").end
                node = ast.Call(node, tuple(args), tuple(kwargs), Span(self.src, s, e))
            elif t.value == "[":
                self.i += 1
                items = [self.index_item()]
                while self.at(","):
                    self.i += 1
                    items.append(self.index_item())
                e = self.expect("]").end
                node = ast.Index(node, tuple(items), Span(self.src, s, e))
            elif t.value == ".":
                self.i += 1
                name = self.ident()
                e = name.span.end
                node = ast.Attr(node, name, Span(self.src, s, e))
            else:
                return node, s, e
            self.depth += 1
            if self.depth > MAX_DEPTH:
                self.too_deep()

    def index_item(self):
        t = self.peek()
        if t.kind == "op" and t.value == ":":
            self.take()
            return ast.FullSlice(self.span(t.start, t.end))
        if t.kind == "name" and t.value == "None":
            self.take()
            return ast.NewAxis(self.span(t.start, t.end))
        return self.expr()[0]

    def arg_list(self, closer: str):
        """Arguments up to `closer`; an empty list gives lark's None placeholder semantics (no args)."""
        args, kwargs = [], []
        if self.at(closer):
            return args, kwargs
        while True:
            t, nxt = self.peek(), self.peek(1)
            if t.kind == "name" and nxt.kind == "op" and nxt.value == "=":
                name = self.ident()
                self.take()
                value, _, e = self.expr()
                kwargs.append(ast.Keyword(name, value, self.span(name.span.start, e)))
            else:
                if kwargs:
                    # lark keeps the written order in one list; positional after keyword is still
                    # positional there, so mirror it exactly
                    pass
                args.append(self.expr()[0])
            if not self.at(","):
                return args, kwargs
            self.take()
            if self.at(closer):
                return args, kwargs

    # ------------------------------------------------------------ types, domains, lines

    def end_line(self) -> int:
        end = self.prev_end()
        self.expect_kind("nl")
        return end

    def type_expr(self) -> ast.TypeExpr:
        elem = self.ident()
        if not self.at("["):
            return ast.TypeExpr(elem, None, elem.span)
        self.take()
        if self.at("..."):
            self.take()
            dims = "..."
        else:
            items = []
            while True:
                t = self.take()
                if t.kind == "name":
                    items.append(ast.Ident(t.value, self.span(t.start, t.end)))
                elif t.kind == "int":
                    items.append(ast.Num(int(t.value), True, self.span(t.start, t.end)))
                else:
                    raise Bail
                if not self.at(","):
                    break
                self.take()
            dims = tuple(items)
        close = self.expect("]")
        return ast.TypeExpr(elem, dims, self.span(elem.span.start, close.end))

    def domain(self) -> Optional[ast.Domain]:
        if not (self.at("in") and self.peek().kind == "name"):
            return None
        start = self.take().start
        name = self.ident()
        args: list = []
        end = name.span.end
        if self.at("("):
            self.take()
            args, kwargs = self.arg_list(")")
            if kwargs:
                raise Bail
            end = self.expect(")").end
        return ast.Domain(name, tuple(args), self.span(start, end))

    def name_list(self) -> tuple[ast.Ident, ...]:
        names = [self.ident()]
        while self.at(","):
            self.take()
            names.append(self.ident())
        return tuple(names)

    def docstring(self) -> Optional[str]:
        if self.peek().kind != "string":
            return None
        raw = self.take().value
        self.expect_kind("nl")
        return clean_doc(raw)

    def block(self):
        self.expect_kind("nl")
        self.expect_kind("indent")
        stmts = [self.stmt()]
        while self.peek().kind != "dedent":
            stmts.append(self.stmt())
        end = self.take().start
        return tuple(stmts), end

    # ------------------------------------------------------------ statements

    def stmt(self):
        t = self.peek()
        self.line_start = t.start
        if t.kind != "name":
            raise Bail
        word = t.value
        if word == "let":
            if self.peek(2).kind == "op" and self.peek(2).value == ",":
                t = self.take()
                names = [self.ident()]
                while self.at(","):
                    self.take()
                    names.append(self.ident())
                self.expect("=")
                value, _, _ = self.expr()
                end = self.end_line()
                return ast.LetTuple(tuple(names), value, self.span(t.start, end))
            return self.let()
        if word == "var" and self.peek(1).kind == "name":
            t = self.take()
            name = self.ident()
            self.expect("=")
            value, _, _ = self.expr()
            end = self.end_line()
            return ast.VarDecl(name, value, self.span(t.start, end))
        if word == "every":
            self.take()
            period, _, _ = self.expr()
            self.expect(":")
            body, end = self.block()
            return ast.Every(period, body, self.span(t.start, end))
        if word == "if":
            return self.if_stmt()
        if word == "for":
            self.take()
            var = self.ident()
            self.expect("in")
            lo, _, _ = self.expr()
            self.expect("..")
            hi, _, _ = self.expr()
            self.expect(":")
            body, end = self.block()
            return ast.For(var, lo, hi, body, self.span(t.start, end))
        if word == "repeat":
            self.take()
            self.expect(":")
            body, _ = self.block()
            self.expect("until")
            cond, _, _ = self.expr()
            self.expect("max")
            cap, _, _ = self.expr()
            end = self.end_line()
            return ast.Repeat(body, cond, cap, self.span(t.start, end))
        if word in ("elif", "else"):
            raise Bail
        target = self.ident()
        self.expect("<-")
        value, _, _ = self.expr()
        end = self.end_line()
        return ast.Assign(target, value, self.span(t.start, end))

    def let(self) -> ast.Let:
        t = self.take()
        name = self.ident()
        self.expect("=")
        value, _, _ = self.expr()
        end = self.end_line()
        return ast.Let(name, value, self.span(t.start, end))

    def if_stmt(self) -> ast.If:
        t = self.take()
        cond, _, _ = self.expr()
        self.expect(":")
        body, end = self.block()
        clauses = []
        while self.at("elif") and self.peek().kind == "name":
            e = self.take()
            econd, _, _ = self.expr()
            self.expect(":")
            ebody, eend = self.block()
            clauses.append((econd, ebody, self.span(e.start, eend)))
            end = eend
        orelse: tuple = ()
        if self.at("else") and self.peek().kind == "name":
            self.take()
            self.expect(":")
            orelse, end = self.block()
        for econd, ebody, espan in reversed(clauses):
            orelse = (ast.If(econd, ebody, orelse, espan),)
        return ast.If(cond, body, orelse, self.span(t.start, end))

    # ------------------------------------------------------------ members

    def member(self):
        t = self.peek()
        self.line_start = t.start
        if t.kind != "name" or t.value not in _MEMBERS:
            raise Bail
        word = t.value
        if word == "let":
            return self.let()
        self.take()
        start = t.start
        if word == "hyper":
            name = self.ident()
            self.expect(":")
            type_ = self.type_expr()
            interval = None
            if self.at("in") and self.peek(1).kind == "op" and self.peek(1).value in ("[", "("):
                s = self.take().start
                lo_b = self.take().value
                lo, _, _ = self.expr()
                self.expect(",")
                hi, _, _ = self.expr()
                close = self.take()
                if close.kind != "op" or close.value not in ("]", ")"):
                    raise Bail
                interval = ast.Interval(lo, hi, lo_b == "[", close.value == "]", self.span(s, close.end))
            default = None
            if self.at("="):
                self.take()
                default = self.expr()[0]
            where: list = []
            if self.at("where") and self.peek().kind == "name":
                self.take()
                where.append(self.expr()[0])
                while self.at(","):
                    self.take()
                    where.append(self.expr()[0])
            end = self.end_line()
            return ast.Hyper(name, type_, interval, default, tuple(where), self.span(start, end))
        if word in ("param", "input"):
            name = self.ident()
            self.expect(":")
            type_ = self.type_expr()
            domain = self.domain()
            end = self.end_line()
            cls = ast.Param if word == "param" else ast.Input
            return cls(name, type_, domain, self.span(start, end))
        shared = word == "shared"
        if shared:
            if not self.at("state"):
                raise Bail
            self.take()
            word = "state"
        if word == "state":
            name = self.ident()
            self.expect(":")
            type_ = self.type_expr()
            domain = self.domain()
            init = None
            if self.at("="):
                self.take()
                init = self.expr()[0]
            end = self.end_line()
            return ast.State(name, type_, domain, init, self.span(start, end), shared)
        if word == "oracle":
            name = self.ident()
            if self.at(":"):
                self.take()
                if self.at("("):
                    self.take()
                    params = []
                    if not self.at(")"):
                        params.append(self.type_expr())
                        while self.at(","):
                            self.take()
                            params.append(self.type_expr())
                    self.expect(")")
                else:
                    params = [self.type_expr()]
                self.expect("->")
                result = self.type_expr()
                end = self.end_line()
                return ast.FnOracle(name, tuple(params), result, self.span(start, end))
            self.expect("=")
            kind = self.ident()
            self.expect("(")
            args, kwargs = self.arg_list(")")
            if kwargs:
                raise Bail
            self.expect(")")
            every = None
            if self.at("every") and self.peek().kind == "name":
                self.take()
                every = self.expr()[0]
            end = self.end_line()
            return ast.Oracle(name, kind, tuple(args), every, self.span(start, end))
        if word == "eval":
            name = self.ident()
            self.expect("=")
            value = self.expr()[0]
            end = self.end_line()
            return ast.Eval(name, value, self.span(start, end))
        if word == "dims":
            names = self.name_list()
            end = self.end_line()
            return ast.Dims(names, self.span(start, end))
        if word == "output":
            names = self.name_list()
            end = self.end_line()
            return ast.Output(names, self.span(start, end))
        if word == "step":
            counter = self.ident() if self.peek().kind == "name" else None
            self.expect(":")
            body, end = self.block()
            return ast.Step(counter, body, self.span(start, end))
        if word == "until":
            cond = self.expr()[0]
            cap = None
            if self.at("max") and self.peek().kind == "name":
                self.take()
                cap = self.expr()[0]
            end = self.end_line()
            return ast.Until(cond, cap, self.span(start, end))
        if word == "assume":
            subject = self.ident()
            self.expect(":")
            facts = [self.fact()]
            while self.at(","):
                self.take()
                facts.append(self.fact())
            end = self.end_line()
            return ast.Assume(subject, tuple(facts), self.span(start, end))
        if word == "converges":
            return self.converges(start)
        if word == "rule":
            return self.rule(start)
        raise Bail

    def rule(self, start: int) -> ast.Rule:
        var = type_ = None
        matrix = False
        if self.at("otherwise") and self.peek().kind == "name":
            self.take()
        else:
            self.expect("for")
            var = self.ident()
            self.expect(":")
            type_ = self.type_expr()
            if self.at("as") and self.peek().kind == "name":
                self.take()
                self.expect("matrix")
                matrix = True
        if self.at("="):
            self.take()
            t = self.peek()
            if t.kind != "name":
                raise Bail
            fn = self.ident()
            self.expect("(")
            args, kwargs = self.arg_list(")")
            close = self.expect(")")
            end = self.end_line()
            call = ast.Call(ast.Name(fn.name, fn.span), tuple(args), tuple(kwargs), self.span(fn.span.start, close.end))
            return ast.Rule(var, type_, matrix, (), call, self.span(start, end))
        self.expect(":")
        self.expect_kind("nl")
        self.expect_kind("indent")
        members = []
        while True:
            t = self.peek()
            if t.kind != "name" or t.value not in ("state", "step"):
                raise Bail
            members.append(self.member())
            if self.peek().kind == "dedent":
                break
        end = self.take().start
        return ast.Rule(var, type_, matrix, tuple(members), None, self.span(start, end))

    def fact(self) -> ast.Fact:
        name = self.ident()
        end = name.span.end
        args: list = []
        if self.at("("):
            self.take()
            args, kwargs = self.arg_list(")")
            if kwargs:
                raise Bail
            end = self.expect(")").end
        return ast.Fact(name, tuple(args), self.span(name.span.start, end))

    def converges(self, start: int) -> ast.Converges:
        t = self.take()
        if t.kind != "name":
            raise Bail
        target = rate = on = None
        if t.value in ("heuristic", "linear", "sublinear"):
            kind = t.value
        elif t.value == "to":
            kind = "to"
            target = self.ident()
        elif t.value == "rate":
            kind = "rate"
            rate = self.expr()[0]
            if self.at("on") and self.peek().kind == "name":
                self.take()
                on = self.expr()[0]
        else:
            raise Bail
        cite = None
        if self.at("by") and self.peek().kind == "name":
            self.take()
            self.expect("cite")
            s = self.expect_kind("string").value
            cite = s[3:-3] if s.startswith('"""') else s[1:-1]
        end = self.end_line()
        return ast.Converges(kind, target, rate, on, cite, self.span(start, end))

    # ------------------------------------------------------------ top level

    def module(self, comments) -> ast.Module:
        uses, defs, methods = [], [], []
        while self.peek().kind != "eof":
            t = self.peek()
            if t.kind == "nl":
                self.take()
                continue
            if t.kind != "name":
                raise Bail
            self.item_start = t.start
            if t.value == "use":
                uses.append(self.use())
            elif t.value == "def":
                defs.append(self.def_())
            elif t.value in ("optimizer", "solver"):
                methods.append(self.method())
            else:
                raise Bail
        return ast.Module(tuple(uses), tuple(defs), tuple(methods), tuple(comments),
                          Span(self.src, 0, len(self.src.text)))

    def use(self) -> ast.Use:
        start = self.take().start
        if self.peek().kind == "string":
            raw = self.take().value
            path, file = (), (raw[3:-3] if raw.startswith('"""') else raw[1:-1])
        else:
            parts = [self.ident()]
            while self.at(".") and self.peek().kind == "op":
                self.take()
                parts.append(self.ident())
            path, file = tuple(parts), None
        alias = None
        if self.at("as") and self.peek().kind == "name":
            self.take()
            alias = self.ident()
        end = self.end_line()
        return ast.Use(path, file, alias, self.span(start, end))

    def def_(self) -> ast.Def:
        start = self.take().start
        name = self.ident()
        self.expect("(")
        params = () if self.at(")") else self.name_list()
        self.expect(")")
        if self.at("="):
            self.take()
            result = self.expr()[0]
            end = self.end_line()
            return ast.Def(name, params, None, (), result, self.span(start, end))
        self.expect(":")
        self.expect_kind("nl")
        self.expect_kind("indent")
        doc = self.docstring()
        lets = []
        while self.at("let") and self.peek().kind == "name":
            lets.append(self.let())
        self.expect("return")
        result = self.expr()[0]
        self.end_line()
        end = self.expect_kind("dedent").start
        return ast.Def(name, params, doc, tuple(lets), result, self.span(start, end))

    def method(self) -> ast.Method:
        t = self.take()
        name = self.ident()
        self.expect(":")
        self.expect_kind("nl")
        self.expect_kind("indent")
        doc = self.docstring()
        members = [self.member()]
        while self.peek().kind != "dedent":
            members.append(self.member())
        end = self.take().start
        return ast.Method(t.value, name, doc, tuple(members), self.span(t.start, end))


def fast_parse(source: Source) -> Optional[ast.Module]:
    """The AST of a valid program, or None when the lark path must decide."""
    module, _ = fast_parse_or_error(source)
    return module


def fast_parse_or_error(source: Source, info: Optional[dict] = None):
    """(module, None) for a valid program; (None, diagnostic) for one nested provably too deep
    for later passes; (None, None) when the lark path must decide. When it declines, `info`
    (if given) gets `valid_until`: the offset of the top-level item it stopped in; every item
    before it is complete and valid (0 when nothing is known)."""
    text = source.text if source.text.endswith("\n") else source.text + "\n"
    comments: list = []
    parser = None
    if info is not None:
        info["valid_until"] = 0
    try:
        toks = _tokenize(text, source, comments)
        parser = _Parser(source, toks)
        module = parser.module(comments)
        return (None, None) if parser.deep else (module, None)
    except TooDeep as exc:
        from ..diagnostics import error
        return None, error("E0007", f"expression nested more than {MAX_EXPR_DEPTH} levels deep",
                           Span(source, exc.start, min(exc.end, len(source.text))),
                           hint="split the expression with `let` bindings")
    except (Bail, IndexError, RecursionError):
        if info is not None and parser is not None and not parser.deep:
            info["valid_until"] = parser.item_start
        return None, None

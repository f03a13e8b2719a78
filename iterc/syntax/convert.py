"""Lark parse tree -> AST, bottom-up and without recursion.

`Tree.iter_subtrees()` yields children before parents, so each rule's handler sees its
children already converted. The expression depth is tracked on the way, so a program
nested deeper than later (recursive) passes can walk is a diagnostic here.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Optional

from ..diagnostics import Diagnostic, error
from . import ast
from .common import MAX_EXPR_DEPTH, clean_doc as _clean_doc, unquote as _unquote  # noqa: F401
from .source import Source, Span

_HANDLERS: dict[str, Callable[..., Any]] = {}


def rule(*names: str):
    def register(fn):
        for name in names:
            _HANDLERS[name] = fn
        return fn
    return register


class _Ctx:
    def __init__(self, source: Source):
        self.source = source
        self.depth: dict[int, int] = {}

    def span(self, tok) -> Span:
        return Span(self.source, tok.start_pos, tok.end_pos)

    def ident(self, tok) -> ast.Ident:
        return ast.Ident(str(tok), self.span(tok))


def _is_tok(x, type_: Optional[str] = None) -> bool:
    from lark import Token
    return isinstance(x, Token) and (type_ is None or x.type == type_)


# ---------------------------------------------------------------- expressions

@rule("name")
def _name(c, ch, span):
    return ast.Name(str(ch[0]), span)


@rule("int_lit")
def _int(c, ch, span):
    return ast.Num(int(str(ch[0])), True, span)


@rule("float_lit")
def _float(c, ch, span):
    return ast.Num(float(str(ch[0])), False, span)


@rule("true_lit", "false_lit")
def _bool(c, ch, span):
    return ast.Bool(span.text == "true", span)


@rule("inf_lit")
def _inf(c, ch, span):
    return ast.Num(float("inf"), False, span)


@rule("string_lit")
def _string(c, ch, span):
    return ast.Str(_unquote(str(ch[0])), span)


@rule("paren")
def _paren(c, ch, span):
    return ch[0]


@rule("arith", "term")
def _binary_chain(c, ch, span):
    result = ch[0]
    for i in range(1, len(ch), 2):
        op, right = ch[i], ch[i + 1]
        result = ast.Binary(str(op), result, right, c.span(op), result.span.to(right.span))
    return result


def _keyword_chain(op: str):
    """`or`/`and` tokens are anonymous in the tree: find each one between its operands."""
    pattern = re.compile(rf"\b{op}\b")

    def handler(c, ch, span):
        result = ch[0]
        for right in ch[1:]:
            found = pattern.search(c.source.text, result.span.end, right.span.start)
            at = found.start() if found else result.span.end
            result = ast.Binary(op, result, right, Span(c.source, at, at + len(op)), result.span.to(right.span))
        return result
    return handler


_HANDLERS["or_expr"] = _keyword_chain("or")
_HANDLERS["and_expr"] = _keyword_chain("and")


@rule("comparison")
def _comparison(c, ch, span):
    return ast.Compare(tuple(str(t) for t in ch[1::2]), tuple(ch[0::2]), span)


@rule("not_op")
def _not(c, ch, span):
    return ast.Unary("not", ch[0], span)


@rule("neg")
def _neg(c, ch, span):
    return ast.Unary("-", ch[0], span)


@rule("pos")
def _pos(c, ch, span):
    return ast.Unary("+", ch[0], span)


@rule("power")
def _power(c, ch, span):
    left, right = ch
    between = c.source.text[left.span.end:right.span.start]
    at = left.span.end + between.index("^")
    return ast.Binary("^", left, right, Span(c.source, at, at + 1), span)


@rule("call")
def _call(c, ch, span):
    func, args = ch
    positional, keywords = [], []
    for a in (args or ()):
        (keywords if isinstance(a, ast.Keyword) else positional).append(a)
    return ast.Call(func, tuple(positional), tuple(keywords), span)


@rule("arg_list", "index_list")
def _list(c, ch, span):
    return list(ch)


@rule("keyword_arg")
def _keyword(c, ch, span):
    return ast.Keyword(c.ident(ch[0]), ch[1], span)


@rule("full_slice")
def _slice(c, ch, span):
    return ast.FullSlice(span)


@rule("new_axis")
def _newaxis(c, ch, span):
    return ast.NewAxis(span)


@rule("index")
def _index(c, ch, span):
    return ast.Index(ch[0], tuple(ch[1]), span)


@rule("attr")
def _attr(c, ch, span):
    return ast.Attr(ch[0], c.ident(ch[1]), span)


# ---------------------------------------------------------------- types and domains

@rule("type_expr")
def _type(c, ch, span):
    dims = ch[1] if len(ch) > 1 else None
    return ast.TypeExpr(c.ident(ch[0]), dims, span)


@rule("shape_any")
def _shape_any(c, ch, span):
    return "..."


@rule("shape_dims")
def _shape_dims(c, ch, span):
    return tuple(ast.Num(int(str(t)), True, c.span(t)) if t.type == "INT" else c.ident(t) for t in ch)


@rule("domain")
def _domain(c, ch, span):
    args = ch[1] if len(ch) > 1 and ch[1] is not None else []
    return ast.Domain(c.ident(ch[0]), tuple(args), span)


@rule("open_bracket", "close_bracket")
def _bracket(c, ch, span):
    return str(ch[0])


@rule("interval")
def _interval(c, ch, span):
    lo_b, lo, hi, hi_b = ch
    return ast.Interval(lo, hi, lo_b == "[", hi_b == "]", span)


@rule("where_clause", "name_list")
def _plain_list(c, ch, span):
    return [c.ident(x) if _is_tok(x) else x for x in ch]


@rule("every_clause", "max_clause", "return_stmt")
def _single(c, ch, span):
    return ch[0]


# ---------------------------------------------------------------- statements

@rule("block")
def _block(c, ch, span):
    return tuple(ch)


@rule("assign_stmt")
def _assign(c, ch, span):
    return ast.Assign(c.ident(ch[0]), ch[1], span)


@rule("let_stmt")
def _let(c, ch, span):
    return ast.Let(c.ident(ch[0]), ch[1], span)


@rule("let_tuple_stmt")
def _let_tuple(c, ch, span):
    return ast.LetTuple(tuple(c.ident(t) for t in ch[:-1]), ch[-1], span)


@rule("var_stmt")
def _var(c, ch, span):
    return ast.VarDecl(c.ident(ch[0]), ch[1], span)


@rule("every_stmt")
def _every(c, ch, span):
    return ast.Every(ch[0], ch[1], span)


@rule("elif_clause")
def _elif(c, ch, span):
    return ast.If(ch[0], ch[1], (), span)


@rule("else_clause")
def _else(c, ch, span):
    return ch[0]


@rule("if_stmt")
def _if(c, ch, span):
    cond, body, rest = ch[0], ch[1], list(ch[2:])
    orelse: tuple = ()
    if rest and not isinstance(rest[-1], ast.If):
        orelse = rest.pop()
    for clause in reversed(rest):           # fold `elif`s into nested ifs, innermost last
        orelse = (ast.If(clause.cond, clause.body, orelse, clause.span),)
    return ast.If(cond, body, orelse, span)


@rule("for_stmt")
def _for(c, ch, span):
    return ast.For(c.ident(ch[0]), ch[1], ch[2], ch[3], span)


@rule("repeat_stmt")
def _repeat(c, ch, span):
    return ast.Repeat(ch[0], ch[1], ch[2], span)


# ---------------------------------------------------------------- members

@rule("docstring")
def _docstring(c, ch, span):
    return ("doc", _clean_doc(str(ch[0])))


@rule("hyper_decl")
def _hyper(c, ch, span):
    name, type_ = c.ident(ch[0]), ch[1]
    rest = ch[2:]
    interval = rest.pop(0) if rest and isinstance(rest[0], ast.Interval) else None
    default = rest.pop(0)                    # `["=" expr]` leaves a None placeholder
    where = tuple(rest[0]) if rest else ()
    return ast.Hyper(name, type_, interval, default, where, span)


@rule("param_decl")
def _param(c, ch, span):
    return ast.Param(c.ident(ch[0]), ch[1], ch[2] if len(ch) > 2 else None, span)


@rule("input_decl")
def _input(c, ch, span):
    return ast.Input(c.ident(ch[0]), ch[1], ch[2] if len(ch) > 2 else None, span)


@rule("state_decl")
def _state(c, ch, span):
    name, type_ = c.ident(ch[0]), ch[1]
    rest = ch[2:]
    domain = rest.pop(0) if rest and isinstance(rest[0], ast.Domain) else None
    init = rest[0] if rest else None
    return ast.State(name, type_, domain, init, span)


@rule("shared_state_decl")
def _shared_state(c, ch, span):
    st = _state(c, ch, span)
    return ast.State(st.name, st.type, st.domain, st.init, st.span, True)


@rule("oracle_decl")
def _oracle(c, ch, span):
    every = ch[3] if len(ch) > 3 else None
    return ast.Oracle(c.ident(ch[0]), c.ident(ch[1]), tuple(ch[2] or ()), every, span)


@rule("eval_decl")
def _eval(c, ch, span):
    return ast.Eval(c.ident(ch[0]), ch[1], span)


@rule("fn_oracle_decl")
def _fn_oracle(c, ch, span):
    return ast.FnOracle(c.ident(ch[0]), ch[1], ch[2], span)


@rule("fn_args")
def _fn_args(c, ch, span):
    if isinstance(ch[0], ast.TypeExpr):
        return (ch[0],)
    return tuple(ch[0] or ())


@rule("type_list")
def _type_list(c, ch, span):
    return list(ch)


@rule("dims_decl")
def _dims(c, ch, span):
    return ast.Dims(tuple(ch[0]), span)


@rule("output_decl")
def _output(c, ch, span):
    return ast.Output(tuple(ch[0]), span)


@rule("step_block")
def _step(c, ch, span):
    counter = c.ident(ch[0]) if _is_tok(ch[0]) else None
    return ast.Step(counter, ch[-1], span)


@rule("until_decl")
def _until(c, ch, span):
    return ast.Until(ch[0], ch[1] if len(ch) > 1 else None, span)


@rule("fact")
def _fact(c, ch, span):
    args = ch[1] if len(ch) > 1 and ch[1] is not None else []
    return ast.Fact(c.ident(ch[0]), tuple(args), span)


@rule("assume_decl")
def _assume(c, ch, span):
    return ast.Assume(c.ident(ch[0]), tuple(ch[1:]), span)


@rule("claim_heuristic", "claim_linear", "claim_sublinear")
def _claim_word(c, ch, span):
    return ("claim", span.text, None, None, None)


@rule("claim_to")
def _claim_to(c, ch, span):
    return ("claim", "to", c.ident(ch[0]), None, None)


@rule("claim_rate")
def _claim_rate(c, ch, span):
    return ("claim", "rate", None, ch[0], ch[1] if len(ch) > 1 else None)


@rule("cite")
def _cite(c, ch, span):
    return ("cite", _unquote(str(ch[0])))


@rule("converges_decl")
def _converges(c, ch, span):
    _, kind, target, rate, on = ch[0]
    cite = ch[1][1] if len(ch) > 1 else None
    return ast.Converges(kind, target, rate, on, cite, span)


@rule("rule_pattern")
def _rule_pattern(c, ch, span):
    return ("pattern", c.ident(ch[0]), ch[1], len(ch) > 2 and ch[2] is True)


@rule("rule_otherwise")
def _rule_otherwise(c, ch, span):
    return ("pattern", None, None, False)


@rule("matrix_view")
def _matrix_view(c, ch, span):
    return True


@rule("rule_decl")
def _rule(c, ch, span):
    _, var, type_, matrix = ch[0]
    return ast.Rule(var, type_, matrix, tuple(ch[1:]), None, span)


@rule("rule_delegate")
def _rule_delegate(c, ch, span):
    _, var, type_, matrix = ch[0]
    name, args = ch[1], ch[2]
    positional, keywords = [], []
    for a in (args or ()):
        (keywords if isinstance(a, ast.Keyword) else positional).append(a)
    call = ast.Call(ast.Name(str(name), c.span(name)), tuple(positional), tuple(keywords),
                    Span(c.source, name.start_pos, span.end))
    return ast.Rule(var, type_, matrix, (), call, span)


@rule("method_kind")
def _method_kind(c, ch, span):
    return str(ch[0])


@rule("method")
def _method(c, ch, span):
    kind, name = str(ch[0]), c.ident(ch[1])
    rest = list(ch[2:])
    doc = rest.pop(0)[1] if rest and isinstance(rest[0], tuple) and rest[0][0] == "doc" else None
    return ast.Method(kind, name, doc, tuple(rest), span)


@rule("def_short")
def _def_short(c, ch, span):
    return ast.Def(c.ident(ch[0]), tuple(ch[1] or ()), None, (), ch[2], span)


@rule("def_long")
def _def_long(c, ch, span):
    rest = list(ch[2:])
    doc = rest.pop(0)[1] if rest and isinstance(rest[0], tuple) and rest[0][0] == "doc" else None
    return ast.Def(c.ident(ch[0]), tuple(ch[1] or ()), doc, tuple(rest[:-1]), rest[-1], span)


@rule("module_path")
def _module_path(c, ch, span):
    return ("path", tuple(c.ident(t) for t in ch))


@rule("module_file")
def _module_file(c, ch, span):
    return ("file", _unquote(str(ch[0])))


@rule("use_decl")
def _use(c, ch, span):
    kind, value = ch[0]
    alias = c.ident(ch[1]) if len(ch) > 1 and ch[1] is not None else None
    if kind == "path":
        return ast.Use(value, None, alias, span)
    return ast.Use((), value, alias, span)


_EXPR_TYPES = (ast.Num, ast.Bool, ast.Str, ast.Name, ast.Unary, ast.Binary, ast.Compare, ast.Call, ast.Index, ast.Attr)


def _children_depth(c: _Ctx, children) -> int:
    best = 0
    for x in children:
        if isinstance(x, list):
            best = max(best, _children_depth(c, x))
        elif isinstance(x, _EXPR_TYPES) or isinstance(x, ast.Keyword):
            best = max(best, c.depth.get(id(x), 0))
    return best


def to_ast(tree, source: Source, comments: tuple) -> tuple[Optional[ast.Module], list[Diagnostic]]:
    from lark import Tree

    c = _Ctx(source)
    converted: dict[int, Any] = {}
    comment_starts = {cm.span.end: cm.span.start for cm in comments}
    text = source.text

    def trimmed(start: int, end: int) -> Span:
        """A rule's span without the line end lark counts in: trailing blanks and comments."""
        end = min(end, len(text))             # lark parsed the text with a final newline added
        while end > start:
            if text[end - 1] in " \t\f\n":
                end -= 1
            elif end in comment_starts:
                end = comment_starts[end]
            else:
                break
        return Span(source, start, end)

    root = None
    for sub in tree.iter_subtrees():
        children = [converted[id(x)] if isinstance(x, Tree) else x for x in sub.children]
        span = trimmed(sub.meta.start_pos, sub.meta.end_pos) if not sub.meta.empty else Span(source, 0, 0)
        if sub.data == "module":
            root = (children, span)
            continue
        handler = _HANDLERS.get(str(sub.data))
        if handler is None:
            raise AssertionError(f"no AST handler for grammar rule {sub.data!r}")
        node = handler(c, children, span)
        # a chain `a + b + c` is built by one handler but nests one level per operator
        if sub.data in ("arith", "term"):
            levels = max(1, (len(children) - 1) // 2)
        elif sub.data in ("or_expr", "and_expr", "comparison"):
            levels = max(1, len(children) - 1) if sub.data != "comparison" else max(1, len(children) // 2)
        else:
            levels = 1
        depth = _children_depth(c, children) + levels
        if depth > MAX_EXPR_DEPTH:
            return None, [error("E0007", f"expression nested more than {MAX_EXPR_DEPTH} levels deep", span,
                                hint="split the expression with `let` bindings")]
        c.depth[id(node)] = depth
        converted[id(sub)] = node
    children, span = root if root else ([], Span(source, 0, 0))
    uses = tuple(x for x in children if isinstance(x, ast.Use))
    defs = tuple(x for x in children if isinstance(x, ast.Def))
    methods = tuple(x for x in children if isinstance(x, ast.Method))
    return ast.Module(uses, defs, methods, comments, Span(source, 0, len(source.text))), []

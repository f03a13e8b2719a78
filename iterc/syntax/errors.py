"""Lark's parse exceptions -> diagnostics that speak the language's words, not token names."""
from __future__ import annotations

from ..diagnostics import Diagnostic, error
from .source import Source, Span

_WORDS = {
    "NAME": "a name", "INT": "a number", "FLOAT": "a number", "STRING": "a string",
    "_NEWLINE": "the end of the line", "_INDENT": "an indented block", "_DEDENT": "the end of the block",
    "$END": "the end of the file", "COMPARE_OP": "a comparison", "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*`, `/`, `@` or `%`", "METHOD_KIND": "`optimizer` or `solver`", "ELLIPSIS": "`...`",
}
_EXPR_START = {"NAME", "INT", "FLOAT", "LPAR", "MINUS", "PLUS", "NOT", "TRUE", "FALSE", "INF"}
_OPERATORS = {"ADD_OP", "MUL_OP", "COMPARE_OP", "CIRCUMFLEX", "AND", "OR", "LPAR", "LSQB", "DOT"}


def _literal(parser, name: str) -> str | None:
    for term in parser.terminals:
        if term.name == name and type(term.pattern).__name__ == "PatternStr":
            return term.pattern.value
    return None


def _word(parser, name: str) -> str:
    if name in _WORDS:
        return _WORDS[name]
    lit = _literal(parser, name)
    return f"`{lit}`" if lit is not None else name.lower()


def expected_words(parser, expected: set[str]) -> str:
    expected = set(expected)
    words: list[str] = []
    if len(expected & _EXPR_START) >= 4:
        expected -= _EXPR_START | {"STRING"}
        words.append("an expression")
    if len(expected & _OPERATORS) >= 4:
        expected -= _OPERATORS
        words.append("an operator")
    order = sorted(expected, key=lambda n: (n.startswith("_") or n == "$END", _word(parser, n)))
    words += [_word(parser, n) for n in order]
    if not words:
        return "something else"
    if len(words) > 6:
        words = words[:6] + ["..."]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _token_words(tok) -> str:
    if tok.type == "_NEWLINE":
        return "the end of the line"
    if tok.type == "_INDENT":
        return "an indented block"
    if tok.type == "_DEDENT":
        return "the end of the block"
    if tok.type == "$END":
        return "the end of the file"
    value = str(tok.value)
    if len(value) > 30:
        value = value[:27] + "..."
    return f"`{value}`"


def _hint(tok_type: str, tok_value: str, expected: set[str], source: Source, pos: int) -> str | None:
    if tok_value == "=" and "__ANON_0" in expected or (tok_value == "=" and "EQUAL" not in expected and "COMPARE_OP" in expected):
        return "use `<-` to update a state, param or output, `let NAME = ...` for a local, and `==` to compare"
    if tok_value == "*" and source.text[pos + 1:pos + 2] == "*":
        return "powers are written `x ^ 2`"
    if "COLON" in expected and tok_type == "_NEWLINE":
        return "a block opens with `:` at the end of the line"
    if tok_type == "_INDENT":
        return "only the body of a block (after a line ending in `:`) is indented"
    if tok_type == "_DEDENT" or (tok_type == "$END" and "_INDENT" in expected):
        return "a block needs at least one indented line"
    return None


def _char_hint(ch: str) -> str | None:
    return {
        "&": "use `and` for a logical and", "|": "use `or` for a logical or",
        "!": "use `not` for negation and `!=` for inequality", "'": "strings use double quotes",
        "\"": "close the string with a matching `\"`", "{": "braces are not part of the language; blocks are indented",
        ";": "put each statement on its own line", "$": None,
    }.get(ch)


def describe_unexpected(exc, source: Source, parser) -> Diagnostic:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    if isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream
        ch = source.text[pos] if pos < len(source.text) else ""
        shown = f"`{ch}`" if ch.isprintable() and ch not in ("`",) else f"U+{ord(ch):04X}" if ch else "end of file"
        return error("E0002", f"unexpected character {shown}", Span(source, pos, pos + 1),
                     hint=_char_hint(ch) if ch else None)
    if isinstance(exc, UnexpectedEOF):
        end = len(source.text)
        return error("E0004", f"the file ends early; expected {expected_words(parser, exc.expected)}",
                     Span(source, max(0, end - 1), end))
    if isinstance(exc, UnexpectedToken):
        tok = exc.token
        if tok.type == "$END":
            end = len(source.text)
            return error("E0004", f"the file ends early; expected {expected_words(parser, exc.expected)}",
                         Span(source, max(0, end - 1), end),
                         hint=_hint(tok.type, "", exc.expected, source, end))
        start = tok.start_pos if tok.start_pos is not None else 0
        if tok.type in ("_NEWLINE", "_DEDENT", "_INDENT"):
            # point at the end of the line that stopped too early
            line_end = source.text.find("\n", start)
            at = start if tok.type == "_NEWLINE" else max(0, source.text.rfind("\n", 0, start))
            if tok.type == "_INDENT":
                at = tok.end_pos - len(tok.value) if tok.end_pos else start
                span = Span(source, at, at + max(1, len(tok.value)))
            else:
                span = Span(source, at, at + 1)
            del line_end
        else:
            span = Span(source, start, tok.end_pos if tok.end_pos else start + 1)
        return error("E0003", f"unexpected {_token_words(tok)}; expected {expected_words(parser, exc.expected)}",
                     span, hint=_hint(tok.type, str(tok.value), exc.expected, source, start))
    return error("E0003", "syntax error", Span(source, 0, 1))

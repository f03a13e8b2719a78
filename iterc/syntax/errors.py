"""Lark's parse exceptions -> diagnostics that speak the language's words, not token names."""
from __future__ import annotations

import difflib

from ..diagnostics import Diagnostic, Note, error
from .source import Source, Span

_WORDS = {
    "NAME": "a name", "INT": "a number", "FLOAT": "a number", "STRING": "a string",
    "_NEWLINE": "the end of the line", "_INDENT": "an indented block", "_DEDENT": "the end of the block",
    "$END": "the end of the file", "COMPARE_OP": "a comparison", "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*`, `/`, `@` or `%`", "ELLIPSIS": "`...`",
}
_EXPR_START = {"NAME", "INT", "FLOAT", "LPAR", "MINUS", "PLUS", "NOT", "TRUE", "FALSE", "INF"}
_OPERATORS = {"ADD_OP", "MUL_OP", "COMPARE_OP", "CIRCUMFLEX", "AND", "OR", "LPAR", "LSQB", "DOT"}
_LINE_KEYWORDS = ("use", "def", "optimizer", "solver", "hyper", "param", "oracle", "state", "shared", "input", "dims",
                  "output", "step", "until", "assume", "converges", "let", "var", "every", "if", "elif", "else",
                  "for", "repeat", "return")
_STMT_START = {"LET", "VAR", "IF", "FOR", "EVERY", "REPEAT"}
_MEMBER_START = {"HYPER", "PARAM", "ORACLE", "STATE", "SHARED", "INPUT", "DIMS", "LET", "OUTPUT", "STEP", "UNTIL",
                 "ASSUME", "CONVERGES"}


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
    if len(expected & _MEMBER_START) >= 6:
        expected -= _MEMBER_START | {"STRING"}       # a string there is only the docstring
        words.append("a member (`hyper`, `param`, `state`, `step`, ...)")
    if _STMT_START <= expected and "NAME" in expected:
        expected -= _STMT_START | {"NAME"}
        words.append("a statement")
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
        return "end of line"
    if tok.type == "_INDENT":
        return "indentation"
    if tok.type == "_DEDENT":
        return "end of block"
    if tok.type == "$END":
        return "end of file"
    value = str(tok.value)
    if len(value) > 30:
        value = value[:27] + "..."
    return f"`{value}`"


def _hint(tok_type: str, tok_value: str, expected: set[str], literals: set[str], source: Source,
          pos: int) -> str | None:
    line_start = source.text.rfind("\n", 0, pos) + 1
    first_word = source.text[line_start:pos].split(None, 1)[0] if source.text[line_start:pos].strip() else ""
    if tok_value == "[" and "<-" in literals:
        return ("`.iter` has no indexed assignment: `<-` replaces the whole value of a state or the param; "
                "to change some elements, write the whole new value, e.g. `x <- where(mask, new, x)`")
    if tok_value == "=" and ("<-" in literals or ("=" not in literals and "COMPARE_OP" in expected)):
        return "use `<-` to update a state or the param, `let NAME = ...` for a local, and `==` to compare"
    if "COLON" in expected and tok_type == "_NEWLINE":
        return "a block opens with `:` at the end of the line"
    if first_word in ("hyper", "param", "state", "input") and (
            "COLON" in expected or source.text[line_start:pos].rstrip().endswith(":")):
        return f"give the type after a colon, e.g. `{first_word} x: real`"
    if ".." in literals:
        return "a `for` loop runs over an inclusive range: `for i in 1..K:`"
    if "max" in literals and first_word == "until":
        return "an inner loop needs a cap: `until COND max N`"
    if tok_value in ("else", "elif"):
        return f"`{tok_value}` continues an `if` block, at the same indentation as its `if`"
    if tok_type == "NAME":
        close = difflib.get_close_matches(tok_value, sorted(literals), n=1, cutoff=0.75)
        if close:
            return f"did you mean `{close[0]}`?"
    if first_word and first_word not in _LINE_KEYWORDS and pos > line_start + len(first_word):
        close = difflib.get_close_matches(first_word, _LINE_KEYWORDS, n=1, cutoff=0.75)
        if close and source.text[line_start:].lstrip().startswith(first_word + " "):
            return f"did you mean `{close[0]}`? (`{first_word}` is not a keyword)"
    if tok_type == "_INDENT":
        return "only the body of a block (after a line ending in `:`) is indented more than the line before it"
    if tok_type in ("NAME", "$END") and pos == line_start and literals & {"def", "optimizer", "solver"}:
        return "a file holds `use` lines, `def`s and methods (`optimizer NAME:` or `solver NAME:`)"
    return None


def _accepts(state) -> set[str] | None:
    """Terminals that really let the parser go on from `state`.

    An LALR state's table merges the lookaheads of every context it serves, so after
    `x - lr` it lists `)`, `]` and `by` too. Feeding each candidate to a copy of the
    parser, as lark's InteractiveParser.accepts does, keeps only those that fit here.
    """
    from copy import copy

    from lark import Token
    from lark.exceptions import UnexpectedInput

    try:
        conf = copy(state.parse_conf)
        conf.callbacks = {}
        table = state.parse_conf.states[state.position]
    except AttributeError:
        return None
    found = set()
    for name in table:
        if not name.isupper():
            continue
        probe = state.copy(deepcopy_values=False)
        probe.parse_conf = conf
        try:
            probe.feed_token(Token(name, ""), name == "$END")
        except (UnexpectedInput, AssertionError, KeyError, IndexError):
            continue
        found.add(name)
    return found or None


def _strip_comment(line: str) -> str:
    in_string = False
    for i, ch in enumerate(line):
        if ch == '"':
            in_string = not in_string
        elif ch == "#" and not in_string:
            return line[:i]
    return line


def _end_of_code_before(source: Source, pos: int) -> int:
    """Offset just after the last code character before `pos`, skipping blank and comment lines."""
    text = source.text
    i = pos
    while True:
        line_start = text.rfind("\n", 0, i) + 1
        code = _strip_comment(text[line_start:i]).rstrip()
        if code:
            return line_start + len(code)
        if line_start == 0:
            return 0
        i = line_start - 1


def _starts_line(source: Source, pos: int) -> bool:
    line_start = source.text.rfind("\n", 0, pos) + 1
    return not source.text[line_start:pos].strip()


def _char_hint(ch: str) -> str | None:
    if ord(ch) > 127:
        if ch.isalpha():
            return "names use ASCII letters, digits and `_`"
        return "only ASCII characters may appear outside strings and comments"
    return {
        "&": "use `and` for a logical and", "|": "use `or` for a logical or",
        "!": "use `not` for negation and `!=` for inequality", "'": "strings use double quotes",
        "\"": "close the string with a matching `\"`", "{": "braces are not part of the language; blocks are indented",
        ";": "put each statement on its own line", "$": None,
    }.get(ch)


def _unexpected_character(exc, source: Source) -> Diagnostic:
    text = source.text
    pos = exc.pos_in_stream
    ch = text[pos] if pos < len(text) else ""
    if ch == '"':
        start = pos - 2 if text[max(0, pos - 2):pos] == '""' else pos
        return error("E0002", "unterminated string", Span(source, start, start + (3 if start < pos else 1)),
                     hint='close it with `"` on the same line, or with `"""` for a string over several lines')
    if ch in "&|" and text[pos + 1:pos + 2] == ch:
        return error("E0002", f"unexpected `{ch * 2}`", Span(source, pos, pos + 2), hint=_char_hint(ch))
    shown = f"`{ch}`" if ch.isprintable() and ch not in ("`",) else f"U+{ord(ch):04X}" if ch else "end of file"
    return error("E0002", f"unexpected character {shown}", Span(source, pos, pos + 1),
                 hint=_char_hint(ch) if ch else None)


def describe_unexpected(exc, source: Source, parser) -> Diagnostic:
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    if isinstance(exc, UnexpectedCharacters):
        return _unexpected_character(exc, source)
    if isinstance(exc, UnexpectedEOF):
        end = _end_of_code_before(source, len(source.text))
        return error("E0004", f"the file ends early; expected {expected_words(parser, exc.expected)}",
                     Span(source, end, end + 1))
    if not isinstance(exc, UnexpectedToken):
        return error("E0003", "syntax error", Span(source, 0, 1))
    tok = exc.token
    # exc.expected is too wide: from the contextual lexer it is that lexer's terminals, and
    # from the parser it holds LALR's merged lookaheads. Ask the parser state instead.
    expected = set(_accepts(getattr(exc, "state", None)) or exc.expected)
    literals = {lit for lit in (_literal(parser, n) for n in expected) if lit is not None}
    start = tok.start_pos if tok.start_pos is not None else len(source.text)
    layout = getattr(parser.options, "postlex", None)
    opens = list(getattr(layout, "open_brackets", ()) or ())
    if tok.type in ("_NEWLINE", "_DEDENT", "$END") or expected == {"_INDENT"}:
        # point just after the last code on the line that stopped too early
        at = _end_of_code_before(source, start if tok.type != "$END" else len(source.text))
        span = Span(source, at, at + 1)
    elif tok.type == "_INDENT":
        at = tok.end_pos - len(tok.value) if tok.end_pos else start
        span = Span(source, at, at + max(1, len(tok.value)))
    elif tok.value == "*" and source.text[start - 1:start] == "*":
        return error("E0003", "`**` is not an operator", Span(source, start - 1, start + 1),
                     hint="powers are written `x ^ 2`")
    else:
        span = Span(source, start, tok.end_pos if tok.end_pos else start + 1)
    if expected == {"_INDENT"} and tok.type != "_INDENT":
        code = "E0004" if tok.type == "$END" else "E0003"
        return error(code, "expected an indented block after this line", span,
                     hint="a line ending in `:` opens a block: indent the lines that belong to it")
    if tok.type in ("RPAR", "RSQB"):
        opener, closer = getattr(layout, "last_pair", (None, None))
        if closer is None or closer.start_pos != tok.start_pos:
            opener = opens[-1] if opens else None        # the lexer stopped before the layout saw it
        if opener is None:
            return error("E0003", f"unmatched `{tok.value}`", span,
                         hint=f"this `{tok.value}` closes no bracket; remove it or add the "
                              f"missing `{'(' if tok.type == 'RPAR' else '['}` before it")
        if (opener.type, tok.type) not in (("LPAR", "RPAR"), ("LSQB", "RSQB")):
            bracket = opener
            line, col = source.line_col(bracket.start_pos)
            want = ")" if bracket.type == "LPAR" else "]"
            return error("E0003", f"`{tok.value}` cannot close the `{bracket.value}` opened at {line}:{col}", span,
                         notes=[Note(f"the `{bracket.value}` is opened here",
                                     Span(source, bracket.start_pos, bracket.end_pos))],
                         hint=f"close the `{bracket.value}` with `{want}`")
    if opens and tok.type not in ("_INDENT", "_DEDENT", "$END") and _starts_line(source, start) \
            and source.line_col(start)[0] > source.line_col(opens[-1].start_pos)[0]:
        # a line that cannot continue the expression above: most likely a bracket was left open
        bracket = opens[-1]
        want = ")" if bracket.type == "LPAR" else "]"
        return error("E0003", f"unclosed `{bracket.value}`", Span(source, bracket.start_pos, bracket.end_pos),
                     notes=[Note(f"the next line starts with {_token_words(tok)}, which cannot continue "
                                 "the expression", span)],
                     hint=f"close it with `{want}`; inside brackets a line break continues the line")
    if _starts_line(source, start) and tok.type not in ("_NEWLINE", "_DEDENT", "_INDENT", "$END"):
        if expected - {"_NEWLINE", "$END"}:   # "expected the end of the line" before a line's first word
            expected -= {"_NEWLINE", "$END"}
    if tok.type == "$END":
        return error("E0004", f"the file ends early; expected {expected_words(parser, expected)}", span,
                     hint=_hint(tok.type, "", expected, literals, source, span.start))
    if tok.type == "_INDENT":
        return error("E0003", "unexpected indentation", span,
                     hint=_hint(tok.type, str(tok.value), expected, literals, source, start))
    return error("E0003", f"unexpected {_token_words(tok)}; expected {expected_words(parser, expected)}",
                 span, hint=_hint(tok.type, str(tok.value), expected, literals, source, start))

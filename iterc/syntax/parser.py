"""Text -> AST. Parse errors become Diagnostics in the language's own words.

The grammar lives in grammar/iter.lark. Lark builds a parse tree (iteratively, so deep
nesting cannot overflow the Python stack); `convert.py` turns it into the AST bottom-up.
Indentation is handled by `_Layout`, a post-lexer that emits INDENT/DEDENT tokens.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from ..diagnostics import Diagnostic, error
from . import ast
from .source import Source, Span

MAX_BRACKET_DEPTH = 64


def grammar_path() -> Path:
    """grammar/ ships inside the wheel (as iterc/_grammar) and sits at the repo root in a checkout."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "_data" / "grammar" / "iter.lark", here.parent / "grammar" / "iter.lark"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("iterc grammar file iter.lark not found")


class _LayoutError(Exception):
    def __init__(self, diagnostic: Diagnostic):
        self.diagnostic = diagnostic


_BRACKETS = {"LPAR": "RPAR", "LSQB": "RSQB"}
_CLOSERS = {"RPAR": "LPAR", "RSQB": "LSQB"}


class _Layout:
    """Post-lexer: INDENT/DEDENT from leading spaces, comment capture, bracket matching."""

    # NAME in every lexer state: otherwise a state that expects only keywords would lex
    # `paramx` as `param` + `x`. With NAME present, lark lexes the whole word and turns it
    # into a keyword only when it equals one.
    always_accept = ("_NEWLINE", "NAME")
    # words that are never names: a NAME token with this text is retyped to the keyword so
    # that a misplaced `else` reads "unexpected `else`", not a puzzling error after it
    hard_keywords = {"else": "ELSE", "elif": "ELIF"}

    def __init__(self) -> None:
        self.source: Optional[Source] = None
        self.comments: list[ast.Comment] = []
        self.open_brackets: list = []        # tokens of the brackets open at the current token
        self.last_pair = (None, None)         # (opener, closer) of the last closing bracket

    def _span(self, start: int, end: int) -> Span:
        return Span(self.source, start, end)

    def _collect_comments(self, tok) -> None:
        text = tok.value
        i = text.find("#")
        while i >= 0:
            j = text.find("\n", i)
            j = len(text) if j < 0 else j
            start = tok.start_pos + i
            self.comments.append(ast.Comment(text[i + 1:j].rstrip("\r"), self._span(start, tok.start_pos + j)))
            i = text.find("#", j)

    def process(self, stream):
        from lark import Token

        levels = [0]
        opens = self.open_brackets = []
        self.last_pair = (None, None)
        first = True
        last = None
        for tok in stream:
            last = tok
            if first and tok.type != "_NEWLINE" and tok.column != 1:
                raise _LayoutError(error("E0006", "unexpected indentation at the start of the file",
                                         self._span(tok.start_pos - tok.column + 1, tok.start_pos),
                                         hint="top-level lines start in the first column"))
            first = False
            if tok.type == "NAME" and tok.value in self.hard_keywords:
                tok = Token.new_borrow_pos(self.hard_keywords[tok.value], tok.value, tok)
            if tok.type in _BRACKETS:
                opens.append(tok)
                if len(opens) > MAX_BRACKET_DEPTH:
                    raise _LayoutError(error(
                        "E0007", f"brackets nested more than {MAX_BRACKET_DEPTH} deep",
                        self._span(tok.start_pos, tok.end_pos),
                        hint="split the expression with `let` bindings"))
            elif tok.type in _CLOSERS:
                # any closer closes the innermost bracket: intervals are written `[0, 1)`; a
                # wrong pair elsewhere is a parse error, and `last_pair` lets errors.py say so
                self.last_pair = (opens.pop() if opens else None, tok)
            if tok.type != "_NEWLINE":
                yield tok
                continue
            self._collect_comments(tok)
            if opens:
                continue                      # a newline inside brackets continues the line
            yield tok
            indent = tok.value.rsplit("\n", 1)[1] if "\n" in tok.value else None
            if indent is None:
                continue
            if "\t" in indent:
                at = tok.end_pos - len(indent) + indent.index("\t")
                raise _LayoutError(error("E0005", "tab character in indentation", self._span(at, at + 1),
                                         hint="indent with spaces only (4 per level is the convention)"))
            width = len(indent)
            if width > levels[-1]:
                levels.append(width)
                yield Token.new_borrow_pos("_INDENT", indent, tok)
            else:
                if width not in levels:
                    at = tok.end_pos
                    deeper = [w for w in levels if w > width]
                    shallower = [w for w in levels if w < width]
                    raise _LayoutError(error(
                        "E0006", f"this line is indented by {width} spaces, which matches no enclosing block",
                        self._span(at - width, at),
                        hint=f"indent it by {deeper[-1]} spaces to stay in the block above, or by "
                             f"{_or_list(shallower[::-1])} to close blocks"))
                while width < levels[-1]:
                    levels.pop()
                    yield Token.new_borrow_pos("_DEDENT", indent, tok)
        if opens:
            bracket = opens[-1]
            want = ")" if bracket.type == "LPAR" else "]"
            raise _LayoutError(error("E0003", f"unclosed `{bracket.value}`",
                                     self._span(bracket.start_pos, bracket.end_pos),
                                     hint=f"close it with `{want}`; inside brackets a line break continues the line"))
        while len(levels) > 1:
            levels.pop()
            yield Token.new_borrow_pos("_DEDENT", "", last) if last is not None else Token("_DEDENT", "")


def _or_list(items) -> str:
    words = [str(i) for i in items]
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


_PARSER = None


def _parser():
    global _PARSER
    if _PARSER is None:
        from lark import Lark

        text = grammar_path().read_text(encoding="utf-8")
        cache_dir = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "iterc"
        cache = True
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
            import hashlib
            digest = hashlib.sha256(text.encode()).hexdigest()[:16]
            cache = str(cache_dir / f"grammar-{digest}.lark-cache")
        except OSError:
            pass
        _PARSER = Lark(text, start="module", parser="lalr", lexer="contextual", postlex=_Layout(),
                       propagate_positions=True, maybe_placeholders=True, cache=cache)
    return _PARSER


def decode(path: str, data: bytes) -> tuple[Optional[Source], list[Diagnostic]]:
    """Bytes -> Source. Invalid UTF-8 is a diagnostic at the offending line and column."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[:exc.start].decode("utf-8", errors="replace")
        src = Source(path, good + "?" + data[exc.end:].decode("utf-8", errors="replace"))
        return None, [error("E0001", f"file is not valid UTF-8 (byte 0x{data[exc.start]:02x})",
                            Span(src, len(good), len(good) + 1),
                            hint="save the file as UTF-8")]
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return Source(path, text), []


def parse_source(source: Source) -> tuple[Optional[ast.Module], list[Diagnostic]]:
    """The fast hand-written parser first; the lark parser (the grammar, and every syntax
    diagnostic) whenever the fast path declines."""
    from .fastparse import fast_parse_or_error

    info: dict = {}
    module, too_deep = fast_parse_or_error(source, info)
    if module is not None:
        return module, []
    if too_deep is not None:
        return None, [too_deep]
    return parse_source_lark(source, valid_until=info.get("valid_until", 0))


def parse_source_lark(source: Source, recover: bool = True, valid_until: int = 0
                      ) -> tuple[Optional[ast.Module], list[Diagnostic]]:
    """Parse with the grammar. On a syntax error, `recover` looks for more errors in the
    other top-level items and members (see recover.py). `valid_until` is where the fast
    parser stopped: the items before it are valid, so the first error is looked for with
    them blanked out (an edit near the end of a long file then costs lark little)."""
    module, diags = None, None
    if valid_until > 0:
        diags = _first_error_after(source, valid_until)
    if diags is None:
        module, diags = _parse_lark(source)
    if module is None and recover and diags:
        from .recover import more_syntax_errors
        diags = diags + more_syntax_errors(source, diags[0], _errors_alone)
    return module, diags


def _first_error_after(source: Source, valid_until: int) -> Optional[list[Diagnostic]]:
    """The first syntax error, found with the text before `valid_until` blanked (offsets
    kept); None when that does not give it for sure (no error: the whole text decides)."""
    from .recover import _reanchor

    text = source.text
    if valid_until >= len(text) or text[valid_until - 1:valid_until] != "\n":
        return None
    head = "".join(ch if ch == "\n" else " " for ch in text[:valid_until])
    module, diags = _parse_lark(Source(source.path, head + text[valid_until:]))
    if module is not None or len(diags) != 1 or diags[0].span is None or diags[0].span.start < valid_until:
        return None
    return [_reanchor(diags[0], source)]


_VALID_PIECES: set = set()


def _errors_alone(source: Source) -> list[Diagnostic]:
    """The syntax errors of one piece of a file (the rest blanked). Most pieces are valid:
    the fast parser says so in a fraction of lark's time, and lark reports the others.
    A piece found valid is remembered by its lines and their relative places, so that a
    long-running process (the language server) re-checks only the pieces that changed."""
    from .fastparse import fast_parse

    lines = source.text.split("\n")
    kept = [(i, line) for i, line in enumerate(lines) if line.strip(" ")]
    key = tuple((i - kept[0][0], line) for i, line in kept) if kept else ()
    if key in _VALID_PIECES:
        return []
    if fast_parse(source) is not None:
        if len(_VALID_PIECES) > 4096:
            _VALID_PIECES.clear()
        _VALID_PIECES.add(key)
        return []
    return _parse_lark(source)[1]


def _parse_lark(source: Source) -> tuple[Optional[ast.Module], list[Diagnostic]]:
    from lark.exceptions import UnexpectedInput, UnexpectedCharacters, UnexpectedToken, UnexpectedEOF

    from .convert import to_ast
    from .errors import describe_unexpected

    parser = _parser()
    layout: _Layout = parser.parser.lexer.postlexer if hasattr(parser.parser.lexer, "postlexer") else parser.options.postlex
    layout.source = source
    layout.comments = []
    text = source.text if source.text.endswith("\n") else source.text + "\n"
    try:
        tree = parser.parse(text)
    except _LayoutError as exc:
        return None, [exc.diagnostic]
    except (UnexpectedCharacters, UnexpectedToken, UnexpectedEOF, UnexpectedInput) as exc:
        return None, [describe_unexpected(exc, source, parser)]
    return to_ast(tree, source, tuple(layout.comments))


def parse_text(text: str, path: str = "<string>") -> tuple[Optional[ast.Module], list[Diagnostic]]:
    return parse_source(Source(path, text.replace("\r\n", "\n").replace("\r", "\n")))

"""`iterc fmt`: one canonical layout for `.iter` files.

    formatted, diagnostics = format_source(text, path)

`formatted` is None when the text does not parse (the diagnostics say why). The style:
4-space indentation; one space around binary operators, `<-` and `=` (but `axis=1` in
calls); no space before `(`, `[`, `,` or `:`; the fewest parentheses the precedence
needs; numbers as written; docstrings re-indented; comments kept where they were;
two blank lines between top-level methods, at most one blank line elsewhere.

Every result is re-parsed and compared with the input (modulo positions) before it is
returned, so a formatter bug raises `FormatterBug` instead of changing a program.
"""
from __future__ import annotations

from typing import Optional

from ..diagnostics import Diagnostic
from ..syntax import ast

__all__ = ["FormatterBug", "format_module", "format_source"]


class FormatterBug(AssertionError):
    """The formatted text would not mean the same program: a bug in iterc, never the user's."""


def format_module(module: ast.Module, *, clarity: bool = True) -> str:
    """Canonical text of a parsed module (its comments come from `module.comments`).
    `clarity=False` drops the one pair of parentheses kept for readers (`a or (b and c)`)."""
    from . import exprs
    from .layout import attach_comments, flatten, render
    from .units import UnitBuilder

    saved, exprs.clarity_parentheses = exprs.clarity_parentheses, clarity
    try:
        units = UnitBuilder(module).build()
        at_end = attach_comments(units, module)
        return render(flatten(units, at_end), module.span.source.text)
    finally:
        exprs.clarity_parentheses = saved


def format_source(text: str, path: str = "<string>", *, verify: bool = True
                  ) -> tuple[Optional[str], list[Diagnostic]]:
    """(canonical text, []) or (None, parse diagnostics)."""
    from ..syntax.parser import parse_text

    if text.startswith("\ufeff"):                          # a byte-order mark is not content
        text = text[1:]
    module, diags = parse_text(text, path)
    if module is None or any(d.is_error for d in diags):
        return None, diags
    formatted = format_module(module)
    if verify:
        try:
            _verify(module, formatted, path)
        except _TooDeep:
            formatted = format_module(module, clarity=False)
            _verify(module, formatted, path)
    return formatted, diags


class _TooDeep(Exception):
    """The extra parentheses pushed bracket nesting past the parser's limit."""


def _verify(module: ast.Module, formatted: str, path: str) -> None:
    from ..syntax.parser import parse_text
    from .same import first_difference

    again, diags = parse_text(formatted, path)
    if again is None and any(d.code == "E0007" for d in diags):
        raise _TooDeep()
    if again is None:
        raise FormatterBug(f"formatting {path} produced text that does not parse: "
                           f"{diags[0].message if diags else '?'}")
    difference = first_difference(module, again)
    if difference is not None:
        raise FormatterBug(f"formatting {path} would change the program ({difference})")

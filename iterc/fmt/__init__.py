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


def format_module(module: ast.Module) -> str:
    """Canonical text of a parsed module (its comments come from `module.comments`)."""
    from .layout import attach_comments, flatten, render
    from .units import UnitBuilder

    units = UnitBuilder(module).build()
    at_end = attach_comments(units, module)
    return render(flatten(units, at_end), module.span.source.text)


def format_source(text: str, path: str = "<string>", *, verify: bool = True
                  ) -> tuple[Optional[str], list[Diagnostic]]:
    """(canonical text, []) or (None, parse diagnostics)."""
    from ..syntax.parser import parse_text

    module, diags = parse_text(text, path)
    if module is None or any(d.is_error for d in diags):
        return None, diags
    formatted = format_module(module)
    if verify:
        _verify(module, formatted, path)
    return formatted, diags


def _verify(module: ast.Module, formatted: str, path: str) -> None:
    from ..syntax.parser import parse_text
    from .same import first_difference

    again, diags = parse_text(formatted, path)
    if again is None:
        raise FormatterBug(f"formatting {path} produced text that does not parse: "
                           f"{diags[0].message if diags else '?'}")
    difference = first_difference(module, again)
    if difference is not None:
        raise FormatterBug(f"formatting {path} would change the program ({difference})")

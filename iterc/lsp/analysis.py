"""One analysis of one document: what `iterc check` reports, plus the AST and the typing
behind it, kept for the editor's questions.

The diagnostics are `api.check_source`'s, the same as the CLI's. A file that does not parse
gets the CLI's syntax diagnostics and, in addition, the checker's diagnostics of every
top-level item that parses on its own: the items with syntax errors are blanked out (spaces,
newlines kept, so offsets stay exact), the rest is parsed and checked as usual. So a
half-typed line in one method leaves the other methods checked, hoverable and navigable.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..check import CheckTrace
from ..diagnostics import Diagnostic
from ..syntax import ast
from ..syntax.source import Source, Span
from .positions import Lines, _units

# diagnostics that a blanked-out `def` or `use` may cause in the items that remain
_CASCADES = ("E0101", "E0115", "E0116")


@dataclass(eq=False)
class Analysis:
    uri: str
    version: Optional[int]
    text: str                                  # the document as the editor has it
    path: str                                  # what the checker calls the file
    source: Optional[Source]                   # the text as the checker reads it
    diagnostics: list[Diagnostic]
    module: Optional[ast.Module] = None        # the whole file's AST, or that of the items that parse
    trace: CheckTrace = field(default_factory=CheckTrace)
    parsed: bool = False                       # the whole text parsed
    blanked: list[tuple[int, int]] = field(default_factory=list)   # [start, end) offsets left out
    lines: Optional[Lines] = None
    internal_error: Optional[str] = None       # iterc itself failed (a bug): said as a diagnostic
    _index: object = None

    def range_of(self, span: Span):
        """The LSP range of a span in this document or in another file."""
        if self.lines is not None and self.owns(span):
            return self.lines.range(span.start, span.end)
        from .positions import lines_of
        encoding = self.lines.encoding if self.lines is not None else "utf-16"
        return lines_of(span.source, encoding).range(span.start, span.end)

    def owns(self, span: Optional[Span]) -> bool:
        return span is not None and self.source is not None and span.source.path == self.source.path \
            and len(span.source.text) == len(self.source.text)

    def in_blanked(self, offset: int) -> bool:
        return any(s <= offset < e for s, e in self.blanked)

    @property
    def index(self):
        if self._index is None:
            from .index import Index
            self._index = Index(self)
        return self._index


def analyze(uri: str, version: Optional[int], text: str, path: str, encoding: str = "utf-16") -> Analysis:
    from ..api import check_source
    from ..syntax.parser import decode

    source, diags = decode(path, text.encode("utf-8", errors="surrogatepass"))
    shift = _units("\ufeff", encoding) if text.startswith("\ufeff") else 0
    if source is None:
        bad = Source(path, text.replace("\r\n", "\n").replace("\r", "\n"))
        return Analysis(uri, version, text, path, None, diags, lines=Lines(bad.text, encoding, shift))
    trace = CheckTrace()
    result = check_source(source, trace)
    a = Analysis(uri, version, text, path, source, list(result.diagnostics), lines=Lines(source.text, encoding, shift))
    if trace.syntax is not None:
        a.parsed, a.trace, a.module = True, trace, trace.syntax
        return a
    if result.diagnostics and all(d.code not in ("E0001", "E0007") for d in result.diagnostics):
        _check_what_parses(a, result.diagnostics)
    return a


def _check_what_parses(a: Analysis, syntax: list[Diagnostic]) -> None:
    """Blank the top-level items that hold a syntax error; parse and check the rest."""
    from ..check import check_module
    from ..syntax.fastparse import fast_parse
    from ..syntax.recover import top_level_items

    source = a.source
    lines = source.text.split("\n")
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line) + 1)
    bad_lines = {source.line_col(d.span.start)[0] - 1 for d in syntax if d.span is not None and d.is_error}
    if not bad_lines:
        return
    items = top_level_items(lines)
    broken = [(s, e) for s, e in items if any(s <= b < e for b in bad_lines)]
    if not broken or any(not any(s <= b < e for s, e in items) for b in bad_lines):
        return
    keep = list(lines)
    names: set[str] = set()
    any_use = False
    for s, e in broken:
        head = lines[s].split()
        if head and head[0] == "def" and len(head) > 1:
            names.add(re.split(r"[^A-Za-z0-9_]", head[1])[0])
        if head and head[0] == "use":
            any_use = True
            if "as" in head:
                names.add(head[-1])
        for i in range(s, e):
            keep[i] = " " * len(lines[i])
        a.blanked.append((starts[s], starts[e] if e < len(starts) else len(source.text)))
    partial = Source(source.path, "\n".join(keep))
    module = fast_parse(partial)
    if module is None:
        from ..syntax.parser import parse_source_lark
        module, _ = parse_source_lark(partial, recover=False)
    if module is None:
        a.blanked = []
        return
    trace = CheckTrace()
    _, more = check_module(module, trace)
    extra = []
    for d in more:
        if d.span is None or d.code == "W0005" or not a.owns(d.span) or a.in_blanked(d.span.start):
            continue
        if d.code in _CASCADES and (any_use or d.span.text in names or any(f"`{n}`" in d.message for n in names)):
            continue
        extra.append(d)
    a.diagnostics = sorted(a.diagnostics + extra, key=Diagnostic.sort_key)
    a.module, a.trace = module, trace


def file_path_for(uri: str) -> str:
    """The path the checker gets: the file's own for a file: URI (so `use` finds its
    neighbours, and messages name it), else the URI itself."""
    from .positions import uri_to_path
    path = uri_to_path(uri)
    if path is None:
        return uri
    return str(Path(path))

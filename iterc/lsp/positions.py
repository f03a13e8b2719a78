"""Offsets in a Source <-> LSP positions (line, character in the negotiated unit), and
file paths <-> URIs.

The checker's offsets count Python characters (code points) in the text as decoded (a
byte-order mark dropped, CRLF turned into LF). LSP counts lines the same way and columns
in UTF-16 units by default (UTF-8 or UTF-32 when the client asked for them), so a column
is converted on its line only, and only when the line is not ASCII.
"""
from __future__ import annotations

import bisect
from pathlib import Path
from typing import Optional
from urllib.parse import unquote, urlparse

from lsprotocol import types

from ..syntax.source import Source, Span


def _units(text: str, encoding: str) -> int:
    if text.isascii() or encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", errors="surrogatepass"))
    return len(text.encode("utf-16-le", errors="surrogatepass")) // 2


def _chars(line: str, units: int, encoding: str) -> int:
    """How many characters of `line` make `units` code units (clamped to the line)."""
    if line.isascii() or encoding == "utf-32":
        return max(0, min(units, len(line)))
    count = 0
    for i, ch in enumerate(line):
        if count >= units:
            return i
        count += _units(ch, encoding)
    return len(line)


class Lines:
    """Line starts of one text, for converting offsets and positions."""

    def __init__(self, text: str, encoding: str = "utf-16", column_shift: int = 0):
        self.text = text
        self.encoding = encoding
        self.shift = column_shift          # a byte-order mark the checker dropped, on line 0
        starts = [0]
        find, i = text.find, text.find("\n")
        while i >= 0:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self.starts = starts

    def line_text(self, line: int) -> str:
        start = self.starts[line]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    def position(self, offset: int) -> types.Position:
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self.starts, offset) - 1
        prefix = self.text[self.starts[line]:offset]
        col = _units(prefix, self.encoding)
        if line == 0:
            col += self.shift
        return types.Position(line=line, character=col)

    def offset(self, pos: types.Position) -> int:
        if pos.line >= len(self.starts):
            return len(self.text)
        line = max(0, pos.line)
        units = pos.character - (self.shift if line == 0 else 0)
        return self.starts[line] + _chars(self.line_text(line), units, self.encoding)

    def range(self, start: int, end: int) -> types.Range:
        return types.Range(start=self.position(start), end=self.position(max(start, end)))


_LINES_CACHE: dict[int, tuple[Source, Lines]] = {}


def lines_of(source: Source, encoding: str = "utf-16") -> Lines:
    """The Lines of a Source (cached while the Source lives)."""
    hit = _LINES_CACHE.get(id(source))
    if hit is not None and hit[0] is source and hit[1].encoding == encoding:
        return hit[1]
    if len(_LINES_CACHE) > 64:
        _LINES_CACHE.clear()
    lines = Lines(source.text, encoding)
    _LINES_CACHE[id(source)] = (source, lines)
    return lines


def span_range(span: Span, encoding: str = "utf-16", lines: Optional[Lines] = None) -> types.Range:
    lines = lines if lines is not None and lines.text is span.source.text else lines_of(span.source, encoding)
    return lines.range(span.start, span.end)


def uri_to_path(uri: str) -> Optional[str]:
    """The file system path of a file: URI; None for other schemes (untitled:, ...)."""
    parsed = urlparse(uri)
    if parsed.scheme != "file":
        return None
    path = unquote(parsed.path)
    if parsed.netloc and parsed.netloc != "localhost":
        path = f"//{parsed.netloc}{path}"
    return path


def path_to_uri(path: str) -> str:
    if "://" in path or path.startswith("untitled:"):
        return path
    try:
        return Path(path).resolve().as_uri()
    except ValueError:
        return path

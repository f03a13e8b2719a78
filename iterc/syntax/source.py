"""Source text and spans: every AST node, IR value and diagnostic points back here."""
from __future__ import annotations

import bisect

from .._records import Record


class Source(Record):
    """One `.iter` file's text, with line starts for offset -> (line, col).
    Compared by identity."""

    _fields = ("path", "text")

    def __init__(self, path: str, text: str):
        self.path = path
        self.text = text
        starts = [0]
        find = text.find
        i = find("\n")
        while i >= 0:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self._line_starts = starts

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def line_col(self, offset: int) -> tuple[int, int]:
        """1-based line and column of a character offset."""
        offset = max(0, min(offset, len(self.text)))
        line = bisect.bisect_right(self._line_starts, offset) - 1
        return line + 1, offset - self._line_starts[line] + 1

    def line_text(self, line: int) -> str:
        start = self._line_starts[line - 1]
        end = self.text.find("\n", start)
        return self.text[start:] if end < 0 else self.text[start:end]

    @property
    def line_count(self) -> int:
        return len(self._line_starts)


class Span(Record):
    """A half-open character range [start, end) in one Source. Equal spans have the same
    source (by identity), start and end."""

    __slots__ = ("source", "start", "end")

    def __init__(self, source: Source, start: int, end: int):
        self.source = source
        self.start = start
        self.end = end

    def __eq__(self, other):
        if other.__class__ is Span:
            return self.start == other.start and self.end == other.end and self.source is other.source
        return NotImplemented

    def __ne__(self, other):
        if other.__class__ is Span:
            return not (self.start == other.start and self.end == other.end and self.source is other.source)
        return NotImplemented

    def __hash__(self):
        return hash((self.source, self.start, self.end))

    def to(self, other: "Span") -> "Span":
        return Span(self.source, min(self.start, other.start), max(self.end, other.end))

    @property
    def text(self) -> str:
        return self.source.text[self.start:self.end]

    def __repr__(self) -> str:
        line, col = self.source.line_col(self.start)
        return f"<{self.source.path}:{line}:{col}>"

"""Source text and spans: every AST node, IR value and diagnostic points back here."""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field


@dataclass(eq=False)
class Source:
    """One `.iter` file's text, with line starts for offset -> (line, col)."""

    path: str
    text: str
    _line_starts: list[int] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        starts = [0]
        find, i = self.text.find, self.text.find("\n")
        while i >= 0:
            starts.append(i + 1)
            i = find("\n", i + 1)
        self._line_starts = starts

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


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open character range [start, end) in one Source."""

    source: Source
    start: int
    end: int

    def to(self, other: "Span") -> "Span":
        return Span(self.source, min(self.start, other.start), max(self.end, other.end))

    @property
    def text(self) -> str:
        return self.source.text[self.start:self.end]

    def __repr__(self) -> str:
        line, col = self.source.line_col(self.start)
        return f"<{self.source.path}:{line}:{col}>"

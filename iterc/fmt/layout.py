"""Units + comments -> text: where comments go, how deep they sit, where blank lines go.

Comments:
- a comment alone on its line is printed above the next unit; its depth is the deepest
  block, among those it can legally sit in there, whose column it reaches (so a comment
  that closed a block in the source still closes it);
- a comment after code stays after that code (`x <- 1  # why`); when a unit's source
  spanned several lines and held several comments, all but the last move above it;
  trailing comments on consecutive lines line up.
Comments never change the parse (they are part of the newline token), so any placement
is safe; the rules only aim to keep each comment next to what it talked about, and to
be a fixed point: formatting formatted text changes nothing.

Blank lines: two between top-level methods and long `def`s (a block of comments directly
above one counts as part of it; the comments that open a file are its header and keep a
single blank line); elsewhere one where the source had one or more, none right after a
line that opens a block, none at the start or end of the file.
"""
from __future__ import annotations

import bisect
from typing import Optional

from ..syntax import ast
from .units import INDENT, Unit

_BIG = ("method", "def")


def _comment_unit(c: ast.Comment, line: int, col: int) -> Unit:
    return Unit(level=0, text="#" + c.text.rstrip(), first=line, last=line, col=col, comment=True)


class _Lines:
    def __init__(self, text: str):
        self.blank_prefix = [0]
        for line in text.split("\n"):
            self.blank_prefix.append(self.blank_prefix[-1] + (not line.strip()))

    def any_blank(self, lo: int, hi: int) -> bool:
        """Is any of the 1-based source lines lo..hi (inclusive) blank?"""
        if hi < lo:
            return False
        hi = min(hi, len(self.blank_prefix) - 1)
        return lo <= hi and self.blank_prefix[hi] - self.blank_prefix[lo - 1] > 0


def attach_comments(units: list[Unit], module: ast.Module) -> list[Unit]:
    """Distribute comments onto units (above/trailing); returns comments left at the end."""
    source = module.span.source
    firsts = [u.first for u in units]
    at_end: list[Unit] = []

    def after(i: int) -> list[Unit]:                       # the list just after unit i
        return units[i + 1].above if i + 1 < len(units) else at_end

    for c in module.comments:
        line, col1 = source.line_col(c.span.start)
        own_line = not source.line_text(line)[:col1 - 1].strip()
        unit = _comment_unit(c, line, col1 - 1)
        i = bisect.bisect_right(firsts, line) - 1          # last unit starting at or before it
        if i < 0:
            after(-1).append(unit)
            continue
        u = units[i]
        something_after = bool(after(i))
        if not own_line and not something_after:
            if u.trailing is not None:
                u.above.append(_moved(u.trailing, u))
            u.trailing = unit.text
        elif own_line and line <= u.last and not something_after:
            unit.level, unit.col = u.level, -1              # inside a multi-line unit: above it
            if u.trailing is not None:
                u.above.append(_moved(u.trailing, u))
                u.trailing = None
            u.above.append(unit)
        else:
            if not own_line:                               # keep comment order: no longer trailing
                unit.col = -1
            after(i).append(unit)
    return at_end


def _moved(text: str, u: Unit) -> Unit:
    return Unit(level=u.level, text=text, first=u.first, last=u.first, col=-1, comment=True)


def flatten(units: list[Unit], at_end: list[Unit]) -> list[Unit]:
    """Interleave comments with units, choosing each comment's depth."""
    out: list[Unit] = []
    chain: list[int] = []          # chain[l]: source column of the latest unit at depth l
    prev: Optional[Unit] = None

    def place(c: Unit, nxt_level: int) -> None:
        if c.col < 0:              # moved next to its unit: same depth
            c.level = nxt_level
            out.append(c)
            return
        level = nxt_level
        if prev is not None:
            top = prev.level + (1 if prev.opener else 0)
            for cand in range(nxt_level, top + 1):
                col = chain[cand] if cand < len(chain) else chain[-1] + 1
                if col <= c.col:
                    level = cand
        c.level = level
        out.append(c)

    for u in units:
        for c in u.above:
            place(c, u.level)
        out.append(u)
        del chain[u.level:]
        chain.append(u.col)
        prev = u
    for c in at_end:
        place(c, 0)
    return out


def render(items: list[Unit], source_text: str) -> str:
    lines = _Lines(source_text)
    n = len(items)
    # Top-level comments directly above a top-level unit (no blank line between) belong to it.
    attached = [False] * n
    for k in range(n - 2, -1, -1):
        it, nxt = items[k], items[k + 1]
        if it.comment and it.level == 0 and nxt.level == 0 and (not nxt.comment or attached[k + 1]) \
                and not lines.any_blank(it.last + 1, nxt.first - 1):
            attached[k] = True
    kinds: list[str] = [""] * n    # the top-level group each item belongs to
    for k in range(n - 1, -1, -1):
        it = items[k]
        if it.level == 0 and not it.comment:
            kinds[k] = it.top or ""
        elif it.level == 0 and attached[k]:
            kinds[k] = kinds[k + 1]
        elif it.level == 0:
            kinds[k] = "comment"
    current = ""
    for k in range(n):             # nested items belong to the top-level unit above them
        if items[k].level == 0:
            current = kinds[k]
        else:
            kinds[k] = current

    header = 0                     # leading free comments: the file's header, kept close
    while header < n and items[header].level == 0 and kinds[header] == "comment":
        header += 1
    out: list[str] = []
    trailing: list = []            # the trailing comment of each line of `out`, or None

    def blank_lines(count: int) -> None:
        out.extend([""] * count)
        trailing.extend([None] * count)

    for k, it in enumerate(items):
        if k > 0:
            prev = items[k - 1]
            blank = lines.any_blank(prev.last + 1, it.first - 1)
            if it.level == 0:
                if it.comment and not attached[k]:
                    starts = not (prev.level == 0 and prev.comment and not attached[k - 1])
                else:
                    starts = not (prev.level == 0 and prev.comment and attached[k - 1])
                if starts and k != header and (kinds[k] in _BIG or kinds[k - 1] in _BIG):
                    blank_lines(2)
                elif blank and not (prev.level == 0 and prev.comment and attached[k - 1]):
                    blank_lines(1)
            elif blank and not prev.opener:
                blank_lines(1)
        physical = (INDENT * it.level + it.text).split("\n")
        out.extend(physical)
        trailing.extend([None] * (len(physical) - 1) + [it.trailing])
    return "\n".join(_with_trailing(out, trailing)) + "\n" if out else ""


def _with_trailing(lines: list[str], trailing: list) -> list[str]:
    """Append trailing comments; those on consecutive lines of one block line up, two
    spaces after the longest line of the run (as gofmt does)."""
    result = list(lines)
    k = 0
    while k < len(lines):
        if trailing[k] is None:
            k += 1
            continue
        end = k
        while end + 1 < len(lines) and trailing[end + 1] is not None \
                and _indent(lines[end + 1]) == _indent(lines[k]):
            end += 1
        column = max(len(lines[j]) for j in range(k, end + 1)) + 2
        for j in range(k, end + 1):
            result[j] = lines[j].ljust(column) + trailing[j]
        k = end + 1
    return result


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))

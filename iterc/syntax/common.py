"""What the two parsers (the lark grammar's, convert.py, and the fast one, fastparse.py)
share without importing each other: the depth limit and docstring cleaning."""
from __future__ import annotations

MAX_EXPR_DEPTH = 200          # the deepest expression later (recursive) passes accept (E0007)


def unquote(raw: str) -> str:
    if raw.startswith('"""'):
        return raw[3:-3]
    return raw[1:-1]


def clean_doc(raw: str) -> str:
    """A docstring token's text: unquoted, its first line stripped, the rest dedented."""
    lines = unquote(raw).strip("\n").split("\n")
    indents = [len(l) - len(l.lstrip(" ")) for l in lines[1:] if l.strip()]
    cut = min(indents) if indents else 0
    return "\n".join([lines[0].strip()] + [l[cut:].rstrip() for l in lines[1:]]).strip()

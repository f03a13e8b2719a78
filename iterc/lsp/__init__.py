"""`iterc lsp`: a language server for `.iter` files, on stdin/stdout.

It runs the same parser and checker as `iterc check` (so diagnostics are the CLI's) and
answers hover, go to definition, references, rename, completion, signature help,
document symbols, formatting (`iterc fmt`), semantic tokens, code actions and inlay hints.
Modules: analysis.py (one analysis of a document), index.py (names and what they refer
to), features.py and complete.py (the answers), server.py (pygls wiring).
Needs the `lsp` extra: `pip install "iterc[lsp]"`.
"""
from __future__ import annotations


def main() -> None:
    from .server import serve
    serve()

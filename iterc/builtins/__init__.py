"""The builtin registry: one `Builtin` entry per callable, operator and shape op.

An entry holds everything every stage needs to know about a builtin: its signature, its
shape and element-type rule (used by the checker), its kind (used by IR passes:
elementwise runs, reductions, matmuls, library calls) and its lowering per backend.
Adding a builtin is adding one entry in `catalog.py`.
"""
from .registry import (Builtin, BuiltinError, ByShape, Infix, Prefix, Sig, REGISTRY, OPERATORS,
                       UNARY_OPERATORS, lookup)
from . import catalog as _catalog  # noqa: F401  (fills REGISTRY)

__all__ = ["Builtin", "BuiltinError", "ByShape", "Infix", "Prefix", "Sig", "REGISTRY", "OPERATORS",
           "UNARY_OPERATORS", "lookup"]

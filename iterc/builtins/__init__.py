"""The builtin registry: one `Builtin` entry per callable, operator and shape op.

An entry holds what every stage needs to know about a builtin: its signature, its shape
and element-type rule (used by the checker), its kind (used by IR passes: elementwise
runs, reductions, matmuls, library calls), and, for a composite, its decomposition into
primitives. How each target spells a builtin lives in that backend's lowering table
(`iterc/backends/<target>/lowering.py`). Adding a builtin is one entry in `catalog.py`,
plus a line per backend table where it is a primitive.
"""
from .registry import (Builtin, BuiltinError, Kind, Sig, REGISTRY, OPERATORS, UNARY_OPERATORS, lookup,
                       result_type)
from . import catalog as _catalog  # noqa: F401  (fills REGISTRY)

PRIMITIVES = frozenset(name for name, entry in REGISTRY.items() if entry.primitive)

__all__ = ["Builtin", "BuiltinError", "Kind", "Sig", "REGISTRY", "OPERATORS", "UNARY_OPERATORS", "lookup",
           "result_type", "PRIMITIVES"]

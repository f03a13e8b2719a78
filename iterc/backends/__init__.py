"""Backends: each turns IR into Python source for one target. The registry's `lower`
tables say how each builtin is written per target; a backend is the statement and
module scaffolding around them. This module imports nothing heavy: the CLI reads the
target lists from here."""
from __future__ import annotations

TARGETS = ("numpy", "jax", "torch", "triton")
AVAILABLE = ("numpy",)                  # targets whose backend has landed


class TargetUnavailable(Exception):
    pass


def emit(module, target: str) -> str:
    """Python source of `module` (an iterc.ir.ModuleIR) for `target`."""
    if target == "numpy":
        from .numpy_target import emit_module
        return emit_module(module)
    if target in TARGETS:
        raise TargetUnavailable(f"target `{target}` is not available yet; available: {', '.join(AVAILABLE)}")
    raise TargetUnavailable(f"unknown target `{target}`; targets: {', '.join(TARGETS)}")

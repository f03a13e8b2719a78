"""Backends: each turns IR into Python source for one target. The registry's `lower`
tables say how each builtin is written per target; a backend is the statement and
module scaffolding around them."""
from __future__ import annotations

from ..ir import ModuleIR

TARGETS = ("numpy", "jax", "torch", "triton")
AVAILABLE = ("numpy",)


class TargetUnavailable(Exception):
    pass


def emit(module: ModuleIR, target: str) -> str:
    if target == "numpy":
        from .numpy_target import emit_module
        return emit_module(module)
    if target in TARGETS:
        raise TargetUnavailable(f"target `{target}` is not available yet; available: {', '.join(AVAILABLE)}")
    raise TargetUnavailable(f"unknown target `{target}`; targets: {', '.join(TARGETS)}")

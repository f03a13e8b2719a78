"""Backends: each turns IR into Python source for one target, one folder per target.

A backend owns its lowering table (`<target>/lowering.py`): how it spells each
primitive and which composites it writes itself. `emit` runs the shared IR passes
(CSE, DCE, decomposition of the composites the target does not keep, state liveness),
checks that every op has a lowering (else a located diagnostic), then prints. This
module imports nothing heavy: the CLI reads the target lists from here.
"""
from __future__ import annotations

import os

TARGETS = ("numpy", "jax", "torch", "triton")
AVAILABLE = ("numpy", "jax")                  # targets whose backend has landed


class TargetUnavailable(Exception):
    pass


def target_of(name: str):
    """The lowering Target of a backend (its table and namespace)."""
    if name == "numpy":
        from .numpy import NUMPY
        return NUMPY
    if name == "jax":
        from .jax import JAX
        return JAX
    if name in TARGETS:
        raise TargetUnavailable(f"target `{name}` is not available yet; available: {', '.join(AVAILABLE)}")
    raise TargetUnavailable(f"unknown target `{name}`; targets: {', '.join(TARGETS)}")


def prepare(module, target):
    """The IR a backend prints: optimized for `target`, verified when ITERC_VERIFY=1."""
    from ..ir import optimize_module
    from .pyexpr import check_lowerable
    verify = None
    if os.environ.get("ITERC_VERIFY") == "1":
        from ..ir.verify import verify_method as verify
    module = optimize_module(module, verify=verify, keep=target.keep, update=target.update)
    check_lowerable(target, module.methods)
    return module


def emit(module, target: str) -> str:
    """Python source of `module` (an iterc.ir.ModuleIR) for `target`."""
    t = target_of(target)
    module = prepare(module, t)
    if target == "numpy":
        from .numpy import emit_module
        return emit_module(module, t)
    if target == "jax":
        from .jax import emit_module
        return emit_module(module, t)
    raise TargetUnavailable(f"target `{target}` is not available yet")

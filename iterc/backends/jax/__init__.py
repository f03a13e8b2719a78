"""The JAX backend: optax transformations for optimizers, lax-loop solvers. Printing JAX
code imports nothing from JAX; only running the generated module does."""
from .emit import emit_module
from .lowering import JAX

__all__ = ["emit_module", "JAX"]

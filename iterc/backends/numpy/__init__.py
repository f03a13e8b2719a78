"""The numpy backend: the reference every other backend is tested against."""
from .emit import emit_module
from .lowering import NUMPY

__all__ = ["emit_module", "NUMPY"]

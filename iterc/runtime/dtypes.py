"""Storage dtypes and the compute policy every backend follows.

Policy: a value is stored in its slot's dtype (a state declared `f32` stays f32; an
undeclared state is stored like its parameter leaf), and the step computes in
float32 when the parameter leaf is stored in a 16-bit float (bf16, f16), else in the
leaf's own dtype. Loads cast to the compute dtype, stores cast back.
"""
from __future__ import annotations

import ml_dtypes
import numpy as np

NUMPY_DTYPES = {"f64": np.dtype(np.float64), "f32": np.dtype(np.float32), "f16": np.dtype(np.float16),
                "bf16": np.dtype(ml_dtypes.bfloat16), "int": np.dtype(np.int64), "bool": np.dtype(np.bool_)}
_HALF = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))


def numpy_dtype(name, like=None) -> np.dtype:
    """The numpy dtype of a storage name; `like_param` (or None) is `like`'s dtype."""
    if name in (None, "like_param", "real"):
        return np.dtype(like) if like is not None else np.dtype(np.float64)
    if isinstance(name, str):
        return NUMPY_DTYPES[name]
    return np.dtype(name)


def compute_dtype(storage) -> np.dtype:
    storage = np.dtype(storage)
    if storage in _HALF:
        return np.dtype(np.float32)
    if not np.issubdtype(storage, np.floating):
        return np.dtype(np.float64)
    return storage


def is_float(dtype) -> bool:
    dtype = np.dtype(dtype)
    return np.issubdtype(dtype, np.floating) or dtype in _HALF

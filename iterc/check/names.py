"""Name rules: reserved words and "did you mean" suggestions."""
from __future__ import annotations

import keyword
from typing import Iterable, Optional

from ..diagnostics import Suggestion

# words of the language itself; contextual in the grammar, but never usable as names
LANGUAGE_WORDS = frozenset("""
use as def return optimizer solver hyper param oracle state shared eval input dims let output step until
max every if elif else for in repeat assume converges by cite where true false inf None
and or not rule otherwise
""".split()) - {"max"}              # `max` is also a builtin function

ORACLE_KINDS = ("grad", "value", "hvp", "hess_diag", "rand_normal")
DOMAINS = {"simplex": 0, "nonneg": 0, "positive": 0, "box": 2, "ball": 1, "sphere": 0, "psd": 0, "stiefel": 0}
FACTS = {"convex": 0, "strongly_convex": 1, "smooth": 1, "lipschitz": 1, "monotone": 0,
         "nonexpansive": 0, "contractive": 1}


# Names that generated code of some backend refers to: module aliases, the hyper record
# `hp`, and the Python builtins the emitters call. A user name must not shadow them.
GENERATED_NAMES = frozenset(("np", "rt", "math", "hp", "jnp", "jax", "lax", "optax", "torch", "triton", "tl",
                             "range", "float", "int", "bool", "len", "dims"))


def reserved_reason(name: str) -> Optional[str]:
    if name.startswith("_"):
        return "names starting with `_` are reserved for generated code"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in GENERATED_NAMES:
        return f"`{name}` is reserved in the generated Python"
    if name in LANGUAGE_WORDS:
        return f"`{name}` is a word of the .iter language"
    return None


def suggest(name: str, candidates: Iterable[str]) -> Optional[str]:
    pool = sorted(set(c for c in candidates if c != name))
    import difflib                          # only when there is something to suggest

    match = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    if not match:
        lowered = {c.lower(): c for c in pool}
        if name.lower() in lowered:
            return lowered[name.lower()]
        return None
    return match[0]


def did_you_mean(name: str, candidates: Iterable[str]) -> Optional[Suggestion]:
    """The hint "did you mean `x`?"; it also carries both names, so the diagnostic offers the
    replacement as a fix."""
    s = suggest(name, candidates)
    return Suggestion(f"did you mean `{s}`?", name, s) if s else None


# Functions people reach for that are not builtins yet (they need several results), with
# what to write today. Checked before "did you mean": `eig` is not a misspelling of `eye`.
NOT_YET = {
    "eig": "only the symmetric eigendecomposition is a builtin: `let w, V = eigh(A)`",
}


def unknown_function_hint(name: str, candidates: Iterable[str]) -> Optional[str]:
    """The hint for a call of an unknown function: what to write instead of a known future
    builtin, the iterc spelling of a numpy/torch name, else a "did you mean"."""
    if name in NOT_YET:
        return f"`{name}` is not a builtin yet: {NOT_YET[name]}"
    return LOOKALIKES.get(name) or did_you_mean(name, candidates)


# Names of numpy/torch functions that users reach for, with the iterc way to write them:
# an unknown function by one of these names gets this hint instead of a guess.
LOOKALIKES = {
    "matmul": "write the matrix product as `a @ b`",
    "mm": "write the matrix product as `a @ b`",
    "transpose": "write the transpose as `x.T`",
    "pow": "write powers as `x ^ p`",
    "power": "write powers as `x ^ p`",
    "square": "write `x * x` (or `x ^ 2`)",
    "maximum": "`max(a, b)` is the elementwise maximum",
    "minimum": "`min(a, b)` is the elementwise minimum",
    "fabs": "`abs(x)` is the absolute value",
    "relu": "write `max(x, 0)`",
    "lerp": "write `a + w * (b - a)`",
    "rsqrt": "write `1 / sqrt(x)`",
    "frobenius_norm": "`norm(X)` of a matrix is its Frobenius norm",
    "l2_norm": "`norm(x)` is the Euclidean norm of a leaf (and `global_norm(x)` over all leaves)",
    "reshape": "a rule viewed `as matrix` sees rank >= 2 leaves as [shape[0], rest]; there is no general reshape",
}

"""Shape checks of the reduced decompositions `qr(A)`, `svd(A)` and `svd(A, r)`, shared by
every backend's runtime (plain Python on static shapes: numpy checks when the step runs,
JAX when it traces).

Their result types are [m, n]-shaped for an [m, n] argument, which holds only for a tall or
square matrix (m >= n), and the top r needs r <= min(m, n); the checker cannot know this of
symbolic sizes, so a violation is a ValueError here, naming the builtin, both sizes and the
fix, before numpy or JAX sees the matrix.
"""
from __future__ import annotations


def check_qr(shape) -> None:
    m, n = _matrix("qr", shape)
    if m < n:
        raise ValueError(f"qr of a wide matrix: its argument is [{m}, {n}] ({m} rows < {n} columns), but "
                         f"`let Q, R = qr(A)` needs rows >= columns (Q is [m, n] with orthonormal columns, "
                         f"R [n, n]); take qr(A.T) (A.T = Q R, so A = R.T Q.T)")


def check_svd(shape, r=None) -> None:
    m, n = _matrix("svd", shape)
    if r is None:
        if m < n:
            raise ValueError(f"svd of a wide matrix: its argument is [{m}, {n}] ({m} rows < {n} columns), but "
                             f"the thin `let U, s, Vt = svd(A)` needs rows >= columns (U is [m, n], s [n], "
                             f"Vt [n, n]); take svd(A.T) and swap: A.T = U diag(s) Vt gives A = Vt.T diag(s) U.T "
                             f"(or the top r of A with svd(A, r))")
        return
    if not 1 <= r <= min(m, n):
        raise ValueError(f"svd(A, r) asks for r = {r} singular triplets, but its argument is [{m}, {n}], "
                         f"which has {min(m, n)} (the smaller of its rows and columns); take 1 <= r <= {min(m, n)}")


def _matrix(name: str, shape) -> tuple:
    if len(shape) != 2:
        raise ValueError(f"{name} needs a matrix (rank 2), but its argument has shape {tuple(shape)}")
    return int(shape[0]), int(shape[1])

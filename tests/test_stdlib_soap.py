"""The stdlib `soap` against pytorch_optimizer.SOAP (4.1.0), and a convergence smoke test.

One tree mixing 0-d, 1-d (two sizes), 2-d (wide and tall) and 4-d leaves, gradient
`noise + x`, 100 steps in float64, compared on the parameters (the eigenbases are defined
up to the order and signs of their columns, to which the step is invariant).

- The 4-d leaf [5, 2, 2, 1] is our `as matrix` view [5, 4]. The reference's default
  (merge_dims=False) preconditions each of the four axes instead; with merge_dims=True it
  first reshapes by merge_small_dims, which gives [5, 4] at max_precondition_dim=5. So the
  4-d leaf is handed to the reference in its own param group with those two settings (the
  test checks that merge_small_dims gives our view), the other leaves in a group with the
  defaults (max_precondition_dim 10000, above every size here).
- The reference runs its QR power iteration in float32 (`power_iter.to(torch.float32)`),
  whatever the parameter's dtype; we run it in the leaf's dtype. Unmodified it agrees to
  about 5e-8 of the parameters' scale over 100 steps (rtol 1e-5 asserted); with that one cast taken out of its
  source (edited at that call only) both sides are the same float64 algorithm and agree to
  rounding (rtol 1e-10).
- The first eigenbasis is eigh of one gradient's statistics: G G^T and G^T G for a matrix,
  g g^T (rank 1) for a vector when precondition_1d. Where a null space has dimension >= 2,
  any orthonormal basis of it is an eigenbasis; torch's and numpy's eigh pick different
  ones and the method's path depends on the pick (2.5e-3 relative after 100 steps in a trial).
  The matrix leaves are chosen with |m - n| <= 1 (null spaces of dimension <= 1: one
  vector up to sign); for precondition_1d the reference's get_orthogonal_matrix is run with
  numpy's eigh in place of torch's (its flip to descending order kept), so that both sides
  take the same basis; everything else is the reference's code.
"""
import inspect
import textwrap

import numpy as np
import pytest

import iterc
from reference import gradient, problem

torch = pytest.importorskip("torch")
pytorch_optimizer = pytest.importorskip("pytorch_optimizer")
from pytorch_optimizer.optimizer import soap as ps  # noqa: E402
from pytorch_optimizer.optimizer.utils.shape import merge_small_dims  # noqa: E402

SHAPES = [(), (5,), (4, 5), (6, 5), (5, 2, 2, 1), (1,)]
FOUR_D = "p4"
STEPS = 100

CASES = [
    (dict(), dict()),
    (dict(lr=0.01, beta1=0.9, beta2=0.99, shampoo_beta=0.9, weight_decay=0.1, precondition_frequency=3),
     dict(lr=0.01, betas=(0.9, 0.99), shampoo_beta=0.9, weight_decay=0.1, precondition_frequency=3)),
    (dict(normalize_gradient=True, correct_bias=False, eps=1e-6, precondition_frequency=1),
     dict(normalize_gradient=True, correct_bias=False, eps=1e-6, precondition_frequency=1)),
]
IDS = ["defaults", "hypers", "normalized_unbiased_every1"]


@pytest.fixture
def torch_float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def _qr_in_float64():
    """pytorch_optimizer.SOAP with its QR in the parameter's dtype (the float32 cast taken out)."""
    src = textwrap.dedent(inspect.getsource(ps.SOAP.get_orthogonal_matrix_qr))
    assert src.count("power_iter.to(torch.float32)") == 1, "SOAP's QR changed: re-read pytorch_optimizer's soap.py"
    namespace = dict(vars(ps))
    exec(src.replace("power_iter.to(torch.float32)", "power_iter"), namespace)
    return type("SOAP64", (ps.SOAP,), {"get_orthogonal_matrix_qr": namespace["get_orthogonal_matrix_qr"]})


def _numpy_eigh(matrices):
    """get_orthogonal_matrix with numpy's eigh for torch's (the same flip to descending)."""
    out = []
    for m in matrices:
        if len(m) == 0:
            out.append([])
            continue
        _, q = np.linalg.eigh(m.numpy() + 1e-30 * np.eye(m.shape[0]))
        out.append(torch.flip(torch.tensor(q), dims=[1]))
    return out


def _theirs(cls, params, noises, kw):
    tp = {k: torch.tensor(np.asarray(v, np.float64), requires_grad=True) for k, v in params.items()}
    assert merge_small_dims(list(params[FOUR_D].shape), 5) == [5, 4]      # our `as matrix` view
    opt = cls([dict(params=[p for k, p in tp.items() if k != FOUR_D]),
               dict(params=[tp[FOUR_D]], merge_dims=True, max_precondition_dim=5)], **kw)
    for noise in noises:
        for k, p in tp.items():
            p.grad = torch.tensor(np.asarray(noise[k])) + p.detach()
        opt.step()
    return {k: p.detach().numpy() for k, p in tp.items()}


def _ours(hypers, params, noises, backend="numpy"):
    method = iterc.load("soap")
    if backend == "numpy":
        opt = method.numpy(**hypers)
        state, x = opt.init(params), params
        for noise in noises:
            x, state = opt.step(x, state, gradient(x, noise))
        return x
    import jax
    import optax
    tx = method.optax(**hypers)
    x = {k: jax.numpy.asarray(v) for k, v in params.items()}
    state = tx.init(x)
    step = jax.jit(lambda x, s, g: (lambda u, s: (optax.apply_updates(x, u), s))(*tx.update(g, s, x)))
    for noise in noises:
        x, state = step(x, state, {k: noise[k] + x[k] for k in x})
    return {k: np.asarray(v) for k, v in x.items()}


def _check(ours, theirs, params, rtol):
    for k in params:
        np.testing.assert_allclose(ours[k], theirs[k], rtol=rtol, atol=rtol * 1e-2, err_msg=k)
        assert np.max(np.abs(theirs[k] - params[k])) > 0.1, k          # every leaf moved


@pytest.mark.parametrize("ours,theirs", CASES, ids=IDS)
def test_soap_matches_pytorch_optimizer(ours, theirs, torch_float64):
    """The reference unmodified (its QR in float32): rtol 1e-5 over 100 steps."""
    params, noises = problem(61, STEPS, SHAPES)
    _check(_ours(ours, params, noises), _theirs(ps.SOAP, params, noises, theirs), params, 1e-5)


@pytest.mark.parametrize("ours,theirs", CASES, ids=IDS)
def test_soap_matches_pytorch_optimizer_with_its_qr_in_float64(ours, theirs, torch_float64):
    """The same algorithm in float64 on both sides: equal to rounding (rtol 1e-10)."""
    params, noises = problem(62, STEPS, SHAPES)
    _check(_ours(ours, params, noises), _theirs(_qr_in_float64(), params, noises, theirs), params, 1e-10)


def test_soap_precondition_1d_matches_pytorch_optimizer(torch_float64, monkeypatch):
    """Vectors preconditioned on one side (H = EMA(g g^T)); the first eigh (of a rank-1
    matrix) taken with numpy's eigh on both sides, see the module docstring."""
    monkeypatch.setattr(ps.SOAP, "get_orthogonal_matrix", staticmethod(_numpy_eigh))
    params, noises = problem(63, STEPS, SHAPES)
    hypers = dict(precondition_1d=True, precondition_frequency=4, weight_decay=0.05)
    _check(_ours(hypers, params, noises), _theirs(_qr_in_float64(), params, noises, hypers), params, 1e-10)


def test_soap_on_jax_matches_pytorch_optimizer_in_float64(torch_float64):
    """The JAX backend (jit, float64) against the reference with its QR in float64."""
    jax = pytest.importorskip("jax")
    pytest.importorskip("optax")
    ours, theirs = CASES[1]
    params, noises = problem(64, STEPS, SHAPES)
    with jax.enable_x64(True):
        x = _ours(ours, params, noises, backend="jax")
    _check(x, _theirs(_qr_in_float64(), params, noises, theirs), params, 1e-9)


def test_soap_defaults_are_pytorch_optimizers():
    sig = inspect.signature(ps.SOAP).parameters
    hp = iterc.load("soap").numpy().hypers
    assert (hp.beta1, hp.beta2) == sig["betas"].default and sig["shampoo_beta"].default is None
    assert hp.shampoo_beta == hp.beta2                                   # None: beta2
    for ours, theirs in [("lr", "lr"), ("weight_decay", "weight_decay"), ("eps", "eps"),
                         ("precondition_frequency", "precondition_frequency"),
                         ("precondition_1d", "precondition_1d"), ("correct_bias", "correct_bias"),
                         ("normalize_gradient", "normalize_gradient")]:
        assert getattr(hp, ours) == sig[theirs].default, ours
    assert iterc.load("soap").numpy(beta2=0.99).hypers.shampoo_beta == 0.99


def test_soap_keeps_only_its_rules_states():
    params, _ = problem(65, 1, SHAPES)
    for hypers, vector in [({}, {"rule", "M", "V"}), (dict(precondition_1d=True), {"rule", "M", "V", "L", "Q"})]:
        leaves = iterc.load("soap").numpy(**hypers).init(params)["leaves"]
        assert set(leaves["p0"]) == {"rule", "M", "V"} and set(leaves["p1"]) == vector
        assert {f: leaves[FOUR_D][f].shape for f in ("V", "L", "R", "QL", "QR")} == \
            {"V": (5, 4), "L": (5, 5), "R": (4, 4), "QL": (5, 5), "QR": (4, 4)}


def test_soap_converges_on_a_least_squares_problem():
    """min 1/2 |A W - B|^2 + 1/2 |C v - d|^2 + 1/2 (s - 3)^2 over a matrix W, a vector v and a
    scalar s (an ill-conditioned A: singular values 1 .. 100), no weight decay: the loss
    falls by 1e4 in 500 steps and every leaf comes near its solution."""
    rng = np.random.default_rng(66)
    U, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    A = U[:, :8] * np.geomspace(1, 100, 8)
    W_star, v_star = rng.normal(size=(8, 6)), rng.normal(size=5)
    B, C = A @ W_star, rng.normal(size=(9, 5))
    d = C @ v_star

    def loss_grad(p):
        rw, rv, rs = A @ p["W"] - B, C @ p["v"] - d, p["s"] - 3.0
        loss = 0.5 * (np.sum(rw ** 2) + np.sum(rv ** 2) + rs ** 2)
        return loss, {"W": A.T @ rw, "v": C.T @ rv, "s": rs}

    opt = iterc.load("soap").numpy(lr=0.02, weight_decay=0.0)
    x = {"W": np.zeros((8, 6)), "v": np.zeros(5), "s": np.array(0.0)}
    state = opt.init(x)
    first, _ = loss_grad(x)
    for _ in range(500):
        _, g = loss_grad(x)
        x, state = opt.step(x, state, g)
    last, _ = loss_grad(x)
    assert last < 1e-4 * first, (first, last)
    np.testing.assert_allclose(x["W"], W_star, atol=0.05)
    np.testing.assert_allclose(x["v"], v_star, atol=0.05)
    assert abs(float(x["s"]) - 3.0) < 0.05

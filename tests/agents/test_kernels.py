"""Recurrence kernels: every kernel equals the per-step autograd reference, masks stay exact."""

from __future__ import annotations

import copy
import re

import pytest

torch = pytest.importorskip("torch")

from agents import kernels  # noqa: E402
from agents.models import build_model, config_from_dict, model_config  # noqa: E402
from agents.rnn import MaskedRNN, RNNConfig  # noqa: E402

torch.set_num_threads(1)

TOL = dict(rtol=1e-4, atol=1e-5)


def _model(n, mask, density, activation, tau, noise, kernel, seed=0):
    torch.manual_seed(seed)
    kw = dict(radius=None, density=density) if mask in ("sheet", "ring", "random") else {}
    cfg = RNNConfig(input_size=5, hidden_size=n, output_size=3, mask=mask, activation=activation,
                    dt=20.0, tau=tau, noise_std=noise, rec_gain=0.9, kernel=kernel, **kw)
    model = MaskedRNN(cfg)
    with torch.no_grad():  # nonzero biases so every activation sees both signs of its input
        model.bias_h.normal_(0.0, 0.3)
    return model


def _grads(model, x, h0, seed=1):
    """Outputs, hidden states, and gradients of every parameter, of x and of h0."""
    x = x.clone().requires_grad_(True)
    h0 = None if h0 is None else h0.clone().requires_grad_(True)
    torch.manual_seed(seed)  # the recurrent noise draw
    logits, states = model(x, h0, return_hidden=True)
    # a loss that weighs every step and unit differently (backward sees a dense gradient)
    loss = (logits.square() * torch.linspace(0.5, 1.5, logits.shape[0])[:, None, None]).sum()
    loss = loss + (states * torch.cos(torch.arange(states.numel()).view_as(states))).sum()
    model.zero_grad(set_to_none=True)
    loss.backward()
    out = {"logits": logits.detach(), "states": states.detach(), "x": x.grad}
    if h0 is not None:
        out["h0"] = h0.grad
    out.update({k: p.grad for k, p in model.named_parameters()})
    return out


CASES = [  # n, mask, density, activation, tau (dt 20: alpha = 20 / tau), noise, with h0
    (16, "ring", 0.25, "relu", 20.0, 0.0, False),
    (36, "sheet", 0.2, "tanh", 50.0, 0.0, True),
    (49, "random", 0.1, "softplus", 40.0, 0.1, True),
    (64, "sheet", 0.05, "sigmoid", 25.0, 0.0, False),
    (64, "random", 0.3, "relu", 100.0, 0.2, True),
    (30, "dense", None, "tanh", 20.0, 0.1, True),
    (25, "sheet", 0.5, "softplus", 20.0, 0.0, True),
]


@pytest.mark.parametrize("kernel", ["dense", "sparse"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[1]}{c[0]}-{c[3]}-tau{c[4]:g}")
def test_kernel_matches_reference(case, kernel):
    n, mask, density, activation, tau, noise, with_h0 = case
    gen = torch.Generator().manual_seed(n)
    x = torch.randn(13, 4, 5, generator=gen)
    h0 = torch.rand(4, n, generator=gen) if with_h0 else None
    ref = _model(n, mask, density, activation, tau, noise, "reference")
    ref.train()
    other = _model(n, mask, density, activation, tau, noise, kernel)
    other.train()
    for (k, a), b in zip(ref.state_dict().items(), other.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    want, got = _grads(ref, x, h0), _grads(other, x, h0)
    assert set(want) == set(got)
    for key in want:
        torch.testing.assert_close(got[key], want[key], **TOL, msg=f"{kernel}: {key}")
    if ref.mask is not None:  # off-mask gradient exactly zero
        assert (got["weight_hh"][~ref.mask] == 0).all()


@pytest.mark.parametrize("kernel", ["dense", "sparse", "auto"])
def test_autapse_kernels_match_reference(kernel):
    x = torch.randn(11, 3, 5, generator=torch.Generator().manual_seed(0))
    h0 = torch.rand(3, 20)
    ref = _model(20, "autapse", None, "tanh", 40.0, 0.1, "reference")
    other = _model(20, "autapse", None, "tanh", 40.0, 0.1, kernel)
    want, got = _grads(ref, x, h0), _grads(other, x, h0)
    for key in want:
        torch.testing.assert_close(got[key], want[key], **TOL, msg=key)


def test_eval_mode_no_grad_and_empty_sequence():
    model = _model(36, "sheet", 0.2, "relu", 20.0, 0.3, "sparse")
    ref = copy.deepcopy(model)
    ref.kernel = "reference"
    model.eval(), ref.eval()  # no noise in eval mode
    x = torch.randn(9, 2, 5)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x), **TOL)
    assert model(torch.randn(0, 2, 5)).shape == (0, 2, 3)


@pytest.mark.parametrize("kernel", ["dense", "sparse"])
def test_masked_weights_stay_exactly_zero_under_adam(kernel):
    model = _model(49, "sheet", 0.15, "tanh", 40.0, 0.1, kernel)
    model.train()
    off = ~model.mask
    assert (model.weight_hh[off] == 0).all()
    opt = torch.optim.Adam(model.parameters(), lr=0.05, weight_decay=1e-3)
    x = torch.randn(10, 4, 5)
    for _ in range(6):
        opt.zero_grad()
        model(x).square().mean().backward()
        assert (model.weight_hh.grad[off] == 0).all()
        opt.step()
    assert (model.weight_hh[off] == 0).all()
    assert (model.weight_hh[model.mask] != 0).all()


def _train(model, opt, steps, seed):
    for k in range(steps):
        torch.manual_seed(seed + k)
        x = torch.randn(8, 4, model.config.input_size)
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()


def test_checkpoint_independent_of_kernel_and_switch_on_resume():
    mcfg = model_config("lm-rnn", input_size=5, output_size=3, hidden_size=36, radius=None,
                        density=0.2, tau=200.0, kernel="sparse", noise_std=0.05)
    assert "kernel" not in mcfg.to_dict() and "kernel" not in mcfg.rnn_config().to_dict()
    assert mcfg.rnn_config().kernel == "sparse"
    torch.manual_seed(0)
    a = build_model(mcfg)
    torch.manual_seed(0)
    b = build_model(mcfg, kernel="dense")
    assert b.kernel == "dense" and a.kernel == "sparse"
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)
    opt = torch.optim.Adam(a.parameters(), lr=1e-2)
    _train(a, opt, 3, seed=10)
    ckpt = copy.deepcopy({"model": a.state_dict(), "optimizer": opt.state_dict(),
                          "model_config": a.model_config.to_dict()})
    # resume: same kernel vs another kernel (the saved dict names none: "auto" by default)
    assert config_from_dict(ckpt["model_config"]).kernel == "auto"
    results = []
    for kernel in ("sparse", "dense", "reference"):
        saved = copy.deepcopy(ckpt)  # Adam's load_state_dict keeps the saved tensors
        m = build_model(saved["model_config"], kernel=kernel)
        m.load_state_dict(saved["model"])
        o = torch.optim.Adam(m.parameters(), lr=1e-2)
        o.load_state_dict(saved["optimizer"])
        _train(m, o, 3, seed=20)
        results.append(m.state_dict())
        assert (m.weight_hh[~m.mask] == 0).all()
    for other in results[1:]:
        for k in results[0]:
            torch.testing.assert_close(other[k], results[0][k], **TOL, msg=k)


def test_old_config_dicts_load_and_kernel_is_validated():
    d = RNNConfig(mask="ring", radius=2, hidden_size=20).to_dict()
    assert "kernel" not in d and RNNConfig.from_dict(d).kernel == "auto"
    assert RNNConfig.from_dict({**d, "kernel": "dense"}).kernel == "dense"
    msg = "kernel='fast' is not one of ('auto', 'dense', 'sparse', 'reference')"
    with pytest.raises(ValueError, match=re.escape(msg)):
        RNNConfig(kernel="fast")
    model = MaskedRNN(RNNConfig(hidden_size=9, mask="sheet", radius=1.0))
    with pytest.raises(ValueError, match=re.escape(msg)):
        model.kernel = "fast"
    with pytest.raises(ValueError, match="kernel='fast'"):
        model_config("dense", kernel="fast").rnn_config()


def test_choose_kernel_follows_the_measured_thresholds():
    for n, limit in kernels.SPARSE_MAX_DENSITY.items():
        if limit > 0:
            assert kernels.choose_kernel(n, limit) == "sparse"
        assert kernels.choose_kernel(n, min(1.0, limit * 1.5 + 1e-3)) == "dense"
        assert kernels.choose_kernel(n, max(limit, 1e-3), "meta") == "dense"  # unmeasured device
    small = min(kernels.SPARSE_MAX_DENSITY)
    if kernels.SPARSE_MAX_DENSITY[small] == 0:  # "never" also below the smallest measured N
        assert kernels.choose_kernel(small // 4, 0.01) == "dense"
        assert kernels.choose_kernel(small, 0.0) == "dense"
    assert kernels.choose_kernel(512, 1.0) == "dense"
    sizes = sorted(kernels.SPARSE_MAX_DENSITY)
    lo, hi = kernels.SPARSE_MAX_DENSITY[sizes[0]], kernels.SPARSE_MAX_DENSITY[sizes[1]]
    mid = kernels.sparse_max_density(int((sizes[0] * sizes[1]) ** 0.5))
    assert min(lo, hi) - 1e-9 <= mid <= max(lo, hi) + 1e-9


def test_auto_resolves_by_density():
    sparse = MaskedRNN(RNNConfig(hidden_size=1024, mask="random", density=0.02))
    dense = MaskedRNN(RNNConfig(hidden_size=64, mask="dense"))
    auto = kernels.choose_kernel(1024, sparse.sparsity_pattern().density)
    assert sparse.resolved_kernel() == auto
    assert dense.resolved_kernel() == "dense"
    assert MaskedRNN(RNNConfig(hidden_size=8, mask="autapse")).resolved_kernel() == "dense"


def test_derivative_from_output_matches_autograd():
    pre = torch.linspace(-25, 25, 201, requires_grad=True)
    for name, f in kernels._ACT_FUNCS.items():
        (g,) = torch.autograd.grad(f(pre).sum(), pre)
        torch.testing.assert_close(kernels.derivative(f(pre).detach(), name), g, **TOL, msg=name)
    with pytest.raises(ValueError, match="activation='elu'"):
        kernels.derivative(pre, "elu")


@pytest.mark.parametrize("kernel", ["dense", "sparse"])
@pytest.mark.parametrize("layout", ["contiguous", "transposed", "expanded"])
def test_kernel_backward_reads_any_grad_layout_and_leaves_it_unchanged(kernel, layout):
    # the backward loops only read dL/dstates (a transposed view or a stride-0 broadcast of
    # a sum arrive from autograd) and must not write into it
    t, b, n, alpha = 6, 3, 25, 0.5
    gen = torch.Generator().manual_seed(3)
    mask = torch.rand(n, n, generator=gen) < 0.3
    weight = (torch.randn(n, n, generator=gen) * mask).requires_grad_(True)
    drive = torch.randn(t, b, n, generator=gen, requires_grad=True)
    h0 = torch.rand(b, n, generator=gen, requires_grad=True)
    if layout == "contiguous":
        grad = torch.randn(t, b, n, generator=gen)
    elif layout == "transposed":
        grad = torch.randn(t, n, b, generator=gen).transpose(1, 2)
    else:
        grad = torch.randn(1, 1, n, generator=gen).expand(t, b, n)
    before = grad.clone()
    grads = {}
    for k in ("reference", kernel):
        states = kernels.recurrence(drive, h0, weight, alpha, "tanh", k, mask=mask)
        grads[k] = torch.autograd.grad(states, (drive, h0, weight), grad)
    assert torch.equal(grad, before)
    for want, got in zip(grads["reference"], grads[kernel], strict=True):
        torch.testing.assert_close(got, want, **TOL)
    assert (grads[kernel][2][~mask] == 0).all()


def test_sparse_model_copies_pickles_and_runs_in_float64():
    import pickle

    model = _model(25, "sheet", 0.3, "tanh", 40.0, 0.0, "sparse")
    x = torch.randn(6, 2, 5)
    y = model(x)  # builds the cached sparsity pattern
    torch.testing.assert_close(copy.deepcopy(model)(x), y)
    torch.testing.assert_close(pickle.loads(pickle.dumps(model))(x), y)
    ref = copy.deepcopy(model).double()
    ref.kernel = "reference"
    model = model.double()
    want, got = _grads(ref, x.double(), None), _grads(model, x.double(), None)
    assert got["weight_hh"].dtype == torch.float64
    for key in want:
        torch.testing.assert_close(got[key], want[key], msg=key)


def test_trainconfig_offers_every_kernel():
    from agents.kernels import KERNELS
    from agents.train_config import CHOICES

    assert CHOICES["kernel"] == KERNELS

"""MaskedRNN and the named models: dynamics, masking, autapses, init, configs."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agents import masks  # noqa: E402
from agents.models import (  # noqa: E402
    CONFIGS,
    LMRNN,
    AutapsePool,
    DenseRNN,
    LMRNNConfig,
    RandomSparseConfig,
    RandomSparseRNN,
    build_model,
    config_from_dict,
    model_config,
)
from agents.rnn import MaskedRNN, RNNConfig  # noqa: E402

torch.set_num_threads(1)


def test_forward_shapes_and_layouts():
    torch.manual_seed(0)
    model = MaskedRNN(RNNConfig(input_size=5, hidden_size=9, output_size=4, mask="sheet",
                                radius=1.0))
    x = torch.randn(7, 3, 5)
    logits, hidden = model(x, return_hidden=True)
    assert logits.shape == (7, 3, 4) and hidden.shape == (7, 3, 9)
    lb, hb = model(x.transpose(0, 1), batch_first=True, return_hidden=True)
    assert lb.shape == (3, 7, 4) and hb.shape == (3, 7, 9)
    torch.testing.assert_close(lb.transpose(0, 1), logits, rtol=0, atol=0)
    with pytest.raises(ValueError, match=re.escape("x must be [T, B, 5]")):
        model(torch.randn(7, 3, 6))


def test_leaky_dynamics_by_hand():
    # 2 units, dense, tanh, alpha = 20 / 50 = 0.4; compare with the update written out in numpy
    cfg = RNNConfig(input_size=1, hidden_size=2, output_size=1, dt=20, tau=50, activation="tanh")
    model = MaskedRNN(cfg)
    w_in, w_rec, w_out = np.array([[1.0], [-0.5]]), np.array([[0.2, -0.3], [0.7, 0.1]]), [[1, 2]]
    with torch.no_grad():
        model.weight_ih.copy_(torch.tensor(w_in))
        model.weight_hh.copy_(torch.tensor(w_rec))
        model.weight_ho.copy_(torch.tensor(w_out, dtype=torch.float32))
        model.bias_h.copy_(torch.tensor([0.1, 0.0]))
    xs = np.array([1.0, 0.0, -2.0, 0.5])
    h, expect = np.zeros(2), []
    for x in xs:
        h = 0.6 * h + 0.4 * np.tanh(w_in[:, 0] * x + [0.1, 0.0] + w_rec @ h)
        expect.append(np.dot(w_out[0], h))
    out = model(torch.tensor(xs, dtype=torch.float32)[:, None, None])
    np.testing.assert_allclose(out[:, 0, 0].detach().numpy(), expect, rtol=1e-5, atol=1e-6)


def test_mask_convention_row_is_target():
    # mask[i, j]: j -> i. Perturbing h0[j] changes, after one step (alpha = 1, tanh), exactly the
    # units i with mask[i, j]
    torch.manual_seed(1)
    cfg = RNNConfig(input_size=2, hidden_size=12, output_size=3, mask="ring", radius=1,
                    activation="tanh")
    model = MaskedRNN(cfg)
    mask = cfg.build_mask()
    j = 5
    x = torch.randn(1, 1, 2)
    h0 = torch.randn(1, 12)
    h1 = h0.clone()
    h1[0, j] += 1.0
    _, a = model(x, h0, return_hidden=True)
    _, b = model(x, h1, return_hidden=True)
    changed = (a != b)[0, 0].numpy()
    np.testing.assert_array_equal(changed, mask[:, j])
    assert mask[:, j].sum() == 3


def test_masked_entries_get_zero_gradient_and_stay_zero():
    torch.manual_seed(2)
    model = LMRNN(input_size=4, output_size=3, hidden_size=16, radius=1.0)
    off = ~model.mask
    assert (model.weight_hh[off] == 0).all()  # zeroed at init
    opt = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(5):
        x = torch.randn(6, 2, 4)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        assert (model.weight_hh.grad[off] == 0).all()
        assert model.weight_hh.grad[~off].abs().sum() > 0
        opt.step()
    assert (model.weight_hh[off] == 0).all()
    assert (model.recurrent_weight()[off] == 0).all()


def test_mask_is_a_buffer_in_the_state_dict():
    model = LMRNN(input_size=4, output_size=3, hidden_size=16, radius=1.0)
    state = model.state_dict()
    assert "mask" in state and state["mask"].dtype == torch.bool
    np.testing.assert_array_equal(state["mask"].numpy(), masks.sheet_mask(16, 1.0))
    assert "mask" not in dict(model.named_parameters())


def test_autapse_pool_has_no_path_between_units():
    torch.manual_seed(3)
    model = AutapsePool(input_size=3, output_size=2, hidden_size=8)
    assert model.weight_hh.shape == (8,)
    j = 2
    x = torch.randn(10, 4, 3)
    _, base = model(x, return_hidden=True)
    with torch.no_grad():
        model.bias_h[j] += 5.0  # perturb unit j's input only
    _, pert = model(x, return_hidden=True)
    others = [i for i in range(8) if i != j]
    assert torch.equal(base[..., others], pert[..., others])
    assert not torch.equal(base[..., j], pert[..., j])
    # the same perturbation does spread in a dense RNN (the check can fail)
    dense = DenseRNN(input_size=3, output_size=2, hidden_size=8, activation="tanh")
    _, base = dense(x, return_hidden=True)
    with torch.no_grad():
        dense.bias_h[j] += 5.0
    _, pert = dense(x, return_hidden=True)
    assert not torch.equal(base[..., others], pert[..., others])


def test_init_scaled_to_fan_in():
    # E[sum_j W_ij^2] = rec_gain^2 for every row whatever its fan-in
    torch.manual_seed(4)
    gain = 1.5
    model = MaskedRNN(RNNConfig(input_size=3, hidden_size=400, output_size=2, mask="sheet",
                                radius=3.0, rec_gain=gain))
    fan_in = int(model.mask.sum(dim=1)[0])
    assert fan_in == 29  # lattice points within radius 3
    row_ss = model.weight_hh.detach().pow(2).sum(dim=1)
    # row sums of squares: mean gain^2, std gain^2 sqrt(2 / fan_in) per row; 400 rows, 5 SE
    se = gain**2 * math.sqrt(2 / fan_in) / math.sqrt(400)
    assert abs(float(row_ss.mean()) - gain**2) < 5 * se
    dense = MaskedRNN(RNNConfig(input_size=3, hidden_size=400, output_size=2, rec_gain=gain))
    row_ss = dense.weight_hh.detach().pow(2).sum(dim=1)
    assert abs(float(row_ss.mean()) - gain**2) < 5 * gain**2 * math.sqrt(2 / 400) / 20


def test_effective_parameter_count():
    d, n, a = 5, 16, 3
    lm = LMRNN(input_size=d, output_size=a, hidden_size=n, radius=1.0)  # 5 inputs per unit
    io = d * n + n + a * n + a
    assert lm.num_parameters() == io + 5 * n
    assert lm.num_parameters(effective=False) == io + n * n
    assert DenseRNN(input_size=d, output_size=a, hidden_size=n).num_parameters() == io + n * n
    assert AutapsePool(input_size=d, output_size=a, hidden_size=n).num_parameters() == io + n


def test_random_sparse_matches_lm_density():
    lm = LMRNN(hidden_size=64, radius=2.0)
    rs = RandomSparseRNN(hidden_size=64, radius=2.0, mask_seed=5)
    assert int(rs.mask.sum()) == int(lm.mask.sum()) == 13 * 64
    assert not torch.equal(rs.mask, lm.mask)
    assert RandomSparseConfig(hidden_size=64, density=0.25).rnn_config().density == 0.25


def test_noise_only_in_training_mode():
    torch.manual_seed(5)
    model = DenseRNN(input_size=3, output_size=2, hidden_size=8, noise_std=0.5)
    x = torch.randn(5, 2, 3)
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_model_config_json_round_trip(name):
    cfg = model_config(name, hidden_size=36, input_size=7, noise_std=0.1)
    d = json.loads(cfg.to_json())
    assert d["model"] == name
    assert type(cfg).from_json(cfg.to_json()) == cfg
    assert config_from_dict(d) == cfg
    a, b = build_model(cfg), build_model(d)
    assert a.config == b.config and a.model_config == cfg


def test_rnn_config_round_trip_and_validation():
    cfg = RNNConfig(mask="ring", radius=2, hidden_size=20, tau=200.0)
    assert RNNConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match=re.escape("unknown RNNConfig keys ['hiden_size']")):
        RNNConfig.from_dict({"hiden_size": 3})
    with pytest.raises(ValueError, match=re.escape("need 0 < dt <= tau")):
        RNNConfig(dt=100, tau=50)
    with pytest.raises(ValueError, match=re.escape("dict is for model 'dense', not 'lm-rnn'")):
        LMRNNConfig.from_dict({"model": "dense"})
    with pytest.raises(ValueError, match=re.escape("model='gru' is not one of")):
        model_config("gru")

"""The analysis' own step map reproduces MaskedRNN.forward; its Jacobian is dF/dh."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agents.analysis.fixed_points import jacobians  # noqa: E402
from agents.analysis.stepmap import StepMap  # noqa: E402
from agents.rnn import MaskedRNN, RNNConfig  # noqa: E402


@pytest.mark.parametrize("mask,act,tau", [("dense", "relu", 100.0), ("ring", "tanh", 200.0),
                                          ("autapse", "softplus", 100.0),
                                          ("random", "sigmoid", 400.0)])
def test_rollout_equals_forward(mask, act, tau):
    torch.manual_seed(0)
    cfg = RNNConfig(input_size=5, hidden_size=12, output_size=3, mask=mask, activation=act,
                    tau=tau, radius=2 if mask == "ring" else None,
                    density=0.3 if mask == "random" else None)
    model = MaskedRNN(cfg).eval()
    x = torch.randn(4, 9, 5)
    with torch.no_grad():
        logits, hidden = model(x, batch_first=True, return_hidden=True)
    step = StepMap.from_model(model)
    assert step.autapse == (mask == "autapse")
    ours = step.rollout(x.double())
    np.testing.assert_allclose(ours.numpy(), hidden.double().numpy(), rtol=1e-5, atol=1e-6)
    out = ours @ model.weight_ho.double().detach().T + model.bias_o.double().detach()
    np.testing.assert_allclose(out.numpy(), logits.double().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("autapse", [False, True])
def test_torch_func_jacobian_equals_closed_form(autapse):
    torch.manual_seed(1)
    cfg = RNNConfig(input_size=3, hidden_size=7, output_size=2,
                    mask="autapse" if autapse else "dense", activation="tanh", tau=300.0)
    step = StepMap.from_model(MaskedRNN(cfg))
    h = torch.randn(5, 7, dtype=torch.float64)
    u = step.drive(torch.randn(3, dtype=torch.float64))
    np.testing.assert_allclose(jacobians(step, u, h).numpy(),
                               step.jacobian_analytic(h, u).numpy(), atol=1e-12)


def test_bad_step_map_arguments():
    z = torch.zeros
    with pytest.raises(ValueError, match="w_rec has shape"):
        StepMap(z(3, 1), z(3), z(2, 2), 0.5, "relu")
    with pytest.raises(ValueError, match="alpha=1.5"):
        StepMap(z(3, 1), z(3), z(3), 1.5, "relu")
    with pytest.raises(ValueError, match="act='elu'"):
        StepMap(z(3, 1), z(3), z(3), 0.5, "elu")

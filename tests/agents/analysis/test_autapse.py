"""The autapse closed form: known 1-D maps, and agreement with the generic finder."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agents.analysis.autapse import (  # noqa: E402
    autapse_fixed_points,
    delay_memory,
    model_autapse_fixed_points,
    nearest_root_error,
)
from agents.analysis.fixed_points import find_fixed_points, initial_states  # noqa: E402
from agents.analysis.stepmap import StepMap  # noqa: E402


def _x_star():
    x = 1.0
    for _ in range(200):
        x = np.tanh(2 * x)
    return x


def test_bistable_tanh_unit_has_two_stable_points_and_a_saddle():
    afp = autapse_fixed_points(np.array([2.0]), np.zeros((1, 1)), alpha=0.5, act="tanh")
    x = _x_star()
    np.testing.assert_allclose(afp.h, [-x, 0.0, x], atol=1e-12)
    assert afp.label.tolist() == ["stable", "unstable", "stable"]
    np.testing.assert_allclose(afp.slope, [0.5 + (1 - x * x), 1.5, 0.5 + (1 - x * x)])
    assert afp.multistable()[0, 0] and not afp.marginal()[0, 0]


def test_marginal_units_relu_line_and_tanh_pitchfork():
    # relu unit with w = 1, c = 0: every h >= 0 is fixed (a line attractor)
    relu = autapse_fixed_points(np.array([1.0, 0.5]), np.array([[0.0, 0.3]]), alpha=1.0,
                                act="relu")
    assert relu.line.tolist() == [[True, False]]
    assert relu.marginal().tolist() == [[True, False]]
    np.testing.assert_allclose(relu.h[relu.unit == 1], [0.6])  # c / (1 - w)
    # tanh unit with w = 1, c = 0: the single root 0 has slope exactly 1
    tanh = autapse_fixed_points(np.array([1.0]), np.zeros((1, 1)), alpha=0.2, act="tanh")
    assert tanh.label.tolist() == ["marginal"] and abs(tanh.h[0]) < 1e-9
    assert tanh.marginal()[0, 0]


def test_relu_cases_exact():
    w = np.array([0.5, 0.5, 1.5, 1.5, 1.0])
    c = np.array([[1.0, -1.0, -1.0, 1.0, 0.5]])
    afp = autapse_fixed_points(w, c, alpha=0.5, act="relu")
    roots = {u: sorted(afp.h[afp.unit == u].tolist()) for u in range(5)}
    assert roots == {0: [2.0], 1: [0.0], 2: [0.0, 2.0], 3: [], 4: []}
    lab = {(int(u), float(h)): str(la) for u, h, la in zip(afp.unit, afp.h, afp.label, strict=True)}
    assert lab[(2, 0.0)] == "stable" and lab[(2, 2.0)] == "unstable"
    assert (afp.n_stable()[0] == [1, 1, 1, 0, 0]).all()


@pytest.mark.parametrize("act", ["sigmoid", "softplus", "tanh"])
def test_bracketed_roots_are_roots(act):
    rng = np.random.default_rng(0)
    w = rng.uniform(-3, 4, 40)
    c = rng.uniform(-3, 3, (3, 40))
    afp = autapse_fixed_points(w, c, alpha=0.3, act=act)
    z = w[afp.unit] * afp.h + c[afp.cond, afp.unit]
    f = {"sigmoid": lambda v: 1 / (1 + np.exp(-v)), "softplus": lambda v: np.log1p(np.exp(v)),
         "tanh": np.tanh}[act]
    np.testing.assert_allclose(f(z), afp.h, atol=1e-9)
    # a unit with w <= 1 and a monotone f has exactly one root
    assert (afp.n_roots()[:, w <= 1] == 1).all()


def test_closed_form_agrees_with_generic_finder():
    """A tanh autapse pool with some bistable units: every generic fixed point sits on the
    closed-form roots, its Jacobian eigenvalues are the roots' slopes, and every combination
    of stable roots the search reached is found as stable."""
    from agents.rnn import MaskedRNN, RNNConfig

    torch.manual_seed(0)
    model = MaskedRNN(RNNConfig(input_size=3, hidden_size=6, output_size=2, mask="autapse",
                                activation="tanh", tau=200.0))
    with torch.no_grad():
        model.weight_hh.copy_(torch.tensor([2.0, 1.8, 0.5, -0.7, 1.2, 0.9]))
        model.bias_h.zero_()
    x = np.array([0.1, -0.2, 0.05])
    afp = model_autapse_fixed_points(model, x[None])
    rng = np.random.default_rng(0)
    fps = find_fixed_points(model, x, rng.uniform(-1.2, 1.2, (256, 6)))
    assert fps.n_fixed >= 8
    assert nearest_root_error(afp, fps.points, 0).max() < 1e-9
    slopes = np.sort(np.abs(afp.slope_at(fps.points, 0)), axis=1)[:, ::-1]
    np.testing.assert_allclose(np.abs(fps.eigenvalues), slopes, atol=1e-9)
    # stable in N dimensions <=> every coordinate at a stable 1-D root
    stable_1d = (np.abs(afp.slope_at(fps.points, 0)) < 1 - 1e-2).all(1)
    assert (np.array(fps.labels) == "stable").tolist() == stable_1d.tolist()
    n_stable = afp.n_stable()[0]
    assert sum(lab == "stable" for lab in fps.labels) == np.prod(n_stable)


def test_trained_autapse_model_memory(autapse_ckpt):
    from agents.analysis.rollouts import checkpoint_trials, rollout
    from agents.checkpoints import load_checkpoint, load_model

    model = load_model(autapse_ckpt)
    ro = rollout(model, checkpoint_trials(load_checkpoint(autapse_ckpt), "dlygo", n_trials=64))
    periods = ["fixation", "stimulus", "delay", "decision"]
    afp = model_autapse_fixed_points(model, np.stack([ro.period_input(p) for p in periods]),
                                     tuple(periods))
    states, _ = ro.period_states("delay")
    fps = find_fixed_points(model, ro.period_input("delay"), initial_states(states, 32))
    assert nearest_root_error(afp, fps.points, 2).max() < 1e-8
    assert np.allclose(afp.w, StepMap.from_model(model).w_rec.numpy())


def test_delay_memory_known_retention():
    """ReLU autapses kept in their linear range (large bias), alpha = 1: across-trial spread
    shrinks by exactly |w| per delay step, so retention = |w|^5 on dlygo's 5-step delay."""
    from agents.analysis.rollouts import rollout, task_trials
    from agents.rnn import MaskedRNN, RNNConfig

    batch = task_trials("dlygo", n_trials=48)
    w = np.array([0.99, 0.95, 0.8, 0.5, -0.9, 0.0])
    model = MaskedRNN(RNNConfig(input_size=batch.ob.shape[2], hidden_size=6, output_size=17,
                                mask="autapse", tau=100.0))
    with torch.no_grad():
        model.weight_hh.copy_(torch.from_numpy(w))
        model.bias_h.fill_(20.0)
    ro = rollout(model, batch)
    assert (ro.states[batch.valid] > 0).all()  # linear regime throughout
    periods = ("fixation", "stimulus", "delay", "decision")
    afp = model_autapse_fixed_points(model, np.stack([ro.period_input(p) for p in periods]),
                                     periods)
    mem = delay_memory(afp, ro, 2)
    assert mem.delay_steps == 5
    np.testing.assert_allclose(mem.retention[:5], np.abs(w[:5]) ** 5, rtol=1e-4)
    np.testing.assert_allclose(mem.predicted, np.abs(w) ** 5, rtol=1e-6)  # float32 w
    assert mem.memory.tolist() == [True, True, False, False, True, False]


def test_errors():
    with pytest.raises(ValueError, match="act='elu'"):
        autapse_fixed_points(np.ones(2), np.zeros((1, 2)), alpha=0.5, act="elu")
    with pytest.raises(ValueError, match="w must be"):
        autapse_fixed_points(np.ones(2), np.zeros((1, 3)), alpha=0.5, act="relu")


def test_generic_finder_labels_the_marginal_unit_marginal():
    """ReLU autapses, alpha = 0.5: unit 0 has w = 1, c = 0 (a line), unit 1 decays to c/(1-w)."""
    step = StepMap(torch.zeros(2, 1, dtype=torch.float64), torch.tensor([0.0, 0.4],
                   dtype=torch.float64), torch.tensor([1.0, 0.6], dtype=torch.float64), 0.5,
                   "relu")
    afp = autapse_fixed_points(np.array([1.0, 0.6]), np.array([[0.0, 0.4]]), alpha=0.5,
                               act="relu")
    assert afp.marginal()[0].tolist() == [True, False]
    h0 = np.stack([np.linspace(0.2, 2.0, 8), np.full(8, 3.0)], 1)
    fps = find_fixed_points(step, np.zeros(1), h0)
    assert fps.n_fixed == 8 and set(fps.labels) == {"marginal"}
    np.testing.assert_allclose(fps.points[:, 1], 1.0, atol=1e-10)  # c / (1 - w)
    np.testing.assert_allclose(np.abs(fps.eigenvalues), [[1.0, 0.8]] * 8, atol=1e-12)
    assert nearest_root_error(afp, fps.points, 0).max() < 1e-10

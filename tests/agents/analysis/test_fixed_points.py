"""Fixed points on systems with known answers, on a trained model, and their determinism."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agents.analysis.fixed_points import (  # noqa: E402
    FixedPointConfig,
    classify,
    dedup,
    find_fixed_points,
    initial_states,
)
from agents.analysis.stepmap import StepMap  # noqa: E402

T64 = torch.float64


def _step(w, b, alpha, act):
    n = len(b)
    return StepMap(torch.zeros(n, 1, dtype=T64), torch.tensor(b, dtype=T64),
                   torch.tensor(w, dtype=T64), alpha, act)


def test_linear_rnn_fixed_point_and_eigenvalues():
    """In the all-active ReLU regime F is linear: h* = (I - W)^-1 b, eig J = 1 - a + a eig W."""
    rng = np.random.default_rng(0)
    n, alpha = 20, 0.3
    w = rng.standard_normal((n, n)) * 0.3 / np.sqrt(n)
    b = rng.uniform(1.0, 2.0, n)
    fps = find_fixed_points(_step(w, b, alpha, "relu"), np.zeros(1), rng.uniform(0, 3, (32, n)))
    expected = np.linalg.solve(np.eye(n) - w, b)
    assert expected.min() > 0 and fps.n_fixed == 1 and fps.labels == ["stable"]
    np.testing.assert_allclose(fps.points[0], expected, atol=1e-10)
    ev = np.sort_complex(fps.eigenvalues[0])
    np.testing.assert_allclose(ev, np.sort_complex(1 - alpha + alpha * np.linalg.eigvals(w)),
                               atol=1e-10)


def test_linear_activation_unstable_system_is_a_saddle():
    """A linear map with one eigenvalue of W above 1: the origin, labelled saddle-1."""
    w = np.diag([1.5, 0.2, -0.4])
    fps = find_fixed_points(_step(w, np.zeros(3), 0.5, "linear"), np.zeros(1),
                            np.random.default_rng(1).uniform(-1, 1, (16, 3)))
    assert fps.labels == ["saddle-1"]
    np.testing.assert_allclose(fps.points[0], 0.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(fps.eigenvalues[0]), [1.25, 0.6, 0.3], atol=1e-12)


def test_two_dimensional_saddle_and_stable_nodes():
    """h1 <- tanh(2 h1), h2 <- tanh(h2 / 2): a saddle at 0, stable nodes at (+-x*, 0)."""
    alpha = 0.5
    fps = find_fixed_points(_step(np.diag([2.0, 0.5]), np.zeros(2), alpha, "tanh"), np.zeros(1),
                            np.random.default_rng(0).uniform(-1.5, 1.5, (64, 2)))
    x = 1.0
    for _ in range(100):
        x = np.tanh(2 * x)  # x* = tanh(2 x*) by fixed-point iteration
    order = np.argsort(fps.points[:, 0])
    pts, labels = fps.points[order], [fps.labels[i] for i in order]
    assert labels == ["stable", "saddle-1", "stable"]
    np.testing.assert_allclose(pts, [[-x, 0], [0, 0], [x, 0]], atol=1e-10)
    ev = fps.eigenvalues[order].real
    np.testing.assert_allclose(ev[1], [1 - alpha + 2 * alpha, 1 - alpha + 0.5 * alpha])
    slope = 1 - alpha + alpha * 2 * (1 - x * x)
    np.testing.assert_allclose(np.sort(ev[0]), np.sort([slope, 0.75]), atol=1e-10)
    assert fps.q.max() < 1e-20


def test_newton_reaches_q_below_1e_10_on_trained_model(dense_ckpt):
    from agents.analysis.rollouts import checkpoint_trials, rollout
    from agents.checkpoints import load_checkpoint, load_model

    model = load_model(dense_ckpt)
    ro = rollout(model, checkpoint_trials(load_checkpoint(dense_ckpt), "dlygo", n_trials=32))
    states, _ = ro.period_states("delay")
    fps = find_fixed_points(model, ro.period_input("delay"), initial_states(states, 64))
    assert fps.n_fixed >= 1
    assert fps.q.max() < 1e-10
    # q is measured in float64 by F itself: check it independently
    step = StepMap.from_model(model)
    u = step.drive(torch.from_numpy(ro.period_input("delay")))
    h = torch.from_numpy(fps.points)
    q = 0.5 * (step(h, u) - h).pow(2).sum(1)
    assert float(q.max()) < 1e-10


def test_deterministic_under_seed(dense_ckpt):
    from agents.checkpoints import load_model

    model = load_model(dense_ckpt)
    rng = np.random.default_rng(3)
    states = rng.uniform(0, 1, (100, 16))
    x = np.zeros(model.config.input_size)
    x[0] = 1.0
    runs = [find_fixed_points(model, x, initial_states(states, 40, seed=7)) for _ in range(2)]
    np.testing.assert_array_equal(runs[0].points, runs[1].points)
    np.testing.assert_array_equal(runs[0].q_final, runs[1].q_final)
    other = initial_states(states, 40, seed=8)
    assert not np.array_equal(other, initial_states(states, 40, seed=7))


def test_slow_points_reported_apart():
    """h <- tanh(2 h + c) just past its fold (c = -0.56 < -0.533): the upper pair of fixed
    points is gone, leaving one stable point below and a slow point (a ghost) near 0.707."""
    fps = find_fixed_points(_step(np.eye(1) * 2.0, np.array([-0.56]), 0.5, "tanh"), np.zeros(1),
                            np.linspace(-1, 1, 21)[:, None],
                            FixedPointConfig(slow_tol=1e-3, adam_steps=800))
    assert fps.labels == ["stable"] and fps.points[0, 0] < 0
    assert len(fps.slow_q) >= 1 and (fps.slow_q > 1e-10).all()
    assert np.abs(fps.slow_points[:, 0] - 2 ** -0.5).min() < 0.05


def test_helpers_and_errors():
    pts = np.array([[0.0, 0], [1e-4, 0], [1.0, 0]])
    assert sorted(dedup(pts, np.array([1.0, 0.5, 0.2]), 1e-3).tolist()) == [1, 2]
    nu, nm, lab = classify(np.array([[0.5, 0.2], [1.0, 0.3], [1.5, 0.1], [2.0, 3.0]]), 1e-3)
    assert lab == ["stable", "marginal", "saddle-1", "source"]
    assert nu.tolist() == [0, 0, 1, 2] and nm.tolist() == [0, 1, 0, 0]
    with pytest.raises(ValueError, match="adam_steps=-1"):
        FixedPointConfig(adam_steps=-1)
    with pytest.raises(ValueError, match="slow_tol"):
        FixedPointConfig(slow_tol=1e-12)
    step = _step(np.eye(2), np.zeros(2), 0.5, "tanh")
    with pytest.raises(ValueError, match="initial has shape"):
        find_fixed_points(step, np.zeros(1), np.zeros((3, 5)))
    with pytest.raises(ValueError, match="x has shape"):
        find_fixed_points(step, np.zeros(4), np.zeros((3, 2)))

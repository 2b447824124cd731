"""Ring diagnostics on a hand-built cosine ring attractor with a known drift."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from agents.analysis.attractors import (  # noqa: E402
    angle_drift,
    binned,
    fit_angle_decoder,
    manifold_speeds,
    reference_angles,
    wrap,
)
from agents.analysis.stepmap import StepMap  # noqa: E402

N, J0, J1, ALPHA, DT = 64, -2.0, 4.0, 0.2, 100.0
THETA = 2 * np.pi * np.arange(N) / N


def ring(eps: float) -> StepMap:
    """ReLU ring: W = (J0 + J1 cos(d) + eps sin(d)) / N, d = theta_i - theta_j, drive 1."""
    d = THETA[:, None] - THETA[None, :]
    w = (J0 + J1 * np.cos(d) + eps * np.sin(d)) / N
    return StepMap(torch.zeros(N, 1, dtype=torch.float64), torch.ones(N, dtype=torch.float64),
                   torch.from_numpy(w), ALPHA, "relu", dt=DT)


@pytest.fixture(scope="module")
def bumps():
    """Settled bumps at 48 angles on the symmetric ring, and a decoder fitted on them."""
    step = ring(0.0)
    u = step.drive(torch.zeros(1, dtype=torch.float64))
    phi = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    h0 = torch.from_numpy(np.maximum(np.cos(THETA[None] - phi[:, None]), 0.0))
    settled = step.run_constant(h0, u, 300)[:, -1]
    dec = fit_angle_decoder(settled.numpy(), phi)
    return settled, phi, dec, u


def test_decoder_recovers_bump_angle(bumps):
    settled, phi, dec, _ = bumps
    assert dec.r2 > 0.999
    assert np.abs(wrap(dec.decode(settled.numpy()) - phi)).max() < 0.01


def test_symmetric_ring_has_near_zero_drift(bumps):
    settled, _, dec, u = bumps
    traj = ring(0.0).run_constant(settled, u, 50).numpy()
    _, drift = angle_drift(traj, dec, DT)
    assert np.abs(drift).max() < 1e-6  # rad/s


@pytest.mark.parametrize("eps", [0.1, -0.2])
def test_perturbed_ring_drifts_at_the_predicted_rate(bumps, eps):
    """The sin term adds eps * a1 * sin(theta_i - phi) to the input of active units, which moves
    the bump J1 * a1 * sin(theta_i - phi) per radian: dphi = alpha * eps / J1 per step."""
    settled, _, dec, u = bumps
    traj = ring(eps).run_constant(settled, u, 80).numpy()
    angle, drift = angle_drift(traj[:, 30:], dec, DT)
    expected = ALPHA * eps / J1 / (DT / 1000.0)  # rad/s
    assert np.sign(drift.mean()) == np.sign(eps)
    np.testing.assert_allclose(drift.mean(), expected, rtol=0.05)
    centres, mean, count = binned(angle, drift, 8)
    assert count.sum() == drift.size and np.allclose(mean, expected, rtol=0.1)


def test_speed_mostly_off_manifold_when_relaxing(bumps):
    """States off the ring relax onto it: their speed is off the manifold, not along it."""
    settled, phi, _, u = bumps
    step = ring(0.0)
    rng = np.random.default_rng(0)
    kicked = settled.numpy() * 1.3 + 0.05 * rng.standard_normal(settled.shape)
    _, along, off = manifold_speeds(step, u, np.concatenate([kicked, settled.numpy()]),
                                    np.concatenate([phi, phi]), n_bins=12)
    assert np.nanmedian(off) > 10 * np.nanmedian(along)


def test_reference_angles_rotate_for_int_tasks():
    from agents.analysis.rollouts import task_trials

    plain = task_trials("dlygo", n_trials=8)
    ref = reference_angles(plain)
    inside = np.isfinite(ref)
    assert inside.sum() == 8 * 5
    rows = np.nonzero(inside)[0]
    np.testing.assert_allclose(ref[inside], np.mod(plain.params["stim_angle"][rows], 2 * np.pi))
    intr = task_trials("dlygointr", n_trials=64)
    ref = reference_angles(intr)
    last = intr.stop["delay"] - 1
    has = intr.stop["delay"] > intr.start["delay"]
    target = 2 * np.pi * intr.params["target"][has] / 16  # modcog: target index on a 16 ring
    np.testing.assert_allclose(np.cos(ref[has, last[has]] - target), 1.0, atol=1e-9)
    with pytest.raises(ValueError, match="stim_angle"):
        reference_angles(task_trials("dm1", n_trials=4), "stimulus")

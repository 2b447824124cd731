"""Yang et al. (2019)'s performance measure and lsq loss on hand-made outputs."""

from __future__ import annotations

import re

import numpy as np
import pytest

import modcog_env
from agents.evaluation import popvec, yang_perf, yang_score

N = 32


def ring_output(angle: float, fix: float, width: float = np.pi / 8) -> np.ndarray:
    """float32 [1 + N]: fixation output ``fix`` and a bump of ring outputs at ``angle``."""
    pref = np.arange(N) * 2 * np.pi / N
    d = np.abs(pref - angle) % (2 * np.pi)
    d = np.minimum(d, 2 * np.pi - d) / width
    return np.concatenate([[fix], 0.05 + 0.8 * np.exp(-(d**2) / 2)]).astype(np.float32)


def one_step(rows: list[np.ndarray], y_loc: list[float]) -> tuple[np.ndarray, np.ndarray]:
    return np.stack(rows)[:, None, :], np.array(y_loc, np.float32)[:, None]


def test_popvec_recovers_bump_angle():
    angles = np.array([0.0, 0.3, np.pi, 5.9])
    got = popvec(np.stack([ring_output(a, 0.0)[1:] for a in angles]))
    d = np.abs(got - angles) % (2 * np.pi)
    np.testing.assert_allclose(np.minimum(d, 2 * np.pi - d), 0, atol=1e-6)
    assert ((got >= 0) & (got < 2 * np.pi + 1e-12)).all()
    assert np.isnan(popvec(np.zeros((1, N))))[0]


def test_correct_wrong_angle_and_broken_fixation():
    go = 1.0
    out, loc = one_step(
        [
            ring_output(go, 0.1),  # go trial, released fixation, right direction: correct
            ring_output(go + 0.25 * np.pi, 0.1),  # go trial, 0.25 pi off: wrong angle
            ring_output(go + 0.15 * np.pi, 0.1),  # 0.15 pi off: inside the 0.2 pi tolerance
            ring_output(go, 0.9),  # go trial but still fixating: wrong
            ring_output(go, 0.9),  # must fixate and does (ring ignored): correct
            ring_output(go, 0.3),  # must fixate but broke fixation: wrong
            ring_output(2 * np.pi - 0.1, 0.0),  # angle 0.1 across 0 = 2 pi: correct
        ],
        [go, go, go, go, -1, -1, 0.05],
    )
    np.testing.assert_array_equal(yang_perf(out, loc), [1, 0, 1, 0, 1, 0, 1])


def test_only_the_last_real_step_counts():
    right, wrong = ring_output(2.0, 0.0), ring_output(5.0, 0.0)
    out = np.stack([np.stack([wrong, right, wrong])] * 2)  # [2, 3, 33]
    loc = np.full((2, 3), 2.0, np.float32)
    np.testing.assert_array_equal(yang_perf(out, loc), [0, 0])  # last column is wrong
    np.testing.assert_array_equal(yang_perf(out, loc, length=np.array([2, 3])), [1, 0])


def test_zero_ring_output_is_wrong_on_go_trials():
    out, loc = one_step([np.zeros(1 + N, np.float32)], [1.0])
    assert yang_perf(out, loc)[0] == 0


def test_target_outputs_score_one_on_every_task():
    tasks = [modcog_env.make_task(n, convention="yang2019") for n in ("go", "dnms", "dmc")]
    streams = modcog_env.TaskStreams(tasks)
    batch, _ = streams.next_trials(streams.start([7, 8, 9, 10, 11, 12]), 5)
    scores = yang_score(batch.y, batch)
    assert set(scores) == {"go", "dnms", "dmc"}
    assert all(v == 1.0 for v in scores.values())
    # the same outputs scored against shifted targets fail on every go trial
    shifted = np.where(batch.y_loc >= 0, (batch.y_loc + np.pi) % (2 * np.pi), -1.0)
    perf = yang_perf(batch.y, shifted, batch.length)
    go = batch.params["go"]
    assert perf[go].sum() == 0 and perf[~go].all()


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match=re.escape("outputs must be [B, T, 1 + N]")):
        yang_perf(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="length must be"):
        yang_perf(np.zeros((2, 3, 5)), np.zeros((2, 3)), length=np.array([0, 3]))


# ------------------------------------------------------------------------------ loss
torch = pytest.importorskip("torch")


def test_masked_squared_error_by_hand():
    from agents.yang2019 import masked_squared_error

    y = torch.tensor([[[0.8, 0.05], [0.05, 0.85]]])  # [1, 2, 2]
    out = torch.tensor([[[0.6, 0.05], [0.05, 0.65]]])
    mask = torch.tensor([[[2.0, 1.0], [0.0, 5.0]]])
    # ((0.2 * 2)^2 + 0 + 0 + (0.2 * 5)^2) / 4: the mask multiplies the error before squaring
    expected = (0.4**2 + 1.0**2) / 4
    assert masked_squared_error(out, y, mask).item() == pytest.approx(expected)
    valid = torch.tensor([[True, False]])
    assert masked_squared_error(out, y, mask, valid).item() == pytest.approx(0.4**2 / 2)
    with pytest.raises(ValueError, match="one shape"):
        masked_squared_error(out[:, :1], y, mask)


def test_masked_squared_error_on_regression_batches_is_zero_at_target():
    from agents.yang2019 import PRESET, masked_squared_error

    batches = modcog_env.Batches(
        ["go", "dm1"], convention="yang2019", mode="trial", targets="regression",
        batch_size=4, batch_first=True, output="torch",
    )  # fmt: skip
    x, y, c_mask = next(batches)
    assert x.shape[-1] == 85 and y.shape[-1] == 33 and PRESET["dt"] == batches.streams.dt
    assert masked_squared_error(y, y, c_mask).item() == 0.0
    assert masked_squared_error(torch.zeros_like(y), y, c_mask).item() > 0.0

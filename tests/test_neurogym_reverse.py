"""NeuroGym envs feeding our batches (modcog_env.neurogym_bridge.NeuroGymStreams, docs/neurogym.md).

Stream ``r`` of ``Batches(NeuroGymStreams(env), seed=s)`` is a copy of ``env`` seeded with
``env.seed(stream_seed(s, r) % 2**32)`` playing ``new_trial()`` after ``new_trial()``; expectations
are computed by driving NeuroGym itself that way. Skipped where neurogym is missing.
"""

from __future__ import annotations

import re

import gymnasium as gym
import numpy as np
import pytest

ngym = pytest.importorskip("neurogym")

from neurogym.core import TrialEnv  # noqa: E402
from neurogym.envs.collections import get_collection  # noqa: E402
from neurogym.envs.registration import ALL_EXTENDED_ENVS  # noqa: E402
from neurogym.utils.scheduler import RandomSchedule  # noqa: E402
from neurogym.wrappers.block import ScheduleEnvs  # noqa: E402

from modcog_env import Batches, TaskEnv, stream_seed  # noqa: E402
from modcog_env.neurogym_bridge import NeuroGymStreams  # noqa: E402

PDM = "PerceptualDecisionMaking-v0"  # fixation, stimulus, decision; 3 inputs, 3 actions

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*get variables from other wrappers is deprecated",
    "ignore:.*environment creator metadata",
)


class TwoStepEnv(TrialEnv):
    """A NeuroGym env without a ``decision`` period: label x in {0, 1} during ``go``."""

    def __init__(self, dt=100):
        super().__init__(dt=dt)
        self.timing = {"fixation": ("choice", [100, 200, 300]), "go": 200}
        self.observation_space = ngym.spaces.Box(-np.inf, np.inf, shape=(2,), dtype=np.float32)
        self.action_space = ngym.spaces.Discrete(2)

    def _new_trial(self, **kwargs):
        trial = {"x": int(self.rng.randint(2)), "tag": "text is dropped"}
        self.add_period(["fixation", "go"])
        self.add_ob(1, period="fixation", where=0)
        self.add_ob(trial["x"], period="go", where=1)
        self.set_groundtruth(trial["x"], period="go")
        return trial

    def _step(self, action):
        return self.ob_now, 0.0, False, False, {"new_trial": False}


def neurogym_trials(env_id: str, seed: int, count: int):
    """What NeuroGym itself gives, driven as ngym.Dataset drives a row: ``env.seed(seed)``, then
    ``env.new_trial()`` and ``env.ob``/``env.gt`` through the gymnasium wrappers."""
    env = ngym.make(env_id)
    env.seed(seed)
    out = []
    for _ in range(count):
        env.new_trial()
        out.append((np.array(env.ob), np.array(env.gt), dict(env.start_ind), dict(env.end_ind)))
    return out


def test_the_ids_used_here_are_registered():
    assert {PDM, "yang19.dm1-v0", "yang19.go-v0"} <= set(ALL_EXTENDED_ENVS)
    assert {PDM, "yang19.dm1-v0"} <= set(gym.envs.registry)


@pytest.mark.parametrize("env_id", [PDM, "yang19.dm1-v0", "yang19.dms-v0"])
def test_trial_mode_is_neurogyms_trials_under_our_seed(env_id):
    streams = NeuroGymStreams(env_id)
    batches = Batches(streams, batch_size=3, mode="trial", seed=42, batch_first=True)
    got = [batches.next_trials()[0] for _ in range(4)]  # 4 trials of each of 3 streams
    for r in range(3):
        ref = neurogym_trials(env_id, stream_seed(42, r) % 2**32, 4)
        for k, (ob, gt, start, stop) in enumerate(ref):
            trial = got[k].trial(r)
            np.testing.assert_array_equal(trial.ob, ob.astype(np.float32))
            np.testing.assert_array_equal(trial.label, gt)
            assert trial.index == k
            # decision mask = NeuroGym's decision period
            t = np.arange(len(gt))
            np.testing.assert_array_equal(
                trial.decision, (t >= start["decision"]) & (t < stop["decision"])
            )
            assert trial.start == start and trial.stop == stop


def test_stream_mode_rows_are_back_to_back_neurogym_trials():
    streams = NeuroGymStreams(PDM)
    b = Batches(streams, batch_size=4, seq_len=60, seed=7, loss_weights="all")
    windows = [next(b) for _ in range(3)]
    x = np.concatenate([w[0] for w in windows])  # [180, 4, 3]
    y = np.concatenate([w[1] for w in windows])
    assert x.shape == (180, 4, 3) and x.dtype == np.float32
    assert y.shape == (180, 4) and y.dtype == np.int64
    for r in range(4):
        ref = neurogym_trials(PDM, stream_seed(7, r) % 2**32, 40)
        np.testing.assert_array_equal(x[:, r], np.concatenate([o for o, *_ in ref])[:180])
        np.testing.assert_array_equal(y[:, r], np.concatenate([g for _, g, *_ in ref])[:180])


def test_stream_zero_of_a_32_bit_seed_is_env_seed_itself():
    b = Batches(NeuroGymStreams(PDM), batch_size=1, seq_len=50, seed=2024, batch_first=True)
    x, _ = next(b)
    ref = neurogym_trials(PDM, 2024, 20)
    np.testing.assert_array_equal(x[0], np.concatenate([o for o, *_ in ref])[:50])


@pytest.mark.parametrize("mode", ["stream", "trial"])
@pytest.mark.parametrize("env_id", [PDM, "yang19.go-v0"])
def test_deterministic_under_our_seed(env_id, mode):
    def run(seed):
        b = Batches(NeuroGymStreams(ngym.make(env_id)), batch_size=5, seq_len=40, mode=mode,
                    seed=seed, with_mask=True)  # fmt: skip
        return [next(b) for _ in range(3)]

    first, again, other = run(3), run(3), run(4)
    for a, b in zip(first, again, strict=True):
        for u, v in zip(a, b, strict=True):
            np.testing.assert_array_equal(u, v)
    assert not all(np.array_equal(a[0], b[0]) for a, b in zip(first, other, strict=True))
    # rows differ from each other (streams are independent)
    x = first[0][0]
    assert np.sum((x - x.mean(axis=1, keepdims=True)) ** 2) > 0
    # reset(seed) restarts the same streams
    b = Batches(NeuroGymStreams(ngym.make(env_id)), batch_size=5, seq_len=40, mode=mode, seed=9,
                with_mask=True)  # fmt: skip
    before = next(b)
    b.reset(9)
    np.testing.assert_array_equal(next(b)[0], before[0])


def test_env_copy_is_taken_at_construction():
    env = ngym.make(PDM)
    streams = NeuroGymStreams(env)
    x1, _ = next(Batches(streams, batch_size=2, seq_len=30, seed=1))
    env.unwrapped.seed(99)  # later use of the env changes nothing
    for _ in range(5):
        env.unwrapped.new_trial()
    x2, _ = next(Batches(streams, batch_size=2, seq_len=30, seed=1))
    np.testing.assert_array_equal(x1, x2)


def test_torch_batches_with_mask_both_modes():
    torch = pytest.importorskip("torch")
    streams = NeuroGymStreams("yang19.dm1-v0")
    assert (streams.ob_size, streams.n_actions, streams.dt) == (33, 17, 100.0)
    for mode in ("stream", "trial"):
        b = Batches(streams, batch_size=6, seq_len=50, mode=mode, seed=0, with_mask=True,
                    output="torch", loss_weights="decision")  # fmt: skip
        x, y, m = next(b)
        assert isinstance(x, torch.Tensor) and x.dtype == torch.float32
        assert y.dtype == torch.int64 and m.dtype == torch.float32
        assert x.shape[1:] == (6, 33) and y.shape == m.shape == x.shape[:2]
        if mode == "stream":
            assert x.shape[0] == 50
        # loss_weights="decision": weight 1 exactly on NeuroGym decision steps, where
        # yang19 DM sets the fixation input to 0
        on = m.numpy() > 0
        assert on.any() and np.all(x.numpy()[..., 0][on] == 0)


def test_without_decision_period_the_mask_is_gt_nonzero():
    streams = NeuroGymStreams(TwoStepEnv(), name="twostep")
    assert streams.names == ("twostep",)
    b = Batches(streams, batch_size=16, mode="trial", seed=0, batch_first=True,
                loss_weights="decision")
    trials, weights = b.next_trials()
    np.testing.assert_array_equal(trials.decision, trials.label != 0)
    assert 0 < trials.decision.sum() < trials.valid.sum()
    np.testing.assert_array_equal(weights, trials.decision.astype(np.float32))
    assert set(trials.params) == {"x"}  # numeric scalars of NeuroGym's trial dict only
    np.testing.assert_array_equal(trials.params["x"] * 2, trials.label.sum(1))
    assert set(trials.length) <= {3, 4, 5}  # fixation 1-3 steps + go 2 steps
    # "yang" weights need a decision start: derived from the mask
    yb = Batches(streams, batch_size=16, mode="trial", seed=0, loss_weights="yang")
    yb.next_trials()
    assert streams.length_bounds()[0] >= 3 and streams.length_bounds()[1] <= 5
    assert 3 <= streams.mean_length_estimate() <= 5


def test_neurogyms_20_task_schedule_through_our_batches():
    envs = [ngym.make(name) for name in get_collection("yang19")]
    env = ScheduleEnvs(envs, RandomSchedule(len(envs)), env_input=True)
    streams = NeuroGymStreams(env, name="yang19")
    assert streams.ob_size == 53
    x, y = next(Batches(streams, batch_size=4, seq_len=100, seed=0))
    assert x.shape == (100, 4, 53)
    rule = x[..., 33:]
    assert np.array_equal(rule.sum(-1), np.ones((100, 4)))  # Dataset path: always 53 wide


def test_bad_envs_and_arguments_raise():
    with pytest.raises(ValueError, match=re.escape("is not a NeuroGym TrialEnv")):
        NeuroGymStreams(TaskEnv("go"))
    with pytest.raises(ValueError, match=re.escape("env_kwargs applies to a registered id")):
        NeuroGymStreams(ngym.make(PDM), env_kwargs={"dt": 20})
    with pytest.raises(ValueError, match=re.escape("probe_trials=0 must be an int >= 1")):
        NeuroGymStreams(PDM, probe_trials=0)
    assert NeuroGymStreams(PDM, env_kwargs={"dt": 20}).dt == 20.0

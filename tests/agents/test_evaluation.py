"""Evaluation: TASKS.md §7.1 metrics on a hand-made batch, held-out sets, evaluate()."""

from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import modcog_env  # noqa: E402
from agents.evaluation import (  # noqa: E402
    HELD_OUT_STREAM,
    evaluate,
    held_out_set,
    score,
)

torch.set_num_threads(1)


def _batch_and_logits():
    """3 trials, T = 6, 3 classes. Predictions chosen by hand; expectations from TASKS.md §7.1."""
    label = np.array([
        [0, 0, 0, 0, 2, 2],  # task 0, length 6, decision steps 4-5
        [0, 0, 0, 1, 1, 0],  # task 0, length 5, decision steps 3-4 (step 5 is padding)
        [0, 0, 1, 1, 0, 0],  # task 1, length 4, decision steps 2-3 (steps 4-5 are padding)
    ])
    pred = np.array([
        [0, 0, 0, 0, 2, 2],  # all right
        [0, 1, 0, 1, 2, 1],  # early response at 1; decision 1/2; last real step wrong
        [0, 2, 1, 1, 2, 2],  # response at 1 (pre-decision); padding wrong but must not count
    ])
    length = np.array([6, 5, 4])
    dec_start = np.array([4, 3, 2])
    t = np.arange(6)[None, :]
    decision = (t >= dec_start[:, None]) & (t < length[:, None])
    batch = modcog_env.TrialBatch(
        ob=np.zeros((3, 6, 2), np.float32), label=label, length=length, decision=decision,
        start={"fixation": np.zeros(3, np.int64), "decision": dec_start},
        stop={"fixation": dec_start, "decision": length},
        task=np.array([0, 0, 1]), index=np.arange(3), task_names=("a", "b"),
    )
    logits = np.full((3, 6, 3), -1.0, np.float32)
    np.put_along_axis(logits, pred[..., None], 2.0, axis=-1)
    return batch, logits


def test_metrics_on_a_hand_made_batch():
    batch, logits = _batch_and_logits()
    table = score(logits, batch)
    assert table.per_task["a"] == {
        "decision_accuracy": 3 / 4,  # 2/2 + 1/2 decision steps
        "last_step_accuracy": 1 / 2,
        "trial_correct": 1 / 2,
    }
    # task b: every decision step right, but the response at step 1 (before the decision
    # period) makes the trial incorrect
    assert table.per_task["b"] == {
        "decision_accuracy": 1.0, "last_step_accuracy": 1.0, "trial_correct": 0.0,
    }
    assert table.mean == {
        "decision_accuracy": 0.875, "last_step_accuracy": 0.75, "trial_correct": 0.25,
    }
    assert table.n_trials == {"a": 2, "b": 1}
    # torch tensors give the same table; a trial whose pre-decision error is removed is correct
    assert score(torch.from_numpy(logits), batch).to_dict() == table.to_dict()
    fixed = logits.copy()
    fixed[2, 1] = [2.0, -1.0, -1.0]
    assert score(fixed, batch).per_task["b"]["trial_correct"] == 1.0
    assert "mean" in str(table) and "decision_accuracy" in str(table)


def test_metrics_reject_misaligned_logits():
    batch, logits = _batch_and_logits()
    with pytest.raises(ValueError, match=re.escape("logits must be [B, T, A] = [3, 6, A]")):
        score(logits[:, :5], batch)


def test_held_out_set_rows_and_rule_inputs():
    tasks = ["go", "dms"]
    ho = held_out_set(tasks, n_trials=12, seed=7)
    assert ho.names == ("go", "dms") and ho.ob_size == 33 + 2
    seed = modcog_env.stream_seed(7, HELD_OUT_STREAM)
    for i, name in enumerate(tasks):
        ref = modcog_env.make_task(name).sample(seed, np.arange(12))
        tb = ho.batches[i]
        np.testing.assert_array_equal(tb.ob[..., :33], ref.ob)
        np.testing.assert_array_equal(tb.label, ref.label)
        np.testing.assert_array_equal(tb.ob[..., 33 + i], ref.valid)  # rule one-hot, real steps
        assert not tb.ob[..., 33 + 1 - i].any()
        assert (tb.task == i).all() and tb.task_names == ("go", "dms")


def test_held_out_set_matches_the_training_stream_layout():
    # the held-out stream played by Batches in trial mode gives the same inputs: trial k of
    # task i there is row k of the held-out batch of task i
    tasks = ["go", "rtgo", "dm1"]
    ho = held_out_set(tasks, n_trials=10, seed=3)
    b = modcog_env.Batches(tasks, batch_size=1, mode="trial", seed=3, streams=[HELD_OUT_STREAM],
                           batch_first=True)
    for k in range(10):
        tb, _ = b.next_trials()
        i = int(tb.task[0])
        n = int(tb.length[0])
        np.testing.assert_array_equal(tb.ob[0, :n], ho.batches[i].ob[k, :n])
        np.testing.assert_array_equal(tb.label[0, :n], ho.batches[i].label[k, :n])


class _AlwaysFixate(torch.nn.Module):
    """Answers class 0 on every step; takes [B, T, D] like MaskedRNN with batch_first."""

    def __init__(self, n_actions):
        super().__init__()
        self.n_actions = n_actions
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x, batch_first=False):
        out = torch.zeros(x.shape[:2] + (self.n_actions,))
        out[..., 0] = 1.0
        return out


@pytest.mark.parametrize("chunk", [7, 1000])
def test_evaluate_always_fixate(chunk):
    # go: every decision label is a direction (TASKS.md §8.1: label-0 fraction 0), so an agent
    # that always fixates scores 0; dms: it is right exactly on the no-go (non-match) trials
    ho = held_out_set(["go", "dms"], n_trials=60, seed=1)
    table = evaluate(_AlwaysFixate(17), ho, chunk=chunk)
    assert table.per_task["go"] == {
        "decision_accuracy": 0.0, "last_step_accuracy": 0.0, "trial_correct": 0.0,
    }
    nogo = 1.0 - ho.batches[1].params["go"].astype(float).mean()
    assert 0 < nogo < 1
    for metric in ("decision_accuracy", "last_step_accuracy", "trial_correct"):
        assert table.per_task["dms"][metric] == pytest.approx(nogo, abs=1e-12)
    assert table.mean["trial_correct"] == pytest.approx(nogo / 2, abs=1e-12)


def test_evaluate_checks_the_input_size():
    from agents.models import DenseRNN

    model = DenseRNN(input_size=33, output_size=17, hidden_size=8)
    with pytest.raises(ValueError, match=re.escape("model takes 33 input channels")):
        evaluate(model, ["go", "rtgo"], n_trials=4)
    table = evaluate(model, "go", n_trials=4)
    assert set(table.per_task) == {"go"} and model.training

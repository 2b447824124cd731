"""Supervised batches: stream windows, trial-aligned batches, loss weights, torch, Dataset drop-in.

Row r of every batch is stream r, i.e. the trials the env plays after
``reset(seed=modcog_env.stream_seed(seed, r))`` (TASKS.md §6: trials back to back, no gap, windows
may start and end mid-trial). Expected contents are built from the env's trials and from the
loss-weight definitions of TASKS.md §2.4, never read back from the batch code.
"""

from __future__ import annotations

import math
import pickle
import re

import gymnasium as gym
import numpy as np
import pytest
import utils

import modcog_env
from modcog_env import Batches, Dataset, MultiTaskEnv, TaskEnv, loss_weights, stream_seed

N_RING = 16
BASE = 1 + 2 * N_RING
CUSTOM = ["dlygo", "dm1", "dms", "rtgoseqr", "dlydm2intl"]


def _env_for(tasks, **kwargs):
    if isinstance(tasks, str) and tasks not in modcog_env.COLLECTIONS:
        return TaskEnv(tasks, **kwargs)
    return MultiTaskEnv(tasks, **kwargs)


def _env_trials(tasks, seed: int, row: int, n_steps: int = 0, n_trials: int = 0, **kwargs):
    """Trials of stream ``row`` as the env plays them: until ``n_steps`` steps or ``n_trials``."""
    env = _env_for(tasks, **kwargs)
    env.reset(seed=stream_seed(seed, row))
    trials, steps = [env.unwrapped.trial], env.unwrapped.trial.length
    while steps < n_steps or len(trials) < n_trials:
        env.reset()
        trials.append(env.unwrapped.trial)
        steps += env.unwrapped.trial.length
    return trials


def _yang(trial, dt: float) -> np.ndarray:
    """TASKS.md §2.4 loss weights of one trial: 0 for the first 100 ms, 1 until the go cue (the
    decision period), 0 for its first 100 ms, 5 afterwards."""
    grace = math.ceil(100 / dt)
    dec = trial.start["decision"]
    w = np.where(np.arange(trial.length) < dec, 1.0, 5.0)
    w[:grace] = 0
    w[dec : dec + grace] = 0
    return w.astype(np.float32)


def _concat(trials, field: str, n: int, dt: float = 100) -> np.ndarray:
    if field == "yang":
        parts = [_yang(t, dt) for t in trials]
    else:
        parts = [getattr(t, field) for t in trials]
    return np.concatenate(parts)[:n]


# ------------------------------------------------------------------------------ stream mode
@pytest.mark.parametrize("batch_first", [False, True])
def test_stream_shapes_and_dtypes(batch_first):
    b = Batches("20-cog", batch_size=3, seq_len=40, batch_first=batch_first, with_mask=True)
    x, y, w = next(b)
    shape = (3, 40) if batch_first else (40, 3)
    assert x.shape == shape + (BASE + 20,) and x.dtype == np.float32
    assert y.shape == shape and y.dtype == np.int64
    assert w.shape == shape and w.dtype == np.float32
    assert b.ob_size == BASE + 20 and b.n_actions == 1 + N_RING


def test_batch_first_is_a_transpose():
    a = next(Batches(CUSTOM, batch_size=4, seq_len=30, seed=2))
    b = next(Batches(CUSTOM, batch_size=4, seq_len=30, seed=2, batch_first=True))
    np.testing.assert_array_equal(a[0], np.swapaxes(b[0], 0, 1))
    np.testing.assert_array_equal(a[1], np.swapaxes(b[1], 0, 1))


@pytest.mark.parametrize(
    "tasks, kwargs",
    [
        ("dmsseqr", {}),
        (CUSTOM, {}),
        (CUSTOM, {"batch_first": True, "loss_weights": "yang", "dt": 20}),
    ],
    ids=["single", "custom", "custom-batch-first-yang-dt20"],
)
def test_successive_windows_continue_the_streams(tasks, kwargs):
    axis = 1 if kwargs.get("batch_first") else 0
    b = Batches(tasks, batch_size=4, seq_len=37, seed=5, with_mask=True, **kwargs)
    parts = [next(b) for _ in range(3)]
    long = next(Batches(tasks, batch_size=4, seq_len=111, seed=5, with_mask=True, **kwargs))
    for i in range(3):
        np.testing.assert_array_equal(np.concatenate([p[i] for p in parts], axis=axis), long[i])


def test_rows_do_not_depend_on_batch_size():
    small = next(Batches(CUSTOM, batch_size=4, seq_len=60, seed=9, batch_first=True))
    big = next(Batches(CUSTOM, batch_size=16, seq_len=60, seed=9, batch_first=True))
    np.testing.assert_array_equal(small[0], big[0][:4])
    np.testing.assert_array_equal(small[1], big[1][:4])
    # and other seeds give other streams
    other = next(Batches(CUSTOM, batch_size=4, seq_len=60, seed=10, batch_first=True))
    assert not np.array_equal(small[0], other[0])


def test_streams_argument_selects_stream_numbers():
    full = next(Batches(CUSTOM, batch_size=6, seq_len=50, seed=1, batch_first=True))
    part = next(Batches(CUSTOM, batch_size=2, seq_len=50, seed=1, streams=[4, 1], batch_first=True))
    np.testing.assert_array_equal(part[0], full[0][[4, 1]])
    with pytest.raises(ValueError, match=re.escape("batch_size is 3")):
        Batches(CUSTOM, batch_size=3, streams=[0, 1])


@pytest.mark.parametrize(
    "tasks, kwargs",
    [
        ("dlygo", {}),
        ("dnmcintrseql", {"convention": "reference"}),
        ("20-cog", {}),
        (CUSTOM, {"convention": "reference"}),
        (CUSTOM, {"dt": 20, "sigma": 0.5}),
    ],
    ids=["single", "single-reference", "20-cog", "custom-reference", "custom-dt20"],
)
def test_stream_rows_equal_env_trials(tasks, kwargs):
    seed, rows, seq_len = 31, 3, 150
    b = Batches(tasks, batch_size=rows, seq_len=seq_len, seed=seed, with_mask=True,
                loss_weights="yang", **kwargs)
    x, y, w = next(b)
    dt = kwargs.get("dt", 100)
    for r in range(rows):
        trials = _env_trials(tasks, seed, r, n_steps=seq_len, **kwargs)
        np.testing.assert_array_equal(x[:, r], _concat(trials, "ob", seq_len))  # bit-exact
        np.testing.assert_array_equal(y[:, r], _concat(trials, "label", seq_len))
        np.testing.assert_array_equal(w[:, r], _concat(trials, "yang", seq_len, dt))


def test_stream_window_masks_and_trial_starts():
    seed, seq_len = 4, 90
    b = Batches(CUSTOM, batch_size=2, seq_len=seq_len, seed=seed, batch_first=True)
    win = b.next_window()
    for r in range(2):
        trials = _env_trials(CUSTOM, seed, r, n_steps=seq_len)
        starts = np.zeros(sum(t.length for t in trials), bool)
        starts[np.cumsum([0] + [t.length for t in trials[:-1]])] = True
        np.testing.assert_array_equal(win.trial_start[r], starts[:seq_len])
        np.testing.assert_array_equal(win.decision[r], _concat(trials, "decision", seq_len))
        # default loss weights ("all", as agents.TrainConfig): 1 on every real step, fixation too
        np.testing.assert_array_equal(win.weight[r], np.ones(seq_len, np.float32))
        tasks = np.concatenate([np.full(t.length, CUSTOM.index(t.task_name)) for t in trials])
        np.testing.assert_array_equal(win.task[r], tasks[:seq_len])


@pytest.mark.parametrize(
    ("tasks", "kwargs"),
    [
        ("20-cog", {"loss_weights": "all", "prefetch": 8}),
        ("mod-cog-82", {"loss_weights": "decision", "batch_first": True, "prefetch": 3}),
        ("dlygoseqr", {"loss_weights": "yang", "prefetch": 2}),
        (CUSTOM, {"convention": "reference", "prefetch": 1, "rule_inputs": False}),
        (CUSTOM, {"dt": 20, "sigma": 0.5, "seq_len": 97}),
        ("mod-cog-126", {"sigma": 0.0, "prefetch": 2, "seq_len": 150}),
    ],
    ids=["20-cog", "mod-cog-82", "single-seq", "custom-reference", "custom-dt20", "126-no-noise"],
)
@pytest.mark.parametrize("painter", ["compiled", "numpy"])
def test_painted_windows_equal_sampled_windows(tasks, kwargs, painter):
    """The stream cutter renders planned trials straight into its block (``paint``), with the
    compiled kernel (``modcog_env.stream_kernel``) or numpy passes; every field of every window
    equals the path that samples padded TrialBatches and copies their steps."""
    kwargs = {"batch_size": 7, "seq_len": 40, "seed": 3, **kwargs}
    painted, sampled = Batches(tasks, **kwargs), Batches(tasks, **kwargs)
    assert painted.cutter.paint and painted.cutter.compiled  # numba is a dependency
    painted.cutter.compiled = painter == "compiled"
    sampled.cutter.paint = sampled.cutter.compiled = False
    for _ in range(12):
        a, b = painted.next_window(), sampled.next_window()
        for field in ("ob", "label", "weight", "decision", "task", "trial_start"):
            x, y = getattr(a, field), getattr(b, field)
            assert x.dtype == y.dtype and x.shape == y.shape, field
            np.testing.assert_array_equal(x, y, err_msg=field)


def test_paint_only_where_tasks_render_on_canvas():
    assert Batches("20-cog", batch_size=2, seq_len=10).cutter.paint
    # yang2019 tasks build their own arrays: the sampling path
    assert not Batches("dm1", convention="yang2019", batch_size=2, seq_len=10).cutter.paint
    assert not Batches(["go", "dm1"], convention="yang2019", targets="regression",
                       batch_size=2, seq_len=10).cutter.paint


def test_one_refill_per_prefetch_cycle():
    """The cutter asks for enough trials that one sampling round fills every row (a second round
    would pay the whole fixed cost again)."""
    for prefetch in (1, 2, 8):
        b = Batches("20-cog", batch_size=64, seq_len=350, seed=0, prefetch=prefetch)
        for _ in range(4 * prefetch):
            b.next_window()
        assert b.cutter.refills == 4


def _scanned_state(cutter, state, head):
    """compact_state by scanning the block's trial starts and tasks (an independent oracle)."""
    position, prev, counts = state.position.copy(), state.prev.copy(), state.counts.copy()
    remaining = np.zeros(cutter.rows, np.int64)
    head_task = np.full(cutter.rows, -1, np.int64)
    for r in range(cutter.rows):
        if cutter.extent[r] <= head:
            continue
        starts = np.flatnonzero(cutter.block["trial_start"][head + 1 : cutter.extent[r], r])
        tasks = cutter.block["task"][head + 1 : cutter.extent[r], r][starts]
        head_task[r] = prev[r] = cutter.block["task"][head, r]
        remaining[r] = starts[0] + 1 if starts.size else cutter.extent[r] - head
        position[r] -= starts.size
        counts[r] -= np.bincount(tasks, minlength=counts.shape[1])
    return {"position": position, "prev": prev, "counts": counts, "head_task": head_task,
            "remaining": remaining}


@pytest.mark.parametrize("tasks", ["20-cog", "dlygo", CUSTOM])
@pytest.mark.parametrize("seq_len", [7, 40])
def test_compact_state_equals_a_scan_of_the_block(tasks, seq_len):
    """The stream position saved in checkpoints, computed from the cutter's table of trial
    starts, equals a scan of the block for every head reached (before and after refills, after a
    restore)."""
    b = Batches(tasks, batch_size=6, seq_len=seq_len, seed=5, prefetch=3)
    for k in range(14):
        b.next_window()
        c = b.cutter
        for head in (c.head, c.head - seq_len):
            if head < 0:
                continue
            got, want = c.compact_state(b.state, head), _scanned_state(c, b.state, head)
            for key in want:
                np.testing.assert_array_equal(got[key], want[key], err_msg=f"{k} {head} {key}")
        if k == 6:  # continue from a restored copy
            saved = b.state_dict()
            b = Batches(tasks, batch_size=6, seq_len=seq_len, seed=5, prefetch=3)
            b.load_state_dict(saved)


def test_returned_batches_are_not_mutated():
    b = Batches(CUSTOM, batch_size=3, seq_len=25, seed=0, with_mask=True)
    first = next(b)
    kept = [a.copy() for a in first]
    for _ in range(4):
        later = next(b)
        for a, c in zip(first, later, strict=True):
            assert not np.shares_memory(a, c)
    for a, c in zip(first, kept, strict=True):
        np.testing.assert_array_equal(a, c)


def test_trial_mode_batches_are_not_mutated():
    b = Batches(CUSTOM, batch_size=3, mode="trial", seed=0, with_mask=True)
    first = next(b)
    kept = [a.copy() for a in first]
    for _ in range(4):
        next(b)
    for a, c in zip(first, kept, strict=True):
        np.testing.assert_array_equal(a, c)


def test_max_batches_stops_iteration():
    assert len(list(Batches("dlygo", batch_size=2, seq_len=10, max_batches=3))) == 3
    assert len(list(Batches(CUSTOM, batch_size=2, mode="trial", max_batches=2))) == 2


def test_reset_restarts_the_streams():
    b = Batches(CUSTOM, batch_size=2, seq_len=20, seed=3)
    first = next(b)
    next(b)
    b.reset()
    np.testing.assert_array_equal(next(b)[0], first[0])
    b.reset(seed=4)
    np.testing.assert_array_equal(
        next(b)[0], next(Batches(CUSTOM, batch_size=2, seq_len=20, seed=4))[0]
    )


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"batch_size": 0}, "batch_size=0"),
        ({"seq_len": 0}, "seq_len=0"),
        ({"mode": "trials"}, "mode='trials'"),
        ({"loss_weights": "mask"}, "loss_weights='mask'"),
        ({"output": "jax"}, "output='jax'"),
        ({"max_batches": 0}, "max_batches=0"),
        ({"device": "cpu"}, "output='torch'"),
    ],
)
def test_bad_arguments_raise(kwargs, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        Batches("dlygo", **kwargs)


# ------------------------------------------------------------------------------ trial mode
@pytest.mark.parametrize("tasks", ["dms", CUSTOM], ids=["single", "custom"])
def test_trial_mode_rows_are_stream_trials(tasks):
    seed, rows = 12, 4
    b = Batches(tasks, batch_size=rows, mode="trial", seed=seed)
    expected = [_env_trials(tasks, seed, r, n_trials=3) for r in range(rows)]
    names = list(modcog_env.collection(tasks)) if not isinstance(tasks, str) else [tasks]
    for k in range(3):
        batch, weights = b.next_trials()
        assert len(batch) == rows
        np.testing.assert_array_equal(batch.index, [k] * rows)
        for r in range(rows):
            want = expected[r][k]
            assert batch.length[r] == want.length
            n = want.length
            np.testing.assert_array_equal(batch.ob[r, :n], want.ob)
            np.testing.assert_array_equal(batch.label[r, :n], want.label)
            np.testing.assert_array_equal(batch.decision[r, :n], want.decision)
            assert batch.task[r] == names.index(want.task_name)
            # padding: zeros and no decision, no weight
            assert not batch.ob[r, n:].any() and not batch.label[r, n:].any()
            assert not batch.decision[r, n:].any()
            np.testing.assert_array_equal(weights[r, :n], np.ones(n, np.float32))  # "all"
            assert not weights[r, n:].any()
            # per-trial parameters of the trial's own task
            for key in ("go", "response", "delay_ms", "int_sign", "seq_sign"):
                np.testing.assert_array_equal(batch.params[key][r], want.params[key])


@pytest.mark.parametrize("batch_first", [False, True])
def test_trial_mode_iteration_shapes_and_padding(batch_first):
    b = Batches(CUSTOM, batch_size=5, mode="trial", seed=2, batch_first=batch_first,
                with_mask=True, loss_weights="all")
    x, y, w = next(b)
    ref = Batches(CUSTOM, batch_size=5, mode="trial", seed=2)
    batch, _ = ref.next_trials()
    t_max = int(batch.length.max())
    shape = (5, t_max) if batch_first else (t_max, 5)
    assert x.shape == shape + (BASE + len(CUSTOM),) and x.dtype == np.float32
    assert y.shape == shape and y.dtype == np.int64 and w.shape == shape
    if not batch_first:
        x, y, w = (np.swapaxes(a, 0, 1) for a in (x, y, w))
    valid = np.arange(t_max)[None, :] < batch.length[:, None]
    np.testing.assert_array_equal(w, valid.astype(np.float32))  # "all": 1 on valid steps
    assert not x[~valid].any() and not y[~valid].any()
    np.testing.assert_array_equal(x, batch.ob)


# ------------------------------------------------------------------------------ loss weights
@pytest.mark.parametrize("dt", [100, 20])
@pytest.mark.parametrize("tasks", [["dlygo", "dm1", "dmsseqr", "rtgo"]], ids=["mixed"])
def test_loss_weight_modes(dt, tasks):
    seed = 6
    kinds = {}
    for kind in ("all", "decision", "yang"):
        b = Batches(tasks, batch_size=6, mode="trial", seed=seed, dt=dt, loss_weights=kind)
        batch, weights = b.next_trials()
        assert weights.dtype == np.float32
        np.testing.assert_array_equal(loss_weights(batch, kind), weights)
        kinds[kind] = (batch, weights)
    batch = kinds["all"][0]
    for r in range(6):
        trial = batch.trial(r)
        n, t_max = trial.length, batch.max_length
        pad = np.zeros(t_max - n, np.float32)
        np.testing.assert_array_equal(kinds["all"][1][r], np.r_[np.ones(n, np.float32), pad])
        np.testing.assert_array_equal(
            kinds["decision"][1][r], np.r_[trial.decision.astype(np.float32), pad]
        )
        grace = 100 // dt  # steps in 100 ms
        dec = trial.start["decision"]
        yang = kinds["yang"][1][r]
        assert np.all(yang[:grace] == 0)
        assert np.all(yang[grace:dec] == 1)
        assert np.all(yang[dec : dec + grace] == 0)
        assert np.all(yang[dec + grace : n] == 5)
        assert np.all(yang[n:] == 0)
        assert dec > grace and n > dec + grace  # every part is present in these tasks


def test_loss_weights_rejects_unknown_kind():
    batch, _ = Batches("dlygo", batch_size=1, mode="trial").next_trials()
    with pytest.raises(ValueError, match=re.escape("loss_weights='yang2019'")):
        loss_weights(batch, "yang2019")


# ------------------------------------------------------------------------------ torch
def test_torch_output_shares_numpy_memory(monkeypatch):
    torch = pytest.importorskip("torch")
    made = []
    real = torch.from_numpy

    def spy(a):
        made.append(a)
        return real(a)

    monkeypatch.setattr(torch, "from_numpy", spy)
    b = Batches(CUSTOM, batch_size=3, seq_len=20, seed=1, output="torch", with_mask=True)
    x, y, w = next(b)
    assert isinstance(x, torch.Tensor)
    assert x.dtype == torch.float32 and y.dtype == torch.int64 and w.dtype == torch.float32
    assert len(made) == 3
    for t, a in zip((x, y, w), made, strict=True):
        assert np.shares_memory(t.numpy(), a)  # no copy
    xn, yn, wn = next(Batches(CUSTOM, batch_size=3, seq_len=20, seed=1, with_mask=True))
    np.testing.assert_array_equal(x.numpy(), xn)
    np.testing.assert_array_equal(y.numpy(), yn)
    np.testing.assert_array_equal(w.numpy(), wn)


def test_torch_trial_mode_dtypes():
    torch = pytest.importorskip("torch")
    x, y = next(Batches(CUSTOM, batch_size=2, mode="trial", output="torch"))
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.shape[:2] == y.shape


def test_torch_dataset_workers_make_disjoint_streams():
    torch = pytest.importorskip("torch")
    from torch.utils.data import DataLoader

    b = Batches(CUSTOM, batch_size=3, seq_len=30, seed=7, batch_first=True, max_batches=2)
    loader = DataLoader(b.torch_dataset(), batch_size=None, num_workers=2)
    batches = list(loader)
    assert len(batches) == 4  # max_batches per worker
    assert all(isinstance(x, torch.Tensor) and x.shape == (3, 30, BASE + 5) for x, _ in batches)
    rows = [tuple(row.reshape(-1).tolist()) for x, _ in batches for row in x.numpy()]
    assert len(set(rows)) == len(rows)  # no identical rows anywhere, across workers included
    # without workers the dataset yields the parent's streams
    x0, _ = next(iter(b.torch_dataset()))
    np.testing.assert_array_equal(x0.numpy(), next(Batches(
        CUSTOM, batch_size=3, seq_len=30, seed=7, batch_first=True))[0])


# ------------------------------------------------------------------------------ Dataset drop-in
@pytest.mark.parametrize("env", ["dlygo", "ModCog-DelayGo-v0"])
def test_dataset_drop_in_shapes(env):
    ds = Dataset(env, batch_size=16, seq_len=100)
    inputs, target = ds()
    assert inputs.shape == (100, 16, BASE) and inputs.dtype == np.float32
    assert target.shape == (100, 16) and target.dtype == np.int64


def test_dataset_batch_first():
    inputs, target = Dataset("dms", batch_size=4, seq_len=30, batch_first=True)()
    assert inputs.shape == (4, 30, BASE) and target.shape == (4, 30)


def test_dataset_does_not_overwrite_returned_arrays():
    ds = Dataset("dm1", batch_size=8, seq_len=50)
    inputs, target = ds()
    kept = inputs.copy(), target.copy()
    inputs2, target2 = ds()
    np.testing.assert_array_equal(inputs, kept[0])
    np.testing.assert_array_equal(target, kept[1])
    assert not np.shares_memory(inputs, inputs2)
    assert not np.array_equal(inputs, inputs2)  # the stream moved on


def test_dataset_takes_a_seed():
    a = Dataset("dm1", batch_size=4, seq_len=40, seed=1)()
    b = Dataset("dm1", batch_size=4, seq_len=40, seed=1)()
    c = Dataset("dm1", batch_size=4, seq_len=40, seed=2)()
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    # row r is stream r of that seed
    trials = _env_trials("dm1", 2, 3, n_steps=40)
    np.testing.assert_array_equal(c[0][:, 3], _concat(trials, "ob", 40))


def test_dataset_accepts_multitask_env():
    env = MultiTaskEnv()  # 20-cog
    inputs, target = Dataset(env, batch_size=4, seq_len=60)()
    assert inputs.shape == (60, 4, 53)
    wrapped = gym.make("ModCog-20Cog-v0")
    np.testing.assert_array_equal(Dataset(wrapped, batch_size=4, seq_len=60)()[0], inputs)
    custom = MultiTaskEnv(["go", "dms"], dt=50)
    inputs, _ = Dataset(custom, batch_size=2, seq_len=80, seed=3)()
    assert inputs.shape == (80, 2, BASE + 2)
    trials = _env_trials(["go", "dms"], 3, 1, n_steps=80, dt=50)
    np.testing.assert_array_equal(inputs[:, 1], _concat(trials, "ob", 80))


def test_dataset_iteration_and_max_batch():
    ds = Dataset("dlygo", batch_size=2, seq_len=10, max_batch=3)
    assert len(list(ds)) == 3
    assert ds.seq_len == 10 and ds.batch_size == 2


@pytest.mark.parametrize(
    ("tasks", "kwargs"),
    [("20-cog", {"prefetch": 1, "seq_len": 17}), ("mod-cog-82", {"prefetch": 2}),
     ("dlygoseqr", {"seq_len": 11, "prefetch": 1}), ("20-cog", {"mode": "trial"})],
    ids=["20-cog-p1", "mod-cog-82", "short-windows", "trial-mode"],
)
def test_marks_give_the_state_of_their_moment_later(tasks, kwargs):
    """state_dict_at(mark, rewind) equals the state_dict(rewind) taken when the mark was taken,
    even when it is asked many refills later or from a pickled copy (as a worker process sends
    it), and across a load_state_dict; a state from a mark resumes the same batches."""
    kwargs = {"batch_size": 6, "seq_len": 40, "seed": 4, **kwargs}
    data = Batches(tasks, **kwargs)
    marks, states = [data.mark()], [(data.state_dict(), None)]
    for i in range(30):
        next(data)
        marks.append(pickle.loads(pickle.dumps(data.mark())) if i % 2 else data.mark())
        states.append((data.state_dict(), data.state_dict(rewind=1)))
        if i == 20:  # restored mid-stream: the marks taken before stay valid
            refills = data.cutter.refills if data.mode == "stream" else 0
            data.load_state_dict(states[-2][0])
            marks.append(data.mark())
            states.append((data.state_dict(), None))
    if data.mode == "stream":
        assert refills + data.cutter.refills >= 4  # the marks span several refills
    for k, (mark, (state, rewound)) in enumerate(zip(marks, states, strict=True)):
        assert utils.same_state(data.state_dict_at(mark), state), k
        if rewound is None:
            with pytest.raises(ValueError, match="rewind=1"):
                data.state_dict_at(mark, rewind=1)
        else:
            assert utils.same_state(data.state_dict_at(mark, rewind=1), rewound), k
    # a state from a mark resumes the same batches as the stream that made it
    resumed = Batches(tasks, **kwargs)
    resumed.load_state_dict(data.state_dict_at(marks[10], rewind=1))
    twin = Batches(tasks, **kwargs)
    for _ in range(9):
        next(twin)
    for _ in range(3):
        for x, y in zip(next(resumed), next(twin), strict=True):
            np.testing.assert_array_equal(x, y)
    with pytest.raises(ValueError, match="mark="):
        data.state_dict_at(state)


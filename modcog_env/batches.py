"""Supervised batches for PyTorch or numpy: stream windows and trial-aligned batches (DESIGN.md).

Row ``r`` of every batch is stream ``r`` (seed :func:`~modcog_env.streams.stream_seed` (seed, r)):

- **stream mode** (``mode="stream"``, NeuroGym ``Dataset`` semantics): each row is a continuous
  sequence of back-to-back trials cut into ``seq_len`` windows; the next batch continues where the
  last one stopped, so windows may start and end mid-trial;
- **trial mode** (``mode="trial"``): each call takes the next whole trial of every stream,
  padded to the longest, with lengths, masks, task indices and per-trial parameters.

Every batch is made of fresh arrays: a returned batch is never written again. Outputs are numpy
or, with ``output="torch"``, torch tensors sharing the numpy memory (optionally pinned and moved
to ``device``). torch is imported only when asked for.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .scheduler import Schedule
from .streams import TaskStreams, stream_seeds
from .trials import TrialBatch

LOSS_WEIGHTS = ("all", "decision", "yang")
OUTPUTS = ("numpy", "torch")
MODES = ("stream", "trial")
TARGETS = ("class", "regression")
YANG_GRACE_MS = 100.0  # Yang et al. 2019: no loss in the first 100 ms and 100 ms after the go cue
YANG_RESPONSE_WEIGHT = 5.0


def loss_weights(batch: TrialBatch, kind: str = "all") -> np.ndarray:
    """float32 [B, T] per-step loss weights of a TrialBatch; 0 on padding.

    ``"all"``: 1 on every step; ``"decision"``: 1 on decision steps; ``"yang"``: 0 for the first
    100 ms, 1 until the decision period, 0 for its first 100 ms, 5 afterwards (TASKS.md §2.4).
    """
    if kind not in LOSS_WEIGHTS:
        raise ValueError(f"loss_weights={kind!r} is not one of {LOSS_WEIGHTS}")
    valid = batch.valid
    if kind == "all":
        return valid.astype(np.float32)
    if kind == "decision":
        return batch.decision.astype(np.float32)
    t = np.arange(batch.max_length)[None, :]
    grace = math.ceil(YANG_GRACE_MS / batch.dt - 1e-9)
    dec = batch.start["decision"][:, None]
    w = np.where(t < dec, 1.0, YANG_RESPONSE_WEIGHT)
    w = np.where((t < grace) | ((t >= dec) & (t < dec + grace)), 0.0, w)
    return (w * valid).astype(np.float32)


@dataclass
class StreamWindow:
    """One stream-mode batch as numpy arrays, [B, L, ...] (``batch_first``) or [L, B, ...]."""

    ob: np.ndarray  # float32 observations
    label: np.ndarray  # int64 labels
    weight: np.ndarray  # float32 loss weights
    decision: np.ndarray  # bool decision mask
    task: np.ndarray  # int64 task index of the trial each step belongs to
    trial_start: np.ndarray  # bool: the step is step 0 of a trial
    y: np.ndarray | None = None  # float32 [..., K] regression target (targets="regression")
    c_mask: np.ndarray | None = None  # float32 [..., K] cost mask (targets="regression")


class _StreamCutter:
    """Cuts back-to-back trials of B streams into ``seq_len`` windows.

    Trials are generated ``prefetch`` windows at a time into a time-major block [capacity, B]
    (each task's TrialBatch written straight into it), and windows are copied out of the block;
    the content of stream r does not depend on how far ahead it was generated.
    """

    FIELDS = ("ob", "label", "weight", "decision", "task", "trial_start")

    def __init__(
        self,
        streams: TaskStreams,
        rows: int,
        weights: str,
        batch_first: bool,
        prefetch: int,
        regression: bool = False,
    ) -> None:
        self.streams, self.rows, self.weights = streams, rows, weights
        self.regression = regression  # also cut the yang2019 arrays y and c_mask
        self.batch_first, self.prefetch = batch_first, prefetch
        self.block = self._empty(0)
        self.head = 0  # first unread step of every row
        self.extent = np.zeros(rows, np.int64)  # steps written per row (from block start)
        self.refills = 0  # sampling rounds so far (benchmarks align their timing to them)

    def _empty(self, capacity: int) -> dict[str, np.ndarray]:
        """Uninitialized time-major block [capacity, B, ...]: only written steps are ever read."""
        b, d = self.rows, self.streams.ob_size
        block = {
            "ob": np.empty((capacity, b, d), np.float32),
            "label": np.empty((capacity, b), np.int64),
            "weight": np.empty((capacity, b), np.float32),
            "decision": np.empty((capacity, b), bool),
            "task": np.empty((capacity, b), np.int64),
            "trial_start": np.empty((capacity, b), bool),
        }
        if self.regression:
            k = self.streams.n_actions
            block["y"] = np.empty((capacity, b, k), np.float32)
            block["c_mask"] = np.empty((capacity, b, k), np.float32)
        return block

    def _refill(self, state, seq_len: int) -> None:
        """Move unread steps to the block start, then append trials until every row holds
        >= prefetch windows (the block is reused; it grows only when it must)."""
        avail = self.extent - self.head
        target = self.prefetch * seq_len
        count = np.ceil(np.maximum(target - avail, 0) * 1.1 / self.streams.mean_length_estimate())
        count = np.where(avail < target, count.astype(np.int64) + 1, 0)
        parts, rows = self.streams.next_parts(state, count)
        lengths = np.zeros(rows.size, np.int64)
        for _, sel, tb in parts:
            lengths[sel] = tb.length
        added = np.bincount(rows, weights=lengths, minlength=self.rows).astype(np.int64)
        new_extent = avail + added
        keep, h = (int(avail.max()) if avail.size else 0), self.head
        block = self.block
        if int(new_extent.max()) > block["label"].shape[0]:
            block = self._empty(max(int(new_extent.max()), target + target // 4))
        for k, v in self.block.items():
            block[k][:keep] = v[h : h + keep]  # overlapping in place: numpy copies safely
        ends = np.cumsum(lengths)
        first = np.searchsorted(rows, rows, side="left")  # rows are sorted
        offset = avail[rows] + (ends - lengths) - (ends - lengths)[first]
        base, cap = self.streams.base_size, block["label"].shape[0]
        flat = {
            k: v.reshape(cap * self.rows, -1) if v.ndim == 3 else v.reshape(-1)
            for k, v in block.items()
        }
        for i, sel, tb in parts:
            # every real step of these trials, as flat source and destination row indices
            valid = tb.valid.reshape(-1)
            src = np.flatnonzero(valid)
            m, t = np.divmod(src, tb.max_length)
            dst = (offset[sel][m] + t) * self.rows + rows[sel][m]  # time-major: pos * B + row
            steps = tb.ob.reshape(-1, base)[src]
            if self.streams.rule_inputs:
                full = np.zeros((src.size, self.streams.ob_size), np.float32)
                full[:, :base] = steps
                full[:, base + i] = 1.0
                steps = full
            # rows as single void items: a 1-D scatter copies whole rows (~3x faster than 2-D)
            row_type = np.dtype((np.void, steps.dtype.itemsize * steps.shape[1]))
            flat["ob"].view(row_type).reshape(-1)[dst] = steps.view(row_type).reshape(-1)
            flat["label"][dst] = tb.label.reshape(-1)[src]
            flat["weight"][dst] = loss_weights(tb, self.weights).reshape(-1)[src]
            flat["decision"][dst] = tb.decision.reshape(-1)[src]
            flat["task"][dst] = i
            flat["trial_start"][dst] = t == 0
            if self.regression:
                _write_targets(flat, tb, src, dst)
        self.block, self.head, self.extent = block, 0, new_extent
        self.refills += 1

    def window(self, state, seq_len: int) -> StreamWindow:
        while (self.extent - self.head < seq_len).any():
            self._refill(state, seq_len)
        h = self.head
        if self.batch_first:
            out = {
                k: np.ascontiguousarray(np.swapaxes(v[h : h + seq_len], 0, 1))
                for k, v in self.block.items()
            }
        else:
            out = {k: v[h : h + seq_len].copy() for k, v in self.block.items()}
        self.head += seq_len
        return StreamWindow(**out)


def _write_targets(flat: dict[str, np.ndarray], tb: TrialBatch, src, dst) -> None:
    """Copy the real steps ``src`` (flat [B*T] indices) of ``tb.y``/``tb.c_mask`` to ``dst``."""
    if not tb.has_targets:
        raise ValueError("targets='regression' needs trials with y and c_mask (yang2019)")
    for key in ("y", "c_mask"):
        arr = getattr(tb, key)
        flat[key][dst] = arr.reshape(-1, arr.shape[-1])[src]


class Batches:
    """Iterator of supervised batches from task streams; see the module docstring.

    Arguments: ``tasks`` (collection key, task name, list of names, or a :class:`TaskStreams`),
    ``batch_size`` B, ``seq_len`` L (stream mode), ``mode``, ``seed``, ``streams`` (stream numbers
    of the rows; default ``range(B)``), ``schedule``/``schedule_kwargs``, ``convention``, ``dt``,
    ``dim_ring``, ``sigma``, ``timing``, ``rule_inputs``, ``loss_weights`` (``"all"``,
    ``"decision"``, ``"yang"``), ``with_mask`` (yield ``(x, y, weight)`` instead of ``(x, y)``),
    ``batch_first`` (default False: [L, B, D] like NeuroGym), ``output`` (``"numpy"``/``"torch"``),
    ``device``, ``pin_memory``, ``max_batches`` (stop iteration after that many; default never),
    ``prefetch`` (stream mode: windows generated per refill; changes speed, never content),
    ``targets``: ``"class"`` (default; ``y`` is the int64 label) or ``"regression"``
    (``convention="yang2019"`` only): every batch is ``(x, y, c_mask)`` with Yang's float32
    target ``y`` [.., K] and cost mask ``c_mask`` [.., K] (K = 1 + dim_ring), in both modes
    (``with_mask`` and ``loss_weights`` are then not used).
    """

    def __init__(
        self,
        tasks: str | Sequence[str] | TaskStreams = "20-cog",
        *,
        batch_size: int = 64,
        seq_len: int = 350,
        mode: str = "stream",
        seed: int = 0,
        streams: Sequence[int] | None = None,
        schedule: str | Schedule = "random-no-repeat",
        schedule_kwargs: Mapping[str, object] | None = None,
        convention: str = "modcog",
        dt: float | None = None,
        dim_ring: int | None = None,
        sigma: float = 1.0,
        timing: Mapping[str, object] | None = None,
        rule_inputs: bool | None = None,
        loss_weights: str = "decision",
        with_mask: bool = False,
        batch_first: bool = False,
        output: str = "numpy",
        device: Any = None,
        pin_memory: bool = False,
        max_batches: int | None = None,
        prefetch: int = 8,
        targets: str = "class",
    ) -> None:
        _check_positive_int(batch_size, "batch_size")
        if targets not in TARGETS:
            raise ValueError(f"targets={targets!r} is not one of {TARGETS}")
        self.targets = targets
        _check_positive_int(prefetch, "prefetch")
        self.prefetch = prefetch
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not one of {MODES}")
        if mode == "stream":
            _check_positive_int(seq_len, "seq_len")
        if loss_weights not in LOSS_WEIGHTS:
            raise ValueError(f"loss_weights={loss_weights!r} is not one of {LOSS_WEIGHTS}")
        if output not in OUTPUTS:
            raise ValueError(f"output={output!r} is not one of {OUTPUTS}")
        if output == "numpy" and (device is not None or pin_memory):
            raise ValueError("device and pin_memory need output='torch'")
        if max_batches is not None:
            _check_positive_int(max_batches, "max_batches")
        if isinstance(tasks, TaskStreams) or hasattr(tasks, "next_parts"):
            self.streams = tasks  # a TaskStreams or another trial source (e.g. NeuroGymStreams)
        else:
            self.streams = TaskStreams(
                tasks,
                schedule=schedule,
                schedule_kwargs=schedule_kwargs,
                convention=convention,
                dt=dt,
                dim_ring=dim_ring,
                sigma=sigma,
                timing=timing,
                rule_inputs=rule_inputs,
            )
        _check_regression(self.streams, targets)
        rows = range(batch_size) if streams is None else list(streams)
        if len(rows) != batch_size:
            raise ValueError(
                f"streams lists {len(rows)} stream numbers; batch_size is {batch_size}"
            )
        self.batch_size, self.seq_len, self.mode = batch_size, seq_len, mode
        self.seed = seed
        self.stream_ids = np.asarray(rows, dtype=np.int64)
        self.loss_weights, self.with_mask, self.batch_first = loss_weights, with_mask, batch_first
        self.output, self.device, self.pin_memory = output, device, pin_memory
        self.max_batches = max_batches
        self.reset(seed)

    # ------------------------------------------------------------------------------ state
    def reset(self, seed: int | None = None) -> None:
        """Restart every stream (from ``seed`` if given)."""
        if seed is not None:
            self.seed = seed
        self.state = self.streams.start(stream_seeds(self.seed, self.stream_ids))
        self.cutter = _StreamCutter(
            self.streams,
            self.batch_size,
            self.loss_weights,
            self.batch_first,
            self.prefetch,
            regression=self.targets == "regression",
        )
        self.batches_made = 0

    @property
    def ob_size(self) -> int:
        return self.streams.ob_size

    @property
    def n_actions(self) -> int:
        return self.streams.n_actions

    # ------------------------------------------------------------------------------ numpy batches
    def next_window(self) -> StreamWindow:
        """The next stream-mode window of every row (numpy)."""
        self.batches_made += 1
        return self.cutter.window(self.state, self.seq_len)

    def next_trials(self) -> tuple[TrialBatch, np.ndarray]:
        """The next whole trial of every stream (trial mode): TrialBatch and loss weights [B, T]."""
        trials, _ = self.streams.next_trials(self.state, 1)
        self.batches_made += 1
        return trials, loss_weights(trials, self.loss_weights)

    # ------------------------------------------------------------------------------ iteration
    def __iter__(self) -> Iterator[tuple]:
        return self

    def __next__(self) -> tuple:
        if self.max_batches is not None and self.batches_made >= self.max_batches:
            raise StopIteration
        regression = self.targets == "regression"
        if self.mode == "stream":
            w = self.next_window()
            x, y, m = (w.ob, w.y, w.c_mask) if regression else (w.ob, w.label, w.weight)
        else:
            trials, m = self.next_trials()
            x, y = trials.ob, trials.label
            if regression:
                y, m = trials.y, trials.c_mask
            if not self.batch_first:
                x, y, m = (np.ascontiguousarray(np.swapaxes(a, 0, 1)) for a in (x, y, m))
        out = (x, y, m) if self.with_mask or regression else (x, y)
        return self._convert(out)

    def _convert(self, arrays: tuple) -> tuple:
        if self.output == "numpy":
            return arrays
        import torch

        tensors = tuple(torch.from_numpy(a) for a in arrays)
        if self.pin_memory:
            tensors = tuple(t.pin_memory() for t in tensors)
        if self.device is not None:
            tensors = tuple(t.to(self.device, non_blocking=self.pin_memory) for t in tensors)
        return tensors

    def torch_dataset(self):
        """A ``torch.utils.data.IterableDataset``: DataLoader worker w of W makes its own streams.

        Worker w serves the parent's stream numbers shifted by ``w * (max stream + 1)``, so workers
        never repeat each other's trials; use ``DataLoader(ds, batch_size=None, num_workers=W)``.
        """
        from torch.utils.data import IterableDataset, get_worker_info

        parent = self

        class _BatchesDataset(IterableDataset):
            def __iter__(self):
                info = get_worker_info()
                w = 0 if info is None else info.id
                b = parent.batch_size
                span = int(parent.stream_ids.max()) + 1  # worker w shifts every stream by w*span
                clone = Batches(
                    parent.streams,
                    batch_size=b,
                    seq_len=parent.seq_len,
                    mode=parent.mode,
                    seed=parent.seed,
                    streams=parent.stream_ids + w * span,
                    prefetch=parent.prefetch,
                    targets=parent.targets,
                    loss_weights=parent.loss_weights,
                    with_mask=parent.with_mask,
                    batch_first=parent.batch_first,
                    output="torch",
                    max_batches=parent.max_batches,
                )
                return iter(clone)

        return _BatchesDataset()


def _check_regression(streams: object, targets: str) -> None:
    """``targets="regression"`` needs yang2019 tasks (the only ones with y and c_mask)."""
    if targets != "regression":
        return
    tasks = getattr(streams, "tasks", [])
    if not tasks or not all(getattr(t.conv, "yang_tasks", False) for t in tasks):
        raise ValueError(
            "targets='regression' needs convention='yang2019' (the only convention whose trials "
            "carry the regression target y and the cost mask c_mask)"
        )


def _check_positive_int(value: object, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}={value!r} must be an int >= 1")


class Dataset:
    """Drop-in for ``neurogym.Dataset`` with its constructor arguments, plus a ``seed``.

    ``env`` may be a TaskEnv/MultiTaskEnv (its tasks, schedule and settings are used), a task name,
    a collection key or a list of names. Calling the dataset returns ``(inputs, target)`` numpy
    arrays of shape [seq_len, B, D] and [seq_len, B] (``batch_first``: [B, seq_len, ...]). Unlike
    NeuroGym it takes a ``seed``, its rows are streams independent of ``batch_size``, and it never
    overwrites arrays it returned. ``seq_len=None`` means 1000, NeuroGym's default; ``cache_len``
    is accepted for compatibility and ignored (batches are generated exactly).
    """

    def __init__(
        self,
        env: Any,
        batch_size: int = 1,
        seq_len: int | None = None,
        max_batch: float = np.inf,
        batch_first: bool = False,
        cache_len: int | None = None,
        *,
        seed: int = 0,
    ) -> None:
        self.env = env
        streams = getattr(env, "unwrapped", env)
        streams = getattr(streams, "streams", None) or env
        self.seq_len = 1000 if seq_len is None else seq_len
        self.batch_size = batch_size
        self.max_batch = max_batch
        self.batch_first = batch_first
        self._batches = Batches(
            streams, batch_size=batch_size, seq_len=self.seq_len, seed=seed, batch_first=batch_first
        )
        self._made = 0

    def __call__(self) -> tuple[np.ndarray, np.ndarray]:
        return next(self._batches)

    def __iter__(self) -> Dataset:
        return self

    def __next__(self) -> tuple[np.ndarray, np.ndarray]:
        if self._made >= self.max_batch:
            raise StopIteration
        self._made += 1
        return self()

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
import os
import sys
import threading
import weakref
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from . import rng, stream_kernel
from .scheduler import Schedule
from .streams import TaskStreams, stream_seeds
from .tasks.base import Canvas, step_labels
from .trials import TrialBatch

# sys.getrefcount of a pooled block array that nobody else holds: the block dict's entry, the
# loop variable over block.values() and getrefcount's own argument
_POOLED_REFS = 3
LOSS_WEIGHTS = ("all", "decision", "yang")
# default of Batches and agents.TrainConfig: every real step, so the fixation steps are trained
DEFAULT_LOSS_WEIGHTS = "all"
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
    w = _yang_weights(np.arange(batch.max_length)[None, :], batch.start["decision"][:, None],
                      batch.dt)
    return (w * valid).astype(np.float32)


def _yang_weights(t: np.ndarray, dec: np.ndarray, dt: float) -> np.ndarray:
    """float64 Yang loss weight of step ``t`` of a trial whose decision period starts at ``dec``
    (broadcast arrays; steps inside the trial)."""
    grace = math.ceil(YANG_GRACE_MS / dt - 1e-9)
    w = np.where(t < dec, 1.0, YANG_RESPONSE_WEIGHT)
    return np.where((t < grace) | ((t >= dec) & (t < dec + grace)), 0.0, w)


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


@dataclass(frozen=True, eq=False)
class StreamMark:
    """Where a :class:`Batches` stood after ``batches_made`` batches (:meth:`Batches.mark`):
    the stream state (copies) and, in stream mode, the cutter's ``(head, extent, trials, task
    row)`` (:meth:`_StreamCutter.position_record`; None in trial mode); ``rewind``: the same
    one batch earlier, as ``state_dict(rewind=1)`` sees it (None before the first batch).
    Picklable."""

    batches_made: int
    position: np.ndarray  # int64 [B]
    prev: np.ndarray  # int64 [B]
    counts: np.ndarray  # int64 [B, n_tasks]
    block: tuple | None
    rewind: StreamMark | None = None


class _Refill:
    """One planned refill of a :class:`_StreamCutter`: the ``head`` of the block it follows at
    which it applies, the ``seq_len`` it was planned for, the stream ``state`` after its trials
    (a copy), its ``block``, per-row ``extent`` and ``trials`` (rows, offsets, tasks of the new
    trials), and ``work``, which carries the unread steps and paints. :meth:`start` runs the work
    here or on a helper thread; :meth:`finish` waits for it and raises what it raised."""

    def __init__(self, head: int, seq_len: int, state, block: dict[str, np.ndarray],
                 extent: np.ndarray, trials: tuple, work) -> None:
        self.head, self.seq_len, self.state = head, seq_len, state
        self.block, self.extent, self.trials = block, extent, trials
        self._work = work
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def start(self, background: bool, after: _Refill | None = None) -> None:
        """Run the work now, or on a helper thread that first waits for the refill ``after``
        (the one this follows: its block is the source of the unread steps)."""
        if not background:
            self._run(None)
            return
        previous = after._thread if after is not None else None
        self._thread = threading.Thread(target=self._run, args=(previous,),
                                        name="modcog-paint-ahead", daemon=True)
        _PAINTING.add(self)
        self._thread.start()

    def _run(self, previous: threading.Thread | None) -> None:
        try:
            if previous is not None:
                previous.join()
            self._work()
        except BaseException as exc:  # noqa: BLE001 - raised by finish(), in the caller
            self._error = exc
        self._work = None  # drops the references to the blocks

    def wait(self) -> None:
        """Wait until the work is done (it stays unfinished: :meth:`finish` still raises)."""
        thread = self._thread
        if thread is not None:
            thread.join()

    def finish(self, discard: bool = False) -> None:
        """Wait for the work; raise its exception (unless ``discard``: the refill is dropped)."""
        self.wait()
        if self._thread is not None:
            self._thread = None
            _PAINTING.discard(self)
        if self._error is not None and not discard:
            raise self._error


# refills painting on helper threads: a fork waits for them (a child must not inherit a block
# half painted by a thread it does not have)
_PAINTING: weakref.WeakSet[_Refill] = weakref.WeakSet()


def _finish_painting() -> None:
    for refill in list(_PAINTING):
        refill.wait()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_finish_painting)


class _StreamCutter:
    """Cuts back-to-back trials of B streams into ``seq_len`` windows.

    Trials are generated ``prefetch`` windows at a time into a time-major block [capacity, B]
    (painted straight into it, by the compiled kernel or numpy passes, or sampled as TrialBatches
    and copied). Time-major windows are C-contiguous
    views of the block (no copy; ``batch_first`` windows are transposed copies). A refill writes
    into another block (the unread steps are moved to its start): a pooled block only once no
    returned window (or tensor made from one) references it, else a new one; so a returned
    batch is never written again. The content of stream r does not depend on how far ahead it
    was generated.

    ``paint_ahead`` = k >= 1 (compiled painter only): the next k refills are planned ahead (their
    trials drawn from copies of the stream state, their periods recorded) and painted in order
    on helper threads while the windows of the current block are read; one more is planned each
    time one is installed. The values are the same for any k.
    """

    # blocks kept for reuse beyond those of the refills planned ahead: the current one and the
    # last one or two whose windows a trainer (or a queue of batches made ahead) still holds
    POOL = 4

    def __init__(
        self,
        streams: TaskStreams,
        rows: int,
        weights: str,
        batch_first: bool,
        prefetch: int,
        regression: bool = False,
        threads: int = 1,
        paint_ahead: int = 0,
    ) -> None:
        self.streams, self.rows, self.weights = streams, rows, weights
        self.threads = threads  # of the compiled painter (stream_kernel.paint)
        self.regression = regression  # also cut the yang2019 arrays y and c_mask
        self.batch_first, self.prefetch = batch_first, prefetch
        self.block = self._empty(0)
        self.pool: list[dict[str, np.ndarray]] = []  # blocks reused once no window views them
        self.head = 0  # first unread step of every row
        self.extent = np.zeros(rows, np.int64)  # steps written per row (from block start)
        self.refills = 0  # sampling rounds so far (benchmarks align their timing to them)
        # (row, start position, task) int64 [M] of every trial that starts in the block at or
        # after the head (what compact_state counts; unsorted)
        self.trials = (np.zeros(0, np.int64),) * 3
        # render planned trials straight into the block (else: sample TrialBatches, then copy)
        self.paint = (not regression and getattr(streams, "renders_on_canvas", False)
                      and hasattr(streams, "next_plans"))
        # paint with the compiled kernel (one pass over every new step) instead of numpy passes
        self.compiled = self.paint and stream_kernel.available()
        # refills planned after the current block, in order, painting or waiting to paint
        self.ahead = paint_ahead if self.compiled else 0
        self.planned: list[_Refill] = []
        self.pool_size = self.POOL + self.ahead
        # scratch of the compiled refills' segments (fresh arrays of this size cost page faults),
        # one per refill that may be planned and not yet painted, used in turn
        self.spare_segments: list[dict[str, np.ndarray]] = [{} for _ in range(max(self.ahead, 1))]
        self.plans_made = 0

    def __getstate__(self) -> dict:
        """Pickled without the pool of spare blocks (only the current block holds unread steps)
        and without the refills planned ahead (planned from copies of the state, so the copy plans
        them again): a copy sent to a worker process continues exactly, without the spares'
        bytes."""
        return {**self.__dict__, "pool": [], "planned": [],
                "spare_segments": [{} for _ in self.spare_segments]}

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

    def _spare(self, capacity: int) -> dict[str, np.ndarray]:
        """A block of >= ``capacity`` steps that is not the current block and that no returned
        window views (so writing it changes no batch anyone holds): a pooled one whose arrays
        nobody else references, else a new one (the pool keeps the ``pool_size`` latest)."""
        busy = [self.block, *(refill.block for refill in self.planned)]
        for block in self.pool:
            if (all(block is not other for other in busy)
                    and block["label"].shape[0] >= capacity
                    and all(sys.getrefcount(v) <= _POOLED_REFS for v in block.values())):
                return block
        # 10% headroom: a refill's longest row varies (by about 5% at the default settings), and
        # a block too short for one refill is replaced by a new one, whose pages cost faults
        block = self._empty(capacity + capacity // 10)
        self.pool = [block, *self.pool[: self.pool_size - 1]]
        return block

    def _plan(self, state, seq_len: int, head: int, extent: np.ndarray,
              source: dict[str, np.ndarray]) -> _Refill:
        """Plan the refill that follows block ``source`` (``extent`` steps per row, stream
        ``state`` after its trials) once its first ``head`` steps are read: the unread steps move
        to the start of another block, then trials are appended until every row holds >=
        prefetch windows. Painted refills draw their trials from a copy of ``state`` (the refill
        keeps the state after them and :meth:`_install` sets it, so a refill that fails or is
        dropped changes nothing); the sampling path advances ``state`` in place (NeuroGym's envs
        cannot be copied). For the compiled painter the periods are recorded here; the refill's
        work (:meth:`_Refill.start`) carries the unread steps and paints the new ones."""
        if self.paint:
            state = _copy_state(state)
        avail = extent - head
        target = self.prefetch * seq_len
        # trials to ask for: the expected count plus 3 standard deviations of a sum of that many
        # lengths (bounded by half the spread of the length bounds), so that one round nearly
        # always fills every row (a second round costs a whole round's fixed overhead)
        need = np.maximum(target - avail, 0)
        mean = self.streams.mean_length_estimate()
        lo, hi = self.streams.length_bounds()
        count = np.ceil((need + 3 * np.sqrt(need / mean) * (hi - lo) / 2) / mean)
        count = np.where(avail < target, count.astype(np.int64) + 1, 0)
        if self.paint:
            parts, rows = self.streams.next_plans(state, count)
        else:
            parts, rows = self.streams.next_parts(state, count)
        lengths, tasks = np.zeros(rows.size, np.int64), np.zeros(rows.size, np.int64)
        for i, sel, tb in parts:
            lengths[sel], tasks[sel] = tb.length, i
        added = np.bincount(rows, weights=lengths, minlength=self.rows).astype(np.int64)
        new_extent = avail + added
        keep = int(avail.max()) if avail.size else 0
        # another block than the current one: windows cut from a block are views of it
        block = self._spare(max(int(new_extent.max()), target + target // 4))
        ends = np.cumsum(lengths)
        first = np.searchsorted(rows, rows, side="left")  # rows are sorted
        offset = avail[rows] + (ends - lengths) - (ends - lengths)[first]
        self.plans_made += 1
        if self.compiled:  # the kernel carries the unread steps, then paints
            work = self._record(block, parts, rows, offset, avail, new_extent, lengths,
                                (source, head, keep))
        else:
            def work() -> None:
                for k, v in source.items():  # the unread steps
                    block[k][:keep] = v[head : head + keep]
                if self.paint:
                    self._paint(block, parts, rows, offset, lengths, avail, keep, new_extent)
                else:
                    self._write(block, parts, rows, offset)
        return _Refill(head, seq_len, state, block, new_extent, (rows, offset, tasks), work)

    def _install(self, refill: _Refill, state) -> None:
        """Make the painted ``refill`` the current block and set ``state`` (in place) to the
        stream state after its trials."""
        # the trials that start at or after the head, in block positions of the new block
        row, start, task = self.trials
        rows, offset, tasks = refill.trials
        unread = start >= refill.head
        self.trials = (np.concatenate([row[unread], rows]),
                       np.concatenate([start[unread] - refill.head, offset]),
                       np.concatenate([task[unread], tasks]))
        self.block, self.head, self.extent = refill.block, 0, refill.extent
        if refill.state is not state:  # planned from a copy
            state.position[:] = refill.state.position
            state.prev[:] = refill.state.prev
            state.counts[:] = refill.state.counts
        self.refills += 1

    def _next_block(self, state, seq_len: int) -> None:
        """Install the next refill: the first one planned ahead if it was planned for this head
        (else one planned and painted now), then plan refills until ``ahead`` are planned."""
        if self.planned and (self.planned[0].head != self.head
                             or self.planned[0].seq_len != seq_len):
            self.drop_planned()  # planned for another window length: dropped
        if self.planned:
            refill = self.planned.pop(0)
        else:
            refill = self._plan(state, seq_len, self.head, self.extent, self.block)
            refill.start(background=False)
        try:
            refill.finish()
        except BaseException:
            self.drop_planned()  # they follow a block that was not painted
            raise
        self._install(refill, state)
        while len(self.planned) < self.ahead:
            self._plan_next(state, seq_len)

    def _plan_next(self, state, seq_len: int) -> None:
        """Plan the refill after the last planned one (or after the current block) and start
        painting it on a helper thread, after the one it follows. It applies once every full
        window of that block is read: at head ``seq_len * (min extent // seq_len)``."""
        last = self.planned[-1] if self.planned else None
        if last is None:
            state, extent, source = state, self.extent, self.block
        else:
            state, extent, source = last.state, last.extent, last.block
        head = seq_len * int(extent.min() // seq_len) if extent.size else 0
        refill = self._plan(state, seq_len, head, extent, source)
        refill.start(background=True, after=last)
        self.planned.append(refill)

    def wait_painted(self) -> None:
        """Wait until every refill planned ahead is painted (they stay planned; a failure is
        raised when its block is needed). Benchmarks call it to keep the background work of one
        contender out of another's timing."""
        for refill in self.planned:
            refill.wait()

    def drop_planned(self) -> None:
        """Wait for the refills planned ahead and drop them (before the block or the state is
        replaced, or after one of them failed)."""
        planned, self.planned = self.planned, []
        for refill in planned:
            refill.finish(discard=True)

    def _paint(self, block: dict, plans, rows: np.ndarray, offset: np.ndarray,
               lengths: np.ndarray, avail: np.ndarray, keep: int, extent: np.ndarray) -> None:
        """Render planned trials straight into ``block``: flat trial m (stream ``rows[m]``,
        ``lengths[m]`` steps) starts at block position ``offset[m]``. Rows hold ``avail[r]``
        unread steps at the block start (``keep`` = their maximum) and ``extent[r]`` steps in all
        once painted; everything after the unread ones is
        written here: zeros, the fixation input, the rule one-hot, every period the tasks render
        (through a :class:`~modcog_env.tasks.base.Canvas` of the block) and the per-step fields.
        The result equals :meth:`_write` of the sampled TrialBatches, element for element."""
        b, streams = self.rows, self.streams
        m = rows.size
        fields = self._trial_fields(plans, lengths)
        task, dec, response, seq, go = (fields[k] for k in ("task", "dec", "response", "seq",
                                                             "go"))
        origin = offset * b + rows  # flat block index of step 0 of each trial
        # every new step: its flat trial, its step in the trial and its flat block index
        trial = np.repeat(np.arange(m), lengths)
        t = np.arange(trial.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        dst = np.repeat(origin, lengths) + t * b
        flat = {k: v.reshape(-1) for k, v in block.items() if v.ndim == 2}
        first = streams.tasks[0]
        label, decision = step_labels(response, go, seq, dec, trial, t, dim_ring=first.dim_ring,
                                      dt=first.dt, wrap=first.conv.label_wrap)
        flat["label"][dst] = label
        flat["decision"][dst] = decision
        if self.weights == "all":
            flat["weight"][dst] = 1.0
        elif self.weights == "decision":
            flat["weight"][dst] = decision
        else:
            flat["weight"][dst] = _yang_weights(t, dec[trial], first.dt)
        flat["task"][dst] = np.repeat(task, lengths)
        flat["trial_start"][dst] = False
        flat["trial_start"][origin[lengths > 0]] = True
        # observations: zeros after the unread steps, the fixation and rule inputs, then every
        # period the tasks render, through a canvas of the block
        ob = block["ob"]
        d, base = ob.shape[2], streams.base_size
        ob[keep : int(extent.max())] = 0.0
        stale = keep - avail  # steps [avail[r], keep) of row r were copied but are not unread
        if stale.any():
            r = np.repeat(np.arange(b), stale)
            p = np.repeat(avail, stale) + np.arange(r.size) - np.repeat(np.cumsum(stale) - stale,
                                                                       stale)
            ob.reshape(-1, d)[p * b + r] = 0.0
        channels = ob.reshape(-1)  # flat float32 index of channel c of step dst: dst * d + c
        at = dst * d
        channels[at[~decision]] = 1.0  # fixation input before the decision period
        if streams.rule_inputs:
            at += np.repeat(base + task, lengths)
            channels[at] = 1.0
        items = ob.reshape(-1, d).view(np.dtype((np.void, 4 * d))).reshape(-1)
        if d != base:  # the task channels of each row: a field of the row's void item
            items = items.view(np.dtype({"names": ["base"], "formats": [(np.void, 4 * base)],
                                         "itemsize": 4 * d}))["base"]
        for i, sel, plan in plans:
            streams.tasks[i].render(Canvas(items, origin[sel], b), plan)

    def _trial_fields(self, plans, lengths: np.ndarray) -> dict[str, np.ndarray]:
        """Per flat trial (int64 [M]): ``length``, ``task``, ``dec`` (decision start),
        ``response``, ``seq`` (sign), and bool ``go``: what the per-step fields derive from."""
        m = lengths.size
        out = {"length": lengths, "task": np.empty(m, np.int64), "dec": np.empty(m, np.int64),
               "response": np.empty(m, np.int64), "seq": np.empty(m, np.int64),
               "go": np.empty(m, bool)}
        for i, sel, plan in plans:
            out["task"][sel], out["dec"][sel] = i, plan.start["decision"]
            out["response"][sel], out["go"][sel] = plan.lat["response"], plan.lat["go"]
            out["seq"][sel] = self.streams.tasks[i].seq_sign
        return out

    def _record(self, block: dict, plans, rows: np.ndarray, offset: np.ndarray,
                avail: np.ndarray, extent: np.ndarray, lengths: np.ndarray, carry: tuple):
        """:meth:`_paint` through :mod:`modcog_env.stream_kernel`, in two parts: here the tasks
        record their periods as segments and the kernel's arguments are made; the returned
        function is the one compiled pass that carries the unread steps (``carry`` = (source
        block, head, keep), see :func:`~modcog_env.stream_kernel.paint`), then writes every new
        step in memory order (all channels and fields; nothing is zeroed first, steps after a
        row's new extent stay unwritten). It runs no Python before the pass, which releases the
        GIL, so a helper thread that calls it does not wait for a GIL held by the planning of the
        next refill."""
        streams = self.streams
        trials = self._trial_fields(plans, lengths)
        recorded: list[dict[str, np.ndarray]] = []
        for i, sel, plan in plans:
            canvas = Canvas(None, offset[sel], 1, trial=sel, segments=recorded)
            streams.tasks[i].render(canvas, plan)
        spare = self.spare_segments[self.plans_made % len(self.spare_segments)]
        segments = _concat_segments(recorded, streams.base_size, spare)
        stds, segments["table"] = np.unique(segments.pop("std"), return_inverse=True)
        tables = _noise_tables(tuple(stds.tolist()))
        first = streams.tasks[0]
        args = stream_kernel.paint_args(
            block, rows, offset, avail, extent, trials,
            dim_ring=first.dim_ring, dt=first.dt, wrap=first.conv.label_wrap,
            weights=stream_kernel.WEIGHT_MODES[self.weights],
            grace=math.ceil(YANG_GRACE_MS / first.dt - 1e-9),
            response_weight=YANG_RESPONSE_WEIGHT, base=streams.base_size,
            rule=streams.rule_inputs, segments=segments, tables=tables, carry=carry)
        threads = self.threads

        def draw() -> None:
            stream_kernel.launch(args, threads)

        return draw

    def _write(self, block: dict, parts, rows: np.ndarray, offset: np.ndarray) -> None:
        """Scatter the real steps of ``parts`` into ``block``: step t of flat trial m goes to
        position ``offset[m] + t`` of row ``rows[m]``; positions < 0 are dropped (the already
        read head of a partial trial, see :meth:`restore`)."""
        base, cap = self.streams.base_size, block["label"].shape[0]
        flat = {
            k: v.reshape(cap * self.rows, -1) if v.ndim == 3 else v.reshape(-1)
            for k, v in block.items()
        }
        base_type = np.dtype((np.void, 4 * base))  # one float32 row of the task's channels
        rule = None
        if self.streams.rule_inputs:
            d = self.streams.ob_size
            rule_type = np.dtype((np.void, 4 * (d - base)))
            rule = np.eye(d - base, dtype=np.float32).view(rule_type).reshape(-1)
            row_type = np.dtype({"names": ["base", "rule"], "formats": [base_type, rule_type],
                                 "offsets": [0, 4 * base], "itemsize": 4 * d})
        else:
            row_type = base_type
        ob_rows = flat["ob"].view(row_type).reshape(-1)
        for i, sel, tb in parts:
            # every real step of these trials, as flat source and destination row indices
            valid = tb.valid.reshape(-1)
            src = np.flatnonzero(valid)
            m, t = np.divmod(src, tb.max_length)
            pos = offset[sel][m] + t
            if (pos < 0).any():
                keep = pos >= 0
                src, m, t, pos = src[keep], m[keep], t[keep], pos[keep]
            dst = pos * self.rows + rows[sel][m]  # time-major: pos * B + row
            # rows as single void items: a 1-D scatter copies whole rows (~3x faster than 2-D)
            steps = tb.ob.reshape(-1, base).view(base_type).reshape(-1)[src]
            if rule is None:
                ob_rows[dst] = steps
            else:  # task channels, then the one-hot rule input of task i, as two void fields
                ob_rows["base"][dst] = steps
                ob_rows["rule"][dst] = rule[i]
            flat["label"][dst] = tb.label.reshape(-1)[src]
            if self.weights == "all":  # 1 on every real step: no per-step gather
                flat["weight"][dst] = 1.0
            else:
                flat["weight"][dst] = loss_weights(tb, self.weights).reshape(-1)[src]
            flat["decision"][dst] = tb.decision.reshape(-1)[src]
            flat["task"][dst] = i
            flat["trial_start"][dst] = t == 0
            if self.regression:
                _write_targets(flat, tb, src, dst)

    def compact_state(self, state, head: int) -> dict[str, np.ndarray]:
        """What determines the windows from block position ``head`` on (see
        :meth:`Batches.state_dict`), from the current stream ``state`` and block; see
        :func:`_compact_state`."""
        return _compact_state(state.position, state.prev, state.counts,
                              *self.position_record(head))

    def position_record(self, head: int) -> tuple:
        """(head, extent, trials, task row at ``head``): the block's part of
        :func:`_compact_state`'s inputs. The extent and the trials table are replaced by a
        refill, never written, so the record stays valid (and picklable) after later refills;
        the task row is a copy (None when no row reaches ``head``)."""
        has = self.extent > head
        row = self.block["task"][head].copy() if has.any() else None
        return head, self.extent, self.trials, row

    def restore(self, state, saved: Mapping[str, np.ndarray]) -> None:
        """Inverse of :meth:`compact_state`: set ``state`` (in place) to the stream state after
        the head trials and regenerate their unread steps into a fresh block."""
        self.drop_planned()
        state.position[:] = saved["position"]
        state.prev[:] = saved["prev"]
        state.counts[:] = saved["counts"]
        remaining = np.asarray(saved["remaining"], np.int64)
        rows = np.flatnonzero(remaining > 0)
        self.block = self._empty(max(int(remaining.max(initial=0)), 1))
        self.head, self.extent = 0, remaining.copy()
        if rows.size:
            tasks = np.asarray(saved["head_task"], np.int64)[rows]
            occ = state.counts[rows, tasks] - 1
            parts = self.streams.sample_parts(
                state.seeds[rows], state.position[rows] - 1, tasks, occ
            )
            lengths = np.zeros(rows.size, np.int64)
            for _, sel, tb in parts:
                lengths[sel] = tb.length
            self._write(self.block, parts, rows, remaining[rows] - lengths)
            self.trials = (rows, remaining[rows] - lengths, tasks)  # they start at <= 0

    def window(self, state, seq_len: int) -> StreamWindow:
        while (self.extent - self.head < seq_len).any():
            self._next_block(state, seq_len)
        h = self.head
        if self.batch_first:
            out = {
                k: np.ascontiguousarray(np.swapaxes(v[h : h + seq_len], 0, 1))
                for k, v in self.block.items()
            }
        else:  # time-major slices of the block are C-contiguous: views, no copy
            out = {k: v[h : h + seq_len] for k, v in self.block.items()}
        self.head += seq_len
        return StreamWindow(**out)


def _compact_state(position: np.ndarray, prev: np.ndarray, counts: np.ndarray, head: int,
                   extent: np.ndarray, trials: tuple, task_row: np.ndarray | None
                   ) -> dict[str, np.ndarray]:
    """The stream part of a state dict at block position ``head``: per row the stream state
    after the trial that holds step ``head`` ("head trial"), that trial's task and its steps left
    from ``head`` on (0: the row has nothing unread; the stream state is then the given one).

    ``position``, ``prev``, ``counts``: the stream state after every trial in the block;
    ``extent`` int64 [B]: steps per row; ``trials``: the cutter's table of trial starts (row,
    start, task) at or after the head; ``task_row`` int64 [B]: the block's task field at
    ``head``. Computed from the table, not by scanning the block; the inputs are not written."""
    rows = extent.size
    position, prev, counts = position.copy(), prev.copy(), counts.copy()
    remaining = np.zeros(rows, np.int64)
    head_task = np.full(rows, -1, np.int64)
    has = extent > head
    if has.any():
        row, start, task = trials
        after = start > head  # trials that start after the head trial
        row, start, task = row[after], start[after], task[after]
        n = counts.shape[1]
        n_after = np.bincount(row, minlength=rows)
        later = np.bincount(row * n + task, minlength=rows * n).reshape(rows, n)
        # each row's first start after head: the smallest key row * span + start of the row
        span = int(extent.max()) + 1
        key = np.sort(row * span + start)
        r = np.arange(rows)
        at = np.minimum(np.searchsorted(key, r * span), max(key.size - 1, 0))
        nxt = key[at] - r * span if key.size else np.full(rows, -1)
        found = (nxt > head) & (nxt < span)
        first = np.where(found, nxt - head, extent - head)
        head_task[has] = task_row[has]
        remaining[has] = first[has]
        position[has] -= n_after[has]  # the trial after the head trial
        prev[has] = head_task[has]
        counts[has] -= later[has]
    return {"position": position, "prev": prev, "counts": counts, "head_task": head_task,
            "remaining": remaining}


_SEGMENT_TYPES = {"trial": np.int64, "start": np.int64, "stop": np.int64, "state": np.uint64,
                  "width": np.int64, "offset": np.int64, "std": np.float64}


def _concat_segments(recorded: list[dict[str, np.ndarray]], base: int,
                     spare: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The recorded segments of a refill as one set of arrays (the kernel's dtypes), written
    into the reused arrays of ``spare`` (grown when too small): fresh arrays of this size cost
    page faults on every refill."""
    size = sum(s["trial"].size for s in recorded)
    if spare.get("row") is None or spare["row"].shape[0] < size or spare["row"].shape[1] != base:
        cap = max(size + size // 2, 1024)
        spare.clear()
        spare.update({k: np.empty(cap, t) for k, t in _SEGMENT_TYPES.items()})
        spare["row"] = np.empty((cap, base), np.float32)
    out = {}
    for k, arr in spare.items():
        out[k] = arr[:size]
        if recorded:
            np.concatenate([s[k] for s in recorded], out=out[k], casting="same_kind")
    return out


@lru_cache(maxsize=16)
def _noise_tables(stds: tuple[float, ...]) -> np.ndarray:
    """float32 [K, 65536]: :func:`~modcog_env.rng.normal_table` of each noise std (one row each;
    a row of zeros when there is none)."""
    if not stds:
        return np.zeros((1, 1 << 16), np.float32)
    return np.stack([rng.normal_table(s) for s in stds])


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
    ``dim_ring``, ``sigma``, ``timing``, ``rule_inputs``, ``loss_weights`` (``"all"``, the default,
    ``"decision"``, ``"yang"``), ``with_mask`` (yield ``(x, y, weight)`` instead of ``(x, y)``),
    ``batch_first`` (default False: [L, B, D] like NeuroGym), ``output`` (``"numpy"``/``"torch"``),
    ``device``, ``pin_memory``, ``max_batches`` (stop iteration after that many; default never),
    ``prefetch`` (stream mode: windows generated per refill; changes speed, never content),
    ``paint_threads`` (stream mode, compiled painter: threads that paint each refill, default 1;
    more help where the training step leaves CPU cores idle, e.g. on a GPU; never changes
    content), ``paint_ahead`` (stream mode, compiled painter: refills planned ahead and painted
    on helper threads while the current one is read, so painting overlaps the caller's work;
    default 1, 0 paints each refill when it is needed; never changes content),
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
        loss_weights: str = DEFAULT_LOSS_WEIGHTS,
        with_mask: bool = False,
        batch_first: bool = False,
        output: str = "numpy",
        device: Any = None,
        pin_memory: bool = False,
        max_batches: int | None = None,
        prefetch: int = 8,
        targets: str = "class",
        paint_threads: int = 1,
        paint_ahead: int = 1,
    ) -> None:
        _check_int(batch_size, "batch_size")
        if targets not in TARGETS:
            raise ValueError(f"targets={targets!r} is not one of {TARGETS}")
        self.targets = targets
        _check_int(prefetch, "prefetch")
        self.prefetch = prefetch
        _check_int(paint_threads, "paint_threads")
        self.paint_threads = paint_threads
        _check_int(paint_ahead, "paint_ahead", 0)
        self.paint_ahead = int(paint_ahead)
        if mode not in MODES:
            raise ValueError(f"mode={mode!r} is not one of {MODES}")
        if mode == "stream":
            _check_int(seq_len, "seq_len")
        if loss_weights not in LOSS_WEIGHTS:
            raise ValueError(f"loss_weights={loss_weights!r} is not one of {LOSS_WEIGHTS}")
        if output not in OUTPUTS:
            raise ValueError(f"output={output!r} is not one of {OUTPUTS}")
        if output == "numpy" and (device is not None or pin_memory):
            raise ValueError("device and pin_memory need output='torch'")
        if max_batches is not None:
            _check_int(max_batches, "max_batches")
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
        if getattr(self, "cutter", None) is not None:
            self.cutter.drop_planned()  # their helper threads would paint for nobody
        self.state = self.streams.start(stream_seeds(self.seed, self.stream_ids))
        self.cutter = _StreamCutter(
            self.streams,
            self.batch_size,
            self.loss_weights,
            self.batch_first,
            self.prefetch,
            regression=self.targets == "regression",
            threads=self.paint_threads,
            paint_ahead=self.paint_ahead,
        )
        self.batches_made = 0
        self._before = None  # trial mode: the stream state before the last batch (rewind)

    def state_dict(self, rewind: int = 0) -> dict[str, Any]:
        """The stream position as the few numbers that determine every later batch.

        Not the prefetched block: per row the stream state (``position``, ``prev``, ``counts``
        of :class:`~modcog_env.streams.StreamState`) and, in stream mode, the trial cut by the
        last window (its task ``head_task`` and its ``remaining`` unread steps; the trial is
        regenerated on load, as trials are pure functions of (seed, index)). Plus ``seed``,
        ``stream_ids``, ``mode``, ``seq_len`` and ``batches_made``, checked on load. Every value
        is an int or an int64 array. ``rewind=1`` gives the state before the last batch (the
        trainer saves the last finite state of a diverged run with it). :meth:`mark` and
        :meth:`state_dict_at` give the same numbers for a moment recorded earlier. Needs the
        trial source to be a :class:`~modcog_env.streams.TaskStreams`.
        """
        return self.state_dict_at(self.mark(), rewind)

    def mark(self) -> StreamMark:
        """A cheap record of where the streams stand now (small copies, no block), from which
        :meth:`state_dict_at` gives what :meth:`state_dict` would give now, at any later time
        and from any thread: the background producers of ``agents.prefetch`` record one per
        batch and compute a state only when a checkpoint asks for it."""
        st, made = self.state, self.batches_made
        position, prev, counts = st.position.copy(), st.prev.copy(), st.counts.copy()
        if self.mode == "stream":
            head = self.cutter.head
            # one window back in the current block (not there yet right after a load)
            rewind = (StreamMark(made - 1, position, prev, counts,
                                 self.cutter.position_record(head - self.seq_len))
                      if made and head >= self.seq_len else None)
            return StreamMark(made, position, prev, counts, self.cutter.position_record(head),
                              rewind)
        before = self._before  # a copy that next_trials replaces, never writes
        rewind = (StreamMark(made - 1, before.position, before.prev, before.counts, None)
                  if made and before is not None else None)
        return StreamMark(made, position, prev, counts, None, rewind)

    def state_dict_at(self, mark: StreamMark, rewind: int = 0) -> dict[str, Any]:
        """:meth:`state_dict` (``rewind`` 0 or 1) as it was when ``mark`` was taken, by this
        ``Batches`` or a copy of it (e.g. in a worker process). Reads only the mark and settings
        that do not change, so it may run while another thread makes batches."""
        if not hasattr(self.streams, "sample_parts"):
            raise TypeError(f"state_dict needs a TaskStreams source, not {type(self.streams)}")
        if not isinstance(mark, StreamMark):
            raise ValueError(f"mark={mark!r} must be a StreamMark from Batches.mark()")
        if rewind not in (0, 1) or (rewind and mark.rewind is None):
            raise ValueError(f"rewind={rewind!r} must be 0 or 1 (1 needs a batch made since the "
                             "start or the last load_state_dict)")
        if rewind:
            mark = mark.rewind
        out: dict[str, Any] = {"mode": self.mode, "seed": int(self.seed),
                               "seq_len": int(self.seq_len), "stream_ids": self.stream_ids.copy(),
                               "batches_made": mark.batches_made}
        if mark.block is not None:
            out.update(_compact_state(mark.position, mark.prev, mark.counts, *mark.block))
        else:
            out.update(position=mark.position.copy(), prev=mark.prev.copy(),
                       counts=mark.counts.copy())
        return out

    def load_state_dict(self, saved: Mapping[str, Any]) -> None:
        """Continue exactly where :meth:`state_dict` was taken (same tasks and settings)."""
        for key in ("mode", "seed", "seq_len"):
            if saved[key] != (int(getattr(self, key)) if key != "mode" else self.mode):
                raise ValueError(f"saved {key}={saved[key]!r} does not match this Batches' "
                                 f"{getattr(self, key)!r}")
        if not np.array_equal(np.asarray(saved["stream_ids"]), self.stream_ids):
            raise ValueError("saved stream_ids do not match this Batches' streams")
        counts = np.asarray(saved["counts"], np.int64)
        if counts.shape != self.state.counts.shape:
            raise ValueError(f"saved counts have shape {counts.shape}, not "
                             f"{self.state.counts.shape} (other tasks?)")
        self.reset()
        arrays = {k: np.asarray(v, np.int64) for k, v in saved.items()
                  if k in ("position", "prev", "counts", "head_task", "remaining")}
        if self.mode == "stream":
            self.cutter.restore(self.state, arrays)
        else:
            self.state.position[:] = arrays["position"]
            self.state.prev[:] = arrays["prev"]
            self.state.counts[:] = arrays["counts"]
        self.batches_made = int(saved["batches_made"])

    @property
    def ob_size(self) -> int:
        return self.streams.ob_size

    @property
    def n_actions(self) -> int:
        return self.streams.n_actions

    # ------------------------------------------------------------------------------ numpy batches
    def next_window(self) -> StreamWindow:
        """The next stream-mode window of every row (numpy)."""
        window = self.cutter.window(self.state, self.seq_len)
        self.batches_made += 1  # after the cut: a refill that raised made no batch
        return window

    def next_trials(self) -> tuple[TrialBatch, np.ndarray]:
        """The next whole trial of every stream (trial mode): TrialBatch and loss weights [B, T]."""
        if hasattr(self.streams, "sample_parts"):  # a TaskStreams: keep state_dict(rewind=1)
            self._before = _copy_state(self.state)
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


def _copy_state(state):
    return type(state)(seeds=state.seeds, position=state.position.copy(), prev=state.prev.copy(),
                       counts=state.counts.copy())


def _check_int(value: object, name: str, low: int = 1) -> None:
    """Raise ValueError naming ``name`` unless ``value`` is an int (not a bool) >= ``low``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name}={value!r} must be an int >= {low}")


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

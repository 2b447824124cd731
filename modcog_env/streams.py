"""Trial streams: a set of tasks, a schedule and per-stream state, sampled many streams at once.

Stream ``r`` of seed ``s`` is the sequence of trials k = 0, 1, ... whose task is the schedule's task
at position k and whose content is ``task.sample(stream_seed, [k], occurrence=[j])``, j counting
that task's earlier trials in the stream. Nothing here builds observations; it asks tasks for
trials and stacks them, appending the rule one-hot when there are several tasks (TASKS.md §6).

Everything that consumes trials (MultiTaskEnv, the vector env, the batches) goes through
:class:`TaskStreams`, so every path gives the same trial k of a stream.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from . import rng
from .scheduler import Schedule, make_schedule, occurrences
from .tasks.base import Task, TrialPlan
from .tasks.catalog import COLLECTIONS, canonical_name, collection, make_task
from .trials import TrialBatch, fill_value


def stream_seed(seed: int, stream: int) -> int:
    """Seed of stream ``stream`` of a batch seeded ``seed``; stream 0 uses ``seed`` itself.

    ``MultiTaskEnv``/``TaskEnv`` after ``reset(seed=stream_seed(s, r))`` play stream ``r`` of
    ``Batches(..., seed=s)``. Other streams get hashed seeds, so streams of nearby seeds never
    overlap (unlike ``seed + r``).
    """
    if isinstance(stream, bool) or not isinstance(stream, (int, np.integer)) or stream < 0:
        raise ValueError(f"stream={stream!r} must be an int >= 0")
    return rng.normalize_seed(seed) if stream == 0 else rng.derive_seed(seed, "stream", int(stream))


def stream_seeds(seed: int, streams: Sequence[int] | np.ndarray) -> np.ndarray:
    """uint64 [R] seeds of the given stream numbers (see :func:`stream_seed`)."""
    return np.array([stream_seed(seed, int(r)) for r in streams], dtype=np.uint64)


@dataclass
class StreamState:
    """Where each of R streams stands: seeds, next position, previous task, per-task counts."""

    seeds: np.ndarray  # uint64 [R]
    position: np.ndarray  # int64 [R] index of the next trial
    prev: np.ndarray  # int64 [R] task of the previous trial, -1 before the first
    counts: np.ndarray  # int64 [R, n] trials of each task so far


class TaskStreams:
    """Tasks + schedule; samples the next trials of many streams as one TrialBatch.

    ``tasks``: a collection key (``"20-cog"``, ``"mod-cog-82"``, ``"mod-cog-126"``), one task name,
    a list of names, or a list of Task objects (they must share convention, dt and dim_ring).
    ``rule_inputs`` (default: more than one task) appends a one-hot of the task index; under
    ``yang2019`` it is ignored, as every task already shows Yang's 20 rule units.
    """

    def __init__(
        self,
        tasks: str | Sequence[str] | Sequence[Task] | Task,
        *,
        schedule: str | Schedule = "random-no-repeat",
        schedule_kwargs: Mapping[str, object] | None = None,
        convention: str = "modcog",
        dt: float | None = None,
        dim_ring: int | None = None,
        sigma: float = 1.0,
        timing: Mapping[str, object] | None = None,
        rule_inputs: bool | None = None,
    ) -> None:
        self.tasks = self._build(tasks, convention, dt, dim_ring, sigma, timing)
        first = self.tasks[0]
        for t in self.tasks[1:]:
            for attr in ("convention", "dt", "dim_ring"):
                if getattr(t, attr) != getattr(first, attr):
                    raise ValueError(
                        f"tasks must share {attr}: {first.name!r} has {getattr(first, attr)!r}, "
                        f"{t.name!r} has {getattr(t, attr)!r}"
                    )
        self.names = tuple(t.name for t in self.tasks)
        self.n = len(self.tasks)
        self.schedule = make_schedule(schedule, self.n, **dict(schedule_kwargs or {}))
        self.rule_inputs = self.n > 1 if rule_inputs is None else bool(rule_inputs)
        if first.conv.yang_tasks:
            self.rule_inputs = False  # yang2019 tasks carry Yang's 20 rule units themselves
        self.dt, self.dim_ring, self.convention = first.dt, first.dim_ring, first.convention
        self.base_size = first.ob_size
        self.ob_size = self.base_size + (self.n if self.rule_inputs else 0)
        self.n_actions = first.n_actions
        # the tasks' timing is fixed once built: length bounds and mean length computed once
        bounds = [t.length_bounds() for t in self.tasks]
        self._bounds = (min(b[0] for b in bounds), max(b[1] for b in bounds))
        self._mean = float(np.mean([sum(b) / 2 for b in bounds]))

    @staticmethod
    def _build(tasks, convention, dt, dim_ring, sigma, timing) -> list[Task]:
        if isinstance(tasks, Task):
            return [tasks]
        if isinstance(tasks, str):
            if tasks in COLLECTIONS:
                names = collection(tasks)
            else:
                try:
                    names = (canonical_name(tasks),)
                except ValueError as err:
                    close = difflib.get_close_matches(tasks, list(COLLECTIONS), n=1)
                    hint = f"; or did you mean the collection {close[0]!r}?" if close else ""
                    raise ValueError(f"{err}{hint}") from None
        else:
            tasks = list(tasks)
            if tasks and all(isinstance(t, Task) for t in tasks):
                return tasks
            names = collection(tasks)
        kw = dict(convention=convention, dt=dt, dim_ring=dim_ring, sigma=sigma)
        if timing is not None and len(names) > 1:
            raise ValueError(
                "timing overrides apply to one task; build Task objects to mix timings"
            )
        return [make_task(n, timing=timing, **kw) for n in names]

    def length_bounds(self) -> tuple[int, int]:
        """(min, max) trial length over the tasks, in steps (computed once: the tasks' timing is
        fixed when the streams are built)."""
        return self._bounds

    def mean_length_estimate(self) -> float:
        """Rough mean trial length (midpoint of each task's bounds, averaged)."""
        return self._mean

    # ------------------------------------------------------------------------------ state
    def start(self, seeds: np.ndarray | Sequence[int]) -> StreamState:
        """Fresh state of streams with the given stream seeds (uint64 [R])."""
        seeds = np.asarray(seeds, dtype=np.uint64).reshape(-1)
        r = seeds.size
        return StreamState(
            seeds=seeds,
            position=np.zeros(r, np.int64),
            prev=np.full(r, -1, np.int64),
            counts=np.zeros((r, self.n), np.int64),
        )

    def state_at(
        self, seeds: np.ndarray | Sequence[int], position: np.ndarray | int
    ) -> StreamState:
        """State of streams about to play trial ``position[r]`` (recomputes the schedule from 0)."""
        state = self.start(seeds)
        position = np.broadcast_to(np.asarray(position, dtype=np.int64), state.position.shape)
        if self.n > 1 and position.any():
            tasks = self.schedule.assign(state.seeds, 0, position)
            rows = np.repeat(np.arange(position.size), position)
            state.counts = np.bincount(rows * self.n + tasks, minlength=state.counts.size).reshape(
                state.counts.shape
            )
            has = position > 0
            state.prev[has] = tasks[(np.cumsum(position) - 1)[has]]
        elif self.n == 1:
            state.counts[:, 0] = position
            state.prev[position > 0] = 0
        state.position = position.copy()
        return state

    @property
    def renders_on_canvas(self) -> bool:
        """True when every task can be planned and rendered straight into a stream block
        (:meth:`next_plans`; the fast path of ``Batches``' stream mode)."""
        return all(t.renders_on_canvas for t in self.tasks)

    def _advance(self, state: StreamState, count: np.ndarray | int):
        """Schedule the next ``count[r]`` trials of each stream r and advance ``state``: the flat
        (rows, seeds, positions, tasks, occurrences) of those trials, row-major by stream."""
        count = np.broadcast_to(np.asarray(count, dtype=np.int64), state.position.shape)
        rows = np.repeat(np.arange(count.size), count)
        pos = (
            np.arange(rows.size) - np.repeat(np.cumsum(count) - count, count) + state.position[rows]
        )
        seeds = state.seeds[rows]
        if self.n == 1:
            state.counts[:, 0] += count
            state.prev[count > 0] = 0
            tasks, occ = np.zeros(rows.size, np.int64), pos
        else:
            tasks = self.schedule.assign(state.seeds, state.position, count, state.prev)
            occ, state.counts = occurrences(tasks, rows, state.counts)
            has = count > 0
            state.prev[has] = tasks[(np.cumsum(count) - 1)[has]]
        state.position = state.position + count
        return rows, seeds, pos, tasks, occ

    def next_parts(
        self, state: StreamState, count: np.ndarray | int
    ) -> tuple[list[tuple[int, np.ndarray, TrialBatch]], np.ndarray]:
        """The next ``count[r]`` trials of each stream r, grouped by task; advances ``state``.

        Returns ``parts``, a list of (task index i, positions ``sel`` in the flat stream order,
        TrialBatch of those trials of task i without rule inputs), and ``rows`` (int64 [M], the
        stream of each flat trial, row-major: all trials of stream 0 first, in stream order).
        """
        rows, seeds, pos, tasks, occ = self._advance(state, count)
        return self.sample_parts(seeds, pos, tasks, occ), rows

    def next_plans(
        self, state: StreamState, count: np.ndarray | int
    ) -> tuple[list[tuple[int, np.ndarray, TrialPlan]], np.ndarray]:
        """As :meth:`next_parts`, with each task's :class:`~modcog_env.tasks.base.TrialPlan`
        (trials not yet rendered) in place of its TrialBatch."""
        rows, seeds, pos, tasks, occ = self._advance(state, count)
        return self.plan_parts(seeds, pos, tasks, occ), rows

    def plan_parts(
        self, seeds: np.ndarray, positions: np.ndarray, tasks: np.ndarray, occurrence: np.ndarray
    ) -> list[tuple[int, np.ndarray, TrialPlan]]:
        """:meth:`sample_parts` with plans in place of TrialBatches."""
        keys = rng.Keys(seeds, positions)  # derived once for all trials, taken per task
        occurrence = np.asarray(occurrence, np.int64)
        return [(i, sel, self.tasks[i].plan_keys(keys.take(sel), occurrence[sel]))
                for i, sel in self._by_task(tasks)]

    def sample_parts(
        self, seeds: np.ndarray, positions: np.ndarray, tasks: np.ndarray, occurrence: np.ndarray
    ) -> list[tuple[int, np.ndarray, TrialBatch]]:
        """Trials whose task is already known, grouped by task as in :meth:`next_parts`.

        Flat trial m is trial ``positions[m]`` of the stream seeded ``seeds[m]`` (uint64), made by
        task ``tasks[m]`` as that task's ``occurrence[m]``-th trial in the stream. Used to
        regenerate a trial from a compact stream state (``Batches.state_dict``).
        """
        return [(i, sel, self.tasks[i].sample(seeds[sel], positions[sel], occurrence[sel]))
                for i, sel in self._by_task(tasks)]

    def _by_task(self, tasks: np.ndarray) -> list[tuple[int, np.ndarray]]:
        """(task index, positions of its trials in the flat order) for each task present."""
        if self.n == 1:
            return [(0, np.arange(tasks.size))]
        return [(int(i), np.flatnonzero(tasks == i)) for i in np.unique(tasks)]

    def next_trials(
        self, state: StreamState, count: np.ndarray | int
    ) -> tuple[TrialBatch, np.ndarray]:
        """The next ``count[r]`` trials of each stream r as one TrialBatch; advances ``state``.

        Trials are in stream order, row-major by stream; also returns the stream row of each.
        """
        parts, rows = self.next_parts(state, count)
        if len(parts) == 1 and not self.rule_inputs and self.n == 1:  # task index 0: as sampled
            return parts[0][2], rows
        return self._merge(parts, rows.size), rows

    def _merge(self, parts: list[tuple[int, np.ndarray, TrialBatch]], m: int) -> TrialBatch:
        t_max = max((b.max_length for _, _, b in parts), default=0)
        ob = np.zeros((m, t_max, self.ob_size), np.float32)
        label = np.zeros((m, t_max), np.int64)
        decision = np.zeros((m, t_max), bool)
        length = np.zeros(m, np.int64)
        index = np.zeros(m, np.int64)
        task = np.zeros(m, np.int64)
        start: dict[str, np.ndarray] = {}
        stop: dict[str, np.ndarray] = {}
        params: dict[str, np.ndarray] = {}
        for i, sel, b in parts:
            tb = b.max_length
            ob[sel, :tb, : self.base_size] = b.ob
            if self.rule_inputs:
                ob[sel, :tb, self.base_size + i] = b.valid
            label[sel, :tb] = b.label
            decision[sel, :tb] = b.decision
            length[sel], index[sel], task[sel] = b.length, b.index, i
            for src, dst in ((b.start, start), (b.stop, stop), (b.params, params)):
                for key, val in src.items():
                    if key not in dst:
                        dst[key] = np.full((m,) + val.shape[1:], fill_value(val.dtype), val.dtype)
                    dst[key][sel] = val
        targets = _merge_targets(parts, m, t_max)
        return TrialBatch(
            ob=ob,
            label=label,
            length=length,
            decision=decision,
            start=start,
            stop=stop,
            task=task,
            index=index,
            params=params,
            task_names=self.names,
            dt=self.dt,
            **targets,
        )


def _merge_targets(
    parts: list[tuple[int, np.ndarray, TrialBatch]], m: int, t_max: int
) -> dict[str, np.ndarray]:
    """The optional y/y_loc/c_mask arrays of the parts, scattered into [m, t_max, ...] (padding
    as in :attr:`TrialBatch.TARGET_PADDING`); empty when the parts carry none."""
    if not parts or not parts[0][2].has_targets:
        return {}
    out = {}
    for key, pad in TrialBatch.TARGET_PADDING:
        proto = getattr(parts[0][2], key)
        arr = np.full((m, t_max) + proto.shape[2:], pad, proto.dtype)
        for _, sel, b in parts:
            arr[sel, : b.max_length] = getattr(b, key)
        out[key] = arr
    return out

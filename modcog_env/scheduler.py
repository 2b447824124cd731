"""Schedules: which task makes trial k of a stream (DESIGN.md; TASKS.md §6).

A schedule maps (stream seed, trial position k) to a task index in [0, n). It works on flat,
segmented requests so that many streams advance in one vectorized call:

``schedule.assign(seeds, start, count, prev)`` returns the task of positions
``start[r] .. start[r] + count[r] - 1`` of every stream ``r`` (row-major, one flat int64 array).
``prev[r]`` is the task at position ``start[r] - 1`` (-1 when unknown); schedules that depend on
the previous task recompute from position 0 when it is unknown, so a task is always a pure
function of (seed, k).

Schedules: ``"random-no-repeat"`` (default; NeuroGym's RandomSchedule: first task uniform, each
later one uniform over the n-1 others), ``"uniform"`` (with repeats), ``"weighted"`` (given
probabilities, with repeats), ``"sequential"`` (0, 1, ..., n-1, 0, ...), ``"blocks"`` (runs of
``block_size`` trials; the block's task follows an inner schedule over block indices).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

import numpy as np

from . import rng


def _segments(start: np.ndarray, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Flat (row, position) of every requested trial."""
    rows = np.repeat(np.arange(count.size), count)
    offsets = np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    return rows, start[rows] + offsets


def _as_int_array(x: object, size: int) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=np.int64), (size,)).copy()


class Schedule:
    """Base class: ``n`` tasks; subclasses implement :meth:`_assign`."""

    name = ""

    def __init__(self, n: int) -> None:
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n={n!r} (number of tasks) must be an int >= 1")
        self.n = int(n)

    def assign(
        self,
        seeds: np.ndarray | int,
        start: np.ndarray | int,
        count: np.ndarray | int,
        prev: np.ndarray | int | None = None,
    ) -> np.ndarray:
        """int64 [sum(count)]: tasks of positions start[r] .. start[r]+count[r]-1 of stream r."""
        seeds = np.atleast_1d(np.asarray(seeds)).astype(np.uint64)
        r = seeds.size
        start = _as_int_array(start, r)
        count = _as_int_array(count, r)
        prev = _as_int_array(-1 if prev is None else prev, r)
        if (start < 0).any() or (count < 0).any():
            raise ValueError("start and count must be >= 0")
        return self._assign(seeds, start, count, prev)

    def task_at(self, seed: int, k: int) -> int:
        """Task of position ``k`` of stream ``seed`` (recomputed from 0 if needed)."""
        return int(self.assign(np.array([rng.normalize_seed(seed)]), k, 1)[0])

    def _assign(self, seeds, start, count, prev) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={self.n})"


class RandomNoRepeat(Schedule):
    """First task uniform over n; each later task uniform over the other n-1 (no immediate repeat).

    Task k = (task 0 + sum_{i=1..k} (1 + u_i)) mod n with u_i ~ U{0..n-2}: a segmented cumulative
    sum, so a whole stream segment is one vectorized call.
    """

    name = "random-no-repeat"

    def _assign(self, seeds, start, count, prev) -> np.ndarray:
        if self.n == 1:
            return np.zeros(int(count.sum()), np.int64)
        unknown = (prev < 0) & (start > 0)
        head = np.where(unknown, start, 0)  # positions recomputed from 0 and dropped
        seg_start = start - head
        seg_count = np.where(count > 0, count + head, 0)
        rows, pos = _segments(seg_start, seg_count)
        if not rows.size:
            return np.zeros(0, np.int64)
        s = seeds[rows]
        first = rng.integers(s, "schedule/first", np.zeros_like(pos), self.n)[:, 0]
        step = np.where(pos == 0, 0, 1 + rng.integers(s, "schedule/step", pos, self.n - 1)[:, 0])
        # segmented cumulative sum of steps, anchored at the previous task (or at task 0)
        csum = np.cumsum(step)
        seg_first = np.searchsorted(rows, rows, side="left")
        within = csum - csum[seg_first] + step[seg_first]
        anchor = np.where(seg_start[rows] == 0, first[seg_first], prev[rows])
        tasks = (anchor + within) % self.n
        keep = pos >= start[rows]
        return tasks[keep]


class Uniform(Schedule):
    """Each task uniform over n, independently (repeats allowed)."""

    name = "uniform"

    def _assign(self, seeds, start, count, prev) -> np.ndarray:
        rows, pos = _segments(start, count)
        return rng.integers(seeds[rows], "schedule/uniform", pos, self.n)[:, 0]


class Weighted(Schedule):
    """Each task drawn independently with the given probabilities (normalized; repeats allowed)."""

    name = "weighted"

    def __init__(self, n: int, weights: Sequence[float]) -> None:
        super().__init__(n)
        w = np.asarray(weights, dtype=np.float64)
        if w.shape != (self.n,) or not np.all(np.isfinite(w)) or (w < 0).any() or w.sum() <= 0:
            raise ValueError(
                f"weights={list(weights)!r} must be {self.n} finite numbers >= 0, sum > 0"
            )
        self.weights = w / w.sum()
        self._cdf = np.cumsum(self.weights)

    def _assign(self, seeds, start, count, prev) -> np.ndarray:
        rows, pos = _segments(start, count)
        u = rng.uniform(seeds[rows], "schedule/weighted", pos)[:, 0]
        return np.minimum(np.searchsorted(self._cdf, u, side="right"), self.n - 1).astype(np.int64)

    def __repr__(self) -> str:
        return f"Weighted(n={self.n}, weights={np.round(self.weights, 4).tolist()})"


class Sequential(Schedule):
    """Tasks in order 0, 1, ..., n-1, 0, 1, ... (position k makes task k mod n)."""

    name = "sequential"

    def _assign(self, seeds, start, count, prev) -> np.ndarray:
        return _segments(start, count)[1] % self.n


class Blocks(Schedule):
    """Runs of ``block_size`` trials of one task; block b has ``inner``'s task b."""

    name = "blocks"

    def __init__(self, n: int, block_size: int, inner: Schedule | None = None) -> None:
        super().__init__(n)
        if (
            isinstance(block_size, bool)
            or not isinstance(block_size, (int, np.integer))
            or block_size < 1
        ):
            raise ValueError(f"block_size={block_size!r} must be an int >= 1")
        self.block_size = int(block_size)
        self.inner = inner if inner is not None else RandomNoRepeat(n)
        if self.inner.n != self.n:
            raise ValueError(f"inner schedule has n={self.inner.n}, expected {self.n}")

    def _assign(self, seeds, start, count, prev) -> np.ndarray:
        rows, pos = _segments(start, count)
        if not rows.size:
            return np.zeros(0, np.int64)
        b = self.block_size
        first_block = start // b
        last_block = np.where(count > 0, (start + count - 1) // b, first_block - 1)
        n_blocks = np.maximum(last_block - first_block + 1, 0)
        block_tasks = self.inner.assign(seeds, first_block, n_blocks)
        offsets = np.cumsum(n_blocks) - n_blocks
        return block_tasks[offsets[rows] + pos // b - first_block[rows]]

    def __repr__(self) -> str:
        return f"Blocks(n={self.n}, block_size={self.block_size}, inner={self.inner!r})"


SCHEDULES = {cls.name: cls for cls in (RandomNoRepeat, Uniform, Weighted, Sequential, Blocks)}


def make_schedule(schedule: str | Schedule, n: int, **kwargs: object) -> Schedule:
    """A schedule over ``n`` tasks from a name (with its kwargs) or an instance (checked)."""
    if isinstance(schedule, Schedule):
        if schedule.n != n:
            raise ValueError(f"schedule has n={schedule.n} tasks but the collection has {n}")
        if kwargs:
            raise ValueError(f"schedule kwargs {sorted(kwargs)} given with a Schedule instance")
        return schedule
    if schedule not in SCHEDULES:
        close = difflib.get_close_matches(str(schedule), list(SCHEDULES), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"schedule={schedule!r} is not one of {sorted(SCHEDULES)}{hint}")
    try:
        return SCHEDULES[schedule](n, **kwargs)
    except TypeError as err:
        raise ValueError(
            f"schedule={schedule!r} got invalid arguments {sorted(kwargs)}: {err}"
        ) from None


def occurrences(
    tasks: np.ndarray, rows: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per trial, how many trials of its task its stream had before it; and updated counts.

    ``tasks``, ``rows`` [M] in stream order within each row; ``counts`` int64 [R, n] (not mutated).
    """
    n = counts.shape[1]
    key = rows * n + tasks
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    group_start = (
        np.r_[0, np.flatnonzero(np.diff(sorted_key)) + 1] if key.size else np.zeros(0, int)
    )
    rank_sorted = np.arange(key.size) - np.repeat(
        group_start, np.diff(np.r_[group_start, key.size])
    )
    rank = np.empty_like(rank_sorted)
    rank[order] = rank_sorted
    occ = counts.reshape(-1)[key] + rank
    new_counts = counts.reshape(-1) + np.bincount(key, minlength=counts.size)
    return occ, new_counts.reshape(counts.shape)

"""TrialBatch: the one data structure that crosses module boundaries (DESIGN.md).

A TrialBatch holds B trials padded to a common length T:

============  ==================  ==========================================================
field         dtype, shape        meaning
============  ==================  ==========================================================
``ob``        float32 [B, T, D]   observations; 0 beyond ``length``
``label``     int64 [B, T]        target class of the output produced after ``ob[:, t]``
``length``    int64 [B]           number of real steps of each trial
``decision``  bool [B, T]         decision mask: step lies in the trial's ``decision`` period
``start``     {period: int64 [B]} first step of each period (-1: the trial's task lacks it)
``stop``      {period: int64 [B]} one past the last step (``stop - start`` may be 0)
``task``      int64 [B]           index into ``task_names``
``index``     int64 [B]           trial index the trial was sampled with
``params``    {name: [B, ...]}    per-trial latent parameters (TASKS.md §1 "per-trial record")
``y``         float32 [B, T, K]   optional (``yang2019``): regression target; 0 on padding
``y_loc``     float32 [B, T]      optional (``yang2019``): response angle, -1 while fixating
``c_mask``    float32 [B, T, K]   optional (``yang2019``): per-step cost mask; 0 on padding
============  ==================  ==========================================================

The three optional arrays are ``None`` unless the convention defines them; :meth:`TrialBatch.take`,
:meth:`TrialBatch.trial` and :meth:`TrialBatch.concatenate` carry them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Trial:
    """One trial without padding: ``ob`` [T, D], ``label`` [T], ``decision`` [T], scalar params."""

    ob: np.ndarray
    label: np.ndarray
    decision: np.ndarray
    start: dict[str, int]
    stop: dict[str, int]
    params: dict[str, object]
    task_name: str
    index: int
    dt: float
    y: np.ndarray | None = None  # float32 [T, K] regression target (yang2019)
    y_loc: np.ndarray | None = None  # float32 [T] response angle or -1 (yang2019)
    c_mask: np.ndarray | None = None  # float32 [T, K] cost mask (yang2019)

    @property
    def length(self) -> int:
        return int(self.label.shape[0])

    @property
    def period_names(self) -> tuple[str, ...]:
        return tuple(self.start)

    def period(self, name: str) -> slice:
        """Step slice of period ``name``."""
        if name not in self.start:
            raise ValueError(
                f"period={name!r} is not a period of this trial; has {self.period_names}"
            )
        return slice(self.start[name], self.stop[name])

    def period_at(self, t: int) -> str:
        """Name of the period that step ``t`` belongs to."""
        for name in self.start:
            if self.start[name] <= t < self.stop[name]:
                return name
        raise ValueError(f"t={t} is outside the trial (length {self.length})")


def fill_value(dtype: np.dtype) -> object:
    """Value marking a missing period or parameter: NaN (floats), False (bools), -1 (ints)."""
    if np.issubdtype(dtype, np.floating):
        return np.nan
    if np.issubdtype(dtype, np.bool_):
        return False
    return -1


@dataclass
class TrialBatch:
    """B trials padded to the longest; see the module docstring for the fields."""

    ob: np.ndarray
    label: np.ndarray
    length: np.ndarray
    decision: np.ndarray
    start: dict[str, np.ndarray]
    stop: dict[str, np.ndarray]
    task: np.ndarray
    index: np.ndarray
    params: dict[str, np.ndarray] = field(default_factory=dict)
    task_names: tuple[str, ...] = ()
    dt: float = 100.0
    y: np.ndarray | None = None
    y_loc: np.ndarray | None = None
    c_mask: np.ndarray | None = None

    TARGETS = ("y", "y_loc", "c_mask")  # optional per-step arrays, [B, T, ...]
    TARGET_PADDING = (("y", 0.0), ("y_loc", -1.0), ("c_mask", 0.0))  # value beyond length

    @property
    def has_targets(self) -> bool:
        """True when the batch carries ``y``, ``y_loc`` and ``c_mask`` (``yang2019``)."""
        return self.y is not None

    @property
    def batch_size(self) -> int:
        return int(self.ob.shape[0])

    def __len__(self) -> int:
        return self.batch_size

    @property
    def max_length(self) -> int:
        return int(self.ob.shape[1])

    @property
    def period_names(self) -> tuple[str, ...]:
        return tuple(self.start)

    @property
    def valid(self) -> np.ndarray:
        """bool [B, T]: True on real steps, False on padding."""
        return np.arange(self.max_length)[None, :] < self.length[:, None]

    def trial(self, i: int, copy: bool = True) -> Trial:
        """Trial ``i`` trimmed to its length, as a :class:`Trial` (fresh arrays unless
        ``copy=False``, which returns views into this batch)."""
        if not -self.batch_size <= i < self.batch_size:
            raise ValueError(f"i={i} is out of range for a batch of {self.batch_size} trials")
        n = int(self.length[i])
        present = [p for p in self.start if self.start[p][i] >= 0]
        take = np.copy if copy else np.asarray
        return Trial(
            ob=take(self.ob[i, :n]),
            label=take(self.label[i, :n]),
            decision=take(self.decision[i, :n]),
            start={p: int(self.start[p][i]) for p in present},
            stop={p: int(self.stop[p][i]) for p in present},
            params={
                k: (v[i].item() if v.ndim == 1 else v[i].copy()) for k, v in self.params.items()
            },
            task_name=self.task_names[int(self.task[i])] if self.task_names else "",
            index=int(self.index[i]),
            dt=self.dt,
            **{k: take(getattr(self, k)[i, :n]) for k in self.TARGETS if self.has_targets},
        )

    def trials(self) -> list[Trial]:
        """Every trial as a :class:`Trial` of views into this batch (scalars converted in one
        pass per field: cheaper than calling :meth:`trial` B times)."""
        lengths = self.length.tolist()
        starts = {p: v.tolist() for p, v in self.start.items()}
        stops = {p: v.tolist() for p, v in self.stop.items()}
        scalars = {k: v.tolist() for k, v in self.params.items() if v.ndim == 1}
        arrays = {k: v for k, v in self.params.items() if v.ndim != 1}
        names = [self.task_names[t] if self.task_names else "" for t in self.task.tolist()]
        out = []
        for i, (n, index, name) in enumerate(zip(lengths, self.index.tolist(), names, strict=True)):
            present = [p for p in starts if starts[p][i] >= 0]
            params = {k: v[i] for k, v in scalars.items()}
            params.update({k: v[i].copy() for k, v in arrays.items()})
            out.append(
                Trial(
                    ob=self.ob[i, :n],
                    label=self.label[i, :n],
                    decision=self.decision[i, :n],
                    start={p: starts[p][i] for p in present},
                    stop={p: stops[p][i] for p in present},
                    params=params,
                    task_name=name,
                    index=index,
                    dt=self.dt,
                    **{k: getattr(self, k)[i, :n] for k in self.TARGETS if self.has_targets},
                )
            )
        return out

    def take(self, rows: Sequence[int] | np.ndarray) -> TrialBatch:
        """A new batch of the given rows (copies), trimmed to their longest trial."""
        rows = np.asarray(rows, dtype=np.int64)
        t_max = int(self.length[rows].max()) if rows.size else 0
        return TrialBatch(
            ob=self.ob[rows, :t_max].copy(),
            label=self.label[rows, :t_max].copy(),
            length=self.length[rows].copy(),
            decision=self.decision[rows, :t_max].copy(),
            start={k: v[rows].copy() for k, v in self.start.items()},
            stop={k: v[rows].copy() for k, v in self.stop.items()},
            task=self.task[rows].copy(),
            index=self.index[rows].copy(),
            params={k: v[rows].copy() for k, v in self.params.items()},
            task_names=self.task_names,
            dt=self.dt,
            **{k: getattr(self, k)[rows, :t_max].copy() for k in self.TARGETS if self.has_targets},
        )

    @staticmethod
    def concatenate(batches: Sequence[TrialBatch]) -> TrialBatch:
        """Stack batches along B, padding to the longest trial.

        Task names are merged in first-seen order; periods or params missing from a batch are
        filled with -1 (steps, ints), NaN (floats) or False (bools).
        """
        if not batches:
            raise ValueError("batches must hold at least one TrialBatch")
        dts = {b.dt for b in batches}
        if len(dts) != 1:
            raise ValueError(f"batches must share dt, got {sorted(dts)}")
        dims = {b.ob.shape[2] for b in batches}
        if len(dims) != 1:
            raise ValueError(f"batches must share the observation size, got {sorted(dims)}")
        names: list[str] = []
        for b in batches:
            names += [n for n in b.task_names if n not in names]
        t_max = max(b.max_length for b in batches)
        sizes = [b.batch_size for b in batches]

        def pad(arr: np.ndarray, value: float = 0) -> np.ndarray:
            width = [(0, 0)] * arr.ndim
            width[1] = (0, t_max - arr.shape[1])
            return np.pad(arr, width, constant_values=value)

        with_targets = {b.has_targets for b in batches}
        if len(with_targets) != 1:
            raise ValueError(
                "batches must all carry y/y_loc/c_mask or none (mixed conventions?), got "
                f"{[b.has_targets for b in batches]}"
            )
        targets = {}
        if with_targets.pop():
            targets = {
                k: np.concatenate([pad(getattr(b, k), v) for b in batches])
                for k, v in TrialBatch.TARGET_PADDING
            }

        def merge(dicts: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
            keys: list[str] = []
            for d in dicts:
                keys += [k for k in d if k not in keys]
            out = {}
            for k in keys:
                proto = next(d[k] for d in dicts if k in d)
                parts = [
                    d[k]
                    if k in d
                    else np.full((n,) + proto.shape[1:], fill_value(proto.dtype), proto.dtype)
                    for d, n in zip(dicts, sizes, strict=True)
                ]
                out[k] = np.concatenate(parts)
            return out

        remap = [np.array([names.index(n) for n in b.task_names], dtype=np.int64) for b in batches]
        return TrialBatch(
            ob=np.concatenate([pad(b.ob) for b in batches]),
            label=np.concatenate([pad(b.label) for b in batches]),
            length=np.concatenate([b.length for b in batches]),
            decision=np.concatenate([pad(b.decision) for b in batches]),
            start=merge([b.start for b in batches]),
            stop=merge([b.stop for b in batches]),
            task=np.concatenate(
                [m[b.task] if m.size else b.task for m, b in zip(remap, batches, strict=True)]
            ),
            index=np.concatenate([b.index for b in batches]),
            params=merge([b.params for b in batches]),
            task_names=tuple(names),
            dt=batches[0].dt,
            **targets,
        )

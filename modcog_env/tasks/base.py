"""The Task protocol and the one vectorized sampling pipeline every task shares.

A task turns ``(seed, trial indices)`` into a :class:`~modcog_env.trials.TrialBatch` in one call:

1. ``_draw``      family latents per trial (target, modality, strengths, ...), as [B] arrays;
2. ``_durations`` steps of each period from the timing specs (per-trial counter-based uniforms);
3. ``_modify``    hook for the ``int`` modifier (rotates a stimulus or shifts the response);
4. ``_render``    family writes observations period by period through a :class:`Canvas`: into a
                  zeroed [B, T, D] block whose fixation input is already written
                  (:meth:`Task.sample`), or straight into a stream block (``modcog_env.batches``);
5. labels         generic: 0 before the decision period, the response (moving under ``seq``) in it
                  (:func:`step_labels`).

Steps 1-3 are :meth:`Task.plan` (a :class:`TrialPlan`: everything but the arrays per step).
Subclasses fill ``_draw`` and ``_render`` and declare ``family``, ``periods`` and default timing.
Every random draw goes through :mod:`modcog_env.rng` with a stream named after the task, so trial
``k`` is the same whether sampled alone or in a batch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import ClassVar

import numpy as np

from .. import rng, timing
from ..conventions import Convention, get_convention, resolve_defaults
from ..trials import TrialBatch

Latents = dict[str, np.ndarray]
_EPS = 1e-9


def validate_dt(dt: object) -> float:
    """dt in ms must be a positive number dividing 100 ms (so seq and int steps are exact)."""
    if isinstance(dt, bool) or not isinstance(dt, (int, float, np.integer, np.floating)):
        raise ValueError(
            f"dt={dt!r} must be a number of ms that divides 100 (e.g. 10, 20, 50, 100)"
        )
    dt = float(dt)
    if not math.isfinite(dt) or dt <= 0:
        raise ValueError(f"dt={dt!r} must be > 0 ms and divide 100 (e.g. 10, 20, 50, 100)")
    ratio = 100.0 / dt
    if abs(ratio - round(ratio)) > 1e-9:
        raise ValueError(
            f"dt={dt:g} must divide 100 ms "
            "(allowed: 100/k for integer k, e.g. 10, 20, 25, 50, 100): "
            "seq labels move one ring position and int delays count whole 100 ms units"
        )
    return dt


def validate_dim_ring(dim_ring: object, even: bool = False, task: str = "") -> int:
    """dim_ring must be an int >= 2 (and even for the match family)."""
    if isinstance(dim_ring, bool) or not isinstance(dim_ring, (int, np.integer)) or dim_ring < 2:
        raise ValueError(f"dim_ring={dim_ring!r} must be an int >= 2")
    if even and dim_ring % 2:
        raise ValueError(
            f"dim_ring={dim_ring!r} must be even for the match task {task!r} (N/2 halves)"
        )
    return int(dim_ring)


def validate_sigma(sigma: object) -> float:
    """sigma (noise scale, std = sigma / sqrt(dt)) must be a finite number >= 0."""
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.integer, np.floating)):
        raise ValueError(f"sigma={sigma!r} must be a finite number >= 0")
    sigma = float(sigma)
    if not math.isfinite(sigma) or sigma < 0:
        raise ValueError(f"sigma={sigma!r} must be a finite number >= 0")
    return sigma


def as_indices(indices: Iterable[int] | np.ndarray | int, name: str = "indices") -> np.ndarray:
    """int64 [B] trial indices (>= 0) from an int, range, list or array."""
    if isinstance(indices, range):
        arr = np.arange(indices.start, indices.stop, indices.step, dtype=np.int64)
    else:
        arr = np.asarray(indices)
        if arr.ndim == 0:
            arr = arr[None]
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name} must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.int64).reshape(-1)
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be >= 0, got {int(arr.min())}")
    return arr


@lru_cache(maxsize=64)
def _row_type(width: int) -> np.dtype:
    """Void dtype of one step's ``width`` float32 channels: rows scatter as single items."""
    return np.dtype((np.void, 4 * width))


@dataclass
class Canvas:
    """Where a renderer writes: step t of trial m is item ``origin[m] + t * stride`` of ``items``.

    ``items`` is a 1-D view of void items, one per step, each ``ob_size`` float32 channels (the
    fixation input and the two rings); ``origin`` is int64 [B]. :meth:`of_batch` views a
    [B, T, D] array; the stream cutter of ``modcog_env.batches`` views its time-major block
    (origin = position * rows + row, stride = rows). A *recording* canvas (``segments`` a list,
    ``items`` None) keeps what would be written instead, one :meth:`record` per period, for the
    compiled painter of ``modcog_env.stream_kernel``.
    """

    items: np.ndarray | None
    origin: np.ndarray
    stride: int
    # recording canvas (``modcog_env.stream_kernel``): ``trial`` int64 [B] numbers the trials in
    # the caller's flat order, and each rendered period is appended to ``segments`` as a dict of
    # per-trial arrays (see :meth:`record`) instead of being written to ``items``
    trial: np.ndarray | None = None
    segments: list[dict[str, np.ndarray]] | None = None

    def record(self, start: np.ndarray, stop: np.ndarray, row: np.ndarray,
               noise: tuple[np.ndarray, int, np.ndarray, float] | None) -> None:
        """Append one period of every trial: steps [start, stop) (int64 [B]) show ``row``
        (float32 [B, ob_size]) plus, when ``noise`` = (uint64 [B] noise stream states, width,
        int64 [B] first channel, std) is given, noise draw ``t_local * width + c`` on channel
        ``first + c``."""
        b = start.size
        seg = {"trial": self.trial, "start": start, "stop": stop, "row": row}
        if noise is None:
            seg.update(state=np.zeros(b, np.uint64), width=np.zeros(b, np.int64),
                       offset=np.zeros(b, np.int64), std=np.zeros(b))
        else:
            state, width, first, std = noise
            seg.update(state=state, width=np.full(b, width, np.int64), offset=first,
                       std=np.full(b, std))
        self.segments.append(seg)

    @classmethod
    def of_batch(cls, ob: np.ndarray) -> Canvas:
        """Canvas of a C-contiguous float32 [B, T, D] array."""
        b, t, d = ob.shape
        items = ob.reshape(-1, d).view(_row_type(d)).reshape(-1)
        return cls(items, np.arange(b, dtype=np.int64) * t, 1)


@dataclass
class TrialPlan:
    """Trials of one task before rendering (:meth:`Task.plan`): keys, latents ``lat``, period
    ``steps``, ``start``/``stop`` (int64 [B] each) and ``length`` (int64 [B])."""

    keys: rng.Keys
    lat: Latents
    steps: dict[str, np.ndarray]
    start: dict[str, np.ndarray]
    stop: dict[str, np.ndarray]
    length: np.ndarray


def step_labels(
    response: np.ndarray,
    go: np.ndarray,
    seq_sign: np.ndarray | int,
    dec_start: np.ndarray,
    trial: np.ndarray,
    t: np.ndarray,
    *,
    dim_ring: int,
    dt: float,
    wrap: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """(int64 label, bool in-decision) of step ``t`` of trial ``trial`` (broadcast arrays), for
    steps inside their trial: 0 before the decision period and on no-go trials; in it the
    response class, moving one ring position per 100 ms under ``seq`` (``seq_sign`` per trial
    or one int). Per-trial arrays (``response``, ``go``, ``dec_start``) are indexed by ``trial``.
    """
    dec = dec_start[trial]
    after = t >= dec
    if not np.any(seq_sign):  # one label per trial: computed per trial, then gathered
        per_trial = (response + 1) % dim_ring if wrap else 1 + response % dim_ring
        per_trial = np.where(go, per_trial, 0)
        return np.where(after, per_trial[trial], 0), after
    r = response[trial]
    sign = seq_sign[trial] if isinstance(seq_sign, np.ndarray) else seq_sign
    r = r + sign * np.floor(np.maximum(t - dec, 0) * dt / 100.0 + _EPS).astype(np.int64)
    moving = (r + 1) % dim_ring if wrap else 1 + r % dim_ring
    return np.where(after & go[trial], moving, 0).astype(np.int64), after


def period_steps(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flattened (row, step, local step) of every step in [start, stop) per row; [n] int64 each."""
    dur = np.maximum(stop - start, 0)
    rows = np.repeat(np.arange(start.size), dur)  # row-major order, local steps ascending
    loc = np.arange(rows.size) - np.repeat(np.cumsum(dur) - dur, dur)
    return rows, start[rows] + loc, loc


class Task:
    """Base class of all tasks; see the module docstring for the pipeline.

    Shape-fixing arguments: ``convention`` (``"modcog"``, ``"reference"``, ``"yang2019"``), ``dt``
    (ms, divides 100; ``None``: the convention's default), ``dim_ring`` (N >= 2; ``None``: the
    convention's default), ``sigma`` (noise scale; std sigma/sqrt(dt)), ``timing`` (overrides
    of period durations, keys must be period names).
    """

    family: ClassVar[str] = ""
    name: str
    base: str
    periods: tuple[str, ...]
    int_sign: int = 0
    seq_sign: int = 0
    # False for tasks that build their own arrays in ``sample`` (yang2019): no plan/canvas path
    renders_on_canvas: ClassVar[bool] = True

    def __init__(
        self,
        *,
        convention: str | Convention = "modcog",
        dt: float | None = None,
        dim_ring: int | None = None,
        sigma: float = 1.0,
        timing: Mapping[str, object] | None = None,
    ) -> None:
        self.conv = get_convention(convention)
        dt, dim_ring = resolve_defaults(self.conv, dt, dim_ring)
        self.dt = validate_dt(dt)
        self.dim_ring = validate_dim_ring(dim_ring, even=self.family == "match", task=self.name)
        self.sigma = validate_sigma(sigma)
        self.timing = self._default_timing()
        self._apply_timing(timing)

    # ----------------------------------------------------------------------------- configuration
    @property
    def convention(self) -> str:
        return self.conv.name

    @property
    def ob_size(self) -> int:
        """Observation channels: fixation + two rings, 1 + 2N."""
        return 1 + 2 * self.dim_ring

    @property
    def n_actions(self) -> int:
        """Action classes: fixate + one per ring direction, 1 + N."""
        return 1 + self.dim_ring

    @property
    def noise_std(self) -> float:
        return self.sigma / math.sqrt(self.dt)

    @property
    def instance_delay(self) -> bool:
        """True when the delay is drawn once per (seed, task, modality) (reference match)."""
        return self.family == "match" and self.conv.match_delay_per_instance and self.int_sign == 0

    def _default_timing(self) -> dict[str, timing.Spec]:
        raise NotImplementedError

    def _apply_timing(self, overrides: Mapping[str, object] | None) -> None:
        if overrides is None:
            overrides = {}
        if not isinstance(overrides, Mapping):
            raise ValueError(f"timing={overrides!r} must be a dict of period name -> duration spec")
        for key, value in overrides.items():
            if key not in self.periods:
                raise ValueError(
                    f"timing key {key!r} is not a period of {self.name!r}; "
                    f"allowed: {list(self.periods)}"
                )
            self.timing[key] = timing.parse_spec(value, f"timing[{key!r}]")
            timing.check_grid(self.timing[key], self.dt, f"timing[{key!r}]")
        if timing.step_bounds(self.timing["decision"], self.dt)[0] < 1:
            raise ValueError(
                f"timing['decision']={self.timing['decision'].describe()} ms "
                "gives a decision period "
                f"of 0 steps at dt={self.dt:g}; it needs at least one step"
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, convention={self.convention!r}, dt={self.dt:g}, "
            f"dim_ring={self.dim_ring}, sigma={self.sigma:g})"
        )

    def structure(self) -> str:
        """The period order in one line, e.g. ``fixation >> stimulus >> delay >> decision``."""
        return " >> ".join(self.periods)

    def period_bounds(self) -> dict[str, tuple[int, int]]:
        """(min, max) steps of each period, from the specs (never sampled)."""
        return {p: timing.step_bounds(self.timing[p], self.dt) for p in self.periods}

    def length_bounds(self) -> tuple[int, int]:
        """(min, max) trial length in steps, from the period specs (never sampled)."""
        bounds = self.period_bounds().values()
        return sum(b[0] for b in bounds), sum(b[1] for b in bounds)

    # ----------------------------------------------------------------------------- randomness
    def _stream(self, what: str) -> str:
        return f"{self.name}/{what}"

    def _uniform(self, keys: rng.Keys, what: str, n: int = 1) -> np.ndarray:
        return keys.uniform(self._stream(what), n)

    def _integers(self, keys: rng.Keys, what: str, high: int, n: int = 1) -> np.ndarray:
        return keys.integers(self._stream(what), high, n)

    def _modality(self, keys: rng.Keys, occurrence: np.ndarray) -> np.ndarray:
        """int64 [B] modality in {1, 2}: a fair coin, or strict alternation under ``reference``.

        Under alternation the j-th trial of this task in a stream (j = ``occurrence``) uses
        1 + ((m0 + j) mod 2), with m0 drawn once per (seed, task).
        """
        if self.conv.modality_alternates:
            m0 = self._integers(keys.instance(), "modality0", 2)[:, 0]
            return 1 + (m0 + occurrence) % 2
        return 1 + self._integers(keys, "modality", 2)[:, 0]

    # ----------------------------------------------------------------------------- pipeline
    def _draw(self, keys: rng.Keys, occurrence: np.ndarray) -> Latents:
        raise NotImplementedError

    def _render(
        self, canvas: Canvas, lat: Latents, start: dict, stop: dict, keys: rng.Keys
    ) -> None:
        raise NotImplementedError

    def _modify(self, lat: Latents, steps: dict[str, np.ndarray]) -> Latents:
        return lat

    def _durations(self, keys: rng.Keys, lat: Latents) -> dict[str, np.ndarray]:
        steps = {}
        for p in self.periods:
            spec = self.timing[p]
            if isinstance(spec, timing.Fixed):
                steps[p] = np.full(len(keys), timing.step_bounds(spec, self.dt)[0], np.int64)
            else:
                steps[p] = timing.steps(spec, self.dt, self._uniform(keys, f"timing/{p}")[:, 0])
        if self.instance_delay:
            # one delay per (seed, task, modality): drawn at index 0 of the seed's stream
            u = self._uniform(keys.instance(), "instance_delay", 2)
            u = np.take_along_axis(u, (lat["modality"] - 1)[:, None], axis=1)[:, 0]
            steps["delay"] = timing.steps(self.timing["delay"], self.dt, u)
        return steps

    def _labels(
        self, lat: Latents, dec_start: np.ndarray, length: np.ndarray, t_max: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(label int64 [B, t_max], decision bool [B, t_max]); 0 / False on padding."""
        trial = np.arange(length.size)[:, None]
        t = np.arange(t_max)[None, :]
        label, after = self.step_labels(lat, dec_start, trial, t)
        inside = t < length[:, None]
        return np.where(inside, label, 0), after & inside

    def step_labels(
        self, lat: Latents, dec_start: np.ndarray, trial: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:func:`step_labels` of this task's trials (``trial`` indexes ``lat``)."""
        return step_labels(lat["response"], lat["go"], self.seq_sign, dec_start, trial, t,
                           dim_ring=self.dim_ring, dt=self.dt, wrap=self.conv.label_wrap)

    def plan(
        self,
        seed: int | np.ndarray,
        indices: Iterable[int] | np.ndarray | int,
        occurrence: Iterable[int] | np.ndarray | None = None,
    ) -> TrialPlan:
        """Steps 1-3 of the pipeline for the trials of :meth:`sample` (same arguments)."""
        idx = as_indices(indices)
        occ = idx if occurrence is None else as_indices(occurrence, "occurrence")
        if occ.shape != idx.shape:
            raise ValueError(f"occurrence has {occ.size} entries, indices has {idx.size}")
        return self.plan_keys(rng.Keys(seed, idx), occ)

    def plan_keys(self, keys: rng.Keys, occurrence: np.ndarray) -> TrialPlan:
        """:meth:`plan` from the trials' :class:`~modcog_env.rng.Keys` and int64 occurrences
        (no argument checks: the fast path of ``TaskStreams``, which derives keys once)."""
        lat = self._draw(keys, occurrence)
        steps = self._durations(keys, lat)
        return self.plan_from(keys, self._modify(lat, steps), steps)

    def plan_from(self, keys: rng.Keys, lat: Latents, steps: Mapping[str, object]) -> TrialPlan:
        """The plan of trials with latents ``lat`` and step counts [B] per period: periods laid
        end to end in ``self.periods`` order."""
        start, stop, t = {}, {}, np.zeros(len(keys), np.int64)
        for p in self.periods:
            start[p] = t
            t = t + np.asarray(steps[p], np.int64)
            stop[p] = t
        return TrialPlan(keys, lat, dict(steps), start, stop, t)

    def render(self, canvas: Canvas, plan: TrialPlan) -> None:
        """Write the trials' period channels through ``canvas`` (steps 4; the fixation input of
        steps outside the written periods and all zeros are the caller's)."""
        self._render(canvas, plan.lat, plan.start, plan.stop, plan.keys)

    def trial_params(self, plan: TrialPlan) -> dict[str, np.ndarray]:
        """The per-trial record ``params`` of a TrialBatch made from ``plan``."""
        lat, steps, b = plan.lat, plan.steps, plan.length.size
        params = {
            "go": lat["go"],
            "response": lat["response"],
            "delay_ms": (np.asarray(steps["delay"], np.int64) * self.dt if "delay" in steps
                         else np.zeros(b)),
            "int_sign": np.full(b, self.int_sign, np.int64),
            "seq_sign": np.full(b, self.seq_sign, np.int64),
        }
        params.update({k: v for k, v in lat.items() if k not in params and not k.startswith("_")})
        return params

    def sample(
        self,
        seed: int | np.ndarray,
        indices: Iterable[int] | np.ndarray | int,
        occurrence: Iterable[int] | np.ndarray | None = None,
    ) -> TrialBatch:
        """Trials ``indices`` of the stream ``seed`` as one padded TrialBatch.

        ``seed`` is one int, or an integer array with one stream seed per trial (several streams
        sampled in one call). ``occurrence`` (default: ``indices``) is each trial's count among
        this task's trials in its stream; only the ``reference`` modality alternation reads it.
        """
        plan = self.plan(seed, indices, occurrence)
        length, start = plan.length, plan.start
        t_max = int(length.max()) if length.size else 0
        ob = np.zeros((length.size, t_max, self.ob_size), dtype=np.float32)
        self._write_fixation(ob, start["decision"])
        self.render(Canvas.of_batch(ob), plan)
        label, decision = self._labels(plan.lat, start["decision"], length, t_max)
        return self.trial_batch(plan, ob, label, decision)

    def trial_batch(
        self, plan: TrialPlan, ob: np.ndarray, label: np.ndarray, decision: np.ndarray,
        **targets: np.ndarray,
    ) -> TrialBatch:
        """The TrialBatch of ``plan``'s trials with their rendered arrays (``targets``: the
        optional ``y``, ``y_loc``, ``c_mask``)."""
        return TrialBatch(
            ob=ob,
            label=label,
            length=plan.length,
            decision=decision,
            start=plan.start,
            stop=plan.stop,
            task=np.zeros(plan.length.size, np.int64),
            index=plan.keys.index.astype(np.int64),
            params=self.trial_params(plan),
            task_names=(self.name,),
            dt=self.dt,
            **targets,
        )

    # ----------------------------------------------------------------------------- render helpers
    def _write_fixation(self, ob: np.ndarray, dec_start: np.ndarray) -> None:
        """Fixation input 1 on every pre-decision step."""
        ob[:, :, 0] = np.arange(ob.shape[1])[None, :] < dec_start[:, None]

    def _write_period(
        self,
        canvas: Canvas,
        keys: rng.Keys,
        period: str,
        start: np.ndarray,
        stop: np.ndarray,
        pattern: np.ndarray,
        modality: np.ndarray | None = None,
        noise: str | None = None,
    ) -> None:
        """Write every channel of the steps of ``period`` in one 1-D scatter of whole rows (or,
        on a recording canvas, record each trial's row and noise stream for the compiled painter).

        Channel 0 gets the fixation input (1 before the decision period, 0 in it); the rings get
        ``pattern`` ([B, 2N], or [B, N] shown on ring ``modality`` [B]); ``noise`` adds
        N(0, noise_std**2) to ``"all"`` channels or to the ``"ring"`` of ``modality``.
        """
        n, d = self.dim_ring, self.ob_size
        row = np.zeros((pattern.shape[0], d), np.float32)  # each trial's row, then one per step
        row[:, 0] = 0.0 if period == "decision" else 1.0
        if modality is None:
            row[:, 1:] = pattern
        else:  # the pattern on ring `modality`, zeros on the other
            one = modality == 1
            row[one, 1 : 1 + n] = pattern[one]
            row[~one, 1 + n :] = pattern[~one]
        if canvas.segments is not None:  # recorded; painted later with every other period
            spec = None
            if noise is not None and self.sigma > 0:
                state = keys.stream(self._stream(f"noise/{period}"))  # what _noise draws from
                spec = ((state, d, np.zeros(len(keys), np.int64), self.noise_std)
                        if noise == "all" else (state, n, 1 + n * (modality - 1), self.noise_std))
            canvas.record(start, stop, row, spec)
            return
        rows, cols, loc = period_steps(start, stop)
        if not rows.size:
            return
        full = row.take(rows, axis=0)
        if noise == "all" and self.sigma > 0:
            full += self._noise(keys, period, loc, rows, d)
        elif noise == "ring" and self.sigma > 0:
            rings = full[:, 1:].reshape(rows.size, 2, n)  # a view: [step, ring, unit]
            rings[np.arange(rows.size), modality[rows] - 1] += self._noise(keys, period, loc,
                                                                             rows, n)
        items = full.view(_row_type(d)).reshape(-1)
        canvas.items[canvas.origin[rows] + cols * canvas.stride] = items

    def _noise(
        self, keys: rng.Keys, period: str, loc: np.ndarray, rows: np.ndarray, width: int
    ) -> np.ndarray:
        """float32 [n, width] N(0, noise_std**2) for the flattened steps (rows, loc) of a period.

        Draw (t_local * width + c) of trial k in stream ``noise/<period>``: independent of B.
        """
        t_span = int(loc.max()) + 1 if loc.size else 0
        z = keys.normal(self._stream(f"noise/{period}"), t_span * width, self.noise_std)
        if rows.size == len(keys) * t_span:  # every trial fills t_span steps: rows, loc in order
            return z.reshape(rows.size, width)
        return z.reshape(len(keys), t_span, width)[rows, loc]

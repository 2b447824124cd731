"""Period durations: declarative specs interpreted here, floored to dt (TASKS.md §1 "dt").

A spec is one of :class:`Fixed`, :class:`Uniform` (continuous U[low, high)) or :class:`Choice`
(uniform over a finite set), all in ms. ``steps(spec, dt, u)`` turns a [B] array of uniforms into
integer step counts floor(d / dt); a period of 0 steps is legal and simply absent. Specs are plain
frozen dataclasses, so tasks stay picklable and their bounds are known without sampling.

User-facing timing overrides accept a number (fixed ms), ``("uniform", low, high)``,
``("choice", [v1, v2, ...])``, ``("constant", v)`` or a spec instance.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Union

import numpy as np

_EPS = 1e-9  # guards floor(d / dt) against float round-off, e.g. 0.3 / 0.1


@dataclass(frozen=True)
class Fixed:
    """A fixed duration in ms."""

    ms: float

    def describe(self) -> str:
        return f"{self.ms:g}"


@dataclass(frozen=True)
class Uniform:
    """Continuous uniform duration on [low, high) ms, floored to dt when converted to steps."""

    low: float
    high: float

    def describe(self) -> str:
        return f"U[{self.low:g}, {self.high:g})"


@dataclass(frozen=True)
class Choice:
    """Duration drawn uniformly from a finite set of values in ms."""

    values: tuple[float, ...]

    def describe(self) -> str:
        return "U{" + ", ".join(f"{v:g}" for v in self.values) + "}"


Spec = Union[Fixed, Uniform, Choice]  # noqa: UP007 (a runtime alias; py3.10 needs Union)


def _check_ms(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{what} must be a duration in ms (a number), got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite duration >= 0 ms, got {value!r}")
    return value


def parse_spec(value: object, name: str = "timing") -> Spec:
    """Turn a user timing value into a spec; raises ``ValueError`` naming ``name`` if malformed."""
    if isinstance(value, (Fixed, Uniform, Choice)):
        spec = value
        if isinstance(spec, Fixed):
            _check_ms(spec.ms, name)
        elif isinstance(spec, Uniform):
            return parse_spec(("uniform", spec.low, spec.high), name)
        else:
            return parse_spec(("choice", spec.values), name)
        return spec
    if isinstance(value, (tuple, list)) and value and isinstance(value[0], str):
        kind, args = value[0], tuple(value[1:])
        if kind == "constant" and len(args) == 1:
            return Fixed(_check_ms(args[0], name))
        if kind == "uniform" and len(args) == 2:
            low, high = (_check_ms(a, name) for a in args)
            if not low < high:
                raise ValueError(f"{name}: uniform needs low < high, got ({low:g}, {high:g})")
            return Uniform(low, high)
        if kind == "choice" and len(args) == 1 and len(args[0]) > 0:
            return Choice(tuple(_check_ms(v, name) for v in args[0]))
        raise ValueError(
            f"{name}={value!r} is not a timing spec; allowed: a number of ms, ('constant', ms), "
            "('uniform', low, high) or ('choice', [ms, ...])"
        )
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return Fixed(_check_ms(value, name))  # a number: any error says what is wrong with it
    raise ValueError(
        f"{name}={value!r} is not a timing spec; allowed: a number of ms, ('constant', ms), "
        "('uniform', low, high) or ('choice', [ms, ...])"
    )


def _floor_steps(ms: np.ndarray, dt: float) -> np.ndarray:
    return np.floor(np.asarray(ms, dtype=np.float64) / dt + _EPS).astype(np.int64)


def steps(spec: Spec, dt: float, u: np.ndarray) -> np.ndarray:
    """int64 [B] step counts for uniforms ``u`` [B] in [0, 1): floor(duration / dt)."""
    u = np.asarray(u, dtype=np.float64)
    if isinstance(spec, Fixed):
        return np.full(u.shape, _floor_steps(spec.ms, dt), dtype=np.int64)
    if isinstance(spec, Uniform):
        # the epsilon of _floor_steps must not let u -> 1 reach `high`, which is excluded
        top = step_bounds(spec, dt)[1]
        return np.minimum(_floor_steps(spec.low + (spec.high - spec.low) * u, dt), top)
    values = np.asarray(spec.values, dtype=np.float64)
    return _floor_steps(values[np.minimum((u * len(values)).astype(np.int64), len(values) - 1)], dt)


def step_bounds(spec: Spec, dt: float) -> tuple[int, int]:
    """(min, max) number of steps a spec can produce at ``dt``; computed, never sampled."""
    if isinstance(spec, Fixed):
        n = int(_floor_steps(spec.ms, dt))
        return n, n
    if isinstance(spec, Uniform):
        top = math.ceil(spec.high / dt - _EPS) - 1
        return int(_floor_steps(spec.low, dt)), max(top, int(_floor_steps(spec.low, dt)))
    counts = _floor_steps(np.asarray(spec.values), dt)
    return int(counts.min()), int(counts.max())


def step_values(spec: Spec, dt: float) -> np.ndarray:
    """Sorted array of every step count the spec can produce (for tests and docs)."""
    lo, hi = step_bounds(spec, dt)
    if isinstance(spec, Choice):
        return np.unique(_floor_steps(np.asarray(spec.values), dt))
    return np.arange(lo, hi + 1)

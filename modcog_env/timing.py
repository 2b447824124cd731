"""Period durations: declarative specs interpreted here, floored to dt (TASKS.md §1 "dt").

A spec is one of :class:`Fixed`, :class:`Uniform` (continuous U[low, high)), :class:`Choice`
(uniform over a finite set) or :class:`TruncatedExponential` (an exponential of a given mean
conditioned to [min, max)), all in ms. ``steps(spec, dt, u)`` turns a [B] array of uniforms into
integer step counts floor(d / dt); a period of 0 steps is legal and simply absent. Specs are plain
frozen dataclasses, so tasks stay picklable and their bounds are known without sampling.

**Accepted notation** (``parse_spec``; everywhere the suite takes ``timing=``). Both the suite's
own forms and NeuroGym's (``TrialEnv.timing``) are accepted, so the ``timing`` a NeuroGym-bridged
env prints can be passed back:

==========================================  =========================================
value                                        spec
==========================================  =========================================
``500`` (a number of ms)                     ``Fixed(500)``
``("constant", 500)``                        ``Fixed(500)``
``("uniform", 200, 500)``                    ``Uniform(200, 500)``
``("uniform", (200, 500))`` (NeuroGym)       ``Uniform(200, 500)``
``("choice", [100, 200])``                   ``Choice((100, 200))``
``[100, 200]``, ``(100, 200)`` (NeuroGym)    ``Choice((100, 200))``
``("truncated_exponential", [m, lo, hi])``   ``TruncatedExponential(m, lo, hi)``
a spec instance                              itself (validated)
==========================================  =========================================

Lists may stand for tuples anywhere (JSON). Refused, with a ``ValueError`` naming the key:
NeuroGym's ``("until", t)`` (it depends on the trial's running time), callables (unpicklable,
order-dependent draws), and a truncated exponential without a finite max (trial lengths must be
bounded).

**Values that are not a multiple of dt** are floored to whole steps, as NeuroGym's
``sample_time`` does. :func:`check_grid` (called by every task on user timing) warns about each
such value with a :class:`TimingWarning` naming the value and what it becomes; Python's default
warning filter shows each distinct message once per process.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np

_EPS = 1e-9  # guards floor(d / dt) against float round-off, e.g. 0.3 / 0.1
_NUMBER = (int, float, np.integer, np.floating)
SPEC_HELP = (
    "allowed: a number of ms, ('constant', ms), ('uniform', low, high), ('uniform', (low, high)), "
    "('choice', [ms, ...]), a list of ms, or ('truncated_exponential', [mean, min, max])"
)


class TimingWarning(UserWarning):
    """A timing value is not a multiple of dt and is floored to whole steps."""


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


@dataclass(frozen=True)
class TruncatedExponential:
    """Exponential duration of mean ``mean`` ms conditioned to [low, high) ms (NeuroGym's
    ``trunc_exp``: rejection of Exp(mean) draws outside the interval), floored to dt.

    Sampled by inversion: d = low - mean * log(1 - u * (1 - exp(-(high - low) / mean))).
    """

    mean: float
    low: float
    high: float

    def describe(self) -> str:
        return f"TruncExp(mean {self.mean:g}, [{self.low:g}, {self.high:g}))"


Spec = Union[Fixed, Uniform, Choice, TruncatedExponential]  # noqa: UP007 (runtime alias; py3.10)


def _check_ms(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, _NUMBER):
        raise ValueError(f"{what} must be a duration in ms (a number), got {value!r}")
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{what} must be a finite duration >= 0 ms, got {value!r}")
    return value


def _is_number(value: object) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def _is_sequence(value: object) -> bool:
    return isinstance(value, (tuple, list, np.ndarray))


def _not_a_spec(value: object, name: str) -> ValueError:
    return ValueError(f"{name}={value!r} is not a timing spec; {SPEC_HELP}")


def _uniform(args: tuple, value: object, name: str) -> Uniform:
    if len(args) == 1 and _is_sequence(args[0]):
        args = tuple(args[0])  # NeuroGym: ("uniform", (low, high))
    if len(args) != 2:
        raise _not_a_spec(value, name)
    low, high = (_check_ms(a, name) for a in args)
    if not low < high:
        raise ValueError(f"{name}: uniform needs low < high, got ({low:g}, {high:g})")
    return Uniform(low, high)


def _choice(values: Sequence, value: object, name: str) -> Choice:
    if not _is_sequence(values) or len(values) == 0:
        raise _not_a_spec(value, name)
    return Choice(tuple(_check_ms(v, name) for v in values))


def _truncated_exponential(args: tuple, value: object, name: str) -> Spec:
    if len(args) == 1 and _is_sequence(args[0]):
        args = tuple(args[0])  # NeuroGym: ("truncated_exponential", [mean, min, max])
    if not 1 <= len(args) <= 3:
        raise _not_a_spec(value, name)
    if len(args) < 3:
        raise ValueError(
            f"{name}={value!r}: a truncated exponential needs a finite max, "
            "('truncated_exponential', [mean, min, max]) in ms, so trial lengths are bounded"
        )
    mean, low, high = (_check_ms(a, name) for a in args)
    if mean <= 0:
        raise ValueError(f"{name}: truncated exponential needs mean > 0 ms, got {mean:g}")
    if low >= high:  # NeuroGym's trunc_exp returns the max when min >= max
        return Fixed(high)
    return TruncatedExponential(mean, low, high)


def parse_spec(value: object, name: str = "timing") -> Spec:
    """Turn a user timing value (module docstring table) into a spec.

    Raises ``ValueError`` naming ``name``, the bad value and the allowed notation.
    """
    if isinstance(value, Fixed):
        return Fixed(_check_ms(value.ms, name))
    if isinstance(value, Uniform):
        return _uniform((value.low, value.high), value, name)
    if isinstance(value, Choice):
        return _choice(value.values, value, name)
    if isinstance(value, TruncatedExponential):
        return _truncated_exponential((value.mean, value.low, value.high), value, name)
    if _is_number(value):
        return Fixed(_check_ms(value, name))  # a number: any error says what is wrong with it
    if callable(value):
        raise ValueError(
            f"{name}={value!r}: callables are not accepted (their draws are unpicklable and "
            f"order-dependent); {SPEC_HELP}"
        )
    if _is_sequence(value) and len(value) > 0 and isinstance(value[0], str):
        kind, args = value[0], tuple(value[1:])
        if kind == "constant" and len(args) == 1:
            return Fixed(_check_ms(args[0], name))
        if kind == "uniform":
            return _uniform(args, value, name)
        if kind == "choice" and len(args) == 1:
            return _choice(args[0], value, name)
        if kind == "truncated_exponential":
            return _truncated_exponential(args, value, name)
        if kind == "until":
            raise ValueError(
                f"{name}={value!r}: NeuroGym's 'until' depends on the trial's running time and "
                f"is not supported; {SPEC_HELP}"
            )
        raise _not_a_spec(value, name)
    if _is_sequence(value) and len(value) > 0 and all(_is_number(v) for v in value):
        return _choice(value, value, name)  # NeuroGym: a bare list of ms is a choice
    raise _not_a_spec(value, name)


def neurogym_notation(spec: Spec) -> object:
    """The spec in NeuroGym's ``timing`` notation (readable by ``TrialEnv.sample_time`` and by
    :func:`parse_spec`): a number, ``("uniform", (low, high))``, ``("choice", [...])`` or
    ``("truncated_exponential", [mean, min, max])``."""
    if isinstance(spec, Fixed):
        return int(spec.ms) if float(spec.ms).is_integer() else spec.ms
    if isinstance(spec, Uniform):
        return ("uniform", (spec.low, spec.high))
    if isinstance(spec, Choice):
        return ("choice", list(spec.values))
    return ("truncated_exponential", [spec.mean, spec.low, spec.high])


def _off_grid(ms: float, dt: float) -> bool:
    steps = ms / dt
    return abs(steps - round(steps)) > 1e-6


def check_grid(spec: Spec, dt: float, name: str = "timing") -> None:
    """Warn (:class:`TimingWarning`) about every value of ``spec`` that is not a multiple of
    ``dt``, naming it and what it becomes once floored to whole steps."""
    msgs = []
    if isinstance(spec, Fixed) and _off_grid(spec.ms, dt):
        got = step_bounds(spec, dt)[0] * dt
        msgs.append(
            f"{name}={spec.ms:g} ms is not a multiple of dt={dt:g} ms: it becomes {got:g} ms"
        )
    elif isinstance(spec, Choice):
        for v in spec.values:
            if _off_grid(v, dt):
                got = step_bounds(Fixed(v), dt)[0] * dt
                msgs.append(
                    f"{name}: choice {v:g} ms is not a multiple of dt={dt:g} ms: "
                    f"it becomes {got:g} ms"
                )
    elif isinstance(spec, (Uniform, TruncatedExponential)):
        bad = [v for v in (spec.low, spec.high) if _off_grid(v, dt)]
        if bad:
            lo, hi = step_bounds(spec, dt)
            msgs.append(
                f"{name}={spec.describe()}: bound(s) {', '.join(f'{v:g}' for v in bad)} ms are not "
                f"multiples of dt={dt:g} ms: draws are floored to whole steps, so the period lasts "
                f"{lo * dt:g} to {hi * dt:g} ms"
            )
    for msg in msgs:
        warnings.warn(msg + " (durations are floored to whole steps)", TimingWarning, stacklevel=2)


def _floor_steps(ms: np.ndarray, dt: float) -> np.ndarray:
    return np.floor(np.asarray(ms, dtype=np.float64) / dt + _EPS).astype(np.int64)


def _open_top(high: float, low: float, dt: float) -> int:
    """Largest step count of a continuous draw on [low, high): high itself is excluded."""
    return max(math.ceil(high / dt - _EPS) - 1, int(_floor_steps(low, dt)))


def steps(spec: Spec, dt: float, u: np.ndarray) -> np.ndarray:
    """int64 [B] step counts for uniforms ``u`` [B] in [0, 1): floor(duration / dt)."""
    u = np.asarray(u, dtype=np.float64)
    if isinstance(spec, Fixed):
        return np.full(u.shape, _floor_steps(spec.ms, dt), dtype=np.int64)
    if isinstance(spec, (Uniform, TruncatedExponential)):
        if isinstance(spec, Uniform):
            ms = spec.low + (spec.high - spec.low) * u
        else:
            mass = -np.expm1(-(spec.high - spec.low) / spec.mean)  # 1 - exp(-(hi - lo) / mean)
            ms = spec.low - spec.mean * np.log1p(-u * mass)
        # the epsilon of _floor_steps must not let u -> 1 reach `high`, which is excluded
        return np.minimum(_floor_steps(ms, dt), _open_top(spec.high, spec.low, dt))
    values = np.asarray(spec.values, dtype=np.float64)
    return _floor_steps(values[np.minimum((u * len(values)).astype(np.int64), len(values) - 1)], dt)


def step_bounds(spec: Spec, dt: float) -> tuple[int, int]:
    """(min, max) number of steps a spec can produce at ``dt``; computed, never sampled."""
    if isinstance(spec, Fixed):
        n = int(_floor_steps(spec.ms, dt))
        return n, n
    if isinstance(spec, (Uniform, TruncatedExponential)):
        return int(_floor_steps(spec.low, dt)), _open_top(spec.high, spec.low, dt)
    counts = _floor_steps(np.asarray(spec.values), dt)
    return int(counts.min()), int(counts.max())


def step_values(spec: Spec, dt: float) -> np.ndarray:
    """Sorted array of every step count the spec can produce (for tests and docs)."""
    lo, hi = step_bounds(spec, dt)
    if isinstance(spec, Choice):
        return np.unique(_floor_steps(np.asarray(spec.values), dt))
    return np.arange(lo, hi + 1)

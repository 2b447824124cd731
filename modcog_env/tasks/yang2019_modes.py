"""Yang et al. (2019)'s 'test' condition grids and 'psychometric' sweeps (gyyang/multitask).

Both return ``(latents, steps)`` for :meth:`Yang2019Task.assemble`, which makes the same kind of
TrialBatch as random sampling (inputs with noise, labels, ``y``, ``y_loc``, ``c_mask``).

``test``: one trial per condition of Yang's grid, conditions in Yang's order
(``np.unravel_index(range(B), shape)``): 20 locations 2 pi i / 20 x 2 modalities (go family),
x 5 strengths (dm1, dm2, delayed), x 5 x 5 (context and multi-sensory), 20 x 2 x 2 (match
family; the test stimulus always asks for a response). Timing is fixed per task.

``psychometric``: trials with the given stimulus parameters, under Yang's names (listed in
:data:`PSYCHOMETRIC_KEYS`); times in ms (scalars or one value per trial), each period floored to
dt. Modality 1 for the go and match families, as in Yang's code.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .base import Latents

TWO_PI = 2.0 * np.pi


def _grid(shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    return np.unravel_index(np.arange(int(np.prod(shape))), shape)


def _durations(task, ms: Mapping[str, object], b: int) -> dict[str, np.ndarray]:
    """Steps [B] per period from durations in ms (scalar or [B]), floored to dt."""
    out = {}
    for p in task.periods:
        d = np.broadcast_to(np.asarray(ms[p], dtype=np.float64), (b,))
        if (d < 0).any() or not np.isfinite(d).all():
            raise ValueError(f"duration of period {p!r} must be finite and >= 0 ms, got {d}")
        out[p] = np.floor(d / task.dt + 1e-9).astype(np.int64)
    if (out["decision"] < 1).any():
        raise ValueError("the decision period needs at least one step")
    return out


def _two_ring(s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    return np.stack([s1, s2], axis=1).astype(np.float64)


def _dm_strengths(task, m1: tuple, m2: tuple | None) -> tuple[np.ndarray, np.ndarray]:
    """(strength1, strength2) [B, 2]; ``m1`` = (stim1, stim2) strengths on the shown ring for
    dm1/dm2, or on ring 1 with ``m2`` on ring 2 (context and multi-sensory)."""
    shown = task.detail[0]
    if shown in ("1", "2"):
        zero = np.zeros_like(m1[0])
        pair = (m1[0], zero) if shown == "1" else (zero, m1[0])
        pair2 = (m1[1], zero) if shown == "1" else (zero, m1[1])
        return _two_ring(*pair), _two_ring(*pair2)
    return _two_ring(m1[0], m2[0]), _two_ring(m1[1], m2[1])


# ------------------------------------------------------------------------------------- test
def test_conditions(task) -> tuple[Latents, dict[str, np.ndarray]]:
    """Yang's mode 'test' of ``task`` (a Yang2019Task): latents and steps of his grid."""
    kind, fam = task.kind, task.family
    if fam == "go":
        i_loc, i_mod = _grid((20, 2))
        lat = {"stim1_loc": TWO_PI * i_loc / 20, "modality1": i_mod + 1}
        ms = {
            "fd": {"fixation": 500, "stimulus": 1000, "decision": 500},
            "rt": {"fixation": 2000, "decision": 500},
            "dly": {"fixation": 500, "stimulus": 500, "delay": 1000, "decision": 500},
        }[kind]
    elif fam == "dm":
        single = task.detail[0] in ("1", "2")
        shape = (20, 5) if single else (20, 5, 5)
        idx = _grid(shape)
        loc1 = TWO_PI * idx[0] / 20
        if single and kind == "dlydm":
            s1 = 1.0 * idx[1] / 5 + 0.5
        else:
            s1 = 0.4 * idx[1] / 5 + 0.8
        m2 = None if single else (0.4 * idx[2] / 5 + 0.8,)
        a, s = _dm_strengths(task, (s1, 2 - s1), None if m2 is None else (m2[0], 2 - m2[0]))
        lat = {"stim1_loc": loc1, "stim2_loc": (loc1 + np.pi) % TWO_PI, "strength1": a,
               "strength2": s}  # fmt: skip
        if kind == "dm":
            ms = {"fixation": 500, "stimulus": 1500 if single else 1000, "decision": 500}
        else:
            last = (200, 300) if single else (500, 500)
            ms = {"fixation": 500, "stim1": 500, "delay": 1000, "stim2": 500,
                  "delay2": last[0], "decision": last[1]}  # fmt: skip
    else:
        i_loc, i_m1, i_m2 = _grid((20, 2, 2))
        match = np.full(i_loc.size, bool(task.detail))  # a grid where every trial responds
        if kind == "dms":
            loc1 = TWO_PI * i_loc / 20
        else:
            half = np.arange(10) / 10 * 0.8
            loc1 = np.concatenate([0.1 + half, 1.1 + half])[i_loc] * np.pi
        loc2 = (loc1 + np.pi * ~match) % TWO_PI
        if kind == "dmc":
            match = (loc1 < np.pi) == (loc2 < np.pi)
        lat = {"stim1_loc": loc1, "stim2_loc": loc2, "modality1": i_m1 + 1,
               "modality2": i_m2 + 1, "match": match}  # fmt: skip
        ms = {"fixation": 500, "sample": 500, "delay": 1200, "decision": 500}
    lat = task.resolve(lat)
    return lat, _durations(task, ms, len(lat["go"]))


# ------------------------------------------------------------------------------------- psychometric
PSYCHOMETRIC_KEYS: dict[str, tuple[str, ...]] = {
    "fd": ("stim_locs", "stim_time"),
    "rt": ("stim_locs",),
    "dly": ("stim_locs", "stim_ons", "stim_offs", "delay_time"),
    "dm": ("stim1_locs", "stim2_locs", "stim1_strengths", "stim2_strengths", "stim_time"),
    "ctxdm": ("stim1_locs", "stim2_locs", "stim1_mod1_strengths", "stim2_mod1_strengths",
              "stim1_mod2_strengths", "stim2_mod2_strengths", "stim_time"),
    "dlydm": ("stim1_locs", "stim2_locs", "stim1_strengths", "stim2_strengths", "stim1_ons",
              "stim1_offs", "stim2_ons", "stim2_offs"),
    "ctxdlydm": ("stim1_locs", "stim2_locs", "stim1_mod1_strengths", "stim2_mod1_strengths",
                 "stim1_mod2_strengths", "stim2_mod2_strengths", "stim_time"),
    "dms": ("stim1_locs", "stim2_locs"),
    "dmc": ("stim1_locs", "stim2_locs"),
}  # fmt: skip


def psychometric_key(task) -> str:
    """Which entry of :data:`PSYCHOMETRIC_KEYS` ``task`` takes."""
    if task.family == "dm" and task.detail[0] not in ("1", "2"):
        return "ctx" + task.kind
    return task.kind


def psychometric_conditions(
    task, params: Mapping[str, object]
) -> tuple[Latents, dict[str, np.ndarray]]:
    """Yang's mode 'psychometric' of ``task``: latents and steps for the given parameters."""
    key = psychometric_key(task)
    need = PSYCHOMETRIC_KEYS[key]
    if not isinstance(params, Mapping) or set(params) != set(need):
        got = sorted(params) if isinstance(params, Mapping) else params
        raise ValueError(f"params={got!r}: {task.name!r} takes exactly the keys {list(need)}")
    locs = "stim_locs" if "stim_locs" in need else "stim1_locs"
    b = np.asarray(params[locs]).reshape(-1).size

    def arr(name: str) -> np.ndarray:
        v = np.asarray(params[name], dtype=np.float64)
        if v.ndim > 1 or (v.ndim == 1 and v.size != b):
            raise ValueError(f"params[{name!r}] must be a scalar or have {b} entries")
        return np.broadcast_to(v, (b,)).copy()

    one = np.ones(b, np.int64)
    if key in ("fd", "rt", "dly"):
        lat = {"stim1_loc": arr("stim_locs") % TWO_PI, "modality1": one}
        if key == "fd":
            ms = {"fixation": 300, "stimulus": arr("stim_time"), "decision": 400}
        elif key == "rt":
            ms = {"fixation": 1000, "decision": 400}
        else:
            on, off = arr("stim_ons"), arr("stim_offs")
            ms = {"fixation": on, "stimulus": off - on, "delay": arr("delay_time"),
                  "decision": 400}  # fmt: skip
    elif task.family == "dm":
        lat = {"stim1_loc": arr("stim1_locs") % TWO_PI, "stim2_loc": arr("stim2_locs") % TWO_PI}
        if key in ("dm", "dlydm"):
            a, s = _dm_strengths(task, (arr("stim1_strengths"), arr("stim2_strengths")), None)
        else:
            a, s = _dm_strengths(
                task,
                (arr("stim1_mod1_strengths"), arr("stim2_mod1_strengths")),
                (arr("stim1_mod2_strengths"), arr("stim2_mod2_strengths")),
            )
        lat.update(strength1=a, strength2=s)
        if key == "dm":
            ms = {"fixation": 300, "stimulus": arr("stim_time"), "decision": 400}
        elif key == "ctxdm":
            ms = {"fixation": 500, "stimulus": arr("stim_time"), "decision": 500}
        elif key == "dlydm":
            on1, off1, on2, off2 = (arr(k) for k in ("stim1_ons", "stim1_offs", "stim2_ons",
                                                     "stim2_offs"))  # fmt: skip
            ms = {"fixation": on1, "stim1": off1 - on1, "delay": on2 - off1, "stim2": off2 - on2,
                  "delay2": 200, "decision": 300}  # fmt: skip
        else:
            ms = {"fixation": 300, "stim1": 300, "delay": arr("stim_time"), "stim2": 300,
                  "delay2": 200, "decision": 300}  # fmt: skip
    else:
        loc1, loc2 = arr("stim1_locs") % TWO_PI, arr("stim2_locs") % TWO_PI
        if key == "dms":
            d = np.abs(loc1 - loc2) % TWO_PI
            match = np.minimum(d, TWO_PI - d) < np.pi / 36  # within 5 degrees
        else:
            match = (loc1 < np.pi) == (loc2 < np.pi)
        lat = {"stim1_loc": loc1, "stim2_loc": loc2, "modality1": one, "modality2": one,
               "match": match}  # fmt: skip
        ms = {"fixation": 500, "sample": 300, "delay": 1200, "decision": 500}
    lat = task.resolve(lat)
    return lat, _durations(task, ms, b)

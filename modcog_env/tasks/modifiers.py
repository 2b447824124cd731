"""The Mod-Cog modifiers ``seq{r,l}`` and ``int{r,l}`` as one wrapper of a base task (TASKS.md §4).

``ModifiedTask(base, int_sign, seq_sign)`` keeps the base's latents and rendering and changes only:

- timing: ``seq`` makes the decision period 1000 ms (rtgo/rtanti keep 500 ms); ``int`` draws the
  go- and match-family delay per trial from U{0, 100, ..., 1100} ms (DM keeps its 500 ms delay);
- the ``int`` rotation, per family: the go-family stimulus moves by s * 0.01 rad per ms of delay
  (the response stays g); the DM response moves by 5 * s ring positions; the match-family response
  of go trials moves by s * floor(D / 100) positions;
- the labels: under ``seq`` the decision label advances by s ring positions per 100 ms.

All rules are in ms, so they hold at any dt that divides 100.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .. import ring, timing
from .base import Latents, Task

INT_BASES = (
    "dlygo",
    "dlyanti",
    "dlydm1",
    "dlydm2",
    "ctxdlydm1",
    "ctxdlydm2",
    "multidlydm",
    "dms",
    "dnms",
    "dmc",
    "dnmc",
)
INT_DELAY = timing.Choice(tuple(float(v) for v in range(0, 1200, 100)))  # ms, 12 values
INT_GO_RATE = 0.01  # rad per ms of delay: the go-family stimulus rotation
INT_DM_SHIFT = 5  # ring positions: the constant DM response shift
SEQ_DECISION = timing.Fixed(1000)  # ms; rtgo/rtanti keep their 500 ms decision
SEQ_KEEPS_DECISION = ("rtgo", "rtanti")


def suffix(int_sign: int, seq_sign: int) -> str:
    """Name suffix of a modifier combination, e.g. (1, -1) -> ``"intrseql"``."""
    letters = {1: "r", -1: "l"}
    out = f"int{letters[int_sign]}" if int_sign else ""
    return out + (f"seq{letters[seq_sign]}" if seq_sign else "")


def _check_sign(value: object, name: str) -> int:
    if isinstance(value, bool) or value not in (-1, 0, 1):
        raise ValueError(f"{name}={value!r} must be -1 (l), 0 (absent) or +1 (r)")
    return int(value)


class ModifiedTask(Task):
    """A base task with ``int`` and/or ``seq`` applied; same protocol as the base.

    Registered ids: ``ModCog-<Base>[IntR|IntL][SeqR|SeqL]-v0`` for the 106 Mod-Cog variants.
    """

    def __init__(
        self,
        base: Task,
        int_sign: int = 0,
        seq_sign: int = 0,
        timing: Mapping[str, object] | None = None,
    ) -> None:
        if not isinstance(base, Task) or isinstance(base, ModifiedTask):
            raise ValueError(f"base={base!r} must be an unmodified base Task")
        self.int_sign = _check_sign(int_sign, "int_sign")
        self.seq_sign = _check_sign(seq_sign, "seq_sign")
        if not (self.int_sign or self.seq_sign):
            raise ValueError("ModifiedTask needs int_sign or seq_sign non-zero; use the base task")
        if self.int_sign and base.base not in INT_BASES:
            raise ValueError(
                f"int cannot modify {base.base!r}: it has no delay period; int applies to "
                f"{', '.join(INT_BASES)}"
            )
        self.base_task = base
        self.family = base.family
        self.base = base.base
        self.name = base.name + suffix(self.int_sign, self.seq_sign)
        self.periods = base.periods
        self.conv, self.dt, self.dim_ring, self.sigma = (
            base.conv,
            base.dt,
            base.dim_ring,
            base.sigma,
        )
        self.timing = self._default_timing()
        self._apply_timing(timing)

    def _default_timing(self) -> dict[str, timing.Spec]:
        spec = dict(self.base_task.timing)
        if self.int_sign and self.family in ("go", "match"):
            spec["delay"] = INT_DELAY
        if self.seq_sign and self.base not in SEQ_KEEPS_DECISION:
            spec["decision"] = SEQ_DECISION
        return spec

    def _draw(self, keys, occurrence: np.ndarray) -> Latents:
        return self.base_task._draw(keys, occurrence)

    def _render(self, canvas, lat, start, stop, keys) -> None:
        self.base_task._render(canvas, lat, start, stop, keys)

    def _modify(self, lat: Latents, steps: dict[str, np.ndarray]) -> Latents:
        if not self.int_sign:
            return lat
        s, n = self.int_sign, self.dim_ring
        delay_ms = steps["delay"] * self.dt
        if self.family == "go":
            lat["stim_angle"] = (lat["stim_angle"] + s * INT_GO_RATE * delay_ms) % ring.TWO_PI
        elif self.family == "dm":
            lat["response"] = (lat["chosen"] + s * INT_DM_SHIFT) % n
        else:
            hundreds = np.floor(delay_ms / 100.0 + 1e-9).astype(np.int64)
            lat["response"] = np.where(
                lat["go"], (lat["test_idx"] + s * hundreds) % n, lat["test_idx"]
            )
        return lat

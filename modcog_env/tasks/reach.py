"""Go family: go, rtgo, dlygo, anti, rtanti, dlyanti (TASKS.md §3.1)."""

from __future__ import annotations

import numpy as np

from .. import ring, timing
from .base import Latents, Task


class ReachTask(Task):
    """Respond toward a cued direction (go) or its opposite (anti) after fixation ends.

    Yang et al. (2019) fdgo/reactgo/delaygo and their anti versions, in Mod-Cog form.

    Structure: ``fixation >> stimulus >> delay >> decision`` (rt: ``fixation >> decision``).

    ==========  ===============  =====================  ==========  ===========
    period      ch 0 fixation    ring of modality m     other ring  label
    ==========  ===============  =====================  ==========  ===========
    fixation    1                0                      0           0
    stimulus    1                B(phi, 1)              0           0
    delay       1                0                      0           0
    decision    0                0 (rt: B(phi, 1))      0           1 + g
    ==========  ===============  =====================  ==========  ===========

    Per trial: target g ~ U{0..N-1}; modality m (coin, or alternation under ``reference``);
    phi = theta_g (+ pi for anti). No noise in this family. Timing (ms): fixation 500, stimulus 500,
    delay 0 (go/anti under ``modcog``) or 500, decision 500.

    Params: ``target``, ``modality``, ``stim_angle``. Registered ids: ``ModCog-Go-v0``,
    ``ModCog-ReactGo-v0``, ``ModCog-DelayGo-v0``, ``ModCog-Anti-v0``, ``ModCog-ReactAnti-v0``,
    ``ModCog-DelayAnti-v0`` (and their Mod-Cog variants). Version history: v0, initial.
    """

    family = "go"

    def __init__(self, base: str, **kwargs: object) -> None:
        if base not in REACH_BASES:
            raise ValueError(f"base={base!r} is not a go-family task; allowed: {list(REACH_BASES)}")
        self.name = self.base = base
        self.anti, self.kind = REACH_BASES[base]
        self.periods = (
            ("fixation", "decision")
            if self.kind == "rt"
            else ("fixation", "stimulus", "delay", "decision")
        )
        super().__init__(**kwargs)

    def _default_timing(self) -> dict[str, timing.Spec]:
        if self.kind == "rt":
            return {"fixation": timing.Fixed(500), "decision": timing.Fixed(500)}
        delay = 500 if (self.kind == "dly" or self.conv.reach_delay_always) else 0
        return {
            "fixation": timing.Fixed(500),
            "stimulus": timing.Fixed(500),
            "delay": timing.Fixed(delay),
            "decision": timing.Fixed(500),
        }

    def _draw(self, keys, occurrence: np.ndarray) -> Latents:
        target = self._integers(keys, "target", self.dim_ring)[:, 0]
        angle = (ring.index_angle(target, self.dim_ring) + np.pi * self.anti) % ring.TWO_PI
        return {
            "target": target,
            "modality": self._modality(keys, occurrence),
            "stim_angle": angle,
            "response": target,
            "go": np.ones(len(keys), dtype=bool),
        }

    def _render(self, canvas, lat, start, stop, keys) -> None:
        shown = "decision" if self.kind == "rt" else "stimulus"
        pattern = ring.bump(lat["stim_angle"], 1.0, self.dim_ring)
        self._write_period(canvas, keys, shown, start[shown], stop[shown], pattern, lat["modality"])


# base name -> (anti, kind)
REACH_BASES: dict[str, tuple[bool, str]] = {
    "go": (False, "go"),
    "rtgo": (False, "rt"),
    "dlygo": (False, "dly"),
    "anti": (True, "go"),
    "rtanti": (True, "rt"),
    "dlyanti": (True, "dly"),
}

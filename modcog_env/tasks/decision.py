"""DM family: dm1, dm2, ctxdm1, ctxdm2, multidm and their delay versions (TASKS.md §3.2)."""

from __future__ import annotations

import numpy as np

from .. import ring, timing
from .base import Latents, Task

COHERENCES = np.array([0.08, 0.16, 0.32, 0.64])
DELAY_STRENGTHS = np.array([0.3, 0.6, 1.0])
# the 6 ordered pairs (a, b) of distinct delay strengths
DELAY_PAIRS = np.array([(a, b) for a in DELAY_STRENGTHS for b in DELAY_STRENGTHS if a != b])
TIE_TOLERANCE = 1e-9
MAX_TIE_ROUNDS = 64


class DecisionTask(Task):
    """Choose the direction with the stronger (weighted) evidence between two stimuli.

    Yang et al. (2019) dm, contextdm, multidm and their delayed versions, in Mod-Cog form.

    Structure: ``fixation >> stimulus >> decision`` (delay kind:
    ``fixation >> stim1 >> delay >> stim2 >> decision``).

    ==========  ==============  =============================  =================  ========
    period      ch 0 fixation   ring m showing stimuli          ring without        label
    ==========  ==============  =============================  =================  ========
    fixation    1               0                              0                  0
    stimulus    1 + eps         B(th1, a_m) + B(th2, b_m) + eps  eps                0
    stim1       1 + eps         B(th1, a_m) + eps              eps                0
    delay       1               0                              0                  0
    stim2       1 + eps         B(th2, b_m) + eps              eps                0
    decision    0               0                              0                  1 + i*
    ==========  ==============  =============================  =================  ========

    Per trial: i1 ~ U{0..N-1}, i2 ~ U({0..N-1} minus {i1}); per shown modality, non-delay kind
    c_m = sign * U{0.08, 0.16, 0.32, 0.64}, a_m = 0.5 + c_m/2, b_m = 0.5 - c_m/2; delay kind
    (a_m, b_m) a uniform ordered pair of distinct values of {0.3, 0.6, 1.0}. Evidence
    E1 = sum_m w_m a_m, E2 = sum_m w_m b_m; i* = argmax. Ties are redrawn (``modcog``) or decided
    by a coin (``reference``). Noise eps ~ N(0, (sigma/sqrt(dt))^2) on all channels in stimulus
    periods.
    Timing (ms): fixation U[200, 500), stimulus 500 (stim1, delay, stim2 500 each), decision 200.

    Params: ``theta1_idx``, ``theta2_idx``, ``strength1``/``strength2``/``coherence`` ([B, 2], per
    modality, 0/0/NaN where not shown), ``evidence1``, ``evidence2``, ``chosen``, ``tie``.
    Registered ids: ``ModCog-DM1-v0`` ... ``ModCog-MultiDelayDM-v0``. Version history: v0, initial.
    """

    family = "dm"

    def __init__(self, base: str, **kwargs: object) -> None:
        if base not in DECISION_BASES:
            raise ValueError(
                f"base={base!r} is not a DM-family task; allowed: {list(DECISION_BASES)}"
            )
        self.name = self.base = base
        self.delayed, shown, weights = DECISION_BASES[base]
        self.shown = np.array(shown, dtype=bool)
        self.weights = np.array(weights, dtype=np.float64)
        self.periods = (
            ("fixation", "stim1", "delay", "stim2", "decision")
            if self.delayed
            else ("fixation", "stimulus", "decision")
        )
        super().__init__(**kwargs)

    def _default_timing(self) -> dict[str, timing.Spec]:
        spec = {"fixation": timing.Uniform(200, 500)}
        if self.delayed:
            spec.update(stim1=timing.Fixed(500), delay=timing.Fixed(500), stim2=timing.Fixed(500))
        else:
            spec["stimulus"] = timing.Fixed(500)
        spec["decision"] = timing.Fixed(200)
        return spec

    def _strengths(self, keys, what: str) -> tuple[np.ndarray, np.ndarray]:
        """(a, b) [B, 2]: strengths at theta1 and theta2 per modality; 0 where not shown."""
        if self.delayed:
            pair = DELAY_PAIRS[self._integers(keys, what, len(DELAY_PAIRS), 2)]  # [B, 2, 2]
            a, b = pair[..., 0], pair[..., 1]
        else:
            draws = self._integers(keys, what, 2 * len(COHERENCES), 2)  # [B, 2]
            coh = COHERENCES[draws % len(COHERENCES)] * np.where(
                draws >= len(COHERENCES), 1.0, -1.0
            )
            a, b = 0.5 + coh / 2, 0.5 - coh / 2
        return a * self.shown, b * self.shown

    def _draw(self, keys, occurrence: np.ndarray) -> Latents:
        n = self.dim_ring
        locs = self._integers(keys, "locations", n * (n - 1))[:, 0]
        i1 = locs // (n - 1)
        i2 = (i1 + 1 + locs % (n - 1)) % n
        a, b = self._strengths(keys, "strength")
        if not self.conv.tie_coin:
            # redraw every strength of tied trials; round r uses its own stream, so each trial's
            # result is a pure function of (seed, index)
            for r in range(1, MAX_TIE_ROUNDS + 1):
                tied = np.abs((a - b) @ self.weights) < TIE_TOLERANCE
                if not tied.any():
                    break
                a[tied], b[tied] = self._strengths(keys.take(tied), f"strength/redraw{r}")
        e1, e2 = a @ self.weights, b @ self.weights
        tie = np.abs(e1 - e2) < TIE_TOLERANCE
        first = e1 > e2
        if tie.any():
            coin = self._integers(keys, "tie", 2)[:, 0] == 0
            first = np.where(tie, coin, first)
        chosen = np.where(first, i1, i2)
        return {
            "theta1_idx": i1,
            "theta2_idx": i2,
            "strength1": a,
            "strength2": b,
            "coherence": np.where(self.shown, a - b, np.nan),
            "evidence1": e1,
            "evidence2": e2,
            "chosen": chosen,
            "tie": tie,
            "response": chosen,
            "go": np.ones(len(keys), dtype=bool),
        }

    def _render(self, canvas, lat, start, stop, keys) -> None:
        n = self.dim_ring
        b1 = ring.bump_at(lat["theta1_idx"], n)
        b2 = ring.bump_at(lat["theta2_idx"], n)
        a, b = lat["strength1"], lat["strength2"]

        def rings(bump: np.ndarray, s: np.ndarray) -> np.ndarray:
            return np.concatenate([bump * s[:, :1], bump * s[:, 1:]], axis=1)  # [B, 2N]

        if self.delayed:
            shows = [("stim1", rings(b1, a)), ("stim2", rings(b2, b))]
        else:
            shows = [("stimulus", rings(b1, a) + rings(b2, b))]
        for period, pattern in shows:
            self._write_period(
                canvas, keys, period, start[period], stop[period], pattern, noise="all"
            )


# base name -> (delayed, modalities showing stimuli, weights)
DECISION_BASES: dict[str, tuple[bool, tuple[bool, bool], tuple[float, float]]] = {
    "dm1": (False, (True, False), (1, 1)),
    "dm2": (False, (False, True), (1, 1)),
    "ctxdm1": (False, (True, True), (1, 0)),
    "ctxdm2": (False, (True, True), (0, 1)),
    "multidm": (False, (True, True), (1, 1)),
    "dlydm1": (True, (True, False), (1, 1)),
    "dlydm2": (True, (False, True), (1, 1)),
    "ctxdlydm1": (True, (True, True), (1, 0)),
    "ctxdlydm2": (True, (True, True), (0, 1)),
    "multidlydm": (True, (True, True), (1, 1)),
}

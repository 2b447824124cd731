"""Match family: dms, dnms, dmc, dnmc (TASKS.md §3.3)."""

from __future__ import annotations

import numpy as np

from .. import ring, timing
from .base import Latents, Task


class MatchTask(Task):
    """Compare a test stimulus with a remembered sample; respond on go trials, withhold otherwise.

    Yang et al. (2019) dmsgo, dmsnogo, dmcgo, dmcnogo, in Mod-Cog form.

    Structure: ``fixation >> sample >> delay >> test >> decision``.

    ==========  =============  ========================  ==========  ===========  ===========
    period      ch 0 fixation  ring of modality m        other ring  label go     label no-go
    ==========  =============  ========================  ==========  ===========  ===========
    fixation    1              0                         0           0            0
    sample      1              B(th_is, 1) + eps         0           0            0
    delay       1              0                         0           0            0
    test        1              B(th_it, 1) + eps         0           0            0
    decision    0              0                         0           1 + i_t      0
    ==========  =============  ========================  ==========  ===========  ===========

    Per trial: modality m (coin, or alternation under ``reference``), match ~ coin, sample
    i_s ~ U{0..N-1}. Match-to-sample: i_t = i_s on match, i_s + N/2 (mod N) otherwise.
    Match-to-category: c(i) = [i >= N/2] (``reference``: sample category [i_s > N/2]); the test
    index is uniform in the half of the required category. Go trials are the match trials (dms,
    dmc) or the non-match trials (dnms, dnmc). Timing (ms): fixation 300, sample 500, delay
    U[200, 1200) per trial (``reference``: once per (seed, task, modality)), test 500,
    decision 900. ``dim_ring`` must be even.

    Params: ``modality``, ``match``, ``sample_idx``, ``test_idx`` (+ ``sample_cat``, ``test_cat``
    for dmc/dnmc). Registered ids: ``ModCog-DMS-v0``, ``ModCog-DNMS-v0``, ``ModCog-DMC-v0``,
    ``ModCog-DNMC-v0`` and their Mod-Cog variants. Version history: v0, initial.
    """

    family = "match"
    periods = ("fixation", "sample", "delay", "test", "decision")

    def __init__(self, base: str, **kwargs: object) -> None:
        if base not in MATCH_BASES:
            raise ValueError(
                f"base={base!r} is not a match-family task; allowed: {list(MATCH_BASES)}"
            )
        self.name = self.base = base
        self.category, self.go_on_match = MATCH_BASES[base]
        super().__init__(**kwargs)

    def _default_timing(self) -> dict[str, timing.Spec]:
        return {
            "fixation": timing.Fixed(300),
            "sample": timing.Fixed(500),
            "delay": timing.Uniform(200, 1200),
            "test": timing.Fixed(500),
            "decision": timing.Fixed(900),
        }

    def _draw(self, keys, occurrence: np.ndarray) -> Latents:
        n, half = self.dim_ring, self.dim_ring // 2
        match = self._integers(keys, "match", 2)[:, 0] == 1
        i_s = self._integers(keys, "sample", n)[:, 0]
        lat: Latents = {"modality": self._modality(keys, occurrence), "match": match}
        if self.category:
            c_s = (i_s > half) if self.conv.dmc_sample_gt_half else (i_s >= half)
            c_t = np.where(match, c_s, ~c_s)
            i_t = c_t * half + self._integers(keys, "test", half)[:, 0]
            lat.update(sample_cat=c_s.astype(np.int64), test_cat=c_t.astype(np.int64))
        else:
            i_t = np.where(match, i_s, (i_s + half) % n)
        lat.update(
            sample_idx=i_s,
            test_idx=i_t,
            response=i_t,
            go=match if self.go_on_match else ~match,
        )
        return lat

    def _render(self, canvas, lat, start, stop, keys) -> None:
        n = self.dim_ring
        m = lat["modality"]
        for period, key in (("sample", "sample_idx"), ("test", "test_idx")):
            pattern = ring.bump_at(lat[key], n)
            self._write_period(
                canvas, keys, period, start[period], stop[period], pattern, m, noise="ring"
            )


# base name -> (category rule, go on match)
MATCH_BASES: dict[str, tuple[bool, bool]] = {
    "dms": (False, True),
    "dnms": (False, False),
    "dmc": (True, True),
    "dnmc": (True, False),
}

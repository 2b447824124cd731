"""The 20 tasks as Yang et al. (2019) generate them (gyyang/multitask ``task.py``), vectorized.

Under ``convention="yang2019"`` a task has 32 units per ring (default), continuous stimulus
locations, 85 inputs (fixation, two rings, 20 rule units that are always present), input noise
N(0, (0.01 * sqrt(2 tau / dt))**2) with tau = 100 ms on every input channel and step, and three
extra per-step arrays (TASKS.md §2.4; docs/conventions.md, section ``yang2019``):

==========  ===================  ================================================================
array       dtype, shape         meaning
==========  ===================  ================================================================
``y``       float32 [B, T, 1+N]  regression target: 0.05 baseline, fixation output 0.8 while the
                                 network must fixate, 0.05 + 0.8 exp(-d**2/2), d = circular
                                 distance / (pi/8), on the ring after the go cue of go trials
``y_loc``   float32 [B, T]       response angle in [0, 2 pi) after the go cue, -1 while fixating
``c_mask``  float32 [B, T, 1+N]  cost mask: 0 for the first 100 ms, 1 until the go cue, 0 for
                                 100 ms after it, 5 afterwards; channel 0 (fixation) x 2
==========  ===================  ================================================================

All three are 0 (``y_loc`` -1) on padding. The class label is 0 while fixating and
1 + (ring unit nearest to ``y_loc``) after the go cue of go trials, so the env and the
cross-entropy trainers work unchanged.

Yang's code draws the timing (and, for go and match tasks, the modality) once per batch, so every
trial of a batch shares it; here it is drawn per trial from the trial's own counter-based stream,
so a trial is a pure function of (seed, index). The per-trial distribution is the same. Yang's
multidm/multidelaydm draw the split between modalities from numpy's global generator; here it
comes from the trial's stream like every other draw.
"""

from __future__ import annotations

import math

import numpy as np

from .. import ring, rng, timing
from ..trials import TrialBatch
from .base import Latents, Task, as_indices, period_steps

# Yang's rule names in the order of his ruleset 'all' (= the rule-unit order), and our bases
YANG_RULES: tuple[str, ...] = (
    "fdgo", "reactgo", "delaygo", "fdanti", "reactanti", "delayanti",
    "dm1", "dm2", "contextdm1", "contextdm2", "multidm",
    "delaydm1", "delaydm2", "contextdelaydm1", "contextdelaydm2", "multidelaydm",
    "dmsgo", "dmsnogo", "dmcgo", "dmcnogo",
)  # fmt: skip
YANG_BASES: tuple[str, ...] = (
    "go", "rtgo", "dlygo", "anti", "rtanti", "dlyanti",
    "dm1", "dm2", "ctxdm1", "ctxdm2", "multidm",
    "dlydm1", "dlydm2", "ctxdlydm1", "ctxdlydm2", "multidlydm",
    "dms", "dnms", "dmc", "dnmc",
)  # fmt: skip
YANG_ALIASES: dict[str, str] = dict(zip(YANG_RULES, YANG_BASES, strict=True))
N_RULES = len(YANG_RULES)
DIM_RING = 32
DT = 20.0
TAU = 100.0  # ms, the network time constant that sets alpha = dt / tau in the input noise
SIGMA_X = 0.01
Y_BASELINE, Y_FIXATE = 0.05, 0.8
GRACE_MS = 100.0  # no cost in the first 100 ms and in the 100 ms after the go cue
RESPONSE_COST = 5.0
FIXATION_COST_FACTOR = 2.0
DM_COHERENCES = (0.01, 0.02, 0.04, 0.08)
DELAY_DM_COHERENCES = (0.08, 0.16, 0.32)
NOISE_CHUNK = 16  # trials per call of the noise generator (speed only, never values)
DMC_LOCATIONS = np.array([0.1, 0.3, 0.5, 0.7, 0.9, 1.1, 1.3, 1.5, 1.7, 1.9]) * np.pi

U, C, F = timing.Uniform, timing.Choice, timing.Fixed
# kind -> period name -> Yang's duration (ms); every period is floored to dt separately
TIMINGS: dict[str, dict[str, timing.Spec]] = {
    "fd": {"fixation": U(300, 700), "stimulus": U(500, 1500), "decision": F(500)},
    "rt": {"fixation": U(500, 2500), "decision": F(500)},
    "dly": {
        "fixation": C((300, 500, 700)),
        "stimulus": C((200, 400, 600)),
        "delay": C((200, 400, 800, 1600)),
        "decision": F(500),
    },
    "dm": {"fixation": U(100, 400), "stimulus": C((400, 800, 1600)), "decision": F(500)},
    "dlydm": {
        "fixation": C((200, 400, 600)),
        "stim1": C((200, 400, 600)),
        "delay": C((200, 400, 800, 1600)),
        "stim2": C((200, 400, 600)),
        "delay2": U(100, 300),
        "decision": F(500),
    },
    "dms": {
        "fixation": C((200, 400, 600)),
        "sample": C((200, 400, 600)),
        "delay": C((200, 400, 800, 1600)),
        "decision": F(500),
    },
    "dmc": {
        "fixation": C((200, 400, 600)),
        "sample": C((200, 400, 600)),
        "delay": C((200, 400, 800, 1600)),
        "decision": C((200, 400, 600)),
    },
}
# base -> (family, kind, detail); detail: anti (go), (shown, weights) (dm), go-on-match (match)
_SPEC: dict[str, tuple[str, str, object]] = {
    "go": ("go", "fd", False),
    "rtgo": ("go", "rt", False),
    "dlygo": ("go", "dly", False),
    "anti": ("go", "fd", True),
    "rtanti": ("go", "rt", True),
    "dlyanti": ("go", "dly", True),
    "dm1": ("dm", "dm", ("1", (1, 1))),
    "dm2": ("dm", "dm", ("2", (1, 1))),
    "ctxdm1": ("dm", "dm", ("ctx", (1, 0))),
    "ctxdm2": ("dm", "dm", ("ctx", (0, 1))),
    "multidm": ("dm", "dm", ("multi", (1, 1))),
    "dlydm1": ("dm", "dlydm", ("1", (1, 1))),
    "dlydm2": ("dm", "dlydm", ("2", (1, 1))),
    "ctxdlydm1": ("dm", "dlydm", ("ctx", (1, 0))),
    "ctxdlydm2": ("dm", "dlydm", ("ctx", (0, 1))),
    "multidlydm": ("dm", "dlydm", ("multi", (1, 1))),
    "dms": ("match", "dms", True),
    "dnms": ("match", "dms", False),
    "dmc": ("match", "dmc", True),
    "dnmc": ("match", "dmc", False),
}


def yang_noise_std(dt: float, sigma: float = 1.0) -> float:
    """Input noise std of Yang's code, sigma_x * sqrt(2 / alpha), alpha = dt / tau (0.0316 at
    dt 20); ``sigma`` scales it (0 switches the noise off)."""
    return sigma * SIGMA_X * math.sqrt(2.0 * TAU / dt)


class Yang2019Task(Task):
    """One of the 20 tasks exactly as gyyang/multitask ``task.py`` generates them (mode 'random').

    Structures (period names here; Yang's epochs in brackets): go family
    ``fixation >> stimulus >> decision`` (fd*), ``fixation >> decision`` (react*),
    ``fixation >> stimulus >> delay >> decision`` (delay*); dm ``fixation >> stimulus >>
    decision``; delayed dm ``fixation >> stim1 >> delay >> stim2 >> delay2 >> decision``; match
    ``fixation >> sample >> delay >> decision`` (the test stimulus is shown from the go cue on).
    ``decision`` is Yang's go1 epoch: it starts at the go cue (fixation off, or the test stimulus
    in the match family). Channel layout: 0 fixation, 1..N ring 1, N+1..2N ring 2, 2N+1..2N+20
    the rule units in Yang's order (:data:`YANG_RULES`). Periods, strengths, targets and masks of
    every task are tabulated in docs/conventions.md (``yang2019``).

    Params: ``stim1_loc``, ``stim2_loc`` (rad; NaN where absent), ``modality1``/``modality2``
    (go, match), ``strength1``/``strength2`` [B, 2] per ring (dm), ``match`` (match),
    ``response_angle`` (rad, NaN on no-go), plus ``go``, ``response`` (nearest ring unit).
    Modifiers (``int``, ``seq``) are not defined under this convention.
    """

    renders_on_canvas = False  # builds ob, y and c_mask itself in sample()

    def __init__(self, base: str, **kwargs: object) -> None:
        if base not in _SPEC:
            raise ValueError(f"base={base!r} is not one of Yang's 20 tasks; allowed: {YANG_BASES}")
        self.name = self.base = base
        self.family, self.kind, self.detail = _SPEC[base]
        self.rule_index = YANG_BASES.index(base)
        self.periods = tuple(TIMINGS[self.kind])
        super().__init__(**kwargs)
        if self.conv.name != "yang2019":
            raise ValueError(
                f"convention={self.conv.name!r}: Yang2019Task needs convention='yang2019'"
            )

    # ----------------------------------------------------------------------------- configuration
    @property
    def ob_size(self) -> int:
        """Observation channels: fixation + two rings + 20 rule units, 1 + 2N + 20 (85 at N 32)."""
        return 1 + 2 * self.dim_ring + N_RULES

    @property
    def noise_std(self) -> float:
        return yang_noise_std(self.dt, self.sigma)

    def _default_timing(self) -> dict[str, timing.Spec]:
        return dict(TIMINGS[self.kind])

    # ----------------------------------------------------------------------------- latents
    def _loc(self, keys, what: str) -> np.ndarray:
        return ring.TWO_PI * self._uniform(keys, what)[:, 0]

    def _sign(self, keys, what: str) -> np.ndarray:
        return np.where(self._integers(keys, what, 2)[:, 0] == 1, 1.0, -1.0)

    def _genstim(self, keys, what: str, cohs: tuple[float, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Yang's contextdm_genstim: mean U(0.8, 1.2) +- coherence (uniform over ``cohs``)."""
        mean = 0.8 + 0.4 * self._uniform(keys, f"{what}/mean")[:, 0]
        coh = np.asarray(cohs)[self._integers(keys, f"{what}/coh", len(cohs))[:, 0]]
        sign = self._sign(keys, f"{what}/sign")
        return mean + coh * sign, mean - coh * sign

    def _draw(self, keys, occurrence: np.ndarray) -> Latents:
        b = len(keys)
        lat: Latents = {}
        if self.family == "go":
            loc = self._loc(keys, "stim_loc")
            lat.update(stim1_loc=loc, modality1=1 + self._integers(keys, "modality", 2)[:, 0])
        elif self.family == "dm":
            shown, _ = self.detail
            dist = (0.5 + self._uniform(keys, "stim_dist")[:, 0]) * np.pi
            dist *= self._sign(keys, "stim_dist_sign")
            loc1 = self._loc(keys, "stim1_loc")
            loc2 = (loc1 + dist) % ring.TWO_PI
            cohs = DM_COHERENCES if self.kind == "dm" else DELAY_DM_COHERENCES
            a, s = np.zeros((b, 2)), np.zeros((b, 2))
            if shown in ("1", "2"):
                m = int(shown) - 1
                a[:, m], s[:, m] = self._genstim(keys, "strength", cohs)
            elif shown == "ctx":
                a[:, 0], s[:, 0] = self._genstim(keys, "strength/mod1", cohs)
                a[:, 1], s[:, 1] = self._genstim(keys, "strength/mod2", cohs)
            else:  # multi: one pair, split between the modalities by a factor U(0.2, 0.8) * +-1
                s1, s2 = self._genstim(keys, "strength", cohs)
                for col, (total, what) in enumerate(((s1, "split1"), (s2, "split2"))):
                    u = 0.2 + 0.6 * self._uniform(keys, what)[:, 0]
                    diff = total * u * self._sign(keys, f"{what}/sign")
                    (a if col == 0 else s)[:, 0] = total + diff / 2
                    (a if col == 0 else s)[:, 1] = total - diff / 2
            lat.update(stim1_loc=loc1, stim2_loc=loc2, strength1=a, strength2=s)
        else:
            mod1 = 1 + self._integers(keys, "modality1", 2)[:, 0]
            mod2 = 1 + self._integers(keys, "modality2", 2)[:, 0]
            if self.kind == "dms":
                match = self._integers(keys, "match", 2)[:, 0] == 1
                dist = np.pi / 9 + (16 * np.pi / 9) * self._uniform(keys, "stim_dist")[:, 0]
                dist *= self._sign(keys, "stim_dist_sign")
                loc1 = self._loc(keys, "stim1_loc")
                loc2 = (loc1 + dist * ~match) % ring.TWO_PI
            else:
                idx = self._integers(keys, "stim_locs", len(DMC_LOCATIONS), 2)
                loc1, loc2 = DMC_LOCATIONS[idx[:, 0]], DMC_LOCATIONS[idx[:, 1]]
                match = (loc1 < np.pi) == (loc2 < np.pi)
            lat.update(stim1_loc=loc1, stim2_loc=loc2, modality1=mod1, modality2=mod2, match=match)
        return self.resolve(lat)

    def resolve(self, lat: Latents) -> Latents:
        """Add the outcome of a trial to its stimulus latents: ``go``, ``response_angle`` (NaN
        on no-go) and ``response`` (nearest ring unit), as Yang's generators decide them.

        go: response at the stimulus (+ pi for anti); dm: at the stimulus with the larger
        (attended or summed) strength; match: at the test stimulus when ``match`` (dms, dmc) or
        not ``match`` (dnms, dnmc).
        """
        lat = dict(lat)
        b = len(lat["stim1_loc"])
        if self.family == "go":
            lat["go"] = np.ones(b, dtype=bool)
            lat["response_angle"] = (lat["stim1_loc"] + np.pi * self.detail) % ring.TWO_PI
        elif self.family == "dm":
            w = np.asarray(self.detail[1], dtype=np.float64)
            first = lat["strength1"] @ w > lat["strength2"] @ w
            lat["go"] = np.ones(b, dtype=bool)
            lat["response_angle"] = np.where(first, lat["stim1_loc"], lat["stim2_loc"])
        else:
            match = np.asarray(lat["match"], dtype=bool)
            lat["match"] = match
            lat["go"] = match if self.detail else ~match
            lat["response_angle"] = np.where(lat["go"], lat["stim2_loc"], np.nan)
        angle = np.nan_to_num(lat["response_angle"], nan=0.0)
        n = self.dim_ring
        lat["response"] = np.rint(angle * (n / ring.TWO_PI)).astype(np.int64) % n
        return lat

    # ----------------------------------------------------------------------------- inputs
    def _stimulus(
        self, ob: np.ndarray, loc: np.ndarray, amp: np.ndarray, start: np.ndarray, stop: np.ndarray
    ) -> None:
        """Add ring bumps 0.8 * amp[:, r] * exp(-d**2/2) at ``loc`` on steps [start, stop).

        ``amp`` is float [B, 2], the strength on ring 1 and ring 2 (0 where not shown).
        """
        rows, cols, _ = period_steps(start, stop)
        if not rows.size:
            return
        n = self.dim_ring
        bump = ring.bump(loc, 1.0, n)
        pattern = np.concatenate([bump * amp[:, :1], bump * amp[:, 1:]], axis=1)
        ob[rows, cols, 1 : 1 + 2 * n] += pattern[rows].astype(np.float32)

    def _render(self, ob, lat, start, stop, keys) -> None:
        b, t_max, d = ob.shape
        n = self.dim_ring
        length = stop["decision"]
        go_on = start["decision"]
        t = np.arange(t_max)[None, :]
        valid = t < length[:, None]
        # fixation input: until the go cue, or the whole trial (react and match tasks)
        fix_off = length if self.kind == "rt" or self.family == "match" else go_on
        ob[:, :, 0] = t < fix_off[:, None]
        ob[:, :, 1 + 2 * n + self.rule_index] = valid

        def mods(m: np.ndarray) -> np.ndarray:
            return np.stack([m == 1, m == 2], axis=1).astype(np.float64)

        if self.family == "go":
            on = {"fd": "stimulus", "rt": "decision", "dly": "stimulus"}[self.kind]
            off = length if self.kind != "dly" else stop["stimulus"]
            self._stimulus(ob, lat["stim1_loc"], mods(lat["modality1"]), start[on], off)
        elif self.family == "dm":
            if self.kind == "dm":
                windows = [(start["stimulus"], stop["stimulus"])] * 2
            else:
                windows = [(start["stim1"], stop["stim1"]), (start["stim2"], stop["stim2"])]
            for loc, amp, (on, off) in zip(
                (lat["stim1_loc"], lat["stim2_loc"]),
                (lat["strength1"], lat["strength2"]),
                windows,
                strict=True,
            ):
                self._stimulus(ob, loc, amp, on, off)
        else:
            self._stimulus(
                ob, lat["stim1_loc"], mods(lat["modality1"]), start["sample"], stop["sample"]
            )
            self._stimulus(ob, lat["stim2_loc"], mods(lat["modality2"]), go_on, length)
        if self.sigma > 0:
            # draw (t * D + c) of each trial's noise stream; rows in small chunks, which keeps the
            # generator's temporaries in cache (about 5x faster than one call for 2000 trials)
            std, name = np.float32(self.noise_std), self._stream("noise")
            for lo in range(0, b, NOISE_CHUNK):
                hi = min(lo + NOISE_CHUNK, b)
                z = keys.take(slice(lo, hi)).normal(name, t_max * d).reshape(hi - lo, t_max, d)
                z *= valid[lo:hi, :, None] * std
                ob[lo:hi] += z

    # ----------------------------------------------------------------------------- targets
    def targets(
        self, lat: Latents, go_on: np.ndarray, length: np.ndarray, t_max: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(y float32 [B, T, 1+N], y_loc float32 [B, T], c_mask float32 [B, T, 1+N]) of Yang's
        lsq loss, from the go-cue step ``go_on`` [B] and ``length`` [B]; 0 (y_loc -1) on padding."""
        n = self.dim_ring
        t = np.arange(t_max)[None, :]
        valid = t < length[:, None]
        after = (t >= go_on[:, None]) & valid
        go = lat["go"][:, None]
        respond = after & go
        y = np.empty((length.size, t_max, 1 + n), np.float32)
        angle = np.nan_to_num(lat["response_angle"], nan=0.0)
        bump = ring.bump(angle, 1.0, n).astype(np.float32)  # [B, N]
        np.multiply(respond[:, :, None], bump[:, None, :], out=y[:, :, 1:])
        y[:, :, 1:] += (valid * np.float32(Y_BASELINE))[:, :, None]
        y[:, :, 0] = np.where(respond, Y_BASELINE, np.where(valid, Y_FIXATE, 0.0))
        y_loc = np.where(respond, angle[:, None], -1.0).astype(np.float32)
        grace = int(math.floor(GRACE_MS / self.dt + 1e-9))  # Yang: int(100 / dt)
        w = np.where(t < go_on[:, None], 1.0, 0.0)
        w = np.where(t >= (go_on + grace)[:, None], RESPONSE_COST, w)
        w = np.where((t < grace) | ~valid, 0.0, w).astype(np.float32)
        c_mask = np.repeat(w[:, :, None], 1 + n, axis=2)
        c_mask[:, :, 0] *= FIXATION_COST_FACTOR
        return y, y_loc, c_mask

    def sample(self, seed, indices, occurrence=None) -> TrialBatch:
        """Trials ``indices`` of stream ``seed`` (Yang's mode 'random'), with ``y``, ``y_loc``
        and ``c_mask``; ``occurrence`` is accepted for the Task protocol and not used."""
        idx = as_indices(indices)
        keys = rng.Keys(seed, idx)
        lat = self._draw(keys, idx)
        return self.assemble(keys, lat, self._durations(keys, lat))

    def assemble(self, keys: rng.Keys, lat: Latents, steps: dict[str, np.ndarray]) -> TrialBatch:
        """A TrialBatch from latents and per-period step counts [B] (noise from ``keys``)."""
        plan = self.plan_from(keys, lat, steps)
        start, length = plan.start, plan.length
        t_max = int(length.max()) if length.size else 0
        ob = np.zeros((length.size, t_max, self.ob_size), dtype=np.float32)
        self._render(ob, lat, start, plan.stop, keys)
        label, decision = self._labels(lat, start["decision"], length, t_max)
        y, y_loc, c_mask = self.targets(lat, start["decision"], length, t_max)
        return self.trial_batch(plan, ob, label, decision, y=y, y_loc=y_loc, c_mask=c_mask)

    def test_trials(self, seed: int = 0) -> TrialBatch:
        """Yang's mode 'test': his fixed condition grid of this task (e.g. 20 locations x 2
        modalities), one trial per condition, noise from ``seed``; see
        :mod:`modcog_env.tasks.yang2019_modes`."""
        from .yang2019_modes import test_conditions

        lat, steps = test_conditions(self)
        return self.assemble(_mode_keys(seed, "test", lat), lat, steps)

    def psychometric_trials(self, params: dict[str, object], seed: int = 0) -> TrialBatch:
        """Yang's mode 'psychometric': trials with the given stimulus parameters (Yang's names,
        e.g. ``stim1_locs``, ``stim1_strengths``, ``stim_time`` in ms), noise from ``seed``."""
        from .yang2019_modes import psychometric_conditions

        lat, steps = psychometric_conditions(self, params)
        return self.assemble(_mode_keys(seed, "psychometric", lat), lat, steps)


def _mode_keys(seed: int, mode: str, lat: Latents) -> rng.Keys:
    """Keys of trials 0..B-1 of a stream derived from (seed, mode): test and psychometric noise
    never repeats the random trials' noise."""
    b = len(lat["go"])
    return rng.Keys(rng.derive_seed(rng.normalize_seed(seed), f"yang2019/{mode}"), np.arange(b))

"""Compiled painter of stream blocks: every new step of a refill in one pass (numba).

The stream cutter of :mod:`modcog_env.batches` plans a refill's trials in numpy; the tasks then
record each rendered period as a *segment* (one trial, one period: its channel row and its noise
stream) instead of writing it (:class:`~modcog_env.tasks.base.Canvas` with ``segments``; the
periods of a trial are disjoint). This kernel walks the block in memory order (position, then
row) and writes each step once: its label, decision flag, loss weight, task and trial-start flag,
and its observation row, which is the row of the segment holding the step plus that segment's
noise draws, or else the blank row (fixation input before the decision period, zeros), with the
rule one-hot on top. The result equals the numpy painter element for element
(``tests/test_batches.py``): the same labels (:func:`~modcog_env.tasks.base.step_labels`), the
same noise words (SplitMix64 of the trial's noise stream state plus a Weyl step per 64-bit word,
four 16-bit quarters per word, as :meth:`~modcog_env.rng.Keys.normal`) and the same float32 sums.

numba is imported, and the kernel compiled (a few seconds the first time; later processes load
it from numba's cache), on the first call of :func:`available`; without numba, with
``MODCOG_ENV_COMPILED=0``, or if the kernel does not compile, the cutter uses its numpy painter.
"""

from __future__ import annotations

import os
import warnings
from functools import lru_cache

import numpy as np

WEIGHTS_ALL, WEIGHTS_DECISION, WEIGHTS_YANG = 0, 1, 2
WEIGHT_MODES = {"all": WEIGHTS_ALL, "decision": WEIGHTS_DECISION, "yang": WEIGHTS_YANG}


@lru_cache(maxsize=1)
def _kernel():
    """The jitted painter (compiled on first use, cached on disk by numba)."""
    import numba

    golden = np.uint64(0x9E3779B97F4A7C15)
    m1, m2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
    s30, s27, s31 = np.uint64(30), np.uint64(27), np.uint64(31)
    s16, s32, s48, low16 = np.uint64(16), np.uint64(32), np.uint64(48), np.uint64(0xFFFF)
    eps = 1e-9

    i64, f32 = numba.int64[::1], numba.float32[::1]
    signature = numba.void(
        numba.float32[:, ::1], i64, numba.boolean[::1], f32, i64, numba.boolean[::1],  # block
        numba.int64, i64, i64, i64,  # rows, avail, extent, trial_rows
        i64, i64, i64, i64, numba.boolean[::1], i64, i64,  # offset .. task
        numba.int64, numba.float64, numba.boolean, numba.int64, numba.int64,  # .. grace
        numba.float64, numba.int64, numba.boolean,  # response_weight, base, rule
        i64, i64, i64, numba.float32[:, ::1], numba.uint64[::1], i64, i64, i64,  # segments
        numba.float32[:, ::1],  # tables
    )

    # compiled when _kernel is first called (one signature, so a failure shows up there), and
    # cached on disk by numba
    @numba.njit(signature, nogil=True, cache=True)
    def paint(ob, label, decision, weight, task_f, trial_start, rows, avail, extent, trial_rows,
              offset, length, dec, response, go, seq, task, dim_ring, dt, wrap, weights, grace,
              response_weight, base, rule, seg_trial, seg_start, seg_stop, seg_row, seg_state,
              seg_width, seg_offset, seg_table, tables):
        d, n_trials, n_segs = ob.shape[1], offset.size, seg_trial.size
        flat_tables = tables.reshape(-1)
        # each trial's segments by start: seg_order[seg_first[m] : seg_first[m + 1]]
        seg_first = np.zeros(n_trials + 1, np.int64)
        most = 0
        for k in range(n_segs):
            seg_first[seg_trial[k] + 1] += 1
            most = max(most, seg_width[k])
        for m in range(n_trials):
            seg_first[m + 1] += seg_first[m]
        fill = seg_first[:-1].copy()
        seg_order = np.empty(n_segs, np.int64)
        for k in range(n_segs):
            m = seg_trial[k]
            i = fill[m]
            fill[m] += 1
            while i > seg_first[m] and seg_start[seg_order[i - 1]] > seg_start[k]:
                seg_order[i] = seg_order[i - 1]  # insertion sort (a trial has a few segments)
                i -= 1
            seg_order[i] = k
        buf = np.empty(most + 8, np.float32)  # the noise draws of one step
        cur = np.zeros(rows, np.int64)  # per row: its trial at the current position
        nxt = np.zeros(rows, np.int64)  # and that trial's first segment not yet ended
        lo, hi = extent.max(), 0
        m = 0
        for r in range(rows):  # trials are sorted by row: the first one of each row
            lo, hi = min(lo, avail[r]), max(hi, extent[r])
            while m < n_trials and trial_rows[m] < r:
                m += 1
            cur[r], nxt[r] = m, seg_first[min(m, n_trials)]
        # per row: the current run (steps sharing a trial and a segment or its absence) ends
        # before position run_end[r]; run_k[r] its segment (-1: none)
        run_end = avail.copy()
        run_k = np.full(rows, -1, np.int64)
        for pos in range(lo, hi):  # block order: position, then row (sequential writes)
            for r in range(rows):
                if pos < avail[r] or pos >= extent[r]:
                    continue
                m = cur[r]
                if pos >= run_end[r]:  # a new run: find its trial and segment
                    while pos >= offset[m] + length[m]:
                        m += 1
                        nxt[r] = seg_first[m]
                    cur[r] = m
                    t = pos - offset[m]
                    i = nxt[r]
                    while i < seg_first[m + 1] and seg_stop[seg_order[i]] <= t:
                        i += 1
                    nxt[r] = i
                    k = -1
                    stop = length[m]
                    if i < seg_first[m + 1]:
                        if seg_start[seg_order[i]] <= t:
                            k = seg_order[i]
                            stop = seg_stop[k]
                        else:
                            stop = seg_start[seg_order[i]]
                    run_k[r], run_end[r] = k, offset[m] + stop
                o = offset[m]
                k = run_k[r]
                t = pos - o
                it = pos * rows + r
                dm, tk = dec[m], task[m]
                after = t >= dm
                lab = 0
                if after and go[m]:
                    resp = response[m]
                    if seq[m] != 0:
                        resp += seq[m] * np.int64(np.floor(max(t - dm, 0) * dt / 100.0 + eps))
                    lab = (resp + 1) % dim_ring if wrap else 1 + resp % dim_ring
                label[it] = lab
                decision[it] = after
                if weights == 0:
                    weight[it] = 1.0
                elif weights == 1:
                    weight[it] = 1.0 if after else 0.0
                else:
                    yw = response_weight if after else 1.0
                    if t < grace or (after and t < dm + grace):
                        yw = 0.0
                    weight[it] = yw
                task_f[it] = tk
                trial_start[it] = t == 0
                if k < 0:  # no period shown: the fixation input before the decision period
                    ob[it, 0] = 0.0 if after else 1.0
                    for c in range(1, d):
                        ob[it, c] = 0.0
                else:
                    width = seg_width[k]
                    if width:  # noise draws j0 ..: draw j is quarter j % 4 of word j // 4
                        j0 = (t - seg_start[k]) * width
                        w0 = j0 >> 2
                        x = seg_state[k] + np.uint64(w0) * golden
                        tab = seg_table[k] << 16
                        for at in range(0, 4 * (((j0 + width - 1) >> 2) + 1 - w0), 4):
                            x += golden  # word w0 + at // 4 of the stream: a Weyl step
                            z = x ^ (x >> s30)
                            z *= m1
                            z ^= z >> s27
                            z *= m2
                            z ^= z >> s31
                            buf[at] = flat_tables[tab + np.int64(z & low16)]
                            buf[at + 1] = flat_tables[tab + np.int64((z >> s16) & low16)]
                            buf[at + 2] = flat_tables[tab + np.int64((z >> s32) & low16)]
                            buf[at + 3] = flat_tables[tab + np.int64(z >> s48)]
                        lead, off = j0 & 3, seg_offset[k]
                        if off == 0 and width == base:  # noise on every channel
                            for c in range(base):
                                ob[it, c] = seg_row[k, c] + buf[lead + c]
                        else:
                            for c in range(base):
                                ob[it, c] = seg_row[k, c]
                            for c in range(width):
                                ob[it, off + c] += buf[lead + c]
                    else:
                        for c in range(base):
                            ob[it, c] = seg_row[k, c]
                    for c in range(base, d):
                        ob[it, c] = 0.0
                if rule:
                    ob[it, base + tk] = 1.0

    return paint


def available() -> bool:
    """True when the compiled painter can be used: not switched off by the environment variable
    ``MODCOG_ENV_COMPILED=0``, numba importable, and the kernel compiled (or loaded from numba's
    cache). A kernel that fails to compile warns once and leaves the numpy painter in use."""
    if os.environ.get("MODCOG_ENV_COMPILED", "1") == "0":
        return False
    return _compiles()


@lru_cache(maxsize=1)
def _compiles() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    try:
        _kernel()
    except Exception as err:  # a numba or LLVM failure: the numpy painter gives the same batches
        warnings.warn(f"modcog_env: the compiled stream painter did not compile ({err!r}); "
                      "Batches uses the numpy painter (same batches, slower)", stacklevel=3)
        return False
    return True


def paint(block: dict[str, np.ndarray], rows: np.ndarray, offset: np.ndarray,
          avail: np.ndarray, extent: np.ndarray, trials: dict[str, np.ndarray], *,
          dim_ring: int, dt: float, wrap: bool, weights: int, grace: int,
          response_weight: float, base: int, rule: bool, segments: dict[str, np.ndarray],
          tables: np.ndarray) -> None:
    """Write every step of the flat trials into the time-major ``block`` (arrays [capacity, B,
    ...]: ``ob`` float32 [.., D], ``label``, ``decision``, ``weight``, ``task``,
    ``trial_start``), in memory order.

    Flat trial m (stream ``rows[m]``, sorted) starts at block position ``offset[m]``; row r gets
    positions [``avail[r]``, ``extent[r]``). ``trials`` holds int64 [M] ``length``, ``dec``
    (decision start), ``response``, ``seq`` (sign), ``task`` and bool ``go``. ``segments`` (one
    per rendered period of one trial, S in all): ``trial``, ``start``, ``stop`` (int64 [S]),
    ``row`` float32 [S, base], ``state`` uint64 [S] noise stream states, ``width`` (0: no
    noise), ``offset`` (first noisy channel), ``table`` (row of ``tables``, float32 [K, 65536]
    scaled :func:`~modcog_env.rng.normal_table` s).
    """
    ob = block["ob"]
    _kernel()(ob.reshape(-1, ob.shape[2]), block["label"].reshape(-1),
              block["decision"].reshape(-1), block["weight"].reshape(-1),
              block["task"].reshape(-1), block["trial_start"].reshape(-1), extent.size,
              avail, extent, rows, offset,
              trials["length"], trials["dec"], trials["response"], trials["go"], trials["seq"],
              trials["task"], dim_ring, float(dt), wrap, weights, grace, float(response_weight),
              base, rule, segments["trial"], segments["start"], segments["stop"],
              segments["row"], segments["state"], segments["width"], segments["offset"],
              segments["table"], tables)

"""The numba code of :mod:`modcog_env.stream_kernel` (see there), imported on the first use of
the compiled painter: importing it compiles the one-thread painter for its one signature (or loads
it from numba's cache in ``__pycache__``); the threaded one is compiled by :func:`compile_parallel`
when first asked for. Module-level functions and constants, so that numba's cache can key them."""

import numba
import numpy as np

from . import stream_kernel
from .stream_kernel import WEIGHTS_ALL, WEIGHTS_DECISION

GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64: the Weyl step and the two multipliers
M1, M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)
S30, S27, S31 = np.uint64(30), np.uint64(27), np.uint64(31)
S16, S32, S48, LOW16 = np.uint64(16), np.uint64(32), np.uint64(48), np.uint64(0xFFFF)
EPS = 1e-9

_i64, _f32 = numba.int64[::1], numba.float32[::1]
FIELDS = len(stream_kernel.FIELDS)  # block arrays carried by the kernel
_CARRY = numba.types.UniTuple(numba.uint8[::1], FIELDS)  # each field's bytes, as one array
# the painters' one signature (paint_serial is compiled for it at import)
SIGNATURE = numba.void(
    numba.float32[:, ::1], _i64, numba.boolean[::1], _f32, _i64, numba.boolean[::1],  # block
    numba.int64, _i64, _i64, _i64,  # rows, avail, extent, trial_rows
    _i64, _i64, _i64, _i64, numba.boolean[::1], _i64, _i64,  # offset .. task
    numba.int64, numba.float64, numba.boolean, numba.int64, numba.int64,  # .. grace
    numba.float64, numba.int64, numba.boolean,  # response_weight, base, rule
    _i64, _i64, _i64, numba.float32[:, ::1], numba.uint64[::1], _i64, _i64, _i64,  # segments
    numba.float32[:, ::1], _CARRY, _CARRY, numba.int64,  # tables, carry_to, carry_from, parts
)


@numba.njit(nogil=True, cache=True)
def carry(to, source):
    """Copy each field's unread steps into the new block: ``to[f][:] = source[f]``."""
    for f in range(FIELDS):
        dst, src = to[f], source[f]
        for i in range(src.size):
            dst[i] = src[i]


@numba.njit(nogil=True, cache=True)
def segment_index(rows, trial_rows, offset, seg_trial, seg_start, seg_width):
    """(seg_first, seg_order, widest segment, per row its first trial and segment): each
    trial's segments by start are seg_order[seg_first[m] : seg_first[m + 1]]."""
    n_trials, n_segs = offset.size, seg_trial.size
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
    cur = np.zeros(rows, np.int64)  # per row: its trial at the current position
    nxt = np.zeros(rows, np.int64)  # and that trial's first segment not yet ended
    m = 0
    for r in range(rows):  # trials are sorted by row: the first one of each row
        while m < n_trials and trial_rows[m] < r:
            m += 1
        cur[r], nxt[r] = m, seg_first[min(m, n_trials)]
    return seg_first, seg_order, most, cur, nxt


@numba.njit(nogil=True, cache=True)
def paint_rows(r0, r1, ob, label, decision, weight, task_f, trial_start, rows, avail,
               extent, offset, length, dec, response, go, seq, task, dim_ring, dt, wrap,
               weights, grace, response_weight, base, rule, seg_start, seg_stop, seg_row,
               seg_state, seg_width, seg_offset, seg_table, flat_tables, seg_first,
               seg_order, most, cur, nxt):
    """Every new step of rows [r0, r1), in memory order (writes nothing of other rows)."""
    d = ob.shape[1]
    buf = np.empty(most + 8, np.float32)  # the noise draws of one step
    lo, hi = extent.max(), 0
    for r in range(r0, r1):
        lo, hi = min(lo, avail[r]), max(hi, extent[r])
    # per row: the current run (steps sharing a trial and a segment or its absence) ends
    # before position run_end[r]; run_k[r] its segment (-1: none)
    run_end = avail.copy()
    run_k = np.full(rows, -1, np.int64)
    for pos in range(lo, hi):  # block order: position, then row (sequential writes)
        for r in range(r0, r1):
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
                    resp += seq[m] * np.int64(np.floor(max(t - dm, 0) * dt / 100.0 + EPS))
                lab = (resp + 1) % dim_ring if wrap else 1 + resp % dim_ring
            label[it] = lab
            decision[it] = after
            if weights == WEIGHTS_ALL:
                weight[it] = 1.0
            elif weights == WEIGHTS_DECISION:
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
                    x = seg_state[k] + np.uint64(w0) * GOLDEN
                    tab = seg_table[k] << 16
                    for at in range(0, 4 * (((j0 + width - 1) >> 2) + 1 - w0), 4):
                        x += GOLDEN  # word w0 + at // 4 of the stream: a Weyl step
                        z = x ^ (x >> S30)
                        z *= M1
                        z ^= z >> S27
                        z *= M2
                        z ^= z >> S31
                        buf[at] = flat_tables[tab + np.int64(z & LOW16)]
                        buf[at + 1] = flat_tables[tab + np.int64((z >> S16) & LOW16)]
                        buf[at + 2] = flat_tables[tab + np.int64((z >> S32) & LOW16)]
                        buf[at + 3] = flat_tables[tab + np.int64(z >> S48)]
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


@numba.njit(SIGNATURE, nogil=True, cache=True)
def paint_serial(ob, label, decision, weight, task_f, trial_start, rows, avail, extent,
                 trial_rows, offset, length, dec, response, go, seq, task, dim_ring, dt, wrap,
                 weights, grace, response_weight, base, rule, seg_trial, seg_start, seg_stop,
                 seg_row, seg_state, seg_width, seg_offset, seg_table, tables, carry_to,
                 carry_from, parts):
    """The painter on the calling thread (``parts`` is not used): see
    :func:`modcog_env.stream_kernel.paint`."""
    carry(carry_to, carry_from)
    seg_first, seg_order, most, cur, nxt = segment_index(
        rows, trial_rows, offset, seg_trial, seg_start, seg_width)
    paint_rows(0, rows, ob, label, decision, weight, task_f, trial_start, rows, avail,
               extent, offset, length, dec, response, go, seq, task, dim_ring, dt, wrap,
               weights, grace, response_weight, base, rule, seg_start, seg_stop, seg_row,
               seg_state, seg_width, seg_offset, seg_table, tables.reshape(-1),
               seg_first, seg_order, most, cur, nxt)


@numba.njit(nogil=True, cache=True, parallel=True)
def paint_parallel(ob, label, decision, weight, task_f, trial_start, rows, avail, extent,
                   trial_rows, offset, length, dec, response, go, seq, task, dim_ring, dt, wrap,
                   weights, grace, response_weight, base, rule, seg_trial, seg_start, seg_stop,
                   seg_row, seg_state, seg_width, seg_offset, seg_table, tables, carry_to,
                   carry_from, parts):
    """The painter with rows [p * rows // parts, (p + 1) * rows // parts) painted by numba's
    thread for range p: each row by one thread, so the values equal :func:`paint_serial`'s
    (the unread steps are carried first, on the calling thread)."""
    carry(carry_to, carry_from)
    seg_first, seg_order, most, cur, nxt = segment_index(
        rows, trial_rows, offset, seg_trial, seg_start, seg_width)
    flat_tables = tables.reshape(-1)
    for part in numba.prange(parts):
        paint_rows(part * rows // parts, (part + 1) * rows // parts, ob, label,
                   decision, weight, task_f, trial_start, rows, avail, extent, offset,
                   length, dec, response, go, seq, task, dim_ring, dt, wrap, weights,
                   grace, response_weight, base, rule, seg_start, seg_stop, seg_row,
                   seg_state, seg_width, seg_offset, seg_table, flat_tables, seg_first,
                   seg_order, most, cur, nxt)


def compile_parallel():
    """The threaded painter, compiled for :data:`SIGNATURE` (or loaded from numba's cache)."""
    paint_parallel.compile(SIGNATURE)
    return paint_parallel

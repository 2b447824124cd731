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

``Batches(paint_threads=n)`` splits the rows into n ranges painted by numba's threads (a second,
``parallel=True`` build of the same kernel, compiled on first use): each row is written by one
thread only, so the values are the same for any n. Worth it where the training step leaves CPU
cores idle (a GPU step); next to a CPU training step it competes for the same cores.
"""

from __future__ import annotations

import os
import threading
import warnings
from functools import lru_cache

import numpy as np

WEIGHTS_ALL, WEIGHTS_DECISION, WEIGHTS_YANG = 0, 1, 2
FIELDS = ("ob", "label", "weight", "decision", "task", "trial_start")  # a block's arrays
WEIGHT_MODES = {"all": WEIGHTS_ALL, "decision": WEIGHTS_DECISION, "yang": WEIGHTS_YANG}
_PARALLEL_LOCK = threading.Lock()


@lru_cache(maxsize=2)
def _kernel(parallel: bool = False):
    """The jitted painter (:mod:`modcog_env.stream_kernel_jit`, compiled on first use and cached
    on disk by numba); ``parallel``: the build that splits the rows into ``parts`` ranges painted
    by numba's threads."""
    from . import stream_kernel_jit

    return stream_kernel_jit.compile_parallel() if parallel else stream_kernel_jit.paint_serial


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


@lru_cache(maxsize=1)
def parallel_available() -> bool:
    """True when the threaded painter compiled (``Batches(paint_threads > 1)``; compiled on the
    first such request, then loaded from numba's cache). It needs a numba threading layer
    (``tbb``, ``omp`` or the built-in ``workqueue``); if it fails to compile, this warns once and
    such batches are painted on the calling thread (the same values)."""
    if not available():
        return False
    try:
        _kernel(parallel=True)
    except Exception as err:  # noqa: BLE001 - any numba or LLVM failure: paint on one thread
        warnings.warn(f"modcog_env: the threaded stream painter did not compile ({err!r}); "
                      "batches are painted on one thread (same batches, slower)", stacklevel=3)
        return False
    return True


def paint(block: dict[str, np.ndarray], rows: np.ndarray, offset: np.ndarray,
          avail: np.ndarray, extent: np.ndarray, trials: dict[str, np.ndarray], *,
          dim_ring: int, dt: float, wrap: bool, weights: int, grace: int,
          response_weight: float, base: int, rule: bool, segments: dict[str, np.ndarray],
          tables: np.ndarray, carry: tuple[dict, int, int] | None = None,
          threads: int = 1) -> None:
    """Write every step of the flat trials into the time-major ``block`` (arrays [capacity, B,
    ...]: ``ob`` float32 [.., D], ``label``, ``decision``, ``weight``, ``task``,
    ``trial_start``), in memory order: :func:`launch` of :func:`paint_args`.

    Flat trial m (stream ``rows[m]``, sorted) starts at block position ``offset[m]``; row r gets
    positions [``avail[r]``, ``extent[r]``). ``trials`` holds int64 [M] ``length``, ``dec``
    (decision start), ``response``, ``seq`` (sign), ``task`` and bool ``go``. ``segments`` (one
    per rendered period of one trial, S in all): ``trial``, ``start``, ``stop`` (int64 [S]),
    ``row`` float32 [S, base], ``state`` uint64 [S] noise stream states, ``width`` (0: no
    noise), ``offset`` (first noisy channel), ``table`` (row of ``tables``, float32 [K, 65536]
    scaled :func:`~modcog_env.rng.normal_table` s). ``carry`` = (source block with the same
    fields, head, keep): first copy its positions [head, head + keep) to the block's [0, keep)
    (the unread steps of the block this one follows). ``threads`` > 1: the rows are split into
    that many ranges painted by numba's threads (the same values; see
    :func:`parallel_available`).
    """
    launch(paint_args(block, rows, offset, avail, extent, trials, dim_ring=dim_ring, dt=dt,
                      wrap=wrap, weights=weights, grace=grace, response_weight=response_weight,
                      base=base, rule=rule, segments=segments, tables=tables, carry=carry),
           threads)


def paint_args(block: dict[str, np.ndarray], rows: np.ndarray, offset: np.ndarray,
               avail: np.ndarray, extent: np.ndarray, trials: dict[str, np.ndarray], *,
               dim_ring: int, dt: float, wrap: bool, weights: int, grace: int,
               response_weight: float, base: int, rule: bool, segments: dict[str, np.ndarray],
               tables: np.ndarray, carry: tuple[dict, int, int] | None = None) -> tuple:
    """The kernel's arguments for :func:`paint` (same arguments, less ``threads``): views of the
    block and the trial arrays, so that :func:`launch` runs no Python before the compiled pass
    (a helper thread that paints then needs the GIL only to start and to return)."""
    ob = block["ob"]
    if carry is None:
        to = source = tuple(np.zeros(0, np.uint8) for _ in FIELDS)
    else:
        src, head, keep = carry[0], carry[1], carry[2]
        to = tuple(_bytes(block[k][:keep]) for k in FIELDS)
        source = tuple(_bytes(src[k][head : head + keep]) for k in FIELDS)
    return (ob.reshape(-1, ob.shape[2]), block["label"].reshape(-1),
            block["decision"].reshape(-1), block["weight"].reshape(-1),
            block["task"].reshape(-1), block["trial_start"].reshape(-1), extent.size,
            avail, extent, rows, offset,
            trials["length"], trials["dec"], trials["response"], trials["go"], trials["seq"],
            trials["task"], dim_ring, float(dt), wrap, weights, grace, float(response_weight),
            base, rule, segments["trial"], segments["start"], segments["stop"],
            segments["row"], segments["state"], segments["width"], segments["offset"],
            segments["table"], tables, to, source)


def _bytes(a: np.ndarray) -> np.ndarray:
    """The bytes of a C-contiguous array, as a uint8 [n] view."""
    return a.reshape(-1).view(np.uint8)


def launch(args: tuple, threads: int = 1) -> None:
    """Run the compiled pass on :func:`paint_args`' tuple, on the calling thread or (``threads``
    > 1 and :func:`parallel_available`) split over that many numba threads. The GIL is released
    for the whole pass."""
    if threads <= 1 or not parallel_available():
        _kernel()(*args, 1)
        return
    import numba

    with _PARALLEL_LOCK:  # one parallel launch at a time (numba's workqueue layer needs it)
        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # this thread's
        _kernel(parallel=True)(*args, threads)

"""Training batches made ahead of use by a background thread or worker process, with the stream
state of the batches *consumed* (not produced) for checkpoints.

:class:`BatchSource` wraps a :class:`modcog_env.Batches` for the trainer. With ``ahead = 0`` it
makes each batch when asked (synchronous). With ``ahead = k >= 1`` a producer makes up to ``k``
batches ahead while the caller's training step runs: a daemon thread (numpy and torch release the
GIL in their large copies and kernels, and the compiled stream painter for its whole pass, so the
two overlap, but the thread holds the GIL between its numpy calls), or with ``process=True`` a
spawned worker process that hands batches over through shared memory (:mod:`agents.batch_worker`; no
GIL shared, no copy on the consumer's side). The producer only calls the ``Batches`` it was given
(nobody else may use it meanwhile; a worker process calls a copy, and the given one stays where it
was) and never touches torch's or numpy's global RNGs, so the batches and their order are exactly
those of the synchronous path.

Checkpoints: the producer records a ``Batches.mark()`` right after making each batch (a few small
copies), and :meth:`BatchSource.state_dict` turns the mark of the last batch *consumed* into a
state (``Batches.state_dict_at``) only when asked; it thus equals, value for value, what
``Batches.state_dict`` says in the synchronous path, however far ahead the producer is.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any

import numpy as np

from modcog_env import Batches
from modcog_env.batches import StreamMark


def batch_arrays(batches: Batches) -> tuple[np.ndarray | None, ...]:
    """The next batch as time-major numpy arrays, in either mode: (ob [T, B, D] float32, label
    [T, B] int64, weight [T, B] float32, decision [T, B] bool), or with ``targets="regression"``
    (ob, y [T, B, K] float32, c_mask [T, B, K] float32, valid [T, B] bool; valid is None in
    stream mode, where every step is real)."""
    regression = batches.targets == "regression"
    if batches.mode == "stream":
        w = batches.next_window()
        return (w.ob, w.y, w.c_mask, None) if regression else (w.ob, w.label, w.weight,
                                                                w.decision)
    trials, weights = batches.next_trials()
    keys = ((trials.ob, trials.y, trials.c_mask, trials.valid) if regression
            else (trials.ob, trials.label, weights, trials.decision))
    return tuple(np.ascontiguousarray(np.swapaxes(a, 0, 1)) for a in keys)


class BatchSource:
    """The trainer's batches: ``next()`` gives the next batch's arrays (see :func:`batch_arrays`),
    ``state_dict(rewind)`` the stream state after the consumed batches (``rewind=1``: before the
    last one), ``close()`` stops the producer (idempotent; also safe when it never started).

    ``ahead``: batches made in advance (0 = synchronous). ``limit``: at most that many batches are
    made (the steps left in the run), so that nothing is generated past the end; ``next()`` beyond
    it raises ``RuntimeError``. ``process``: make them in a worker process instead of a thread
    (needs ``ahead`` >= 1 and a picklable ``Batches``). An exception in the producer is raised by
    the ``next()`` that would have returned its batch.
    """

    def __init__(self, batches: Batches, ahead: int = 1, limit: int | None = None,
                 process: bool = False) -> None:
        if isinstance(ahead, bool) or not isinstance(ahead, int) or ahead < 0:
            raise ValueError(f"ahead={ahead!r} must be an int >= 0")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 0):
            raise ValueError(f"limit={limit!r} must be None or an int >= 0")
        if not isinstance(process, bool):
            raise ValueError(f"process={process!r} must be True or False")
        if process and not ahead:
            raise ValueError("process=True needs ahead >= 1 (ahead=0 makes batches in the caller)")
        self.batches, self.ahead, self.limit, self.process = batches, ahead, limit, process
        self.consumed = 0
        self._worker = None  # agents.batch_worker.WorkerProducer (process=True)
        self._thread: threading.Thread | None = None
        self._queue: queue.Queue | None = None
        self._stop = threading.Event()
        self.wait_s = 0.0  # seconds next() spent waiting for the producer (benchmarks)
        # Batches.mark() taken right after the last consumed batch was made (None: none yet)
        self._mark: StreamMark | None = None

    # ------------------------------------------------------------------------------ consumer
    def next(self) -> tuple[np.ndarray, ...]:
        if self.limit is not None and self.consumed >= self.limit:
            raise RuntimeError(f"BatchSource: all {self.limit} batches were consumed")
        if not self.ahead:
            self.consumed += 1
            return batch_arrays(self.batches)
        if self._thread is None and self._worker is None:
            self._start()
        t0 = time.perf_counter()
        if self._worker is not None:
            try:
                item = self._worker.get()
            except BaseException as exc:  # noqa: BLE001 - raised below, after closing
                item = exc
        else:
            item = self._queue.get()
        self.wait_s += time.perf_counter() - t0
        if isinstance(item, BaseException):
            self.close()
            raise item
        arrays, self._mark = item
        self.consumed += 1
        return arrays

    def state_dict(self, rewind: int = 0) -> dict[str, Any]:
        """``Batches.state_dict(rewind)`` as of the consumed batches (rewind 0 or 1)."""
        if not self.ahead or self._mark is None:  # nothing made ahead of the consumer
            if self._thread is not None or self._worker is not None:  # started, none consumed
                raise RuntimeError("state_dict before the first batch of a running producer")
            return self.batches.state_dict(rewind=rewind)
        if rewind not in (0, 1):
            raise ValueError(f"rewind={rewind!r} must be 0 or 1")
        return self.batches.state_dict_at(self._mark, rewind)

    def close(self) -> None:
        """Stop the producer and wait for it (it finishes the batch it is making)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.close()
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._stop.set()
        while thread.is_alive():
            try:  # unblock a producer waiting on a full queue
                self._queue.get_nowait()
            except queue.Empty:
                pass
            thread.join(timeout=0.05)

    # ------------------------------------------------------------------------------ producer
    def _start(self) -> None:
        left = None if self.limit is None else self.limit - self.consumed
        if self.process:
            from .batch_worker import WorkerProducer

            self._worker = WorkerProducer(self.batches, self.ahead, left)
            return
        self._queue = queue.Queue(maxsize=self.ahead)
        self._stop.clear()
        self._thread = threading.Thread(target=self._produce, args=(left,),
                                        name="modcog-batches", daemon=True)
        self._thread.start()

    def _produce(self, left: int | None) -> None:
        made = 0
        try:
            while not self._stop.is_set() and (left is None or made < left):
                arrays = batch_arrays(self.batches)
                made += 1
                self._put((arrays, self.batches.mark()))
        except BaseException as exc:  # handed to the consumer
            self._put(exc)

    def _put(self, item: object) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

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

Hand-off: the thread producer fills a bounded buffer and, once it is full, sleeps until the
consumer has drained it to half (:class:`Handoff`), so that it is woken once per ``ahead // 2``
batches rather than after every one: each wake-up costs the consumer a contended lock and the
GIL's hand-over (on the 2-core VM of docs/performance.md, a ``queue.Queue`` of ready batches took
50-80 us per ``get``, this buffer 23-46 us). ``convert`` (the trainer's ``torch.from_numpy``) runs
on the producer thread too, so the consumer gets tensors ready made.

Checkpoints: the producer records a ``Batches.mark()`` right after making each batch (a few small
copies), and :meth:`BatchSource.state_dict` turns the mark of the last batch *consumed* into a
state (``Batches.state_dict_at``) only when asked; it thus equals, value for value, what
``Batches.state_dict`` says in the synchronous path, however far ahead the producer is.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
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


def tensors_of(arrays: tuple) -> tuple:
    """``torch.from_numpy`` of each array (None stays None): the trainer's ``convert``. The
    tensors share memory with the arrays (no copy)."""
    import torch

    return tuple(None if a is None else torch.from_numpy(a) for a in arrays)


class Handoff:
    """A bounded FIFO from one producer thread to one consumer: :meth:`get` waits for an item;
    :meth:`put` waits while ``capacity`` items are ready and then until the consumer has taken
    them down to ``capacity // 2`` (so a producer that is ahead is woken once per half buffer,
    not per item), or until ``stop`` is set (then it returns False without putting)."""

    def __init__(self, capacity: int, stop: threading.Event) -> None:
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity={capacity!r} must be an int >= 1")
        self.capacity, self.low, self.stop = capacity, capacity // 2, stop
        self._items: collections.deque = collections.deque()
        self._cond = threading.Condition(threading.Lock())
        self._producer_waits = self._consumer_waits = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: object) -> bool:
        with self._cond:
            if len(self._items) >= self.capacity:
                self._producer_waits = True
                while len(self._items) > self.low and not self.stop.is_set():
                    self._cond.wait(timeout=0.1)
                self._producer_waits = False
            if self.stop.is_set():
                return False
            self._items.append(item)
            if self._consumer_waits:
                self._cond.notify()
            return True

    def get(self) -> object:
        with self._cond:
            while not self._items:
                self._consumer_waits = True
                self._cond.wait()
            self._consumer_waits = False
            item = self._items.popleft()
            if self._producer_waits and len(self._items) <= self.low:
                self._cond.notify()
            return item

    def wake(self) -> None:
        """Wake a waiting producer (after ``stop`` was set)."""
        with self._cond:
            self._cond.notify_all()


class BatchSource:
    """The trainer's batches: ``next()`` gives the next batch's arrays (see :func:`batch_arrays`),
    ``state_dict(rewind)`` the stream state after the consumed batches (``rewind=1``: before the
    last one), ``close()`` stops the producer (idempotent; also safe when it never started).

    ``ahead``: batches made in advance (0 = synchronous). ``limit``: at most that many batches are
    made (the steps left in the run), so that nothing is generated past the end; ``next()`` beyond
    it raises ``RuntimeError``. ``process``: make them in a worker process instead of a thread
    (needs ``ahead`` >= 1 and a picklable ``Batches``). An exception in the producer is raised by
    the ``next()`` that would have returned its batch. ``convert``: applied to each batch's
    arrays before ``next()`` returns them (e.g. ``torch.from_numpy`` of each), by the producer
    thread when there is one (by the caller in the synchronous and worker-process paths).
    """

    def __init__(self, batches: Batches, ahead: int = 1, limit: int | None = None,
                 process: bool = False,
                 convert: Callable[[tuple], tuple] | None = None) -> None:
        if isinstance(ahead, bool) or not isinstance(ahead, int) or ahead < 0:
            raise ValueError(f"ahead={ahead!r} must be an int >= 0")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                                  or limit < 0):
            raise ValueError(f"limit={limit!r} must be None or an int >= 0")
        if not isinstance(process, bool):
            raise ValueError(f"process={process!r} must be True or False")
        if process and not ahead:
            raise ValueError("process=True needs ahead >= 1 (ahead=0 makes batches in the caller)")
        if convert is not None and not callable(convert):
            raise ValueError(f"convert={convert!r} must be None or a callable")
        self.batches, self.ahead, self.limit, self.process = batches, ahead, limit, process
        self.convert = convert
        self.consumed = 0
        self._worker = None  # agents.batch_worker.WorkerProducer (process=True)
        self._thread: threading.Thread | None = None
        self._handoff: Handoff | None = None
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
            arrays = batch_arrays(self.batches)
            return arrays if self.convert is None else self.convert(arrays)
        if self._thread is None and self._worker is None:
            self._start()
        t0 = time.perf_counter()
        if self._worker is not None:
            try:
                item = self._worker.get()
            except BaseException as exc:  # noqa: BLE001 - raised below, after closing
                item = exc
        else:
            item = self._handoff.get()
        if isinstance(item, BaseException):
            self.wait_s += time.perf_counter() - t0
            self.close()
            raise item
        arrays, self._mark = item
        if self._worker is not None and self.convert is not None:
            arrays = self.convert(arrays)
        self.wait_s += time.perf_counter() - t0
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
            self._handoff.wake()  # a producer waiting on a full buffer sees the stop
            thread.join(timeout=0.05)

    # ------------------------------------------------------------------------------ producer
    def _start(self) -> None:
        left = None if self.limit is None else self.limit - self.consumed
        if self.process:
            from .batch_worker import WorkerProducer

            self._worker = WorkerProducer(self.batches, self.ahead, left)
            return
        self._stop.clear()
        self._handoff = Handoff(self.ahead, self._stop)
        self._thread = threading.Thread(target=self._produce, args=(left,),
                                        name="modcog-batches", daemon=True)
        self._thread.start()

    def _produce(self, left: int | None) -> None:
        made = 0
        try:
            while not self._stop.is_set() and (left is None or made < left):
                arrays = batch_arrays(self.batches)
                made += 1
                mark = self.batches.mark()
                if self.convert is not None:
                    arrays = self.convert(arrays)
                self._handoff.put((arrays, mark))
        except BaseException as exc:  # handed to the consumer
            self._handoff.put(exc)

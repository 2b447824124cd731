"""Batches made in a worker process, handed over through shared-memory slots (no copy, no GIL).

:class:`WorkerProducer` pickles a :class:`modcog_env.Batches` into a spawned process that keeps
calling it: each batch's arrays (:func:`agents.prefetch.batch_arrays`) are written into a free
*slot*, a file in ``/dev/shm`` mapped by both processes, and the consumer gets numpy arrays that
are views of the slot: nothing is copied on the consumer's side, and the producer never holds the
consumer's GIL (a producer thread does, between its numpy calls, and slows a training step that
dispatches many small torch operations).

A slot is reused only once no array handed out from it (nor a view of one, nor a tensor made with
``torch.from_numpy``) is referenced any more, so a returned batch is never written again, as with
the synchronous path; when the consumer holds every slot, a new one is made. The worker records a
``Batches.mark()`` right after each batch, as the thread producer does, and sends it along.

The worker is started with the ``spawn`` method, so the main module must be importable without
side effects (the usual ``if __name__ == "__main__":`` guard of multiprocessing).
"""

from __future__ import annotations

import mmap
import multiprocessing as mp
import os
import pickle
import queue
import shutil
import sys
import tempfile
from typing import Any

import numpy as np

_ALIGN = 64  # byte alignment of each array in a slot
# sys.getrefcount of a handed-out array nobody else holds: the list in WorkerProducer._held,
# the loop variable and getrefcount's own argument
_HELD_REFS = 3
_POLL_S = 0.2  # how often a waiting consumer checks that the worker is alive


def shm_root(needed: int = 0) -> str:
    """Where slots live: ``/dev/shm`` (RAM) if it exists and has ``needed`` bytes free (a
    container's is often 64 MB, and a slot written past its free space kills the worker with
    SIGBUS), else the temporary directory (file-backed; the page cache keeps it in RAM)."""
    if os.path.isdir("/dev/shm") and shutil.disk_usage("/dev/shm").free >= needed:
        return "/dev/shm"
    return tempfile.gettempdir()


def slot_bytes(batches: Any) -> int:
    """Bytes of a slot that holds any batch of ``batches`` (stream mode exactly; trial mode for
    trials up to the streams' longest length bound; a larger batch travels pickled instead)."""
    b, d, k = batches.batch_size, batches.ob_size, batches.n_actions
    if batches.mode == "stream":
        t = batches.seq_len
    else:
        bounds = getattr(batches.streams, "length_bounds", None)
        t = int(bounds()[1]) if bounds else 1
    per_step = 4 * d + max(8, 4 * k) + max(4, 4 * k) + 1  # ob, label or y, weight or c_mask, mask
    return t * b * per_step + 4 * _ALIGN


def _layout(arrays: tuple) -> tuple[list, int]:
    """(per array: (offset, shape, dtype) or None, total bytes) of ``arrays`` packed in a slot."""
    metas, offset = [], 0
    for a in arrays:
        if a is None:
            metas.append(None)
            continue
        metas.append((offset, a.shape, a.dtype.str))
        offset += -(-a.nbytes // _ALIGN) * _ALIGN
    return metas, offset


def _open_slot(path: str) -> mmap.mmap:
    with open(path, "r+b") as f:
        return mmap.mmap(f.fileno(), 0)


def _views(buffer: mmap.mmap, metas: list) -> tuple:
    return tuple(None if m is None else np.ndarray(m[1], np.dtype(m[2]), buffer=buffer,
                                                   offset=m[0]) for m in metas)


class _WorkerError:
    """An exception raised in the worker, carried to the consumer (or its text, if it does not
    pickle)."""

    def __init__(self, exc: BaseException) -> None:
        try:
            pickle.dumps(exc)
            self.exc = exc
        except Exception:  # noqa: BLE001 - any unpicklable exception becomes a RuntimeError
            self.exc = RuntimeError(f"batch worker: {type(exc).__name__}: {exc}")


def _next_slot(free: Any, parent: int) -> str | None:
    """The next free slot, or None to stop: when told to, or when the parent process is gone."""
    while True:
        try:
            return free.get(timeout=1.0)
        except queue.Empty:
            if os.getppid() != parent:
                return None


def _worker_main(payload: bytes, free: Any, out: Any, left: int | None, folder: str) -> None:
    """The worker process: make batches into the slots named on ``free`` until ``left`` are made
    or a ``None`` arrives; put (slot, layout, inline arrays, mark) on ``out``. If the parent
    dies, remove the slot ``folder`` and exit."""
    from agents.prefetch import batch_arrays

    parent = os.getppid()
    try:
        batches = pickle.loads(payload)
        maps: dict[str, mmap.mmap] = {}
        made = 0
        while left is None or made < left:
            slot = _next_slot(free, parent)
            if slot is None:
                if os.getppid() != parent:
                    shutil.rmtree(folder, ignore_errors=True)
                return
            arrays = batch_arrays(batches)
            made += 1
            mark = batches.mark()
            metas, total = _layout(arrays)
            if slot not in maps:
                maps[slot] = _open_slot(slot)
            if total > len(maps[slot]):  # too big for the slot (a long trial): pickled instead
                out.put((slot, None, arrays, mark))
                continue
            for view, a in zip(_views(maps[slot], metas), arrays, strict=True):
                if a is not None:
                    np.copyto(view, a)
            out.put((slot, metas, None, mark))
    except BaseException as exc:  # noqa: BLE001 - handed to the consumer
        out.put(_WorkerError(exc))


class WorkerProducer:
    """Runs the producer of :class:`agents.prefetch.BatchSource` in a worker process: ``get()``
    returns the next (arrays, mark) record, ``close()`` stops the worker and removes the slot
    files (arrays still held stay valid). ``ahead``: slots beyond the two the consumer may hold;
    ``left``: at most that many batches are made (None: no limit)."""

    def __init__(self, batches: Any, ahead: int, left: int | None) -> None:
        try:
            payload = pickle.dumps(batches, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as err:
            raise ValueError(
                f"a worker process needs a picklable Batches; this one is not ({err}); use the "
                "thread producer (process=False)"
            ) from err
        ctx = mp.get_context("spawn")
        self._bytes = slot_bytes(batches)
        # room for the first slots, and for as many again made when the consumer holds them all
        self._dir = tempfile.mkdtemp(prefix="modcog-batches-",
                                     dir=shm_root(2 * (ahead + 2) * self._bytes))
        self._slots: dict[str, mmap.mmap] = {}
        self._held: dict[str, list] = {}  # handed out, maybe still referenced by the consumer
        self._free, self._out = ctx.Queue(), ctx.Queue()
        try:
            for _ in range(ahead + 2):
                self._free.put(self._new_slot())
            self._proc = ctx.Process(target=_worker_main, name="modcog-batch-worker",
                                     args=(payload, self._free, self._out, left, self._dir),
                                     daemon=True)
            self._proc.start()
        except BaseException:
            shutil.rmtree(self._dir, ignore_errors=True)
            raise

    def _new_slot(self) -> str:
        fd, path = tempfile.mkstemp(prefix="slot-", dir=self._dir)
        os.ftruncate(fd, self._bytes)
        os.close(fd)
        self._slots[path] = _open_slot(path)
        return path

    def _release(self) -> None:
        """Give back to the worker every slot whose arrays nobody references any more."""
        for slot in [s for s, arrays in self._held.items()
                     if all(sys.getrefcount(a) <= _HELD_REFS for a in arrays if a is not None)]:
            del self._held[slot]
            self._free.put(slot)

    def get(self) -> tuple[tuple, Any]:
        self._release()
        if len(self._held) == len(self._slots):  # the consumer holds every slot: one more
            self._free.put(self._new_slot())
        while True:
            try:
                item = self._out.get(timeout=_POLL_S)
                break
            except queue.Empty:
                if not self._proc.is_alive():
                    raise RuntimeError(f"the batch worker process exited (code "
                                       f"{self._proc.exitcode}) without a batch") from None
        if isinstance(item, _WorkerError):
            raise item.exc
        slot, metas, inline, mark = item
        if inline is not None:
            self._free.put(slot)
            return inline, mark
        arrays = _views(self._slots[slot], metas)
        self._held[slot] = list(arrays)  # not the tuple handed out: holding that counts as a use
        return arrays, mark

    def close(self) -> None:
        """Stop the worker (it finishes the batch it is making) and remove the slot files."""
        if self._proc.is_alive():
            self._free.put(None)
            for _ in range(50):  # drain what it still sends, so that it can exit
                self._proc.join(timeout=0.1)
                while True:
                    try:
                        self._out.get_nowait()
                    except queue.Empty:
                        break
                if not self._proc.is_alive():
                    break
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(timeout=5)
        for q in (self._free, self._out):
            q.cancel_join_thread()
            q.close()
        shutil.rmtree(self._dir, ignore_errors=True)  # mapped slots stay valid until unmapped

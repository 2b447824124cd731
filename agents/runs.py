"""A run folder: its identity, its lock and its status (one owner per folder; DESIGN.md).

A run folder holds::

    run.json        identity: {"run_id", "created" (UTC, ISO 8601), "config" (TrainConfig dict)}
                    and the latest "status" {"state", "step", "steps", "updated"}
    config.toml     the config, re-loadable with ``modcog train --config`` (agents.config_io)
    metrics.jsonl   the metrics log (agents.training)
    ckpt.pt         the latest checkpoint; it carries the run_id of run.json
    best.pt         the checkpoint of the best evaluation
    run.lock        held with fcntl.flock(LOCK_EX | LOCK_NB) by the trainer for its whole
                    lifetime; the holder's pid is written inside

The lock is an OS lock on an open file, so it vanishes with its process: a crashed trainer never
leaves a stale lock. :func:`lock_holder` probes it (the sweep runner's "is it running?").
A folder "holds a run" when it has any file other than ``run.lock`` and temporary files; an empty
or missing folder is free. This module imports no torch.
"""

from __future__ import annotations

import datetime as _dt
import errno
import json
import math
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

RUN_FILE = "run.json"
CONFIG_FILE = "config.toml"
LOG_FILE = "metrics.jsonl"
CKPT_FILE = "ckpt.pt"
BEST_FILE = "best.pt"
LOCK_FILE = "run.lock"
STATES = ("empty", "running", "finished", "stopped", "interrupted", "diverged")


class RunFolderError(ValueError):
    """A run folder cannot be used as asked (it holds a run, is locked, or is not a folder)."""


class RunBusy(RunFolderError):
    """Another live process holds the folder's lock; ``pid`` names it."""

    def __init__(self, path: str | os.PathLike, pid: int | None) -> None:
        self.path, self.pid = Path(path), pid
        who = f"process {pid}" if pid else "another process"
        super().__init__(f"run folder {str(self.path)!r} is in use by {who} (it holds "
                         f"{self.path / LOCK_FILE}); wait for it or stop it")


def _lock_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path if path.suffix == ".lock" else path / LOCK_FILE


def lock_holder(path: str | os.PathLike) -> int | None:
    """Pid of the live process holding the lock of run folder ``path`` (or of the lock file
    ``path``, any ``*.lock``), or None if nobody holds it. 0 if it is held but the pid cannot be
    read."""
    import fcntl

    lock = _lock_path(path)
    try:
        fd = os.open(lock, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
            try:
                return int(os.pread(fd, 32, 0).decode().strip() or 0)
            except ValueError:
                return 0
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class RunLock:
    """The exclusive lock of a run folder; ``acquire`` raises :class:`RunBusy` at once if held."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE
        self.fd: int | None = None

    def acquire(self) -> RunLock:
        import fcntl

        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise RunBusy(self.folder, lock_holder(self.path)) from None
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        import fcntl

        try:
            os.ftruncate(self.fd, 0)
        except OSError:
            pass
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def __del__(self) -> None:
        self.release()


def is_temporary(name: str) -> bool:
    """Temporary files of atomic writes (``.NAME.tmpPID``), left over when a write was killed."""
    return name.startswith(".") and ".tmp" in name


def contents(folder: str | os.PathLike) -> list[str]:
    """Names in ``folder`` that belong to a run (not the lock, not temporary files)."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(n for n in os.listdir(folder) if n != LOCK_FILE and not is_temporary(n))


def clean_temporary(folder: str | os.PathLike) -> list[str]:
    """Delete leftover temporary files (call with the lock held); returns their names."""
    removed = [n for n in os.listdir(folder) if is_temporary(n)]
    for name in removed:
        Path(folder, name).unlink(missing_ok=True)
    return removed


def check_folder(path: str | os.PathLike) -> Path:
    """``path`` as a Path if it can be a run folder (missing, or a writable directory);
    RunFolderError naming it otherwise."""
    text = os.fspath(path)
    if not text.strip():
        raise RunFolderError(f"out_dir={text!r}: give a folder name")
    folder = Path(text)
    if folder.exists() and not folder.is_dir():
        raise RunFolderError(f"out_dir={text!r} is a file, not a folder")
    parent = next((p for p in [folder, *folder.parents] if p.exists()), Path("."))
    if not parent.is_dir():
        raise RunFolderError(f"out_dir={text!r}: {str(parent)!r} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunFolderError(f"out_dir={text!r}: {str(parent)!r} is not writable")
    return folder


def new_identity(config: dict) -> dict:
    """A fresh run identity: a random run_id, the creation time (UTC) and the config."""
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
    return {"run_id": uuid.uuid4().hex, "created": now.isoformat(), "config": config}


def read_identity(folder: str | os.PathLike) -> dict | None:
    """run.json of ``folder`` as a dict, None if there is none; RunFolderError if unreadable."""
    path = Path(folder) / RUN_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise RunFolderError(f"{str(path)!r} cannot be read: {err}") from None
    if not isinstance(data, dict) or "run_id" not in data:
        raise RunFolderError(f"{str(path)!r} is not a run identity (no run_id)")
    return data


def _finite(value: object) -> object:
    """Non-finite floats as the strings "inf", "-inf", "nan" (strict JSON has no such numbers)."""
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def write_json(path: str | os.PathLike, data: dict) -> None:
    """Write strict JSON atomically (temp file, fsync, os.replace); non-finite floats are written
    as the strings "inf", "-inf", "nan"."""
    data = _finite(data)
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w") as f:
            f.write(json.dumps(data, indent=1, sort_keys=True, allow_nan=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_status(folder: str | os.PathLike, state: str, step: int, steps: int) -> None:
    """Record the run's state ("running", "finished", "stopped", "interrupted", "diverged") and
    the step of its latest checkpoint in run.json."""
    if state not in STATES:
        raise ValueError(f"state={state!r} is not one of {STATES}")
    identity = read_identity(folder)
    if identity is None:
        raise RunFolderError(f"{str(Path(folder) / RUN_FILE)!r}: no run identity")
    now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    identity["status"] = {"state": state, "step": int(step), "steps": int(steps), "updated": now}
    write_json(Path(folder) / RUN_FILE, identity)


@dataclass(frozen=True)
class RunStatus:
    """What a run folder holds: ``state`` (one of STATES), the step of its latest checkpoint,
    the configured ``steps``, its ``run_id`` and the ``pid`` of a live trainer (or None)."""

    path: Path
    state: str
    step: int | None
    steps: int | None
    run_id: str | None
    pid: int | None

    @property
    def finished(self) -> bool:
        return self.state == "finished"


def status(folder: str | os.PathLike) -> RunStatus:
    """The status of run folder ``folder`` from its lock and run.json (no torch, no ckpt read).

    "running" if a live process holds the lock; else run.json's recorded state, where a run
    whose process died without recording an end counts as "stopped"; "empty" if no run.
    """
    folder = Path(folder)
    pid = lock_holder(folder)
    identity = read_identity(folder) if folder.is_dir() else None
    if identity is None:
        return RunStatus(folder, "running" if pid is not None else "empty", None, None, None, pid)
    st = identity.get("status") or {}
    step, steps = st.get("step"), st.get("steps", identity.get("config", {}).get("steps"))
    if pid is not None:
        state = "running"
    else:
        state = st.get("state", "stopped")
        if state == "running":  # the process died without recording its end
            state = "stopped"
        if state == "stopped" and step is not None and step == steps:
            state = "finished"
    return RunStatus(folder, state, step, steps, identity["run_id"], pid)


def clear(folder: str | os.PathLike) -> list[str]:
    """Delete a run's files from ``folder`` (call with the lock held); returns their names."""
    names = contents(folder)
    for name in names:
        path = Path(folder, name)
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()
    return names


def fresh_name(root: str | os.PathLike, stem: str) -> Path:
    """``root/<stem>-<UTC yyyymmdd-HHMMSS>``, with ``-2``, ``-3``... if that exists already."""
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
    base = Path(root) / f"{stem}-{stamp}"
    path, k = base, 1
    while path.exists():
        k += 1
        path = base.with_name(f"{base.name}-{k}")
    return path

"""Checkpoint files: atomic writes, a checksum wrapper, verified loads, and the model of a file.

File format: ``torch.save`` of ``{"format", "version", "sha256", "payload"}``, where ``payload``
is the ``torch.save`` bytes of the checkpoint dict and ``sha256`` their digest (torch does not
check its own zip CRCs), written atomically (temp file in the same directory, flush, fsync,
``os.replace``). A truncated, corrupted or missing file raises :class:`CheckpointError` naming it;
training never silently starts over.

What a checkpoint dict holds (model and optimizer states, configs, run id, loop state, RNG
states, the data-stream state as integer tensors) is the trainer's business: see
:mod:`agents.training`. This module only checks that the keys in :data:`REQUIRED_KEYS` are
there. Files are read with ``torch.load(weights_only=True)``: tensors and plain containers only,
no arbitrary pickles.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Callable
from pathlib import Path

import torch

from .models import build_model
from .rnn import MaskedRNN

CHECKPOINT_FORMAT = "modcog-agents-checkpoint"
CHECKPOINT_VERSION = 1
REQUIRED_KEYS = ("model", "optimizer", "model_config", "rnn_config", "train_config", "iter_num",
                 "best_metric", "torch_rng_state", "numpy_rng_state", "data")


class CheckpointError(RuntimeError):
    """A checkpoint file is missing, truncated, corrupted or not ours; ``path`` names it."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = Path(path)
        super().__init__(f"checkpoint {str(self.path)!r}: {reason}")


def save_checkpoint(
    checkpoint: dict, path: str | os.PathLike, *, hook: Callable[[Path], None] | None = None
) -> None:
    """Write ``checkpoint`` atomically (temp file in the same dir, flush, fsync, os.replace).

    An exception or KeyboardInterrupt during the write removes the temp file and leaves ``path``
    as it was. ``hook(path)`` (tests) is called after the temp file is written, before the replace.
    """
    path = Path(path)
    buf = io.BytesIO()
    torch.save(checkpoint, buf)
    payload = buf.getvalue()
    outer = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION,
             "sha256": hashlib.sha256(payload).hexdigest(), "payload": payload}
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            torch.save(outer, f)
            f.flush()
            os.fsync(f.fileno())
        if hook is not None:
            hook(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    _fsync_dir(path.parent)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read and verify a checkpoint written by :func:`save_checkpoint`; CheckpointError if bad."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(path, "no such file")
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic != b"PK\x03\x04":  # torch.save writes a zip archive
        raise CheckpointError(path, f"not a {CHECKPOINT_FORMAT} file (not a torch zip archive)")
    try:
        outer = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for damaged zips and pickles
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(path, f"cannot be read (truncated or corrupted?): {first}") from exc
    if not isinstance(outer, dict) or outer.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(path, f"not a {CHECKPOINT_FORMAT} file")
    if outer.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(path, f"version {outer.get('version')!r} is not "
                                    f"{CHECKPOINT_VERSION}")
    payload = outer.get("payload")
    if not isinstance(payload, bytes) or hashlib.sha256(payload).hexdigest() != outer.get("sha256"):
        raise CheckpointError(path, "checksum mismatch: the file is corrupted")
    try:
        ckpt = torch.load(io.BytesIO(payload), map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(path, f"payload cannot be read: {exc}") from exc
    if not isinstance(ckpt, dict):
        raise CheckpointError(path, f"payload is a {type(ckpt).__name__}, not a dict")
    missing = [k for k in REQUIRED_KEYS if k not in ckpt]
    if missing:
        raise CheckpointError(path, f"lacks keys {missing}")
    return ckpt


def load_model(path: str | os.PathLike, device: str = "cpu") -> MaskedRNN:
    """The model of a checkpoint, in eval mode."""
    ckpt = load_checkpoint(path)
    model = build_model(ckpt["model_config"])
    model.load_state_dict(ckpt["model"])
    return model.to(device).eval()


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open directories
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

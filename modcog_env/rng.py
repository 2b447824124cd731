"""Counter-based randomness: every draw is a pure function of (seed, stream, trial index, draw).

A trial never shares a generator with another trial, so trial ``k`` is bit-identical whether it is
sampled alone or among 10,000, whatever the batch size, worker count or numpy's global state.
The mixer is SplitMix64's finalizer applied to a Weyl sequence, vectorized over uint64 arrays.

Streams are named by strings (e.g. ``"dlygo/target"``); each name hashes to its own 64-bit key,
so adding a draw under a new name never shifts the others (one named key per draw, as in gymnax).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_MASK64 = (1 << 64) - 1
_TWO_PI = 2.0 * np.pi


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer on a uint64 array (wrapping arithmetic)."""
    x = (x ^ (x >> _S30)) * _M1
    x = (x ^ (x >> _S27)) * _M2
    return x ^ (x >> _S31)


@lru_cache(maxsize=4096)
def stream_key(name: str) -> int:
    """Stable 64-bit key of a stream name (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


def normalize_seed(seed: int) -> int:
    """Validate a seed and reduce it to 64 bits. Raises ``ValueError`` for non-integers."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {seed!r} of type {type(seed).__name__}")
    return int(seed) & _MASK64


def trial_keys(seed: int, stream: str, indices: np.ndarray) -> np.ndarray:
    """uint64 [B] key of each trial index in a stream: a pure function of (seed, stream, index)."""
    base = _mix(np.array([normalize_seed(seed) ^ stream_key(stream)], dtype=np.uint64))
    idx = np.asarray(indices).astype(np.uint64)
    with np.errstate(over="ignore"):
        return _mix(base + _mix(idx * _GOLDEN + _GOLDEN))


def bits(seed: int, stream: str, indices: np.ndarray, n: int) -> np.ndarray:
    """uint64 [B, n] random words; column j is draw j of each trial."""
    keys = trial_keys(seed, stream, indices)
    draws = (np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN)[None, :]
    with np.errstate(over="ignore"):
        return _mix(keys[:, None] + draws)


def uniform(seed: int, stream: str, indices: np.ndarray, n: int = 1) -> np.ndarray:
    """float64 [B, n] uniform on [0, 1) with 53 random bits."""
    return (bits(seed, stream, indices, n) >> _S11).astype(np.float64) * (2.0**-53)


def integers(seed: int, stream: str, indices: np.ndarray, high: int, n: int = 1) -> np.ndarray:
    """int64 [B, n] uniform on {0, ..., high-1} (bias below 2**-40 for high < 2**13)."""
    return np.floor(uniform(seed, stream, indices, n) * high).astype(np.int64)


def normal(seed: int, stream: str, indices: np.ndarray, n: int) -> np.ndarray:
    """float64 [B, n] standard normal draws; draw j uses uniforms 2*(j//2) and 2*(j//2)+1
    (Box-Muller), so its value does not depend on ``n``."""
    half = (n + 1) // 2
    u = uniform(seed, stream, indices, 2 * half).reshape(-1, half, 2)
    radius = np.sqrt(-2.0 * np.log1p(-u[..., 0]))
    angle = _TWO_PI * u[..., 1]
    out = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=-1)
    return out.reshape(-1, 2 * half)[:, :n]


def derive_seed(seed: int, stream: str, index: int = 0) -> int:
    """A new 64-bit seed derived from (seed, stream, index); used to give sub-streams their own seeds."""
    return int(trial_keys(seed, stream, np.array([index]))[0])

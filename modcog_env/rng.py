"""Counter-based randomness: every draw is a pure function of (seed, stream, trial index, draw).

A trial never shares a generator with another trial, so trial ``k`` is bit-identical whether it is
sampled alone or among 10,000, whatever the batch size, worker count or numpy's global state.
The mixer is SplitMix64's finalizer applied to a Weyl sequence, vectorized over uint64 arrays.

Streams are named by strings (e.g. ``"dlygo/target"``); each name hashes to its own 64-bit key,
so adding a draw under a new name never shifts the others (one named key per draw, as in gymnax).
"""

from __future__ import annotations

import hashlib
import statistics
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


def _mix_inplace(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finalizer (wrapping arithmetic) overwriting its uint64 C-contiguous argument;
    returns it. One scratch array for the shifts instead of a temporary per operation."""
    tmp = np.right_shift(x, _S30)
    x ^= tmp
    x *= _M1
    np.right_shift(x, _S27, out=tmp)
    x ^= tmp
    x *= _M2
    np.right_shift(x, _S31, out=tmp)
    x ^= tmp
    return x


@lru_cache(maxsize=256)
def _weyl(n: int) -> np.ndarray:
    """uint64 [n] (read-only): j * golden ratio for j = 1..n, the per-draw offsets of a stream."""
    with np.errstate(over="ignore"):
        out = np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN
    out.flags.writeable = False
    return out


@lru_cache(maxsize=4096)
def stream_key(name: str) -> int:
    """Stable 64-bit key of a stream name (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "little")


@lru_cache(maxsize=4096)
def _stream_word(name: str) -> np.uint64:
    return np.uint64(stream_key(name))


def normalize_seed(seed: int) -> int:
    """Validate a seed and reduce it to 64 bits. Raises ``ValueError`` for non-integers."""
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise ValueError(f"seed must be an int, got {seed!r} of type {type(seed).__name__}")
    return int(seed) & _MASK64


def as_seeds(seed: int | np.ndarray, size: int) -> np.ndarray:
    """uint64 [size] per-trial seeds from one int seed or an integer array of ``size`` seeds."""
    if isinstance(seed, np.ndarray):
        if not np.issubdtype(seed.dtype, np.integer) or seed.shape != (size,):
            raise ValueError(
                f"seed array must be integer with shape ({size},), got {seed.dtype} {seed.shape}"
            )
        return seed.astype(np.uint64)
    return np.full(size, normalize_seed(seed), dtype=np.uint64)


class Keys:
    """Per-trial keys of one sampling call: ``uniform``/``integers``/``normal`` under named streams.

    ``Keys(seed, indices)`` derives one 64-bit base per trial from (seed, index); a named stream
    costs one more mix, and draw j of a stream one more. ``seed`` is one int or a uint64 [B] array
    of per-trial stream seeds.
    """

    __slots__ = ("seeds", "index", "base")

    def __init__(self, seed: int | np.ndarray, indices: np.ndarray) -> None:
        idx = np.asarray(indices).astype(np.uint64).reshape(-1)
        self.index = idx
        self.seeds = as_seeds(seed, idx.size)
        with np.errstate(over="ignore"):
            self.base = _mix_inplace(
                _mix_inplace(self.seeds ^ _GOLDEN) + _mix_inplace(idx * _GOLDEN + _GOLDEN)
            )

    def __len__(self) -> int:
        return int(self.index.size)

    def take(self, rows: np.ndarray) -> Keys:
        """Keys of a subset of the trials (boolean mask or row indices)."""
        out = Keys.__new__(Keys)
        out.index, out.seeds, out.base = self.index[rows], self.seeds[rows], self.base[rows]
        return out

    def instance(self) -> Keys:
        """Keys of index 0 under the same seeds: draws shared by every trial of a stream."""
        return Keys(self.seeds, np.zeros(self.index.size, np.uint64))

    def stream(self, name: str) -> np.ndarray:
        """uint64 [B] state of each trial under stream ``name`` (already a mixed per-trial key)."""
        return self.base ^ _stream_word(name)

    def bits(self, name: str, n: int) -> np.ndarray:
        """uint64 [B, n] random words; column j is draw j of each trial (SplitMix64 outputs of the
        stream state, one mix per word)."""
        # uint64 array arithmetic wraps silently (numpy warns on overflow of scalars only)
        return _mix_inplace(self.stream(name)[:, None] + _weyl(n)[None, :])

    def uniform(self, name: str, n: int = 1) -> np.ndarray:
        """float64 [B, n] uniform on [0, 1) with 53 random bits."""
        return np.multiply(self.bits(name, n) >> _S11, 2.0**-53)  # uint64 * float: float64

    def integers(self, name: str, high: int, n: int = 1) -> np.ndarray:
        """int64 [B, n] uniform on {0, ..., high-1} (bias below 2**-40 for high < 2**13)."""
        return (self.uniform(name, n) * high).astype(np.int64)

    def normal(self, name: str, n: int, scale: float = 1.0) -> np.ndarray:
        """float32 [B, n] normal draws with standard deviation ``scale`` (noise).

        Each 64-bit word gives four draws: its 16-bit quarters (lowest first) index the 65,536
        quantiles of :func:`normal_table`, so draw j of a trial does not depend on ``n`` and
        ``normal(name, n, s)`` equals ``np.float32(s) * normal(name, n)``. The draws are N(0, 1)
        quantized to 65,536 levels (CDF error <= 1.01e-5, unit variance, |z| <= 4.33).
        """
        words = (n + 3) // 4
        w = self.bits(name, words).astype("<u8", copy=False)  # little-endian: same on any CPU
        quarters = w.view("<u2")
        return normal_table(scale).take(quarters if 4 * words == n else quarters[:, :n])


_LEVELS = 1 << 16


@lru_cache(maxsize=64)
def normal_table(scale: float = 1.0) -> np.ndarray:
    """float32 [65536] (read-only): N(0, 1) quantiles at (i + 0.5) / 65536, rescaled to unit
    variance, times ``np.float32(scale)``; entry i is the draw of a 16-bit uniform i."""
    if scale != 1.0:
        out = normal_table(1.0) * np.float32(scale)
    else:
        dist = statistics.NormalDist()
        upper = np.array([dist.inv_cdf((i + 0.5) / _LEVELS) for i in range(_LEVELS // 2, _LEVELS)])
        q = np.concatenate([-upper[::-1], upper])  # exactly symmetric: mean 0
        out = (q / np.sqrt(np.mean(q * q))).astype(np.float32)
    out.flags.writeable = False
    return out


def uniform(seed: int | np.ndarray, stream: str, indices: np.ndarray, n: int = 1) -> np.ndarray:
    """float64 [B, n] uniform on [0, 1): ``Keys(seed, indices).uniform(stream, n)``."""
    return Keys(seed, indices).uniform(stream, n)


def integers(
    seed: int | np.ndarray, stream: str, indices: np.ndarray, high: int, n: int = 1
) -> np.ndarray:
    """int64 [B, n] uniform on {0, ..., high-1}: ``Keys(seed, indices).integers(...)``."""
    return Keys(seed, indices).integers(stream, high, n)


def normal(seed: int | np.ndarray, stream: str, indices: np.ndarray, n: int) -> np.ndarray:
    """float32 [B, n] standard normals: ``Keys(seed, indices).normal(stream, n)``."""
    return Keys(seed, indices).normal(stream, n)


def bits(seed: int | np.ndarray, stream: str, indices: np.ndarray, n: int) -> np.ndarray:
    """uint64 [B, n] random words: ``Keys(seed, indices).bits(stream, n)``."""
    return Keys(seed, indices).bits(stream, n)


def trial_keys(seed: int | np.ndarray, stream: str, indices: np.ndarray) -> np.ndarray:
    """uint64 [B] key of each trial under ``stream``: a pure function of (seed, stream, index)."""
    return Keys(seed, indices).stream(stream)


def derive_seed(seed: int, stream: str, index: int = 0) -> int:
    """A new 64-bit seed derived from (seed, stream, index); gives sub-streams their own seeds."""
    return int(trial_keys(seed, stream, np.array([index]))[0])

"""Ring geometry: preferred directions, circular distance and the Gaussian bump (TASKS.md §1).

Angles are in radians on [0, 2*pi). Everything is vectorized over trials.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

TWO_PI = 2.0 * np.pi
BUMP_AMPLITUDE = 0.8
BUMP_WIDTH = np.pi / 8  # fixed divisor of the angular distance; does not scale with dim_ring


def preferred_angles(dim_ring: int) -> np.ndarray:
    """float64 [dim_ring] preferred direction of each ring unit, 2*pi*k/dim_ring."""
    return np.arange(dim_ring) * (TWO_PI / dim_ring)


def circular_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Shortest angular distance between angles ``a`` and ``b`` (broadcasting), in [0, pi]."""
    delta = np.abs(np.asarray(a) - np.asarray(b)) % TWO_PI
    return np.minimum(delta, TWO_PI - delta)


@lru_cache(maxsize=64)
def _grid_table(dim_ring: int) -> np.ndarray:
    """float64 [N, N]: row k is the unit-strength bump at preferred direction k."""
    theta = preferred_angles(dim_ring)
    d = circular_distance(theta[:, None], theta[None, :]) / BUMP_WIDTH
    table = BUMP_AMPLITUDE * np.exp(-0.5 * d * d)
    table.setflags(write=False)
    return table


def bump(angle: np.ndarray, strength: np.ndarray | float, dim_ring: int) -> np.ndarray:
    """float64 [B, dim_ring] ring pattern 0.8*s*exp(-d**2/2), d = circular distance / (pi/8).

    ``angle`` and ``strength`` are [B] arrays (strength may be a scalar). Not truncated. Angles
    on the grid of preferred directions are looked up in a cached table (same values).
    """
    angle = np.asarray(angle, dtype=np.float64)
    position = angle * (dim_ring / TWO_PI)
    index = np.rint(position)
    if np.all(np.abs(position - index) < 1e-9):
        pattern = _grid_table(dim_ring)[index.astype(np.int64) % dim_ring]
    else:
        d = circular_distance(angle[:, None], preferred_angles(dim_ring)[None, :]) / BUMP_WIDTH
        pattern = BUMP_AMPLITUDE * np.exp(-0.5 * d * d)
    s = np.asarray(strength, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    return pattern * s


def bump_at(index: np.ndarray, dim_ring: int) -> np.ndarray:
    """float64 [B, dim_ring] unit-strength bumps at ring indices ``index`` (table lookup)."""
    return _grid_table(dim_ring)[np.asarray(index) % dim_ring]


def index_angle(index: np.ndarray, dim_ring: int) -> np.ndarray:
    """Preferred angle of ring index (int array) ``index``."""
    return (np.asarray(index) % dim_ring) * (TWO_PI / dim_ring)

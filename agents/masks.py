"""Connectivity masks for recurrent weight matrices (numpy only; no torch needed).

Convention: a mask is a bool array ``[N, N]`` with ``mask[i, j] = True`` when unit ``j`` projects
to unit ``i``, i.e. ``W[i, j]`` (row = post-synaptic, column = pre-synaptic) may be non-zero in the
update ``h_i <- f(sum_j W[i, j] h_j + ...)``. This is the layout of ``torch.nn.Linear.weight``.
Row sums are fan-ins, column sums fan-outs.

Density is ``mask.sum() / N**2``: the diagonal counts as a possible connection. :func:`density`
computes it from the mask itself (the achieved value, not the requested one).

Masks:

- :func:`dense_mask`: all ``N**2`` connections.
- :func:`ring_mask`: units on a 1-D ring; ``j`` projects to ``i`` when their ring distance is at
  most ``k`` (so each unit reaches ``2k + 1`` units, itself included).
- :func:`sheet_mask`: ``N = s * s`` units on an ``s x s`` grid (unit ``i`` sits at row ``i // s``,
  column ``i % s``); ``j`` projects to ``i`` when their Euclidean distance is at most ``radius``,
  on a torus when ``periodic`` (each axis distance is ``min(d, s - d)``).
- :func:`random_mask`: Erdos-Renyi graph with a fixed number of edges, ``round(density * N**2)``,
  chosen uniformly; with ``self_connections`` the diagonal is always on and the remaining edges
  are placed off the diagonal, as in the locality masks it is meant to control for.
- :func:`autapse_mask`: the identity (each unit connects only to itself).

Radius and density: :func:`ring_density` / :func:`ring_k_for_density` and :func:`sheet_density` /
:func:`sheet_radius_for_density` convert exactly (counting lattice offsets, no sampling); the
``*_for_*`` helpers return the achievable value whose density is closest to the target.
Every mask is a pure function of its arguments; only :func:`random_mask` draws, from
``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

import math

import numpy as np

_EPS = 1e-9  # tolerance on squared distances, so radius = sqrt(d2) includes d2


def _check_n(n: object) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r} must be an int >= 1")
    return int(n)


def _check_density(density: object) -> float:
    if isinstance(density, bool) or not isinstance(density, (int, float, np.floating)):
        raise ValueError(f"density={density!r} must be a number in (0, 1]")
    if not 0.0 < float(density) <= 1.0:
        raise ValueError(f"density={density!r} must be in (0, 1]")
    return float(density)


def grid_side(n: int) -> int:
    """Side ``s`` of the square sheet of ``n = s * s`` units; ``ValueError`` if not a square."""
    n = _check_n(n)
    s = math.isqrt(n)
    if s * s != n:
        raise ValueError(f"n={n} is not a perfect square; a 2-D sheet needs n = s * s units")
    return s


def density(mask: np.ndarray) -> float:
    """Achieved density of a mask: number of connections / N**2."""
    mask = np.asarray(mask, dtype=bool)
    if mask.ndim != 2 or mask.shape[0] != mask.shape[1]:
        raise ValueError(f"mask must be square [N, N], got shape {mask.shape}")
    return int(mask.sum()) / mask.size


# ------------------------------------------------------------------------------------ dense
def dense_mask(n: int) -> np.ndarray:
    """All connections, self-connections included."""
    n = _check_n(n)
    return np.ones((n, n), dtype=bool)


def autapse_mask(n: int) -> np.ndarray:
    """Identity: each unit connects only to itself."""
    return np.eye(_check_n(n), dtype=bool)


# ------------------------------------------------------------------------------------ ring
def ring_distance(n: int) -> np.ndarray:
    """int64 [N, N] distance between units ``i`` and ``j`` on a ring of ``n`` units."""
    n = _check_n(n)
    d = np.abs(np.arange(n)[:, None] - np.arange(n)[None, :])
    return np.minimum(d, n - d)


def ring_mask(n: int, k: int, self_connections: bool = True) -> np.ndarray:
    """Units on a ring; ``j -> i`` when the ring distance is at most ``k`` (``k >= 0``)."""
    n = _check_n(n)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 0:
        raise ValueError(f"k={k!r} must be an int >= 0 (neighbours within +-k on the ring)")
    mask = ring_distance(n) <= k
    if not self_connections:
        np.fill_diagonal(mask, False)
    return mask


def ring_density(n: int, k: int, self_connections: bool = True) -> float:
    """Exact density of :func:`ring_mask` (no mask is built)."""
    n = _check_n(n)
    per_unit = min(2 * int(k) + 1, n) - (0 if self_connections else 1)
    return per_unit / n


def ring_k_for_density(n: int, target: float, self_connections: bool = True) -> int:
    """The ``k`` whose ring density is closest to ``target`` (ties: the smaller ``k``)."""
    n = _check_n(n)
    target = _check_density(target)
    ks = np.arange(n // 2 + 1)
    dens = np.array([ring_density(n, int(k), self_connections) for k in ks])
    return int(ks[np.argmin(np.abs(dens - target))])


# ------------------------------------------------------------------------------------ sheet
def sheet_positions(n: int) -> np.ndarray:
    """int64 [N, 2] (row, column) grid position of each unit: unit ``i`` at ``(i // s, i % s)``."""
    s = grid_side(n)
    i = np.arange(s * s)
    return np.stack([i // s, i % s], axis=1)


def sheet_sq_distance(n: int, periodic: bool = True) -> np.ndarray:
    """int64 [N, N] squared Euclidean distance between units on the sheet (torus if periodic)."""
    s = grid_side(n)
    pos = sheet_positions(n)
    d = np.abs(pos[:, None, :] - pos[None, :, :])
    if periodic:
        d = np.minimum(d, s - d)
    return (d**2).sum(axis=-1)


def _check_radius(radius: object) -> float:
    if isinstance(radius, bool) or not isinstance(radius, (int, float, np.number)):
        raise ValueError(f"radius={radius!r} must be a number >= 0")
    if not float(radius) >= 0.0 or not math.isfinite(float(radius)):
        raise ValueError(f"radius={radius!r} must be a finite number >= 0")
    return float(radius)


def sheet_mask(
    n: int, radius: float, periodic: bool = True, self_connections: bool = True
) -> np.ndarray:
    """Units on a ``sqrt(n) x sqrt(n)`` grid; ``j -> i`` when their distance is <= ``radius``."""
    radius = _check_radius(radius)
    mask = sheet_sq_distance(n, periodic) <= radius * radius + _EPS
    if not self_connections:
        np.fill_diagonal(mask, False)
    return mask


def _offset_pair_counts(s: int, periodic: bool) -> tuple[np.ndarray, np.ndarray]:
    """Squared distance of every lattice offset and how many ordered unit pairs have it."""
    if periodic:
        # on a torus every unit sees the same wrapped offsets: offset o in 0..s-1 per axis
        o = np.arange(s)
        d = np.minimum(o, s - o)
        d2 = d[:, None] ** 2 + d[None, :] ** 2
        pairs = np.full(d2.shape, s * s, dtype=np.int64)
    else:
        o = np.arange(-(s - 1), s)
        d2 = o[:, None] ** 2 + o[None, :] ** 2
        per_axis = s - np.abs(o)
        pairs = per_axis[:, None] * per_axis[None, :]
    return d2.ravel(), pairs.ravel()


def sheet_density(
    n: int, radius: float, periodic: bool = True, self_connections: bool = True
) -> float:
    """Exact density of :func:`sheet_mask`, counted from lattice offsets (no mask is built)."""
    s = grid_side(n)
    radius = _check_radius(radius)
    d2, pairs = _offset_pair_counts(s, periodic)
    count = int(pairs[d2 <= radius * radius + _EPS].sum())
    if not self_connections:
        count -= s * s
    return count / (s * s) ** 2


def sheet_radius_for_density(
    n: int, target: float, periodic: bool = True, self_connections: bool = True
) -> float:
    """The achievable radius (``sqrt`` of a lattice squared distance) whose density is closest.

    Ties go to the smaller radius. The result fed to :func:`sheet_mask` reproduces that density.
    """
    s = grid_side(n)
    target = _check_density(target)
    d2, pairs = _offset_pair_counts(s, periodic)
    radii2 = np.unique(d2)
    counts = np.array([pairs[d2 <= r2].sum() for r2 in radii2], dtype=np.int64)
    if not self_connections:
        counts = counts - s * s
    dens = counts / (s * s) ** 2
    return float(math.sqrt(radii2[np.argmin(np.abs(dens - target))]))


# ------------------------------------------------------------------------------------ random
def random_mask(
    n: int, density: float, seed: int = 0, self_connections: bool = True
) -> np.ndarray:
    """Erdos-Renyi mask with exactly ``round(density * n**2)`` connections, drawn from ``seed``.

    With ``self_connections`` the ``n`` diagonal entries are always on (a locality mask has them
    too) and the other connections are placed uniformly off the diagonal; without, all are placed
    off the diagonal and the diagonal is off.
    """
    n = _check_n(n)
    target = _check_density(density)
    m = int(round(target * n * n))
    off = n * n - n
    extra = m - n if self_connections else m
    if extra < 0 or extra > off:
        lo, hi = (n, n * n) if self_connections else (0, off)
        raise ValueError(
            f"density={density!r} gives {m} connections for n={n}; with "
            f"self_connections={self_connections} it must give {lo}..{hi}"
        )
    rng = np.random.default_rng(seed)
    flat_off = np.flatnonzero(~np.eye(n, dtype=bool))
    chosen = rng.choice(flat_off, size=extra, replace=False)
    mask = np.eye(n, dtype=bool) if self_connections else np.zeros((n, n), dtype=bool)
    mask.ravel()[chosen] = True
    return mask


def random_mask_like(mask: np.ndarray, seed: int = 0) -> np.ndarray:
    """A random mask with the same size, number of connections and diagonal rule as ``mask``.

    The diagonal is kept on when ``mask`` has every self-connection, else placed off entirely.
    """
    mask = np.asarray(mask, dtype=bool)
    n = mask.shape[0]
    self_connections = bool(np.diag(mask).all())
    if not self_connections and np.diag(mask).any():
        raise ValueError("mask has some but not all self-connections; cannot match its diagonal")
    return random_mask(n, density(mask), seed, self_connections)


KINDS = ("dense", "ring", "sheet", "random", "autapse")


def make_mask(
    kind: str,
    n: int,
    *,
    radius: float | None = None,
    density: float | None = None,
    periodic: bool = True,
    self_connections: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """Build a mask by name; ``ring``/``sheet`` take ``radius`` or ``density`` (exactly one).

    ``ring`` radius is the integer ``k``; ``random`` takes ``density`` only (use
    :func:`random_mask_like` or the sheet/ring density helpers to match a locality mask).
    """
    if kind not in KINDS:
        raise ValueError(f"kind={kind!r} is not one of {KINDS}")
    if kind == "dense":
        return dense_mask(n)
    if kind == "autapse":
        return autapse_mask(n)
    if kind == "random":
        if radius is not None or density is None:
            raise ValueError(f"kind='random' takes density, not radius (got radius={radius!r})")
        return random_mask(n, density, seed, self_connections)
    if (radius is None) == (density is None):
        raise ValueError(
            f"kind={kind!r} needs exactly one of radius and density "
            f"(got radius={radius!r}, density={density!r})"
        )
    if kind == "ring":
        if radius is None:
            k = ring_k_for_density(n, density, self_connections)
        elif float(radius) != int(radius):
            raise ValueError(f"radius={radius!r} must be an integer k for a ring")
        else:
            k = int(radius)
        return ring_mask(n, k, self_connections)
    if radius is None:
        radius = sheet_radius_for_density(n, density, periodic, self_connections)
    return sheet_mask(n, radius, periodic, self_connections)

"""Connectivity masks: densities, geometry (ring, torus), radius <-> density, random draws."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from agents import masks


def test_dense_and_autapse():
    assert masks.dense_mask(5).all() and masks.dense_mask(5).shape == (5, 5)
    np.testing.assert_array_equal(masks.autapse_mask(4), np.eye(4, dtype=bool))
    assert masks.density(masks.dense_mask(7)) == 1.0
    assert masks.density(masks.autapse_mask(8)) == 8 / 64


def test_ring_neighbourhoods_are_symmetric_and_wrap():
    n, k = 10, 2
    m = masks.ring_mask(n, k)
    np.testing.assert_array_equal(m, m.T)
    assert (m.sum(axis=1) == 2 * k + 1).all()
    # unit 0 hears units 8, 9, 0, 1, 2 (wrapping around)
    np.testing.assert_array_equal(np.flatnonzero(m[0]), [0, 1, 2, 8, 9])
    no_self = masks.ring_mask(n, k, self_connections=False)
    assert not np.diag(no_self).any() and (no_self.sum(axis=1) == 2 * k).all()


@pytest.mark.parametrize("n", [7, 10, 33])
@pytest.mark.parametrize("self_connections", [True, False])
def test_ring_density_helpers_match_the_mask(n, self_connections):
    for k in range(n // 2 + 1):
        m = masks.ring_mask(n, k, self_connections)
        assert masks.ring_density(n, k, self_connections) == masks.density(m)
        if masks.density(m) > 0:
            assert masks.ring_k_for_density(n, masks.density(m), self_connections) == k


def test_sheet_torus_distances():
    s = 5
    d2 = masks.sheet_sq_distance(s * s, periodic=True)
    flat = masks.sheet_sq_distance(s * s, periodic=False)

    def unit(r, c):
        return r * s + c

    assert d2[unit(0, 0), unit(0, 4)] == 1 and flat[unit(0, 0), unit(0, 4)] == 16
    assert d2[unit(0, 0), unit(4, 4)] == 2 and flat[unit(0, 0), unit(4, 4)] == 32
    assert d2[unit(1, 2), unit(3, 0)] == 8  # (2, 2) apart, no wrap shorter
    np.testing.assert_array_equal(d2, d2.T)


@pytest.mark.parametrize(
    "radius,count", [(0, 1), (1, 5), (math.sqrt(2), 9), (2, 13), (math.sqrt(5), 21)]
)
def test_sheet_periodic_neighbour_counts(radius, count):
    # lattice points within Euclidean radius r of the origin (Gauss circle counts)
    m = masks.sheet_mask(49, radius, periodic=True)
    assert (m.sum(axis=1) == count).all()
    np.testing.assert_array_equal(m, m.T)


def test_sheet_open_edges_have_fewer_neighbours():
    s = 6
    m = masks.sheet_mask(s * s, 1.0, periodic=False)
    assert m[0].sum() == 3  # corner: itself, right, below
    assert m[1].sum() == 4  # edge
    assert m[s + 1].sum() == 5  # interior
    np.testing.assert_array_equal(m, m.T)


@pytest.mark.parametrize("n", [16, 36, 64])
@pytest.mark.parametrize("periodic", [True, False])
@pytest.mark.parametrize("self_connections", [True, False])
def test_sheet_density_helpers_match_the_mask(n, periodic, self_connections):
    s = math.isqrt(n)
    radii2 = sorted({dx * dx + dy * dy for dx in range(s) for dy in range(s)})
    for r2 in radii2:
        r = math.sqrt(r2)
        m = masks.sheet_mask(n, r, periodic, self_connections)
        achieved = masks.density(m)
        assert masks.sheet_density(n, r, periodic, self_connections) == achieved
        if achieved > 0:
            back = masks.sheet_radius_for_density(n, achieved, periodic, self_connections)
            assert masks.density(masks.sheet_mask(n, back, periodic, self_connections)) == achieved


def test_make_mask_density_for_sheet_picks_nearest_achievable():
    # n = 64 torus: radius 1 -> 5/64, sqrt(2) -> 9/64; 0.1 is nearer 5/64 (0.078) than 9/64
    m = masks.make_mask("sheet", 64, density=0.1)
    assert masks.density(m) == 5 / 64


def test_sheet_needs_a_square():
    with pytest.raises(ValueError, match=re.escape("n=50 is not a perfect square")):
        masks.sheet_mask(50, 1.0)


@pytest.mark.parametrize("self_connections", [True, False])
def test_random_mask_exact_count_and_seeded(self_connections):
    n, dens = 40, 0.15
    a = masks.random_mask(n, dens, seed=3, self_connections=self_connections)
    assert a.sum() == round(dens * n * n)
    assert np.diag(a).all() if self_connections else not np.diag(a).any()
    np.testing.assert_array_equal(a, masks.random_mask(n, dens, 3, self_connections))
    assert not np.array_equal(a, masks.random_mask(n, dens, 4, self_connections))


def test_random_mask_like_matches_a_locality_mask():
    lm = masks.sheet_mask(100, 2.0)
    r = masks.random_mask_like(lm, seed=0)
    assert r.sum() == lm.sum() and np.diag(r).all()
    assert masks.density(r) == masks.density(lm)
    assert not np.array_equal(r, lm)


def test_random_mask_is_not_local():
    # off-diagonal edges are spread over all distances, unlike the sheet (ER, not local)
    n = 100
    r = masks.random_mask(n, 0.2, seed=1)
    d2 = masks.sheet_sq_distance(n)
    off = r & ~np.eye(n, dtype=bool)
    assert (d2[off] > 8).mean() > 0.5


def test_errors():
    with pytest.raises(ValueError, match=re.escape("density=0 must be in (0, 1]")):
        masks.random_mask(10, 0)
    with pytest.raises(ValueError, match=re.escape("with self_connections=True it must give")):
        masks.random_mask(10, 0.05)  # 5 connections < 10 diagonal entries
    with pytest.raises(ValueError, match=re.escape("needs exactly one of radius and density")):
        masks.make_mask("sheet", 16, radius=1.0, density=0.2)
    with pytest.raises(ValueError, match=re.escape("kind='torus' is not one of")):
        masks.make_mask("torus", 16)
    with pytest.raises(ValueError, match=re.escape("k=-1 must be an int >= 0")):
        masks.ring_mask(8, -1)

"""Ring geometry (modcog_env.ring) against TASKS.md §1 ("ring index", "bump")."""

from __future__ import annotations

import numpy as np
import pytest

from modcog_env import ring

TWO_PI = 2 * np.pi
# TASKS.md §1: at N=16, bump values by distance in positions 0..4 (times s), 4 decimals
TABLE_N16 = (0.8, 0.4852, 0.1083, 0.0089, 0.0003)


def test_preferred_angles():
    np.testing.assert_allclose(ring.preferred_angles(16), TWO_PI * np.arange(16) / 16)
    np.testing.assert_allclose(ring.preferred_angles(5), TWO_PI * np.arange(5) / 5)
    assert ring.preferred_angles(8).shape == (8,)


@pytest.mark.parametrize("k", range(16))
def test_bump_table_at_n16(k):
    """A stimulus on unit k: units at distance j (either side, wrapping) get TABLE_N16[j]."""
    phi = np.array([TWO_PI * k / 16])
    b = ring.bump(phi, 1.0, 16)
    assert b.shape == (1, 16)
    for j, value in enumerate(TABLE_N16):
        assert b[0, (k + j) % 16] == pytest.approx(value, abs=5e-5)
        assert b[0, (k - j) % 16] == pytest.approx(value, abs=5e-5)
    assert np.argmax(b[0]) == k


def test_bump_exact_formula_and_untruncated():
    """0.8 * s * exp(-d^2 / 2) with d = distance / (pi/8); nothing is cut to 0."""
    b = ring.bump(np.array([0.0]), 1.0, 16)[0]
    d = np.minimum(np.arange(16), 16 - np.arange(16)) * (TWO_PI / 16) / (np.pi / 8)
    np.testing.assert_allclose(b, 0.8 * np.exp(-0.5 * d**2), rtol=1e-12)
    assert b[8] == pytest.approx(0.8 * np.exp(-32.0), rel=1e-9)
    assert np.all(b > 0)


def test_bump_scales_with_strength():
    phi = np.array([0.0, TWO_PI * 3 / 16, TWO_PI * 9 / 16])
    s = np.array([1.0, 0.5, 0.18])
    b = ring.bump(phi, s, 16)
    one = ring.bump(phi, 1.0, 16)
    np.testing.assert_allclose(b, one * s[:, None], rtol=1e-12)
    assert b[1, 3] == pytest.approx(0.4, rel=1e-12)
    assert b[2, 9] == pytest.approx(0.8 * 0.18, rel=1e-12)
    np.testing.assert_allclose(ring.bump(phi, 0.0, 16), 0.0)


def test_bump_width_does_not_scale_with_n():
    """The divisor pi/8 is fixed: at N=32, two positions (pi/8) give the N=16 one-position value."""
    b32 = ring.bump(np.array([0.0]), 1.0, 32)[0]
    assert b32[2] == pytest.approx(TABLE_N16[1], abs=5e-5)
    assert b32[4] == pytest.approx(TABLE_N16[2], abs=5e-5)
    assert b32[1] == pytest.approx(0.8 * np.exp(-0.5 * 0.25), rel=1e-12)
    b8 = ring.bump(np.array([0.0]), 1.0, 8)[0]
    assert b8[1] == pytest.approx(TABLE_N16[2], abs=5e-5)


def test_bump_off_grid_and_wrapping():
    """phi between units 15 and 0: symmetric about the midpoint; phi near 2*pi equals phi near 0."""
    b = ring.bump(np.array([TWO_PI * 15.5 / 16]), 1.0, 16)[0]
    assert b[15] == pytest.approx(b[0], rel=1e-12)
    assert b[14] == pytest.approx(b[1], rel=1e-12)
    d = 0.5 * TWO_PI / 16 / (np.pi / 8)
    assert b[0] == pytest.approx(0.8 * np.exp(-0.5 * d * d), rel=1e-12)
    eps = 1e-3
    np.testing.assert_allclose(
        ring.bump(np.array([TWO_PI - eps]), 1.0, 16), ring.bump(np.array([-eps]), 1.0, 16),
        rtol=1e-9,
    )


def test_circular_distance():
    a = np.array([0.0, 0.1, 0.1, 3.0, 1.0])
    b = np.array([0.0, TWO_PI - 0.1, 0.3, 3.0 + np.pi, 1.0 + TWO_PI])
    want = np.array([0.0, 0.2, 0.2, np.pi, 0.0])
    np.testing.assert_allclose(ring.circular_distance(a, b), want, atol=1e-12)
    np.testing.assert_allclose(ring.circular_distance(b, a), want, atol=1e-12)


def test_circular_distance_range_and_symmetry():
    x = np.random.default_rng(0).uniform(-10, 10, size=(2, 1000))
    d = ring.circular_distance(x[0], x[1])
    np.testing.assert_allclose(d, ring.circular_distance(x[1], x[0]), atol=1e-12)
    assert np.all(d >= 0) and np.all(d <= np.pi + 1e-12)
    np.testing.assert_allclose(ring.circular_distance(x[0], x[0] + 2 * TWO_PI), 0.0, atol=1e-9)
    # broadcasting [B, 1] x [1, N]
    grid = ring.preferred_angles(16)[None]
    assert ring.circular_distance(x[0][:, None], grid).shape == (1000, 16)


def test_index_angle():
    np.testing.assert_allclose(ring.index_angle(np.array([0, 4, 8, 16, 17]), 16),
                               TWO_PI * np.array([0, 4, 8, 0, 1]) / 16)

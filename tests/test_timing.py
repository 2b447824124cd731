"""Period durations (modcog_env.timing) against TASKS.md §1 ("dt", "period")."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import modcog_env
from modcog_env import timing
from modcog_env.timing import Choice, Fixed, TimingWarning, TruncatedExponential, Uniform

# a fine, exact grid of uniforms on [0, 1): every value equally weighted
U_GRID = np.arange(30000) / 30000


def test_uniform_200_500_at_dt100_gives_2_3_4_equally():
    """§1 example: U[200, 500) at dt=100 yields 200, 300 or 400 ms, each 1/3, never 500."""
    s = timing.steps(Uniform(200, 500), 100, U_GRID)
    assert s.dtype == np.int64
    counts = np.bincount(s, minlength=6)
    assert counts[[0, 1, 5]].sum() == 0
    np.testing.assert_array_equal(counts[2:5], 10000)
    assert timing.steps(Uniform(200, 500), 100, np.array([0.0]))[0] == 2


@pytest.mark.parametrize("spec,dt", [(Uniform(200, 500), 100), (Uniform(200, 1200), 100),
                                     (Uniform(200, 500), 20)])
def test_uniform_never_reaches_high(spec, dt):
    """U[low, high) is half-open: the largest uniforms below 1 stay below ``high`` ms, so the step
    count never exceeds step_bounds()[1] (TASKS.md §1: "never 500")."""
    top = timing.step_bounds(spec, dt)[1]
    u = 1 - np.array([2.0**-53, 2.0**-40, 1e-10, 1e-9, 1e-6])
    s = timing.steps(spec, dt, u)
    assert np.all(s <= top), (s, top)


def test_match_delay_u200_1200_at_dt100():
    """§3.3: U[200, 1200) floored to dt=100: 2..11 steps, each 1/10."""
    s = timing.steps(Uniform(200, 1200), 100, U_GRID)
    counts = np.bincount(s, minlength=13)
    np.testing.assert_array_equal(counts[2:12], 3000)
    assert counts[[0, 1, 12]].sum() == 0


@pytest.mark.parametrize(
    "ms,dt,n",
    [(500, 100, 5), (0, 100, 0), (500, 20, 25), (250, 100, 2), (300, 100, 3), (700, 100, 7),
     (1100, 100, 11), (200, 50, 4), (900, 10, 90), (99, 100, 0)],
)
def test_fixed_floors_to_dt(ms, dt, n):
    """floor(d / dt) steps, robust to float round-off (0.3 / 0.1, 0.7 / 0.1 ...)."""
    np.testing.assert_array_equal(timing.steps(Fixed(ms), dt, np.zeros(3)), n)
    assert timing.step_bounds(Fixed(ms), dt) == (n, n)


def test_choice_uniform_over_values():
    spec = Choice(tuple(float(v) for v in range(0, 1200, 100)))
    s = timing.steps(spec, 100, U_GRID)
    np.testing.assert_array_equal(np.bincount(s, minlength=12), 2500)
    s20 = timing.steps(Choice((150.0, 250.0)), 100, U_GRID)
    np.testing.assert_array_equal(np.bincount(s20, minlength=3), [0, 15000, 15000])


@pytest.mark.parametrize(
    "spec,dt,bounds",
    [
        (Fixed(500), 100, (5, 5)),
        (Uniform(200, 500), 100, (2, 4)),
        (Uniform(200, 1200), 100, (2, 11)),
        (Uniform(200, 550), 100, (2, 5)),
        (Uniform(250, 500), 100, (2, 4)),
        (Uniform(200, 500), 20, (10, 24)),
        (Uniform(200, 500), 50, (4, 9)),
        (Choice((0.0, 100.0, 1100.0)), 100, (0, 11)),
        (Choice((500.0,)), 20, (25, 25)),
    ],
)
def test_step_bounds(spec, dt, bounds):
    """Computed from the spec, and equal to what sampling a fine grid of uniforms produces."""
    assert timing.step_bounds(spec, dt) == bounds
    s = timing.steps(spec, dt, U_GRID)
    assert (int(s.min()), int(s.max())) == bounds
    np.testing.assert_array_equal(timing.step_values(spec, dt), np.unique(s))


@pytest.mark.parametrize(
    "value,spec",
    [
        (500, Fixed(500.0)),
        (250.5, Fixed(250.5)),
        (np.int64(300), Fixed(300.0)),
        (("uniform", 200, 500), Uniform(200.0, 500.0)),
        (["uniform", 0, 1200.0], Uniform(0.0, 1200.0)),
        (("choice", [100, 200, 300]), Choice((100.0, 200.0, 300.0))),
        (("choice", (700,)), Choice((700.0,))),
        (("constant", 300), Fixed(300.0)),
        (Fixed(400), Fixed(400.0)),
        (Uniform(100, 200), Uniform(100.0, 200.0)),
        (Choice((1.0, 2.0)), Choice((1.0, 2.0))),
        # NeuroGym's notation (TrialEnv.timing / sample_time)
        (("uniform", (200, 500)), Uniform(200.0, 500.0)),
        (["uniform", [400, 600]], Uniform(400.0, 600.0)),
        ([100, 200, 300], Choice((100.0, 200.0, 300.0))),
        ((300, 400), Choice((300.0, 400.0))),
        (np.array([100.0, 500.0]), Choice((100.0, 500.0))),
        (["choice", [300, 400, 500]], Choice((300.0, 400.0, 500.0))),
        (["truncated_exponential", [400, 100, 500]], TruncatedExponential(400.0, 100.0, 500.0)),
        (("truncated_exponential", 400, 100, 500), TruncatedExponential(400.0, 100.0, 500.0)),
        (("truncated_exponential", [400, 500, 500]), Fixed(500.0)),  # min >= max: NeuroGym's max
        (TruncatedExponential(50, 0, 300), TruncatedExponential(50.0, 0.0, 300.0)),
    ],
)
def test_parse_spec_accepts(value, spec):
    assert timing.parse_spec(value, "timing['delay']") == spec


@pytest.mark.parametrize(
    "value",
    [
        "abc",
        None,
        True,
        -5,
        float("nan"),
        float("inf"),
        ("uniform", 5),
        ("uniform", 500, 200),
        ("uniform", 300, 300),
        ("uniform", "a", 300),
        ("choice", []),
        ("choice", [100, -1]),
        ("constant",),
        ("constant", -1),
        ("gaussian", 1, 2),
        {"low": 1},
        Fixed(-3),
        Uniform(5, 1),
        ("uniform", (200,)),
        ("until", 1000),
        ("truncated_exponential", [400, 100]),
        ("truncated_exponential", [-4, 100, 500]),
        [100, "a"],
        [],
        lambda: 300,
    ],
)
def test_parse_spec_rejects_naming_the_key(value):
    with pytest.raises(ValueError, match=re.escape("timing['delay']")):
        timing.parse_spec(value, "timing['delay']")


def test_task_timing_override():
    """A user override changes that period only, at any dt; bounds follow without sampling."""
    t = modcog_env.make_task("dlygo", timing={"delay": 300})
    tb = t.sample(0, range(20))
    np.testing.assert_array_equal(tb.stop["delay"] - tb.start["delay"], 3)
    np.testing.assert_array_equal(tb.length, 18)
    assert t.length_bounds() == (18, 18)
    t = modcog_env.make_task("dlygo", timing={"delay": ("uniform", 200, 500)}, dt=50)
    assert t.period_bounds()["delay"] == (4, 9)
    assert t.length_bounds() == (34, 39)
    tb = t.sample(0, range(3000))
    assert set(np.unique(tb.stop["delay"] - tb.start["delay"])) == set(range(4, 10))


def test_task_timing_errors():
    with pytest.raises(ValueError, match=re.escape("timing key 'delay' is not a period of 'rtgo'")):
        modcog_env.make_task("rtgo", timing={"delay": 100})
    with pytest.raises(ValueError, match=re.escape("timing['stimulus']")):
        modcog_env.make_task("go", timing={"stimulus": ("uniform", 9, 1)})
    with pytest.raises(ValueError, match=re.escape("decision period of 0 steps")):
        modcog_env.make_task("go", timing={"decision": 50})


# ------------------------------------------------------------------------------ NeuroGym notation
@pytest.mark.parametrize("task_name", modcog_env.ALL_TASKS[::5])
def test_neurogym_notation_round_trips(task_name):
    """``make_task(t, timing=<NeuroGym notation of t's timing>)`` rebuilds the same timing."""
    task = modcog_env.make_task(task_name, dt=20)
    notation = {p: timing.neurogym_notation(spec) for p, spec in task.timing.items()}
    assert all(not isinstance(v, (Fixed, Uniform, Choice)) for v in notation.values())
    again = modcog_env.make_task(task_name, dt=20, timing=notation)
    assert again.timing == task.timing


def test_truncated_exponential_matches_its_distribution():
    """Exp(mean) conditioned to [low, high), as NeuroGym's trunc_exp, floored to dt: the step
    frequencies over a fine grid of uniforms equal the exact probabilities."""
    spec, dt = TruncatedExponential(400, 100, 500), 100
    assert timing.step_bounds(spec, dt) == (1, 4)
    s = timing.steps(spec, dt, U_GRID)
    cdf = lambda x: (1 - np.exp(-(x - 100) / 400)) / (1 - np.exp(-400 / 400))  # noqa: E731
    exact = [cdf(min((n + 1) * dt, 500)) - cdf(max(n * dt, 100)) for n in range(1, 5)]
    np.testing.assert_allclose(np.bincount(s, minlength=5)[1:] / U_GRID.size, exact, atol=1e-4)
    top = timing.steps(spec, dt, 1 - np.array([2.0**-53, 1e-12]))
    assert np.all(top == 4)  # 500 ms itself is excluded
    np.testing.assert_array_equal(timing.step_values(spec, dt), [1, 2, 3, 4])


def _timing_warnings(build) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")  # Python's default: each distinct message once
        build()
    return [str(w.message) for w in caught if issubclass(w.category, TimingWarning)]


def test_value_off_the_dt_grid_warns_once_naming_what_it_becomes():
    """A delay of 50 ms at dt=100 is floored to 0 steps (dlygo plays as go): one warning says so,
    however many tasks are built with it."""
    msgs = _timing_warnings(
        lambda: [modcog_env.make_task("dlygo", timing={"delay": 50}) for _ in range(3)]
    )
    assert msgs == [
        "timing['delay']=50 ms is not a multiple of dt=100 ms: it becomes 0 ms "
        "(durations are floored to whole steps)"
    ]
    assert modcog_env.make_task("dlygo", timing={"delay": 50}).period_bounds()["delay"] == (0, 0)
    msgs = _timing_warnings(
        lambda: modcog_env.make_task("dms", timing={"delay": ("choice", [150, 300, 1050])})
    )
    assert [m.split(":")[1].strip() for m in msgs] == [
        "choice 150 ms is not a multiple of dt=100 ms",
        "choice 1050 ms is not a multiple of dt=100 ms",
    ]
    assert "it becomes 100 ms" in msgs[0] and "it becomes 1000 ms" in msgs[1]
    msgs = _timing_warnings(
        lambda: modcog_env.make_task("dm1", timing={"fixation": ("uniform", (250, 500))})
    )
    assert len(msgs) == 1 and "bound(s) 250 ms" in msgs[0]
    assert "the period lasts 200 to 400 ms" in msgs[0]


@pytest.mark.parametrize("dt", [10, 20, 50, 100])
def test_values_on_the_dt_grid_do_not_warn(dt):
    assert not _timing_warnings(
        lambda: modcog_env.make_task(
            "dms", dt=dt, timing={"delay": ("uniform", (200, 1200)), "test": [300, 500]}
        )
    )

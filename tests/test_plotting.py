"""Trial figures (modcog_env/plotting.py): axes, saved PNG, period boundaries, label and mask."""

import re
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")  # tests draw without a display

import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from modcog_env import make_task  # noqa: E402
from modcog_env.plotting import (  # noqa: E402
    BOUNDARY_GID,
    MissingDependency,
    plot_family_grid,
    plot_trial,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FAMILY_TASKS = ["dlygo", "dlydm1", "dms"]  # go, dm, match


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def one_trial(name, dt=100, seed=3, index=5):
    return make_task(name, dt=dt).sample(seed, [index]).trial(0)


def nonempty_periods(trial):
    return {p: (a, trial.stop[p]) for p, a in trial.start.items() if trial.stop[p] > a}


def boundary_xs(ax):
    return sorted(float(line.get_xdata()[0]) for line in ax.lines if line.get_gid() == BOUNDARY_GID)


@pytest.mark.parametrize("name", FAMILY_TASKS)
def test_figure_axes_and_png(name, tmp_path):
    trial = one_trial(name)
    path = tmp_path / "sub" / f"{name}.png"
    plt.close("all")  # figures other test modules left open (e.g. NeuroGym's Monitor)
    fig = plot_trial(trial, path=path)
    assert isinstance(fig, Figure)
    assert not plt.get_fignums()  # a figure saved to a path bypasses pyplot
    ax_ob, ax_label, ax_mask, _cbar = fig.axes
    assert path.read_bytes().startswith(PNG_MAGIC) and path.stat().st_size > 5000
    # heatmap: channels x time, x axis in ms
    (image,) = ax_ob.images
    np.testing.assert_array_equal(image.get_array(), trial.ob.T)
    assert image.get_extent()[:2] == [0.0, trial.length * trial.dt]
    ticks = " ".join(t.get_text() for t in ax_ob.get_yticklabels())
    assert "fixation" in ticks and "ring 1" in ticks and "ring 2" in ticks
    assert ax_mask.get_xlabel() == "time (ms)"


@pytest.mark.parametrize("name", FAMILY_TASKS + ["go", "rtgo"])
@pytest.mark.parametrize("dt", [100, 20])
def test_period_boundaries_at_start_times(name, dt):
    trial = one_trial(name, dt=dt)
    fig = plot_trial(trial)
    periods = nonempty_periods(trial)
    expected = sorted(a * dt for a, _ in periods.values() if a > 0)
    assert len(expected) == len(periods) - 1
    for ax in fig.axes[:3]:
        assert boundary_xs(ax) == pytest.approx(expected)
    # each non-empty period is named once above the heatmap, centred on its span
    texts = {t.get_text(): t.get_position()[0] for t in fig.axes[0].texts}
    assert set(texts) == set(periods)
    for p, (a, b) in periods.items():
        assert texts[p] == pytest.approx((a + b) / 2 * dt)


def test_go_trial_hides_empty_delay():
    # go has a 0 ms delay (TASKS.md §3.1): no name and no duplicate boundary for it
    trial = one_trial("go")
    assert trial.start["delay"] == trial.stop["delay"]
    fig = plot_trial(trial)
    assert "delay" not in {t.get_text() for t in fig.axes[0].texts}
    assert boundary_xs(fig.axes[0]) == [500.0, 1000.0]


@pytest.mark.parametrize("name", FAMILY_TASKS + ["dlygoseqr"])
def test_label_actions_and_mask(name):
    batch = make_task(name).sample(0, range(8))
    row = int(np.flatnonzero(batch.params["go"])[0])
    trial = batch.trial(row)
    actions = np.where(trial.decision, 0, trial.label)  # a policy that never responds
    fig = plot_trial(batch, index=row, actions=actions)
    assert fig.axes[0].get_title().startswith(f"{name}: trial {trial.index}")
    lines = [ln for ln in fig.axes[1].lines if ln.get_gid() != BOUNDARY_GID]
    label_line, action_line = lines
    n = trial.length
    np.testing.assert_array_equal(label_line.get_ydata()[:n], trial.label)
    np.testing.assert_array_equal(label_line.get_xdata()[:n], np.arange(n) * trial.dt)
    np.testing.assert_array_equal(action_line.get_ydata()[:n], actions)
    # decision mask: the filled area covers exactly [decision start, end) in ms
    (fill,) = [c for c in fig.axes[2].collections if isinstance(c, PolyCollection)]
    verts = np.concatenate([p.vertices for p in fill.get_paths()])
    x_up = verts[verts[:, 1] > 0.5, 0]
    assert x_up.min() == pytest.approx(trial.start["decision"] * trial.dt)
    assert x_up.max() == pytest.approx(trial.length * trial.dt)


def test_draws_into_given_axes_and_infers_ring_size():
    trial = make_task("dm1", dim_ring=8).sample(1, [0]).trial(0)
    fig = Figure()
    axes = fig.subplots(3, 1)
    assert plot_trial(trial, ax=axes, title="custom") is fig
    assert len(fig.axes) == 3
    assert axes[0].get_title() == "custom"
    ticks = [t.get_text() for t in axes[0].get_yticklabels()]
    assert "ring 1\n(ch 1-8)" in ticks and "ring 2\n(ch 9-16)" in ticks
    with pytest.raises(ValueError, match=re.escape("ax must hold 3 Axes")):
        plot_trial(trial, ax=axes[:2])


def test_bad_inputs():
    trial = one_trial("dlygo")
    with pytest.raises(ValueError, match=re.escape("must be a Trial or a TrialBatch")):
        plot_trial(trial.ob)
    with pytest.raises(ValueError, match=re.escape("actions has 21 entries")):
        plot_trial(trial, actions=np.zeros(21, int), ax=Figure().subplots(3, 1))


def test_family_grid(tmp_path):
    trials = [one_trial(n) for n in FAMILY_TASKS]
    path = tmp_path / "grid.png"
    fig = plot_family_grid(trials, path, ncols=3, titles=["a", "b", "c"])
    assert path.read_bytes().startswith(PNG_MAGIC)
    assert len(fig.axes) == 4 * len(trials)
    titles = sorted(ax.get_title() for ax in fig.axes if ax.get_title())
    assert titles == ["a", "b", "c"]
    with pytest.raises(ValueError, match=re.escape("titles has 1 entries for 3 trials")):
        plot_family_grid(trials, titles=["a"])


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=re.escape("pip install modcog-env[plot]")) as err:
        plot_trial(one_trial("dlygo"))
    assert isinstance(err.value, MissingDependency)

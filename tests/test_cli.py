"""The ``modcog`` command line (agents/cli.py over modcog_env/cli.py): list, show, bench, errors.

The commands that need torch (train, eval, demo) are tested in tests/agents/test_cli_train.py.

Expected lengths come from TASKS.md §3 and §8.1 (steps at dt=100 unless stated).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agents.cli import main  # the full `modcog` command (suite + agents)
from modcog_env import ALL_TASKS, BASES, gym_id

ROOT = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def table_rows(text):
    """{name: cells} of the rows under the first ``---`` rule of a printed table."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("---"))
    rows = {}
    for line in lines[first + 1 :]:
        cells = line.split()
        if len(cells) < 5 or not cells[1].startswith("ModCog-"):
            break
        rows[cells[0]] = cells
    return rows


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_default_is_the_20_bases(capsys):
    code, out, _ = run(capsys, "list")
    assert code == 0
    rows = table_rows(out)
    assert list(rows) == list(BASES)  # 20-cog order
    for name, cells in rows.items():
        assert cells[1] == gym_id(name)
    # name, id, family, length min..max, decision min..max (TASKS.md §8.1, modcog)
    assert rows["dlygo"][2:5] == ["go", "20..20", "5..5"]
    assert rows["go"][3] == "15..15"
    assert rows["rtanti"][3] == "10..10"
    assert rows["dm1"][2:5] == ["dm", "9..11", "2..2"]
    assert rows["multidlydm"][3:5] == ["19..21", "2..2"]
    assert rows["dms"][2:5] == ["match", "24..33", "9..9"]


def test_list_mod_cog_126(capsys):
    code, out, _ = run(capsys, "list", "--collection", "mod-cog-126")
    assert code == 0
    rows = table_rows(out)
    assert len(rows) == 126
    assert set(rows) == set(ALL_TASKS)
    assert rows["dlygointrseql"][3:5] == ["20..31", "10..10"]
    assert rows["dmsintr"][3:5] == ["22..33", "9..9"]
    assert rows["rtgoseqr"][3:5] == ["10..10", "5..5"]
    assert rows["dnmcseql"][3:5] == ["25..34", "10..10"]


def test_list_convention_and_dt(capsys):
    _, out, _ = run(capsys, "list", "--convention", "reference")
    assert table_rows(out)["go"][3] == "20..20"  # reference keeps the 500 ms delay (§2.2b)
    _, out, _ = run(capsys, "list", "--dt", "50")
    rows = table_rows(out)
    assert rows["dlygo"][3:5] == ["40..40", "10..10"]
    assert rows["dm1"][3] == "18..23"  # fixation U[200, 500) at dt=50: 4..9 steps, + 10 + 4


def test_show_writes_png(capsys, tmp_path):
    pytest.importorskip("matplotlib")
    out_png = tmp_path / "tmp" / "x.png"
    code, out, err = run(capsys, "show", "dlygo", "--out", str(out_png))
    assert code == 0, err
    assert out.strip() == str(out_png)
    assert out_png.read_bytes().startswith(PNG_MAGIC)


def test_show_accepts_gym_id_and_default_path(capsys, tmp_path, monkeypatch):
    pytest.importorskip("matplotlib")
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, "show", "ModCog-DMS-v0", "--seed", "4", "--index", "7")
    assert code == 0, err
    path = Path(out.strip())
    assert path.parts[0] == "outputs" and "dms" in path.name
    assert (tmp_path / path).stat().st_size > 0


def bench_rows(text):
    """{what: (setting, trials/s, ms/call, steps/s)} of the ``modcog bench`` table."""
    lines = text.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("---"))
    rows = {}
    for line in lines[first + 1 :]:
        cells = re.split(r"\s{2,}", line.strip())
        if len(cells) != 5:
            break
        rows[cells[0]] = (cells[1], *(float(c.replace(",", "")) for c in cells[2:]))
    return rows


def test_bench_quick_reports_consistent_rates(capsys):
    code, out, err = run(capsys, "bench", "--quick")
    assert code == 0, err
    rows = bench_rows(out)
    assert list(rows) == ["sampler dlygo", "sampler dm1", "sampler dms", "Batches stream",
                          "Batches trial", "vector env"]
    for what, (_, trials, ms, steps) in rows.items():
        assert trials > 0 and ms > 0 and steps > 0, what
    # dlygo trials are 20 steps long (TASKS.md §8.1), so steps/s = 20 x trials/s
    assert rows["sampler dlygo"][3] / rows["sampler dlygo"][1] == pytest.approx(20, rel=1e-3)
    # dm1 lasts 9..11 steps, dms 24..33 steps
    assert 9 <= rows["sampler dm1"][3] / rows["sampler dm1"][1] <= 11
    assert 24 <= rows["sampler dms"][3] / rows["sampler dms"][1] <= 33
    # a stream window is rows x 350 steps: steps/s x s/call gives it back
    setting, _, ms, steps = rows["Batches stream"]
    n_rows = int(re.search(r"(\d+) rows x 350", setting).group(1))
    assert steps * ms / 1000 == pytest.approx(n_rows * 350, rel=0.01)
    setting, _, ms, steps = rows["vector env"]
    n_envs = int(re.search(r"(\d+) envs", setting).group(1))
    assert steps * ms / 1000 == pytest.approx(n_envs, rel=0.01)  # one env step per row and call
    assert "benchmarks/bench_tasks.py" in out


def test_suite_cli_runs_without_agents():
    from modcog_env.cli import main as suite_main

    assert suite_main(["list", "--collection", "20-cog"]) == 0
    assert suite_main(["train"]) == 2  # not a command of the task suite's parser


def test_cli_import_does_not_load_agents_or_torch():
    code = ("import sys, modcog_env.cli; "
            "print(sorted(m for m in ('agents', 'torch', 'matplotlib') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["show", "dlygoo"], "task='dlygoo' is not a task name; did you mean 'dlygo'"),
        (["show", "goint"], "task='goint' is not a task name"),
        (["list", "--collection", "modcog-126"], "did you mean 'mod-cog-126'?"),
        (["list", "--dt", "30"], "dt=30 must divide 100 ms"),
        (["list", "--convention", "yang2020"], "did you mean 'yang2019'?"),
        (["demo", "--convention", "referense"], "did you mean 'reference'?"),
        (["train", "--tasks", "go", "dlygoo"], "task='dlygoo' is not a task name; did you mean"),
        (["train", "--collection", "modcog-82"], "did you mean 'mod-cog-82'?"),
    ],
)
def test_bad_values_exit_2_with_message(capsys, argv, fragment):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert re.search(re.escape(fragment), err), err
    assert "Traceback" not in err and out == ""


def test_argparse_errors_return_codes(capsys):
    assert main(["train", "--hidden", "0"]) == 2
    assert "must be >= 1" in capsys.readouterr().err
    assert main(["bench", "--seed", "-1"]) == 2
    assert "must be >= 0" in capsys.readouterr().err
    assert main(["train", "--agent", "lstm"]) == 2
    assert "invalid choice: 'lstm'" in capsys.readouterr().err
    assert main(["train", "--radius", "2", "--density", "0.2"]) == 2
    assert "not allowed with argument" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2
    assert main([]) == 2
    assert main(["--version"]) == 0
    assert "modcog-env" in capsys.readouterr().out


def test_python_dash_m_entry_point():
    done = subprocess.run(
        [sys.executable, "-m", "modcog_env", "list", "--collection", "mod-cog-82"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert len(table_rows(done.stdout)) == 82


def test_quickstart_example_runs(tmp_path):
    pytest.importorskip("matplotlib")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "outcome: correct | performance: 1.0" in done.stdout
    assert "ob (64, " in done.stdout
    assert (tmp_path / "outputs" / "quickstart_dms.png").stat().st_size > 0

"""Sweeps: grid expansion and run names, run states and locks, kill-and-resume on the local pool,
failing runs, the same results on the ray and slurm (submitit) backends, aggregation on
synthetic logs with known answers, figures re-plotted from the CSVs alone."""

from __future__ import annotations

import csv
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("torch")

import agents  # noqa: E402
from agents.sweep_results import WALL_COLUMNS, group_rows, report, summarize_run  # noqa: E402
from agents.sweeps import (  # noqa: E402
    STARTS,
    Sweep,
    expand,
    load_results,
    lock_holder,
    make_runs,
    read_spec,
    run_one,
    run_state,
)

REPO = Path(agents.__file__).resolve().parent.parent
SPEC = """
[sweep]
name = "tiny"
out = "{out}"
[base]
tasks = ["go", "anti"]
hidden_size = 16
batch_size = 4
seq_len = 20
steps = 40
eval_interval = 10
eval_trials = 8
log_interval = 10
ckpt_interval = 10
[grid]
model = ["dense", "autapse"]
seed = [0, 1]
[report]
at_timesteps = [1600]
"""
FAILING = {"model": "lm-rnn", "hidden_size": 15}  # not a perfect square: the sheet raises


def write_spec(folder: Path, out: Path) -> Path:
    path = folder / "spec.toml"
    path.write_text(SPEC.format(out=out))
    return path


def spec_sweep(spec: Path, out: Path | None = None) -> Sweep:
    """The spec's 2 x 2 grid plus one run whose config raises (in the trainer)."""
    s = read_spec(spec)
    configs = expand(s["base"], s["grid"]) + expand({**s["base"], **FAILING})
    return Sweep(out=out or s["sweep"]["out"], configs=configs, name="tiny",
                 report=s.get("report"))


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def without_wall(table: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k not in WALL_COLUMNS} for r in table]


def file_mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


# ------------------------------------------------------------------------------------ grid, names
def test_expand_crosses_cases_with_grid_and_validates():
    configs = expand({"tasks": ["go"], "steps": 3}, {"seed": [0, 1, 2]},
                     cases=[{"model": "dense"}, {"model": "autapse", "hidden_size": 64}])
    assert len(configs) == 6
    assert [(c["model"], c["seed"]) for c in configs[:3]] == [("dense", 0), ("dense", 1),
                                                              ("dense", 2)]
    assert {c["hidden_size"] for c in configs if c["model"] == "autapse"} == {64}
    assert all(c["steps"] == 3 for c in configs)
    with pytest.raises(ValueError, match=re.escape("grid['seed']=3 must be a non-empty list")):
        expand({}, {"seed": 3})
    with pytest.raises(ValueError, match="unknown TrainConfig keys"):
        expand({}, {"sed": [1]})
    with pytest.raises(ValueError, match=re.escape("model='rnn' is not one of")):
        expand({}, {"model": ["rnn"]})


def test_run_names_are_readable_hashed_and_unique(tmp_path):
    configs = expand({"tasks": ["go"]}, {"hidden_size": [16, 25], "seed": [0, 1]})
    runs = make_runs(configs, tmp_path)
    names = [r.name for r in runs]
    assert len(set(names)) == 4
    assert re.fullmatch(r"n16_seed0-[0-9a-f]{8}", names[0])
    # seed-major order: both sizes of seed 0 first
    assert [r.config["seed"] for r in runs] == [0, 0, 1, 1]
    assert all(r.folder == tmp_path / "runs" / r.name for r in runs)
    # the hash sees every identifying field, not only the axes, and ignores the volatile ones
    other = make_runs(expand({"tasks": ["go"], "lr": 0.01},
                             {"hidden_size": [16, 25], "seed": [0, 1]}), tmp_path)
    assert [r.name.split("-")[0] for r in other] == [n.split("-")[0] for n in names]
    assert not set(r.name for r in other) & set(names)
    same = make_runs(expand({"tasks": ["go"], "num_threads": 4, "out_dir": "x"},
                            {"hidden_size": [16, 25], "seed": [0, 1]}), tmp_path)
    assert [r.name for r in same] == names
    # an existing folder keeps its name when the sweep grows (the slug of a new run may differ)
    runs[0].folder.mkdir(parents=True)
    grown = make_runs(configs + expand({"tasks": ["go"], "lr": 0.5}), tmp_path)
    assert grown[0].name == names[0] and grown[1].name != names[1]
    assert grown[1].name.endswith(names[1].split("-")[-1])
    # a field at its default does not enter the hash (TrainConfig may grow fields)
    from agents.sweeps import config_hash

    assert config_hash({**configs[0], "activation": "tanh"}) != config_hash(configs[0])
    trimmed = {k: v for k, v in configs[0].items() if k != "activation"}  # default "relu"
    assert config_hash(trimmed) == config_hash(configs[0])
    with pytest.raises(ValueError, match="are identical"):
        make_runs(configs + configs[:1], tmp_path)


def test_spec_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[base]\nsteps = 3\n[grids]\nseed = [0]\n")
    with pytest.raises(ValueError, match=re.escape("unknown sections ['grids']")):
        read_spec(bad)
    no_out = tmp_path / "no_out.toml"
    no_out.write_text("[base]\nsteps = 3\n")
    with pytest.raises(ValueError, match="has no \\[sweep\\] out"):
        Sweep.from_spec(no_out)
    assert Sweep.from_spec(no_out, out=tmp_path / "s").root == tmp_path / "s"
    nulls = tmp_path / "nulls.toml"
    nulls.write_text('[base]\nmodel = "lm-rnn"\nradius = "none"\n[grid]\ndensity = [0.1, 0.2]\n')
    runs = Sweep.from_spec(nulls, out=tmp_path / "n").runs
    assert [(r.config["radius"], r.config["density"]) for r in runs] == [(None, 0.1), (None, 0.2)]


# ------------------------------------------------------------------------------------ states
def test_states_and_lock_probe(tmp_path):
    run = make_runs(expand({"tasks": ["go"]}), tmp_path)[0]
    assert run_state(run.folder) == "pending"
    run.folder.mkdir(parents=True)
    lock = run.folder / "run.lock"  # the trainer's lock (run-safety): a live flock = running
    fd = os.open(lock, os.O_RDWR | os.O_CREAT)
    os.write(fd, b"4242\n")
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        assert lock_holder(run.folder) == 4242
        assert run_state(run.folder) == "running"
    finally:
        os.close(fd)
    assert lock_holder(run.folder) is None  # a stale lock file is not a live run
    (run.folder / "error.json").write_text("{}")
    assert run_state(run.folder) == "failed"
    (run.folder / "result.json").write_text("{}")
    assert run_state(run.folder) == "done"


def test_run_one_records_a_failing_config(tmp_path):
    run = make_runs(expand({"tasks": ["go"], "model": "lm-rnn", "hidden_size": 15,
                            "steps": 2}), tmp_path)[0]
    record = run_one(str(run.folder), run.config, 1)
    assert record["status"] == "failed"
    assert record["error"]["type"] == "ValueError"
    assert "perfect square" in record["error"]["message"]
    saved = json.loads((run.folder / "error.json").read_text())
    assert "Traceback" in saved["error"]["traceback"]
    assert run_state(run.folder) == "failed"
    assert Sweep({"tasks": ["go"], "model": "lm-rnn", "hidden_size": 15, "steps": 2},
                 out=tmp_path).todo() == []  # failed runs wait for --retry-failed


# ------------------------------------------------------------------------------------ local pool
@pytest.fixture(scope="module")
def killed_sweep(tmp_path_factory):
    """The tiny sweep on 2 local workers, SIGKILLed after its first finished run, then rerun."""
    root = tmp_path_factory.mktemp("sweep")
    spec = write_spec(root, root / "local")
    sweep = spec_sweep(spec)
    sweep.write_index()
    env = {**os.environ, "OMP_NUM_THREADS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    configs = root / "configs.json"
    configs.write_text(json.dumps([r.config for r in sweep.runs]))
    code = ("import json, sys; from agents.sweeps import Sweep; "
            "Sweep(out=sys.argv[2], configs=json.load(open(sys.argv[1]))).run("
            "'local', workers=2, threads=1, progress=False)")
    log = open(root / "first.log", "w")
    proc = subprocess.Popen([sys.executable, "-c", code, str(configs), str(sweep.root)],
                            env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    while not any((r.folder / "result.json").exists() for r in sweep.runs):
        assert proc.poll() is None, (root / "first.log").read_text()
        assert time.monotonic() < deadline, "no run finished in 240 s"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver and its pool workers, as a node crash
    proc.wait()
    log.close()
    while True:  # until every process of the group is gone (their locks with them)
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            break
        assert time.monotonic() < deadline + 30, "killed workers did not exit"
        time.sleep(0.02)
    at_kill = sweep.states()
    done = [r for r in sweep.runs if at_kill[r.name] == "done"]
    mtimes = {r.name: file_mtimes(r.folder) for r in done}
    with_ckpt = {r.name for r in sweep.runs
                 if at_kill[r.name] == "pending" and (r.folder / "ckpt.pt").exists()}
    starts_before = (sweep.root / "runs" / STARTS).read_text().splitlines()
    time.sleep(0.05)  # so that any rewrite would show in mtime_ns
    records = sweep.run("local", workers=2, threads=1, progress=False)
    paths = report(sweep, figures=False)
    return dict(sweep=sweep, spec=spec, at_kill=at_kill, done=done, mtimes=mtimes,
                with_ckpt=with_ckpt, starts_before=starts_before, records=records, paths=paths)


def test_rerun_after_sigkill_runs_only_unfinished(killed_sweep):
    sweep, at_kill = killed_sweep["sweep"], killed_sweep["at_kill"]
    unfinished = {n for n, s in at_kill.items() if s == "pending"}
    assert killed_sweep["done"] and unfinished, at_kill
    starts = [json.loads(x) for x in (sweep.root / "runs" / STARTS).read_text().splitlines()]
    rerun = starts[len(killed_sweep["starts_before"]):]
    assert sorted(s["run"] for s in rerun) == sorted(unfinished)  # each unfinished run once
    for s in rerun:
        assert s["resume"] == (s["run"] in killed_sweep["with_ckpt"])
    for r in killed_sweep["done"]:  # finished folders untouched
        assert file_mtimes(r.folder) == killed_sweep["mtimes"][r.name]
    assert {r["name"] for r in killed_sweep["records"]} == unfinished


def test_failing_run_is_reported_and_the_rest_finish(killed_sweep):
    sweep = killed_sweep["sweep"]
    states = sweep.states()
    failing = [r for r in sweep.runs if r.config["model"] == "lm-rnn"]
    assert [states[r.name] for r in failing] == ["failed"]
    assert sum(s == "done" for s in states.values()) == len(sweep.runs) - 1
    summary = {r["run"]: r for r in rows(killed_sweep["paths"]["summary"])}
    assert summary[failing[0].name]["error"].startswith("ValueError: n=15 is not a perfect")
    for r in sweep.runs:
        if r.config["model"] != "lm-rnn":
            assert summary[r.name]["last_step"] == "40"
            assert summary[r.name]["state"] == "done"


def test_status_cli(killed_sweep, capsys):
    from agents.sweep_cli import main

    assert main([str(killed_sweep["spec"]), "--status"]) == 0
    out = capsys.readouterr().out
    # the spec alone is the 2 x 2 grid without the failing run: all done
    assert out.strip().endswith("4 runs: 4 done, 0 running, 0 failed, 0 pending")


@pytest.mark.parametrize("backend, options", [
    ("ray", {}),
    ("slurm", {"cluster": "debug", "poll_s": 0.1}),  # submitit's DebugExecutor: in this process
])
def test_backends_give_the_same_results(killed_sweep, backend, options, tmp_path):
    pytest.importorskip({"ray": "ray", "slurm": "submitit"}[backend])
    sweep = spec_sweep(killed_sweep["spec"], tmp_path / backend)
    sweep.run(backend, workers=2, threads=1, progress=False, **options)
    paths = report(sweep, figures=False)
    local = killed_sweep["paths"]
    assert without_wall(rows(paths["summary"])) == without_wall(rows(local["summary"]))
    assert rows(paths["tidy"]) == rows(local["tidy"])


# ------------------------------------------------------------------------------------ aggregation
def eval_line(step: int, acc: float, tasks: dict | None = None) -> dict:
    mean = {"decision_accuracy": acc, "last_step_accuracy": acc / 2, "trial_correct": acc / 4}
    return {"kind": "eval", "step": step, "samples": 0, "mean": mean,
            "tasks": tasks or {"go": mean}}


def test_summarize_run_known_answers():
    config = {"criterion_metric": "decision_accuracy", "criterion": 0.8, "batch_size": 4,
              "seq_len": 10}
    evals = [eval_line(0, 0.1), eval_line(10, 0.5), eval_line(20, 0.85), eval_line(30, 0.7)]
    s = summarize_run(config, evals, at_timesteps=[500, 0, 5])
    assert s["steps_to_criterion"] == 20
    assert s["samples_to_criterion"] == 80
    assert s["timesteps_to_criterion"] == 800
    assert s["final_decision_accuracy"] == 0.7 and s["best_decision_accuracy"] == 0.85
    assert s["best_trial_correct"] == 0.85 / 4
    assert s["decision_accuracy_at_500"] == 0.5  # step 10 = 400 timesteps; step 20 = 800
    assert s["decision_accuracy_at_0"] == 0.1 and s["decision_accuracy_at_5"] == 0.1
    assert summarize_run(config, evals[:2])["steps_to_criterion"] is None
    assert summarize_run(config, evals, criterion=0.45)["steps_to_criterion"] == 10


def test_group_spread_known_answers():
    summary = [{"model": "a", "seed": i, "state": "done", "steps_to_criterion": v,
                "final_decision_accuracy": f}
               for i, (v, f) in enumerate([(100, 0.9), (200, 0.8), (None, 0.5)])]
    summary.append({"model": "b", "seed": 0, "state": "failed", "steps_to_criterion": None})
    groups = {g["model"]: g for g in group_rows(summary, ["model"])}
    a = groups["a"]
    assert (a["n"], a["n_done"], a["reached"]) == (3, 3, 2)
    assert a["steps_to_criterion_mean"] == 150
    assert a["steps_to_criterion_sd"] == pytest.approx(70.7106781, rel=1e-6)
    assert (a["steps_to_criterion_min"], a["steps_to_criterion_max"]) == (100, 200)
    assert a["final_decision_accuracy_mean"] == pytest.approx(2.2 / 3)
    assert a["final_decision_accuracy_sd"] == pytest.approx(0.2081666, rel=1e-6)
    assert (groups["b"]["n"], groups["b"]["n_done"], groups["b"]["reached"]) == (1, 0, 0)
    from agents.sweep_results import groups_markdown

    table = groups_markdown(list(groups.values()), ["model"]).splitlines()
    assert table[2].startswith("| a | 3/3 | 2 | 150 ± 71 (100-200) | 0.733 ± 0.208 (0.500-0.900) |")
    assert table[3] == "| b | 0/1 | 0 |  |  |  |"


def test_report_on_synthetic_folders_and_replot_from_csvs(tmp_path):
    pytest.importorskip("matplotlib")
    from agents.sweep_figures import final_table, plot_all

    sweep = Sweep({"tasks": ["go", "anti"], "batch_size": 2, "seq_len": 5, "criterion": 0.6},
                  {"density": [0.1, 0.5], "seed": [0, 1]}, tmp_path / "s",
                  cases=[{"model": "lm-rnn", "radius": None}], report={"x": "density"})
    for i, run in enumerate(sweep.runs):
        run.folder.mkdir(parents=True)
        accs = [0.2, 0.4 + 0.1 * i, 0.9]
        lines = [eval_line(10 * k, a, {"go": {"decision_accuracy": a}, "anti": {
            "decision_accuracy": a / 2}}) for k, a in enumerate(accs)]
        (run.folder / "metrics.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
        (run.folder / "result.json").write_text(json.dumps({"params": 7, "wall_s": 1.0}))
    paths = report(sweep)
    summary = load_results(paths["summary"])
    records = summary.to_dict("records") if hasattr(summary, "to_dict") else summary
    # run i reaches 0.6 at step 10 when 0.4 + 0.1 i >= 0.6 (i >= 2), else at step 20
    expect = {r.name: (10 if i >= 2 else 20) for i, r in enumerate(sweep.runs)}
    assert {r["run"]: r["steps_to_criterion"] for r in records} == expect
    assert all(r["params"] == 7 and r["state"] == "done" for r in records)
    tidy = load_results(paths["tidy"])
    n_tidy = len(tidy)
    assert n_tidy == 4 * 3 * (1 * 3 + 2)  # runs x evals x (mean: 3 metrics + 2 tasks x 1)
    tasks, labels, values = final_table(paths["tidy"], ["density"])
    assert tasks == ["go", "anti"] and labels == ["d0.1", "d0.5"]  # the log's task order
    assert values == [[0.9, 0.9], [0.45, 0.45]]
    for name in ("curves", "heatmap_decision_accuracy", "criterion"):
        assert paths[name].stat().st_size > 0
    # figures from the CSVs alone: remove the run folders and plot again elsewhere
    for run in sweep.runs:
        for f in run.folder.iterdir():
            f.unlink()
    again = plot_all(paths["tidy"], paths["summary"], tmp_path / "again", ["density"],
                     x="density")
    assert sorted(p.name for p in again.values()) == sorted(p.name for k, p in paths.items()
                                                             if p.suffix == ".png")
    assert all(p.stat().st_size > 0 for p in again.values())
    panels = plot_all(paths["tidy"], paths["summary"], tmp_path / "panels", ["seed"],
                      panel="density")
    assert sorted(panels) == ["curves_0", "curves_1", "heatmap_decision_accuracy_0",
                              "heatmap_decision_accuracy_1"]


def test_family_rows_known_answers():
    from agents.sweep_results import family_rows, markdown_table, task_family

    assert [task_family(t) for t in ("dlygo", "dms", "dlygointr", "dnmcseql")] == [
        "go", "match", "go-int", "match-seq"]
    tidy = []
    for run, model, (a, b) in [("r0", "x", (0.2, 0.4)), ("r1", "x", (0.6, 0.8))]:
        for step, scale in [(0, 0.0), (10, 1.0)]:  # only the last evaluation counts
            for task, v in [("go", a), ("rtgo", b), ("dms", 1.0)]:
                tidy.append({"run": run, "model": model, "step": step, "task": task,
                             "metric": "decision_accuracy", "value": v * scale})
    rows = {r["family"]: r for r in family_rows(tidy, ["model"])}
    assert rows["go"]["n"] == 2
    assert rows["go"]["value_mean"] == pytest.approx(0.5)  # runs: 0.3 and 0.7
    assert rows["go"]["value_sd"] == pytest.approx(0.2828427, rel=1e-6)
    assert rows["match"]["value_mean"] == 1.0
    table = markdown_table([rows["go"]], ["model", "family", "value_mean"])
    assert table.splitlines()[2] == "| x | go | 0.500 |"
    from agents.sweep_results import families_markdown

    pivot = families_markdown(list(rows.values()), ["model"]).splitlines()
    assert pivot[0] == "| model | go | match | n |"
    assert pivot[2] == "| x | 0.50 ± 0.28 | 1.00 ± 0.00 | 2 |"


def test_modcog_sweep_is_a_subcommand(tmp_path, capsys):
    from agents.cli import main as modcog

    assert modcog(["sweep", str(tmp_path / "missing.toml"), "--status"]) == 2
    assert "missing.toml" in capsys.readouterr().err

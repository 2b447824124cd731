"""``modcog train``, ``modcog eval`` and ``modcog demo`` end to end on tiny settings.

The expected numbers come from the run's own files (metrics log, checkpoint), from TrainConfig's
defaults and from a straight run compared with a resumed one: the CLI must report what the
trainer measured, evaluate the same held-out trials and resume exactly.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

from agents import TrainConfig, load_checkpoint, read_log  # noqa: E402
from agents.cli import (  # noqa: E402
    DEMO_TASKS,
    build_parser,
    main,
    train_settings,
)
from agents.config_io import field_help  # noqa: E402
from agents.evaluation import METRICS  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TINY = ["--hidden", "16", "--batch-size", "4", "--seq-len", "30", "--eval-trials", "20",
        "--eval-interval", "10", "--log-interval", "5", "--lr", "0.01"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def table(text):
    """{task: [decision, last-step, trial-correct]} of the last EvalTable printed in ``text``."""
    lines = text.splitlines()
    head = max(i for i, line in enumerate(lines) if line.split()[:2] == ["task",
                                                                          "decision_accuracy"])
    rows = {}
    for line in lines[head + 1 :]:
        cells = line.split()
        if not cells or cells[0] == "mean":
            break
        rows[cells[0]] = [float(c) for c in cells[1:4]]
    return rows


def logged(eval_line):
    """The same rows from an eval line of metrics.jsonl, rounded as the table prints them."""
    return {k: [round(v[m], 4) for m in METRICS] for k, v in eval_line["tasks"].items()}


def test_train_eval_resume(capsys, tmp_path):
    run_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", *TINY, "--tasks", "go,rtgo", "--steps", 20,
                         "--out", run_dir)
    assert code == 0, err
    # feedback: a banner table (no JSON line), held-out accuracy next to the loss in the bar
    assert out.startswith("new run ") and max(len(line) for line in out.splitlines()) < 140
    assert re.search(r"tasks\s+\*go,rtgo\b", out)
    assert re.search(r"hidden_size\s+\*16", out)
    assert "acc=" in err and "loss=" in err
    for name in ("ckpt.pt", "best.pt", "metrics.jsonl"):
        assert (run_dir / name).stat().st_size > 0
        assert str(run_dir / name) in out
    curve = run_dir / "learning_curve.png"
    assert curve.read_bytes().startswith(PNG_MAGIC) and str(curve) in out

    ckpt = load_checkpoint(run_dir / "ckpt.pt")
    cfg = ckpt["train_config"]
    assert ckpt["iter_num"] == 20
    assert (cfg["model"], cfg["hidden_size"], cfg["batch_size"], cfg["seq_len"]) == (
        "lm-rnn", 16, 4, 30)
    assert cfg["tasks"] == ["go", "rtgo"] and cfg["lr"] == 0.01
    # options not given keep TrainConfig's defaults
    default = TrainConfig()
    for name in ("radius", "geometry", "convention", "seed", "loss_weights", "schedule"):
        assert cfg[name] == getattr(default, name), name

    log = read_log(run_dir / "metrics.jsonl")
    evals = [r for r in log if r["kind"] == "eval"]
    assert [r["step"] for r in evals] == [0, 10, 20]
    assert [r["step"] for r in log if r["kind"] == "train"] == [5, 10, 15, 20]
    # the printed table is the trainer's last evaluation
    assert table(out) == logged(evals[-1])
    assert "chance 1/17" in out  # dim_ring 16: 17 actions

    # eval on the same held-out trials reproduces it; a subset keeps the rule inputs
    code, out, err = run(capsys, "eval", run_dir / "ckpt.pt", "--trials", 20)
    assert code == 0, err
    assert table(out) == logged(evals[-1])
    assert "step 20" in out
    code, out, err = run(capsys, "eval", run_dir / "ckpt.pt", "--trials", 20, "--tasks", "rtgo")
    assert code == 0, err
    assert table(out) == {"rtgo": logged(evals[-1])["rtgo"]}

    # resume takes the checkpoint's settings: 10 more steps equal a straight 30-step run
    code, out, err = run(capsys, "train", "--out", run_dir, "--resume", "--steps", 30)
    assert code == 0, err
    code, _, err = run(capsys, "train", *TINY, "--tasks", "go", "rtgo", "--steps", 30,
                       "--out", tmp_path / "straight")
    assert code == 0, err
    resumed = load_checkpoint(run_dir / "ckpt.pt")
    straight = load_checkpoint(tmp_path / "straight" / "ckpt.pt")
    assert resumed["iter_num"] == 30 and resumed["train_config"]["hidden_size"] == 16
    for key, value in straight["model"].items():
        assert torch.equal(resumed["model"][key], value), key
    log = read_log(run_dir / "metrics.jsonl")
    assert [r["step"] for r in log if r["kind"] == "eval"] == [0, 10, 20, 30]
    assert [r["step"] for r in log if r["kind"] == "train"] == [5, 10, 15, 20, 25, 30]

    # a setting that changes the trajectory cannot change on resume
    code, out, err = run(capsys, "train", "--out", run_dir, "--resume", "--steps", 40,
                         "--lr", 0.1)
    assert code == 2 and out == ""
    assert "these settings differ from the checkpoint's" in err and "'lr': (0.01, 0.1)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("argv", "model", "check"),
    [
        (["--agent", "dense"], "dense", {}),
        (["--agent", "autapse"], "autapse", {}),
        (["--agent", "random", "--density", "0.25"], "random-sparse", {"density": 0.25}),
        (["--agent", "lmrnn", "--geometry", "ring", "--radius", "2"], "lm-rnn",
         {"geometry": "ring", "radius": 2.0, "density": None}),
        (["--density", "0.3"], "lm-rnn", {"radius": None, "density": 0.3}),
    ],
)
def test_train_agents(capsys, tmp_path, argv, model, check):
    code, _, err = run(capsys, "train", *TINY, *argv, "--tasks", "go", "--steps", 2,
                       "--eval-trials", 5, "--out", tmp_path)
    assert code == 0, err
    ckpt = load_checkpoint(tmp_path / "ckpt.pt")
    assert ckpt["model_config"]["model"] == model == ckpt["train_config"]["model"]
    for key, value in check.items():
        assert ckpt["model_config"][key] == value, key


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["train", "--agent", "dense", "--radius", "2"], "apply to lmrnn and random"),
        (["train", "--hidden", "15"], "n=15 is not a perfect square"),
        (["train", "--resume"], "--resume needs --out FOLDER"),
        (["train", "--out", "nothing", "--resume"], "ckpt.pt': no such file"),
        (["train", "--out", ""], "out_dir='': give a folder name"),
        (["train", "--tasks", "go", "--collection", "20-cog"], "--tasks or --collection"),
        (["train", "--preset", "nope"], "invalid choice: 'nope'"),
        (["train", "--config", "missing.toml"], "config file 'missing.toml': no such file"),
        (["train", "--loss", "mse"], "invalid choice: 'mse'"),
        (["train", "--agent", "gru"], "invalid choice: 'gru'"),
        (["train", "--hidden", "0"], "'0' must be >= 1"),
        (["eval", "nothing.pt"], "checkpoint 'nothing.pt': no such file"),
        (["train", "--convention", "yang19"], "convention='yang19' is not one of"),
    ],
)
def test_bad_values_exit_2(capsys, tmp_path, monkeypatch, argv, fragment):
    monkeypatch.chdir(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert re.search(re.escape(fragment), err), err
    assert "Traceback" not in err and out == ""
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_eval_rejects_damaged_checkpoint_and_foreign_tasks(capsys, tmp_path):
    code, _, err = run(capsys, "train", *TINY, "--tasks", "go", "--steps", 1, "--eval-trials", 5,
                       "--out", tmp_path)
    assert code == 0, err
    code, _, err = run(capsys, "eval", tmp_path / "ckpt.pt", "--tasks", "dms")
    assert code == 2 and "tasks ['dms'] were not trained by this checkpoint" in err
    data = bytearray((tmp_path / "ckpt.pt").read_bytes())
    bad = tmp_path / "bad.pt"
    bad.write_bytes(bytes(data[: len(data) // 2]))  # truncated
    code, _, err = run(capsys, "eval", bad)
    assert code == 2 and f"checkpoint {str(bad)!r}" in err and "Traceback" not in err


def _train_actions():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"], {a.dest: a for a in sub.choices["train"]._actions}


def test_every_trainconfig_field_is_an_option_with_help_and_default():
    _, actions = _train_actions()
    helps = field_help(TrainConfig)
    default = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        action = actions[f.name]
        assert f"--{f.name.replace('_', '-')}" in action.option_strings, f.name
        assert helps[f.name] and helps[f.name] in action.help.replace("%%", "%"), f.name
        value = getattr(default, f.name)
        shown = ",".join(value) if isinstance(value, list) else value
        assert f"(default {shown})" in action.help, (f.name, action.help)
    # help(TrainConfig) documents every field
    for f in dataclasses.fields(TrainConfig):
        assert f"    {f.name} (" in TrainConfig.__doc__, f.name


def _other_value(f, value):
    """A valid value different from the default, and its command-line spelling."""
    kind = str(f.type)
    choices = _train_actions()[1][f.name].choices
    if choices:
        new = next(c for c in choices if c != value)
        return new, [str(new)]
    if f.name == "tasks":
        return ["go", "dm1"], ["go,dm1"]
    if kind == "bool":
        return (not value), [f"--{'no-' if value else ''}{f.name.replace('_', '-')}"]
    if kind.startswith("int"):
        new = 2 if value is None else value + 1
        return new, [str(new)]
    if kind.startswith("float"):
        new = 0.25 if value is None else value + 0.5
        return new, [str(new)]
    # a new free-text str field needs a valid non-default value here
    new = {"convention": "reference", "schedule": "uniform", "device": "cuda:1",
           "out_dir": "runs/x", "model": "dense", "activation": "tanh"}[f.name]
    return new, [new]


def test_every_trainconfig_field_reaches_the_config():
    parser = build_parser()
    for f in dataclasses.fields(TrainConfig):
        if f.name == "resume":  # needs a run folder: covered by test_train_eval_resume
            continue
        value, spelled = _other_value(f, getattr(TrainConfig(), f.name))
        argv = ["train", *spelled] if spelled[0].startswith("--") else [
            "train", f"--{f.name.replace('_', '-')}", *spelled]
        settings = train_settings(parser.parse_args(argv))
        assert settings[f.name] == value, (f.name, settings[f.name], value)
        if f.name not in ("progress", "out_dir"):
            assert {k: v for k, v in settings.items() if k not in ("out_dir", "progress")} == {
                f.name: value, **({"radius": None} if f.name == "density" else {}),
                **({"density": None} if f.name == "radius" else {})}, f.name


def test_old_spellings_still_work():
    args = build_parser().parse_args(["train", "--agent", "random", "--hidden", "64",
                                      "--threads", "2", "--out", "r", "--collection", "20-cog"])
    settings = train_settings(args)
    assert (settings["model"], settings["hidden_size"], settings["num_threads"],
            settings["out_dir"], settings["tasks"]) == ("random-sparse", 64, 2, "r", "20-cog")


def test_preset_and_flags_override_it():
    from agents.presets import PRESETS

    args = build_parser().parse_args(["train", "--preset", "eg-modcog", "--hidden", "16"])
    settings = train_settings(args)
    assert settings == {**PRESETS["eg-modcog"], "hidden_size": 16, "out_dir": None,
                        "progress": True}
    assert (settings["loss"], settings["label_smoothing"], settings["input_noise"]) == (
        "eg", 0.1, 0.1)
    TrainConfig(**settings)  # a valid config


def test_config_file_recreates_a_run(capsys, tmp_path):
    code, _, err = run(capsys, "train", *TINY, "--tasks", "go", "--steps", 6, "--noise-std",
                       "0.1", "--input-noise", "0.05", "--out", tmp_path / "a")
    assert code == 0, err
    config = tmp_path / "a" / "config.toml"
    assert "out_dir" not in config.read_text() and "radius = 3.0" in config.read_text()
    code, _, err = run(capsys, "train", "--config", config, "--out", tmp_path / "b")
    assert code == 0, err
    a, b = (load_checkpoint(tmp_path / d / "ckpt.pt") for d in ("a", "b"))
    assert a["run_id"] != b["run_id"]
    for key, value in a["model"].items():
        assert torch.equal(b["model"][key], value), key
    # flags override the file; None round-trips ("none" in TOML)
    args = build_parser().parse_args(["train", "--config", str(config), "--density", "0.5"])
    settings = train_settings(args)
    assert settings["density"] == 0.5 and settings["radius"] is None
    assert settings["rec_gain"] is None and settings["tasks"] == ["go"]


def _files(folder):
    return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}


def test_run_folder_refusal_and_overwrite(capsys, tmp_path):
    argv = ["train", *TINY, "--tasks", "go", "--steps", 3, "--eval-trials", 5, "--out", tmp_path]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    before = _files(tmp_path)
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0 and "holds a run at step 3 of 3 (finished)" in err, err
    assert _files(tmp_path) == before
    code, out, err = run(capsys, *argv, "--overwrite", "--steps", 2)
    assert code == 0, err
    assert out.startswith("overwrite: deleted the run ") and "at step 3 in" in out
    assert load_checkpoint(tmp_path / "ckpt.pt")["iter_num"] == 2


def test_path_and_file_errors_are_one_line(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("afile").write_text("not a folder")
    for argv, fragment in [
        (["train", "--out", "afile"], "'afile' is a file, not a folder"),
        (["train", "--out", "afile/sub"], "is a file, not a folder"),
        (["eval", "afile"], "not a modcog-agents-checkpoint file (not a torch zip archive)"),
    ]:
        code, out, err = run(capsys, *argv)
        assert code == 2 and out == "", argv
        assert fragment in err and err.strip().count("\n") == 0, err
    import agents.runs

    def full(*args, **kwargs):
        raise OSError(28, "No space left on device", "run.json")

    monkeypatch.setattr(agents.runs, "write_json", full)
    code, _, err = run(capsys, "train", *TINY, "--tasks", "go", "--steps", 1, "--out", "r")
    assert code == 2 and err.strip().endswith("No space left on device"), err
    assert "Traceback" not in err


def test_show_into_a_folder_prints_the_path(capsys, tmp_path):
    code, out, err = run(capsys, "show", "go", "--out", tmp_path)
    assert code == 0, err
    path = Path(out.strip())
    assert path.parent == tmp_path and path.read_bytes().startswith(PNG_MAGIC)


def _cli(*argv, **kw):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "agents.cli", *map(str, argv)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_list_into_a_closed_pipe_has_no_traceback():
    proc = _cli("list", "--collection", "mod-cog-126")
    proc.stdout.readline()
    proc.stdout.close()  # like `| head -1`
    err = proc.stderr.read()
    proc.wait(timeout=60)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert proc.returncode == 141


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_exit_code_and_resume_hint(tmp_path, signum, code):
    proc = _cli("train", *TINY, "--tasks", "go", "--steps", 100_000, "--log-interval", 1,
                "--eval-interval", 0, "--out", tmp_path)
    log = tmp_path / "metrics.jsonl"
    t0 = time.monotonic()
    while not (log.is_file() and '"train"' in log.read_text()):
        assert time.monotonic() - t0 < 120 and proc.poll() is None
        time.sleep(0.1)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "Traceback" not in err
    step = load_checkpoint(tmp_path / "ckpt.pt")["iter_num"]
    assert step > 0 and f"checkpoint at step {step}" in err
    assert f"continue with: modcog train --out {tmp_path} --resume" in err


def test_diverged_run_exits_3(capsys, tmp_path):
    code, out, err = run(capsys, "train", *TINY, "--tasks", "go", "--steps", 5, "--lr", "inf",
                         "--out", tmp_path)
    assert code == 3 and "training diverged at step 1: learning rate inf" in err
    assert "Traceback" not in err


def test_demo_quick(capsys, tmp_path):
    code, out, err = run(capsys, "demo", "--quick", "--out", tmp_path)
    assert code == 0, err
    names = {p.name for p in tmp_path.glob("*.png")}
    assert names == {"learning_curve.png", "trial_go_dlygo.png", "trial_dm_dlydm1.png",
                     "trial_match_dms.png"}
    for name in names:
        assert (tmp_path / name).read_bytes().startswith(PNG_MAGIC)
        assert str(tmp_path / name) in out
    assert list(table(out)) == list(DEMO_TASKS)
    log = read_log(tmp_path / "demo_run" / "metrics.jsonl")
    assert table(out) == logged([r for r in log if r["kind"] == "eval"][-1])
    for name in DEMO_TASKS:  # the catalogue rows printed first
        assert re.search(rf"^{name}\s+ModCog-", out, re.M), name
    assert f"modcog eval {tmp_path / 'demo_run' / 'ckpt.pt'}" in out


def test_busy_folder_and_foreign_checkpoint_exit_2(capsys, tmp_path):
    import shutil

    from agents import runs

    argv = ["train", *TINY, "--tasks", "go", "--steps", 2, "--eval-trials", 5]
    for name, seed in (("a", 0), ("b", 1)):
        code, _, err = run(capsys, *argv, "--seed", seed, "--out", tmp_path / name)
        assert code == 0, err
    with runs.RunLock(tmp_path / "a"):  # another trainer holds the folder
        code, out, err = run(capsys, *argv, "--out", tmp_path / "a", "--overwrite")
    assert code == 2 and f"in use by process {os.getpid()}" in err and out == ""
    shutil.copy(tmp_path / "b" / "ckpt.pt", tmp_path / "a" / "ckpt.pt")
    code, out, err = run(capsys, "train", "--out", tmp_path / "a", "--resume", "--steps", 4)
    assert code == 2 and "belongs to run" in err and "Traceback" not in err

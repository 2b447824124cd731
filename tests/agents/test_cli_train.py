"""``modcog train``, ``modcog eval`` and ``modcog demo`` end to end on tiny settings.

The expected numbers come from the run's own files (metrics log, checkpoint), from TrainConfig's
defaults and from a straight run compared with a resumed one: the CLI must report what the
trainer measured, evaluate the same held-out trials and resume exactly.
"""

from __future__ import annotations

import argparse
import re

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

from agents import TrainConfig, load_checkpoint, read_log  # noqa: E402
from agents.cli import (  # noqa: E402
    AGENTS,
    DEMO_TASKS,
    TRAIN_FIELDS,
    build_parser,
    main,
)
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
        (["train", "--resume"], "ckpt.pt': no such file"),
        (["eval", "nothing.pt"], "checkpoint 'nothing.pt': no such file"),
        (["train", "--convention", "yang2019"], "convention='yang2019' is reserved"),
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


def test_train_help_states_trainconfig_defaults():
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    default = TrainConfig()
    for action in sub.choices["train"]._actions:
        field = TRAIN_FIELDS.get(action.dest)
        if field is None or field == "density":  # density: no default (a radius is used)
            continue
        value = getattr(default, field)
        if field == "model":
            value = next(k for k, v in AGENTS.items() if v == value)
        assert f"(default {value})" in action.help, (action.dest, action.help)


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

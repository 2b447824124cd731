"""`python -m agents.analysis` / cmd_analyze end to end on tiny trained checkpoints."""

from __future__ import annotations

import argparse
import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("matplotlib")

from agents.analysis.cli import add_analyze_parser, cmd_analyze, main  # noqa: E402


def _parse(argv):
    p = argparse.ArgumentParser()
    add_analyze_parser(p.add_subparsers(dest="cmd"))
    return p.parse_args(["analyze", *argv])


def test_end_to_end_autapse(autapse_ckpt, tmp_path, capsys):
    out = tmp_path / "an"
    args = _parse([str(autapse_ckpt), "--task", "dlygo", "--out", str(out), "--trials", "48",
                   "--init", "32"])
    assert args.func is cmd_analyze
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "fixed points under the delay input" in text and "autapse closed form" in text
    assert "ring: decoder" in text
    names = sorted(p.name for p in out.iterdir())
    assert names == ["dlygo_autapse.png", "dlygo_drift.png", "dlygo_pca.png",
                     "dlygo_spectra.png", "dlygo_summary.json"]
    s = json.loads((out / "dlygo_summary.json").read_text())
    assert s["fixed_points"]["n_fixed"] >= 1 and s["fixed_points"]["q_max"] < 1e-10
    assert s["autapse"]["generic_vs_closed_form_max_error"] < 1e-8
    assert (out / "dlygo_pca.png").read_bytes()[:4] == b"\x89PNG"


def test_end_to_end_dense_without_delay(dense_ckpt, tmp_path, capsys):
    assert main([str(dense_ckpt), "--task", "dm1", "--out", str(tmp_path), "--trials", "32",
                 "--init", "16"]) == 0
    text = capsys.readouterr().out
    assert "stimulus input" in text and "ring:" not in text and "autapse" not in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dm1_pca.png", "dm1_spectra.png",
                                                          "dm1_summary.json"]


def test_bad_input_exits_2_with_one_line(dense_ckpt, tmp_path, capsys):
    assert main([str(tmp_path / "missing.pt"), "--task", "dlygo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such file" in err[0]
    assert main([str(dense_ckpt), "--task", "dlygoo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean 'dlygo'" in err[0]
    assert main([str(dense_ckpt), "--task", "dlygo", "--period", "nap"]) == 2
    assert "period='nap'" in capsys.readouterr().err
    assert main([str(dense_ckpt), "--task", "dlygo", "--adam-steps", "-1"]) == 2
    assert "adam_steps=-1" in capsys.readouterr().err


def test_modcog_analyze_is_a_subcommand(dense_ckpt, tmp_path, capsys):
    from agents.cli import main as modcog

    assert modcog(["analyze", str(tmp_path / "missing.pt"), "--task", "go"]) == 2
    assert "no such file" in capsys.readouterr().err
    assert modcog(["analyze", str(dense_ckpt), "--task", "dm1", "--trials", "16", "--init",
                   "16", "--adam-steps", "20", "--out", str(tmp_path / "fig")]) == 0
    assert (tmp_path / "fig" / "dm1_summary.json").exists()

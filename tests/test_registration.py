"""Registration of the 126 ids (TASKS.md §5), ``modcog_env.make`` and the cost of ``import``.

The expected ids are rebuilt here from the TASKS.md §5 grammar and CamelBase table, not taken from
the package's catalogue.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import pytest
from utils import task_specs

import modcog_env

# TASKS.md §5: short base -> CamelBase, in "20-cog" order
CAMEL_BASES = {
    "go": "Go", "rtgo": "ReactGo", "dlygo": "DelayGo",
    "anti": "Anti", "rtanti": "ReactAnti", "dlyanti": "DelayAnti",
    "dm1": "DM1", "dm2": "DM2", "ctxdm1": "CtxDM1", "ctxdm2": "CtxDM2", "multidm": "MultiDM",
    "dlydm1": "DelayDM1", "dlydm2": "DelayDM2", "ctxdlydm1": "CtxDelayDM1",
    "ctxdlydm2": "CtxDelayDM2", "multidlydm": "MultiDelayDM",
    "dms": "DMS", "dnms": "DNMS", "dmc": "DMC", "dnmc": "DNMC",
}  # fmt: skip
# TASKS.md §4.2: the 11 bases with a delay period, the only ones `int` may modify
INT_BASES = (
    "dlygo", "dlyanti", "dlydm1", "dlydm2", "ctxdlydm1", "ctxdlydm2", "multidlydm",
    "dms", "dnms", "dmc", "dnmc",
)  # fmt: skip
SIDES = {"r": "R", "l": "L"}
ENTRY_POINT = "modcog_env.env:TaskEnv"
REPO_ROOT = Path(modcog_env.__file__).resolve().parent.parent


def expected_ids() -> dict[str, str]:
    """short name -> gym id for every valid composition (TASKS.md §5 "Counts")."""
    out = {}
    for base, camel in CAMEL_BASES.items():
        int_options = [("", "")] + (
            [(f"int{s}", f"Int{S}") for s, S in SIDES.items()] if base in INT_BASES else []
        )
        seq_options = [("", "")] + [(f"seq{s}", f"Seq{S}") for s, S in SIDES.items()]
        for i_short, i_camel in int_options:
            for s_short, s_camel in seq_options:
                out[base + i_short + s_short] = f"ModCog-{camel}{i_camel}{s_camel}-v0"
    return out


def test_expected_grammar_counts():
    ids = expected_ids()
    assert len(ids) == 126 == 20 + 40 + 22 + 44
    assert ids["dlygointr"] == "ModCog-DelayGoIntR-v0"
    assert ids["dlydm1intrseql"] == "ModCog-DelayDM1IntRSeqL-v0"
    assert ids["dnmcseqr"] == "ModCog-DNMCSeqR-v0"


def test_all_126_ids_registered():
    registered = {spec.id: spec for spec in task_specs()}
    assert set(registered) == set(expected_ids().values())
    for name, env_id in expected_ids().items():
        spec = registered[env_id]
        assert spec.entry_point == ENTRY_POINT  # a string: imported only when made
        assert spec.kwargs == {"task": name}
        json.dumps(spec.kwargs)


def test_catalogue_matches_registry():
    assert sorted(modcog_env.ALL_TASKS) == sorted(expected_ids())
    assert len(modcog_env.ALL_TASKS) == 126


def test_register_envs_twice_is_silent():
    before = dict(gym.registry)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        modcog_env.register_envs()
        modcog_env.register_envs()
    assert [str(w.message) for w in caught] == []
    assert dict(gym.registry) == before


def _python(code: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=REPO_ROOT,
        timeout=120,
    )


def test_reimport_is_silent():
    code = (
        "import warnings\n"
        "warnings.simplefilter('error')\n"
        "import importlib, modcog_env\n"
        "importlib.reload(modcog_env)\n"
        "modcog_env.register_envs()\n"
        "print('ok')\n"
    )
    result = _python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
    assert "WARN" not in result.stderr


def test_import_is_cheap_and_light():
    """``import modcog_env`` (gymnasium included) takes < 0.5 s and pulls in no heavy package."""
    # CPU time of the import statement: robust to other processes sharing the cores
    code = (
        "import json, sys, time\n"
        "t0 = time.process_time()\n"
        "import modcog_env\n"
        "elapsed = time.process_time() - t0\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'neurogym') if m in sys.modules]\n"
        "print(json.dumps({'elapsed': elapsed, 'heavy': heavy}))\n"
    )
    times = []
    for _ in range(5):
        result = _python(code)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report["heavy"] == []
        times.append(report["elapsed"])
    assert min(times) < 0.5, times


@pytest.mark.parametrize(
    ("name", "env_id", "task"),
    [
        ("dlygo", "ModCog-DelayGo-v0", "dlygo"),
        ("ModCog-DelayGo-v0", "ModCog-DelayGo-v0", "dlygo"),
        ("dlygointseq", "ModCog-DelayGoIntRSeqR-v0", "dlygointrseqr"),  # reference alias
        ("dmsintseq", "ModCog-DMSIntRSeqR-v0", "dmsintrseqr"),
        ("ModCog-DNMCSeqL-v0", "ModCog-DNMCSeqL-v0", "dnmcseql"),
    ],
)
def test_make_accepts_names_ids_and_aliases(name, env_id, task):
    env = modcog_env.make(name)
    assert env.spec.id == env_id
    assert env.unwrapped.task.name == task
    obs, _ = env.reset(seed=0)
    assert obs.shape == (33,)


def test_make_passes_kwargs():
    env = modcog_env.make("dms", convention="reference", dim_ring=8, dt=50)
    assert env.unwrapped.task.convention == "reference"
    assert env.observation_space.shape == (17,)
    assert env.action_space.n == 9
    assert env.unwrapped.task.dt == 50


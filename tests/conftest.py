"""Shared pytest configuration: the ``--all`` flag and the registry-driven parametrizations.

Parameter names any test may request (each parametrized with readable ids):

- ``any_spec_id``       every id whose entry point lies in ``modcog_env`` (the 126 tasks and the
                        multitask collections), in every run.
- ``spec_id``           every registered single-task id (all 126), in every run: cheap checks.
- ``task_name``         the short names of those ids (all 126), in every run.
- ``sampled_spec_id``   slow checks: by default one task per (family, modifier kind) plus the 20
                        bases (``utils.representative_ids``); with ``--all`` every id.
- ``sampled_task_name`` the short names of ``sampled_spec_id``.
- ``run_all`` (fixture) True when ``--all`` was given, e.g. to play more trials per task.

The full ``check_env`` sweep (126 ids x 2 conventions) takes a few seconds, so it always runs on
every id; ``--all`` only widens the slower rollout and oracle sets.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Make ``import utils`` work from any test file, in subfolders and under --import-mode=importlib.
_TESTS_DIR = str(Path(__file__).resolve().parent)
if _TESTS_DIR not in sys.path:
    sys.path.insert(0, _TESTS_DIR)

import utils  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--all",
        action="store_true",
        default=False,
        help="run the slow per-task checks on all 126 tasks (default: one per family x modifier "
        "kind plus the 20 bases)",
    )


@pytest.fixture(scope="session")
def run_all(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--all"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # names a test parametrizes itself (@pytest.mark.parametrize("spec_id", [...])) are left alone
    explicit = {
        arg.strip()
        for mark in metafunc.definition.iter_markers("parametrize")
        for arg in (mark.args[0].split(",") if isinstance(mark.args[0], str) else mark.args[0])
    }
    every = utils.task_ids()
    sampled = every if metafunc.config.getoption("--all") else utils.representative_ids()
    for name, ids, to_value in (
        ("any_spec_id", utils.all_ids(), None),
        ("spec_id", every, None),
        ("task_name", every, utils.short_name),
        ("sampled_spec_id", sampled, None),
        ("sampled_task_name", sampled, utils.short_name),
    ):
        if name in metafunc.fixturenames and name not in explicit:
            values = [to_value(i) for i in ids] if to_value else list(ids)
            metafunc.parametrize(name, values, ids=values)

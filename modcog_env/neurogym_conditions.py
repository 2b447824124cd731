"""Trial conditions for the NeuroGym bridge: ``choices``, ground truth, tags, conditioned trials.

NeuroGym wrappers (``SideBias``, ``RandomGroundTruth``, ``TrialHistoryV2``, ``ScheduleAttr``) pick
a trial's ground truth or attributes and pass them as ``new_trial(**conditions)``. This module
gives each task the NeuroGym vocabulary those wrappers read and honours the conditions.

- **choices** (as NeuroGym's yang19 envs): the ring index ``0..N-1`` of the correct response for
  the go and DM families; ``["match", "non-match"]`` for the match family.
- **ground truth of a trial**: go/DM: ``params["response"]`` (the label of the first decision step
  is ``1 + ground_truth``); match: ``"match"`` if ``params["match"]`` else ``"non-match"``.
- **conditions**: ``ground_truth`` (one of ``choices``) and any per-trial parameter of the task
  (``modality``, ``target``, ``match``, ``delay_ms``, ...), compared for exact equality (array
  parameters element-wise). ``probs`` and ``p``, which NeuroGym's wrappers pass along as
  bookkeeping, are accepted and only copied into the trial dict. Other keys raise ``ValueError``.
- **keying**: the conditioned trial in position ``k`` of stream seed ``s`` is the first of the
  candidate trials ``CONDITION_BASE + 1024 * h + j`` (j = 0..1023) of the *same* stream ``s``
  whose parameters satisfy the conditions, where ``h`` is a 52-bit BLAKE2b hash of ``k`` and the
  sorted conditions. It is a pure function of (seed, k, conditions); the same stream seed keeps
  per-stream draws (the ``reference`` instance delay, the modality alternation, which reads the
  task's occurrence count) as in unconditioned trials. Unconditioned trial ``k`` is untouched:
  trial indices below ``CONDITION_BASE`` never collide with candidates. No match in 1024
  candidates raises ``ValueError`` (the condition is impossible or rarer than about 1 in 200).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import numpy as np

from .tasks.base import Task
from .trials import Trial, TrialBatch

MATCH_CHOICES = ("match", "non-match")
BOOKKEEPING = ("probs", "p")  # keys NeuroGym wrappers pass along that name no trial parameter
CONDITION_BASE = 2**62  # first candidate index of conditioned trials (int64, far above any k)
ROUNDS = (16, 48, 192, 768)  # candidates sampled per round, 1024 in all (cheap when p is large)


def choices(task: Task) -> np.ndarray | list[str]:
    """The task's ``choices`` as NeuroGym's yang19 envs name them (module docstring)."""
    if task.family == "match":
        return list(MATCH_CHOICES)
    return np.arange(task.dim_ring)


def ground_truth(task: Task, params: Mapping[str, Any]) -> int | str:
    """The NeuroGym ground truth of one trial from its scalar parameters."""
    if task.family == "match":
        return MATCH_CHOICES[0] if bool(params["match"]) else MATCH_CHOICES[1]
    return int(params["response"])


def tags(task: Task) -> list[str]:
    """Tags from NeuroGym's vocabulary (``neurogym.envs.registration.all_tags()``)."""
    out = ["perceptual", "supervised"]
    delayed = "delay" in task.periods and (task.family != "go" or task.base.startswith("dly"))
    if task.family == "match":
        out += ["go-no-go", "two-alternative"]
    else:
        out.append("n-alternative")
    if task.family == "dm":
        out.append("decision")
        if task.base.startswith("ctx"):
            out.append("context dependent")
    if delayed or task.int_sign:
        out += ["working memory", "delayed response"]
    return out


def _plain(value: object) -> object:
    """A hashable, repr-stable form of a condition value (numpy scalars and arrays unwrapped)."""
    if isinstance(value, np.ndarray):
        return tuple(_plain(v) for v in value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return tuple(_plain(v) for v in value)
    return value


def split(
    task: Task, kwargs: Mapping[str, Any], param_names: tuple[str, ...]
) -> tuple[dict[str, object], dict[str, object]]:
    """(conditions, bookkeeping) of ``new_trial(**kwargs)``; unknown keys raise ``ValueError``."""
    conditions, extras = {}, {}
    allowed = ("ground_truth", *param_names)
    for key, value in kwargs.items():
        if key in BOOKKEEPING:
            extras[key] = value
        elif key not in allowed:
            raise ValueError(
                f"new_trial() condition {key!r} is not a parameter of {task.name!r}; allowed: "
                f"{list(allowed)} (and {list(BOOKKEEPING)}, passed through)"
            )
        else:
            conditions[key] = _plain(value)
    if "ground_truth" in conditions:
        gt, allowed_gt = conditions["ground_truth"], list(_plain(choices(task)))
        if isinstance(gt, bool) or gt not in allowed_gt:
            raise ValueError(
                f"new_trial(ground_truth={gt!r}) is not a choice of {task.name!r}; "
                f"allowed: {allowed_gt}"
            )
    return conditions, extras


def candidate_indices(k: int, conditions: Mapping[str, object]) -> np.ndarray:
    """int64 [1024] candidate trial indices of the conditioned trial ``k`` (module docstring)."""
    key = repr((int(k), sorted(conditions.items())))
    h = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "little") >> 12
    per = sum(ROUNDS)
    return CONDITION_BASE + h * per + np.arange(per, dtype=np.int64)


def satisfied(task: Task, batch: TrialBatch, conditions: Mapping[str, object]) -> np.ndarray:
    """bool [B]: which trials of ``batch`` satisfy every condition."""
    ok = np.ones(batch.batch_size, dtype=bool)
    for key, value in conditions.items():
        if key == "ground_truth":
            if task.family == "match":
                ok &= batch.params["match"].astype(bool) == (value == MATCH_CHOICES[0])
            else:
                ok &= batch.params["response"] == value
            continue
        have = np.asarray(batch.params[key]).reshape(batch.batch_size, -1)
        want = np.asarray(value).reshape(1, -1)
        if want.shape[1] != have.shape[1]:
            raise ValueError(
                f"new_trial({key}={value!r}): {key!r} of {task.name!r} has {have.shape[1]} "
                f"value(s) per trial, got {want.shape[1]}"
            )
        ok &= np.all(have == want, axis=1)
    return ok


def conditioned_trial(
    task: Task, seed: int, k: int, occurrence: int, conditions: Mapping[str, object]
) -> Trial:
    """The trial of position ``k`` in stream ``seed`` satisfying ``conditions`` (keyed as in the
    module docstring); ``occurrence`` is the task's count in its stream (modality alternation)."""
    idx = candidate_indices(k, conditions)
    start = 0
    for size in ROUNDS:  # the first satisfying candidate, whatever the round sizes
        part = idx[start : start + size]
        start += size
        batch = task.sample(seed, part, occurrence=np.full(part.size, occurrence))
        hits = np.flatnonzero(satisfied(task, batch, conditions))
        if hits.size:
            return batch.trial(int(hits[0]))
    raise ValueError(
        f"new_trial(**{dict(conditions)!r}): no trial of {task.name!r} satisfies these conditions "
        f"among {idx.size} candidates; the combination is impossible or too rare"
    )

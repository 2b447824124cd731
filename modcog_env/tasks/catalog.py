"""Short names, gym ids, aliases and collections of the 126 tasks (TASKS.md §5).

The catalogue is data: :data:`BASES` lists the 20 bases in "20-cog" order with their CamelCase
names and families; every other name is a base plus ``int(r|l)`` and/or ``seq(r|l)``. Building a
task (:func:`make_task`) is separate from registering its gym id, so registration stays cheap.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence

from ..conventions import get_convention, resolve_defaults
from .base import Task
from .decision import DECISION_BASES, DecisionTask
from .match import MATCH_BASES, MatchTask
from .modifiers import INT_BASES, ModifiedTask, suffix
from .reach import REACH_BASES, ReachTask
from .yang2019 import YANG_ALIASES, Yang2019Task

# short name -> CamelBase, in "20-cog" order
BASES: dict[str, str] = {
    "go": "Go",
    "rtgo": "ReactGo",
    "dlygo": "DelayGo",
    "anti": "Anti",
    "rtanti": "ReactAnti",
    "dlyanti": "DelayAnti",
    "dm1": "DM1",
    "dm2": "DM2",
    "ctxdm1": "CtxDM1",
    "ctxdm2": "CtxDM2",
    "multidm": "MultiDM",
    "dlydm1": "DelayDM1",
    "dlydm2": "DelayDM2",
    "ctxdlydm1": "CtxDelayDM1",
    "ctxdlydm2": "CtxDelayDM2",
    "multidlydm": "MultiDelayDM",
    "dms": "DMS",
    "dnms": "DNMS",
    "dmc": "DMC",
    "dnmc": "DNMC",
}
FAMILY_OF_BASE: dict[str, str] = {
    **{b: "go" for b in REACH_BASES},
    **{b: "dm" for b in DECISION_BASES},
    **{b: "match" for b in MATCH_BASES},
}
_CLASSES = {"go": ReachTask, "dm": DecisionTask, "match": MatchTask}
_SIGNS = {"r": 1, "l": -1, None: 0}
_NAME_RE = re.compile(
    "^(?P<base>" + "|".join(sorted(BASES, key=len, reverse=True)) + ")"
    r"(?:int(?P<int>[rl]))?(?:seq(?P<seq>[rl]))?$"
)
_ALIAS_RE = re.compile("^(?P<base>" + "|".join(sorted(BASES, key=len, reverse=True)) + ")intseq$")
ID_PREFIX, ID_SUFFIX = "ModCog-", "-v0"


def _names(*suffixes: str, bases: Sequence[str] = tuple(BASES)) -> list[str]:
    return [b + s for s in suffixes for b in bases]


def _int_seq_block() -> list[str]:
    combos = ("intrseqr", "intrseql", "intlseqr", "intlseql")
    return [b + c for b in INT_BASES for c in combos]


COG20: tuple[str, ...] = tuple(BASES)
MODCOG82: tuple[str, ...] = tuple(
    list(BASES)
    + [b + s for b in INT_BASES for s in ("intr", "intl")]
    + _names("seqr")
    + _names("seql")
)
MODCOG126: tuple[str, ...] = MODCOG82 + tuple(_int_seq_block())
ALL_TASKS = MODCOG126
COLLECTIONS: dict[str, tuple[str, ...]] = {
    "20-cog": COG20,
    "mod-cog-82": MODCOG82,
    "mod-cog-126": MODCOG126,
}


def parse_name(name: str) -> tuple[str, int, int]:
    """(base, int_sign, seq_sign) of a canonical short name or alias; ``ValueError`` otherwise.

    Yang et al.'s rule names (``fdgo``, ``reactgo``, ``contextdm1``, ``dmsgo``, ...) are aliases
    of the 20 bases (:data:`~modcog_env.tasks.yang2019.YANG_ALIASES`).
    """
    if isinstance(name, str) and name in YANG_ALIASES:
        return YANG_ALIASES[name], 0, 0
    alias = _ALIAS_RE.match(name) if isinstance(name, str) else None
    if alias and alias["base"] in INT_BASES:
        return alias["base"], 1, 1
    if alias:
        raise ValueError(
            f"task={name!r}: int cannot modify {alias['base']!r} (no delay period); int applies "
            f"to {', '.join(INT_BASES)}"
        )
    m = _NAME_RE.match(name) if isinstance(name, str) else None
    if not m:
        raise ValueError(f"task={name!r} is not a task name{_suggest(name)}")
    base, int_sign, seq_sign = m["base"], _SIGNS[m["int"]], _SIGNS[m["seq"]]
    if int_sign and base not in INT_BASES:
        raise ValueError(
            f"task={name!r}: int cannot modify {base!r} (no delay period); int applies to "
            f"{', '.join(INT_BASES)}"
        )
    return base, int_sign, seq_sign


def _suggest(name: object) -> str:
    pool = [*ALL_TASKS, *YANG_ALIASES, *(gym_id(n) for n in ALL_TASKS)]
    close = difflib.get_close_matches(str(name), pool, n=3, cutoff=0.6)
    return (
        f"; did you mean {', '.join(map(repr, close))}?" if close else "; see modcog_env.ALL_TASKS"
    )


def canonical_name(name_or_id: str) -> str:
    """Canonical short name of a name, alias or gym id (``ModCog-DelayGo-v0`` -> ``dlygo``)."""
    if isinstance(name_or_id, str) and name_or_id.startswith(ID_PREFIX):
        camel = name_or_id[len(ID_PREFIX) :]
        camel = camel[: -len(ID_SUFFIX)] if camel.endswith(ID_SUFFIX) else camel
        if camel in _CAMEL_TO_NAME:
            return _CAMEL_TO_NAME[camel]
        raise ValueError(f"task={name_or_id!r} is not a registered id{_suggest(name_or_id)}")
    base, int_sign, seq_sign = parse_name(name_or_id)
    return base + suffix(int_sign, seq_sign)


def camel_name(name: str) -> str:
    """CamelCase of a short name: CamelBase + [IntR|IntL] + [SeqR|SeqL]."""
    base, int_sign, seq_sign = parse_name(name)
    letter = {1: "R", -1: "L"}
    return (
        BASES[base]
        + (f"Int{letter[int_sign]}" if int_sign else "")
        + (f"Seq{letter[seq_sign]}" if seq_sign else "")
    )


def gym_id(name: str) -> str:
    """Gym id ``ModCog-<Camel>-v0`` of a short name."""
    return f"{ID_PREFIX}{camel_name(name)}{ID_SUFFIX}"


_CAMEL_TO_NAME = {camel_name(n): n for n in ALL_TASKS}


def family(name: str) -> str:
    """Family of a task: ``"go"``, ``"dm"`` or ``"match"``."""
    return FAMILY_OF_BASE[parse_name(name)[0]]


def collection(key: str | Sequence[str]) -> tuple[str, ...]:
    """Ordered short names of a collection key, or of a custom list (validated, canonicalized)."""
    if isinstance(key, str):
        if key in COLLECTIONS:
            return COLLECTIONS[key]
        close = difflib.get_close_matches(key, list(COLLECTIONS), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ValueError(
            f"collection={key!r} is not a collection; allowed: {list(COLLECTIONS)} or a list of "
            f"task names{hint}"
        )
    names = tuple(canonical_name(n) for n in key)
    if not names:
        raise ValueError("collection must hold at least one task name")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"collection lists {dupes} more than once; each task may appear once")
    return names


def make_task(
    task: str,
    *,
    convention: str = "modcog",
    dt: float | None = None,
    dim_ring: int | None = None,
    sigma: float = 1.0,
    timing: Mapping[str, object] | None = None,
) -> Task:
    """Build the task ``task`` (short name, alias or gym id) with the given settings.

    ``dt``/``dim_ring`` ``None`` take the convention's defaults (100 ms and 16; ``yang2019``:
    20 ms and 32). Under ``yang2019`` the 20 bases are :class:`Yang2019Task`; the Mod-Cog
    modifiers are not defined there.
    """
    base, int_sign, seq_sign = parse_name(canonical_name(task))
    conv = get_convention(convention)
    dt, dim_ring = resolve_defaults(conv, dt, dim_ring)
    common = dict(convention=conv, dt=dt, dim_ring=dim_ring, sigma=sigma)
    if conv.yang_tasks:
        if int_sign or seq_sign:
            raise ValueError(
                f"task={task!r}: the Mod-Cog modifiers int/seq are not defined under "
                "convention='yang2019'; use one of the 20 bases (or Yang's rule names)"
            )
        return Yang2019Task(base, timing=timing, **common)
    cls = _CLASSES[FAMILY_OF_BASE[base]]
    if not (int_sign or seq_sign):
        return cls(base, timing=timing, **common)
    return ModifiedTask(cls(base, **common), int_sign, seq_sign, timing=timing)


ENTRY_POINT = "modcog_env.env:TaskEnv"
MULTI_ENTRY_POINT = "modcog_env.env:MultiTaskEnv"
VECTOR_ENTRY_POINT = "modcog_env.vector:ModCogVectorEnv"
# collection key -> gym id of its multitask env
COLLECTION_IDS: dict[str, str] = {
    "20-cog": "ModCog-20Cog-v0",
    "mod-cog-82": "ModCog-ModCog82-v0",
    "mod-cog-126": "ModCog-ModCog126-v0",
}


def register_envs() -> None:
    """Register ``ModCog-<Camel>-v0`` for every task and one multitask id per collection.

    String entry points, JSON-friendly kwargs (the short name or collection key); builds no task.

    Ids already registered are skipped, so re-importing the package does not warn.
    """
    import gymnasium

    for name in ALL_TASKS:
        env_id = gym_id(name)
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point=ENTRY_POINT,
                vector_entry_point=VECTOR_ENTRY_POINT,
                kwargs={"task": name},
            )
    for key, env_id in COLLECTION_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(
                id=env_id,
                entry_point=MULTI_ENTRY_POINT,
                vector_entry_point=VECTOR_ENTRY_POINT,
                kwargs={"tasks": key},
            )

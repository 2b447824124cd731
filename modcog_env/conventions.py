"""Parameter sets that fix the reference's defects or reproduce them (TASKS.md §2).

``"modcog"`` (default) corrects every defect listed in TASKS.md §2.2; ``"reference"`` reproduces
the public Mod-Cog code's trial distribution and NeuroGym's step rewards. ``"yang2019"`` is
Yang et al.'s own task generator (gyyang/multitask ``task.py``, TASKS.md §2.4): other task
classes (:mod:`modcog_env.tasks.yang2019`), 32 units per ring, dt 20 ms and regression targets;
its §2.2 flags are those of ``modcog``. Each flag names one row of the table.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Convention:
    """One convention; each boolean is a row of TASKS.md §2.2 (letter in the comment)."""

    name: str
    label_wrap: bool  # (a) go label (r + 1 + shift) mod N instead of 1 + ((r + shift) mod N)
    reach_delay_always: bool  # (b) go/anti/goseq/antiseq get the 500 ms delay of dlygo
    match_delay_per_instance: bool  # (c) match delay fixed per (seed, task, modality)
    tie_coin: bool  # (e) multidm ties decided by a coin instead of redrawn
    dmc_sample_gt_half: bool  # (f) dmc sample category [i > N/2] instead of [i >= N/2]
    modality_alternates: bool  # (h1) modality 1, 2, 1, 2, ... per task stream
    neurogym_rewards: bool  # (g, h2, h3) NeuroGym step rewards instead of TASKS.md §7.2
    default_dt: float = 100.0  # dt (ms) when the caller passes dt=None
    default_dim_ring: int = 16  # units per ring when the caller passes dim_ring=None
    yang_tasks: bool = False  # tasks are built by modcog_env.tasks.yang2019 (targets y, c_mask)


MODCOG = Convention("modcog", False, False, False, False, False, False, False)
REFERENCE = Convention("reference", True, True, True, True, True, True, True)
YANG2019 = Convention(
    "yang2019", False, False, False, False, False, False, False,
    default_dt=20.0, default_dim_ring=32, yang_tasks=True,
)  # fmt: skip

CONVENTIONS: dict[str, Convention] = {c.name: c for c in (MODCOG, REFERENCE, YANG2019)}
RESERVED: tuple[str, ...] = ()


def get_convention(convention: str | Convention) -> Convention:
    """Resolve a convention name; ``ValueError`` for unknown names, ``NotImplementedError`` for
    reserved ones."""
    if isinstance(convention, Convention):
        return convention
    if convention in CONVENTIONS:
        return CONVENTIONS[convention]
    if convention in RESERVED:
        raise NotImplementedError(
            f"convention={convention!r} is reserved (TASKS.md §2.4) and not implemented yet; "
            f"use one of {sorted(CONVENTIONS)}"
        )
    hint = difflib.get_close_matches(str(convention), [*CONVENTIONS, *RESERVED], n=1)
    extra = f"; did you mean {hint[0]!r}?" if hint else ""
    raise ValueError(f"convention={convention!r} is not one of {sorted(CONVENTIONS)}{extra}")


def resolve_defaults(
    convention: str | Convention, dt: float | None, dim_ring: int | None
) -> tuple[float, int]:
    """(dt, dim_ring) with ``None`` replaced by the convention's defaults (100 ms and 16 for
    ``modcog``/``reference``, 20 ms and 32 for ``yang2019``)."""
    conv = get_convention(convention)
    return (
        conv.default_dt if dt is None else dt,
        conv.default_dim_ring if dim_ring is None else dim_ring,
    )

"""Parameter sets that fix the reference's defects or reproduce them (TASKS.md §2).

``"modcog"`` (default) corrects every defect listed in TASKS.md §2.2; ``"reference"`` reproduces
the public Mod-Cog code's trial distribution and NeuroGym's step rewards. ``"yang2019"`` is
reserved: it raises ``NotImplementedError`` until it exists. Each flag names one row of the table.
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


MODCOG = Convention("modcog", False, False, False, False, False, False, False)
REFERENCE = Convention("reference", True, True, True, True, True, True, True)

CONVENTIONS: dict[str, Convention] = {c.name: c for c in (MODCOG, REFERENCE)}
RESERVED = ("yang2019",)


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

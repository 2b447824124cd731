"""The task catalogue: names, gym ids, aliases, collections and counts (TASKS.md §4.4, §5).

Every expected list below is written out from the tables of TASKS.md §5, not built from the
catalogue's own comprehensions, so a reordering in the code shows up here.
"""

from __future__ import annotations

import re

import gymnasium
import pytest

import modcog_env
from modcog_env import (
    ALL_TASKS,
    BASES,
    COLLECTIONS,
    INT_BASES,
    canonical_name,
    collection,
    family,
    gym_id,
    make_task,
    parse_name,
)
from modcog_env.tasks.catalog import camel_name

# ---------------------------------------------------------------------------------- TASKS.md §5
COG20 = [
    "go", "rtgo", "dlygo", "anti", "rtanti", "dlyanti",
    "dm1", "dm2", "ctxdm1", "ctxdm2", "multidm",
    "dlydm1", "dlydm2", "ctxdlydm1", "ctxdlydm2", "multidlydm",
    "dms", "dnms", "dmc", "dnmc",
]  # fmt: skip
INT_BASE_ORDER = [
    "dlygo", "dlyanti", "dlydm1", "dlydm2", "ctxdlydm1", "ctxdlydm2", "multidlydm",
    "dms", "dnms", "dmc", "dnmc",
]  # fmt: skip
INT_22 = [
    "dlygointr", "dlygointl", "dlyantiintr", "dlyantiintl", "dlydm1intr", "dlydm1intl",
    "dlydm2intr", "dlydm2intl", "ctxdlydm1intr", "ctxdlydm1intl", "ctxdlydm2intr",
    "ctxdlydm2intl", "multidlydmintr", "multidlydmintl", "dmsintr", "dmsintl", "dnmsintr",
    "dnmsintl", "dmcintr", "dmcintl", "dnmcintr", "dnmcintl",
]  # fmt: skip
SEQR_20 = [
    "goseqr", "rtgoseqr", "dlygoseqr", "antiseqr", "rtantiseqr", "dlyantiseqr", "dm1seqr",
    "dm2seqr", "ctxdm1seqr", "ctxdm2seqr", "multidmseqr", "dlydm1seqr", "dlydm2seqr",
    "ctxdlydm1seqr", "ctxdlydm2seqr", "multidlydmseqr", "dmsseqr", "dnmsseqr", "dmcseqr",
    "dnmcseqr",
]  # fmt: skip
SEQL_20 = [
    "goseql", "rtgoseql", "dlygoseql", "antiseql", "rtantiseql", "dlyantiseql", "dm1seql",
    "dm2seql", "ctxdm1seql", "ctxdm2seql", "multidmseql", "dlydm1seql", "dlydm2seql",
    "ctxdlydm1seql", "ctxdlydm2seql", "multidlydmseql", "dmsseql", "dnmsseql", "dmcseql",
    "dnmcseql",
]  # fmt: skip
INT_SEQ_44 = [
    "dlygointrseqr", "dlygointrseql", "dlygointlseqr", "dlygointlseql",
    "dlyantiintrseqr", "dlyantiintrseql", "dlyantiintlseqr", "dlyantiintlseql",
    "dlydm1intrseqr", "dlydm1intrseql", "dlydm1intlseqr", "dlydm1intlseql",
    "dlydm2intrseqr", "dlydm2intrseql", "dlydm2intlseqr", "dlydm2intlseql",
    "ctxdlydm1intrseqr", "ctxdlydm1intrseql", "ctxdlydm1intlseqr", "ctxdlydm1intlseql",
    "ctxdlydm2intrseqr", "ctxdlydm2intrseql", "ctxdlydm2intlseqr", "ctxdlydm2intlseql",
    "multidlydmintrseqr", "multidlydmintrseql", "multidlydmintlseqr", "multidlydmintlseql",
    "dmsintrseqr", "dmsintrseql", "dmsintlseqr", "dmsintlseql",
    "dnmsintrseqr", "dnmsintrseql", "dnmsintlseqr", "dnmsintlseql",
    "dmcintrseqr", "dmcintrseql", "dmcintlseqr", "dmcintlseql",
    "dnmcintrseqr", "dnmcintrseql", "dnmcintlseqr", "dnmcintlseql",
]  # fmt: skip
MODCOG82 = COG20 + INT_22 + SEQR_20 + SEQL_20
MODCOG126 = MODCOG82 + INT_SEQ_44

CAMEL_BASE = {
    "go": "Go", "rtgo": "ReactGo", "dlygo": "DelayGo", "anti": "Anti", "rtanti": "ReactAnti",
    "dlyanti": "DelayAnti", "dm1": "DM1", "dm2": "DM2", "ctxdm1": "CtxDM1", "ctxdm2": "CtxDM2",
    "multidm": "MultiDM", "dlydm1": "DelayDM1", "dlydm2": "DelayDM2", "ctxdlydm1": "CtxDelayDM1",
    "ctxdlydm2": "CtxDelayDM2", "multidlydm": "MultiDelayDM", "dms": "DMS", "dnms": "DNMS",
    "dmc": "DMC", "dnmc": "DNMC",
}  # fmt: skip
FAMILY = {
    **dict.fromkeys(["go", "rtgo", "dlygo", "anti", "rtanti", "dlyanti"], "go"),
    **dict.fromkeys(
        ["dm1", "dm2", "ctxdm1", "ctxdm2", "multidm",
         "dlydm1", "dlydm2", "ctxdlydm1", "ctxdlydm2", "multidlydm"], "dm"
    ),
    **dict.fromkeys(["dms", "dnms", "dmc", "dnmc"], "match"),
}  # fmt: skip
NO_DELAY_BASES = ["go", "rtgo", "anti", "rtanti", "dm1", "dm2", "ctxdm1", "ctxdm2", "multidm"]


def _split(name: str) -> tuple[str, str, str]:
    """(base, int letter or '', seq letter or '') of a canonical name, parsed by hand."""
    m = re.fullmatch(r"([a-z0-9]+?)(?:int([rl]))?(?:seq([rl]))?", name)
    assert m, name
    return m[1], m[2] or "", m[3] or ""


def _expected_camel(name: str) -> str:
    base, i, s = _split(name)
    return CAMEL_BASE[base] + (f"Int{i.upper()}" if i else "") + (f"Seq{s.upper()}" if s else "")


# ---------------------------------------------------------------------------------- counts
def test_counts_per_group_and_total():
    groups = {"base": 0, "seq": 0, "int": 0, "intseq": 0}
    for name in ALL_TASKS:
        _, i, s = _split(name)
        groups[{(False, False): "base", (False, True): "seq", (True, False): "int",
                (True, True): "intseq"}[(bool(i), bool(s))]] += 1  # fmt: skip
    assert groups == {"base": 20, "seq": 40, "int": 22, "intseq": 44}
    assert len(ALL_TASKS) == 126
    assert len(set(ALL_TASKS)) == 126
    assert len(BASES) == 20
    assert sorted(INT_BASES) == sorted(INT_BASE_ORDER)


def test_collection_sizes_and_multitask_observation_sizes():
    # TASKS.md §6: 1 + 2N + n = 53 / 115 / 159 at N = 16
    sizes = {key: len(names) for key, names in COLLECTIONS.items()}
    assert sizes == {"20-cog": 20, "mod-cog-82": 82, "mod-cog-126": 126}
    assert {k: 1 + 2 * 16 + n for k, n in sizes.items()} == {
        "20-cog": 53,
        "mod-cog-82": 115,
        "mod-cog-126": 159,
    }


# ---------------------------------------------------------------------------------- orders
@pytest.mark.parametrize(
    "key, expected",
    [("20-cog", COG20), ("mod-cog-82", MODCOG82), ("mod-cog-126", MODCOG126)],
)
def test_collection_order_is_the_tasks_md_order(key, expected):
    assert list(COLLECTIONS[key]) == expected
    assert list(collection(key)) == expected
    assert len(set(expected)) == len(expected)


def test_all_tasks_is_mod_cog_126_and_bases_are_20_cog():
    assert list(ALL_TASKS) == MODCOG126
    assert list(BASES) == COG20


@pytest.mark.parametrize(
    "index, name",
    [
        (0, "go"), (5, "dlyanti"), (6, "dm1"), (10, "multidm"), (11, "dlydm1"), (15, "multidlydm"),
        (16, "dms"), (19, "dnmc"), (20, "dlygointr"), (21, "dlygointl"), (33, "multidlydmintl"),
        (41, "dnmcintl"), (42, "goseqr"), (43, "rtgoseqr"), (61, "dnmcseqr"), (62, "goseql"),
        (81, "dnmcseql"),
    ],
)  # fmt: skip
def test_rule_index_in_mod_cog_82(index, name):
    assert collection("mod-cog-82").index(name) == index
    assert collection("mod-cog-126").index(name) == index


def test_int_seq_block_layout_in_mod_cog_126():
    # base k (TASKS.md order) occupies 82 + 4k ... 85 + 4k: intrseqr, intrseql, intlseqr, intlseql
    names = collection("mod-cog-126")
    for k, base in enumerate(INT_BASE_ORDER):
        assert names[82 + 4 * k : 86 + 4 * k] == (
            base + "intrseqr",
            base + "intrseql",
            base + "intlseqr",
            base + "intlseql",
        )
    assert names[125] == "dnmcintlseql"


def test_every_task_rule_index_is_its_position():
    for key, expected in (("mod-cog-82", MODCOG82), ("mod-cog-126", MODCOG126)):
        names = collection(key)
        for position, name in enumerate(expected):
            assert names.index(name) == position


# ---------------------------------------------------------------------------------- ids
@pytest.mark.parametrize(
    "name, env_id",
    [
        ("dlygointr", "ModCog-DelayGoIntR-v0"),
        ("dlydm1intrseql", "ModCog-DelayDM1IntRSeqL-v0"),
        ("dnmcseqr", "ModCog-DNMCSeqR-v0"),
        ("go", "ModCog-Go-v0"),
        ("rtantiseql", "ModCog-ReactAntiSeqL-v0"),
        ("ctxdlydm2intlseqr", "ModCog-CtxDelayDM2IntLSeqR-v0"),
        ("multidlydmintl", "ModCog-MultiDelayDMIntL-v0"),
    ],
)
def test_gym_id_examples(name, env_id):
    assert gym_id(name) == env_id
    assert canonical_name(env_id) == name


@pytest.mark.parametrize("name", MODCOG126)
def test_camel_round_trip(name):
    camel = _expected_camel(name)
    assert camel_name(name) == camel
    assert gym_id(name) == f"ModCog-{camel}-v0"
    assert canonical_name(f"ModCog-{camel}-v0") == name
    assert canonical_name(name) == name
    base, i, s = _split(name)
    sign = {"": 0, "r": 1, "l": -1}
    assert parse_name(name) == (base, sign[i], sign[s])
    assert family(name) == FAMILY[base]


def test_every_id_is_registered_with_a_modcog_entry_point():
    for name in MODCOG126:
        spec = gymnasium.registry[f"ModCog-{_expected_camel(name)}-v0"]
        entry = spec.entry_point
        entry = entry if isinstance(entry, str) else f"{entry.__module__}:{entry.__name__}"
        assert entry.startswith("modcog_env."), (name, entry)
        assert canonical_name(spec.kwargs["task"]) == name


def test_registered_task_ids_match_the_catalogue():
    # the single-task ids registered by the package: one per task, none for aliases
    ids = {
        env_id
        for env_id, spec in gymnasium.registry.items()
        if env_id.startswith("ModCog-")
        and isinstance(spec.entry_point, str)
        and spec.entry_point.startswith("modcog_env.")
        and "task" in (spec.kwargs or {})
    }
    assert ids == {f"ModCog-{_expected_camel(n)}-v0" for n in MODCOG126}


# ---------------------------------------------------------------------------------- aliases
@pytest.mark.parametrize("base", INT_BASE_ORDER)
def test_intseq_alias_is_intrseqr(base):
    alias = base + "intseq"
    assert canonical_name(alias) == base + "intrseqr"
    assert parse_name(alias) == (base, 1, 1)
    task = make_task(alias)
    assert task.name == base + "intrseqr"
    assert (task.int_sign, task.seq_sign) == (1, 1)
    for names in COLLECTIONS.values():
        assert alias not in names
    assert alias not in ALL_TASKS
    registered = {spec.kwargs.get("task") for spec in gymnasium.registry.values() if spec.kwargs}
    assert alias not in registered
    assert f"ModCog-{CAMEL_BASE[base]}IntSeq-v0" not in gymnasium.registry


def test_alias_trials_equal_canonical_trials():
    a = make_task("dmsintseq").sample(5, range(50))
    b = make_task("dmsintrseqr").sample(5, range(50))
    assert (a.label == b.label).all()
    assert (a.ob == b.ob).all()


def test_make_accepts_alias_and_short_name():
    env = modcog_env.make("dlydm1intseq")
    try:
        assert env.unwrapped.task.name == "dlydm1intrseqr"
        assert env.spec.id == "ModCog-DelayDM1IntRSeqR-v0"
    finally:
        env.close()


# ---------------------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "bad, suggestion",
    [
        ("dlgo", "dlygo"),
        ("dlygoo", "dlygo"),
        ("ctxdm", "ctxdm1"),
        ("ModCog-DelyGo-v0", "ModCog-DelayGo-v0"),
    ],
)
def test_unknown_names_suggest_close_matches(bad, suggestion):
    with pytest.raises(ValueError, match=re.escape(repr(bad))) as err:
        canonical_name(bad)
    assert repr(suggestion) in str(err.value)
    with pytest.raises(ValueError, match=re.escape(repr(suggestion))):
        make_task(bad)


@pytest.mark.parametrize("bad", ["", "GO", "xyz", "dlygointx", "dlygoseq", "dlygo-intr", "intr"])
def test_malformed_names_raise(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        canonical_name(bad)


@pytest.mark.parametrize(
    "bad", ["gointr", "rtgointl", "antiintr", "rtantiintl", "dm1intr", "dm2intl", "ctxdm1intr",
            "ctxdm2intl", "multidmintr", "gointrseqr", "multidmintlseql"]
)  # fmt: skip
def test_int_on_a_base_without_delay_lists_the_int_bases(bad):
    for call in (parse_name, canonical_name, make_task):
        with pytest.raises(ValueError, match=re.escape(repr(bad))) as err:
            call(bad)
        message = str(err.value)
        for base in INT_BASE_ORDER:
            assert base in message, (bad, base, message)
    with pytest.raises(ValueError):
        gym_id(bad)


@pytest.mark.parametrize("bad", ["dlygoseqrintr", "dmsseqlintl", "dlydm1seqrintl"])
def test_modifier_order_is_fixed(bad):
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        canonical_name(bad)


def test_int_bases_without_delay_are_exactly_the_nine():
    for base in COG20:
        valid = base not in NO_DELAY_BASES
        assert (base in INT_BASE_ORDER) == valid
        if valid:
            assert canonical_name(base + "intl") == base + "intl"


# ---------------------------------------------------------------------------------- custom lists
def test_custom_collection_is_canonicalized_in_order():
    names = collection(["dms", "ModCog-Go-v0", "dlygointseq", "rtantiseql"])
    assert names == ("dms", "go", "dlygointrseqr", "rtantiseql")


@pytest.mark.parametrize(
    "bad, fragment",
    [
        (["go", "go"], "more than once"),
        (["dlygointseq", "dlygointrseqr"], "more than once"),
        (["go", "ModCog-Go-v0"], "more than once"),
        ([], "at least one"),
    ],
)
def test_custom_collection_rejects_duplicates_and_empty(bad, fragment):
    with pytest.raises(ValueError, match=re.escape(fragment)):
        collection(bad)


def test_custom_collection_rejects_unknown_and_invalid_names():
    with pytest.raises(ValueError, match=re.escape("'dlgo'")):
        collection(["go", "dlgo"])
    with pytest.raises(ValueError, match=re.escape("'gointr'")):
        collection(["gointr"])


def test_unknown_collection_key():
    with pytest.raises(ValueError, match=re.escape("'mod-cog-132'")):
        collection("mod-cog-132")

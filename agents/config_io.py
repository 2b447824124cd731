"""Configs as files and command lines: a flat dataclass <-> TOML, and argparse options from it.

- :func:`field_help` reads each field's help text from its trailing ``# comment`` in the class
  source (the comment is the documentation; nothing to keep in sync).
- :func:`write_toml` / :func:`read_toml`: a flat table of strings, ints, floats, bools and lists of
  strings; ``None`` is written as the string ``"none"`` (TOML has no null) and read back as None
  for fields whose type admits None. Reading uses :mod:`tomllib` (Python 3.11+) or ``tomli``.
- :func:`add_dataclass_arguments`: one ``--field-name`` option per field (plus aliases), typed by
  the field's annotation, with its help text and default; absent options are absent from the
  namespace (``argparse.SUPPRESS``), so callers can layer defaults < preset < file < flags.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

_FIELD_LINE = re.compile(r"^\s+(\w+)\s*:[^#]*#\s?(.*)$")


def field_help(cls: type) -> dict[str, str]:
    """{field: its trailing comment in the class source}; {} if the source is unavailable."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    names = {f.name for f in dataclasses.fields(cls)}
    out = {}
    for line in source.splitlines():
        m = _FIELD_LINE.match(line)
        if m and m.group(1) in names and m.group(1) not in out:
            out[m.group(1)] = m.group(2).strip()
    return out


def allows_none(field: dataclasses.Field) -> bool:
    return "None" in str(field.type)


def base_type(field: dataclasses.Field) -> str:
    """"bool", "int", "float", "str" or "list" (str | list[str]) from the annotation."""
    text = str(field.type).replace(" ", "")
    for name in ("bool", "int", "float"):
        if text in (name, f"{name}|None", f"None|{name}"):
            return name
    if "list" in text:
        return "list"
    return "str"


# ---------------------------------------------------------------------------------------- TOML
def toml_value(value: object) -> str:
    """One TOML value (flat configs only)."""
    if value is None:
        return '"none"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are valid TOML
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} {value!r} to TOML")


def write_toml(
    path: str | os.PathLike,
    values: Mapping[str, object],
    *,
    header: str = "",
    comments: Mapping[str, str] | None = None,
) -> None:
    """Write a flat TOML table atomically, one ``key = value  # comment`` per line."""
    path = Path(path)
    lines = [f"# {line}" for line in header.splitlines()]
    for key, value in values.items():
        note = (comments or {}).get(key)
        lines.append(f"{key} = {toml_value(value)}" + (f"  # {note}" if note else ""))
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_toml(path: str | os.PathLike) -> dict:
    """A TOML file as a dict; ValueError naming the file if it is missing or malformed."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    path = Path(path)
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"config file {str(path)!r}: no such file") from None
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ValueError(f"config file {str(path)!r}: {err}") from None


def coerce(cls: type, values: Mapping[str, object], source: str = "config") -> dict:
    """Values read from TOML typed as ``cls``'s fields: "none" -> None where allowed, ints to
    floats for float fields. Unknown keys raise ValueError naming them and ``source``."""
    by_name = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(by_name))
    if unknown:
        raise ValueError(f"{source}: unknown keys {unknown}; known: {sorted(by_name)}")
    out = {}
    for key, value in values.items():
        f = by_name[key]
        if isinstance(value, str) and value.lower() == "none" and allows_none(f):
            value = None
        elif base_type(f) == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        out[key] = value
    return out


# ---------------------------------------------------------------------------------------- CLI
def option_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def _number(kind: type, optional: bool) -> Callable[[str], object]:
    def parse(text: str) -> object:
        if optional and text.lower() == "none":
            return None
        try:
            return kind(text)
        except ValueError:
            what = "an int" if kind is int else "a number"
            extra = " or none" if optional else ""
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}{extra}") from None

    parse.__name__ = kind.__name__
    return parse


def add_dataclass_arguments(
    parser: argparse.ArgumentParser,
    cls: type,
    *,
    aliases: Mapping[str, Iterable[str]] | None = None,
    choices: Mapping[str, Iterable[object]] | None = None,
    types: Mapping[str, Callable[[str], object]] | None = None,
    extra_help: Mapping[str, str] | None = None,
    exclusive: Iterable[Iterable[str]] = (),
    skip: Iterable[str] = (),
) -> dict[str, argparse.Action]:
    """One option per field of dataclass ``cls`` (see the module docstring); returns
    {field: action}. ``aliases`` adds option strings, ``choices``/``types`` override the value
    check and parser of a field, ``extra_help`` is appended to its help; each set of fields in
    ``exclusive`` becomes a mutually exclusive group."""
    helps = field_help(cls)
    aliases, choices, types = aliases or {}, choices or {}, types or {}
    groups = {}
    for names in exclusive:
        group = parser.add_mutually_exclusive_group()
        groups.update({name: group for name in names})
    actions = {}
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        kind = base_type(f)
        default = f.default if f.default is not dataclasses.MISSING else None
        text = helps.get(f.name, "")
        if f.name in (extra_help or {}):
            text = f"{text}; {extra_help[f.name]}" if text else extra_help[f.name]
        shown = ",".join(default) if isinstance(default, list) else default
        help_text = f"{text} (default {shown})".replace("%", "%%")
        names = [option_name(f.name), *aliases.get(f.name, ())]
        kw: dict = {"dest": f.name, "default": argparse.SUPPRESS, "help": help_text}
        if kind == "bool":
            kw["action"] = argparse.BooleanOptionalAction
        elif kind == "list":
            kw.update(nargs="+", metavar="NAME")
        else:
            if kind in ("int", "float"):
                kw["type"] = _number(int if kind == "int" else float, allows_none(f))
            if f.name in types:
                kw["type"] = types[f.name]
            if f.name in choices:
                kw["choices"] = tuple(choices[f.name])
            kw["metavar"] = f.name.upper() if "choices" not in kw else None
            if kw["metavar"] is None:
                del kw["metavar"]
        actions[f.name] = groups.get(f.name, parser).add_argument(*names, **kw)
    return actions

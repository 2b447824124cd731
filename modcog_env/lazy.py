"""Names of a package that load their module on first use (PEP 562), for cheap imports.

``modcog_env``, ``agents`` and ``agents.analysis`` keep torch, matplotlib and their heavier
modules out of ``import`` time this way::

    __getattr__, __dir__ = lazy_exports(__name__, {"Batches": "batches"}, globals())
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping


def lazy_exports(
    package: str, where: Mapping[str, str], namespace: dict
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Module-level ``__getattr__`` and ``__dir__`` for ``package``: name ``n`` of ``where``
    is imported from the submodule ``where[n]`` on first access and then cached in
    ``namespace`` (the package's ``globals()``)."""

    def __getattr__(name: str) -> object:
        if name in where:
            value = getattr(importlib.import_module(f".{where[name]}", package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(where))

    return __getattr__, __dir__

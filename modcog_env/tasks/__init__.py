"""Task definitions: one family per module, the modifiers, and the catalogue."""

from .base import Task
from .catalog import (
    ALL_TASKS,
    BASES,
    COLLECTIONS,
    canonical_name,
    collection,
    family,
    gym_id,
    make_task,
    parse_name,
)
from .modifiers import INT_BASES, ModifiedTask

__all__ = [
    "ALL_TASKS",
    "BASES",
    "COLLECTIONS",
    "INT_BASES",
    "ModifiedTask",
    "Task",
    "canonical_name",
    "collection",
    "family",
    "gym_id",
    "make_task",
    "parse_name",
]

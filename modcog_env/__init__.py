"""modcog-env: the 20-Cog and Mod-Cog cognitive tasks as Gymnasium environments.

Importing the package registers ``ModCog-<CamelName>-v0`` for all 126 tasks. It imports numpy and
gymnasium only; torch, matplotlib and neurogym are imported by the modules that use them.
"""

from .batches import Batches, Dataset, loss_weights
from .conventions import CONVENTIONS, Convention, get_convention
from .env import MultiTaskEnv, TaskEnv
from .scheduler import SCHEDULES, Schedule, make_schedule
from .streams import TaskStreams, stream_seed
from .tasks import (
    ALL_TASKS,
    BASES,
    COLLECTIONS,
    INT_BASES,
    ModifiedTask,
    Task,
    canonical_name,
    collection,
    family,
    gym_id,
    make_task,
    parse_name,
)
from .tasks.catalog import register_envs
from .trials import Trial, TrialBatch
from .vector import ModCogVectorEnv, make_vec

__version__ = "0.1.0"

register_envs()


def make(task: str, **kwargs: object):
    """``gymnasium.make`` that also accepts short names and aliases (``make("dlygo")``)."""
    import gymnasium

    return gymnasium.make(gym_id(canonical_name(task)), **kwargs)


__all__ = [
    "ALL_TASKS",
    "Batches",
    "Dataset",
    "ModCogVectorEnv",
    "MultiTaskEnv",
    "SCHEDULES",
    "Schedule",
    "TaskEnv",
    "TaskStreams",
    "loss_weights",
    "make_schedule",
    "make_vec",
    "stream_seed",
    "BASES",
    "COLLECTIONS",
    "CONVENTIONS",
    "INT_BASES",
    "Convention",
    "ModifiedTask",
    "Task",
    "Trial",
    "TrialBatch",
    "canonical_name",
    "collection",
    "family",
    "get_convention",
    "gym_id",
    "make",
    "make_task",
    "register_envs",
    "parse_name",
]

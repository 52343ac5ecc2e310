"""Task names to task classes: the one table that knows which tasks exist.

``cfg.task`` (and the ``task`` of a checkpoint sidecar's config) selects a class from
:data:`TASKS`. The entries are lazy ``"module:attribute"`` strings, so the trainer and the
checkpoint code never import a task by name (training stays below the AVE package), the AVE
modules cost nothing in an LLP run, and a task whose optional dependency is missing becomes a
one-line ``ConfigError``. A new task is one module with a class satisfying :class:`TaskClass`,
plus one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from avvp.registry import Registry

if TYPE_CHECKING:
    from omegaconf import DictConfig
    from torch import nn

    from avvp.training.trainer import Task

__all__ = ["TASKS", "TaskClass", "build_task"]


class TaskClass(Protocol):
    """A task class: built from a run config, and able to rebuild its model from the ``model``
    section of a checkpoint's config alone (no data, no run config)."""

    def __call__(self, cfg: DictConfig, data_root: Path | None) -> Task: ...

    def build_model_from_config(self, config: Mapping[str, Any]) -> nn.Module: ...


TASKS: Registry[TaskClass] = Registry("task")
TASKS.add("llp", "avvp.training.llp_task:LLPTask")
TASKS.add("ave", "avvp.ave.task:AVETask")


def build_task(cfg: DictConfig, data_root: Path | None) -> Task:
    """The task of ``cfg.task``; ``data_root`` may be None where no data is read (``avvp info``)."""
    return TASKS.get(cfg.task, where="task")(cfg, data_root)


if TYPE_CHECKING:  # mypy checks here, never at run time, that every task class fits the protocols
    from avvp.ave.task import AVETask
    from avvp.training.llp_task import LLPTask

    _TASK_CLASSES: tuple[TaskClass, ...] = (LLPTask, AVETask)

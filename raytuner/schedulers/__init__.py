"""The schedulers registry: a name -> a small module that builds a Ray TrialScheduler.

Adding a scheduler is one module and one line here.
"""

from __future__ import annotations

from raytuner.registry import Registry
from raytuner.schedulers.base import ScheduleContext, Scheduler

SCHEDULERS: Registry[type[Scheduler]] = Registry("scheduler", "scheduler.name")
SCHEDULERS.add("fifo", "raytuner.schedulers._fifo:FifoScheduler", "no early stopping: every trial runs to its end")

__all__ = ["SCHEDULERS", "ScheduleContext", "Scheduler"]

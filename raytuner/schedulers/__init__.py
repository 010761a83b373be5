"""The schedulers registry: a name -> a small module that builds a Ray TrialScheduler.

Adding a scheduler is one module and one line here.
"""

from __future__ import annotations

from raytuner.spec.registry import Registry
from raytuner.schedulers.base import ScheduleContext, Scheduler

SCHEDULERS: Registry[type[Scheduler]] = Registry("scheduler", "scheduler.name")
SCHEDULERS.add("fifo", "raytuner.schedulers._fifo:FifoScheduler", "no early stopping: every trial runs to its end")
SCHEDULERS.add("asha", "raytuner.schedulers._asha:AshaScheduler", "asynchronous successive halving: stop trials in the bottom of each rung (grace_period, reduction_factor)")
SCHEDULERS.add("hyperband", "raytuner.schedulers._hyperband:HyperBandScheduler", "synchronous HyperBand brackets; paused trials resume from checkpoints")
SCHEDULERS.add("bohb", "raytuner.schedulers._bohb:BohbScheduler", "HyperBand for BOHB; only with strategy.name: bohb")
SCHEDULERS.add("median", "raytuner.schedulers._median:MedianScheduler", "median stopping rule: stop a trial whose best is below the median of the others' running means")
SCHEDULERS.add("pbt", "raytuner.schedulers._pbt:PbtScheduler", "population-based training: the worst trials clone the best's checkpoint with mutated hyperparameters")
SCHEDULERS.add("pb2", "raytuner.schedulers._pb2:Pb2Scheduler", "population-based bandits: PBT with a GP bandit choosing new values inside bounds")

__all__ = ["SCHEDULERS", "ScheduleContext", "Scheduler"]

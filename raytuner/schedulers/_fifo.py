"""fifo: run every trial to its end (Ray's FIFOScheduler)."""

from __future__ import annotations

from typing import Any

from raytuner.schedulers.base import ScheduleContext, Scheduler


class FifoScheduler(Scheduler):
    name = "fifo"
    decides_per_step = False  # trials run to their end: batched execution allows it

    def build(self, ctx: ScheduleContext) -> Any:
        from ray.tune.schedulers import FIFOScheduler

        return FIFOScheduler()

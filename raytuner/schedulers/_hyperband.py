"""hyperband: synchronous HyperBand (Ray's HyperBandScheduler).

Trials run in brackets; at each rung the bracket pauses until its trials arrive,
then keeps the top 1/reduction_factor. Paused trials resume from their checkpoint.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from raytuner.schedulers._common import BudgetOptions, metric_kwargs, resolve_max_t
from raytuner.schedulers.base import ScheduleContext, Scheduler


class HyperBandOptions(BudgetOptions):
    reduction_factor: float = Field(3, gt=1, description="keep the top 1/reduction_factor at each rung")
    stop_last_trials: bool = Field(True, description="stop trials at max_t (false: let them run on)")


class HyperBandScheduler(Scheduler):
    name = "hyperband"
    Options = HyperBandOptions
    needs_checkpoints = True
    synchronous = True
    releases_finished = False  # its brackets hold their trials to the end (not tested without them)
    stops_early = True
    options: HyperBandOptions

    def check(self, ctx: ScheduleContext) -> None:
        resolve_max_t(self.options.max_t, self.options.time_attr, ctx, self.name)
        metric_kwargs(self.options, ctx, self.name)
        self.require_checkpoints(ctx)

    def rungs(self, max_steps: float | None = None) -> list[float]:
        """The milestones below max_t where a bracket is halved, for every bracket (Ray's
        HyperBandScheduler: bracket s starts at int(max_t * eta^-s) and halves s times, its
        milestone growing by eta up to max_t)."""
        o = self.options
        max_t = o.max_t or max_steps
        if not max_t or max_t < 1:
            return []
        eta = o.reduction_factor
        out: set[float] = set()
        for s in range(int(round(math.log(max_t) / math.log(eta))) + 1):
            milestone = int(max_t * eta ** (-s))
            if milestone == 0:
                continue  # Ray skips a bracket this small
            for _ in range(s):
                out.add(float(milestone))
                milestone = int(min(milestone * eta, max_t))
        return sorted(level for level in out if level < max_t)

    def ray_class(self) -> Any:
        from raytuner.schedulers._brackets import RaytunerHyperBand

        return RaytunerHyperBand

    def build(self, ctx: ScheduleContext) -> Any:
        o = self.options
        return self.ray_class()(
            time_attr=o.time_attr,
            max_t=resolve_max_t(o.max_t, o.time_attr, ctx, self.name),
            reduction_factor=o.reduction_factor,
            stop_last_trials=o.stop_last_trials,
            **metric_kwargs(o, ctx, self.name),
        )

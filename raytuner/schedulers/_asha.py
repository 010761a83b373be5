"""asha: asynchronous successive halving (Ray's AsyncHyperBandScheduler).

A trial that reaches a rung (grace_period * reduction_factor^k steps) continues only
if its metric is in the top 1/reduction_factor of the trials that reached that rung.
"""

from __future__ import annotations

import math
from typing import Any

from pydantic import Field

from raytuner.schedulers._common import BudgetOptions, Number, check_at_most, metric_kwargs, resolve_max_t
from raytuner.schedulers.base import ScheduleContext, Scheduler


class AshaOptions(BudgetOptions):
    grace_period: Number = Field(1, gt=0, description="time_attr units every trial runs before it can be stopped")
    reduction_factor: float = Field(3, gt=1, description="keep the top 1/reduction_factor at each rung")
    brackets: int = Field(1, ge=1, le=10, description="number of brackets (differing grace periods)")
    stop_last_trials: bool = Field(True, description="stop trials at max_t (false: let them run on)")


class AshaScheduler(Scheduler):
    name = "asha"
    Options = AshaOptions
    stops_early = True
    options: AshaOptions

    def check(self, ctx: ScheduleContext) -> None:
        max_t = resolve_max_t(self.options.max_t, self.options.time_attr, ctx, self.name)
        check_at_most(self.options.grace_period, max_t, "grace_period", "max_t")
        metric_kwargs(self.options, ctx, self.name)

    def rungs(self, max_steps: float | None = None) -> list[float]:
        """grace_period * reduction_factor^k below max_t, for every bracket (Ray's _Bracket)."""
        o = self.options
        max_t = o.max_t or max_steps
        if not max_t or max_t < o.grace_period:
            return []
        out: set[float] = set()
        for s in range(o.brackets):
            count = int(math.log(max_t / o.grace_period) / math.log(o.reduction_factor) - s + 1)
            out.update(o.grace_period * o.reduction_factor ** (k + s) for k in range(count))
        return sorted(out)

    def build(self, ctx: ScheduleContext) -> Any:
        from ray.tune.schedulers import AsyncHyperBandScheduler

        o = self.options
        return AsyncHyperBandScheduler(
            time_attr=o.time_attr,
            max_t=resolve_max_t(o.max_t, o.time_attr, ctx, self.name),
            grace_period=o.grace_period,
            reduction_factor=o.reduction_factor,
            brackets=o.brackets,
            stop_last_trials=o.stop_last_trials,
            **metric_kwargs(o, ctx, self.name),
        )

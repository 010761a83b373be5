"""median: the median stopping rule (Ray's MedianStoppingRule).

After grace_period, a trial stops when its best result so far is worse than the
median of the other trials' running averages at the same step.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from raytuner.schedulers._common import Number, SchedulerOptions, metric_kwargs
from raytuner.schedulers.base import ScheduleContext, Scheduler


class MedianOptions(SchedulerOptions):
    grace_period: Number = Field(1, gt=0, description="time_attr units before a trial can be stopped")
    min_samples_required: int = Field(3, ge=1, description="other trials needed at a step to compare with")
    min_time_slice: Number = Field(0, ge=0, description="time_attr units a trial runs between pauses")
    hard_stop: bool = Field(True, description="stop a trial below the median (false: pause it)")


class MedianScheduler(Scheduler):
    name = "median"
    Options = MedianOptions
    stops_early = True
    options: MedianOptions

    def check(self, ctx: ScheduleContext) -> None:
        metric_kwargs(self.options, ctx, self.name)
        if not self.options.hard_stop:
            self.require_checkpoints(ctx)

    def build(self, ctx: ScheduleContext) -> Any:
        from ray.tune.schedulers import MedianStoppingRule

        o = self.options
        return MedianStoppingRule(
            time_attr=o.time_attr,
            grace_period=o.grace_period,
            min_samples_required=o.min_samples_required,
            min_time_slice=o.min_time_slice,
            hard_stop=o.hard_stop,
            **metric_kwargs(o, ctx, self.name),
        )

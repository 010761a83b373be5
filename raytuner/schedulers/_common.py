"""Options and checks shared by the early-stopping schedulers (time attribute, max_t, objective)."""

from __future__ import annotations

from typing import Any, Union

from pydantic import BaseModel, ConfigDict, Field

from raytuner.errors import MISSING, SpecError
from raytuner.schedulers.base import ScheduleContext

STEP_ATTRS = ("training_iteration", "step")  # both count the trainable's reports
Number = Union[int, float]


class SchedulerOptions(BaseModel):
    """Options every learning-curve scheduler has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_attr: str = Field(
        "training_iteration",
        min_length=1,
        description="the reported counter that measures progress: training_iteration (the "
        "trainable's own step counter, the default), step, time_total_s (seconds) or any "
        "monotonically increasing metric the trainable reports",
    )
    metric: str | None = Field(
        None,
        description="multi-objective runs only: the objective this scheduler compares trials on",
    )


class BudgetOptions(SchedulerOptions):
    """Options of schedulers that allocate a budget of up to max_t per trial."""

    max_t: Number | None = Field(
        None, gt=0, description="the most time_attr units a trial may run (default: the trainable's steps)"
    )


def resolve_max_t(max_t: Number | None, time_attr: str, ctx: ScheduleContext, name: str) -> Number:
    """The options' max_t, or the trainable's number of steps when time is counted in steps."""
    if max_t is not None:
        return max_t
    if time_attr in STEP_ATTRS and ctx.max_steps:
        return ctx.max_steps
    reason = (
        "the trainable does not say how many steps a trial takes"
        if time_attr in STEP_ATTRS
        else f"time_attr {time_attr!r} is not a step counter"
    )
    raise SpecError.at(
        "scheduler.options.max_t",
        MISSING,
        f"the most {time_attr} a trial may run, for '{name}' ({reason}; or set stop.max_steps)",
    )


def check_at_most(value: Number, limit: Number, field: str, what: str) -> None:
    if value > limit:
        raise SpecError.at(f"scheduler.options.{field}", value, f"at most {what} ({limit})")


def objective(options: SchedulerOptions, ctx: ScheduleContext, name: str) -> tuple[str, str] | None:
    """The (metric, mode) a scheduler must be given explicitly, or None to use the TuneConfig's.

    Single-objective runs: the experiment's metric (Ray passes it to the scheduler).
    Multi-objective runs: Ray's TuneConfig has no single metric, so an early-stopping
    scheduler needs ``scheduler.options.metric`` naming one of the objectives.
    """
    names = [n for n, _ in ctx.objectives]
    if not ctx.multi_objective:
        if options.metric is not None and options.metric != ctx.metric:
            raise SpecError.at(
                "scheduler.options.metric",
                options.metric,
                f"unset (or {ctx.metric!r}): a single-objective run's scheduler compares trials on metric.name",
            )
        return None
    if options.metric is None:
        raise SpecError.at(
            "scheduler.options.metric",
            MISSING,
            f"one of the objectives ({', '.join(names) or 'metric'}): '{name}' stops or clones trials "
            "by comparing one metric, and this run has several objectives (or use scheduler.name: fifo)",
        )
    if options.metric not in names:
        raise SpecError.at("scheduler.options.metric", options.metric, f"one of the objectives ({', '.join(names)})")
    return options.metric, dict(ctx.objectives)[options.metric]


def metric_kwargs(options: SchedulerOptions, ctx: ScheduleContext, name: str) -> dict[str, Any]:
    pick = objective(options, ctx, name)
    return {} if pick is None else {"metric": pick[0], "mode": pick[1]}


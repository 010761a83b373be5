"""pbt: population-based training (Ray's PopulationBasedTraining).

Every perturbation_interval steps, a trial in the bottom quantile_fraction restarts
from the checkpoint of a trial in the top fraction, with that trial's
hyperparameters mutated (resampled from the space, or multiplied by a factor,
kept inside the space's bounds). Needs a trainable that checkpoints every step.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from raytuner.schedulers._common import Number, metric_kwargs
from raytuner.schedulers._population import (
    PopulationOptions,
    checkpoints_to_keep,
    perturbation_interval,
    population_history,
    recording,
    select,
    to_mutations,
)
from raytuner.schedulers.base import ScheduleContext, Scheduler


class PbtOptions(PopulationOptions):
    mutations: list[str] | dict[str, Any] | None = Field(
        None,
        description="what to mutate: names of tuned parameters (dotted for nested), or a space "
        "of DSL nodes; default: every float, int and choice parameter of the space",
    )
    burn_in_period: Number = Field(0, ge=0, description="time_attr units before the first perturbation")
    resample_probability: float = Field(0.25, ge=0, le=1, description="chance to resample instead of perturb")
    perturbation_factors: tuple[float, float] = Field((1.2, 0.8), description="factors a number is multiplied by")


class PbtScheduler(Scheduler):
    name = "pbt"
    Options = PbtOptions
    needs_checkpoints = True
    explores_itself = True
    options: PbtOptions

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self._built: Any = None

    def mutated_space(self, ctx: ScheduleContext) -> dict[str, Any]:
        return select(ctx.space or {}, self.options.mutations, "scheduler.options.mutations")

    def check(self, ctx: ScheduleContext) -> None:
        metric_kwargs(self.options, ctx, self.name)
        perturbation_interval(self.options, ctx, self.name)
        self.mutated_space(ctx)
        self.require_checkpoints(ctx)

    def checkpoints_to_keep(self, ctx: ScheduleContext) -> int | None:
        return checkpoints_to_keep(self.options, ctx)

    def build(self, ctx: ScheduleContext) -> Any:
        from ray.tune.schedulers import PopulationBasedTraining

        o = self.options
        space = self.mutated_space(ctx)
        cls = recording(PopulationBasedTraining, space=space, seed=ctx.seed, time_attr=o.time_attr)
        self._built = cls(
            time_attr=o.time_attr,
            perturbation_interval=perturbation_interval(o, ctx, self.name),
            burn_in_period=o.burn_in_period,
            hyperparam_mutations=to_mutations(space),
            quantile_fraction=o.quantile_fraction,
            resample_probability=o.resample_probability,
            perturbation_factors=o.perturbation_factors,
            synch=o.synch,
            log_config=False,
            **metric_kwargs(o, ctx, self.name),
        )
        return self._built

    def history(self) -> dict[str, Any]:
        return population_history(self._built)

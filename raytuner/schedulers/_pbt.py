"""pbt: population-based training (Ray's PopulationBasedTraining).

Every perturbation_interval steps, a trial in the bottom quantile_fraction restarts
from the checkpoint of a trial in the top fraction, with that trial's
hyperparameters mutated (resampled from the space, or multiplied by a factor,
kept inside the space's bounds). Needs a trainable that checkpoints every step.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from raytuner.schedulers._common import Number
from raytuner.schedulers._population import PopulationOptions, PopulationScheduler, select, to_mutations
from raytuner.schedulers.base import ScheduleContext


class PbtOptions(PopulationOptions):
    mutations: list[str] | dict[str, Any] | None = Field(
        None,
        description="what to mutate: names of tuned parameters (dotted for nested), or a space "
        "of DSL nodes; default: every float, int and choice parameter of the space",
    )
    burn_in_period: Number = Field(0, ge=0, description="time_attr units before the first perturbation")
    resample_probability: float = Field(0.25, ge=0, le=1, description="chance to resample instead of perturb")
    perturbation_factors: tuple[float, float] = Field((1.2, 0.8), description="factors a number is multiplied by")


class PbtScheduler(PopulationScheduler):
    name = "pbt"
    Options = PbtOptions
    options: PbtOptions

    def explored_space(self, ctx: ScheduleContext) -> dict[str, Any]:
        return select(ctx.space or {}, self.options.mutations, "scheduler.options.mutations", ctx.mutation_refusal)

    def ray_class(self) -> type:
        from ray.tune.schedulers import PopulationBasedTraining

        return PopulationBasedTraining

    def explore_kwargs(self, space: dict[str, Any]) -> dict[str, Any]:
        o = self.options
        return {
            "burn_in_period": o.burn_in_period,
            "hyperparam_mutations": to_mutations(space),
            "resample_probability": o.resample_probability,
            "perturbation_factors": o.perturbation_factors,
        }

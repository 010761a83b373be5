"""pso, de and ga: nevergrad's particle swarm, differential evolution and genetic algorithm.

The optimisers search the unit cube of :mod:`raytuner.strategies.codec` (log scales,
integer bins and one-hot choices included) through nevergrad's ask/tell API, seeded
through the parametrization's random state; ``budget.max_concurrent`` is their
``num_workers`` (the population evaluated in parallel).

Each coordinate is its own bounded ``ng.p.Scalar(lower=0, upper=1)``, as a nevergrad user
writes a box (``ng.p.Dict`` of bounded scalars): the first population is drawn uniformly
over the whole box and every coordinate has its own self-adapting mutation scale, so on a
float space we ask exactly the configs nevergrad asks for the user's bounds. (A single
``ng.p.Array(shape=..., lower=0, upper=1)`` would not: nevergrad then samples the first
population from a Gaussian around the centre, sigma a sixth of the range, with one fixed
mutation scale shared by all coordinates.)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from raytuner.strategies._asktell import AskTellSearcher
from raytuner.strategies.base import SearchContext, SearcherStrategy
from raytuner.strategies.codec import Codec


class NevergradSearcher(AskTellSearcher):
    def __init__(
        self,
        codec: Codec,
        metric: str,
        mode: str,
        points: list[dict[str, Any]],
        seed: int | None,
        optimizer: Any,
        budget: int,
        workers: int,
    ) -> None:
        import nevergrad as ng
        import numpy as np

        super().__init__(codec, metric, mode, points, seed)
        param = ng.p.Tuple(*(ng.p.Scalar(lower=0.0, upper=1.0) for _ in range(codec.width)))
        if seed is not None:
            param.random_state = np.random.RandomState(seed)
        self.opt = optimizer(parametrization=param, budget=budget, num_workers=workers)

    def ask(self) -> tuple[dict[str, Any], Any]:
        candidate = self.opt.ask()
        return self.codec.from_unit(candidate.value), candidate

    def ask_point(self, encoded: dict[str, Any]) -> Any:
        return self.opt.parametrization.spawn_child(new_value=tuple(float(v) for v in self.codec.to_unit(encoded)))

    def tell(self, encoded: dict[str, Any], token: Any, loss: float) -> None:
        self.opt.tell(token, loss)


class PopulationOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    popsize: int | None = Field(None, ge=2, description="population size (default: a fifth of budget.trials, between 4 and 40)")


class NevergradStrategy(SearcherStrategy):
    tells_past_results = True  # a warm start on the same task tells it past scores
    Options = PopulationOptions
    requires = (("nevergrad", "search"),)

    def popsize(self, ctx: SearchContext) -> int:
        size = self.options.popsize  # type: ignore[attr-defined]
        return size if size is not None else max(4, min(40, self.num_samples(ctx) // 5))

    def optimizer(self, ctx: SearchContext) -> Any:
        raise NotImplementedError

    def build(self, ctx: SearchContext, codec: Any, points: list[dict[str, Any]]) -> Any:
        return NevergradSearcher(
            codec, ctx.metric, ctx.mode, points, ctx.seed, self.optimizer(ctx), self.num_samples(ctx), ctx.max_concurrent or 1
        )


class PsoStrategy(NevergradStrategy):
    name = "pso"

    def optimizer(self, ctx: SearchContext) -> Any:
        import nevergrad as ng

        return ng.families.ConfPSO(popsize=self.popsize(ctx))


class DeStrategy(NevergradStrategy):
    name = "de"

    def optimizer(self, ctx: SearchContext) -> Any:
        import nevergrad as ng

        return ng.families.DifferentialEvolution(crossover="twopoints", popsize=self.popsize(ctx))


class GaStrategy(NevergradStrategy):
    """A real-coded genetic algorithm: (mu + lambda) selection, recombination of two
    parents for every child, Gaussian mutation (nevergrad's EvolutionStrategy)."""

    name = "ga"

    def optimizer(self, ctx: SearchContext) -> Any:
        import nevergrad as ng

        size = self.popsize(ctx)
        return ng.families.EvolutionStrategy(recombination_ratio=1.0, popsize=size, offsprings=size, only_offsprings=False)

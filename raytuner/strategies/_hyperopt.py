"""tpe: hyperopt's Tree-structured Parzen Estimator through Ray's HyperOptSearch.

Ray draws each suggestion's seed from a legacy ``RandomState``; ``hyperopt.fmin``
draws it from ``np.random.default_rng(seed)``. We give the searcher fmin's stream, so
a seed suggests the same configs as ``fmin(..., rstate=np.random.default_rng(seed))``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from raytuner.strategies.base import SearchContext, SearcherStrategy


class TpeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    n_initial_points: int = Field(20, ge=1, description="random configs before TPE models the results (hyperopt's default)")
    gamma: float = Field(0.25, gt=0, lt=1, description="fraction of the best results that form the 'good' density")


class TpeStrategy(SearcherStrategy):
    tells_past_results = True  # a warm start on the same task tells it past scores
    name = "tpe"
    Options = TpeOptions
    requires = (("hyperopt", "search"),)

    def build(self, ctx: SearchContext, codec: Any, points: list[dict[str, Any]]) -> Any:
        from ray.tune.search.hyperopt import HyperOptSearch

        opts: TpeOptions = self.options  # type: ignore[assignment]
        searcher = HyperOptSearch(
            space=HyperOptSearch.convert_search_space(codec.ray_domains()),
            metric=ctx.metric,
            mode=ctx.mode,
            points_to_evaluate=[dict(p) for p in points] or None,
            n_initial_points=opts.n_initial_points,
            random_state_seed=ctx.seed,
            gamma=opts.gamma,
        )
        searcher.rstate = FminSeeds(ctx.seed)
        return searcher


class FminSeeds:
    """The per-suggestion seeds of ``hyperopt.fmin`` (``rstate.integers``), behind the
    ``RandomState`` methods Ray's HyperOptSearch calls (``randint``, and get/set_state
    for its save/restore)."""

    def __init__(self, seed: int | None) -> None:
        import numpy as np

        self.generator = np.random.default_rng(seed)

    def randint(self, high: int) -> int:
        return int(self.generator.integers(high))

    def get_state(self) -> dict[str, Any]:
        return self.generator.bit_generator.state

    def set_state(self, state: dict[str, Any]) -> None:
        self.generator.bit_generator.state = state

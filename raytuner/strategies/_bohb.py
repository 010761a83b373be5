"""bohb: BOHB's model (hpbandster's kernel-density TPE over ConfigSpace) through Ray's TuneBOHB.

Paired with the ``bohb`` scheduler (Ray's HyperBandForBOHB) it is BOHB proper: the
model learns from every rung's results (``hyperband_info``). With any other scheduler
Ray's TuneBOHB would never learn (it only reads ``hyperband_info``); ours then feeds
each finished trial's final result at the budget it ran (its reports), so the model
still guides the search. hpbandster draws from numpy's global random state: ours runs
it on a private, seeded one, so a seed reproduces the configs.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from raytuner.strategies.base import SearchContext, SearcherStrategy


class BohbOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    min_points_in_model: int | None = Field(None, ge=1, description="results before the model is used (default: parameters + 1)")
    top_n_percent: int = Field(15, ge=1, le=99, description="share of results that form the 'good' density")
    num_samples: int = Field(64, ge=1, description="samples to optimise the acquisition")
    random_fraction: float = Field(1 / 3, ge=0, le=1, description="share of configs drawn at random")
    bandwidth_factor: float = Field(3.0, gt=0)
    min_bandwidth: float = Field(1e-3, gt=0)


class BohbStrategy(SearcherStrategy):
    name = "bohb"
    Options = BohbOptions
    requires = (("hpbandster", "bohb"), ("ConfigSpace", "bohb"))
    inner_limits_concurrency = True  # TuneBOHB counts running trials, not paused ones

    def build(self, ctx: SearchContext, codec: Any, points: list[dict[str, Any]]) -> Any:
        import numpy as np
        from ray.tune.search.bohb import TuneBOHB

        from raytuner.strategies._bohb_searcher import BohbSearcher, private_numpy_random

        bohb_config = self.options.model_dump(exclude_none=True)
        rng = np.random.RandomState(ctx.seed)
        with private_numpy_random(rng):
            return BohbSearcher(
                rng,
                space=TuneBOHB.convert_search_space(codec.ray_domains()),
                bohb_config=bohb_config,
                metric=ctx.metric,
                mode=ctx.mode,
                points_to_evaluate=[dict(p) for p in points] or None,
                seed=ctx.seed,
            )

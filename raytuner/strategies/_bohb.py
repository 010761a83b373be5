"""bohb: BOHB's model (hpbandster's kernel-density TPE over ConfigSpace) through Ray's TuneBOHB.

Paired with the ``bohb`` scheduler (Ray's HyperBandForBOHB) it is BOHB proper: the
model learns from every rung's results (``hyperband_info``). With any other scheduler
Ray's TuneBOHB would never learn (it only reads ``hyperband_info``); ours then feeds
each finished trial's final result at the budget it ran (its reports), so the model
still guides the search. hpbandster draws from numpy's global random state: ours runs
it on a private, seeded one, so a seed reproduces the configs.
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

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


@contextlib.contextmanager
def private_numpy_random(state: Any) -> Iterator[None]:
    """Run a block on ``state`` (a RandomState) as numpy's global random state."""
    import numpy as np

    saved = np.random.get_state()
    np.random.set_state(state.get_state())
    try:
        yield
    finally:
        state.set_state(np.random.get_state())
        np.random.set_state(saved)


def bohb_searcher(ctx: SearchContext, codec: Any, points: list[dict[str, Any]], options: BohbOptions) -> Any:
    import numpy as np
    from ray.tune.search.bohb import TuneBOHB
    from ray.tune.search.bohb.bohb_search import _BOHBJobWrapper

    class Bohb(TuneBOHB):  # type: ignore[misc]
        def __init__(self, **kwargs: Any) -> None:
            self._rng = np.random.RandomState(ctx.seed)
            self._hyperband: set[str] = set()
            with private_numpy_random(self._rng):
                super().__init__(**kwargs)

        def suggest(self, trial_id: str) -> Any:
            with private_numpy_random(self._rng):
                return super().suggest(trial_id)

        def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
            if "hyperband_info" in result:
                self._hyperband.add(trial_id)
                with private_numpy_random(self._rng):
                    super().on_trial_result(trial_id, result)
            elif trial_id not in self.paused:
                self.running.add(trial_id)

        def on_trial_complete(self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False) -> None:
            if not error and result and trial_id not in self._hyperband and trial_id in self.trial_to_params:
                budget = float(result.get("training_iteration") or 1)
                job = _BOHBJobWrapper(self._metric_op * result[self.metric], budget, self.trial_to_params[trial_id])
                with private_numpy_random(self._rng):
                    self.bohber.new_result(job)
            self._hyperband.discard(trial_id)
            if trial_id in self.trial_to_params:
                super().on_trial_complete(trial_id, result, error)

    bohb_config = options.model_dump()
    if bohb_config["min_points_in_model"] is None:
        bohb_config.pop("min_points_in_model")
    return Bohb(
        space=TuneBOHB.convert_search_space(codec.ray_domains()),
        bohb_config=bohb_config,
        metric=ctx.metric,
        mode=ctx.mode,
        points_to_evaluate=[dict(p) for p in points] or None,
        seed=ctx.seed,
    )


class BohbStrategy(SearcherStrategy):
    name = "bohb"
    Options = BohbOptions
    requires = (("hpbandster", "bohb"), ("ConfigSpace", "bohb"))
    inner_limits_concurrency = True  # TuneBOHB counts running trials, not paused ones

    def build(self, ctx: SearchContext, codec: Any, points: list[dict[str, Any]]) -> Any:
        return bohb_searcher(ctx, codec, points, self.options)  # type: ignore[arg-type]

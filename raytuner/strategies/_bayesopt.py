"""bayesopt: Gaussian-process Bayesian optimisation with bayes_opt, integers and choices included.

Ray's BayesOptSearch searches floats only. We pin bayesian-optimization 1.4.0 (Ray's
wrapper needs <2 and nevergrad 1.0.12 pins exactly 1.4.0, so the typed-parameter
API of 3.x is out of reach) and drive its ``suggest``/``register`` API ourselves
over the encoding of :mod:`raytuner.strategies.codec`, each coordinate on its
parameter's own scale (as a native bayes_opt user writes ``pbounds``; log parameters
in log space, so a float-only space behaves exactly like ``maximize``): integers are
bins centred on each value, a choice is a one-hot block decoded by argmax, and every result is
registered at the point it really ran (the snapped, canonical encoding), so the GP
models the configs that were evaluated. The first ``n_initial_points`` configs are
random, as in ``BayesianOptimization.maximize(init_points=...)``.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from raytuner.strategies._asktell import AskTellSearcher
from raytuner.strategies.base import SearchContext, SearcherStrategy
from raytuner.strategies.codec import Codec


class BayesOptOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    n_initial_points: int = Field(5, ge=1, description="random configs first (bayes_opt's init_points default)")
    acquisition: Literal["ucb", "ei", "poi"] = Field("ucb", description="acquisition function")
    kappa: float = Field(2.576, gt=0, description="exploration of UCB")
    xi: float = Field(0.0, ge=0, description="exploration of EI / POI")


class BayesOptSearcher(AskTellSearcher):
    def __init__(self, codec: Codec, metric: str, mode: str, points: list[dict[str, Any]], seed: int | None, options: BayesOptOptions) -> None:
        import numpy as np
        from bayes_opt import BayesianOptimization, UtilityFunction

        super().__init__(codec, metric, mode, points, seed)
        self.keys = [f"u{i:04d}" for i in range(codec.width)]
        self.box = np.asarray(codec.natural_bounds(), dtype=float).reshape(-1, 2)
        self.opt = BayesianOptimization(
            f=None,
            pbounds={k: (float(lo), float(hi)) for k, (lo, hi) in zip(self.keys, self.box)},
            # the seed itself, as a native user passes it: bayes_opt then gives the random
            # initial points and the GP/acquisition RNG their own streams (a RandomState
            # object would be shared by both, and the suggestions drift from maximize's)
            random_state=seed,
            verbose=0,
            allow_duplicate_points=True,
        )
        self.utility = UtilityFunction(kind=options.acquisition, kappa=options.kappa, xi=options.xi)
        self.n_initial = options.n_initial_points
        self.asked = 0

    def ask(self) -> tuple[dict[str, Any], Any]:
        import warnings

        import numpy as np

        self.asked += 1
        if self.asked <= self.n_initial or len(self.opt.space) == 0:
            vector = self.opt.space.random_sample()
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                params = self.opt.suggest(self.utility)
            vector = np.asarray([params[k] for k in self.keys])
        encoded = self.codec.from_unit(self._to_unit(vector))
        i = 0
        for d in self.codec.dims:  # plain floats: the asked value itself, not a rounded round trip
            if d.kind == "float" and not d.log and d.param.q is None:  # type: ignore[union-attr]
                encoded[d.key] = d.snap(float(vector[i]))
            i += d.size
        return encoded, vector

    def _to_unit(self, vector: Any) -> Any:
        lo, hi = self.box[:, 0], self.box[:, 1]
        return (vector - lo) / (hi - lo)

    def ask_point(self, encoded: dict[str, Any]) -> Any:
        self.asked += 1
        return None

    def tell(self, encoded: dict[str, Any], token: Any, loss: float) -> None:
        import numpy as np

        lo, hi = self.box[:, 0], self.box[:, 1]
        vector = lo + self.codec.to_unit(encoded) * (hi - lo)
        if token is not None:  # where the config is the asked point itself, register it bit for bit
            same = np.abs(vector - token) <= 1e-9 * (hi - lo)
            vector = np.where(same, token, vector)
        self.opt.register(params=dict(zip(self.keys, vector)), target=-loss)


class BayesOptStrategy(SearcherStrategy):
    tells_past_results = True  # a warm start on the same task tells it past scores
    name = "bayesopt"
    Options = BayesOptOptions
    requires = (("bayes_opt", "search"),)

    def build(self, ctx: SearchContext, codec: Any, points: list[dict[str, Any]]) -> Any:
        return BayesOptSearcher(codec, ctx.metric, ctx.mode, points, ctx.seed, self.options)  # type: ignore[arg-type]

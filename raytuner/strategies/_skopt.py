"""skopt: scikit-optimize's Optimizer (GP, random forest, extra trees or GBRT) by ask/tell.

Ray dropped its SkOptSearch; this is ours. Integers and choices are skopt's own
Integer and Categorical dimensions (choices by index). With trials in flight, the
next config comes from skopt's constant-liar ``ask(n_points=...)`` so concurrent
trials do not all get the same point.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from raytuner.strategies._asktell import AskTellSearcher
from raytuner.strategies.base import SearchContext, SearcherStrategy
from raytuner.strategies.codec import Codec


class SkoptOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    base_estimator: Literal["GP", "RF", "ET", "GBRT"] = Field("GP", description="the surrogate model")
    acq_func: Literal["gp_hedge", "EI", "PI", "LCB"] = Field("gp_hedge", description="acquisition function")
    n_initial_points: int = Field(10, ge=1, description="random configs before the surrogate (skopt's default)")


def skopt_dimensions(codec: Codec) -> list[Any]:
    from skopt.space import Categorical, Integer, Real

    dims: list[Any] = []
    for d in codec.dims:
        p = d.param
        prior = "log-uniform" if d.log else "uniform"
        if d.kind == "choice":
            dims.append(Categorical(list(range(len(p.values))), name=d.key))  # type: ignore[union-attr]
        elif d.kind == "int":
            dims.append(Integer(p.low, p.high, prior=prior, name=d.key))  # type: ignore[union-attr]
        else:
            dims.append(Real(p.low, p.high, prior=prior, name=d.key))  # type: ignore[union-attr]
    return dims


class SkoptSearcher(AskTellSearcher):
    def __init__(self, codec: Codec, metric: str, mode: str, points: list[dict[str, Any]], seed: int | None, options: SkoptOptions) -> None:
        from skopt import Optimizer

        super().__init__(codec, metric, mode, points, seed)
        self.opt = Optimizer(
            skopt_dimensions(codec),
            base_estimator=options.base_estimator,
            acq_func=options.acq_func,
            n_initial_points=options.n_initial_points,
            random_state=seed,
        )
        self.keys = [d.key for d in codec.dims]

    def ask(self) -> tuple[dict[str, Any], Any]:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.live:
                x = self.opt.ask(n_points=len(self.live) + 1, strategy="cl_min")[-1]
            else:
                x = self.opt.ask()
        return self.codec.canonical(dict(zip(self.keys, _plain(x)))), None

    def tell(self, encoded: dict[str, Any], token: Any, loss: float) -> None:
        import warnings

        x = [encoded[k] for k in self.keys]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.opt.tell(x, loss)


def _plain(values: list[Any]) -> list[Any]:
    return [v.item() if hasattr(v, "item") else v for v in values]


class SkoptStrategy(SearcherStrategy):
    tells_past_results = True  # a warm start on the same task tells it past scores
    name = "skopt"
    Options = SkoptOptions
    requires = (("skopt", "search"),)

    def build(self, ctx: SearchContext, codec: Any, points: list[dict[str, Any]]) -> Any:
        return SkoptSearcher(codec, ctx.metric, ctx.mode, points, ctx.seed, self.options)  # type: ignore[arg-type]

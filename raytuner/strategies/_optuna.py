"""optuna-tpe, optuna-gp, cmaes and nsga2: Optuna samplers through Ray's OptunaSearch."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from raytuner.errors import SpecError
from raytuner.strategies.base import SearchContext, SearcherStrategy



class DefineByRun:
    """Optuna's define-by-run view of a space with choices of sub-spaces: the branch is
    suggested first, then only that branch's parameters (Optuna's samplers model each
    branch's parameters on the trials that chose it). Names are the codec's keys
    (``model/@``, ``model/1/learning_rate``). A class, so the searcher pickles."""

    def __init__(self, codec: Any) -> None:
        self.codec = codec

    def __call__(self, trial: Any) -> None:
        def pick(d: Any) -> Any:
            p = d.param
            if d.kind == "choice":
                return trial.suggest_categorical(d.key, list(range(len(p.values))))
            if d.kind == "int":
                return trial.suggest_int(d.key, p.low, p.high, log=p.log)
            return trial.suggest_float(d.key, p.low, p.high, log=p.log)

        self.codec.tree(pick)


class OptunaStrategy(SearcherStrategy):
    """Base of the Optuna strategies: one sampler each. A space with choices of sub-spaces
    is searched define-by-run (``DefineByRun``)."""

    tells_past_results = True  # a warm start on the same task tells it past scores

    requires: ClassVar[tuple[tuple[str, str], ...]] = (("optuna", "search"),)
    supports = frozenset({"float", "int", "choice", "fixed", "conditional"})

    def sampler(self, ctx: SearchContext) -> Any:
        raise NotImplementedError

    def build(self, ctx: SearchContext, codec: Any, points: list[dict[str, Any]]) -> Any:
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        multi = len(ctx.metrics) > 1
        return OptunaSearch(
            space=DefineByRun(codec) if codec.conditional else OptunaSearch.convert_search_space(codec.ray_domains()),
            metric=ctx.metrics if multi else ctx.metric,
            mode=ctx.modes if multi else ctx.mode,  # type: ignore[arg-type]
            points_to_evaluate=[dict(p) for p in points] or None,
            sampler=self.sampler(ctx),
        )


class OptunaTpeOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    n_startup_trials: int = Field(10, ge=0, description="random trials before TPE (Optuna's default)")
    multivariate: bool | None = Field(None, description="model parameters jointly (default: Optuna's own default)")


class OptunaTpeStrategy(OptunaStrategy):
    name = "optuna-tpe"
    Options = OptunaTpeOptions

    def sampler(self, ctx: SearchContext) -> Any:
        import optuna

        o: OptunaTpeOptions = self.options  # type: ignore[assignment]
        kwargs: dict[str, Any] = {"seed": ctx.seed, "n_startup_trials": o.n_startup_trials}
        if o.multivariate is not None:
            kwargs["multivariate"] = o.multivariate
        return optuna.samplers.TPESampler(**kwargs)


class OptunaGpOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    n_startup_trials: int = Field(10, ge=1, description="random trials before the Gaussian process (Optuna's default)")


class OptunaGpStrategy(OptunaStrategy):
    name = "optuna-gp"
    Options = OptunaGpOptions
    requires = (("optuna", "search"), ("torch", "torch"))  # Optuna's GPSampler runs on torch

    def sampler(self, ctx: SearchContext) -> Any:
        import optuna

        o: OptunaGpOptions = self.options  # type: ignore[assignment]
        return optuna.samplers.GPSampler(seed=ctx.seed, n_startup_trials=o.n_startup_trials)


class CmaesOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    sigma0: float | None = Field(None, gt=0, description="initial step size (default: a sixth of the range)")
    popsize: int | None = Field(None, ge=2, description="population size (default: 4 + 3 ln(dimension))")
    restart_strategy: Literal["ipop", "bipop"] | None = Field(None, description="restart with larger populations")


class CmaesStrategy(OptunaStrategy):
    name = "cmaes"
    Options = CmaesOptions
    supports = frozenset({"float", "int", "fixed"})
    requires = (("optuna", "search"), ("cmaes", "search"))

    def unsupported_hint(self, kind: str) -> str:
        return "CMA-ES searches numbers only; use optuna-tpe or tpe for categorical parameters"

    def check(self, ctx: SearchContext) -> None:
        super().check(ctx)
        from raytuner.spec.params import iter_params

        tuned = [p for _, p in iter_params(ctx.space) if p.type in ("float", "int")]
        if len(tuned) < 2:
            raise SpecError.at("space", f"{len(tuned)} tuned parameter(s)", "at least 2 numeric parameters for CMA-ES (use optuna-tpe or bayesopt for one)")

    def sampler(self, ctx: SearchContext) -> Any:
        import optuna

        o: CmaesOptions = self.options  # type: ignore[assignment]
        kwargs: dict[str, Any] = {"seed": ctx.seed, "sigma0": o.sigma0, "popsize": o.popsize}
        if o.restart_strategy:
            kwargs["restart_strategy"] = o.restart_strategy
        return optuna.samplers.CmaEsSampler(**kwargs)


class Nsga2Options(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    population_size: int | None = Field(None, ge=2, description="default: a fifth of budget.trials, between 4 and 50")
    mutation_prob: float | None = Field(None, ge=0, le=1, description="default: 1 / number of parameters")
    crossover_prob: float = Field(0.9, ge=0, le=1)


class Nsga2Strategy(OptunaStrategy):
    name = "nsga2"
    Options = Nsga2Options
    multi_objective = True

    def population(self, ctx: SearchContext) -> int:
        o: Nsga2Options = self.options  # type: ignore[assignment]
        if o.population_size is not None:
            return o.population_size
        return min(50, max(4, (ctx.trials or self.default_trials) // 5))

    def sampler(self, ctx: SearchContext) -> Any:
        import optuna

        o: Nsga2Options = self.options  # type: ignore[assignment]
        return optuna.samplers.NSGAIISampler(
            seed=ctx.seed,
            population_size=self.population(ctx),
            mutation_prob=o.mutation_prob,
            crossover_prob=o.crossover_prob,
        )

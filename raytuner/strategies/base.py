"""What every strategy is: a small class that builds a Ray Tune searcher from a context.

The runner owns the Tuner, checkpoints and results; a strategy only says which
configs to try (``searcher`` and ``param_space``) and how many (``num_samples``),
and refuses, at validation time, spaces it cannot search (``check``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from raytuner.errors import SpecError
from raytuner.spec.objectives import Objective
from raytuner.spec.params import Space, iter_params
from raytuner.spec.space import to_ray

PARAM_KINDS = frozenset({"float", "int", "choice", "grid", "fixed"})


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True)
class SearchContext:
    """What a strategy may know about the experiment."""

    space: Space
    metric: str
    mode: str
    seed: int | None = None
    trials: int | None = None
    max_concurrent: int | None = None
    points_to_evaluate: list[dict[str, Any]] = field(default_factory=list)
    reports_per_trial: int | None = None
    objectives: tuple[Objective, ...] = ()  # every objective (the plan gives at least metric's)
    iterative: bool | None = None  # whether a trial reports once per step (None: unknown)
    # past results on the same task (warm start): (config, score) told to a searcher that
    # learns from results (``tells_past_results``) without re-running them
    evaluated: list[tuple[dict[str, Any], float]] = field(default_factory=list)

    @property
    def metrics(self) -> list[str]:
        return [name for name, _ in self.objectives] or [self.metric]

    @property
    def modes(self) -> list[str]:
        return [mode for _, mode in self.objectives] or [self.mode]


@dataclass(frozen=True)
class Choice:
    """What a strategy resolves to: itself, or (for ``auto``) a concrete strategy and scheduler."""

    strategy: "Strategy"
    scheduler: str | None = None  # used when the spec names no scheduler
    reason: str = ""


class Strategy:
    """Base of every strategy. Subclasses set the class attributes and override hooks."""

    name: ClassVar[str]
    supports: ClassVar[frozenset[str]] = PARAM_KINDS
    Options: ClassVar[type[BaseModel]] = NoOptions
    default_trials: ClassVar[int] = 10
    multi_objective: ClassVar[bool] = False  # accepts a list of metrics
    requires: ClassVar[tuple[tuple[str, str], ...]] = ()  # (importable module, raytuner extra)
    checks_points: ClassVar[bool] = True  # validate points_to_evaluate against the space
    # its trials can come from Ray's own BasicVariantGenerator (seeded): sampled from the
    # space, or the complete configs of ``configs``; the runner uses that generator where
    # a scheduler needs it (PBT/PB2, synchronous HyperBand)
    ray_generator: ClassVar[bool] = False
    # ``configs(ctx)`` lists every trial's complete config (grid, manual)
    lists_configs: ClassVar[bool] = False
    # the number of trials is the size of an expanded grid (no total shown while it runs)
    grid_sized: ClassVar[bool] = False
    deterministic: ClassVar[bool] = False  # the same configs whatever the seed (a fixed list)

    def __init__(self, options: BaseModel | None = None) -> None:
        self.options = options if options is not None else self.Options()

    # -- validation (no Ray) -------------------------------------------------
    def check(self, ctx: SearchContext) -> None:
        """Raise SpecError for what this strategy cannot handle."""
        for path, param in iter_params(ctx.space):
            kind = param.type
            if kind not in self.supports:
                raise SpecError.at(
                    "space." + ".".join(path),
                    param.model_dump(),
                    f"a parameter kind the '{self.name}' strategy supports "
                    f"({', '.join(sorted(self.supports))}); "
                    f"{Strategy.unsupported_hint(self, kind) if kind == 'conditional' else self.unsupported_hint(kind)}",
                )
        if len(ctx.objectives) > 1 and not self.multi_objective:
            raise SpecError.at(
                "metric", [name for name, _ in ctx.objectives],
                f"a single metric for the '{self.name}' strategy; use a multi-objective strategy (nsga2) for several",
            )
        if ctx.points_to_evaluate and any(p.type == "conditional" for _, p in iter_params(ctx.space)):
            raise SpecError.at("strategy.points_to_evaluate", ctx.points_to_evaluate,
                               "no points with a choice of sub-spaces in space (not supported yet)")
        if self.checks_points:
            from raytuner.strategies.codec import Codec

            codec = Codec(ctx.space) if _encodable(ctx.space) else None
            for i, point in enumerate(ctx.points_to_evaluate):
                if codec is not None:
                    codec.check_point(point, f"strategy.points_to_evaluate.{i}")
            if ctx.trials is not None and len(ctx.points_to_evaluate) > ctx.trials:
                raise SpecError.at(
                    "strategy.points_to_evaluate", f"{len(ctx.points_to_evaluate)} points",
                    f"at most budget.trials ({ctx.trials}) points",
                )
        for module, extra in self.requires:
            _require(module, extra, f"the '{self.name}' strategy")

    def choose(self, ctx: SearchContext) -> Choice:
        """The strategy (and scheduler) that will really run; ``auto`` overrides this."""
        return Choice(self)

    def unsupported_hint(self, kind: str) -> str:
        if kind == "conditional":
            return ("a choice of sub-spaces is searched by random, optuna-tpe, optuna-gp and nsga2; "
                    "use one of them, or one experiment per branch")
        if kind == "grid":
            return "use the 'grid' strategy, or 'choice' to sample among values"
        return "choose another strategy (see `raytuner strategies`)"

    def num_samples(self, ctx: SearchContext) -> int:
        return ctx.trials or self.default_trials

    def ray_num_samples(self, ctx: SearchContext) -> int:
        """``num_samples`` for Ray's own generator (which crosses grid axes with it itself)."""
        return self.num_samples(ctx)

    def configs(self, ctx: SearchContext) -> list[dict[str, Any]]:
        """Every trial's complete config, in order (only where ``lists_configs``)."""
        raise NotImplementedError(f"the '{self.name}' strategy lists no configs")

    def ray_samples_exactly(self, ctx: SearchContext) -> bool:
        """Whether Ray's own generator samples this strategy's space exactly as its searcher
        would, so the runner may let Ray create the trials without a searcher round trip."""
        return False

    # -- building (imports Ray) ----------------------------------------------
    def param_space(self, ctx: SearchContext) -> dict[str, Any]:
        return to_ray(ctx.space)

    def searcher(self, ctx: SearchContext) -> Any:
        """A ray.tune Searcher / SearchAlgorithm, or None for Ray's default."""
        return None


def _encodable(space: Space) -> bool:
    return all(p.type in ("float", "int", "choice", "fixed") for _, p in iter_params(space))


def _require(module: str, extra: str, feature: str) -> None:
    import importlib.util

    from raytuner.errors import missing_extra

    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise missing_extra(module.split(".")[0], extra, feature)


class SearcherStrategy(Strategy):
    """A strategy whose searcher works in the encoded space (see ``codec``) behind ``Guarded``.

    Subclasses implement ``build``: the backend's Searcher for the encoded space, with
    ``ctx``'s seed, metric(s), mode(s) and the encoded ``points`` to try first.
    """

    supports = frozenset({"float", "int", "choice", "fixed"})
    inner_limits_concurrency: ClassVar[bool] = False
    # the searcher models past results: a warm start on the same task tells it the past
    # trials' scores (``SearchContext.evaluated``) instead of re-running their configs
    tells_past_results: ClassVar[bool] = False

    def build(self, ctx: SearchContext, codec: Any, points: list[dict[str, Any]]) -> Any:
        raise NotImplementedError

    def param_space(self, ctx: SearchContext) -> dict[str, Any]:
        from raytuner.strategies.codec import Codec, nest

        return nest(Codec(ctx.space).fixed)  # the searcher suggests every tuned value

    def guarded(self, ctx: SearchContext) -> Any:
        from raytuner.strategies.codec import Codec
        from raytuner.strategies.guard import Guarded

        codec = Codec(ctx.space)
        points = [codec.encode(p) for p in ctx.points_to_evaluate]
        told = [(codec.encode(c), score) for c, score in self.past_results(ctx)]
        if codec.dims:
            inner = self.build(ctx, codec, [p for p, _ in told] + points)
            replay(inner, told, ctx.metric)
        else:  # nothing to tune: every trial runs the fixed config
            from raytuner.strategies._asktell import RandomSearcher

            inner = RandomSearcher(codec, ctx.metrics[0], ctx.modes[0], points, ctx.seed)
        return Guarded(
            inner,
            codec,
            ctx.metrics,
            ctx.modes,
            max_concurrent=ctx.max_concurrent,
            inner_limits_concurrency=self.inner_limits_concurrency,
        )

    def past_results(self, ctx: SearchContext) -> list[tuple[dict[str, Any], float]]:
        """The past results this strategy's searcher is told (none where it cannot use them)."""
        if not self.tells_past_results or len(ctx.metrics) > 1:
            return []
        return list(ctx.evaluated)

    def searcher(self, ctx: SearchContext) -> Any:
        from raytuner.strategies.guard import search_generator

        return search_generator(self.guarded(ctx))


def replay(searcher: Any, told: list[tuple[dict[str, Any], float]], metric: str) -> None:
    """Tell ``searcher`` the past results through its own protocol: each config was handed
    to it first among its points_to_evaluate, so ``suggest`` returns it and
    ``on_trial_complete`` reports its score, as if the trial had just run (Optuna adds a
    complete trial, hyperopt a done job, the ask/tell optimisers a ``tell``)."""
    for number, (point, score) in enumerate(told):
        trial_id = f"warm-start-past-{number}"
        suggested = searcher.suggest(trial_id)
        if not isinstance(suggested, dict):
            raise RuntimeError(f"the searcher suggested {suggested!r} for a past result")
        searcher.on_trial_complete(trial_id, {metric: float(score)})


def reports_per_step(trainable: Any) -> bool | None:
    """Whether a trial reports more than once (epochs, folds, a generator function)."""
    steps = trainable.max_steps()
    if steps is not None:
        return steps > 1
    function = getattr(getattr(trainable, "spec", None), "function", None)
    if isinstance(function, str):
        import inspect

        from raytuner.errors import RaytunerError
        from raytuner.spec.registry import import_object

        try:
            return inspect.isgeneratorfunction(import_object(function, "trainable.function"))
        except RaytunerError:
            return None
    return None

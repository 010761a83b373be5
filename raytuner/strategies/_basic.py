"""random, grid and manual: small Searchers of ours (exact integer steps and choices,
seeded, with points_to_evaluate and max_concurrent like every other strategy)."""

from __future__ import annotations

import itertools
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from raytuner.errors import SpecError
from raytuner.spec.params import ChoiceParam, FixedParam, GridParam, IntParam, grid_size, iter_params, split_grid
from raytuner.strategies._asktell import FINISHED, PlainSearcher, RandomSearcher
from raytuner.strategies.base import SearchContext, SearcherStrategy, Strategy
from raytuner.strategies.codec import Codec, flatten, nest


class GridCrossSearcher(PlainSearcher):
    """Random sampling crossed with grid axes, as Ray's grid_search with num_samples: for
    each of ``repeats`` rounds, every grid point in order, each with a fresh random sample."""

    def __init__(self, codec: Codec, axes: list[tuple[tuple[str, ...], list[Any]]], repeats: int,
                 metric: str, mode: str, seed: int | None) -> None:
        import numpy as np

        super().__init__(metric, mode)
        self.codec = codec
        self.points = [dict(zip(("/".join(p) for p, _ in axes), combo)) for combo in itertools.product(*(v for _, v in axes))]
        self.total = repeats * len(self.points)
        self.next = 0
        self.rng = np.random.default_rng(seed)

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self.next >= self.total:
            return FINISHED
        point = self.points[self.next % len(self.points)]
        self.next += 1
        sampled = flatten(self.codec.decode(self.codec.sample(self.rng)))  # nest() rebuilds it
        return nest({**sampled, **point})


class RandomStrategy(SearcherStrategy):
    """Random sampling; ``grid`` parameters are crossed with it as Ray does (every grid
    point ``budget.trials`` times, each with its own sample: grid size x trials in all)."""

    name = "random"
    supports = frozenset({"float", "int", "choice", "fixed", "conditional", "grid"})
    ray_generator = True

    def num_samples(self, ctx: SearchContext) -> int:
        return (ctx.trials or self.default_trials) * grid_size(ctx.space)

    def ray_num_samples(self, ctx: SearchContext) -> int:
        return ctx.trials or self.default_trials  # Ray crosses the grid with it

    def check(self, ctx: SearchContext) -> None:
        super().check(ctx)
        if ctx.points_to_evaluate and split_grid(ctx.space)[1]:
            raise SpecError.at("strategy.points_to_evaluate", ctx.points_to_evaluate,
                               "no points with grid parameters under the random strategy (not supported)")

    def param_space(self, ctx: SearchContext) -> dict[str, Any]:
        return nest(Codec(split_grid(ctx.space)[0]).fixed)

    def searcher(self, ctx: SearchContext) -> Any:
        rest, axes = split_grid(ctx.space)
        if not axes:
            return super().searcher(ctx)
        from raytuner.strategies.guard import Guarded, search_generator

        inner = GridCrossSearcher(Codec(rest), axes, ctx.trials or self.default_trials, ctx.metrics[0], ctx.modes[0], ctx.seed)
        return search_generator(Guarded(inner, None, ctx.metrics, ctx.modes, max_concurrent=ctx.max_concurrent))

    def ray_samples_exactly(self, ctx: SearchContext) -> bool:
        """No integer steps or float q (Ray rounds those from 0, not from low), no choice of
        sub-spaces (our codec draws the branch, then its parameters). Ray's generator creates
        trials without a searcher round trip, which keeps the per-trial overhead at raw Ray
        Tune's (scripts/bench_overhead.py)."""
        for _, param in iter_params(ctx.space):
            if getattr(param, "step", 1) != 1 or getattr(param, "q", None) is not None:
                return False
            if param.type == "conditional":
                return False
        return True

    def build(self, ctx: SearchContext, codec: Any, points: list[dict[str, Any]]) -> Any:
        return RandomSearcher(codec, ctx.metrics[0], ctx.modes[0], points, ctx.seed)


class ListSearcher(PlainSearcher):
    """Suggests a fixed list of complete configs, in order, then says it is finished."""

    def __init__(self, configs: list[dict[str, Any]], metric: str, mode: str) -> None:
        super().__init__(metric, mode)
        self.configs = list(configs)
        self.next = 0

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self.next >= len(self.configs):
            return FINISHED
        self.next += 1
        return dict(self.configs[self.next - 1])


class _ListStrategy(Strategy):
    ray_generator = True
    lists_configs = True

    def configs(self, ctx: SearchContext) -> list[dict[str, Any]]:
        raise NotImplementedError

    def num_samples(self, ctx: SearchContext) -> int:
        return len(self.configs(ctx))

    def param_space(self, ctx: SearchContext) -> dict[str, Any]:
        return {}  # every config is complete

    def searcher(self, ctx: SearchContext) -> Any:
        from raytuner.strategies.guard import Guarded, search_generator

        inner = ListSearcher(self.configs(ctx), ctx.metrics[0], ctx.modes[0])
        return search_generator(Guarded(inner, None, ctx.metrics, ctx.modes, max_concurrent=ctx.max_concurrent))


class GridStrategy(_ListStrategy):
    name = "grid"
    deterministic = True
    supports = frozenset({"int", "choice", "grid", "fixed"})
    grid_sized = True
    max_points = 100_000

    def unsupported_hint(self, kind: str) -> str:
        return "list the values to try with type: grid, or use the 'random' strategy"

    def grid_size(self, ctx: SearchContext) -> int:
        size = 1
        for _, p in iter_params(ctx.space):
            if p.type in ("grid", "choice"):
                size *= len(p.values)
            elif p.type == "int":
                size *= len(p.values())
        return size

    def check(self, ctx: SearchContext) -> None:
        super().check(ctx)
        size = self.grid_size(ctx)
        if size > self.max_points:
            raise SpecError.at("space", f"{size} grid points", f"at most {self.max_points}")
        if ctx.trials is not None and ctx.trials != size:
            raise SpecError.at(
                "budget.trials",
                ctx.trials,
                f"unset or {size} (the grid's size) for the grid strategy",
            )
        if ctx.points_to_evaluate:
            raise SpecError.at(
                "strategy.points_to_evaluate",
                ctx.points_to_evaluate,
                "nothing for the grid strategy (it tries every point)",
            )

    def configs(self, ctx: SearchContext) -> list[dict[str, Any]]:
        paths, axes = [], []
        for path, p in iter_params(ctx.space):
            paths.append("/".join(path))
            if isinstance(p, (GridParam, ChoiceParam)):
                axes.append(list(p.values))
            elif isinstance(p, IntParam):
                axes.append(p.values())
            elif isinstance(p, FixedParam):
                axes.append([p.value])
        return [nest(dict(zip(paths, combo))) for combo in itertools.product(*axes)]


class ManualOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    configs: list[dict[str, Any]] = Field(min_length=1, description="the configs to run, in order")


class ManualStrategy(_ListStrategy):
    name = "manual"
    deterministic = True
    supports = frozenset({"fixed"})
    Options = ManualOptions
    checks_points = False  # the points are whole configs here

    def unsupported_hint(self, kind: str) -> str:
        return "the manual strategy takes its configs from strategy.options.configs; keep only fixed values in space"

    def configs(self, ctx: SearchContext) -> list[dict[str, Any]]:
        fixed = nest(Codec(ctx.space).fixed)
        return [{**fixed, **c} for c in list(ctx.points_to_evaluate) + list(self.options.configs)]  # type: ignore[attr-defined]

    def check(self, ctx: SearchContext) -> None:
        super().check(ctx)
        n = len(self.configs(ctx))
        if ctx.trials is not None and ctx.trials != n:
            raise SpecError.at("budget.trials", ctx.trials, f"unset or {n} (the number of manual configs)")

"""random, grid and manual: Ray's BasicVariantGenerator with our validation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from raytuner.errors import SpecError
from raytuner.params import iter_params
from raytuner.space import to_ray
from raytuner.strategies.base import SearchContext, Strategy


def _variant_generator(ctx: SearchContext, points: list[dict[str, Any]]) -> Any:
    from ray.tune.search.basic_variant import BasicVariantGenerator

    return BasicVariantGenerator(
        points_to_evaluate=[dict(p) for p in points] or None,
        random_state=ctx.seed,
    )


class RandomStrategy(Strategy):
    name = "random"
    supports = frozenset({"float", "int", "choice", "fixed"})

    def searcher(self, ctx: SearchContext) -> Any:
        return _variant_generator(ctx, ctx.points_to_evaluate)


class GridStrategy(Strategy):
    name = "grid"
    supports = frozenset({"int", "choice", "grid", "fixed"})
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

    def num_samples(self, ctx: SearchContext) -> int:
        return 1

    def param_space(self, ctx: SearchContext) -> dict[str, Any]:
        return _grid_space(ctx.space)

    def searcher(self, ctx: SearchContext) -> Any:
        return _variant_generator(ctx, [])


def _values_space(configs: list[dict[str, Any]]) -> dict[str, Any]:
    from ray import tune

    keys = {key for config in configs for key in config}
    out: dict[str, Any] = {}
    for key in sorted(keys):
        values = [config[key] for config in configs if key in config]
        if all(isinstance(v, dict) for v in values):
            out[key] = _values_space(values)
        else:
            out[key] = tune.choice(values)
    return out


def _grid_space(space: dict[str, Any]) -> dict[str, Any]:
    from ray import tune

    out: dict[str, Any] = {}
    for key, node in space.items():
        if isinstance(node, dict):
            out[key] = _grid_space(node)
        elif node.type == "int":
            out[key] = tune.grid_search(node.values())
        else:
            out[key] = to_ray({key: node}, grid_choices=True)[key]
    return out


class ManualOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    configs: list[dict[str, Any]] = Field(min_length=1, description="the configs to run, in order")


class ManualStrategy(Strategy):
    name = "manual"
    supports = frozenset({"fixed"})
    Options = ManualOptions

    def unsupported_hint(self, kind: str) -> str:
        return "the manual strategy takes its configs from strategy.options.configs; keep only fixed values in space"

    def configs(self, ctx: SearchContext) -> list[dict[str, Any]]:
        return list(ctx.points_to_evaluate) + list(self.options.configs)  # type: ignore[attr-defined]

    def check(self, ctx: SearchContext) -> None:
        super().check(ctx)
        n = len(self.configs(ctx))
        if ctx.trials is not None and ctx.trials != n:
            raise SpecError.at("budget.trials", ctx.trials, f"unset or {n} (the number of manual configs)")

    def num_samples(self, ctx: SearchContext) -> int:
        return len(self.configs(ctx))

    def param_space(self, ctx: SearchContext) -> dict[str, Any]:
        # Ray resolves points against the param space, so every key a config sets must
        # exist there; the domain is never sampled (num_samples == number of configs).
        return {**_values_space(self.configs(ctx)), **to_ray(ctx.space)}

    def searcher(self, ctx: SearchContext) -> Any:
        return _variant_generator(ctx, self.configs(ctx))

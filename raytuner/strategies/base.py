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
from raytuner.params import Space, iter_params
from raytuner.space import to_ray

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


class Strategy:
    """Base of every strategy. Subclasses set the class attributes and override hooks."""

    name: ClassVar[str]
    supports: ClassVar[frozenset[str]] = PARAM_KINDS
    Options: ClassVar[type[BaseModel]] = NoOptions
    default_trials: ClassVar[int] = 10

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
                    f"({', '.join(sorted(self.supports))}); {self.unsupported_hint(kind)}",
                )

    def unsupported_hint(self, kind: str) -> str:
        if kind == "grid":
            return "use the 'grid' strategy, or 'choice' to sample among values"
        return "choose another strategy (see `raytuner strategies`)"

    def num_samples(self, ctx: SearchContext) -> int:
        return ctx.trials or self.default_trials

    # -- building (imports Ray) ----------------------------------------------
    def param_space(self, ctx: SearchContext) -> dict[str, Any]:
        return to_ray(ctx.space)

    def searcher(self, ctx: SearchContext) -> Any:
        """A ray.tune Searcher / SearchAlgorithm, or None for Ray's default."""
        return None

"""pb2: population-based bandits (Ray's PB2): PBT whose explore step picks new values
with a Gaussian-process bandit inside bounds, instead of random perturbation.

PB2 mutates continuous parameters only: the bounds default to the [low, high] of
every float and int parameter of the space. Needs scikit-learn and scipy.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from raytuner.errors import MISSING, SpecError, missing_extra
from raytuner.spec.params import FloatParam, IntParam, iter_params, parse_space
from raytuner.schedulers._population import PopulationOptions, PopulationScheduler, refuse_unsafe, select
from raytuner.schedulers.base import ScheduleContext


class Pb2Options(PopulationOptions):
    bounds: list[str] | dict[str, Any] | None = Field(
        None,
        description="what to mutate: names of float/int parameters (dotted for nested), or a "
        "mapping name -> [low, high]; default: every float and int parameter of the space",
    )


def _bounds_space(raw: list[str] | dict[str, Any] | None, ctx: ScheduleContext) -> dict[str, Any]:
    field = "scheduler.options.bounds"
    if isinstance(raw, dict):
        known = {".".join(path): param for path, param in iter_params(ctx.space or {})}
        nodes: dict[str, Any] = {}
        for name, value in raw.items():
            if not (isinstance(value, (list, tuple)) and len(value) == 2):
                raise SpecError.at(f"{field}.{name}", value, "[low, high]")
            kind = "int" if isinstance(known.get(name), IntParam) else "float"
            node = nodes
            parts = name.split(".")
            for part in parts[:-1]:
                node = node.setdefault(part, {})
            node[parts[-1]] = {"type": kind, "low": value[0], "high": value[1]}
        return refuse_unsafe(parse_space(nodes, field), field, ctx.mutation_refusal)
    space = select(ctx.space or {}, raw, field, ctx.mutation_refusal)
    numeric = _numeric(space)
    if not numeric:
        raise SpecError.at(field, raw if raw is not None else MISSING,
                           "float or int parameters to mutate (PB2 explores continuous values only)")
    return numeric


def _numeric(space: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, node in space.items():
        if isinstance(node, dict):
            sub = _numeric(node)
            if sub:
                out[key] = sub
        elif isinstance(node, (FloatParam, IntParam)):
            out[key] = node
    return out


def _to_bounds(space: dict[str, Any]) -> dict[str, Any]:
    return {k: _to_bounds(v) if isinstance(v, dict) else [float(v.low), float(v.high)] for k, v in space.items()}


class Pb2Scheduler(PopulationScheduler):
    name = "pb2"
    Options = Pb2Options
    requires = (("scipy", "pb2"), ("sklearn", "pb2"))
    options: Pb2Options

    def explored_space(self, ctx: ScheduleContext) -> dict[str, Any]:
        return _bounds_space(self.options.bounds, ctx)

    def check(self, ctx: ScheduleContext) -> None:
        super().check(ctx)
        ray_pb2()  # a clear error naming the extra before Ray starts

    def ray_class(self) -> type:
        return ray_pb2()

    def explore_kwargs(self, space: dict[str, Any]) -> dict[str, Any]:
        return {"hyperparam_bounds": _to_bounds(space)}


def ray_pb2() -> type:
    """Ray's PB2 class; a DependencyError naming the extra when its dependencies are missing."""
    try:
        import scipy  # noqa: F401
        import sklearn.gaussian_process  # noqa: F401
        from ray.tune.schedulers.pb2 import PB2
    except ImportError as exc:
        name = getattr(exc, "name", None) or "scikit-learn"
        raise missing_extra(name, "pb2", "the 'pb2' scheduler") from None
    return PB2

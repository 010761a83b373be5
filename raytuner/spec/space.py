"""The only place that turns the search-space DSL into Ray Tune domains."""

from __future__ import annotations

from typing import Any, Callable

from raytuner.spec.params import (
    ChoiceParam,
    FixedParam,
    FloatParam,
    GridParam,
    IntParam,
    Space,
)


def _float(p: FloatParam) -> Any:
    from ray import tune

    if p.q is not None:
        return tune.qloguniform(p.low, p.high, p.q) if p.log else tune.quniform(p.low, p.high, p.q)
    return tune.loguniform(p.low, p.high) if p.log else tune.uniform(p.low, p.high)


def _int(p: IntParam) -> Any:
    from ray import tune

    if p.step > 1:  # Ray's q-variants include the upper bound
        return tune.qlograndint(p.low, p.high, p.step) if p.log else tune.qrandint(p.low, p.high, p.step)
    # randint / lograndint exclude the upper bound; ours is inclusive
    return tune.lograndint(p.low, p.high + 1) if p.log else tune.randint(p.low, p.high + 1)


def _choice(p: ChoiceParam) -> Any:
    from ray import tune

    return tune.choice(list(p.values))


def _grid(p: GridParam) -> Any:
    from ray import tune

    return tune.grid_search(list(p.values))


def _fixed(p: FixedParam) -> Any:
    return p.value


CONVERTERS: dict[type, Callable[[Any], Any]] = {
    FloatParam: _float,
    IntParam: _int,
    ChoiceParam: _choice,
    GridParam: _grid,
    FixedParam: _fixed,
}


def to_ray(space: Space) -> dict[str, Any]:
    """Convert a space tree into a Ray Tune ``param_space``."""
    out: dict[str, Any] = {}
    for key, node in space.items():
        out[key] = to_ray(node) if isinstance(node, dict) else CONVERTERS[type(node)](node)
    return out


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{'a': {'b': 1}} -> {'a.b': 1}: for tables and summaries."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, name + "."))
        else:
            out[name] = value
    return out


def values_space(configs: list[dict[str, Any]]) -> dict[str, Any]:
    """A param_space holding every key the configs set (as a choice of their values).

    For Ray's BasicVariantGenerator fed with complete configs as points_to_evaluate:
    it resolves points against the space, and never samples it when num_samples equals
    the number of points.
    """
    from ray import tune

    keys = {key for config in configs for key in config}
    out: dict[str, Any] = {}
    for key in sorted(keys):
        values = [config[key] for config in configs if key in config]
        out[key] = values_space(values) if all(isinstance(v, dict) for v in values) else tune.choice(values)
    return out

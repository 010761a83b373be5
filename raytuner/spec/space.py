"""The only place that turns the search-space DSL into Ray Tune domains."""

from __future__ import annotations

from typing import Any, Callable

from raytuner.spec.params import (
    ChoiceParam,
    ConditionalParam,
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


class BranchSampler:
    """Ray's flattening of a choice of sub-spaces (Ray does not resolve domains nested in a
    ``tune.choice`` value): draw a branch uniformly, then each of its domains (``Domain.sample``),
    inside one ``tune.sample_from``. Picklable (a class, not a lambda)."""

    def __init__(self, branches: list[Any]) -> None:
        self.branches = branches  # Ray param spaces (to_ray of each sub-space) or plain values

    def __call__(self, spec: Any = None) -> Any:
        import numpy as np

        return _resolve(self.branches[int(np.random.randint(len(self.branches)))])


def _resolve(node: Any) -> Any:
    from ray.tune.search.sample import Domain

    if isinstance(node, dict):
        return {k: _resolve(v) for k, v in node.items()}
    if isinstance(getattr(node, "func", None), BranchSampler):  # a choice of sub-spaces inside a branch
        return node.func()
    if isinstance(node, Domain):
        return node.sample()
    return node


def _conditional(p: ConditionalParam) -> Any:
    from ray import tune

    return tune.sample_from(BranchSampler([to_ray(b) if isinstance(b, dict) else b for b in p.branches]))


CONVERTERS: dict[type, Callable[[Any], Any]] = {
    ConditionalParam: _conditional,
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

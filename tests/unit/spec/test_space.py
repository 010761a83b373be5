"""The space DSL and its conversion to Ray Tune domains."""

from __future__ import annotations

import random

import pytest
from ray.tune.search.sample import Categorical, Float, Integer

from raytuner.errors import SpecError
from raytuner.spec.params import GridParam, grid_size, iter_params, parse_space
from raytuner.spec.space import flatten, to_ray


def sample(domain, n: int = 300) -> list:
    random.seed(0)
    return [domain.sample() for _ in range(n)]


def test_float_uniform_log_and_quantized() -> None:
    space = to_ray(parse_space({
        "u": {"type": "float", "low": 0.0, "high": 1.0},
        "l": {"type": "float", "low": 1e-4, "high": 1.0, "log": True},
        "q": {"type": "float", "low": 0.0, "high": 1.0, "q": 0.25},
    }))
    assert all(isinstance(d, Float) for d in space.values())
    assert all(0.0 <= v <= 1.0 for v in sample(space["u"]))
    logs = sample(space["l"])
    assert all(1e-4 <= v <= 1.0 for v in logs)
    assert sum(v < 1e-2 for v in logs) > 100  # log-uniform: half the mass below 1e-2
    assert set(sample(space["q"])) <= {0.0, 0.25, 0.5, 0.75, 1.0}


def test_int_bounds_are_inclusive_with_log_and_step() -> None:
    space = to_ray(parse_space({
        "i": {"type": "int", "low": 1, "high": 3},
        "l": {"type": "int", "low": 1, "high": 1000, "log": True},
        "s": {"type": "int", "low": 0, "high": 10, "step": 5},
    }))
    assert all(isinstance(d, Integer) for d in space.values())
    assert set(sample(space["i"])) == {1, 2, 3}
    assert all(1 <= v <= 1000 and isinstance(v, int) for v in sample(space["l"]))
    assert set(sample(space["s"])) <= {0, 5, 10}


def test_choice_grid_fixed_and_nested() -> None:
    tree = parse_space({
        "c": {"type": "choice", "values": ["a", None, 3]},
        "g": {"type": "grid", "values": [1, 2]},
        "f": {"type": "fixed", "value": [1, 2]},
        "plain": "text",
        "model": {"depth": {"type": "int", "low": 1, "high": 2}, "act": "relu"},
    })
    ray_space = to_ray(tree)
    assert isinstance(ray_space["c"], Categorical)
    assert ray_space["g"] == {"grid_search": [1, 2]}
    assert ray_space["f"] == [1, 2] and ray_space["plain"] == "text"
    assert isinstance(ray_space["model"]["depth"], Integer) and ray_space["model"]["act"] == "relu"
    assert [".".join(p) for p, _ in iter_params(tree)] == ["c", "g", "f", "plain", "model.depth", "model.act"]
    assert grid_size(tree) == 2


@pytest.mark.parametrize(
    "node,path,fragment",
    [
        ({"type": "float", "low": 1, "high": 1}, "space.p", "low < high"),
        ({"type": "float", "low": 0, "high": 1, "log": True}, "space.p", "low > 0"),
        ({"type": "int", "low": 5, "high": 2}, "space.p", "low < high"),
        ({"type": "int", "low": 0, "high": 2, "step": 0}, "space.p", "step >= 1"),
        ({"type": "choice", "values": []}, "space.p", "non-empty"),
        ({"type": "grid", "values": []}, "space.p", "non-empty"),
        ({"type": "float", "low": 0, "high": 1, "lg": True}, "space.p.lg", "no such field"),
        ({"type": "normal"}, "space.p.type", "one of float"),
        ({"type": "float", "low": "a", "high": 1}, "space.p.low", "valid number"),
    ],
)
def test_invalid_ranges_are_spec_errors(node: dict, path: str, fragment: str) -> None:
    with pytest.raises(SpecError) as info:
        parse_space({"p": node})
    rendered = str(info.value)
    assert f"{path}:" in rendered and fragment in rendered, rendered


def test_nested_error_paths_and_flatten() -> None:
    with pytest.raises(SpecError, match=r"space\.a\.b\.high"):
        parse_space({"a": {"b": {"type": "int", "low": 1}}})
    config = {"a": {"b": 1, "c": {"d": 2}}, "e": 3}
    assert flatten(config) == {"a.b": 1, "a.c.d": 2, "e": 3}
    assert isinstance(parse_space({"g": GridParam(values=[1])})["g"], GridParam)

"""The contract every registered strategy keeps (in the spirit of Optuna's SamplerTestCase).

Each registry entry is driven in-process through the same Searcher Ray uses
(``raytuner.strategies.drive``): bounds and types, seed reproducibility,
NaN / inf metrics, failed trials, points_to_evaluate and max_concurrent. Real Ray
runs live in test_strategies_e2e.py.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from raytuner.errors import SpecError
from raytuner.spec.params import parse_space
from raytuner.runner.plan import options
from raytuner.strategies import STRATEGIES, SearchContext, Strategy
from raytuner.strategies.drive import drive

ALL = STRATEGIES.names()
N = 8


@pytest.fixture(autouse=True)
def one_blas_thread():
    """GP fits on a shared 2-core machine: one BLAS/OpenMP thread is much faster."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield

# Short warm-ups so an 8-trial drive reaches each model's own suggestions.
FAST: dict[str, dict[str, Any]] = {
    "tpe": {"n_initial_points": 3},
    "bayesopt": {"n_initial_points": 5},
    "skopt": {"n_initial_points": 5},
    "optuna-tpe": {"n_startup_trials": 3},
    "optuna-gp": {"n_startup_trials": 5},
    "nsga2": {"population_size": 4},
    "bohb": {"min_points_in_model": 3},
    "manual": {"configs": [{"x": 1.0, "act": "relu"}, {"x": -2.0, "act": None}, {"x": 4.0, "act": 3}]},
}
DETERMINISTIC = {"grid", "manual"}  # same configs whatever the seed

MIXED = {
    "x": {"type": "float", "low": -5, "high": 5},
    "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
    "q": {"type": "float", "low": 0.15, "high": 1.0, "q": 0.1},
    "n": {"type": "int", "low": 1, "high": 10, "step": 3},
    "width": {"type": "int", "low": 2, "high": 64, "log": True},
    "act": {"type": "choice", "values": ["relu", None, 3]},
    "model": {"depth": {"type": "int", "low": 1, "high": 4}},
    "const": 7,
}
GRID = {
    "x": {"type": "grid", "values": [-1.0, 2.0]},
    "act": {"type": "choice", "values": ["relu", None, 3]},
    "n": {"type": "int", "low": 1, "high": 10, "step": 3},
    "const": 7,
}
MANUAL = {"const": 7}


def space_for(strategy: Strategy) -> dict[str, Any]:
    if strategy.name == "grid":
        return GRID
    if strategy.name == "manual":
        return MANUAL
    space = dict(MIXED)
    if "choice" not in strategy.supports:
        space.pop("act")
    return space


def make(name: str, **ctx_fields: Any) -> tuple[Strategy, SearchContext]:
    cls = STRATEGIES.get(name)
    strategy = cls(options(cls.Options, FAST.get(name, {}), "strategy.options"))
    fields: dict[str, Any] = {"metric": "loss", "mode": "min", "seed": 3, "trials": N}
    fields.update(ctx_fields)
    fields.setdefault("space", parse_space(space_for(strategy)))
    if name in DETERMINISTIC:  # their size is the number of configs
        fields["trials"] = None
    ctx = SearchContext(**fields)
    strategy.check(ctx)
    return strategy.choose(ctx).strategy, ctx


def loss(config: dict[str, Any]) -> dict[str, float]:
    value = (config["x"] - 1.0) ** 2 + config.get("n", 0) / 10 + (0.0 if config.get("act") == "relu" else 1.0)
    if "lr" in config:
        value += (math.log10(config["lr"]) + 2) ** 2 + config["q"] + math.log(config["width"]) + config["model"]["depth"]
    return {"loss": value}


def nan_for_negative(config: dict[str, Any]) -> dict[str, float]:
    if config["x"] < 0:
        return {"loss": float("nan")}
    if config["x"] > 3:
        return {"loss": float("inf")}
    return loss(config)


def fail_for_negative(config: dict[str, Any]) -> dict[str, float]:
    if config["x"] < 0:
        raise ValueError("negative x")
    return loss(config)


def check_config(config: dict[str, Any], space: dict[str, Any]) -> None:
    assert config["const"] == 7
    for key, node in space.items():
        if not isinstance(node, dict) or "type" not in node:
            continue
        value = config[key]
        kind = node["type"]
        if kind in ("choice", "grid"):
            assert any(type(value) is type(v) and value == v for v in node["values"]), (key, value)
        elif kind == "int":
            assert type(value) is int, (key, value)
            assert node["low"] <= value <= node["high"]
            assert (value - node["low"]) % node.get("step", 1) == 0, (key, value)
        elif kind == "float":
            assert type(value) is float, (key, value)
            assert node["low"] <= value <= node["high"], (key, value)
            if node.get("q"):
                k = (value - node["low"]) / node["q"]
                assert abs(k - round(k)) < 1e-6, (key, value)
    if "model" in space:
        assert type(config["model"]["depth"]) is int and 1 <= config["model"]["depth"] <= 4


@pytest.mark.parametrize("name", ALL)
def test_bounds_and_types(name: str) -> None:
    strategy, ctx = make(name)
    result = drive(strategy, ctx, loss, N)
    assert len(result.evaluations) == min(N, strategy.num_samples(ctx))
    space = space_for(STRATEGIES.get(name)(STRATEGIES.get(name).Options(**FAST.get(name, {}))))
    for config in result.configs:
        check_config(config, space)


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_configs(name: str) -> None:
    first = drive(*make(name, seed=11), loss, N).configs
    again = drive(*make(name, seed=11), loss, N).configs
    assert first == again
    if name not in DETERMINISTIC:
        other = drive(*make(name, seed=12), loss, 3).configs
        assert other != first[:3]


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("objective", [nan_for_negative, fail_for_negative], ids=["nan-inf", "failed"])
def test_survives_bad_trials(name: str, objective: Any) -> None:
    strategy, ctx = make(name)
    result = drive(strategy, ctx, objective, N)
    assert len(result.evaluations) == min(N, strategy.num_samples(ctx))
    if name not in DETERMINISTIC:  # every kind of outcome was seen, and the search went on after it
        xs = [c["x"] for c in result.configs]
        assert any(x < 0 for x in xs[:-1])
    failed = [e for e in result.evaluations if e.error]
    assert bool(failed) == (objective is fail_for_negative and any(c["x"] < 0 for c in result.configs))


POINTS = [
    {"x": 1.5, "lr": 0.01, "q": 0.25, "n": 4, "width": 8, "act": None, "model": {"depth": 2}},
    {"x": -4.0, "lr": 0.001, "q": 0.95, "n": 10, "width": 64, "act": 3, "model": {"depth": 4}},
]


@pytest.mark.parametrize("name", [n for n in ALL if n not in ("grid", "manual")])
def test_points_to_evaluate_first(name: str) -> None:
    strategy = STRATEGIES.get(name)
    points = [{k: v for k, v in p.items() if k != "act" or "choice" in strategy.supports} for p in POINTS]
    strategy, ctx = make(name, points_to_evaluate=points)
    configs = drive(strategy, ctx, loss, 3).configs
    for point, config in zip(points, configs[:2]):
        assert {**point, "const": 7} == config


@pytest.mark.parametrize("name", ALL)
def test_max_concurrent(name: str) -> None:
    strategy, ctx = make(name, max_concurrent=2)
    searcher = strategy.searcher(ctx).searcher
    a, b = searcher.suggest("a"), searcher.suggest("b")
    assert isinstance(a, dict) and isinstance(b, dict)
    assert searcher.suggest("c") is None  # two in flight: wait
    searcher.on_trial_complete("a", {"loss": 1.0})
    assert isinstance(searcher.suggest("c"), dict)
    result = drive(*make(name, max_concurrent=2), loss, 6)  # two in flight all the way
    assert len(result.evaluations) == min(6, strategy.num_samples(ctx))


@pytest.mark.parametrize("name", [n for n in ALL if "choice" not in STRATEGIES.get(n).supports and n != "manual"])
def test_refuses_choice_at_validation(name: str) -> None:
    cls = STRATEGIES.get(name)
    ctx = SearchContext(space=parse_space({"x": {"type": "float", "low": 0, "high": 1}, "y": {"type": "float", "low": 0, "high": 1}, "act": {"type": "choice", "values": ["a", "b"]}}), metric="loss", mode="min")
    with pytest.raises(SpecError, match=r"space\.act"):
        cls(cls.Options(**FAST.get(name, {}))).check(ctx)


@pytest.mark.parametrize("name", [n for n in ALL if "grid" not in STRATEGIES.get(n).supports])
def test_refuses_grid_parameters(name: str) -> None:
    cls = STRATEGIES.get(name)
    ctx = SearchContext(space=parse_space({"x": {"type": "grid", "values": [1, 2]}}), metric="loss", mode="min")
    with pytest.raises(SpecError, match=r"space\.x"):
        cls(cls.Options(**FAST.get(name, {}))).check(ctx)


@pytest.mark.parametrize("name", [n for n in ALL if not STRATEGIES.get(n).multi_objective and n != "auto"])
def test_single_objective_strategies_refuse_several_metrics(name: str) -> None:
    cls = STRATEGIES.get(name)
    ctx = SearchContext(space=parse_space(space_for(cls(cls.Options(**FAST.get(name, {}))))), metric="f1", mode="min",
                        objectives=(("f1", "min"), ("f2", "min")))
    with pytest.raises(SpecError, match="nsga2"):
        cls(cls.Options(**FAST.get(name, {}))).check(ctx)

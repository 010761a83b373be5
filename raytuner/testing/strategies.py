"""The contract every strategy keeps: subclass ``StrategyContract`` once per strategy
(in the spirit of Optuna's SamplerTestCase).

The strategy is driven in-process through the same Searcher Ray uses
(``raytuner.strategies.drive``): bounds and types, seed reproducibility, NaN / inf
metrics, failed trials, points_to_evaluate and max_concurrent; and it refuses, at
validation, what it cannot search. No Ray starts. Which checks apply follows from what
the class says it is (``supports``, ``deterministic``, ``multi_objective``), never from
its name::

    from raytuner.testing.strategies import StrategyContract

    class TestMine(StrategyContract):
        strategy_name = "mine"                  # a name in raytuner.strategies.STRATEGIES
        options = {"n_initial_points": 3}       # short warm-ups for an 8-trial drive (optional)

A check that does not apply to the strategy is removed from the subclass, so it is
neither run nor counted.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Iterator

import pytest

from raytuner.errors import SpecError
from raytuner.spec.loader import validate_options
from raytuner.spec.params import parse_space
from raytuner.strategies import STRATEGIES, SearchContext, Strategy
from raytuner.strategies.drive import drive

N = 8  # trials per drive

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


POINTS = [
    {"x": 1.5, "lr": 0.01, "q": 0.25, "n": 4, "width": 8, "act": None, "model": {"depth": 2}},
    {"x": -4.0, "lr": 0.001, "q": 0.95, "n": 10, "width": 64, "act": 3, "model": {"depth": 4}},
]


class StrategyContract:
    """Checks every strategy keeps (a pytest test class base; see the module docstring)."""

    strategy_name: ClassVar[str]
    options: ClassVar[dict[str, Any]] = {}  # e.g. short warm-ups so N trials reach the model
    space: ClassVar[dict[str, Any] | None] = None  # the space DSL to search; None: MIXED (less what it cannot search)
    trials: ClassVar[int] = N

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("strategy_name")
        if name is None:
            return
        for check, applies in cls.applicable(STRATEGIES.get(name)).items():
            if not applies:
                setattr(cls, check, None)  # not collected: it does not apply to this strategy

    @staticmethod
    def applicable(strategy: type[Strategy]) -> dict[str, bool]:
        """Which checks apply, from what the strategy class says it is."""
        searches_numbers = bool(strategy.supports & {"float", "int"})
        return {
            "test_points_to_evaluate_first": not strategy.deterministic,
            "test_refuses_choice_at_validation": searches_numbers and "choice" not in strategy.supports,
            "test_refuses_grid_parameters": "grid" not in strategy.supports,
            "test_single_objective_strategies_refuse_several_metrics": not strategy.multi_objective,
        }

    @pytest.fixture(autouse=True)
    def one_blas_thread(self) -> Iterator[None]:
        """GP fits on a shared 2-core machine: one BLAS/OpenMP thread is much faster."""
        from threadpoolctl import threadpool_limits

        with threadpool_limits(1):
            yield

    # -- hooks ----------------------------------------------------------------------
    @property
    def strategy_class(self) -> type[Strategy]:
        return STRATEGIES.get(self.strategy_name)

    def new_strategy(self) -> Strategy:
        cls = self.strategy_class
        return cls(validate_options(cls.Options, dict(self.options), "strategy.options"))

    def search_space(self) -> dict[str, Any]:
        if self.space is not None:
            return self.space
        space = dict(MIXED)
        if "choice" not in self.strategy_class.supports:
            space.pop("act")
        return space

    def make_strategy(self, **ctx_fields: Any) -> tuple[Strategy, SearchContext]:
        """The strategy that really runs (``auto`` resolves to one) and its context."""
        strategy = self.new_strategy()
        fields: dict[str, Any] = {"metric": "loss", "mode": "min", "seed": 3, "trials": self.trials}
        fields.update(ctx_fields)
        fields.setdefault("space", parse_space(self.search_space()))
        if strategy.deterministic:  # their size is the number of configs
            fields["trials"] = None
        ctx = SearchContext(**fields)
        strategy.check(ctx)
        return strategy.choose(ctx).strategy, ctx

    # -- the checks -----------------------------------------------------------------
    def test_bounds_and_types(self) -> None:
        strategy, ctx = self.make_strategy()
        result = drive(strategy, ctx, loss, N)
        assert len(result.evaluations) == min(N, strategy.num_samples(ctx))
        for config in result.configs:
            check_config(config, self.search_space())

    def test_same_seed_same_configs(self) -> None:
        first = drive(*self.make_strategy(seed=11), loss, N).configs
        again = drive(*self.make_strategy(seed=11), loss, N).configs
        assert first == again
        if not self.strategy_class.deterministic:
            other = drive(*self.make_strategy(seed=12), loss, 3).configs
            assert other != first[:3]

    @pytest.mark.parametrize("objective", [nan_for_negative, fail_for_negative], ids=["nan-inf", "failed"])
    def test_survives_bad_trials(self, objective: Any) -> None:
        strategy, ctx = self.make_strategy()
        result = drive(strategy, ctx, objective, N)
        assert len(result.evaluations) == min(N, strategy.num_samples(ctx))
        if not self.strategy_class.deterministic:  # every kind of outcome was seen, and the search went on after it
            xs = [c["x"] for c in result.configs]
            assert any(x < 0 for x in xs[:-1])
        failed = [e for e in result.evaluations if e.error]
        assert bool(failed) == (objective is fail_for_negative and any(c["x"] < 0 for c in result.configs))

    def test_points_to_evaluate_first(self) -> None:
        supports = self.strategy_class.supports
        points = [{k: v for k, v in p.items() if k != "act" or "choice" in supports} for p in POINTS]
        strategy, ctx = self.make_strategy(points_to_evaluate=points)
        configs = drive(strategy, ctx, loss, 3).configs
        for point, config in zip(points, configs[:2]):
            assert {**point, "const": 7} == config

    def test_max_concurrent(self) -> None:
        strategy, ctx = self.make_strategy(max_concurrent=2)
        searcher = strategy.searcher(ctx).searcher
        a, b = searcher.suggest("a"), searcher.suggest("b")
        assert isinstance(a, dict) and isinstance(b, dict)
        assert searcher.suggest("c") is None  # two in flight: wait
        searcher.on_trial_complete("a", {"loss": 1.0})
        assert isinstance(searcher.suggest("c"), dict)
        result = drive(*self.make_strategy(max_concurrent=2), loss, 6)  # two in flight all the way
        assert len(result.evaluations) == min(6, strategy.num_samples(ctx))

    def test_refuses_choice_at_validation(self) -> None:
        space = parse_space({"x": {"type": "float", "low": 0, "high": 1}, "y": {"type": "float", "low": 0, "high": 1},
                             "act": {"type": "choice", "values": ["a", "b"]}})
        with pytest.raises(SpecError, match=r"space\.act"):
            self.new_strategy().check(SearchContext(space=space, metric="loss", mode="min"))

    def test_refuses_grid_parameters(self) -> None:
        space = parse_space({"x": {"type": "grid", "values": [1, 2]}})
        with pytest.raises(SpecError, match=r"space\.x"):
            self.new_strategy().check(SearchContext(space=space, metric="loss", mode="min"))

    def test_single_objective_strategies_refuse_several_metrics(self) -> None:
        ctx = SearchContext(space=parse_space(self.search_space()), metric="f1", mode="min",
                            objectives=(("f1", "min"), ("f2", "min")))
        with pytest.raises(SpecError, match="nsga2"):
            self.new_strategy().check(ctx)


def contract_for(name: str, **attributes: Any) -> type[StrategyContract]:
    """A StrategyContract subclass for registry entry ``name`` (for parametrised test modules)."""
    return type(f"TestStrategy_{name.replace('-', '_')}", (StrategyContract,), {"strategy_name": name, **attributes})


__all__ = ["MIXED", "N", "POINTS", "StrategyContract", "check_config", "contract_for", "loss"]

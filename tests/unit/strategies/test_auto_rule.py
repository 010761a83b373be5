"""auto's rule: which strategy for which space and budget, the reason it gives, and the bench's
goal arithmetic (scripts/bench_strategies.py) on fixed rows."""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pytest

from raytuner.spec.objectives import Objective
from raytuner.spec.params import parse_space
from raytuner.strategies import SearchContext
from raytuner.strategies._auto import GP_MAX_PARAMS, GP_MAX_TRIALS, AutoStrategy

SCRIPTS = Path(__file__).resolve().parents[3] / "scripts"


def floats(d: int) -> dict[str, Any]:
    return {f"x{i}": {"type": "float", "low": -5.0, "high": 5.0} for i in range(d)}


def choose(space: dict[str, Any], trials: int | None, objectives: int = 1) -> tuple[str, str]:
    objs = tuple(Objective(f"m{i}", "min") for i in range(objectives))
    ctx = SearchContext(space=parse_space(space), metric="m0", mode="min", seed=0, trials=trials, objectives=objs)
    choice = AutoStrategy().choose(ctx)
    return choice.strategy.name, choice.reason


@pytest.mark.parametrize(
    "space, trials, strategy, reason",
    [
        (floats(2), 40, "optuna-gp", "2 numeric parameter(s) and 40 trials: a Gaussian process"),
        (floats(GP_MAX_PARAMS), 60, "optuna-gp", f"up to {GP_MAX_PARAMS} parameters and {GP_MAX_TRIALS} trials"),
        (floats(1), 30, "optuna-gp", "1 numeric parameter(s)"),
        (floats(GP_MAX_PARAMS + 1), 60, "cmaes", f"more than {GP_MAX_PARAMS} parameters"),
        (floats(3), GP_MAX_TRIALS + 1, "cmaes", f"more than {GP_MAX_TRIALS} trials"),
        (floats(1), GP_MAX_TRIALS + 1, "optuna-tpe", "a robust default"),  # cmaes needs 2 parameters
        (floats(6), 11, "random", "11 trials are too few to fit a model over 6 parameter(s)"),
        ({**floats(2), "c": {"type": "choice", "values": ["a", "b"]}}, 40, "optuna-tpe", "categorical parameters"),
        ({"n": {"type": "int", "low": 1, "high": 9}, "x": {"type": "float", "low": 0, "high": 1}}, 40, "optuna-gp",
         "a Gaussian process"),
        ({"model": {"type": "choice", "values": [{"a": {"type": "float", "low": 0, "high": 1}},
                                                 {"b": {"type": "int", "low": 1, "high": 4}}]}},
         40, "optuna-tpe", "a choice of sub-spaces"),
        ({"x": {"type": "grid", "values": [1, 2]}}, None, "grid", "grid parameters"),
    ],
)
def test_auto_rule_picks_and_says_why(space: dict[str, Any], trials: int | None, strategy: str, reason: str) -> None:
    name, why = choose(space, trials)
    assert name == strategy
    assert why.startswith(f"auto: strategy {strategy} (") and reason in why


def test_several_metrics_go_to_nsga2() -> None:
    assert choose(floats(2), 40, objectives=2)[0] == "nsga2"


def test_auto_runs_exactly_the_strategy_it_picks() -> None:
    """The bench reports auto's regret as its pick's: the same seed gives the same configs."""
    from raytuner.strategies import STRATEGIES
    from raytuner.strategies.drive import drive
    from raytuner.testing import rosenbrock

    ctx = SearchContext(space=parse_space(floats(GP_MAX_PARAMS + 2)), metric="value", mode="min", seed=3, trials=30)
    picked = AutoStrategy().choose(ctx).strategy
    assert picked.name == "cmaes"
    ours = drive(picked, ctx, rosenbrock, 30).configs
    theirs = drive(STRATEGIES.get("cmaes")(), ctx, rosenbrock, 30).configs
    assert ours == theirs and len(ours) == 30


@pytest.fixture()
def bench(monkeypatch: pytest.MonkeyPatch) -> Any:
    pytest.importorskip("cocoex")
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import bench_strategies

    yield bench_strategies
    sys.modules.pop("bench_strategies", None)


def test_bench_sets_are_fixed_and_disjoint(bench: Any) -> None:
    import benchproblems

    assert set(benchproblems.TUNING).isdisjoint(benchproblems.CHECK)
    assert len(benchproblems.TUNING) == 18 and len(benchproblems.CHECK) == 9
    assert {"branin", "hartmann6", "rosenbrock10"} <= set(benchproblems.TUNING)
    f8 = benchproblems.PROBLEMS["bbob-f08-d10"]
    assert f8.fn({f"x{i}": 0.0 for i in range(10)})["regret"] > 0  # away from the optimum
    assert math.isfinite(f8.fn.fopt)


def test_bench_goal_reads_1_1x_on_median_regret(bench: Any) -> None:
    budget = 40
    pick = bench.auto_pick("branin", budget)
    assert pick == "optuna-gp"
    logs = {"random": -1.0, "optuna-tpe": -2.0, "optuna-gp": -3.0, "cmaes": -3.03}
    rows = [{"problem": "branin", "method": m, "seed": s, "regret": 10 ** (v + 0.1 * s)}
            for m, v in logs.items() for s in (0, 1, 2)]  # medians are the seed-1 values
    table, met = bench.quality_rows(rows, ["branin"], budget)
    # cmaes is best by 0.03 in log10: auto's pick (optuna-gp) has 1.07x its median regret, within 1.1x
    assert table[0][-3] == "cmaes" and table[0][-2] == "1.07x"
    assert table[0][-1] == "met" and met == {"tuning": [True], "check": []}
    logs["cmaes"] = -3.05  # 0.05 in log10: 1.12x, outside 1.1x
    rows = [{"problem": "branin", "method": m, "seed": 0, "regret": 10 ** v} for m, v in logs.items()]
    table, _ = bench.quality_rows(rows, ["branin"], budget)
    assert table[0][-2] == "1.12x" and table[0][-1] == "MISSED"
    logs["cmaes"] = -2.5
    rows = [{"problem": "branin", "method": m, "seed": 0, "regret": 10 ** v} for m, v in logs.items()]
    table, met = bench.quality_rows(rows, ["branin"], budget)
    assert table[0][-1] == "met" and table[0][-3] == "optuna-gp" and met["tuning"] == [True]


def test_auto_names_the_torch_extra_its_gp_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    from raytuner.errors import DependencyError

    monkeypatch.setitem(sys.modules, "torch", None)  # as if not installed: auto does not fall back to another search
    with pytest.raises(DependencyError) as info:
        choose(floats(3), 40)
    assert "chose 'optuna-gp'" in str(info.value) and "pip install 'raytuner[torch]'" in str(info.value)

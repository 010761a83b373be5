"""Strategies at the spec boundary: validation, multi-objective specs, auto's choice, the CLI list."""

from __future__ import annotations

from typing import Any

import pytest

from raytuner.cli.main import main
from raytuner.errors import SpecError
from raytuner.spec.loader import validate_spec
from raytuner.runner.plan import make_plan
from raytuner.strategies import STRATEGIES


def spec(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "t",
        "trainable": {"type": "function", "function": "raytuner.testing:quadratic"},
        "space": {"x": {"type": "float", "low": -5, "high": 5}, "y": {"type": "float", "low": 0, "high": 1}},
        "metric": {"name": "loss", "mode": "min"},
    }
    data.update(over)
    return data


def plan_of(**over: Any) -> Any:
    return make_plan(validate_spec(spec(**over)))


def test_strategies_command_lists_every_strategy_with_its_space(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    for entry in STRATEGIES.entries():
        line = next(l for l in out.splitlines() if l.strip().startswith(entry.name + " "))
        assert entry.summary in line
        assert "[space: " in line and "float" in line or entry.name in ("grid", "manual")


def test_metric_list_becomes_objectives() -> None:
    s = validate_spec(spec(metric=[{"name": "f1", "mode": "min"}, {"name": "f2", "mode": "max"}]))
    assert s.metric.name == "f1"
    assert [(m.name, m.mode) for m in s.objectives] == [("f1", "min"), ("f2", "max")]
    again = validate_spec(s.to_data())  # spec.yaml round trip
    assert again == s
    single = validate_spec(spec(metric=[{"name": "loss", "mode": "min"}]))
    assert single.objectives == [] and single.metric.name == "loss"


@pytest.mark.parametrize(
    "metric, match",
    [
        ([{"name": "f1", "mode": "min"}, {"name": "f2"}], "mode"),
        ([{"name": "f1", "mode": "min"}, {"name": "f1", "mode": "max"}], "distinct"),
        ([], "non-empty"),
    ],
)
def test_bad_metric_lists(metric: Any, match: str) -> None:
    with pytest.raises(SpecError, match=match):
        validate_spec(spec(metric=metric))


def test_several_metrics_need_a_multi_objective_strategy() -> None:
    metrics = [{"name": "f1", "mode": "min"}, {"name": "f2", "mode": "min"}]
    with pytest.raises(SpecError, match=r"metric: .*nsga2"):
        plan_of(metric=metrics, strategy={"name": "tpe"})
    plan = plan_of(metric=metrics, strategy={"name": "nsga2"})
    assert plan.search.objectives == (("f1", "min"), ("f2", "min"))


@pytest.mark.parametrize(
    "points, path",
    [
        ([{"x": 9.0, "y": 0.5}], r"strategy\.points_to_evaluate\.0\.x: got 9\.0; expected a number in \[-5"),
        ([{"x": 1.0}], r"strategy\.points_to_evaluate\.0\.y: .*missing"),
        ([{"x": 1.0, "y": 0.5, "z": 1}], r"strategy\.points_to_evaluate\.0\.z: .*a parameter of space"),
        (["x=1"], r"strategy\.points_to_evaluate\.0: .*dictionary"),
    ],
)
def test_points_to_evaluate_checked_before_ray(points: list[Any], path: str) -> None:
    with pytest.raises(SpecError, match=path):
        plan_of(strategy={"name": "tpe", "points_to_evaluate": points})


def test_more_points_than_trials_is_an_error() -> None:
    with pytest.raises(SpecError, match=r"strategy\.points_to_evaluate: got '3 points'; expected at most budget\.trials \(2\)"):
        plan_of(strategy={"name": "random", "points_to_evaluate": [{"x": 0.0, "y": 0.1}] * 3}, budget={"trials": 2})


def test_cli_refuses_unsupported_space_with_status_2(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    path = tmp_path / "s.yaml"
    data = spec(strategy={"name": "cmaes"})
    data["space"] = {**data["space"], "act": {"type": "choice", "values": ["a", "b"]}}
    path.write_text(yaml.safe_dump(data))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "space.act" in err and "cmaes" in err and "Traceback" not in err


def test_strategy_options_are_validated() -> None:
    with pytest.raises(SpecError, match=r"strategy\.options\.acquisition"):
        plan_of(strategy={"name": "bayesopt", "options": {"acquisition": "magic"}})
    with pytest.raises(SpecError, match=r"strategy\.options\.n_initial"):
        plan_of(strategy={"name": "skopt", "options": {"n_initial": 3}})


def test_cmaes_needs_two_numeric_parameters() -> None:
    with pytest.raises(SpecError, match="at least 2 numeric"):
        plan_of(strategy={"name": "cmaes"}, space={"x": {"type": "float", "low": 0, "high": 1}})


# -- auto --------------------------------------------------------------------

CURVE = {"type": "function", "function": "raytuner.testing:curve"}


@pytest.mark.parametrize(
    "over, strategy",
    [
        ({"budget": {"trials": 40}}, "optuna-gp"),
        ({"budget": {"trials": 5}}, "random"),
        ({"budget": {"trials": 40}, "space": {"x": {"type": "float", "low": 0, "high": 1}, "y": {"type": "choice", "values": [0, 1]}}}, "optuna-tpe"),
        ({"budget": {"trials": 500}}, "cmaes"),
        ({"budget": {"trials": 40}, "metric": [{"name": "f1", "mode": "min"}, {"name": "f2", "mode": "min"}]}, "nsga2"),
        ({"space": {"x": {"type": "grid", "values": [0, 1]}}}, "grid"),
    ],
)
def test_auto_picks_a_strategy_and_says_why(over: dict[str, Any], strategy: str) -> None:
    plan = plan_of(strategy={"name": "auto"}, **over)
    assert plan.strategy.name == strategy
    assert plan.strategy_label == f"auto:{strategy}"
    assert plan.notes and plan.notes[0].startswith(f"auto: strategy {strategy} (")


def test_auto_scheduler_follows_per_step_reports() -> None:
    once = plan_of(strategy={"name": "auto"}, budget={"trials": 40})
    assert once.scheduler.name == "fifo" and "reports once" in once.notes[0]
    unknown = plan_of(strategy={"name": "auto"}, budget={"trials": 40}, trainable=CURVE)
    assert unknown.scheduler.name == "fifo" and "how many is unknown" in unknown.notes[0]
    steps = plan_of(strategy={"name": "auto"}, budget={"trials": 40}, trainable=CURVE, stop={"max_steps": 5})
    assert steps.scheduler.name == "asha" and "per step" in steps.notes[0]
    chosen = plan_of(strategy={"name": "auto"}, budget={"trials": 40}, trainable=CURVE, scheduler={"name": "fifo"})
    assert chosen.scheduler.name == "fifo"  # a scheduler named in the spec is kept


def test_validate_prints_autos_choice(tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    experiments = Path(__file__).resolve().parents[3] / "experiments"
    assert main(["validate", str(experiments / "auto-curve.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ok: auto-curve") and "strategy auto:optuna-gp" in out
    assert "auto: strategy optuna-gp (" in out


def test_missing_backend_is_a_clear_error_before_ray(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from raytuner.errors import DependencyError

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "hpbandster" else real(name, *a))
    with pytest.raises(DependencyError, match=r"raytuner\[bohb\]"):
        plan_of(strategy={"name": "bohb"})


@pytest.mark.parametrize(
    "over, module, chosen",
    [
        ({"budget": {"trials": 40}}, "optuna", "optuna-gp"),
        ({"budget": {"trials": 500}}, "optuna", "cmaes"),
        ({"budget": {"trials": 500}}, "cmaes", "cmaes"),
        ({"budget": {"trials": 40}, "space": {"x": {"type": "float", "low": 0, "high": 1}, "y": {"type": "choice", "values": [0, 1]}}}, "optuna", "optuna-tpe"),
    ],
)
def test_auto_never_falls_back_when_a_backend_is_missing(
    monkeypatch: pytest.MonkeyPatch, over: dict[str, Any], module: str, chosen: str
) -> None:
    import sys

    from raytuner.errors import DependencyError

    monkeypatch.setitem(sys.modules, module, None)  # as if not installed: find_spec fails
    with pytest.raises(DependencyError) as info:
        plan_of(strategy={"name": "auto"}, **over)
    message = str(info.value)
    assert f"chose '{chosen}'" in message and f"'{module}' package" in message
    assert "pip install 'raytuner[search]'" in message and "strategy.name" in message


def test_auto_without_search_extra_still_runs_random_for_tiny_budgets(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    for module in ("optuna", "bayes_opt", "cmaes", "hyperopt"):
        monkeypatch.setitem(sys.modules, module, None)
    plan = plan_of(strategy={"name": "auto"}, budget={"trials": 5})  # random needs no extra
    assert plan.strategy.name == "random"


def test_cli_names_the_extra_autos_choice_needs(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import sys

    import yaml

    monkeypatch.setitem(sys.modules, "optuna", None)
    path = tmp_path / "auto.yaml"
    path.write_text(yaml.safe_dump(spec(strategy={"name": "auto"}, budget={"trials": 40})))
    assert main(["validate", str(path)]) == 2
    captured = capsys.readouterr()
    err = captured.err + captured.out
    assert "pip install 'raytuner[search]'" in err and "Traceback" not in err

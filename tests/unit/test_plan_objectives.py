"""The objectives are computed once, in the plan, and the strategy and the scheduler see
the same value; the Tuner's decisions come from the plan's capabilities (no Ray here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from raytuner.cli.main import main
from raytuner.errors import SpecError
from raytuner.runner.plan import make_plan
from raytuner.runner.tuning import PendingTrials, tuner_plan
from raytuner.spec.loader import load_spec
from raytuner.spec.models import ExperimentSpec
from raytuner.spec.objectives import Objective

ROOT = Path(__file__).resolve().parents[2]
NSGA2 = ROOT / "experiments" / "nsga2-accuracy-vs-time.yaml"
MISSING_METRIC = (
    "scheduler.options.metric: missing; expected one of the objectives (accuracy, fold_time_s): "
    "'asha' stops or clones trials by comparing one metric, and this run has several objectives "
    "(or use scheduler.name: fifo)"
)


def fn_spec(**extra: Any) -> ExperimentSpec:
    data: dict[str, Any] = {
        "name": "t",
        "trainable": {"type": "function", "function": "raytuner.testing:resumable_curve", "params": {"steps": 4}},
        "space": {"x": {"type": "float", "low": 0, "high": 6}},
        "metric": {"name": "loss", "mode": "min"},
        "stop": {"max_steps": 4},
    }
    data.update(extra)
    return ExperimentSpec.model_validate(data)


def nsga2(*overrides: str) -> ExperimentSpec:
    return load_spec(NSGA2, list(overrides))


# -- objectives through make_plan ------------------------------------------------


def test_one_objective_is_the_metric_for_strategy_and_scheduler() -> None:
    plan = make_plan(fn_spec())
    assert plan.objectives == (Objective("loss", "min"),)
    assert plan.search.objectives is plan.schedule.objectives
    assert not plan.multi_objective and not plan.schedule.multi_objective


def test_several_objectives_reach_the_scheduler_too() -> None:
    plan = make_plan(nsga2("scheduler.name=asha", "scheduler.options.metric=fold_time_s"))
    expected = (Objective("accuracy", "max"), Objective("fold_time_s", "min"))
    assert plan.search.objectives == expected and plan.schedule.objectives is plan.search.objectives
    assert plan.schedule.multi_objective
    assert all(isinstance(o, Objective) for o in plan.objectives)


def test_multi_objective_early_stopping_needs_the_schedulers_metric() -> None:
    with pytest.raises(SpecError) as exc:
        make_plan(nsga2("scheduler.name=asha"))
    problem = exc.value.problems[0]
    assert problem.path == "scheduler.options.metric"
    assert "one of the objectives (accuracy, fold_time_s)" in problem.expected


def test_multi_objective_tuner_has_no_single_metric() -> None:
    """Ray refuses a scheduler with its own metric beside a TuneConfig metric."""
    tuning = tuner_plan(make_plan(nsga2("scheduler.name=asha", "scheduler.options.metric=fold_time_s")))
    assert (tuning.tune_metric, tuning.tune_mode) == (None, None)
    assert tuning.objective == Objective("accuracy", "max")
    single = tuner_plan(make_plan(fn_spec()))
    assert (single.tune_metric, single.tune_mode) == ("loss", "min")


# -- the CLI ---------------------------------------------------------------------


def test_cli_validate_accepts_the_schedulers_objective(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["validate", str(NSGA2), "--set", "scheduler.name=asha", "--set", "scheduler.options.metric=fold_time_s"])
    assert code == 0
    assert "scheduler asha" in capsys.readouterr().out


def test_cli_validate_refuses_multi_objective_asha_without_metric(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(NSGA2), "--set", "scheduler.name=asha"]) == 2
    assert MISSING_METRIC in capsys.readouterr().err


# -- the Tuner's decisions from capabilities ---------------------------------------


def test_random_search_without_steps_uses_rays_generator() -> None:
    tuning = tuner_plan(make_plan(fn_spec(budget={"trials": 5, "max_concurrent": 2})))
    assert tuning.ray_generator and tuning.source.configs is None and tuning.source.limit == 2
    assert tuning.max_concurrent_trials is None and tuning.pending_trials is PendingTrials.RAY_DEFAULT
    assert tuning.progress_total == 5 and tuning.checkpoints_to_keep == 2


def test_integer_steps_keep_our_searcher() -> None:
    space = {"x": {"type": "int", "low": 1, "high": 9, "step": 2}}
    tuning = tuner_plan(make_plan(fn_spec(space=space, budget={"trials": 5, "max_concurrent": 3})))
    assert not tuning.ray_generator and tuning.max_concurrent_trials == 3 and tuning.pending_trials == 3
    unlimited = tuner_plan(make_plan(fn_spec(space=space)))
    assert unlimited.pending_trials is PendingTrials.PER_CPU


def test_grid_lists_its_configs_and_shows_no_total() -> None:
    space = {"x": {"type": "grid", "values": [1, 2, 3]}}
    plan = make_plan(fn_spec(space=space, strategy={"name": "grid"}, scheduler={"name": "hyperband"}))
    tuning = tuner_plan(plan)
    assert tuning.ray_generator and tuning.source.configs == ({"x": 1}, {"x": 2}, {"x": 3})
    assert tuning.progress_total is None and tuning.num_samples == 3


def test_model_based_strategy_keeps_its_searcher_with_hyperband() -> None:
    plan = make_plan(fn_spec(strategy={"name": "optuna-tpe"}, scheduler={"name": "hyperband"}))
    assert not tuner_plan(plan).ray_generator


def test_population_schedulers_refuse_model_based_strategies() -> None:
    with pytest.raises(SpecError) as exc:
        make_plan(fn_spec(strategy={"name": "optuna-tpe"}, scheduler={"name": "pbt"}))
    problem = exc.value.problems[0]
    assert problem.path == "strategy.name" and problem.expected.startswith("random, grid or manual with scheduler 'pbt'")


def test_sklearn_trainables_refit_and_ensemble_by_capability() -> None:
    from raytuner.runner.refit import is_sklearn_spec_run

    assert is_sklearn_spec_run(make_plan(nsga2()))
    assert not is_sklearn_spec_run(make_plan(fn_spec()))
    with pytest.raises(SpecError) as exc:
        make_plan(fn_spec(ensemble={"top_k": 2}))
    assert exc.value.problems[0].expected == "unset for a function trainable (ensembles are for sklearn)"

"""A few strategies on a real local Ray: reproducibility, bad trials, multi-objective results."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from raytuner.cli.main import main
from raytuner.results.pareto import dominates, objective_values
from raytuner.results.summary import read_summary
from raytuner.runner.experiment import run_experiment
from raytuner.spec.loader import validate_spec


def spec(storage: Path, **over: Any) -> Any:
    data: dict[str, Any] = {
        "name": "e2e",
        "trainable": {"type": "function", "function": "raytuner.testing:fail_when_negative"},
        "space": {"x": {"type": "float", "low": -5.0, "high": 5.0}, "k": {"type": "choice", "values": ["a", None]}},
        "metric": {"name": "loss", "mode": "min"},
        "budget": {"trials": 4, "max_concurrent": 1},
        "failure": {"max_retries": 0},
        "storage": {"path": str(storage)},
    }
    data.update(over)
    return validate_spec(data)


def configs_in_order(summary: Any) -> list[dict[str, Any]]:
    return [t.config for t in summary.trials]


def test_same_seed_same_configs_on_ray_with_failed_trials(ray_local: None, storage: Path) -> None:
    from raytuner.runner.plan import make_plan
    from raytuner.strategies.drive import drive
    from raytuner.testing import fail_when_negative

    strategy = {"name": "de", "seed": 5, "options": {"popsize": 4},
                "points_to_evaluate": [{"x": -1.0, "k": None}]}
    space = {"x": {"type": "float", "low": -2.0, "high": 8.0}, "k": {"type": "choice", "values": ["a", None]}}
    first = run_experiment(spec(storage, strategy=strategy, space=space), show_progress=False)
    again = run_experiment(spec(storage, strategy=strategy, space=space), show_progress=False)
    assert configs_in_order(first) == configs_in_order(again)
    plan = make_plan(spec(storage, strategy=strategy, space=space))  # Ray asks what the in-process driver asks
    assert configs_in_order(first) == drive(plan.strategy, plan.search, fail_when_negative).configs
    assert first.trials[0].config == {"x": -1.0, "k": None}  # points_to_evaluate first
    assert first.trials[0].status == "error"  # the failed trial is reported, the search went on
    assert first.counts["total"] == 4 and first.counts["ok"] >= 1


def test_nan_metrics_on_ray(ray_local: None, storage: Path) -> None:
    summary = run_experiment(
        spec(storage, trainable={"type": "function", "function": "raytuner.testing:nan_when_negative"},
             strategy={"name": "tpe", "seed": 1, "options": {"n_initial_points": 2},
                       "points_to_evaluate": [{"x": -2.0, "k": "a"}]}),
        show_progress=False,
    )
    assert summary.counts["total"] == 4
    assert summary.trials[0].score is not None and math.isnan(summary.trials[0].score)
    assert summary.best is not None and math.isfinite(summary.best.score)


def test_nsga2_writes_the_pareto_front(ray_local: None, storage: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = spec(
        storage,
        trainable={"type": "function", "function": "raytuner.testing:schaffer"},
        space={"x": {"type": "float", "low": -4.0, "high": 4.0}},
        metric=[{"name": "f1", "mode": "min"}, {"name": "f2", "mode": "min"}],
        strategy={"name": "nsga2", "seed": 0, "options": {"population_size": 4}},
        budget={"trials": 6, "max_concurrent": 2},
    )
    summary = run_experiment(data, show_progress=False)
    objectives = [("f1", "min"), ("f2", "min")]
    assert summary.objectives == [{"name": "f1", "mode": "min"}, {"name": "f2", "mode": "min"}]
    assert summary.pareto_front
    values = {t.trial_id: objective_values(t.metrics, objectives) for t in summary.trials}
    front = set(summary.pareto_front)
    for tid, v in values.items():  # the front is exactly the non-dominated trials
        dominated = any(dominates(w, v) for w in values.values())
        assert (tid in front) == (not dominated)
    back = read_summary(summary.experiment_path)
    assert back.pareto_front == summary.pareto_front
    assert main(["results", summary.experiment_path]) == 0
    assert "Pareto front" in capsys.readouterr().out
    raw = json.loads(Path(summary.experiment_path, "summary.json").read_text())
    assert raw["pareto_front"] == summary.pareto_front


def test_auto_prints_its_choice_when_running(ray_local: None, storage: Path) -> None:
    import io

    stream = io.StringIO()
    summary = run_experiment(
        spec(storage, trainable={"type": "function", "function": "raytuner.testing:quadratic"},
             space={"x": {"type": "float", "low": -5.0, "high": 5.0}},
             strategy={"name": "auto", "seed": 0}, budget={"trials": 2}),
        progress_stream=stream,
    )
    assert "auto: strategy random (2 trials are too few" in stream.getvalue()
    assert summary.strategy == "auto:random" and summary.counts["ok"] == 2

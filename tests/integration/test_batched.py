"""The batched path (execution.batch) for real on the session's Ray: the strategy's own
searcher asks, trials run in batches on warm actors, and the experiment directory reads
back with the same readers (read_experiment, `raytuner results`, report)."""

from __future__ import annotations

from pathlib import Path

import pytest

import raytuner
from raytuner.cli.main import main
from raytuner.results.experiment import read_experiment


@pytest.fixture(autouse=True, scope="module")
def _pool_released_after() -> object:
    """The tests share one warm pool (execution.warm_s); its CPUs go back to the session after."""
    yield
    from raytuner.runner.batched import release_pool

    release_pool()


def _spec(storage: Path, strategy: dict, trials: int, **extra: object) -> dict:
    return {
        "name": "batched",
        "trainable": {"type": "function", "function": "raytuner.testing:quadratic"},
        "space": {"x": {"type": "float", "low": 0, "high": 6}, "y": {"type": "choice", "values": [0, 1]}},
        "metric": {"name": "loss", "mode": "min"},
        "strategy": strategy,
        "budget": {"trials": trials},
        "storage": {"path": str(storage)},
        "history": {"record": False},
        **extra,
    }


@pytest.mark.parametrize("strategy", [{"name": "random", "seed": 3},
                                      {"name": "optuna-tpe", "seed": 3, "options": {"n_startup_trials": 5}}],
                         ids=["random", "optuna-tpe"])
def test_batched_run_is_a_full_experiment(strategy: dict, ray_local: None, storage: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    summary = raytuner.run(_spec(storage, strategy, 30, execution={"batch": 4, "warm_s": 60}), show_progress=False)
    assert summary.counts == {"total": 30, "ok": 30, "error": 0}
    assert len({t.trial_id for t in summary.trials}) == 30
    best = summary.best
    assert 0 <= best.config["x"] <= 6 and best.config["y"] in (0, 1)
    assert best.score == pytest.approx((best.config["x"] - 3) ** 2 + best.config["y"])
    assert best.score == min(t.score for t in summary.trials)
    assert all(t.steps == 1 and t.nodes for t in summary.trials)
    experiment = read_experiment(summary.experiment_path)
    assert len(experiment.trials) == 30 and set(experiment.trials["status"]) == {"ok"}
    assert {"config.x", "config.y"} <= set(experiment.trials.columns)
    assert len(experiment.history) == 30 and "loss" in experiment.history
    for row in experiment.trials.itertuples():
        assert Path(row.path, "params.json").is_file() and Path(row.path, "progress.csv").is_file()
    assert main(["results", summary.experiment_path]) == 0
    assert best.trial_id in capsys.readouterr().out


def test_batched_steps_stop_and_failures(ray_local: None, storage: Path) -> None:
    """Generator functions report per step (stop.max_steps applies in the actor); a NaN
    metric is a diverged trial, as on the Tune path."""
    spec = _spec(storage, {"name": "random", "seed": 0}, 6, execution={"batch": 2, "warm_s": 60}, stop={"max_steps": 3})
    spec["trainable"] = {"type": "function", "function": "raytuner.testing:curve", "params": {"steps": 5, "sleep": 0}}
    spec["space"] = {"x": {"type": "float", "low": 0, "high": 6}}
    summary = raytuner.run(spec, show_progress=False)
    assert summary.counts["ok"] == 6 and {t.steps for t in summary.trials} == {3}
    assert len(read_experiment(summary.experiment_path).history) == 18

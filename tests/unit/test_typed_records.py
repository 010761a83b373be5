"""Typed hand-offs (no Ray): final-step and scheduling records keep summary.json's shape
and read back typed; the sklearn trial set-up pickles."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from raytuner.results.final import (EnsembleResult, FinalResults, RefitResult, SavedFiles, StepFailure,
                                    StepSkipped)
from raytuner.results.scheduling import EarlyStopping, ExploitEvent, PopulationHistory, SchedulingReport
from raytuner.results.summary import Summary, TrialRecord, read_summary, write_summary

REFIT = {"trial_id": "t1", "config": {"C": 1.0}, "cv_score": 0.9, "holdout_score": 0.8, "fit_time_s": 0.01,
         "search_rows": 100, "holdout_rows": 50, "path": "/x/model", "files": ["model.joblib"],
         "skipped": {"skops": "not installed"}, "time_s": 0.2}
ENSEMBLE = {"method": "greedy", "options": {"rounds": 5}, "members": 2, "weights": [0.5, 0.5], "oof_score": 0.95,
            "member_oof_scores": [0.9, 0.91], "picks": [1, 1], "history": [0.9, 0.95],
            "top_k": 2, "member_trials": ["t1", "t2"], "holdout_score": 0.92, "best_single_holdout_score": 0.8,
            "search_rows": 100, "holdout_rows": 50}  # rebuilt by `raytuner ensemble`: nothing saved, no time_s
EARLY = {"max_steps": 3, "trials": 2, "stopped_early": 1, "stopped_by": {"scheduler": 1}, "stop_reasons": {"b": "scheduler"},
         "steps_used": 4, "steps_if_all_ran": 6, "steps_saved": 2, "stopped_trials": ["b"]}
EVENT = {"trial": "b", "step": 2, "cloned": "a", "donor_step": 2, "changed": {"lr": [0.1, 0.2]}, "replaced": {"lr": [0.5, 0.2]}}


def _summary(**extra: Any) -> Summary:
    trials = [TrialRecord(trial_id=i, status="ok", config={}, score=1.0, steps=3, time_s=0.1) for i in "ab"]
    return Summary(name="s", experiment_path="", metric="accuracy", mode="max", strategy="random", scheduler="pbt",
                   started_at="", wall_time_s=1.0, trials=trials, best=trials[0], **extra)


def test_final_records_keep_the_json_shape_and_read_back_typed(tmp_path: Path) -> None:
    final = FinalResults.from_data({"refit": REFIT, "ensemble": ENSEMBLE})
    assert isinstance(final.refit, RefitResult) and isinstance(final.ensemble, EnsembleResult)
    assert final.refit.saved == SavedFiles("/x/model", ["model.joblib"], {"skops": "not installed"})
    assert final.ensemble.details == {"member_oof_scores": [0.9, 0.91], "picks": [1, 1], "history": [0.9, 0.95]}
    data = final.to_data()
    assert data == {"refit": REFIT, "ensemble": ENSEMBLE}
    assert list(data["refit"]) == list(REFIT) and list(data["ensemble"]) == list(ENSEMBLE)  # key order too
    write_summary(_summary(final=final), tmp_path)
    raw = json.loads((tmp_path / "summary.json").read_text())
    assert raw["final"] == {"refit": REFIT, "ensemble": ENSEMBLE}
    back = read_summary(tmp_path)
    assert back.final == final and back.final.refit_result == final.refit


def test_skipped_and_failed_steps_round_trip(tmp_path: Path) -> None:
    final = FinalResults(refit=StepSkipped("no trial finished with a score", time_s=0.0),
                         ensemble=StepFailure("ValueError: nope", "Traceback ..."))
    write_summary(_summary(final=final), tmp_path)
    raw = json.loads((tmp_path / "summary.json").read_text())["final"]
    assert raw == {"refit": {"skipped": "no trial finished with a score", "time_s": 0.0},
                   "ensemble": {"error": "ValueError: nope", "traceback": "Traceback ..."}}
    back = read_summary(tmp_path).final
    assert back == final and back.refit_result is None and back.ensemble_result is None
    assert [name for name, _ in back.steps()] == ["refit", "ensemble"]


def test_refit_without_saved_model_has_no_path_keys() -> None:
    data = {k: v for k, v in REFIT.items() if k not in ("path", "files", "skipped")}
    refit = RefitResult.from_data(data)
    assert refit.saved is None and refit.to_data() == data
    assert refit.model_data() == {k: v for k, v in data.items() if k != "time_s"}


def test_scheduling_report_keeps_the_json_shape_and_reads_back_typed(tmp_path: Path) -> None:
    population = {"exploits": 1, "events": [EVENT], "schedules": {"b": [EVENT]}}
    report = SchedulingReport.from_data({"scheduler": "pbt", "early_stopping": EARLY, "population": population})
    assert isinstance(report.early_stopping, EarlyStopping) and isinstance(report.population, PopulationHistory)
    assert report.population.events[0] == ExploitEvent(**EVENT)
    write_summary(_summary(scheduling=report), tmp_path)
    raw = json.loads((tmp_path / "summary.json").read_text())
    assert raw["scheduling"] == {"scheduler": "pbt", "early_stopping": EARLY, "population": population}
    assert read_summary(tmp_path).scheduling == report
    empty = _summary()  # no scheduling report (an old summary.json): {} both ways
    assert empty.to_data()["scheduling"] == {} and SchedulingReport.from_data({}) == SchedulingReport()


def test_old_summary_without_final_or_scheduling_reads(tmp_path: Path) -> None:
    data = _summary().to_data()
    del data["final"], data["scheduling"]
    (tmp_path / "summary.json").write_text(json.dumps(data))
    back = read_summary(tmp_path)
    assert back.final == FinalResults() and back.scheduling == SchedulingReport()


def test_scheduling_report_credits_stops_by_what_the_scheduler_can_do() -> None:
    from raytuner.runner.scheduling import StopReasons, scheduling_report

    trials = [TrialRecord(trial_id=i, status="ok", config={}, score=1.0, steps=s, time_s=0.1) for i, s in (("a", 3), ("b", 1))]

    def plan(explores_itself: bool, needs_checkpoints: bool, stops_early: bool) -> Any:
        scheduler = SimpleNamespace(name="x", explores_itself=explores_itself, needs_checkpoints=needs_checkpoints,
                                    stops_early=stops_early, history=lambda: None)
        return SimpleNamespace(scheduler=scheduler, schedule=SimpleNamespace(max_steps=3))

    report = scheduling_report(plan(False, True, False), trials, StopReasons(trials={"b": "plateau"}))
    assert report.early_stopping is not None and report.early_stopping.stop_reasons == {"b": "plateau"}
    # PBT never stops a trial (a clone's step counter goes on from its donor's): one that ended
    # early was stopped by a condition or by itself, never by the scheduler
    population = scheduling_report(plan(True, True, False), trials, StopReasons(trials={"b": "plateau"}))
    assert population.early_stopping is not None and population.early_stopping.stop_reasons == {"b": "plateau"}
    assert scheduling_report(plan(True, True, False), trials).early_stopping.stop_reasons == {"b": "trainable"}
    ended = scheduling_report(plan(False, False, False), trials, StopReasons(ended_by="time_limit"))
    assert ended.early_stopping is not None and ended.early_stopping.stopped_by == {"time_limit": 1}


def test_sklearn_setup_is_frozen_and_pickles() -> None:
    import dataclasses

    import pytest

    from raytuner.runner.plan import make_plan
    from raytuner.spec.loader import load_spec
    from raytuner.trainables.sklearn.estimator import build_estimator, make_splits
    from raytuner.trainables.sklearn.setup import PipelineSetup, SklearnSetup

    experiments = Path(__file__).resolve().parents[2] / "experiments"
    setup = make_plan(load_spec(experiments / "sklearn_ensemble.yaml")).trainable.setup()
    assert isinstance(setup, SklearnSetup) and isinstance(setup.pipeline, PipelineSetup)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setup.metric = "r2"  # type: ignore[misc]
    again = pickle.loads(pickle.dumps(setup))
    assert again == setup
    pipe = build_estimator(again, {"clf": "knn"})
    assert [name for name, _ in pipe.steps] == [step.name for step in setup.pipeline.steps]
    import numpy as np

    X, y = np.arange(40).reshape(20, 2), np.array([0, 1] * 10)
    folds = make_splits(again.cv, X, y)
    assert len(folds) == setup.cv.folds

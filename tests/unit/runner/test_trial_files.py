"""TrialFiles: the per-trial files Ray's JSON/CSV loggers wrote, and no state kept for a
trial once it ended (ray#64231: Ray's loggers keep an entry per trial for the whole run)."""

from __future__ import annotations

import csv
import json
import pickle
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from raytuner.console.progress import Progress
from raytuner.runner.trial_files import TrialFiles


def _trial(tmp_path: Path, trial_id: str, x: float) -> SimpleNamespace:
    directory = tmp_path / f"trial_{trial_id}"
    return SimpleNamespace(trial_id=trial_id, config={"x": x, "nested": {"a": 1}}, local_path=str(directory),
                           init_local_path=lambda: directory.mkdir(parents=True, exist_ok=True), checkpoint=None)


def test_files_written_and_state_released_when_trials_end(tmp_path: Path) -> None:
    files = TrialFiles()
    first, second = _trial(tmp_path, "a1", 0.5), _trial(tmp_path, "b2", 1.5)
    for trial in (first, second):
        files.on_trial_start(0, [], trial)
    for step in (1, 2):
        files.on_trial_result(0, [], first, {"score": step / 10, "training_iteration": step, "trial_id": "a1",
                                             "config": first.config, "info": {"nodes": 1}})
    assert sorted(files.open_trials) == ["a1", "b2"]

    files.on_trial_complete(0, [], first)
    assert files.open_trials == ["b2"]  # the finished trial holds nothing
    files.on_trial_error(0, [], second)
    assert files.open_trials == []

    directory = Path(first.local_path)
    lines = [json.loads(line) for line in (directory / "result.json").read_text().splitlines()]
    assert [row["score"] for row in lines] == [0.1, 0.2] and lines[0]["config"] == {"x": 0.5, "nested": {"a": 1}}
    rows = list(csv.DictReader((directory / "progress.csv").open()))
    assert [row["training_iteration"] for row in rows] == ["1", "2"]
    assert "config" not in rows[0] and rows[0]["info/nodes"] == "1"  # flattened, config dropped
    assert json.loads((directory / "params.json").read_text()) == {"nested": {"a": 1}, "x": 0.5}
    assert pickle.loads((directory / "params.pkl").read_bytes()) == {"nested": {"a": 1}, "x": 0.5}


def test_a_restarted_trial_appends_without_a_second_header(tmp_path: Path) -> None:
    files = TrialFiles()
    trial = _trial(tmp_path, "c3", 0.1)
    for attempt in (1, 2):
        files.on_trial_start(0, [], trial)
        files.on_trial_result(0, [], trial, {"score": attempt, "training_iteration": attempt})
        files.on_trial_complete(0, [], trial)
    rows = list(csv.reader((Path(trial.local_path) / "progress.csv").open()))
    assert [row[:2] for row in rows] == [["score", "training_iteration"], ["1", "1"], ["2", "2"]]
    assert rows[0][2] == "wall_clock_s" and float(rows[1][2]) <= float(rows[2][2])  # sub-second times, in order
    assert files.__getstate__()["_open"] == {}


def test_progress_keeps_values_only_for_running_trials() -> None:
    progress = Progress("score", "max", total=3)
    for trial_id, value in (("t1", 0.3), ("t2", 0.9), ("t3", 0.5)):
        progress.running.add(trial_id)
        progress.observe(trial_id, value)
    progress.bad.add("t3")
    assert progress.finish("t1") is False and progress.finish("t2") is False
    assert progress.finish("t3") is True  # the metrics rule had ended it
    assert progress.latest == {} and progress.bad == set() and progress.running == set()
    assert (progress.best_trial, progress.best) == ("t2", 0.9)
    progress.running.add("t4")
    progress.observe("t4", 1.2)  # a running trial beats the finished best
    assert (progress.best_trial, progress.best) == ("t4", 1.2)
    assert "best score 1.2 (t4)" in progress.line()


def _metadata() -> Any:
    from ray.tune.trainable.metadata import _TrainingRunMetadata

    meta = _TrainingRunMetadata()
    for step in (1, 2, 3):
        for name in ("score", "time_this_iter_s", "timestamp", "loss"):
            meta.update_metric(name, float(step), step=step)
    return meta


def test_a_finished_trial_keeps_only_its_objectives_statistics() -> None:
    from raytuner.runner.lean_trials import ReleaseFinished

    meta = _metadata()
    before = len(meta.get_json_state())
    trial = SimpleNamespace(run_metadata=meta)
    ReleaseFinished(["score", "loss"]).on_trial_complete(0, [], trial)
    assert sorted(meta.metric_analysis) == ["loss", "score"] and meta.metric_n_steps == {}  # no window: no result comes
    assert meta.metric_analysis["score"]["max"] == 3.0  # the objectives' statistics are kept whole
    assert len(meta.get_json_state()) < before  # the cached JSON was rebuilt without the rest
    failed = _metadata()
    ReleaseFinished(["score"]).on_trial_error(0, [], SimpleNamespace(run_metadata=failed))
    assert sorted(failed.metric_analysis) == ["score"] and sorted(failed.metric_n_steps) == ["score"]
    failed.update_metric("score", 1.0, step=4)  # a failed trial retried on resume reports again: no KeyError
    failed.update_metric("time_this_iter_s", 1.0, step=4)


def test_completed_trials_share_one_resource_request_and_save_small() -> None:
    import json

    from ray.tune.execution.placement_groups import PlacementGroupFactory
    from ray.tune.experiment import Trial

    from raytuner.runner.lean_trials import ReleaseFinished, trial_dirname

    release = ReleaseFinished(["score"])
    trials = []
    for _ in range(3):
        trial = Trial("t", stub=True, trial_dirname_creator=trial_dirname)
        trial.placement_group_factory = PlacementGroupFactory([{"CPU": 1}])  # each its own, as Tune makes them
        trial.run_metadata = _metadata()
        trial.run_metadata.last_result = {"score": 3.0, "trial_id": trial.trial_id}
        trial._default_result_or_future = object()  # stands in for the ObjectRef Tune keeps
        release.on_trial_complete(0, [], trial)
        trials.append(trial)
    assert trials[0].placement_group_factory is trials[1].placement_group_factory is trials[2].placement_group_factory
    assert trials[2].placement_group_factory == PlacementGroupFactory([{"CPU": 1}])
    assert trials[0]._default_result_or_future is None and trials[0].last_result["score"] == 3.0
    silent = SimpleNamespace(run_metadata=_metadata(), _default_result_or_future="ref")
    release.on_trial_error(0, [], silent)  # never reported: Tune still reads the actor's defaults
    assert silent._default_result_or_future == "ref"
    state, _ = trials[0].get_json_state()
    assert len(json.loads(state)["trial_dirname_creator"]) < 400  # pickled by name, not a lambda's code
    assert len(release._shared) == 1 and release.__getstate__()["_shared"] == {}


def test_experiment_state_saves_back_off_with_many_trials() -> None:
    from raytuner.runner.tuning import experiment_state_period

    assert [experiment_state_period(n) for n in (8, 200, 1000, 10_000)] == ["1", "1", "5", "50"]


def test_heap_trim_every_n_finished_trials_and_not_pickled() -> None:
    import pickle

    from raytuner.runner.heap import HeapTrim, malloc_trim

    calls: list[int] = []
    heap = HeapTrim(every=3, trim=lambda: calls.append(1))
    for i in range(7):
        (heap.on_trial_complete if i % 2 else heap.on_trial_error)(0, [], SimpleNamespace())
    assert heap.trims == len(calls) == 2  # after the 3rd and the 6th finished trial
    restored = pickle.loads(pickle.dumps(heap))  # Ray saves callbacks with the experiment state
    assert restored.trims == 2 and (restored._trim is None) == (malloc_trim() is None)  # libc's own, if any


def test_a_continued_file_keeps_its_own_columns(tmp_path: Path) -> None:
    """A resumed trial whose progress.csv has other columns (an older raytuner): rows still line up."""
    trial = _trial(tmp_path, "d4", 0.1)
    Path(trial.local_path).mkdir(parents=True)
    (Path(trial.local_path) / "progress.csv").write_text("training_iteration,score\n1,0.5\n")
    files = TrialFiles()
    files.on_trial_start(0, [], trial)
    files.on_trial_result(0, [], trial, {"score": 0.25, "training_iteration": 2, "extra": 1})
    files.on_trial_complete(0, [], trial)
    text = (Path(trial.local_path) / "progress.csv").read_text().splitlines()
    assert text == ["training_iteration,score", "1,0.5", "2,0.25"]

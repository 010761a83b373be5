"""Partial summaries (state running / interrupted / finished) and what `raytuner resume` refuses (no Ray)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from raytuner.cli.main import main
from raytuner.errors import Interrupted, ResultsError
from raytuner.results.summary import FINISHED, INTERRUPTED, RUNNING, Summary, TrialRecord, read_summary, run_state
from raytuner.runner.partial import RunInfo, write_partial
from raytuner.runner.resume import find_resume_point

SPEC = {
    "name": "partial",
    "trainable": {"type": "function", "function": "raytuner.testing:quadratic"},
    "space": {"x": {"type": "float", "low": 0.0, "high": 6.0}},
    "metric": {"name": "loss", "mode": "min"},
    "budget": {"trials": 3},
}


def _trial(tid: str, status: str, score: float | None) -> TrialRecord:
    return TrialRecord(trial_id=tid, status=status, config={"x": 1.0}, score=score, steps=1 if score else 0,
                       time_s=0.1)


def _info(path: Path) -> RunInfo:
    from raytuner.spec.models import StorageSpec

    return RunInfo(name="partial", experiment_path=str(path), metric="loss", mode="min", strategy="random",
                   scheduler="fifo", started_at="2026-01-01T00:00:00", storage=StorageSpec(path=str(path.parent)),
                   prior_wall_s=5.0)


def _experiment(tmp_path: Path, state: str | None, *, tuner: bool = True, pid: int | None = None) -> Path:
    exp = tmp_path / "results" / "partial-20260101-000000"
    exp.mkdir(parents=True)
    (exp / "spec.yaml").write_text(yaml.safe_dump(SPEC))
    if tuner:
        (exp / "tuner.pkl").write_bytes(b"")
    if state is not None:
        trials = [_trial("a", "ok", 1.0), _trial("b", "running", None)]
        summary = _info(exp).summary(trials, state, 1.0)
        if pid is not None:
            summary.driver["pid"] = pid
        write_partial(summary, None)
    return exp


def test_partial_summary_is_written_atomically_and_read_back(tmp_path: Path) -> None:
    exp = _experiment(tmp_path, RUNNING)
    assert not list(exp.glob("*.tmp"))
    back = read_summary(exp)
    assert back.state == RUNNING and back.counts == {"total": 2, "ok": 1, "error": 0, "running": 1}
    assert back.best is not None and back.best.trial_id == "a"
    assert back.wall_time_s == 6.0  # the runs before a resume count
    assert back.driver == {"host": socket.gethostname(), "pid": os.getpid()}
    assert run_state(back) == RUNNING  # this process is alive


def test_a_running_summary_whose_driver_is_gone_reads_as_interrupted(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    exp = _experiment(tmp_path, RUNNING, pid=dead.pid)
    assert run_state(read_summary(exp)) == INTERRUPTED


def test_older_summaries_without_a_state_are_finished(tmp_path: Path) -> None:
    exp = _experiment(tmp_path, RUNNING)
    data = json.loads((exp / "summary.json").read_text())
    del data["state"], data["driver"]
    (exp / "summary.json").write_text(json.dumps(data))
    assert read_summary(exp).state == FINISHED


def test_results_command_says_the_state_and_how_to_resume(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exp = _experiment(tmp_path, INTERRUPTED)
    assert main(["results", str(exp)]) == 0
    out = capsys.readouterr().out
    assert "state: interrupted (a partial summary: 1 running)" in out and f"raytuner resume {exp}" in out


def test_read_experiment_on_a_partial_summary(tmp_path: Path) -> None:
    from raytuner.results.experiment import read_experiment

    exp = read_experiment(_experiment(tmp_path, INTERRUPTED))
    assert exp.state == INTERRUPTED and exp.summary is None and not exp.finished
    assert exp.metric == "loss"


def test_resume_point_of_an_interrupted_experiment(tmp_path: Path) -> None:
    exp = _experiment(tmp_path, INTERRUPTED)
    point = find_resume_point(str(exp), retry_failed=True)
    assert point.uri == str(exp.resolve()) and point.name == exp.name and point.filesystem is None
    assert point.spec.name == "partial" and point.retry_failed
    assert point.started_at == "2026-01-01T00:00:00" and point.prior_wall_s == 6.0


@pytest.mark.parametrize("case, words", [
    ("missing", "does not exist"),
    ("not_experiment", "is not a raytuner experiment directory (no spec.yaml)"),
    ("finished", "already finished (2 trials): nothing to resume"),
    ("no_tune_state", "Ray Tune saved no state there"),
])
def test_resume_refuses_with_one_message(tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str,
                                         words: str) -> None:
    target = tmp_path / "results" / "partial-20260101-000000"
    if case == "not_experiment":
        target.mkdir(parents=True)
    elif case == "finished":
        _experiment(tmp_path, FINISHED)
    elif case == "no_tune_state":
        _experiment(tmp_path, RUNNING, tuner=False)
    with pytest.raises(ResultsError) as caught:
        find_resume_point(str(target))
    assert words in str(caught.value)
    assert main(["resume", str(target)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and words in err and "Traceback" not in err


def test_a_finished_experiment_with_failures_resumes_only_with_retry_failed(tmp_path: Path) -> None:
    exp = _experiment(tmp_path, None)
    trials = [_trial("a", "ok", 1.0), _trial("b", "error", None)]
    write_partial(_info(exp).summary(trials, FINISHED, 1.0), None)
    with pytest.raises(ResultsError, match="rerun its 1 failed trial"):
        find_resume_point(str(exp))
    assert find_resume_point(str(exp), retry_failed=True).retry_failed


def test_interrupted_prints_the_resume_command_and_exits_130() -> None:
    error = Interrupted("/x/results/exp-1")
    assert error.exit_code == 130 and error.prefix == ""
    assert str(error) == "interrupted; resume with: raytuner resume /x/results/exp-1"


def test_resume_is_public() -> None:
    import raytuner

    assert "resume" in raytuner.__all__ and callable(raytuner.resume)
    assert isinstance(Summary.__dataclass_fields__["state"].default, str)


class _Trial:
    """What PartialSummary reads of a Tune Trial."""

    def __init__(self, trial_id: str, status: str, steps: int = 0) -> None:
        self.trial_id, self.status, self.config, self.path = trial_id, status, {"x": 1.0}, None
        self.last_result = {"loss": 1.0 / (steps or 1), "training_iteration": steps} if steps else {}


def test_partial_summary_callback_throttles_and_marks_an_interruption(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from raytuner.runner.partial import PartialSummary

    exp = tmp_path / "results" / "partial-1"
    callback = PartialSummary(_info(exp), interval_s=3600, gap_s=0)
    trials = [_Trial("a", "RUNNING", 1), _Trial("b", "PENDING")]
    monkeypatch.setattr(signal, "getsignal", lambda sig: "tune's handler")
    callback.on_step_begin(0, trials)
    callback.on_trial_start(0, trials, trials[0])
    callback.on_trial_result(0, trials, trials[0], {})
    callback.on_step_end(1, trials)
    assert read_summary(exp).state == RUNNING  # the first report is written at once
    trials[0].status, trials[0].last_result = "TERMINATED", {"loss": 0.5, "training_iteration": 2}
    callback.on_trial_result(1, trials, trials[0], {})
    callback.on_step_end(2, trials)
    assert read_summary(exp).trials[0].status == "running"  # reports: at most every interval_s
    callback.on_trial_complete(2, trials, trials[0])
    callback.on_step_end(3, trials)
    assert read_summary(exp).counts == {"total": 2, "ok": 1, "error": 0, "pending": 1}  # completions: within gap_s
    # Ctrl+C: Tune's handler put the previous one back, and marked every trial terminated
    callback2 = PartialSummary(_info(exp))
    trials = [_Trial("a", "RUNNING", 2), _Trial("b", "RUNNING", 1), _Trial("c", "PENDING")]
    callback2.on_step_begin(0, trials)
    for trial in trials[:2]:
        callback2.on_trial_start(0, trials, trial)
    callback2.on_trial_complete(1, trials, trials[0])
    for trial in trials:
        trial.status = "TERMINATED"
    monkeypatch.setattr(signal, "getsignal", lambda sig: "the default handler")
    callback2.on_experiment_end(trials)
    assert callback2.interrupted
    back = read_summary(exp)
    assert back.state == INTERRUPTED and [t.status for t in back.trials] == ["ok", "running", "pending"]


def test_a_normal_end_is_not_an_interruption(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import signal

    from raytuner.runner.partial import PartialSummary

    callback = PartialSummary(_info(tmp_path / "partial-2"))
    monkeypatch.setattr(signal, "getsignal", lambda sig: "tune's handler")
    callback.on_step_begin(0, [])
    callback.on_experiment_end([])
    assert not callback.interrupted and not (tmp_path / "partial-2" / "summary.json").exists()

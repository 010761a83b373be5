"""`raytuner resume` on real Ray (#12): a driver killed (SIGKILL) or interrupted (SIGINT) mid-run,
then resumed to completion; facts asserted from the trials' own step files.

Each run is the CLI in a subprocess with a session of its own (it starts its own local
Ray), so the whole process group can be signalled; whatever it started is killed by
PID afterwards. Trials: ``raytuner.testing.faults:recorded_steps`` (4 checkpointed steps,
every step it runs appended to a file per trial).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

from raytuner.testing.faults import recorded, tune_state

ROOT = Path(__file__).resolve().parents[2]
BUDGET, STEPS = 5, 4


def _spec(tmp_path: Path) -> Path:
    record_dir = tmp_path / "steps"
    record_dir.mkdir()
    spec = {
        "name": "resumable",
        "trainable": {"type": "function", "function": "raytuner.testing.faults:recorded_steps"},
        "space": {"x": {"type": "float", "low": 0.0, "high": 6.0}, "steps": STEPS, "sleep": 0.7,
                  "record_dir": str(record_dir)},
        "metric": {"name": "loss", "mode": "min"},
        "strategy": {"name": "random", "seed": 0},
        "budget": {"trials": BUDGET, "max_concurrent": 2},
        "storage": {"path": str(tmp_path / "results")},
        "failure": {"max_retries": 0},
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "raytuner.cli.main", *args]


def _session_pids(sid: int) -> list[int]:
    """Every process in the session the CLI run started (its Ray: GCS, raylet, workers...)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    pids.append(int(entry))
            except OSError:
                pass
    return pids


def _ray_temp_dirs(pids: list[int]) -> set[str]:
    found = set()
    for pid in pids:
        try:
            args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        for arg in args:
            text = arg.decode(errors="replace")
            if text.startswith("--temp-dir=/tmp/rt") or text.startswith("--temp_dir=/tmp/rt"):
                found.add(text.split("=", 1)[1])
    return found


def _kill_all(proc: subprocess.Popen, sig: int) -> None:
    """Signal the run's process group; then make sure every process of its session is gone
    (by PID) and remove the Ray temp dir a killed driver could not."""
    started = _session_pids(proc.pid)
    temp_dirs = _ray_temp_dirs(started)
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=120)  # after SIGINT the driver stops the trials, saves, shuts its Ray down
    finally:
        for pid in set(started) | set(_session_pids(proc.pid)):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for directory in temp_dirs:
            shutil.rmtree(directory, ignore_errors=True)


def _wait(until: Callable[[], Any], proc: subprocess.Popen, what: str, timeout_s: float = 240.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = until()
        if value:
            return value
        if proc.poll() is not None:
            pytest.fail(f"the run ended (rc {proc.returncode}) before {what}: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.1)
    pytest.fail(f"timed out waiting for {what}")


def _experiment_dir(storage: Path) -> Path | None:
    found = sorted(storage.glob("resumable-*/summary.json")) if storage.is_dir() else []
    return found[0].parent if found else None


def _mid_run(exp: Path) -> dict[str, tuple[str, int]] | None:
    """Tune's saved state once it holds a finished trial and a running one with a checkpoint."""
    state = tune_state(str(exp))
    finished = [t for t, (status, _) in state.items() if status == "TERMINATED"]
    running = [t for t, (status, steps) in state.items() if status == "RUNNING" and 1 <= steps < STEPS]
    return state if finished and running else None


def _interrupt_mid_run(tmp_path: Path, sig: int) -> tuple[Path, dict[str, tuple[str, int]], subprocess.Popen]:
    spec = _spec(tmp_path)
    proc = subprocess.Popen(_cli("run", str(spec)), cwd=tmp_path, env=_env(), start_new_session=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        exp = _wait(lambda: _experiment_dir(tmp_path / "results"), proc, "the experiment directory")
        # the partial summary is there from the start: `raytuner results` works on a running experiment
        assert json.loads((exp / "summary.json").read_text())["state"] == "running"
        state = _wait(lambda: _mid_run(exp), proc, "a finished and a running trial in Tune's state")
        _kill_all(proc, sig)
    finally:
        if proc.poll() is None:
            _kill_all(proc, signal.SIGKILL)
    return exp, state, proc


def _resume_and_check(tmp_path: Path, exp: Path, before: dict[str, tuple[str, int]]) -> None:
    steps_at_stop = recorded(str(tmp_path / "steps"))
    done = subprocess.run(_cli("resume", str(exp), "--json"), cwd=tmp_path, env=_env(), capture_output=True,
                          text=True, timeout=400, start_new_session=True)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout)
    assert summary["state"] == "finished"
    assert summary["counts"] == {"total": BUDGET, "ok": BUDGET, "error": 0}  # the budget, no more, no less
    assert all(t["steps"] == STEPS for t in summary["trials"])
    after = recorded(str(tmp_path / "steps"))
    assert len(after) == BUDGET
    for trial, (status, steps) in before.items():
        if status == "TERMINATED":  # finished before the stop: not one step rerun
            assert after[trial] == steps_at_stop[trial], trial
        if status == "RUNNING" and steps >= 1:  # continued from its checkpoint, not from step 1
            resumed = after[trial][len(steps_at_stop[trial]):]
            assert resumed and resumed[-1] == "end", (trial, after[trial])
            first = resumed[0].split()
            assert first[0] == "step" and int(first[1]) > 1 and int(first[2]) >= 1, (trial, after[trial])
    for trial, lines in after.items():  # every trial ran every step exactly once from a checkpoint on
        ran = {int(line.split()[1]) for line in lines if line.startswith("step")}
        assert ran == set(range(1, STEPS + 1)), (trial, lines)
    again = subprocess.run(_cli("resume", str(exp)), cwd=tmp_path, env=_env(), capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 2 and "already finished" in again.stderr and "Traceback" not in again.stderr


def test_sigkill_then_resume(tmp_path: Path) -> None:
    exp, before, _ = _interrupt_mid_run(tmp_path, signal.SIGKILL)
    # a killed driver leaves the partial summary "running"; its pid is gone, so it reads as interrupted
    shown = subprocess.run(_cli("results", str(exp)), env=_env(), capture_output=True, text=True, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert "state: interrupted" in shown.stdout and f"raytuner resume {exp}" in shown.stdout
    _resume_and_check(tmp_path, exp, before)


def test_sigint_then_resume(tmp_path: Path) -> None:
    exp, before, proc = _interrupt_mid_run(tmp_path, signal.SIGINT)
    out = proc.stdout.read() if proc.stdout else ""
    assert proc.returncode == 130, out[-3000:]
    assert f"interrupted; resume with: raytuner resume {exp}" in out
    assert "Traceback" not in out
    assert json.loads((exp / "summary.json").read_text())["state"] == "interrupted"
    from raytuner.results.history.store import HistoryStore

    recorded = [e for e in HistoryStore().experiments(trials=True) if e.path == str(exp)]
    assert [e.state for e in recorded] == ["interrupted"]  # in the history store with its trials so far
    assert any(t.status == "ok" for t in recorded[0].trials)
    _resume_and_check(tmp_path, exp, before)


@pytest.mark.parametrize("what", ["missing", "not_experiment"])
def test_resume_refuses_what_is_not_an_experiment(tmp_path: Path, what: str) -> None:
    target = tmp_path / "nothing-here"
    if what == "not_experiment":
        target.mkdir()
        (target / "notes.txt").write_text("hello")
    done = subprocess.run(_cli("resume", str(target)), env=_env(), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(target) in lines[0] and "raytuner run" in lines[0], done.stderr


def test_retry_failed_reruns_only_the_failed_trials(ray_local: None, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """A finished experiment whose trials failed (fail_once: the first run of each x fails)
    is refused without --retry-failed; with it, only the failed trials run again."""
    from raytuner.cli.main import main

    markers = tmp_path / "markers"
    markers.mkdir()
    spec = {
        "name": "retry", "trainable": {"type": "function", "function": "raytuner.testing:fail_once"},
        "space": {"x": {"type": "choice", "values": [1.0, 2.0, 3.0]}, "marker_dir": str(markers)},
        "metric": {"name": "loss", "mode": "min"}, "strategy": {"name": "grid"},
        "storage": {"path": str(tmp_path / "results")}, "failure": {"max_retries": 0},
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    (markers / "ran-2.0").touch()  # x=2 succeeds at once; x=1 and x=3 fail the first time
    assert main(["run", str(path), "--quiet"]) == 0
    exp = capsys.readouterr().out.strip().splitlines()[-1]
    first = json.loads((Path(exp) / "summary.json").read_text())
    assert first["state"] == "finished" and first["counts"] == {"total": 3, "ok": 1, "error": 2}
    assert main(["resume", exp]) == 2
    assert "rerun its 2 failed trial(s) with --retry-failed" in capsys.readouterr().err
    assert main(["resume", exp, "--retry-failed", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"] == {"total": 3, "ok": 3, "error": 0}
    # the trial that was ok is kept as it was; Tune reruns a failed one as a new trial (a new id)
    ok_before = [t for t in first["trials"] if t["status"] == "ok"]
    assert [t for t in summary["trials"] if t["trial_id"] == ok_before[0]["trial_id"]][0]["score"] == 2.0
    assert sorted(t["config"]["x"] for t in summary["trials"]) == [1.0, 2.0, 3.0]


def test_resume_on_s3(ray_local: None, s3_endpoint: str, aws_env: None, tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    """The same retry on S3 (moto's server on loopback): spec.yaml, the summaries and Tune's
    state are read from the bucket and Tuner.restore runs on it."""
    import boto3

    from raytuner.cli.main import main

    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket="rt-resume")
    markers = tmp_path / "markers"
    markers.mkdir()
    spec = {
        "name": "s3retry", "trainable": {"type": "function", "function": "raytuner.testing:fail_once"},
        "space": {"x": {"type": "choice", "values": [1.0, 2.0]}, "marker_dir": str(markers)},
        "metric": {"name": "loss", "mode": "min"}, "strategy": {"name": "grid"},
        "storage": {"path": "s3://rt-resume/exp", "endpoint": s3_endpoint}, "failure": {"max_retries": 0},
    }
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(spec))
    (markers / "ran-2.0").touch()
    assert main(["run", str(path), "--quiet"]) == 0
    exp = capsys.readouterr().out.strip().splitlines()[-1]
    assert exp.startswith("s3://rt-resume/exp/s3retry-")
    assert main(["resume", exp, "--endpoint", s3_endpoint]) == 2
    assert "--retry-failed" in capsys.readouterr().err
    assert main(["resume", exp, "--endpoint", s3_endpoint, "--retry-failed", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["experiment_path"] == exp and summary["state"] == "finished"
    assert summary["counts"] == {"total": 2, "ok": 2, "error": 0}
    assert main(["results", exp, "--endpoint", s3_endpoint, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"] == {"total": 2, "ok": 2, "error": 0}

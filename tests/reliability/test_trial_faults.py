"""Faults inside trials on a real local Ray (#12 parts 2 and 6).

* Errors a retry cannot fix (TypeError, SpecError) fail a trial once, with
  failure.max_retries = 2, counted from the files the objective writes; a transient
  ConnectionError is retried and the trial finishes.
* Failed trials are one grouped block on the console; a CLI run prints no traceback
  and no colour code on stderr; ``raytuner results`` prints the same block.
* The metrics rule: NaN/inf -> diverged, a missing or non-number metric -> failed; the
  trial stops at that report, ranks last, and no searcher or scheduler crashes.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import raytuner
from raytuner import ExperimentFailed
from raytuner.cli.main import main
from raytuner.results.summary import Summary, latest_experiment, read_summary

ROOT = Path(__file__).resolve().parents[2]


def fn_spec(storage: Path, function: str, space: dict, **extra: Any) -> dict:
    spec = {
        "name": "faults",
        "trainable": {"type": "function", "function": f"raytuner.testing:{function}"},
        "space": space,
        "metric": {"name": "loss", "mode": "min"},
        "strategy": {"name": "grid"},
        "budget": {},
        "failure": {"max_retries": 2},
        "storage": {"path": str(storage)},
    }
    spec.update(extra)
    return spec


def runs(count_dir: Path) -> dict[str, int]:
    """How many times each trial's objective ran (one line per run, per x)."""
    return {p.name: len(p.read_text().splitlines()) for p in sorted(count_dir.iterdir())}


# -- retries ---------------------------------------------------------------------


@pytest.mark.parametrize("error", ["TypeError", "SpecError"])
def test_errors_a_retry_cannot_fix_run_each_trial_once(ray_local: None, storage: Path, tmp_path: Path, error: str) -> None:
    counts = tmp_path / "counts"
    counts.mkdir()
    spec = fn_spec(storage, "raises", {"x": {"type": "grid", "values": [1, 2, 3]}, "error": error,
                                       "count_dir": str(counts)})
    with pytest.raises(ExperimentFailed) as failed:
        raytuner.run(spec, show_progress=False)
    assert runs(counts) == {"runs-1": 1, "runs-2": 1, "runs-3": 1}  # max_retries 2, yet no retry
    message = str(failed.value)
    assert message.startswith("all 3 trials failed:\n  3 trials failed: " + error)
    assert "Traceback" not in message and "\x1b" not in message
    summary = read_summary(latest_experiment(storage))
    assert {(t.status, t.error_type) for t in summary.trials} == {("error", error)}
    first = summary.trials[0]
    if error == "SpecError":  # the exception crossed the Ray boundary intact
        assert "invalid spec: trainable.params.x: got" in first.error and "expected a value this objective accepts" in first.error
    else:
        assert first.error == f"TypeError: x={first.config['x']} is not accepted"
    assert first.error_log and Path(first.error_log).is_file()  # Ray's traceback stays in the trial's files
    text = Path(first.error_log).read_text()
    assert 'File "' in text and "in raises" in text  # the frames of the objective


def test_a_transient_error_is_still_retried_and_the_trial_finishes(ray_local: None, storage: Path, tmp_path: Path) -> None:
    counts = tmp_path / "counts"
    counts.mkdir()
    summary = raytuner.run(fn_spec(storage, "flaky_connection", {"x": {"type": "grid", "values": [1, 2]},
                                                                 "count_dir": str(counts)}), show_progress=False)
    assert runs(counts) == {"runs-1": 2, "runs-2": 2}  # failed once, retried once
    assert [(t.status, t.score) for t in sorted(summary.trials, key=lambda t: t.score)] == [("ok", 1.0), ("ok", 2.0)]


# -- the metrics rule --------------------------------------------------------------

KINDS = ["nan", "inf", "missing", "string", ""]  # "" reports a normal curve
EXPECTED = {"nan": "diverged", "inf": "diverged", "missing": "error", "string": "error", "": "ok"}


def metric_spec(storage: Path, strategy: dict, scheduler: dict | None = None, *, function: str = "bad_metric",
                extra_trials: int = 0) -> dict:
    points = [{"x": 0.1 * (i + 1), "bad": bad} for i, bad in enumerate(KINDS)]
    return fn_spec(
        storage, function,
        {"x": {"type": "float", "low": 0.0, "high": 1.0}, "bad": {"type": "choice", "values": KINDS}, "steps": 4},
        strategy={**strategy, "seed": 0, "points_to_evaluate": points},
        scheduler=scheduler or {"name": "fifo"},
        budget={"trials": len(points) + extra_trials, "max_concurrent": 2},
        failure={"max_retries": 1},
    )


def check_rule(summary: Summary) -> None:
    by_kind = {t.config["bad"]: t for t in summary.trials if t.config.get("x") in {0.1 * (i + 1) for i in range(5)}}
    assert {k: by_kind[k].status for k in KINDS} == EXPECTED
    for kind in ("nan", "inf"):
        trial = by_kind[kind]
        assert trial.steps == 2, trial  # stopped at the report that diverged
        assert math.isnan(trial.score) if kind == "nan" else trial.score == math.inf
        assert trial.error == f"diverged: loss is {kind} at step 2"
    assert by_kind["missing"].error == "MetricError: no 'loss' reported at step 2" and by_kind["missing"].score is None
    assert by_kind["string"].error.startswith("MetricError: loss is 'oops' (str), not a number")
    ranked = summary.ranked()
    bad = [t for t in ranked if t.status != "ok"]
    assert ranked[-len(bad):] == bad  # every diverged or failed trial ranks after every ok one
    assert summary.best is not None and summary.best.status == "ok" and math.isfinite(summary.best.score)


@pytest.mark.parametrize("strategy, scheduler, extra", [
    ({"name": "random"}, None, 0),
    ({"name": "tpe", "options": {"n_initial_points": 2}}, None, 2),  # suggests after the bad results
    # the first rung after the bad report (step 2), so ASHA cannot stop a trial before it
    ({"name": "optuna-tpe"}, {"name": "asha", "options": {"max_t": 4, "grace_period": 3}}, 1),
])
def test_bad_metrics_are_handled_by_the_rule(ray_local: None, storage: Path, strategy: dict, scheduler: dict | None,
                                              extra: int) -> None:
    summary = raytuner.run(metric_spec(storage, strategy, scheduler, extra_trials=extra), show_progress=False)
    assert summary.counts["total"] == 5 + extra
    check_rule(summary)


def test_bad_metrics_under_pbt(ray_local: None, storage: Path) -> None:
    """Bad at the first report, so PBT never clones a trial before it reports its bad value
    (a clone takes the donor's config); the good trials exploit each other."""
    kinds = ["nan", "inf", "missing", "", ""]
    points = [{"x": 0.1 * (i + 1), "bad": bad} for i, bad in enumerate(kinds)]
    spec = fn_spec(storage, "bad_metric_checkpointed",
                   {"x": {"type": "float", "low": 0.0, "high": 1.0}, "bad": {"type": "choice", "values": KINDS},
                    "steps": 4, "bad_at": 1},
                   strategy={"name": "random", "seed": 0, "points_to_evaluate": points},
                   scheduler={"name": "pbt", "options": {"perturbation_interval": 1, "mutations": ["x"]}},
                   budget={"trials": len(points), "max_concurrent": 5})
    summary = raytuner.run(spec, show_progress=False)
    bad = {t.config["bad"]: t for t in summary.trials if t.config["bad"]}
    assert {k: (t.status, t.steps) for k, t in bad.items()} == {
        "nan": ("diverged", 1), "inf": ("diverged", 1), "missing": ("error", 1)}
    assert sorted(t.status for t in summary.trials) == ["diverged", "diverged", "error", "ok", "ok"]
    assert [t.status for t in summary.ranked()[:2]] == ["ok", "ok"]


def test_all_trials_diverging_is_a_failed_experiment(ray_local: None, storage: Path) -> None:
    spec = fn_spec(storage, "bad_metric", {"x": {"type": "grid", "values": [1, 2]}, "bad": "nan"})
    with pytest.raises(ExperimentFailed, match=r"all 2 trials failed:\n  2 trials diverged: loss is nan at step 2"):
        raytuner.run(spec, show_progress=False)


# -- the console ---------------------------------------------------------------------


def test_cli_prints_failures_grouped_and_no_ray_traceback(storage: Path, tmp_path: Path) -> None:
    """A real CLI run in a subprocess (its own Ray): stderr stays clean, stdout has the block."""
    points = [{"x": 0.1, "bad": "raise"}, {"x": 0.2, "bad": "raise"}, {"x": 0.3, "bad": "raise"},
              {"x": 0.4, "bad": "nan"}, {"x": 0.5, "bad": "missing"}, {"x": 0.6, "bad": ""}]
    spec = fn_spec(storage, "bad_metric",
                   {"x": {"type": "float", "low": 0.0, "high": 1.0},
                    "bad": {"type": "choice", "values": ["", "raise", "nan", "missing"]}},
                   strategy={"name": "random", "seed": 0, "points_to_evaluate": points},
                   budget={"trials": len(points), "max_concurrent": 2})
    path = tmp_path / "faults.yaml"
    path.write_text(yaml.safe_dump(spec))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "raytuner.cli.main", "run", str(path)], capture_output=True,
                          text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for stream in (done.stderr, done.stdout):
        assert "Traceback" not in stream and "\x1b[" not in stream, stream[-3000:]
    block = [line for line in done.stdout.splitlines() if " trial failed: " in line or " trials failed: " in line
             or " diverged: " in line]
    assert len(block) == 3, done.stdout
    assert block[0].startswith("3 trials failed: ValueError: x=0.1: bad input at step 2 (first: trial ")
    assert "/error.txt)" in block[0]
    assert block[1].startswith("1 trial failed: MetricError: no 'loss' reported at step 2")
    assert block[2].startswith("1 trial diverged: loss is nan at step 2")
    assert "trials: 6 (1 ok, 4 failed, 1 diverged)" in done.stdout
    summary = read_summary(latest_experiment(storage))
    assert sorted(t.status for t in summary.trials) == ["diverged", "error", "error", "error", "error", "ok"]
    # `raytuner results` prints the same block; --verbose adds the first traceback of each group
    assert main(["results", summary.experiment_path]) == 0
    again = [line for line in _out(main, ["results", summary.experiment_path]) if line in block]
    assert again == block
    verbose = "\n".join(_out(main, ["results", summary.experiment_path, "--verbose"]))
    assert "in bad_metric" in verbose and "    ValueError: x=0.1: bad input at step 2" in verbose
    assert "\x1b[" not in verbose


def _out(fn: Any, argv: list[str]) -> list[str]:
    import contextlib
    import io

    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert fn(argv) == 0
    return buffer.getvalue().splitlines()


def test_a_torch_trial_whose_training_loss_diverges_is_diverged_not_ok(ray_local: None, storage: Path) -> None:
    """The issue's case: a huge lr makes the training loss NaN while val_accuracy stays a number."""
    pytest.importorskip("torch")
    spec = {
        "name": "torchdiv",
        "trainable": {"type": "torch", "model": {"type": "mlp"}, "optimizer": {"name": "sgd"}, "epochs": 2,
                      "data": {"source": "sklearn:digits", "shape": "vector", "val_fraction": 0.2}},
        "space": {"optimizer": {"lr": {"type": "choice", "values": [0.01, 1.0e12]}}},
        "metric": {"name": "val_accuracy", "mode": "max"},
        "strategy": {"name": "grid"},
        "budget": {"max_concurrent": 2},
        "resources": {"cpu": 1},
        "storage": {"path": str(storage)},
    }
    summary = raytuner.run(spec, show_progress=False)
    by_lr = {t.config["optimizer"]["lr"]: t for t in summary.trials}
    assert by_lr[0.01].status == "ok" and by_lr[0.01].steps == 2
    diverged = by_lr[1.0e12]
    assert diverged.status == "diverged" and diverged.steps == 1
    assert diverged.error in ("diverged: train_loss is nan at step 1", "diverged: train_loss is inf at step 1")
    assert summary.best is by_lr[0.01] or summary.best.trial_id == by_lr[0.01].trial_id
    assert summary.ranked()[-1].trial_id == diverged.trial_id

"""End-to-end runs on a real local Ray: CLI, Python API, failures, retries, stopping, results."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

import raytuner
from raytuner.testing import concurrency_record
from raytuner import ExperimentFailed, read_summary
from raytuner.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
QUICKSTART = ROOT / "experiments" / "quickstart.yaml"


def fn_spec(storage: Path, function: str, space: dict, **extra) -> dict:
    spec = {
        "name": "fn",
        "trainable": {"type": "function", "function": f"raytuner.testing:{function}"},
        "space": space,
        "metric": {"name": "loss", "mode": "min"},
        "strategy": {"name": "random", "seed": 0},
        "budget": {"trials": 3},
        "storage": {"path": str(storage)},
    }
    spec.update(extra)
    return spec


def test_cli_run_best_score_matches_plain_sklearn_cv(ray_local, storage: Path, capsys) -> None:
    from sklearn.datasets import load_digits
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    args = ["run", str(QUICKSTART), "--set", "budget.trials=3", "--set", "trainable.cv.folds=2",
            "--set", "strategy.seed=3", "--set", f"storage.path={storage}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "top 3 of 3 trials by accuracy" in out and "best config:" in out and "results: " in out
    summary = read_summary(raytuner.results.summary.latest_experiment(storage))
    assert summary.counts == {"total": 3, "ok": 3, "error": 0}
    best = summary.best
    assert best is not None and best.steps == 2
    X, y = load_digits(return_X_y=True)
    model = RandomForestClassifier(n_jobs=1, random_state=3, **best.config)
    expected = cross_val_score(model, X, y, cv=StratifiedKFold(2, shuffle=True, random_state=3), scoring="accuracy").mean()
    assert best.score == pytest.approx(expected, abs=1e-12)
    assert all(best.score >= t.score for t in summary.trials)
    # the run left the spec it used and Ray Tune's own layout next to the summary
    exp = Path(summary.experiment_path)
    assert yaml.safe_load((exp / "spec.yaml").read_text())["strategy"]["seed"] == 3
    assert (exp / f"trial_{best.trial_id}" / "result.json").is_file()
    assert len(set(json.dumps(t.config, sort_keys=True) for t in summary.trials)) == 3


def test_json_and_quiet_outputs_and_results_command(ray_local, storage: Path, capsys) -> None:
    spec = storage / "fn.yaml"
    spec.write_text(yaml.safe_dump(fn_spec(storage, "quadratic", {"x": {"type": "float", "low": -5, "high": 5}})))
    assert main(["run", str(spec), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["ok"] == 3 and data["mode"] == "min"
    assert data["best"]["score"] == min(t["score"] for t in data["trials"])
    assert main(["run", str(spec), "--quiet", "--set", "name=fn2"]) == 0
    path = capsys.readouterr().out.strip()
    assert Path(path, "summary.json").is_file() and Path(path).name.startswith("fn2-")
    assert main(["results", path, "--top", "2"]) == 0
    out = capsys.readouterr().out
    assert "top 2 of 3 trials by loss (min)" in out
    assert main(["results", str(storage / "nowhere")]) == 2
    assert "nowhere is not an experiment directory (no such directory)" in capsys.readouterr().err
    assert main(["results", str(tmp_path_empty(storage))]) == 2
    assert "no finished experiment" in capsys.readouterr().err


def tmp_path_empty(storage: Path) -> Path:
    empty = storage / "empty"
    empty.mkdir()
    return empty


def test_same_seed_same_configs(ray_local, storage: Path) -> None:
    spec = fn_spec(storage, "quadratic", {"x": {"type": "float", "low": -5, "high": 5}, "y": {"type": "int", "low": 0, "high": 9}})
    first = raytuner.run(spec, show_progress=False)
    second = raytuner.run(spec, show_progress=False)
    def configs(summary):  # the same configs (the order trials start in may differ)
        return sorted(json.dumps(t.config, sort_keys=True) for t in summary.trials)

    assert configs(first) == configs(second)
    assert len(set(configs(first))) == 3


def test_grid_and_manual_strategies(ray_local, storage: Path) -> None:
    grid = fn_spec(storage, "quadratic", {"x": {"type": "grid", "values": [1, 3]}, "y": {"type": "choice", "values": [0, 10]}},
                   strategy={"name": "grid"}, budget={})
    summary = raytuner.run(grid, show_progress=False)
    assert sorted((t.config["x"], t.config["y"]) for t in summary.trials) == [(1, 0), (1, 10), (3, 0), (3, 10)]
    assert summary.best.config == {"x": 3, "y": 0} and summary.best.score == 0.0
    manual = fn_spec(storage, "quadratic", {"y": 1}, strategy={"name": "manual", "options": {"configs": [{"x": 2}, {"x": 4}, {"x": 3}]}},
                     budget={"max_concurrent": 1})
    summary = raytuner.run(manual, show_progress=False)
    assert [t.config["x"] for t in summary.trials] == [2, 4, 3]  # trials are listed in the order they started
    assert all(t.config["y"] == 1 for t in summary.trials)
    assert summary.best.config["x"] == 3 and summary.best.score == 1.0


def test_failed_trials_are_retried_then_reported(ray_local, storage: Path, capsys) -> None:
    spec = fn_spec(storage, "fail_when_negative", {"x": {"type": "grid", "values": [-1, 2]}},
                   strategy={"name": "grid"}, budget={}, failure={"max_retries": 1})
    summary = raytuner.run(spec, show_progress=False)
    status = {t.config["x"]: t for t in summary.trials}
    assert status[2].status == "ok" and status[-1].status == "error"
    assert "x=-1.0 is negative" in status[-1].error or "x=-1 is negative" in status[-1].error
    assert summary.best.config["x"] == 2
    from raytuner.console.summary import print_summary

    print_summary(summary)
    assert "failed" in capsys.readouterr().out


def test_transient_failure_succeeds_on_retry(ray_local, storage: Path, tmp_path: Path) -> None:
    spec = fn_spec(storage, "fail_once", {"x": 1.0, "marker_dir": str(tmp_path)}, strategy={"name": "manual", "options": {"configs": [{"x": 1.0}]}},
                   budget={}, failure={"max_retries": 1})
    summary = raytuner.run(spec, show_progress=False)
    assert [t.status for t in summary.trials] == ["ok"]
    spec["failure"] = {"max_retries": 0}
    spec["space"]["marker_dir"] = str(tmp_path / "fresh")
    (tmp_path / "fresh").mkdir()
    with pytest.raises(ExperimentFailed, match="transient failure"):
        raytuner.run(spec, show_progress=False)


def test_all_trials_failing_exits_1_with_the_error(ray_local, storage: Path, capsys) -> None:
    spec = storage / "bad.yaml"
    spec.write_text(yaml.safe_dump(fn_spec(storage, "always_fails", {"x": 1}, budget={"trials": 1}, failure={"max_retries": 0})))
    assert main(["run", str(spec), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "all 1 trials failed" in err and "this objective always fails" in err
    assert list(storage.glob("fn-*/summary.json"))  # the failure is on disk too


def test_stop_conditions(ray_local, storage: Path) -> None:
    spec = fn_spec(storage, "curve", {"x": 3.0, "steps": 20}, strategy={"name": "manual", "options": {"configs": [{"x": 3.0}]}},
                   budget={}, stop={"max_steps": 4})
    assert raytuner.run(spec, show_progress=False).best.steps == 4
    spec["stop"] = {"target": 2.0}  # loss = 10/step: reaches 2.0 at step 5
    best = raytuner.run(spec, show_progress=False).best
    assert best.steps == 5 and best.score == 2.0


def test_csv_regression_end_to_end(ray_local, storage: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.1, size=120)
    rows = ["a,b,c,color,target"] + [f"{r[0]},{r[1]},{r[2]},{'red' if i % 2 else 'blue'},{t}" for i, (r, t) in enumerate(zip(X, y))]
    csv = tmp_path / "data.csv"
    csv.write_text("\n".join(rows))
    spec = {
        "name": "csv",
        "trainable": {"type": "sklearn", "estimator": "sklearn.linear_model.Ridge",
                      "data": {"source": str(csv), "target": "target"}, "cv": {"folds": 3}},
        "space": {"alpha": {"type": "float", "low": 1e-3, "high": 10, "log": True}},
        "metric": {"name": "r2"},
        "budget": {"trials": 2},
        "storage": {"path": str(storage)},
    }
    summary = raytuner.run(spec, show_progress=False)
    assert summary.mode == "max" and summary.best.score > 0.95 and summary.best.steps == 3


def test_console_script_end_to_end_with_its_own_ray(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "raytuner"
    proc = subprocess.run(
        [str(exe), "run", str(QUICKSTART), "--set", "budget.trials=2", "--set", "trainable.cv.folds=2",
         "--set", f"storage.path={tmp_path}"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert "top 2 of 2 trials by accuracy" in proc.stdout
    assert "trials 2/2" in proc.stderr  # the progress view, on stderr
    assert "Traceback" not in proc.stderr and "View detailed results" not in proc.stdout + proc.stderr


def test_unreachable_address_is_a_clear_error(tmp_path: Path, capsys) -> None:
    args = ["run", str(QUICKSTART), "--address", "127.0.0.1:1", "--set", f"storage.path={tmp_path}/r"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "no Ray cluster answers at '127.0.0.1:1'" in err
    assert not (tmp_path / "r").exists()



@pytest.mark.parametrize("strategy", [{"name": "random", "seed": 0}, {"name": "grid"}, {"name": "tpe", "seed": 0}],
                         ids=["random", "grid", "tpe"])
def test_max_concurrent_caps_trials_running_at_once(ray_local, storage: Path, tmp_path: Path, strategy: dict) -> None:
    """A quarter CPU per trial leaves room for 8 at once on 2 CPUs: only the limit keeps it to 3.

    The trials count themselves (a shared counter, see raytuner.testing.concurrency) and
    wait until 3 ran at once, so the check holds however slowly the machine starts them.
    """
    values = [1, 2, 3, 4, 5, 6]
    space = {"x": {"type": "grid", "values": values}} if strategy["name"] == "grid" else {"x": {"type": "float", "low": 0, "high": 1}}
    count_dir = tmp_path / "count"
    count_dir.mkdir()
    spec = fn_spec(storage, "concurrency", {**space, "count_dir": str(count_dir), "gather": 3, "hold": 0.3},
                   strategy=strategy, budget={"trials": len(values), "max_concurrent": 3}, resources={"cpu": 0.25})
    summary = raytuner.run(spec, show_progress=False)
    assert summary.counts == {"total": len(values), "ok": len(values), "error": 0}
    record = concurrency_record(str(count_dir))
    assert record == {"now": 0, "most": 3}, record  # never more than 3 at once, and 3 reached
    assert max(t.metrics["running_at_start"] for t in summary.trials) <= 3


@pytest.mark.parametrize("tensorboard", [False, True])
def test_trial_files_and_tensorboard_on_request(ray_local, storage: Path, tensorboard: bool) -> None:
    spec = fn_spec(storage, "quadratic", {"x": {"type": "float", "low": -5, "high": 5}}, budget={"trials": 1})
    spec["tracking"] = {"tensorboard": tensorboard}
    summary = raytuner.run(spec, show_progress=False)
    trial = Path(summary.trials[0].path)
    assert json.loads((trial / "result.json").read_text().splitlines()[-1])["loss"] == summary.best.score
    assert "loss" in (trial / "progress.csv").read_text().splitlines()[0].split(",")
    assert bool(list(trial.glob("events.out.tfevents*"))) is tensorboard


def test_a_run_does_not_import_tensorboard_or_torch_in_the_driver(tmp_path: Path) -> None:
    """Ray's automatic TensorBoard logger imports tensorboardX, and with it torch: about
    1.5 s before the first trial of every run. raytuner only loads it on request."""
    spec = fn_spec(tmp_path, "quadratic", {"x": {"type": "float", "low": -5, "high": 5}}, budget={"trials": 1})
    script = (
        "import sys, raytuner\n"
        f"summary = raytuner.run({spec!r}, show_progress=False)\n"
        "print(summary.counts['ok'], 'tensorboardX' in sys.modules, 'torch' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "False", "False"]

"""compare and experiments on experiment directories written here by hand: no Ray."""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import raytuner
from raytuner.cli.main import main
from raytuner.console.report.compare import render_compare
from raytuner.errors import ResultsError
from raytuner.results.catalog import INTERRUPTED, RUNNING, list_experiments
from raytuner.results.comparison import compare_experiments, resources_per_trial
from raytuner.results.summary import Summary, TrialRecord, write_summary

SPACE = {"x": {"type": "float", "low": 0.0, "high": 6.0}}


def write_experiment(root: Path, name: str, stamp: str, scores: list[float], *, metric: str = "loss",
                     mode: str = "min", strategy: str = "random", finished: bool = True,
                     resources: dict[str, Any] | None = None, t0: float = 1000.0) -> Path:
    """An experiment directory as a run leaves it: spec.yaml, trial dirs (params.json, progress.csv,
    result.json), and summary.json when ``finished``. Trial i runs 10 s from t0 + 5 i, 2 steps."""
    directory = root / f"{name}-{stamp}"
    directory.mkdir(parents=True)
    spec = {"name": name, "space": SPACE, "metric": {"name": metric, "mode": mode}, "strategy": {"name": strategy},
            "scheduler": {"name": "fifo"}, "resources": resources or {"cpu": 1}}
    (directory / "spec.yaml").write_text(yaml.safe_dump(spec))
    records = []
    for i, score in enumerate(scores):
        tid = f"{name}_{i:05d}"
        trial = directory / f"trial_{tid}"
        trial.mkdir()
        (trial / "params.json").write_text(json.dumps({"x": float(i)}))
        start = t0 + 5 * i
        rows = [{metric: score + (1.0 if mode == "min" else -1.0) * (2 - s), "training_iteration": s,
                 "trial_id": tid, "timestamp": start + 5 * s, "time_total_s": 5.0 * s, "done": s == 2}
                for s in (1, 2)]
        pd.DataFrame(rows).to_csv(trial / "progress.csv", index=False)
        (trial / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
        records.append(TrialRecord(trial_id=tid, status="ok", config={"x": float(i)}, score=score, steps=2,
                                   time_s=10.0, path=str(trial)))
    if finished:
        best = (max if mode == "max" else min)(records, key=lambda t: t.score)
        started = f"{stamp[:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[9:11]}:{stamp[11:13]}:{stamp[13:15]}"
        write_summary(Summary(name=name, experiment_path=str(directory), metric=metric, mode=mode,
                              strategy=strategy, scheduler="fifo", started_at=started, wall_time_s=42.0,
                              trials=records, best=best), directory)
    return directory


def test_compare_totals_curves_and_edf(tmp_path: Path) -> None:
    a = write_experiment(tmp_path, "exp", "20260101-120000", [3.0, 1.0, 2.0, 0.5])
    b = write_experiment(tmp_path, "exp", "20260101-130000", [2.0, 2.5], strategy="optuna", finished=False,
                         resources={"cpu": 2, "child_bundles": 2, "child_cpu": 0.5, "gpu": 1})
    comparison = compare_experiments([a, b])
    assert comparison.labels == [a.name, b.name] and comparison.notes == []
    ta, tb = comparison.totals
    assert (ta.strategy, ta.trials, ta.best_score, ta.best_trial, ta.wall_time_s) == ("random", 4, 0.5, "exp_00003", 42.0)
    assert ta.cpus_per_trial == 1.0 and ta.cpu_hours == pytest.approx(40.0 / 3600)
    # not finished: wall time from the trials' own times (1000..1015 for two trials 5 s apart)
    assert (tb.strategy, tb.trials, tb.best_score, tb.finished, tb.wall_time_s) == ("optuna", 2, 2.0, False, 15.0)
    assert tb.cpus_per_trial == 3.0 and tb.cpu_hours == pytest.approx(20.0 * 3 / 3600)
    assert tb.gpu_hours == pytest.approx(20.0 / 3600)
    html = render_compare(comparison)
    from plotly.offline import get_plotlyjs

    rest = html.replace(get_plotlyjs(), "")
    assert not re.search(r"https?://", rest) and not re.search(r"<script[^>]*src=", html)
    assert f">{a.name}<" in rest and f">{b.name}<" in rest and ">optuna<" in rest
    from raytuner.console.report.compare import best_so_far

    by_trial = best_so_far(comparison, by="trial")
    assert [list(t.y) for t in by_trial.data] == [[3.0, 1.0, 1.0, 0.5], [2.0, 2.0]]
    assert [list(t.x) for t in by_trial.data] == [[1, 2, 3, 4], [1, 2]]
    by_time = best_so_far(comparison, by="time")
    assert list(by_time.data[0].x) == [10.0, 15.0, 20.0, 25.0]  # each from its own first start


def test_resources_per_trial_defaults_to_one_cpu() -> None:
    assert resources_per_trial({}) == (1.0, 0.0)
    assert resources_per_trial({"resources": {"cpu": 0.5, "child_bundles": 1}}) == (1.5, 0.0)


def test_compare_refuses_other_metrics_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_experiment(tmp_path, "a", "20260101-120000", [1.0, 2.0])
    b = write_experiment(tmp_path, "b", "20260101-130000", [0.9, 0.8], metric="accuracy", mode="max")
    with pytest.raises(ResultsError, match="optimises accuracy \\(max\\) but .* optimises loss \\(min\\).*--force"):
        compare_experiments([a, b])
    assert main(["compare", str(a), str(b), "-o", str(tmp_path / "c.html")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--force" in err and "Traceback" not in err
    assert not (tmp_path / "c.html").exists()
    assert main(["compare", str(a), str(b), "-o", str(tmp_path / "c.html"), "--force"]) == 0
    out = capsys.readouterr().out
    assert "forced:" in out and out.strip().splitlines()[-1] == str(tmp_path / "c.html")
    assert "forced:" in (tmp_path / "c.html").read_text()


def test_compare_refuses_what_is_not_an_experiment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_experiment(tmp_path, "a", "20260101-120000", [1.0, 2.0])
    (tmp_path / "empty").mkdir()
    assert main(["compare", str(a), str(tmp_path / "empty")]) == 2
    assert "not a raytuner experiment directory" in capsys.readouterr().err
    assert main(["compare", str(a)]) == 2
    assert "two or more experiment directories" in capsys.readouterr().err
    assert main(["compare", str(a), str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err


def test_python_compare_writes_the_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = write_experiment(tmp_path, "a", "20260101-120000", [1.0, 2.0])
    b = write_experiment(tmp_path, "a", "20260101-130000", [0.5, 2.0])
    monkeypatch.chdir(tmp_path)
    path = raytuner.compare([str(a), str(b)])
    assert path == Path("compare.html") and "Best so far against wall-clock time" in path.read_text()


def test_experiments_lists_states_newest_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old = write_experiment(tmp_path, "old", "20250101-080000", [1.0, 2.0])
    cut = write_experiment(tmp_path, "cut", "20260101-090000", [4.0, 3.0, 5.0], finished=False)
    live = write_experiment(tmp_path, "live", "20260102-100000", [2.0], finished=False)
    (tmp_path / "notes").mkdir()  # not an experiment: left out
    (tmp_path / "readme.txt").write_text("hello")
    now = time.time()  # the CLI below reads the clock itself
    for directory, age in ((cut, 3600.0), (live, 10.0)):
        for path in [directory, *directory.rglob("*")]:
            os.utime(path, (now - age, now - age))
    entries = list_experiments(tmp_path, now=now)
    assert [e.name for e in entries] == ["live", "cut", "old"]
    assert [e.state for e in entries] == [RUNNING, INTERRUPTED, "finished"]
    assert [e.trials for e in entries] == [1, 3, 2] and [e.best_score for e in entries] == [2.0, 3.0, 1.0]
    assert entries[1].started == "2026-01-01T09:00:00" and entries[2].started == "2025-01-01T08:00:00"
    assert entries[2].path == str(old) and entries[0].strategy == "random" and entries[0].scheduler == "fifo"
    assert main(["experiments", str(tmp_path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["name"] for d in data] == ["live", "cut", "old"] and data[2]["state"] == "finished"
    assert main(["experiments", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "3 experiments under" in text and "interrupted" in text and "old" in text


def test_experiments_default_storage_and_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["experiments"]) == 2
    err = capsys.readouterr().err
    assert "results does not exist" in err and "storage.path" in err
    write_experiment(tmp_path / "results", "q", "20260101-120000", [1.0])
    (entry,) = raytuner.experiments()
    assert entry.name == "q" and entry.state == "finished" and entry.best_score == 1.0
    (tmp_path / "empty").mkdir()
    assert main(["experiments", "empty"]) == 0
    assert "no experiments under empty" in capsys.readouterr().out


def test_results_leaderboard_of_an_unfinished_experiment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cut = write_experiment(tmp_path, "cut", "20260101-090000", [4.0, 3.0, 5.0], finished=False)
    (cut / "trial_cut_00002" / "error.txt").write_text("RuntimeError: boom")
    summary = raytuner.read_experiment(cut).to_summary()
    assert [t.status for t in summary.trials] == ["ok", "ok", "error"] and summary.best.trial_id == "cut_00001"
    assert summary.best.config == {"x": 1.0} and summary.wall_time_s == 20.0 and summary.strategy == "random"
    assert main(["results", str(cut)]) == 0
    captured = capsys.readouterr()
    assert "not finished" in captured.err and "best loss: 3 (trial cut_00001)" in captured.out
    assert "1 trial failed: RuntimeError: boom (first: trial cut_00002" in captured.out
    assert main(["results", str(cut), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"] == {"total": 3, "ok": 2, "error": 1} and data["best"]["score"] == 3.0
    finished = write_experiment(tmp_path, "done", "20260101-100000", [1.0])
    assert raytuner.read_experiment(finished).to_summary() == raytuner.read_summary(finished)


def test_experiments_and_compare_on_s3(s3_endpoint: str, aws_env: None, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """A real S3-compatible server (moto on loopback): a finished and an unfinished experiment."""
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket="rt-catalog")
    from raytuner.results import storage

    local = tmp_path / "local"
    done = write_experiment(local, "done", "20260101-120000", [1.0, 0.5])
    cut = write_experiment(local, "cut", "20260102-120000", [2.0], finished=False)
    root = storage.resolve("s3://rt-catalog/results", endpoint=s3_endpoint)
    for directory in (done, cut):
        for path in directory.rglob("*"):
            if path.is_file():
                rel = path.relative_to(local)
                storage.write_text(root.child(*rel.parts[:-1]), rel.name, path.read_text())
    entries = raytuner.experiments("s3://rt-catalog/results", endpoint=s3_endpoint)
    assert [(e.name, e.state, e.trials) for e in entries] == [("cut", "interrupted or running", 1),
                                                               ("done", "finished", 2)]
    assert entries[1].best_score == 0.5 and entries[1].path == f"s3://rt-catalog/results/{done.name}"
    assert main(["compare", entries[1].path, entries[0].path, "--endpoint", s3_endpoint,
                 "-o", str(tmp_path / "c.html")]) == 0
    assert capsys.readouterr().out.strip().endswith("c.html")

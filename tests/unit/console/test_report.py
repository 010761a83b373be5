"""The report's pieces on hand-built tables and directories: no Ray."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from raytuner.console.report import figures, render, write_report
from raytuner.console.report.importance import METHOD, param_importance
from raytuner.results.experiment import Experiment, read_experiment
from raytuner.spec.params import parse_space

SPACE = {"x": {"type": "float", "low": 0.0, "high": 6.0}, "n": {"type": "int", "low": 1, "high": 9},
         "kind": {"type": "choice", "values": ["a", "b", None]}}


def experiment(n: int = 6, *, failed: bool = True) -> Experiment:
    trials, rows = [], []
    for i in range(n):
        tid = f"t{i}"
        x, kind = float(i), ["a", "b", None][i % 3]
        score = (x - 3.0) ** 2
        trials.append({"trial_id": tid, "status": "ok", "score": score, "steps": 3, "time_s": 1.5, "error": None,
                       "node": "10.0.0.1", "start": 100.0 + i, "end": 101.5 + i, "path": None,
                       "config.x": x, "config.n": i + 1, "config.kind": kind})
        rows += [{"trial_id": tid, "loss": score + 3.0 / s, "training_iteration": s} for s in (1, 2, 3)]
    if failed:
        trials.append({"trial_id": "bad", "status": "error", "score": None, "steps": 0, "time_s": 0.0,
                       "error": "ValueError: x is negative", "node": "10.0.0.2", "start": 102.0, "end": 102.5,
                       "path": None, "config.x": -1.0, "config.n": 1, "config.kind": "a"})
    return Experiment(path="/nowhere", name="hand", metric="loss", mode="min", trials=pd.DataFrame(trials),
                      history=pd.DataFrame(rows), spec={"name": "hand", "space": SPACE})


def test_learning_curves_have_one_trace_per_trial_with_its_rows() -> None:
    exp = experiment()
    fig = figures.learning_curves(exp)
    curves = {t.meta["trial_id"]: t for t in fig.data if t.meta and t.meta.get("kind") == "curve"}
    assert set(curves) == {f"t{i}" for i in range(6)}  # the failed trial reported nothing
    for tid, trace in curves.items():
        rows = exp.curve(tid)
        assert list(trace.x) == list(rows["training_iteration"]) and list(trace.y) == list(rows["loss"])


def test_best_so_far_is_monotone_and_timeline_marks_failures() -> None:
    exp = experiment()
    best = figures.best_so_far(exp).data[1].y
    assert list(best) == sorted(best, reverse=True) and best[-1] == 0.0  # minimise: never rises
    assert len(figures.best_so_far(exp, by="time").data[1].y) == 6
    timeline = figures.timeline(exp)
    failed = [t for t in timeline.data if t.meta["kind"] == "failed"]
    assert len(failed) == 1 and any("bad" in y for y in failed[0].y)


def test_parallel_coordinates_and_slices_cover_every_parameter() -> None:
    exp = experiment()
    dims = [d.label for d in figures.parallel_coordinates(exp).data[0].dimensions]
    assert dims == ["x", "n", "kind", "loss"]  # the table's config columns, then the metric
    assert [f.layout.title.text for f in figures.slices(exp)] == ["Slice: x", "Slice: n", "Slice: kind"]


def test_importance_names_fanova_and_finds_the_parameter_that_matters() -> None:
    exp = experiment(12, failed=False)
    params = exp.params()
    result = param_importance(exp.trials, params, "min")
    assert result.skipped is None and "FanovaImportanceEvaluator" in result.method
    assert set(result.values) == {"x", "n", "kind"}
    assert abs(sum(result.values.values()) - 1.0) < 1e-6
    # x and n move together here (n = x + 1): together they carry the importance, kind does not
    assert result.values["kind"] < result.values["x"] + result.values["n"]


def test_importance_is_skipped_with_a_reason() -> None:
    exp = experiment(2)
    assert "too few finished trials" in param_importance(exp.trials, exp.params(), "min").skipped
    one = {"x": parse_space(SPACE)["x"]}
    assert "fewer than 2 tuned parameters" in param_importance(exp.trials, one, "min").skipped
    assert METHOD.startswith("fANOVA")


def test_page_is_offline_and_names_the_failed_trials_error() -> None:
    from plotly.offline import get_plotlyjs

    html = render(experiment(8))
    assert get_plotlyjs() in html  # plotly.js inlined
    rest = html.replace(get_plotlyjs(), "")  # plotly.js's own source mentions map-tile URLs it never loads here
    assert not re.search(r"https?://", rest) and "cdn.plot.ly" not in rest
    assert not re.search(r"<script[^>]*src=", html)
    assert "ValueError: x is negative" in rest and "Method: fANOVA" in rest
    assert all(f">t{i}<" in rest for i in range(8))


def test_read_experiment_without_summary_reads_trial_directories(tmp_path: Path) -> None:
    """An interrupted run: spec.yaml and trial directories, no summary.json."""
    import yaml

    (tmp_path / "spec.yaml").write_text(yaml.safe_dump({"name": "cut", "space": SPACE,
                                                        "metric": {"name": "loss", "mode": "min"}}))
    for i, steps in enumerate([3, 1]):
        d = tmp_path / f"trial_abc_0000{i}"
        d.mkdir()
        (d / "params.json").write_text(json.dumps({"x": float(i), "n": 2, "kind": "a"}))
        rows = [{"loss": 10.0 - s - i, "training_iteration": s, "trial_id": f"abc_0000{i}", "timestamp": 1000 + s,
                 "time_total_s": float(s), "node_ip": "10.0.0.9", "done": s == 3} for s in range(1, steps + 1)]
        pd.DataFrame(rows).to_csv(d / "progress.csv", index=False)
        (d / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    bad = tmp_path / "trial_abc_00002"
    bad.mkdir()
    (bad / "params.json").write_text(json.dumps({"x": -1.0, "n": 1, "kind": "b"}))
    (bad / "error.txt").write_text("RuntimeError: boom")
    exp = read_experiment(tmp_path)
    assert not exp.finished and exp.metric == "loss" and exp.mode == "min" and exp.name == "cut"
    trials = exp.trials.set_index("trial_id")
    assert list(trials["status"]) == ["ok", "unfinished", "error"]
    assert list(trials["steps"]) == [3, 1, 0] and trials.loc["abc_00000", "score"] == 7.0
    assert trials.loc["abc_00002", "error"] == "RuntimeError: boom"
    assert trials.loc["abc_00001", "config.x"] == 1.0 and trials.loc["abc_00000", "node"] == "10.0.0.9"
    assert len(exp.history) == 4 and set(exp.history["trial_id"]) == {"abc_00000", "abc_00001"}
    path = write_report(tmp_path)
    assert path == tmp_path / "report.html" and "RuntimeError: boom" in path.read_text()


def test_trials_ending_within_one_second_are_spread_by_their_sub_second_times(tmp_path: Path) -> None:
    """Ray's ``timestamp`` is whole seconds: raytuner's ``wall_clock_s`` orders the ends."""
    import yaml

    (tmp_path / "spec.yaml").write_text(yaml.safe_dump({"name": "fast", "space": SPACE,
                                                        "metric": {"name": "loss", "mode": "min"}}))
    for i in range(4):
        d = tmp_path / f"trial_f_0000{i}"
        d.mkdir()
        (d / "params.json").write_text(json.dumps({"x": float(i), "n": 2, "kind": "a"}))
        row = {"loss": 5.0 - i, "training_iteration": 1, "trial_id": f"f_0000{i}", "timestamp": 1000,
               "wall_clock_s": 1000.1 + 0.2 * i, "time_total_s": 0.05, "done": True}
        pd.DataFrame([row]).to_csv(d / "progress.csv", index=False)
    exp = read_experiment(tmp_path)
    x, _, best, ids = figures.best_series(exp, by="time")
    assert ids == [f"f_0000{i}" for i in range(4)] and best == [5.0, 4.0, 3.0, 2.0]
    assert all(a < b for a, b in zip(x, x[1:]))  # strictly ordered: not one vertical line
    assert x[-1] - x[0] == pytest.approx(0.6)


def test_read_experiment_refuses_what_is_not_an_experiment(tmp_path: Path) -> None:
    from raytuner.errors import ResultsError

    with pytest.raises(ResultsError, match="not a raytuner experiment directory"):
        read_experiment(tmp_path)
    with pytest.raises(ResultsError, match="no such directory"):
        read_experiment(tmp_path / "missing")

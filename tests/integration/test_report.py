"""Reports of experiments run here on the session's Ray, checked against the trials' own files."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

import raytuner
from raytuner.cli.main import main
from raytuner.console.report import figures
from raytuner.results.experiment import read_experiment
from raytuner.results.summary import Summary


# W&B where it is installed (raytuner[wandb]): offline runs in the trial folders, no account
WANDB = ({"tracking": {"wandb": {"mode": "offline", "project": "rt-tests", "tags": ["suite"]}}}
         if importlib.util.find_spec("wandb") else {})


def spec(storage: Path, name: str, function: str, space: dict[str, Any], **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": name,
        "trainable": {"type": "function", "function": f"raytuner.testing:{function}"},
        "space": space,
        "metric": {"name": "loss", "mode": "min"},
        "strategy": {"name": "grid"},
        "budget": {"max_concurrent": 2},
        "storage": {"path": str(storage)},
    }
    data.update(extra)
    return data


@pytest.fixture(scope="module")
def runs(ray_local: None, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Summary]:
    """One small run per kind of experiment, shared by the tests below."""
    storage = tmp_path_factory.mktemp("report-results")
    curve = {"type": "function", "function": "raytuner.testing:curve", "params": {"steps": 6}}
    growth = {"type": "function", "function": "raytuner.testing:growth", "params": {"steps": 12}}
    specs = {
        "fifo": spec(storage, "fifo", "curve", {"x": {"type": "float", "low": 0.0, "high": 6.0},
                                                "y": {"type": "choice", "values": [0.0, 1.0]}},
                     trainable={**curve, "params": {"steps": 4}}, strategy={"name": "random", "seed": 0},
                     budget={"trials": 6, "max_concurrent": 2}, stop={"max_steps": 4},
                     tracking={"mlflow": {"experiment": "fifo-tracked", "tags": {"team": "tests"}}}),
        "failed": spec(storage, "failed", "fail_when_negative", {"x": {"type": "grid", "values": [-1.0, 2.0, 4.0]}},
                       failure={"max_retries": 0}, **WANDB),
        "asha": spec(storage, "asha", "curve", {"x": {"type": "grid", "values": [3.0, 3.5, 8.0, 9.0, 10.0]}},
                     trainable=curve, stop={"max_steps": 6},
                     scheduler={"name": "asha", "options": {"grace_period": 1, "reduction_factor": 3}}),
        "pbt": spec(storage, "pbt", "growth", {"rate": {"type": "grid", "values": [0.1, 0.2, 0.8, 0.9]}},
                    trainable=growth, metric={"name": "score", "mode": "max"}, stop={"max_steps": 12},
                    budget={"max_concurrent": 4},
                    scheduler={"name": "pbt", "options": {"perturbation_interval": 3, "mutations": {
                        "rate": {"type": "float", "low": 0.0, "high": 1.0}}}}),
        "nsga2": spec(storage, "nsga2", "schaffer", {"x": {"type": "float", "low": -4.0, "high": 4.0}},
                      metric=[{"name": "f1", "mode": "min"}, {"name": "f2", "mode": "min"}],
                      strategy={"name": "nsga2", "seed": 0, "options": {"population_size": 4}},
                      budget={"trials": 6, "max_concurrent": 2}),
    }
    return {kind: raytuner.run(data, show_progress=False) for kind, data in specs.items()}


def offline(html: str) -> str:
    """The page without plotly.js's own source (which names map-tile URLs it never loads here)."""
    from plotly.offline import get_plotlyjs

    assert get_plotlyjs() in html, "plotly.js is inlined"
    return html.replace(get_plotlyjs(), "")


@pytest.fixture(scope="module")
def reports(runs: dict[str, Summary], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The report of each run, written once for the content and browser tests."""
    out = tmp_path_factory.mktemp("reports")
    return {kind: raytuner.report(summary.experiment_path, out / f"{kind}.html") for kind, summary in runs.items()}


@pytest.mark.parametrize("kind", ["fifo", "failed", "asha", "pbt", "nsga2"])
def test_report_holds_every_trial_and_loads_nothing_from_the_network(runs: dict[str, Summary], kind: str,
                                                                     reports: dict[str, Path]) -> None:
    summary = runs[kind]
    html = reports[kind].read_text()
    rest = offline(html)
    assert not re.search(r"<script[^>]*\bsrc=", html)
    assert not re.search(r"https?://", rest) and "cdn.plot.ly" not in rest
    for trial in summary.trials:
        assert f">{trial.trial_id}<" in rest
    assert "Parameter importance" in rest and "Method: fANOVA" in rest


@pytest.mark.parametrize("kind", ["fifo", "asha", "pbt"])
def test_learning_curves_are_the_progress_csv_rows(runs: dict[str, Summary], kind: str) -> None:
    summary = runs[kind]
    experiment = read_experiment(summary.experiment_path)
    fig = figures.learning_curves(experiment)
    curves = {t.meta["trial_id"]: t for t in fig.data if t.meta and t.meta.get("kind") == "curve"}
    assert set(curves) == {t.trial_id for t in summary.trials}
    for trial in summary.trials:
        rows = pd.read_csv(Path(trial.path, "progress.csv"))
        assert list(curves[trial.trial_id].x) == list(rows["training_iteration"])
        assert list(curves[trial.trial_id].y) == list(rows[summary.metric])
        if kind != "pbt":  # a PBT clone's progress.csv also holds the rows before it took the donor's step
            assert len(rows) == trial.steps


def test_asha_early_stops_and_pbt_exploits_are_marked(runs: dict[str, Summary]) -> None:
    asha = runs["asha"]
    stopped = [t for t in figures.learning_curves(read_experiment(asha.experiment_path)).data
               if t.meta and t.meta.get("kind") == "stopped"]
    early = asha.scheduling.early_stopping
    assert early.stopped_early > 0 and len(stopped) == 1 and len(stopped[0].x) == early.stopped_early
    pbt = runs["pbt"]
    events = pbt.scheduling.population.events
    exploits = [t for t in figures.learning_curves(read_experiment(pbt.experiment_path)).data
                if t.meta and t.meta.get("kind") == "exploit"]
    assert events and len(exploits[0].x) == len(events)
    assert list(exploits[0].x) == [e.step for e in events]
    assert f"cloned {events[0].cloned}" in raytuner.report(pbt.experiment_path).read_text()


def test_pareto_front_and_failed_trial_error(runs: dict[str, Summary]) -> None:
    nsga2 = runs["nsga2"]
    fig = figures.pareto(read_experiment(nsga2.experiment_path))
    front = [t for t in fig.data if t.meta["kind"] == "front"][0]
    assert set(front.text) == set(nsga2.pareto_front)
    failed = runs["failed"]
    (bad,) = [t for t in failed.trials if t.status == "error"]
    timeline = figures.timeline(read_experiment(failed.experiment_path))
    assert [t for t in timeline.data if t.meta["kind"] == "failed"][0].text == (f"{bad.trial_id} failed",)
    html = offline(raytuner.report(failed.experiment_path).read_text())
    assert "ValueError: x=-1.0 is negative" in html
    assert "Skipped: fewer than 2 tuned parameters" in html


def test_read_experiment_on_a_run_and_on_an_interrupted_copy(runs: dict[str, Summary], tmp_path: Path) -> None:
    summary = runs["fifo"]
    exp = read_experiment(summary.experiment_path)
    assert exp.finished and list(exp.trials["trial_id"]) == [t.trial_id for t in summary.trials]
    assert list(exp.trials["score"]) == [t.score for t in summary.trials]
    assert {"config.x", "config.y"} <= set(exp.trials.columns)
    assert len(exp.history) == sum(t.steps for t in summary.trials)
    copy = tmp_path / "interrupted"
    shutil.copytree(summary.experiment_path, copy)
    (copy / "summary.json").unlink()
    cut = read_experiment(copy)
    assert not cut.finished and cut.metric == "loss" and cut.summary is None
    assert sorted(cut.trials["trial_id"]) == sorted(exp.trials["trial_id"])
    merged = cut.trials.set_index("trial_id").loc[list(exp.trials["trial_id"])]
    assert list(merged["score"]) == list(exp.trials["score"]) and list(merged["steps"]) == list(exp.trials["steps"])
    assert list(merged["config.x"]) == list(exp.trials["config.x"])
    assert "not finished" in raytuner.report(copy).read_text()


def test_cli_report_and_run_print_the_report(runs: dict[str, Summary], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.html"
    assert main(["report", runs["fifo"].experiment_path, "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == str(out) and out.is_file()
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "no such directory" in capsys.readouterr().err
    path = tmp_path / "quick.yaml"
    path.write_text(yaml.safe_dump(spec(tmp_path / "res", "quick", "quadratic",
                                        {"x": {"type": "grid", "values": [1.0, 2.0]}})))
    assert main(["run", str(path), "--report"]) == 0
    text = capsys.readouterr().out
    (experiment,) = (tmp_path / "res").iterdir()
    assert f"report: raytuner report {experiment}" in text
    assert f"report written: {experiment / 'report.html'}" in text and (experiment / "report.html").is_file()


def test_asha_rungs_and_pbt_lineage_in_the_report(runs: dict[str, Summary]) -> None:
    from raytuner.console.report import decisions

    asha = read_experiment(runs["asha"].experiment_path)
    assert decisions.rungs(asha) == [1.0, 3.0]  # grace 1, factor 3, 6 steps: Ray's rungs
    fig = figures.learning_curves(asha)
    assert [s.x0 for s in fig.layout.shapes] == [1.0, 3.0]
    (stopped,) = [t for t in fig.data if t.meta and t.meta.get("kind") == "stopped"]
    assert all("rung" in text for text in stopped.text)
    pbt = runs["pbt"]
    tree = decisions.lineage(read_experiment(pbt.experiment_path))
    (clones,) = [t for t in tree.data if t.meta["kind"] == "clone"]
    events = pbt.scheduling.population.events
    assert clones.meta["events"] == len(events) and list(clones.y[1::3]) == [e.trial for e in events]
    lives = {t.meta["trial_id"] for t in tree.data if t.meta["kind"] == "life"}
    assert lives == {t.trial_id for t in pbt.trials}


def test_compare_and_experiments_on_the_runs(runs: dict[str, Summary], tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    fifo, asha, pbt = runs["fifo"], runs["asha"], runs["pbt"]
    out = tmp_path / "compare.html"
    assert main(["compare", fifo.experiment_path, asha.experiment_path, "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)
    from raytuner.results.comparison import compare_experiments

    comparison = compare_experiments([fifo.experiment_path, asha.experiment_path])
    for summary, totals in zip((fifo, asha), comparison.totals):
        assert totals.trials == len(summary.trials) and totals.best_score == summary.best.score
        assert (totals.strategy, totals.scheduler, totals.wall_time_s) == (summary.strategy, summary.scheduler,
                                                                           summary.wall_time_s)
        assert totals.cpu_hours == pytest.approx(sum(t.time_s for t in summary.trials) / 3600)
    assert main(["compare", fifo.experiment_path, pbt.experiment_path]) == 2
    assert "--force" in capsys.readouterr().err
    entries = raytuner.experiments(str(Path(fifo.experiment_path).parent))
    assert {e.path for e in entries} >= {s.experiment_path for s in runs.values()}
    by_path = {e.path: e for e in entries}
    for summary in runs.values():
        entry = by_path[summary.experiment_path]
        assert entry.state == "finished" and entry.trials == len(summary.trials)
        assert entry.best_score == (summary.best.score if summary.best else None)
    assert [e.started for e in entries] == sorted((e.started for e in entries), reverse=True)


def test_mlflow_store_holds_one_run_per_trial_with_its_config_and_curve(runs: dict[str, Summary]) -> None:
    """tracking.mlflow on the fifo run: MLflow's own client reads the default local store back."""
    from mlflow.tracking import MlflowClient

    summary = runs["fifo"]
    storage = Path(summary.experiment_path).parent
    client = MlflowClient(f"sqlite:///{storage}/mlruns/mlflow.db")  # the default store: under storage.path
    experiment = client.get_experiment_by_name("fifo-tracked")
    assert experiment is not None
    tracked = client.search_runs([experiment.experiment_id])
    assert len(tracked) == len(summary.trials) == 6
    by_x = {float(run.data.params["x"]): run for run in tracked}
    for trial in summary.trials:
        run = by_x[trial.config["x"]]
        assert run.data.params == {key: str(value) for key, value in trial.config.items()}
        assert run.info.status == "FINISHED"
        assert run.data.tags["team"] == "tests"
        assert run.data.tags["raytuner.experiment"] == Path(summary.experiment_path).name
        rows = pd.read_csv(Path(trial.path, "progress.csv"))
        history = sorted(client.get_metric_history(run.info.run_id, "loss"), key=lambda m: m.step)
        assert [m.step for m in history] == list(rows["training_iteration"])
        assert [m.value for m in history] == pytest.approx(list(rows["loss"]))


def wandb_records(file: Path) -> list[dict[str, Any]]:
    """A W&B offline run's records, read by wandb's own reader (`wandb leet inspect --json`)."""
    done = subprocess.run([str(Path(sys.executable).with_name("wandb")), "leet", "inspect", str(file), "--json"],
                          capture_output=True, text=True, timeout=120, check=True)
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def test_wandb_offline_runs_one_per_trial_with_its_config_and_curve(runs: dict[str, Summary]) -> None:
    """tracking.wandb (mode offline) on the failed-trial run: one W&B run per trial, failed one
    included, written into the trial's own folder."""
    if not WANDB:
        pytest.skip("wandb is not installed (pip install 'raytuner[wandb]')")
    summary = runs["failed"]
    files = sorted(Path(summary.experiment_path).glob("trial_*/wandb/offline-run-*/run-*.wandb"))
    assert len(files) == len(summary.trials) == 3
    by_folder = {Path(trial.path).name: trial for trial in summary.trials}
    for file in files:
        trial = by_folder[file.parents[2].name]
        records = wandb_records(file)
        (run,) = [r["run"] for r in records if r["type"] == "run"]
        assert run["run_id"] == trial.trial_id and run["project"] == "rt-tests"
        assert run["run_group"] == Path(summary.experiment_path).name
        config = _wandb_config(records)
        assert config["x"] == trial.config["x"]
        progress = Path(trial.path, "progress.csv")
        rows = pd.read_csv(progress) if progress.is_file() and progress.stat().st_size else pd.DataFrame()
        history = [r["history"]["item"] for r in records if r["type"] == "history"]
        assert [h["loss"] for h in history] == pytest.approx(list(rows["loss"]) if "loss" in rows else [])
        assert len(history) == (0 if trial.status == "error" else 1)
        assert [r["exit"]["exit_code"] for r in records if r["type"] == "exit"] == [0]


def _wandb_config(records: list[dict[str, Any]]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for record in records:
        if record["type"] == "run":
            config.update(record["run"]["config"]["update"])
        elif record["type"] == "config":
            config.update(record["config"].get("update", {}))
    return config


def test_reports_open_in_headless_chromium_without_errors(runs: dict[str, Summary], reports: dict[str, Path],
                                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every report built here, and a comparison page, in a real browser (Debian's chromium,
    installed here where allowed; one browser, a window per page): no console error, no
    request beyond the file, every figure drawn, a screenshot."""
    from raytuner.console.report.compare import write_comparison
    from raytuner.results.comparison import compare_experiments
    from raytuner.testing.browser import BrowserUnavailable, check_pages, find_chromium

    try:
        chromium = find_chromium()
    except BrowserUnavailable as exc:
        pytest.skip(f"no headless Chromium for the browser test: {exc}")
    out = tmp_path_factory.mktemp("browser")
    pages = {**reports, "compare": write_comparison(compare_experiments(
        [runs["fifo"].experiment_path, runs["asha"].experiment_path]), out / "compare.html")}
    # each page parses ~4.8 MB of inlined plotly.js: about 1 CPU-second a page
    checked = check_pages(list(pages.values()), out / "screenshots", chromium)
    assert [Path(page.url).name for page in checked] == [path.name for path in pages.values()]
    for (kind, path), page in zip(pages.items(), checked):
        html = path.read_text()
        assert page.errors == (), (kind, page.errors)
        assert page.requests == (), (kind, page.requests)
        assert page.plots == html.count('class="plotly-graph-div"') > 0, kind
        assert page.screenshot.read_bytes().startswith(b"\x89PNG") and page.screenshot.stat().st_size > 20_000

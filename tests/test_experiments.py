"""Every spec in experiments/ is validated and run for real, at a small budget."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raytuner.cli import main

EXPERIMENTS = Path(__file__).resolve().parents[1] / "experiments"

# Overrides that shrink each experiment for the test suite; files not listed get DEFAULT.
DEFAULT = ["budget.trials=2"]
OVERRIDES: dict[str, list[str]] = {
    "quickstart.yaml": ["budget.trials=2", "trainable.cv.folds=2"],
    "tpe-gradient-boosting.yaml": ["budget.trials=2", "trainable.cv.folds=2", "trainable.params.max_iter=10"],
    "bayesopt-decision-tree.yaml": ["budget.trials=2", "trainable.cv.folds=2"],
    "skopt-knn.yaml": ["budget.trials=2", "trainable.cv.folds=2"],
    "optuna-extra-trees.yaml": ["budget.trials=2", "trainable.cv.folds=2"],
    "nsga2-accuracy-vs-time.yaml": ["budget.trials=3", "trainable.cv.folds=2"],
    "bohb-extra-trees.yaml": ["budget.trials=2", "trainable.cv.folds=2"],
}
# Specs that cannot run on this machine (e.g. they need a GPU): validated only.
VALIDATE_ONLY: set[str] = set()

SPECS = sorted(p.name for p in EXPERIMENTS.glob("*.yaml"))


@pytest.mark.parametrize("name", SPECS)
def test_experiment_validates(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(EXPERIMENTS / name)]) == 0
    assert capsys.readouterr().out.startswith("ok:")


@pytest.mark.parametrize("name", [s for s in SPECS if s not in VALIDATE_ONLY])
def test_experiment_runs(name: str, ray_local: None, storage: Path, capsys: pytest.CaptureFixture[str]) -> None:
    overrides = OVERRIDES.get(name, DEFAULT) + [f"storage.path={storage}"]
    args = ["run", str(EXPERIMENTS / name), "--json"]
    for item in overrides:
        args += ["--set", item]
    assert main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["counts"]["ok"] >= 1
    assert summary["best"] is not None
    assert Path(summary["experiment_path"], "summary.json").is_file()

"""Spec runs with a holdout: refit, export and `raytuner predict`; ensembles scored honestly."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import pandas as pd
import pytest
import yaml

from raytuner.cli.main import main
from raytuner.spec.loader import validate_spec

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict:
    assert main(["run", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def iris_csv(tmp_path: Path) -> Path:
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame["species"] = [data.target_names[t] for t in frame.pop("target")]
    path = tmp_path / "iris.csv"
    frame.to_csv(path, index=False)
    return path


def _spec(tmp_path: Path, body: dict) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(body))
    return path


def test_refit_export_predict_round_trip_through_the_cli(ray_local: None, iris_csv: Path, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    spec = _spec(tmp_path, {
        "name": "roundtrip",
        "trainable": {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression",
                      "params": {"max_iter": 500},
                      "data": {"source": str(iris_csv), "target": "species", "holdout": 0.3}, "cv": {"folds": 2}},
        "space": {"C": {"type": "float", "low": 0.01, "high": 10, "log": True}},
        "metric": "accuracy", "budget": {"trials": 2}, "storage": {"path": str(tmp_path / "results")},
    })
    summary = _run([str(spec)], capsys)
    refit = summary["final"]["refit"]
    assert refit["trial_id"] == summary["best"]["trial_id"] and refit["search_rows"] == 105 and refit["holdout_rows"] == 45
    assert 0.5 < refit["holdout_score"] <= 1.0
    model_dir = Path(refit["path"])
    assert {"model.joblib", "model.skops", "model.json", "spec.yaml"} <= {p.name for p in model_dir.iterdir()}
    meta = json.loads((model_dir / "model.json").read_text())
    assert meta["config"] == summary["best"]["config"] and meta["cv_score"] == summary["best"]["score"]
    assert meta["target"] == "species" and meta["classes"] == ["setosa", "versicolor", "virginica"]
    assert yaml.safe_load((model_dir / "spec.yaml").read_text())["name"] == "roundtrip"

    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", summary["experiment_path"], "--data", str(iris_csv), "--out", str(out), "--proba"]) == 0
    assert "accuracy:" in capsys.readouterr().err  # the target column is present: scored
    predicted = pd.read_csv(out)
    model = joblib.load(model_dir / "model.joblib")
    frame = pd.read_csv(iris_csv)
    expected = model.predict(frame.drop(columns=["species"]))  # the saved pipeline takes the raw columns
    assert predicted["prediction"].tolist() == expected.tolist()
    assert list(predicted.columns) == ["prediction", "proba_setosa", "proba_versicolor", "proba_virginica"]

    unlabeled = tmp_path / "new.csv"
    frame.drop(columns=["species"]).iloc[:5].to_csv(unlabeled, index=False)
    assert main(["predict", "--model", str(model_dir / "model.skops"), "--data", str(unlabeled)]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == expected[:5].tolist()
    frame.drop(columns=["sepal_width"]).to_csv(unlabeled, index=False)
    assert main(["predict", "--model", str(model_dir), "--data", str(unlabeled)]) == 2
    assert "missing ['sepal_width']" in capsys.readouterr().err


def test_ensemble_is_never_fit_or_selected_on_holdout_rows(ray_local: None, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Every fit (trials, OOF folds, refits) sees search rows only; holdout rows are predicted
    only by the final models, after selection."""
    from raytuner.trainables.holdout import split_data
    from raytuner.testing.sklearn import RecordingClassifier, read_records, row_keys

    records = tmp_path / "records"
    records.mkdir()
    body = {
        "name": "honest",
        "trainable": {"type": "sklearn", "estimator": "raytuner.testing.sklearn.RecordingClassifier",
                      "params": {"record_dir": str(records)},
                      "data": {"source": "sklearn:wine", "holdout": 0.3}, "cv": {"folds": 2}},
        "space": {"C": {"type": "choice", "values": [0.01, 0.1, 1.0]}},
        "metric": "accuracy", "strategy": {"name": "grid"},
        "ensemble": {"top_k": 3, "method": "stacking"}, "storage": {"path": str(tmp_path / "results")},
    }
    summary = _run([str(_spec(tmp_path, body))], capsys)
    ensemble = summary["final"]["ensemble"]
    assert "error" not in ensemble, ensemble
    assert ensemble["search_rows"] == 124 and ensemble["holdout_rows"] == 54
    assert Path(ensemble["path"], "model.joblib").is_file()

    search, holdout = split_data(validate_spec(body).trainable.data, RecordingClassifier())
    search_rows, holdout_rows = set(row_keys(search.X)), set(row_keys(holdout.X))
    events = read_records(str(records))
    fits = [e for e in events if e["event"] == "fit"]
    assert len(fits) >= 3 * 2 + 3 * 2 + 3  # trials' folds, OOF folds, member refits
    for event in fits:
        assert set(event["rows"]) <= search_rows
    predicted_holdout = [e for e in events if e["event"] == "predict" and set(e["rows"]) & holdout_rows]
    assert predicted_holdout  # the final scores were computed on the holdout...
    for event in predicted_holdout:  # ...by models fit on every search row, i.e. after selection
        assert set(event["fit_rows"]) == search_rows and set(event["rows"]) <= holdout_rows


def test_spec_ensemble_beats_or_ties_best_single_on_holdout(ray_local: None, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    summary = _run([str(EXPERIMENTS / "sklearn_ensemble.yaml"), "--set", f"storage.path={tmp_path}",
                    "--set", "budget.trials=8"], capsys)
    final = summary["final"]
    ensemble, refit = final["ensemble"], final["refit"]
    assert "error" not in ensemble, ensemble
    assert ensemble["best_single_holdout_score"] == refit["holdout_score"]
    assert ensemble["holdout_score"] >= refit["holdout_score"]
    assert len(ensemble["member_trials"]) >= 2 and ensemble["member_trials"][0] == refit["trial_id"]
    assert main(["results", summary["experiment_path"]]) == 0
    out = capsys.readouterr().out
    assert "holdout accuracy" in out and "ensemble (greedy" in out

    # another method on the same finished search, from the CLI (no new search)
    assert main(["ensemble", summary["experiment_path"], "--method", "voting", "--option", "voting=hard",
                 "--top-k", "3", "--json"]) == 0
    rebuilt = json.loads(capsys.readouterr().out)
    assert rebuilt["method"] == "voting" and rebuilt["options"] == {"voting": "hard"}
    assert rebuilt["member_trials"] == ensemble["member_trials"][:3] and 0.5 < rebuilt["holdout_score"] <= 1
    assert json.loads(Path(summary["experiment_path"], "summary.json").read_text())["final"]["ensemble"]["method"] == "voting"

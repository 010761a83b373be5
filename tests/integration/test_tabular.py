"""Raw CSVs tuned on Ray without user preprocessing; the saved pipeline predicts raw rows three ways (#16 items 1-2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import raytuner
from raytuner.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"

BLOCKED = (  # unpickle with raytuner not importable: the model needs scikit-learn (and pandas) alone
    "import sys, importlib.abc\n"
    "class Block(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path, target=None):\n"
    "        if name.split('.')[0] == 'raytuner': raise ImportError('raytuner is not importable here')\n"
    "sys.meta_path.insert(0, Block())\n"
    "import joblib, pandas\n"
)


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[dict, str]:
    assert main(["run", *args, "--json"]) == 0
    captured = capsys.readouterr()
    return json.loads(captured.out), captured.err


def _plain_joblib(model_file: Path, rows: Path) -> list:
    code = BLOCKED + (f"model = joblib.load({str(model_file)!r})\n"
                      f"print(model.predict(pandas.read_csv({str(rows)!r})).tolist())\n"
                      "assert not any(m.split('.')[0] == 'raytuner' for m in sys.modules)\n")
    out = subprocess.run([sys.executable, "-I", "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return eval(out.stdout.strip())  # noqa: S307 - our own subprocess printing a list of labels


def test_classification_experiment_on_a_raw_csv(ray_local: None, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the experiment names its CSV relative to the repository root
    assert main(["run", str(ROOT / "experiments" / "tabular_penguins.yaml"), "--set", "budget.trials=2",
                 "--set", "trainable.cv.folds=2", "--set", f"storage.path={tmp_path}"]) == 0
    err = capsys.readouterr().err
    [experiment] = [p for p in tmp_path.iterdir() if p.name.startswith("tabular_penguins-")]
    summary = json.loads((experiment / "summary.json").read_text())
    assert [t["status"] for t in summary["trials"]] == ["ok", "ok"]
    assert err.count("preprocessing (inside the pipeline, fitted per fold):") == 1  # printed once
    assert "4 rows without a target value dropped (156 left)" in err
    prep = summary["preprocessing"]  # recorded in the summary
    assert prep["dropped_target_rows"] == 4 and prep["rows"] == 156
    assert {c["name"]: c["used"] for c in prep["columns"]}["individual_id"] is False
    configs = [t["config"] for t in summary["trials"]]
    assert all(2 <= c["preprocess"]["categorical"]["max_categories"] <= 10 for c in configs)  # tuned

    new = DATA / "penguins_like_new.csv"  # an unseen island, sex empty in every row
    saved = raytuner.load_model(summary["experiment_path"])
    assert saved.meta["input"] == "columns" and saved.meta["dropped_target_rows"] == 4
    frame = pd.read_csv(new)
    first = saved.predict(frame).tolist()
    assert len(first) == 3 and set(first) <= {"Adelie", "Gentoo", "Chinstrap"}
    assert saved.predict(frame.head(1)).tolist() == first[:1]  # one row
    one = tmp_path / "one.csv"
    frame.head(1).to_csv(one, index=False)
    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", summary["experiment_path"], "--data", str(new), "--out", str(out)]) == 0
    assert pd.read_csv(out)["prediction"].tolist() == first
    assert main(["predict", "--model", summary["experiment_path"], "--data", str(one)]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == first[:1]
    assert _plain_joblib(Path(saved.path) / "model.joblib", new) == first


def test_regression_on_a_raw_csv_with_native_categoricals(ray_local: None, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "cars.yaml"
    spec.write_text(json.dumps({
        "name": "cars",
        "trainable": {"type": "sklearn", "estimator": "sklearn.ensemble.HistGradientBoostingRegressor",
                      "params": {"max_iter": 20}, "data": {"source": str(DATA / "cars_like.csv"), "target": "Miles_per_Gallon"},
                      "cv": {"folds": 2}},
        "space": {"learning_rate": {"type": "float", "low": 0.05, "high": 0.3}},
        "metric": "r2", "budget": {"trials": 2}, "storage": {"path": str(tmp_path / "results")},
    }))
    summary, _ = _run([str(spec)], capsys)
    assert summary["counts"]["ok"] == 2 and summary["best"]["score"] > 0.3
    assert summary["preprocessing"]["dropped_target_rows"] == 8
    kinds = {c["name"]: (c["kind"], c["used"]) for c in summary["preprocessing"]["columns"]}
    assert kinds["Name"] == ("text", False) and kinds["Year"] == ("date", True) and kinds["Origin"] == ("categorical", True)
    saved = raytuner.load_model(summary["experiment_path"])
    assert saved.model.named_steps["model"].categorical_features == [0]  # Origin, native
    rows = pd.read_csv(DATA / "cars_like.csv").drop(columns=["Miles_per_Gallon"]).head(2)
    rows["Origin"] = ["Mars", "USA"]  # an unseen category
    rows["Horsepower"] = float("nan")  # a column missing in every row
    new = tmp_path / "new_cars.csv"
    rows.to_csv(new, index=False)
    predicted = saved.predict(pd.read_csv(new)).tolist()
    assert len(predicted) == 2 and all(5 < p < 60 for p in predicted)
    assert main(["predict", "--model", summary["experiment_path"], "--data", str(new)]) == 0
    assert [float(v) for v in capsys.readouterr().out.splitlines()[1:]] == pytest.approx(predicted)
    assert _plain_joblib(Path(saved.path) / "model.joblib", new) == pytest.approx(predicted)

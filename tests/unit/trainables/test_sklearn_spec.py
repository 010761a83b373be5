"""scikit-learn spec checks before Ray: pipeline steps, ensemble needs, holdout splits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raytuner.errors import SpecError
from raytuner.spec.loader import load_spec, validate_spec
from raytuner.runner.plan import make_plan

EXPERIMENTS = Path(__file__).resolve().parents[3] / "experiments"


def test_pipeline_spec_builds_steps_and_validates_step_parameters() -> None:
    spec = load_spec(EXPERIMENTS / "sklearn_ensemble.yaml")
    plan = make_plan(spec)
    setup = plan.trainable.setup()
    from raytuner.trainables.sklearn.estimator import build_estimator

    pipe = build_estimator(setup, {"clf": "knn", "scale": "sklearn.preprocessing.MinMaxScaler"})
    assert [type(s).__name__ for _, s in pipe.steps] == ["MinMaxScaler", "KNeighborsClassifier"]
    forest = build_estimator(setup, {"clf": "forest"}).named_steps["clf"]
    assert forest.n_estimators == 30 and forest.random_state == 0  # option params, the spec's seed
    raw = spec.to_data()
    raw["space"]["clf"] = {"type": "choice", "values": ["logreg", "forest"]}
    raw["space"]["clf__C"] = {"type": "float", "low": 0.1, "high": 1.0}  # forest has no C
    with pytest.raises(SpecError, match="space.clf.C.*every option step 'clf' may take"):
        make_plan(validate_spec(raw))
    raw["space"].pop("clf__C")
    raw["space"]["clf"] = {"type": "choice", "values": ["logreg", "svm"]}
    with pytest.raises(SpecError, match="an option of step 'clf'"):
        make_plan(validate_spec(raw))



def test_ensemble_needs_a_holdout_and_a_known_method() -> None:
    raw = load_spec(EXPERIMENTS / "sklearn_ensemble.yaml").to_data()
    raw["trainable"]["data"]["holdout"] = None
    with pytest.raises(SpecError, match="trainable.data.holdout"):
        make_plan(validate_spec(raw))
    raw = load_spec(EXPERIMENTS / "sklearn_ensemble.yaml", ["ensemble.method=bagging"]).to_data()
    with pytest.raises(SpecError, match="ensemble.method.*greedy"):
        make_plan(validate_spec(raw))



def test_holdout_split_is_disjoint_stratified_and_seeded() -> None:
    from sklearn.linear_model import LogisticRegression

    from raytuner.trainables.holdout import split_data
    from raytuner.spec.sklearn import DataSpec

    data = DataSpec(source="sklearn:wine", holdout=0.25)
    search, test = split_data(data, LogisticRegression())
    assert test is not None and len(search.y) + len(test.y) == 178 and len(test.y) == 45
    keys = {r.tobytes() for r in search.X}
    assert not any(r.tobytes() in keys for r in test.X)
    assert np.bincount(test.y).tolist() == [15, 18, 12]  # stratified by class
    again, _ = split_data(data, LogisticRegression())
    np.testing.assert_array_equal(search.X, again.X)



def test_holdout_from_a_separate_file_gets_the_training_columns(tmp_path: Path) -> None:
    from sklearn.linear_model import LogisticRegression

    from raytuner.trainables.holdout import split_data
    from raytuner.spec.sklearn import DataSpec

    train = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0], "color": ["red", "blue", "red", "green"], "y": [0, 1, 0, 1]})
    test = pd.DataFrame({"y": [1, 0], "color": ["blue", "red"], "x": [9.0, 8.0]})  # other order, no 'green'
    train.to_csv(tmp_path / "train.csv", index=False)
    test.to_csv(tmp_path / "test.csv", index=False)
    data = DataSpec(source=str(tmp_path / "train.csv"), target="y", holdout={"source": str(tmp_path / "test.csv")})
    search, held = split_data(data, LogisticRegression())
    assert held is not None and search.feature_names == held.feature_names
    assert search.feature_names == ["x", "color_blue", "color_green", "color_red"]
    np.testing.assert_array_equal(held.X, [[9.0, 1.0, 0.0, 0.0], [8.0, 0.0, 0.0, 1.0]])
    assert held.y.tolist() == [1, 0] and len(search.y) == 4
    test.drop(columns=["x"]).to_csv(tmp_path / "test.csv", index=False)
    with pytest.raises(SpecError, match=r"missing \['x'\]"):
        split_data(data, LogisticRegression())

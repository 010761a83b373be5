"""Preflight (#12 item 1): cheap checks in the plan, the sample fit in the driver (no Ray here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from raytuner.errors import SpecError
from raytuner.runner.plan import make_plan
from raytuner.runner.preflight import Preflight, rehearse, sample_config
from raytuner.spec.loader import load_spec, validate_spec
from raytuner.spec.params import parse_space

EXPERIMENTS = Path(__file__).resolve().parents[3] / "experiments"
QUICKSTART = EXPERIMENTS / "quickstart.yaml"


def test_sample_config_is_seeded_nested_and_inside_the_space() -> None:
    space = parse_space({
        "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "q": {"type": "float", "low": 0.0, "high": 1.0, "q": 0.25},
        "n": {"type": "int", "low": 2, "high": 20, "step": 3},
        "depth": {"type": "choice", "values": [None, 4, 8]},
        "clf": {"C": {"type": "grid", "values": [1, 10]}, "kernel": "rbf"},
    })
    configs = [sample_config(space, seed) for seed in range(20)]
    assert configs[3] == sample_config(space, 3)
    for config in configs:
        assert 1e-4 <= config["lr"] <= 1e-1 and config["q"] in {0.0, 0.25, 0.5, 0.75, 1.0}
        assert config["n"] in {2, 5, 8, 11, 14, 17, 20} and config["depth"] in {None, 4, 8}
        assert config["clf"]["C"] in {1, 10} and config["clf"]["kernel"] == "rbf"
    assert len({c["lr"] for c in configs}) == 20


def test_values_are_checked_against_every_pipeline_option() -> None:
    raw = load_spec(EXPERIMENTS / "sklearn_ensemble.yaml").to_data()
    raw["space"]["clf"] = {"type": "choice", "values": ["forest", "tree"]}
    raw["space"]["clf__max_depth"] = {"type": "choice", "values": [3, "deep"]}
    with pytest.raises(SpecError, match=r"space.clf__max_depth: got 'deep'; expected a value RandomForestClassifier accepts"):
        make_plan(validate_spec(raw))
    raw["space"]["clf__max_depth"] = {"type": "int", "low": 0, "high": 4}
    with pytest.raises(SpecError, match=r"space.clf__max_depth.low: got 0; .*int in the range \[1, inf\)"):
        make_plan(validate_spec(raw))
    raw["space"]["clf__max_depth"] = {"type": "int", "low": 1, "high": 4}
    make_plan(validate_spec(raw))


def test_the_four_mistakes_of_the_issue_are_refused_by_the_plan() -> None:
    with pytest.raises(SpecError, match=r"metric.name: got 'accuracy'; expected a regression metric for RandomForestRegressor.*: .*r2"):
        make_plan(load_spec(QUICKSTART, ["trainable.estimator=sklearn.ensemble.RandomForestRegressor",
                                          "trainable.data.source=sklearn:diabetes"]))
    with pytest.raises(SpecError, match=r"space.max_features: got 'sqroot'.*a str among \{.*'sqrt'.*\} or None"):
        make_plan(load_spec(QUICKSTART, ["space.max_features={type: choice, values: [sqrt, sqroot]}"]))
    with pytest.raises(SpecError, match=r"space.n_estimators: .*an int range \(\{type: int, low: 10, high: 50\}\)"):
        make_plan(load_spec(QUICKSTART, ["space.n_estimators={type: float, low: 10, high: 50}"]))
    with pytest.raises(SpecError, match=r"trainable.params.criterion: got 'gini2'"):
        make_plan(load_spec(QUICKSTART, ["trainable.params.criterion=gini2"]))


def test_header_only_and_empty_files_are_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "header.csv").write_text("a,b,label\n")
    (tmp_path / "empty.csv").write_text("")
    for name, why in [("header.csv", "only a header: a, b, label"), ("empty.csv", "the file is empty")]:
        path = tmp_path / name
        with pytest.raises(SpecError, match=f"trainable.data.source: got '{path}'.*{why}"):
            make_plan(load_spec(QUICKSTART, [f"trainable.data={{source: {path}, target: label}}"]))


def test_sample_fit_uses_a_stratified_sample_and_reports_what_it_did() -> None:
    plan = make_plan(load_spec(QUICKSTART))
    fit = rehearse(plan)
    assert fit is not None and 150 <= fit.rows <= 220 and 0.0 <= (fit.score or 0) <= 1.0
    assert fit.config == sample_config(plan.spec.space, plan.search.seed)
    from raytuner.trainables.sklearn.preflight import sample_rows

    y = np.array([0] * 1000 + [1] * 3 + [2] * 40)
    rows = sample_rows(y, 200, 3, True, 0)
    assert set(y[rows]) == {0, 1, 2} and (y[rows] == 1).sum() == 3 and (y[rows] == 2).sum() >= 3


def test_a_config_the_estimator_cannot_fit_is_refused_from_the_thread() -> None:
    spec = load_spec(QUICKSTART, ["trainable.estimator=sklearn.linear_model.LogisticRegression", "trainable.params={}",
                                  "space={penalty: l1, solver: lbfgs}"])
    check = Preflight(make_plan(spec)).start()
    with pytest.raises(SpecError, match=r"space: got \{'penalty': 'l1', 'solver': 'lbfgs'\}; .*Solver lbfgs supports only"):
        check.result()


def test_a_config_too_big_for_the_sample_is_tried_on_all_rows() -> None:
    spec = load_spec(QUICKSTART, ["trainable.estimator=sklearn.neighbors.KNeighborsClassifier", "trainable.params={}",
                                  "space={n_neighbors: 300}"])
    fit = rehearse(make_plan(spec))
    assert fit is not None and fit.rows == 1797


def test_missing_values_name_the_columns_and_the_imputer(tmp_path: Path) -> None:
    path = tmp_path / "holes.csv"
    rng = np.random.default_rng(0)
    lines = ["age,income,label"] + [f"{'' if i % 5 == 0 else rng.normal()},{rng.normal()},{i % 2}" for i in range(60)]
    path.write_text("\n".join(lines) + "\n")
    spec = load_spec(QUICKSTART, [f"trainable.data={{source: {path}, target: label}}", "trainable.estimator=sklearn.svm.SVC",
                                  "trainable.params={}", "space={C: {type: float, low: 0.1, high: 1}}"])
    plan = make_plan(spec)  # preprocessing (on by default) imputes inside the pipeline, per fold
    assert rehearse(plan) is not None
    assert any(c["name"] == "age" and c["kind"] == "numeric" and c["used"] for c in plan.trainable.data_report()["columns"])
    raw = load_spec(QUICKSTART, [f"trainable.data={{source: {path}, target: label}}", "trainable.estimator=sklearn.svm.SVC",
                                 "trainable.params={}", "space={C: {type: float, low: 0.1, high: 1}}", "trainable.preprocess=false"])
    with pytest.raises(SpecError, match=r"age hold missing values \(12 rows\) and SVC cannot take them.*SimpleImputer"):
        rehearse(make_plan(raw))
    forest = load_spec(QUICKSTART, [f"trainable.data={{source: {path}, target: label}}"])  # forests take NaN
    assert rehearse(make_plan(forest)) is not None


def test_tunesearchcv_error_score_raise_refuses_a_rejected_value_before_ray() -> None:
    from scipy.stats import uniform
    from sklearn.datasets import load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.utils._param_validation import InvalidParameterError

    from raytuner.sklearn import TuneSearchCV

    X, y = load_iris(return_X_y=True)
    search = TuneSearchCV(RandomForestClassifier(), {"max_features": ["sqrt", "sqroot"]}, error_score="raise", n_trials=2)
    with pytest.raises(InvalidParameterError, match="param_distributions.max_features: got 'sqroot'"):
        search.fit(X, y)
    search = TuneSearchCV(RandomForestClassifier(), {"n_estimators": uniform(10, 50)}, error_score="raise", n_trials=2)
    with pytest.raises(InvalidParameterError, match="an int range"):
        search.fit(X, y)

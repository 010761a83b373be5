"""Tabular data as users bring it (#16 items 1-2): column kinds, the preprocess block, the pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from raytuner.errors import SpecError
from raytuner.spec.sklearn import PreprocessSpec
from raytuner.trainables.sklearn.columns import detect_kind, plan_table

DATA = Path(__file__).resolve().parents[2] / "data"
PENGUINS = DATA / "penguins_like.csv"
QUICKSTART = Path(__file__).resolve().parents[3] / "experiments" / "quickstart.yaml"


def _spec(*overrides: str):  # type: ignore[no-untyped-def]
    from raytuner.spec.loader import load_spec

    base = [f"trainable.data={{source: {PENGUINS}, target: species}}", "trainable.params={max_iter: 300}",
            "trainable.estimator=sklearn.linear_model.LogisticRegression", "space={C: {type: float, low: 0.1, high: 1}}",
            "trainable.cv.folds=2"]
    return load_spec(QUICKSTART, [*base, *overrides])


@pytest.mark.parametrize("values, kind", [
    ([1.5, 2.0, None, 4.0], "numeric"),
    ([1, 2, 3, 4], "numeric"),
    (["a", "b", None, "a"], "categorical"),
    ([True, False, True, True], "categorical"),
    (["2020-01-02", "2021-12-31", None, "2019-06-30"], "date"),
    (["01/02/2020", "03/04/2021", "05/06/2022", "07/08/2023"], "categorical"),  # not ISO: no guessing
    ([f"id-{i}" for i in range(40)], "text"),
    ([f"id-{i % 10}" for i in range(40)], "categorical"),
    ([None, None, None], "empty"),
])
def test_column_kinds(values: list, kind: str) -> None:
    assert detect_kind(pd.Series(values)) == kind


def test_the_shipped_files_columns_and_dropped_targets() -> None:
    from raytuner.runner.plan import make_plan

    plan = make_plan(_spec())
    dataset = plan.trainable.check_data()
    assert dataset.dropped_target_rows == 4 and len(dataset.y) == 156 and not pd.isna(dataset.y).any()
    report = plan.trainable.data_report()
    kinds = {c["name"]: (c["kind"], c["used"]) for c in report["columns"]}
    assert kinds == {"individual_id": ("text", False), "island": ("categorical", True), "sex": ("categorical", True),
                     "bill_length_mm": ("numeric", True), "bill_depth_mm": ("numeric", True),
                     "body_mass_g": ("numeric", True), "date_egg": ("date", True)}
    assert report["lines"][0] == "4 rows without a target value dropped (156 left)"
    assert any("individual_id" in line and "identifier-like" in line for line in report["lines"])


def test_preprocess_block_overrides_per_kind_and_per_column() -> None:
    frame = pd.read_csv(PENGUINS).drop(columns=["species"])
    options = PreprocessSpec.model_validate({"date": "drop", "text": "categorical", "columns": {"sex": "drop", "body_mass_g": "categorical"}})
    plan = plan_table(frame, options)
    assert plan.names("categorical", options) == ["individual_id", "island", "body_mass_g"]
    assert plan.names("date", options) == [] and plan.names("numeric", options) == ["bill_length_mm", "bill_depth_mm"]
    with pytest.raises(SpecError, match=r"trainable\.preprocess\.columns\.nope: got 'nope'; expected a feature column"):
        plan_table(frame, PreprocessSpec.model_validate({"columns": {"nope": "drop"}}))
    everything = {name: "drop" for name in frame.columns}
    with pytest.raises(SpecError, match="at least one feature column kept"):
        plan_table(frame, PreprocessSpec.model_validate({"columns": everything}))


@pytest.mark.parametrize("override, message", [
    ("trainable.preprocess.categorical.encode=hash", r"trainable\.preprocess\.categorical\.encode"),
    ("trainable.preprocess.categorical.max_categories=1", r"trainable\.preprocess\.categorical\.max_categories"),
    ("trainable.preprocess.numerics={scale: true}", r"trainable\.preprocess\.numerics"),
    ("trainable.preprocess.columns={sex: blob}", r"trainable\.preprocess\.columns\.sex"),
])
def test_preprocess_block_is_validated(override: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        _spec(override)


@pytest.mark.parametrize("overrides, message", [
    (["space.preprocess={categorical: {encode: {type: choice, values: [onehot, native]}}}"],
     r"space\.preprocess\.categorical\.encode: got 'native'.*LogisticRegression takes no native categoricals"),
    (["space.preprocess={categorical: {max_categories: {type: int, low: 1, high: 5}}}"],
     r"space\.preprocess\.categorical\.max_categories: got 1"),
    (["space.preprocess={columns: {sex: {type: choice, values: [drop, categorical]}}}"],
     r"space\.preprocess\.columns\.sex: .*a tunable preprocessing option"),
    (["space.preprocess={numeric: {impute: {type: choice, values: [mean, mode]}}}"],
     r"space\.preprocess\.numeric\.impute: got 'mode'"),
    (["trainable.preprocess.categorical.encode=native"],
     r"trainable\.preprocess\.categorical\.encode: got 'native'"),
    (["trainable.data={source: 'sklearn:iris'}", "space.preprocess={numeric: {scale: {type: choice, values: [true, false]}}}"],
     r"space\.preprocess: got 'preprocess'; expected a data file"),
])
def test_tuned_preprocessing_values_are_checked_before_ray(overrides: list[str], message: str) -> None:
    from raytuner.runner.plan import make_plan

    with pytest.raises(SpecError, match=message):
        make_plan(_spec(*overrides))


def test_missing_target_error_option() -> None:
    from raytuner.runner.plan import make_plan

    with pytest.raises(SpecError, match=r"trainable\.data\.target: got 'species'; expected a value in every row \(4 rows"):
        make_plan(_spec("trainable.preprocess.missing_target=error")).trainable.check_data()


def _fitted(estimator: str, config: dict, *overrides: str):  # type: ignore[no-untyped-def]
    from raytuner.runner.plan import make_plan
    from raytuner.trainables.sklearn.estimator import build_estimator

    plan = make_plan(_spec(f"trainable.estimator={estimator}", *overrides))
    dataset = plan.trainable.check_data()
    return build_estimator(plan.trainable.setup(), config).fit(dataset.X, dataset.y)


def test_pipeline_predicts_raw_rows_and_tuned_values_reach_the_encoder() -> None:
    model = _fitted("sklearn.linear_model.LogisticRegression", {"C": 0.5, "preprocess": {"categorical": {"max_categories": 2}}})
    assert [name for name, _ in model.steps] == ["preprocess", "model"]
    encoder = model.named_steps["preprocess"].named_transformers_["categorical"].named_steps["encode"]
    assert type(encoder).__name__ == "OneHotEncoder" and encoder.max_categories == 2
    new = pd.read_csv(DATA / "penguins_like_new.csv")  # an unseen island, sex empty in every row
    assert new["sex"].isna().all() and "Atlantis" in set(new["island"])
    assert len(model.predict(new)) == 3 and len(model.predict(new.head(1))) == 1
    assert set(model.predict(new)) <= {"Adelie", "Gentoo", "Chinstrap"}


def test_native_categoricals_for_histgradientboosting_and_no_imputer() -> None:
    model = _fitted("sklearn.ensemble.HistGradientBoostingClassifier", {}, "trainable.params={max_iter: 10}",
                    "space={learning_rate: {type: float, low: 0.05, high: 0.2}}")
    pre = model.named_steps["preprocess"]
    assert type(pre.named_transformers_["categorical"].named_steps["encode"]).__name__ == "OrdinalEncoder"
    assert model.named_steps["model"].categorical_features == [0, 1]  # island, sex: first out of the transformer
    assert {name: t for name, t, _ in pre.transformers}["numeric"] == "passthrough"  # the model takes NaN itself
    new = pd.read_csv(DATA / "penguins_like_new.csv")
    assert len(model.predict(new.head(1))) == 1


def test_step_fidelity_models_get_preprocessed_folds() -> None:
    from raytuner.trainables.sklearn.estimator import fold_arrays, make_splits
    from raytuner.runner.plan import make_plan

    plan = make_plan(_spec("trainable.estimator=sklearn.linear_model.SGDClassifier", "trainable.params={}",
                           "trainable.fidelity={kind: epochs, steps: 2}", "space={alpha: {type: float, low: 0.0001, high: 0.01}}"))
    dataset = plan.trainable.check_data()
    setup = plan.trainable.setup()
    (X_train, X_test), = fold_arrays(setup, {"alpha": 0.001}, dataset.X, dataset.y, make_splits(setup.cv, dataset.X, dataset.y)[:1])
    assert isinstance(X_train, np.ndarray) and not np.isnan(X_train).any() and X_train.shape[1] == X_test.shape[1]
    assert plan.trainable.sample_fit({"alpha": 0.001}).score is not None

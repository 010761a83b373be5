"""Preprocessing inside the tuned pipeline: a ColumnTransformer fitted per CV fold, then the model.

Built from the table's column plan (raytuner.trainables.sklearn.columns), the spec's
``preprocess`` block with any tuned values (``space.preprocess...``) over it, and the
estimator's capabilities: imputation only where the estimator cannot take missing values
(scikit-learn's ``allow_nan`` tag), categoricals one-hot encoded with a cap, or given natively
to estimators that support them (:data:`NATIVE_CATEGORICAL`). Only scikit-learn, pandas and
the standard library are inside: the saved pipeline loads with ``joblib.load`` alone.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any, Callable

from raytuner.errors import SpecError
from raytuner.spec.sklearn import PreprocessSpec
from raytuner.trainables.sklearn.columns import DATE_PARTS, TablePlan, parse_dates

PREPROCESS_KEY = "preprocess"  # the space entry (and Pipeline step) of the preprocessing
MODEL_STEP = "model"
NATIVE_MAX_CATEGORIES = 255  # HistGradientBoosting's max_bins: categories per native column


@dataclass(frozen=True)
class NativeCategorical:
    """How an estimator family takes categorical columns itself: which parameter says which
    output columns (the first ``n``, ordinal-coded, unknown/missing as -1 or NaN) are categorical."""

    param: str
    columns: Callable[[int], Any] = lambda n: list(range(n))  # the parameter's value for n categorical columns
    max_categories: int = NATIVE_MAX_CATEGORIES


# estimator class names -> their native categorical support (XGBoost/LightGBM add theirs here)
NATIVE_CATEGORICAL: dict[str, NativeCategorical] = {
    "HistGradientBoostingClassifier": NativeCategorical("categorical_features"),
    "HistGradientBoostingRegressor": NativeCategorical("categorical_features"),
}


def native_support(estimator: Any) -> NativeCategorical | None:
    """The estimator's native categorical support (a class attribute ``native_categorical`` wins)."""
    own = getattr(type(estimator), "native_categorical", None)
    if isinstance(own, NativeCategorical):
        return own
    return NATIVE_CATEGORICAL.get(type(estimator).__name__)


def takes_nan(estimator: Any, unknown: bool = False) -> bool:
    """Whether the estimator (a pipeline's first real step) takes missing values (allow_nan tag);
    ``unknown``: the answer for a third-party estimator without tags."""
    from sklearn.utils import get_tags

    first = estimator
    for _, step in getattr(estimator, "steps", None) or []:
        if step is not None and step != "passthrough":
            first = step
            break
    try:
        return bool(get_tags(first).input_tags.allow_nan)
    except Exception:  # a third-party estimator without tags
        return unknown


def effective_options(options: PreprocessSpec, tuned: dict[str, Any] | None,
                      field: str = "space.preprocess") -> PreprocessSpec:
    """The spec's options with a trial's tuned values (``{categorical: {max_categories: 12}}``) over them."""
    if not tuned:
        return options
    from pydantic import ValidationError

    data = options.model_dump()
    for key, value in tuned.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    try:
        return PreprocessSpec.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise SpecError.at(f"{field}.{where}", error.get("input"), error["msg"]) from None


def _categorical(options: PreprocessSpec, native: NativeCategorical | None) -> tuple[Any, bool]:
    """(the encoder pipeline of categorical columns, whether it feeds the model natively)."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder

    c = options.categorical
    as_text = FunctionTransformer(operator.methodcaller("astype", str))  # missing -> its own "nan" category
    encode = c.encode
    if encode == "auto":
        encode = "native" if native is not None else "onehot"
    if encode == "native" and native is None:
        encode = "ordinal"  # checked at validation for fixed values; a tuned 'native' on a family without it
    if encode == "onehot":
        encoder = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=c.max_categories,
                                min_frequency=c.min_frequency, sparse_output=False)
    else:
        cap = c.max_categories if encode == "ordinal" else min(c.max_categories or native.max_categories, native.max_categories)
        encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1,
                                 max_categories=cap, min_frequency=c.min_frequency)
    return Pipeline([("as_text", as_text), ("encode", encoder)]), encode == "native"


def _numeric(options: PreprocessSpec, impute: bool) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    n = options.numeric
    strategy = n.impute if n.impute != "auto" else ("median" if impute else "none")
    steps: list[tuple[str, Any]] = []
    if strategy != "none":
        steps.append(("impute", SimpleImputer(strategy=strategy, add_indicator=n.indicator, keep_empty_features=True)))
    if n.scale:
        steps.append(("scale", StandardScaler()))
    return Pipeline(steps) if steps else "passthrough"


def _date(impute: bool) -> Any:
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import FunctionTransformer

    parts = FeatureUnion([
        (part, Pipeline([("get", FunctionTransformer(operator.attrgetter(f"dt.{part}"))),
                         ("column", FunctionTransformer(operator.methodcaller("to_frame")))]))
        for part in DATE_PARTS
    ])
    steps = [("parse", FunctionTransformer(parse_dates())), ("parts", parts)]
    if impute:
        steps.append(("impute", SimpleImputer(strategy="median", keep_empty_features=True)))
    return Pipeline(steps)


def preprocessor(plan: TablePlan, options: PreprocessSpec, estimator: Any) -> tuple[Any, dict[str, Any]]:
    """(the ColumnTransformer for this estimator, parameters to set on the estimator)."""
    from sklearn.compose import ColumnTransformer

    impute = not takes_nan(estimator)
    native = native_support(estimator)
    blocks: list[tuple[str, Any, Any]] = []
    params: dict[str, Any] = {}
    categorical = plan.names("categorical", options)
    if categorical:  # first, so native categoricals are the first output columns
        encoder, is_native = _categorical(options, native)
        blocks.append(("categorical", encoder, categorical))
        if is_native and native is not None:
            params[native.param] = native.columns(len(categorical))
    numeric = plan.names("numeric", options)
    if numeric:
        blocks.append(("numeric", _numeric(options, impute), numeric))
    for name in plan.names("date", options):  # a scalar column: the parser gets a Series
        blocks.append((f"date_{name}", _date(impute), name))
    return ColumnTransformer(blocks, remainder="drop", verbose_feature_names_out=False), params


def with_preprocessing(plan: TablePlan, options: PreprocessSpec, estimator: Any, tuned: dict[str, Any] | None) -> Any:
    """``Pipeline([("preprocess", ColumnTransformer), ("model", estimator)])``."""
    from sklearn.pipeline import Pipeline

    step, params = preprocessor(plan, effective_options(options, tuned), estimator)
    if params:
        estimator.set_params(**params)
    return Pipeline([(PREPROCESS_KEY, step), (MODEL_STEP, estimator)])


def split_space(space: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(the model's space, the preprocessing's sub-space or None)."""
    node = space.get(PREPROCESS_KEY)
    return {k: v for k, v in space.items() if k != PREPROCESS_KEY}, node



def treatment(options: PreprocessSpec, estimator: Any) -> str:
    """What the preprocessing does for this estimator, in one line (for people)."""
    native = native_support(estimator)
    encode = options.categorical.encode
    if encode == "auto":
        encode = "native" if native is not None else "onehot"
    strategy = options.numeric.impute if options.numeric.impute != "auto" else ("median" if not takes_nan(estimator) else "none")
    numeric = ("missing values left to the model" if strategy == "none" else
               f"missing values imputed ({strategy}{', + indicator columns' if options.numeric.indicator else ''})")
    name = type(estimator).__name__
    return f"for {name}: categoricals {encode.replace('onehot', 'one-hot')}; numeric {numeric}{'; scaled' if options.numeric.scale else ''}"

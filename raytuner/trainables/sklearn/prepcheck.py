"""Checks of the preprocessing's options before Ray starts: the spec's block and every value
``space.preprocess`` can give (SpecError naming the field)."""

from __future__ import annotations

from typing import Any

from raytuner.errors import SpecError
from raytuner.spec.sklearn import PreprocessSpec
from raytuner.trainables.sklearn.preprocess import PREPROCESS_KEY, effective_options, native_support


def check_preprocess_space(options: PreprocessSpec, node: Any, estimators: list[Any], raw: bool) -> None:
    """Every value the space can give a preprocessing option, and the spec's own block, checked
    (SpecError naming ``space.preprocess.<field>`` or ``trainable.preprocess.<field>``)."""
    from raytuner.spec.params import iter_params
    from raytuner.trainables.sklearn.preflight import _candidates

    if node is not None and not isinstance(node, dict):
        raise SpecError.at(f"space.{PREPROCESS_KEY}", getattr(node, "model_dump", lambda: node)(),
                           "a mapping of preprocessing options to tune (e.g. {categorical: {max_categories: "
                           "{type: int, low: 5, high: 50}}})")
    if node is not None and not raw:
        raise SpecError.at(f"space.{PREPROCESS_KEY}", "preprocess", "a data file (trainable.data.source: a .csv or "
                           ".parquet; bundled datasets are numeric and not preprocessed)")
    if node is not None and not options.enabled:
        raise SpecError.at(f"space.{PREPROCESS_KEY}", "preprocess", "trainable.preprocess enabled (it is false)")
    for path, param in iter_params(node or {}):
        if path[0] in ("columns", "enabled", "text_unique_share", "missing_target"):
            raise SpecError.at(f"space.{PREPROCESS_KEY}.{'.'.join(path)}", path[0],
                               "a tunable preprocessing option: numeric.impute|indicator|scale, categorical.encode|"
                               "max_categories|min_frequency, date, text (set the others in trainable.preprocess)")
        for _, value in _candidates(param):
            tuned: dict[str, Any] = value
            for key in reversed(path):
                tuned = {key: tuned}
            _check_native(effective_options(options, tuned, f"space.{PREPROCESS_KEY}"), estimators,
                          f"space.{PREPROCESS_KEY}.{'.'.join(path)}")
    _check_native(options, estimators, "trainable.preprocess.categorical.encode")


def _check_native(options: PreprocessSpec, estimators: list[Any], field: str) -> None:
    if options.categorical.encode != "native":
        return
    for estimator in estimators:
        if native_support(estimator) is None:
            raise SpecError.at(field, "native", f"'auto', 'onehot', 'ordinal' or 'drop': {type(estimator).__name__} "
                               "takes no native categoricals (HistGradientBoosting* do)")

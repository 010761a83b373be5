"""A user function as trainable: ``fn(config) -> dict`` or a generator of dicts (one per step)."""

from __future__ import annotations

import inspect
import math
from typing import Any, Callable

from raytuner.errors import SpecError
from raytuner.params import Space
from raytuner.registry import import_object
from raytuner.spec import FunctionTrainableSpec
from raytuner.trainables.base import Trainable


class FunctionTrainable(Trainable):
    kind = "function"
    spec: FunctionTrainableSpec

    def check(self, space: Space) -> str:
        metric = self.metric
        fn = import_object(self.spec.function, "trainable.function")
        if not callable(fn):
            raise SpecError.at("trainable.function", self.spec.function, "a callable fn(config)")
        if metric.mode is None:
            raise SpecError.at("metric.mode", None, "'max' or 'min' (a function trainable has no default)")
        return metric.mode

    def build(self) -> Callable[[dict[str, Any]], None]:
        from functools import partial

        return partial(function_trial, fn_path=self.spec.function, fixed=dict(self.spec.params))


def function_trial(config: dict[str, Any], *, fn_path: str, fixed: dict[str, Any]) -> None:
    from ray import tune

    fn = import_object(fn_path, "trainable.function")
    result = fn({**fixed, **config})
    if isinstance(result, dict):
        tune.report(_clean(result))
        return
    if result is None or not (inspect.isgenerator(result) or hasattr(result, "__iter__")):
        raise TypeError(f"{fn_path} returned {type(result).__name__}; expected a dict of metrics or an iterator of dicts")
    for step in result:
        if not isinstance(step, dict):
            raise TypeError(f"{fn_path} yielded {type(step).__name__}; expected a dict of metrics")
        tune.report(_clean(step))


def _clean(metrics: dict[str, Any]) -> dict[str, Any]:
    """Plain floats for numpy scalars; NaN/inf kept (searchers and results handle them)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if hasattr(value, "item") and callable(value.item):
            value = value.item()
        out[key] = value
    return out


def is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

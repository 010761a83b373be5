"""Parameter importance with Optuna's fANOVA evaluator over the experiment's trials.

The trials go into an in-memory Optuna study (``optuna.trial.create_trial``) with
distributions from the spec's space, widened to the values seen (PBT mutates configs
beyond the initial ranges); Optuna computes the importances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from raytuner.results.experiment import finite_number

METHOD = "fANOVA (optuna.importance.FanovaImportanceEvaluator)"
MIN_TRIALS = 4


@dataclass(frozen=True)
class Importance:
    """Importances by parameter (largest first), the method, or why there are none."""

    method: str
    values: dict[str, float] = field(default_factory=dict)
    skipped: str | None = None


def distribution(param: Any, seen: list[Any]) -> Any:
    """An Optuna distribution for a spec Param covering the values ``seen``."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    numbers = [float(v) for v in seen if finite_number(v)]
    if param.type == "float":
        low, high = min([param.low, *numbers]), max([param.high, *numbers])
        return FloatDistribution(low, high, log=param.log and low > 0)
    if param.type == "int":
        low, high = int(min([param.low, *numbers])), int(math.ceil(max([param.high, *numbers])))
        return IntDistribution(low, high, log=param.log and low > 0)
    choices = [_choice(v) for v in [*param.values, *seen]]
    return CategoricalDistribution(list(dict.fromkeys(choices)))


def _choice(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy scalars from the table
        value = value.item()
    if isinstance(value, float) and math.isnan(value):  # pandas' missing value: the spec's null
        return None
    return value if value is None or isinstance(value, (bool, int, float, str)) else repr(value)


def param_importance(trials: pd.DataFrame, params: dict[str, Any], mode: str | None, *, seed: int = 0) -> Importance:
    """Importances of the tuned ``params`` (name -> spec Param) over ``trials`` (read_experiment's table)."""
    names = [n for n in params if f"config.{n}" in trials]
    if len(names) < 2:
        return Importance(METHOD, skipped=f"fewer than 2 tuned parameters ({len(names)})")
    scored = trials[[(s == "ok") and finite_number(v) for s, v in zip(trials["status"], trials["score"])]]
    if len(scored) < MIN_TRIALS:
        return Importance(METHOD, skipped=f"too few finished trials with a score ({len(scored)}; needs {MIN_TRIALS})")
    if scored["score"].nunique() < 2:
        return Importance(METHOD, skipped="every trial has the same score")
    try:
        import optuna
    except ImportError:
        return Importance(METHOD, skipped="optuna is not installed (pip install 'raytuner[search]')")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {n: distribution(params[n], list(scored[f"config.{n}"])) for n in names}
    study = optuna.create_study(direction="maximize" if mode == "max" else "minimize")
    for _, row in scored.iterrows():
        values = {n: _value(params[n], row[f"config.{n}"]) for n in names}
        study.add_trial(optuna.trial.create_trial(params=values, distributions=dists, value=float(row["score"])))
    evaluator = optuna.importance.FanovaImportanceEvaluator(seed=seed)
    try:
        values = optuna.importance.get_param_importances(study, evaluator=evaluator, normalize=True)
    except (ValueError, RuntimeError) as exc:
        return Importance(METHOD, skipped=f"Optuna could not compute it ({exc})")
    return Importance(METHOD, values={k: float(v) for k, v in values.items()})


def _value(param: Any, value: Any) -> Any:
    if param.type == "float":
        return float(value)
    if param.type == "int":
        return int(value)
    return _choice(value)

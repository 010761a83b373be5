"""Ensembles of the top-k configurations of a search (the ensemble methods registry).

``build_ensemble`` takes unfitted estimators (best first), the search rows and the
search's CV splits, computes every member's out-of-fold predictions (as Ray tasks
when Ray is up), lets the method choose from them, refits the members on all search
rows and returns the fitted ensemble with what was decided. Adding a method is one
module and one line here.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from raytuner.spec.registry import Registry

ENSEMBLE_METHODS: Registry[Any] = Registry("ensemble method", "ensemble.method")
ENSEMBLE_METHODS.add("greedy", "raytuner.ensemble._greedy:GreedyMethod", "ensemble selection with replacement on OOF predictions (Caruana et al. 2004)")
ENSEMBLE_METHODS.add("voting", "raytuner.ensemble._voting:VotingMethod", "equal-weight soft or hard voting (averaging for regression)")
ENSEMBLE_METHODS.add("average", "raytuner.ensemble._voting:AverageMethod", "mean of the members' probabilities or predictions")
ENSEMBLE_METHODS.add("stacking", "raytuner.ensemble._stacking:StackingMethod", "a final estimator fitted on the members' OOF predictions")


def make_method(name: str, options: dict[str, Any] | None = None, path: str = "ensemble") -> Any:
    """The method object for a name and its options (SpecError naming the field when invalid)."""
    from raytuner.errors import SpecError
    from raytuner.spec.loader import validate_options

    cls = ENSEMBLE_METHODS.get(name, f"{path}.method")
    fields = cls.Options.model_fields
    for key in options or {}:
        if key not in fields:
            raise SpecError.at(f"{path}.options.{key}", (options or {})[key],
                               f"an option of the {name!r} method: {', '.join(fields) or 'it takes none'}")
    return cls(validate_options(cls.Options, options or {}, f"{path}.options"))


def build_ensemble(
    estimators: list[Any],
    X: Any,
    y: Any,
    splits: list[tuple[np.ndarray, np.ndarray]],
    scorer: Callable[..., float],
    method: str = "greedy",
    options: dict[str, Any] | None = None,
    *,
    task: str,
    num_cpus: float = 1.0,
) -> tuple[Any, dict[str, Any]]:
    """Fit an ensemble of ``estimators`` (best first) on the search rows only; return (model, info)."""
    from raytuner.ensemble.core import PredictionScorer, map_tasks, member_oof_and_fit

    chosen = make_method(method, options)
    if len(estimators) < 2:
        raise ValueError(f"an ensemble needs at least 2 distinct configs (got {len(estimators)})")
    y = np.asarray(y)
    classes = np.unique(y) if task == "classification" else None
    results = map_tasks(member_oof_and_fit, [(est, X, y, splits, classes) for est in estimators], num_cpus)
    oof = [r[0] for r in results]
    members = [r[1] for r in results]
    score = PredictionScorer(scorer, y, classes)
    selection = chosen.select(oof, y, score, task)
    model = chosen.model(members, selection, task)
    if classes is not None:
        model.classes_ = classes
    info = {
        "method": method,
        "options": dict(options or {}),
        "members": len(estimators),
        "weights": [round(float(w), 6) for w in selection.weights],
        "oof_score": float(selection.oof_score),
        **{k: v for k, v in selection.details.items() if k != "final_estimator"},
    }
    return model, info


__all__ = ["ENSEMBLE_METHODS", "build_ensemble", "make_method"]

"""A choice of estimators in the space: alternative model families, each with its own parameters.

A top-level space entry whose choice values are all sub-spaces with a fixed ``estimator``
(an import path)::

    space:
      model:
        type: choice
        values:
          - {estimator: sklearn.linear_model.LogisticRegression, C: {type: float, low: 0.01, high: 10, log: true}}
          - {estimator: sklearn.ensemble.HistGradientBoostingClassifier, learning_rate: {type: float, low: 0.01, high: 0.3}}

Each trial gets the chosen branch resolved (``{model: {estimator: ..., C: 0.3}}``): its
``estimator`` replaces ``trainable.estimator`` (which may then be left out), its other keys
are that estimator's parameters (``step__param`` names for nested mappings); the space's
other entries and ``trainable.params`` apply to every family. ``random_state`` and
``n_jobs`` default to the seed and the trial's CPUs for whichever family is chosen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from raytuner.errors import MISSING, SpecError
from raytuner.spec.params import ChoiceParam, ConditionalParam, FixedParam, Space, parse_space
from raytuner.spec.registry import import_object

ESTIMATOR_KEY = "estimator"


@dataclass(frozen=True)
class Family:
    """One branch of a choice of estimators."""

    index: int
    estimator: str  # import path
    space: Space  # its own parameters (without ``estimator``)
    field: str  # where it is in the spec: space.<key>.values.<index>


@dataclass(frozen=True)
class EstimatorChoice:
    key: str  # the space entry that holds the choice
    families: tuple[Family, ...]
    others: Space  # the rest of the space (applies to every family)


def _branches(node: Any) -> list[Any] | None:
    if isinstance(node, ConditionalParam):
        return list(node.branches)
    if isinstance(node, ChoiceParam) and node.values and all(isinstance(v, dict) for v in node.values):
        return [parse_space(v) for v in node.values]  # plain mappings: fixed sub-spaces
    return None


def estimator_choice(space: Space) -> EstimatorChoice | None:
    """The space's choice of estimators, or None; SpecError for a half-made one (several,
    or branches without an ``estimator`` beside branches with one)."""
    found: list[EstimatorChoice] = []
    for key, node in space.items():
        branches = _branches(node)
        if not branches or not any(isinstance(b, dict) and ESTIMATOR_KEY in b for b in branches):
            continue
        families = []
        for i, branch in enumerate(branches):
            field = f"space.{key}.values.{i}"
            path = branch.get(ESTIMATOR_KEY) if isinstance(branch, dict) else None
            if not (isinstance(path, FixedParam) and isinstance(path.value, str)):
                expected = "an estimator import path (a fixed string) in every value of a choice of estimators"
                if not isinstance(branch, dict):
                    raise SpecError.at(field, branch, expected)
                value = MISSING if path is None else (path.model_dump() if hasattr(path, "model_dump") else path)
                raise SpecError.at(f"{field}.{ESTIMATOR_KEY}", value, expected)
            own = {k: v for k, v in branch.items() if k != ESTIMATOR_KEY}
            families.append(Family(index=i, estimator=path.value, space=own, field=field))
        found.append(EstimatorChoice(key=key, families=tuple(families),
                                     others={k: v for k, v in space.items() if k != key}))
    if len(found) > 1:
        raise SpecError.at("space", [c.key for c in found], "one choice of estimators (not several)")
    return found[0] if found else None


def family_class(family: Family) -> Any:
    from sklearn.base import BaseEstimator

    cls = import_object(family.estimator, f"{family.field}.{ESTIMATOR_KEY}")
    if not (isinstance(cls, type) and hasattr(cls, "fit") and issubclass(cls, BaseEstimator)):
        raise SpecError.at(f"{family.field}.{ESTIMATOR_KEY}", family.estimator, "a scikit-learn estimator class")
    return cls


def split_config(key: str, config: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A trial's config -> (the chosen estimator's import path, its parameters: the branch's and the rest)."""
    branch = dict(config[key])
    path = branch.pop(ESTIMATOR_KEY)
    rest = {k: v for k, v in config.items() if k != key}
    return path, {**rest, **branch}

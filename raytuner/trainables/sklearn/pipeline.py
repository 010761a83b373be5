"""scikit-learn Pipelines from a spec: steps by import path, and step choices from the space.

A step is an estimator (``estimator`` + ``params``) or a set of named ``options``;
the space picks an option with ``STEP: {type: choice, values: [names]}`` (a value may
also be an import path or ``passthrough``). Step parameters are nested space entries
(``clf: {C: ...}`` -> ``clf__C``). Every step's ``random_state`` and ``n_jobs`` default
to the spec's seed and the trial's CPUs, whichever option is chosen.
"""

from __future__ import annotations

from typing import Any, Callable

from raytuner.errors import SpecError
from raytuner.spec.params import ChoiceParam, FixedParam, GridParam, Space
from raytuner.spec.registry import import_object
from raytuner.spec.sklearn import PipelineStepSpec, SklearnTrainableSpec
from raytuner.trainables.sklearn.setup import PipelineSetup

PASSTHROUGH = "passthrough"


def pipeline_setup(steps: list[PipelineStepSpec], seed: int | None, n_jobs: int | None) -> PipelineSetup:
    """What a trial needs to build the pipeline (frozen, picklable)."""
    return PipelineSetup(steps=tuple(steps), seed=seed, n_jobs=n_jobs)


def _options(step: PipelineStepSpec) -> dict[str, tuple[str, dict[str, Any]]]:
    """{option name: (estimator path, fixed params)}; a plain estimator step is one option, 'default'."""
    if step.options:
        return {name: (option.estimator, dict(option.params)) for name, option in step.options.items()}
    return {"default": (step.estimator or PASSTHROUGH, dict(step.params))}


def make_step(choice: Any, step: PipelineStepSpec, field: str, seed: int | None = None, n_jobs: int | None = None) -> Any:
    """An unfitted estimator (or 'passthrough') for one step and the chosen option."""
    options = _options(step)
    if choice is None:
        choice = next(iter(options))
    if choice == PASSTHROUGH or (isinstance(choice, str) and choice in options and options[choice][0] == PASSTHROUGH):
        return PASSTHROUGH
    if isinstance(choice, str) and choice in options:
        path, params = options[choice]
    elif isinstance(choice, str) and "." in choice:
        path, params = choice, {}
    else:
        raise SpecError.at(field, choice, f"an option of step {step.name!r} ({', '.join(options)}), an import path or 'passthrough'")
    from sklearn.base import BaseEstimator

    cls = import_object(path, field)
    if not (isinstance(cls, type) and issubclass(cls, BaseEstimator)):
        raise SpecError.at(field, path, "a scikit-learn estimator class")
    try:
        estimator = cls(**params)
    except TypeError as exc:
        raise SpecError.at(field, params, f"constructor arguments of {cls.__name__} ({exc})") from None
    defaults = estimator.get_params(deep=False)
    if defaults.get("random_state", 0) is None and seed is not None:
        estimator.set_params(random_state=seed)
    if "n_jobs" in defaults and defaults["n_jobs"] is None and n_jobs is not None and n_jobs > 1:
        estimator.set_params(n_jobs=n_jobs)
    return estimator


def build_pipeline(setup: PipelineSetup, fixed: dict[str, Any], config: dict[str, Any]) -> Any:
    """The Pipeline for one config: step choices first, then fixed and tuned parameters."""
    from sklearn.pipeline import Pipeline

    from raytuner.trainables.sklearn.names import estimator_params

    names = setup.names
    choices = {k: v for k, v in config.items() if k in names and not isinstance(v, dict)}
    rest = {k: v for k, v in config.items() if k not in choices}
    pipe = Pipeline([
        (step.name, make_step(choices.get(step.name), step, f"space.{step.name}", setup.seed, setup.n_jobs))
        for step in setup.steps
    ])
    return pipe.set_params(**fixed, **estimator_params(rest))


def pipeline_factory(steps: list[PipelineStepSpec]) -> Callable[..., Any]:
    """``factory(**params)`` -> the default Pipeline with fixed params (for checks before Ray)."""
    setup = pipeline_setup(steps, None, None)

    def Pipeline(**params: Any) -> Any:  # noqa: N802 - named like the class for messages
        try:
            return build_pipeline(setup, params, {})
        except ValueError as exc:
            raise SpecError.at("trainable.params", params, f"parameters of the pipeline's steps ({exc})") from None

    return Pipeline


def _step_choices(step: PipelineStepSpec, node: Any) -> list[Any]:
    if node is None:
        return [None]
    if isinstance(node, (ChoiceParam, GridParam)):
        return list(node.values)
    if isinstance(node, FixedParam):
        return [node.value]
    raise SpecError.at(f"space.{step.name}", node.model_dump(), "a choice, grid or fixed value of step options")


def check_pipeline_space(spec: SklearnTrainableSpec, space: Space) -> set[str]:
    """Validate step choices and step parameters against every option a step may take.

    Returns the parameter names valid for the pipeline (so the generic check accepts them).
    """
    from sklearn.pipeline import Pipeline

    from raytuner.trainables.sklearn.names import estimator_params, tree_names

    steps = spec.pipeline or []
    by_name = {step.name: step for step in steps}
    valid = set(Pipeline([("x", PASSTHROUGH)]).get_params(deep=False)) - {"x"}
    per_step: dict[str, list[set[str] | None]] = {}
    for step in steps:
        node = space.get(step.name)
        if isinstance(node, dict):  # a nested space of the step's parameters, not a choice
            node = None
        possible = []
        for choice in _step_choices(step, node):
            estimator = make_step(choice, step, f"space.{step.name}")
            possible.append(None if estimator == PASSTHROUGH else set(estimator.get_params(deep=True)))
        per_step[step.name] = possible
        valid.add(step.name)
    tuned = list(estimator_params(tree_names(space))) + list(spec.params)
    for name in tuned:
        head, sep, rest = name.partition("__")
        if not sep:
            if name not in valid:
                raise SpecError.at(f"space.{name}", name, f"a pipeline step ({', '.join(by_name)}) or pipeline parameter")
            continue
        if head not in per_step:
            raise SpecError.at("space." + name.replace("__", "."), name, f"a parameter of a pipeline step ({', '.join(by_name)})")
        for params in per_step[head]:
            if params is None or rest not in params:
                raise SpecError.at(
                    "space." + name.replace("__", "."), name,
                    f"a parameter of every option step {head!r} may take "
                    f"({'passthrough has none' if params is None else ', '.join(sorted(p for p in params if '__' not in p))})",
                )
        valid.add(name)
    return valid

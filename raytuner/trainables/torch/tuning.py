"""Tuned values onto the torch spec: a space path mirrors a spec field (no torch here).

``space.optimizer.lr`` tunes ``trainable.optimizer.lr``; every trial's config is
merged into the spec and validated again, so a sampled value obeys the same rules
as a written one. Before Ray starts, :func:`check_space` tries each parameter's
extreme values (low/high, every choice) against the spec, so a range that can
produce an invalid value is a SpecError naming the space path.
"""

from __future__ import annotations

import copy
from typing import Any, Iterator, Mapping

from pydantic import ValidationError

from raytuner.errors import Problem, SpecError
from raytuner.spec.params import ChoiceParam, FixedParam, FloatParam, GridParam, IntParam, Space, iter_params
from raytuner.spec.torch import TorchTrainableSpec

# Fields fixed per experiment: they shape the trial's resources or identity.
NOT_TUNABLE = frozenset({"type", "params", "workers", "device", "threads", "train_step", "eval_step"})
TUNABLE = tuple(f for f in TorchTrainableSpec.model_fields if f not in NOT_TUNABLE)


def has_user_functions(spec: TorchTrainableSpec) -> bool:
    hooks = spec.train_step is not None or spec.eval_step is not None
    return spec.model.type == "build" or spec.data.load is not None or hooks


def _merge(base: Any, update: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(update, Mapping):
        out = dict(base)
        for key, value in update.items():
            out[key] = _merge(out.get(key), value) if key in out else copy.deepcopy(value)
        return out
    return copy.deepcopy(update)


def effective_spec(spec: TorchTrainableSpec, config: Mapping[str, Any]) -> TorchTrainableSpec:
    """The spec with a trial's tuned values put in; ValueError names a bad value."""
    tuned = {k: v for k, v in config.items() if k in TUNABLE}
    if not tuned:
        return spec
    data = _merge(spec.model_dump(), tuned)  # python mode: user code given as objects stays objects
    try:
        return TorchTrainableSpec.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"the trial's config does not fit the torch spec: {exc}") from None


def user_config(spec: TorchTrainableSpec, config: Mapping[str, Any]) -> dict[str, Any]:
    """What build/load functions get: fixed params, then the trial's config."""
    return {**spec.params, **config}


def _candidates(param: Any) -> Iterator[Any]:
    if isinstance(param, (FloatParam, IntParam)):
        yield param.low
        yield param.high
    elif isinstance(param, (ChoiceParam, GridParam)):
        yield from param.values
    elif isinstance(param, FixedParam):
        yield param.value


def _set(data: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(data)
    node = out
    for key in path[:-1]:
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    node[path[-1]] = value
    return out


def check_space(spec: TorchTrainableSpec, space: Space) -> int:
    """Raise SpecError for space paths that are no tunable field or reach bad values.

    Returns the most epochs (fine-tuning included) any trial can report.
    """
    base = spec.model_dump(mode="json")
    user_ok = has_user_functions(spec)
    most = spec.total_epochs()
    problems: list[Problem] = []
    for path, param in iter_params(space):
        where = "space." + ".".join(path)
        top = path[0]
        if top in NOT_TUNABLE:
            problems.append(Problem(where, top, f"a tunable field; {top} is fixed per experiment (set trainable.{top})"))
            continue
        if top not in TUNABLE:
            if not user_ok:
                problems.append(Problem(
                    where, top,
                    "a field of the torch trainable to tune (" + ", ".join(TUNABLE) + "); other keys "
                    "are only for model.type: build or data.load functions (and train_step/eval_step)",
                ))
            continue
        if len(path) == 1 and top in ("model", "data", "optimizer", "schedule"):
            problems.append(Problem(where, top, f"a field inside {top}, e.g. space.{top}.<field>"))
            continue
        for value in _candidates(param):
            try:
                trial = TorchTrainableSpec.model_validate(_set(base, path, value))
            except ValidationError as exc:
                err = exc.errors(include_url=False)[0]
                msg = str(err["msg"]).removeprefix("Value error, ")
                if err["type"] == "extra_forbidden":
                    msg = "a field of trainable." + ".".join(str(p) for p in err["loc"][:-1]) + " (a typo?)"
                problems.append(Problem(where, value, msg))
                break
            most = max(most, trial.total_epochs())
    if problems:
        raise SpecError(problems)
    return most


# -- what PBT/PB2 may mutate -------------------------------------------------------

SECTIONS = ("model", "data", "optimizer", "early_stopping")  # sections that declare pbt_mutable fields


def mutation_refusal(spec: TorchTrainableSpec, path: tuple[str, ...],
                     declared: frozenset[str] = frozenset()) -> str | None:
    """Why a PBT clone cannot continue from its donor's checkpoint with the value at ``path``
    changed; None when it can. What is safe is declared by the spec's classes (``pbt_mutable``:
    fields that keep the parameters' shapes and that the restored state does not overwrite);
    ``declared``: what a user's model class or build function declares (``raytuner_mutable``)
    for ``model.args`` (class) or its own config keys (build)."""
    top, rest = path[0], ".".join(path[1:])
    if top not in TUNABLE:  # a key for the user's build/load functions
        return None if top in declared else (
            f"a value your build or load function declares safe to mutate (set raytuner_mutable = ({top!r},) "
            "on it if the model's parameter shapes stay the same)")
    if not rest:
        return None if top in TorchTrainableSpec.pbt_mutable else f"a field PBT can mutate ({_listed(spec)})"
    if top == "model" and path[1] == "args" and len(path) == 3:
        return None if path[2] in declared else (
            f"an argument the model class declares safe to mutate (set raytuner_mutable = ({path[2]!r},) on "
            "the class if it keeps the parameter shapes); PBT clones load the donor's weights")
    section = getattr(spec, top, None) if top in SECTIONS else None
    safe = type(section).pbt_mutable if section is not None else frozenset()
    if rest in safe:
        return None
    if top == "model":
        kind = getattr(spec.model, "type", "model")
        allowed = ", ".join(sorted(safe)) or "none"
        return (f"a field that keeps the model's parameter shapes (PBT clones load the donor's weights; "
                f"model type {kind!r} allows: {allowed}); tune {'.'.join(path)} with the strategy and "
                "leave it out of the mutations")
    if top == "schedule":
        return "not a schedule field: a clone restores its donor's schedule, with its settings (mutate optimizer.lr)"
    return f"a field PBT can mutate ({_listed(spec)})"


def _listed(spec: TorchTrainableSpec) -> str:
    names = sorted(TorchTrainableSpec.pbt_mutable)
    for top in SECTIONS:
        section = getattr(spec, top, None)
        if section is not None:
            names += [f"{top}.{name}" for name in sorted(type(section).pbt_mutable)]
    return ", ".join(names)

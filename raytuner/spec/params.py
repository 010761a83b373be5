"""The search-space DSL as typed, validated models (no Ray here).

A space is a mapping of names to nodes. A node is

* a parameter: a mapping with a ``type`` key (``float``, ``int``, ``choice``,
  ``grid``, ``fixed``), validated by the model registered for that type;
* a nested space: a mapping without a ``type`` key;
* a fixed value: anything else (number, string, list, null).

:func:`parse_space` turns raw YAML data into that tree and reports problems with
their full path (``space.model.lr.low``). :mod:`raytuner.spec.space` is the only module
that turns the tree into Ray Tune domains.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Literal, Mapping, Union

from pydantic import BaseModel, ConfigDict, ValidationError, model_serializer, model_validator

from raytuner.errors import MISSING, Problem, SpecError


class _Param(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @property
    def is_numeric(self) -> bool:
        return False


class FloatParam(_Param):
    """A real number in [low, high], sampled uniformly or log-uniformly, optionally on a grid of step q."""

    type: Literal["float"] = "float"
    low: float
    high: float
    log: bool = False
    q: float | None = None

    @model_validator(mode="after")
    def _check(self) -> "FloatParam":
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low and high must be finite numbers")
        if self.low >= self.high:
            raise ValueError(f"low < high (got low={self.low}, high={self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"low > 0 for a log scale (got low={self.low})")
        if self.q is not None and self.q <= 0:
            raise ValueError(f"q > 0 (got q={self.q})")
        return self

    @property
    def is_numeric(self) -> bool:
        return True


class IntParam(_Param):
    """An integer in [low, high] (both inclusive), uniform or log, optionally every `step`."""

    type: Literal["int"] = "int"
    low: int
    high: int
    log: bool = False
    step: int = 1

    @model_validator(mode="after")
    def _check(self) -> "IntParam":
        if self.low >= self.high:
            raise ValueError(f"low < high (got low={self.low}, high={self.high})")
        if self.log and self.low <= 0:
            raise ValueError(f"low > 0 for a log scale (got low={self.low})")
        if self.step < 1:
            raise ValueError(f"step >= 1 (got step={self.step})")
        return self

    @property
    def is_numeric(self) -> bool:
        return True

    def values(self) -> list[int]:
        return list(range(self.low, self.high + 1, self.step))


class ChoiceParam(_Param):
    """One of a list of values, sampled (categorical)."""

    type: Literal["choice"] = "choice"
    values: list[Any]

    @model_validator(mode="after")
    def _check(self) -> "ChoiceParam":
        if not self.values:
            raise ValueError("a non-empty list of values")
        return self


class GridParam(_Param):
    """Every value of the list is tried (crossed with the other grid parameters)."""

    type: Literal["grid"] = "grid"
    values: list[Any]

    @model_validator(mode="after")
    def _check(self) -> "GridParam":
        if not self.values:
            raise ValueError("a non-empty list of values")
        return self


class ConditionalParam(_Param):
    """A ``choice`` whose values are sub-spaces (each a mapping of names to nodes) or plain
    values: one branch is chosen per trial, then that branch's own parameters are sampled.
    Written as ``{type: choice, values: [{...}, {...}]}``; parsed into this class when a
    value holds a parameter node. The trial's config holds the chosen branch resolved (a
    mapping of values), or the plain value. Strategies list ``conditional`` in
    ``supports`` when they search it (see the README: conditional spaces)."""

    type: Literal["conditional"] = "conditional"
    branches: list[Any]  # Space (dict of nodes) or a plain value, in the order written

    @model_serializer(mode="plain")
    def _dump(self) -> dict[str, Any]:  # written back as the user wrote it: a choice
        return {"type": "choice", "values": [space_to_data(b) if isinstance(b, dict) else b for b in self.branches]}

    def branch_spaces(self) -> list[tuple[int, "Space"]]:
        return [(i, b) for i, b in enumerate(self.branches) if isinstance(b, dict)]


class FixedParam(_Param):
    """A constant: the same value in every trial."""

    type: Literal["fixed"] = "fixed"
    value: Any = None


Param = Union[FloatParam, IntParam, ChoiceParam, GridParam, FixedParam, ConditionalParam]

# the kinds a user writes (a ConditionalParam is written as a choice of sub-spaces)
PARAM_TYPES: dict[str, type[_Param]] = {
    "float": FloatParam,
    "int": IntParam,
    "choice": ChoiceParam,
    "grid": GridParam,
    "fixed": FixedParam,
}

Space = dict[str, Any]  # name -> Param | Space


def parse_space(raw: Any, path: str = "space") -> Space:
    """Validate raw data into a space tree; raise SpecError with every problem found."""
    problems: list[Problem] = []
    tree = _parse_mapping(raw, path, problems)
    if problems:
        raise SpecError(problems)
    return tree


def _parse_mapping(raw: Any, path: str, problems: list[Problem]) -> Space:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.append(Problem(path, raw, "a mapping of parameter names to definitions"))
        return {}
    tree: Space = {}
    for key, node in raw.items():
        if not isinstance(key, str) or not key:
            problems.append(Problem(path, key, "parameter names that are non-empty strings"))
            continue
        tree[key] = _parse_node(node, f"{path}.{key}", problems)
    return tree


def _parse_node(node: Any, path: str, problems: list[Problem]) -> Any:
    if isinstance(node, _Param):
        return node
    if isinstance(node, Mapping):
        if "type" not in node:
            return _parse_mapping(node, path, problems)
        kind = node["type"]
        model = PARAM_TYPES.get(kind) if isinstance(kind, str) else None
        if model is None:
            problems.append(
                Problem(f"{path}.type", kind, f"one of {', '.join(PARAM_TYPES)}")
            )
            return None
        try:
            param = model.model_validate(dict(node))
        except ValidationError as exc:
            for err in exc.errors():
                loc = ".".join(str(p) for p in err["loc"])
                where = f"{path}.{loc}" if loc else path
                value = err.get("input", MISSING) if err["type"] != "missing" else MISSING
                if not loc:
                    value = dict(node)
                problems.append(Problem(where, value, _expected(err)))
            return None
        if isinstance(param, (ChoiceParam, GridParam)):
            return _sub_spaces(param, path, problems)
        return param
    return FixedParam(value=node)


def _holds_param(value: Any) -> bool:
    """Whether a plain-looking value holds a parameter node (a mapping with a ``type``) anywhere."""
    if isinstance(value, Mapping):
        return "type" in value or any(_holds_param(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_param(v) for v in value)
    return False


def _sub_spaces(param: Any, path: str, problems: list[Problem]) -> Any:
    """A choice whose values hold parameter nodes -> a ConditionalParam (each mapping value a
    sub-space); a parameter node where a plain value is expected -> a problem, never a trial's dict."""
    if not any(_holds_param(v) for v in param.values):
        return param
    branches: list[Any] = []
    for i, value in enumerate(param.values):
        where = f"{path}.values.{i}"
        if isinstance(value, Mapping) and "type" in value:
            problems.append(Problem(where, dict(value), "a plain value or a sub-space (a mapping of names to "
                                    "parameters, e.g. {lr: {type: float, ...}}); a parameter node is not a value"))
        elif isinstance(param, GridParam) and _holds_param(value):
            problems.append(Problem(where, value, "plain values for a grid (sub-spaces are for type: choice)"))
        elif isinstance(value, Mapping):
            branch = _parse_mapping(value, where, problems)
            for sub, node in iter_params(branch):
                if isinstance(node, GridParam):
                    problems.append(Problem(f"{where}.{'.'.join(sub)}", node.model_dump(), "no grid inside a "
                                            "sub-space of a choice (only its branch is searched): use type: choice"))
            branches.append(branch)
        elif _holds_param(value):
            problems.append(Problem(where, value, "a plain value (a parameter node inside a list is never sampled)"))
        else:
            branches.append(value)
    return ConditionalParam(branches=branches)


def _expected(err: Any) -> str:
    msg = str(err["msg"])
    for prefix in ("Value error, ", "Input should be "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    if err["type"] == "missing":
        return "this field to be set"
    if err["type"] == "extra_forbidden":
        return "no such field (a typo?)"
    return msg


def iter_params(space: Space, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Yield (path, param) for every leaf of a space tree, depth first (a ConditionalParam
    is one leaf: its branches are spaces of their own, see ``ConditionalParam.branch_spaces``)."""
    for key, node in space.items():
        if isinstance(node, dict):
            yield from iter_params(node, prefix + (key,))
        else:
            yield prefix + (key,), node


def space_to_data(space: Space) -> dict[str, Any]:
    """The JSON-able form of a space (for summaries and schema round trips)."""
    out: dict[str, Any] = {}
    for key, node in space.items():
        out[key] = space_to_data(node) if isinstance(node, dict) else node.model_dump()
    return out


def grid_size(space: Space) -> int:
    size = 1
    for _, param in iter_params(space):
        if isinstance(param, GridParam):
            size *= len(param.values)
    return size


def split_grid(space: Space) -> tuple[Space, list[tuple[tuple[str, ...], list[Any]]]]:
    """(the space without its grid parameters, [(path, values)] of each grid axis, in order)."""
    axes: list[tuple[tuple[str, ...], list[Any]]] = []

    def strip(node: Space, prefix: tuple[str, ...]) -> Space:
        out: Space = {}
        for key, value in node.items():
            if isinstance(value, dict):
                out[key] = strip(value, prefix + (key,))
            elif isinstance(value, GridParam):
                axes.append((prefix + (key,), list(value.values)))
            else:
                out[key] = value
        return out

    return strip(space, ()), axes

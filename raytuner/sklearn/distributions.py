"""scikit-learn / scipy parameter distributions -> raytuner's space DSL (the one place).

``param_distributions`` may mix

* lists of values (``{"C": [0.1, 1, 10]}``): a ``choice`` (every value once with the
  ``grid`` strategy);
* scipy.stats frozen distributions: ``uniform``, ``loguniform`` / ``reciprocal``
  (also ``sklearn.utils.fixes.loguniform``) -> ``float``; ``randint`` -> ``int``;
* raytuner DSL nodes (``{"type": "float", "low": 1e-3, "high": 1, "log": True}`` or a
  ``raytuner.spec.params`` model).

A list of several dicts is a choice of sub-spaces (see :func:`to_space`).
Values that are not plain JSON scalars (estimators, tuples, callables) are searched
as string labels (their ``repr``) and decoded back in each trial, so every searcher
sees a categorical space it understands and leaderboards stay readable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from raytuner.spec.params import (
    ChoiceParam,
    FixedParam,
    FloatParam,
    IntParam,
    PARAM_TYPES,
    Space,
    _Param,
    parse_space,
)

_PLAIN = (type(None), bool, int, float, str)


SUBSPACE = "subspace"


@dataclass
class Decoder:
    """Search config -> estimator params: labels back to values; sub-space names back to params.

    ``tables``: label -> original value, per searched name whose values are not JSON
    scalars. ``subspaces`` (a list of parameter dicts): per sub-space, searched name
    (``C@1``) -> parameter name (``C``); the config's ``subspace`` picks one.
    """

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    subspaces: list[dict[str, str]] | None = None

    def value(self, key: str, value: Any) -> Any:
        table = self.tables.get(key)
        return table[value] if table is not None and isinstance(value, str) and value in table else value

    def decode(self, config: Mapping[str, Any]) -> dict[str, Any]:
        if self.subspaces is not None:
            names = self.subspaces[int(config[SUBSPACE])]
            return {param: self.value(key, config[key]) for key, param in names.items()}
        return {key: self.value(key, value) for key, value in config.items()}

    def param_names(self, space: Space) -> list[str]:
        if self.subspaces is None:
            return list(space)
        return list(dict.fromkeys(p for names in self.subspaces for p in names.values()))


def _plain(value: Any) -> bool:
    if isinstance(value, np.generic):
        return True
    return isinstance(value, _PLAIN)


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _labels(values: list[Any]) -> dict[str, Any]:
    table: dict[str, Any] = {}
    for value in values:
        label = repr(value)
        if len(label) > 120:
            label = label[:117] + "..."
        base, n = label, 2
        while label in table:
            label, n = f"{base} #{n}", n + 1
        table[label] = value
    return table


def _distribution(name: str, dist: Any) -> _Param:
    """A frozen scipy.stats distribution as a DSL node, or TypeError naming what is supported."""
    family = getattr(getattr(dist, "dist", None), "name", None)
    if family == "uniform":
        low, high = dist.support()
        return FloatParam(low=float(low), high=float(high))
    if family in ("loguniform", "reciprocal"):
        low, high = dist.support()
        return FloatParam(low=float(low), high=float(high), log=True)
    if family == "randint":
        low, high = dist.support()  # support() is inclusive for discrete distributions
        return IntParam(low=int(low), high=int(high))
    raise TypeError(
        f"parameter {name!r}: the scipy distribution {family!r} has no raytuner equivalent; "
        "use uniform, loguniform (reciprocal), randint, a list of values or a raytuner space "
        "node such as {'type': 'float', 'low': ..., 'high': ..., 'log': True}"
    )


def convert_node(name: str, node: Any, decoder: Decoder) -> Any:
    if isinstance(node, _Param):
        return node
    if isinstance(node, Mapping) and "type" in node and node["type"] in PARAM_TYPES:
        return parse_space({name: dict(node)}, "param_distributions")[name]
    if hasattr(node, "rvs") and hasattr(node, "dist"):
        return _distribution(name, node)
    if hasattr(node, "rvs"):
        raise TypeError(f"parameter {name!r}: only frozen scipy.stats distributions are supported (got {node!r})")
    if isinstance(node, (str, bytes)) or not hasattr(node, "__iter__") or isinstance(node, Mapping):
        raise TypeError(
            f"Parameter grid for parameter {name!r} needs to be a list, a numpy array, "
            f"a scipy distribution or a raytuner space node, but got {node!r} (of type "
            f"{type(node).__name__}) instead. Single values need to be wrapped in a list "
            "with one element."
        )
    values = list(node)
    if not values:
        raise ValueError(f"Parameter grid for parameter {name!r} need to be a non-empty sequence, got: {node!r}")
    if all(_plain(v) for v in values):
        plain = [_scalar(v) for v in values]
        return FixedParam(value=plain[0]) if len(plain) == 1 else ChoiceParam(values=plain)
    table = _labels(values)
    decoder.tables[name] = table
    labels = list(table)
    return FixedParam(value=labels[0]) if len(labels) == 1 else ChoiceParam(values=labels)


def to_space(param_distributions: Mapping[str, Any] | list[Mapping[str, Any]]) -> tuple[Space, Decoder]:
    """Convert scikit-learn style ``param_distributions`` into a raytuner space and a decoder.

    A list of several dicts (alternative sub-spaces, as GridSearchCV and
    RandomizedSearchCV take) becomes a ``subspace`` choice plus each sub-space's
    parameters under their own names (``C@0``, ``C@1``); a trial uses only the chosen
    sub-space's parameters.
    """
    if isinstance(param_distributions, (list, tuple)):
        dicts = list(param_distributions)
        if not dicts:
            raise ValueError("param_distributions is an empty list")
        if len(dicts) == 1:
            return to_space(dicts[0])
        decoder = Decoder(subspaces=[])
        space: Space = {SUBSPACE: ChoiceParam(values=list(range(len(dicts))))}
        for i, sub in enumerate(dicts):
            part, part_decoder = to_space(_mapping(sub))
            names = {}
            for name, node in part.items():
                space[f"{name}@{i}"] = node
                names[f"{name}@{i}"] = name
                if name in part_decoder.tables:
                    decoder.tables[f"{name}@{i}"] = part_decoder.tables[name]
            decoder.subspaces.append(names)  # type: ignore[union-attr]
        return space, decoder
    decoder = Decoder()
    space = {}
    for name, node in _mapping(param_distributions).items():
        if not isinstance(name, str):
            raise TypeError(f"parameter names must be strings (got {name!r})")
        space[name] = convert_node(name, node, decoder)
    return space, decoder


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"param_distributions must be a dict or a list of dicts (got {type(value).__name__})")
    return value


def grid_points(space: Space, decoder: Decoder) -> list[dict[str, Any]]:
    """Every point of a grid over choices, sub-space by sub-space (no cross-sub-space duplicates)."""
    from itertools import product

    def expand(names: list[str]) -> list[dict[str, Any]]:
        values = []
        for name in names:
            node = space[name]
            if isinstance(node, FixedParam):
                values.append([node.value])
            elif isinstance(node, ChoiceParam):
                values.append(list(node.values))
            elif isinstance(node, IntParam):
                values.append(node.values())
            else:
                raise ValueError(f"parameter {name!r}: the grid strategy takes lists of values (got {node.type})")
        return [dict(zip(names, combo)) for combo in product(*values)]

    if decoder.subspaces is None:
        return expand(list(space))
    # every strategy wants a value for every searched name: the other sub-spaces' names get
    # a valid placeholder, which the decoder ignores (the config's subspace picks the names)
    filler = {name: _any_value(node) for name, node in space.items() if name != SUBSPACE}
    return [{**filler, SUBSPACE: i, **point} for i, names in enumerate(decoder.subspaces) for point in expand(sorted(names))]


def _any_value(node: Any) -> Any:
    if isinstance(node, FixedParam):
        return node.value
    if isinstance(node, ChoiceParam):
        return node.values[0]
    return node.low  # int / float ranges

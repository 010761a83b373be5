"""Our search space as searchers see it: flat, typed dimensions with exact semantics.

Every model-based strategy searches an *encoded* space and lets :class:`Codec` turn
its suggestions back into configs:

* keys are the parameter paths joined by ``/`` (``model/lr``), values are
* floats in ``[low, high]`` (log-scaled where ``log``), snapped to ``low + k*q``
  when ``q`` is set;
* integers in ``[low, high]``, snapped to ``low + k*step``;
* the *index* of a ``choice`` value (so ``None``, strings, lists and mixed types
  work with every backend).

The unit-cube view (:meth:`Codec.to_unit` / :meth:`Codec.from_unit`) serves
backends that only know real vectors (bayes_opt, nevergrad): numbers map to [0, 1]
(on the log scale where ``log``), integers to bins centred on each value, choices
to one-hot blocks decoded by argmax.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from raytuner.errors import SpecError
from raytuner.spec.params import ChoiceParam, ConditionalParam, FixedParam, FloatParam, IntParam, Space, iter_params

SEP = "/"
BRANCH = "@"  # a choice of sub-spaces: ``path/@`` is the branch index, ``path/<i>/name`` branch i's parameters


@dataclass(frozen=True)
class Dim:
    """One tuned parameter."""

    path: tuple[str, ...]
    param: FloatParam | IntParam | ChoiceParam

    @property
    def key(self) -> str:
        return SEP.join(self.path)

    @property
    def kind(self) -> str:
        return self.param.type

    @property
    def log(self) -> bool:
        return bool(getattr(self.param, "log", False))

    @property
    def size(self) -> int:
        """Width in the unit-cube view."""
        return len(self.param.values) if isinstance(self.param, ChoiceParam) else 1

    # -- encoded value <-> user value ------------------------------------------
    def snap(self, raw: Any) -> Any:
        """An encoded value (possibly off-grid or out of bounds) -> the exact user value."""
        p = self.param
        if isinstance(p, ChoiceParam):
            index = min(max(int(round(float(raw))), 0), len(p.values) - 1)
            return p.values[index]
        x = float(raw)
        if not math.isfinite(x):
            x = p.low
        x = min(max(x, p.low), p.high)
        if isinstance(p, IntParam):
            k = round((x - p.low) / p.step)
            value = p.low + int(k) * p.step
            while value > p.high:
                value -= p.step
            return int(value)
        if p.q is not None:
            k = round((x - p.low) / p.q)
            value = p.low + k * p.q
            while value > p.high + 1e-12:
                value -= p.q
            return float(round(value, 12))
        return float(x)

    def encode(self, value: Any) -> Any:
        """A user value -> its encoded value (the index of a choice)."""
        p = self.param
        if isinstance(p, ChoiceParam):
            return choice_index(p.values, value)
        return int(value) if isinstance(p, IntParam) else float(value)

    def contains(self, value: Any) -> bool:
        p = self.param
        if isinstance(p, ChoiceParam):
            return choice_index(p.values, value) is not None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if isinstance(p, IntParam) and (not float(value).is_integer()):
            return False
        return p.low <= value <= p.high

    def expected(self) -> str:
        p = self.param
        if isinstance(p, ChoiceParam):
            return f"one of {p.values}"
        kind = "an integer" if isinstance(p, IntParam) else "a number"
        return f"{kind} in [{p.low}, {p.high}]"

    def sample(self, rng: np.random.Generator) -> Any:
        """A uniformly (log-uniformly) drawn encoded value."""
        p = self.param
        if isinstance(p, ChoiceParam):
            return int(rng.integers(len(p.values)))
        if isinstance(p, IntParam):
            if p.log:
                x = math.exp(rng.uniform(math.log(p.low - 0.5 if p.low > 0.5 else p.low), math.log(p.high + 0.5)))
                return self.snap(x)
            return int(p.low + p.step * rng.integers((p.high - p.low) // p.step + 1))
        if p.log:
            return self.snap(math.exp(rng.uniform(math.log(p.low), math.log(p.high))))
        return self.snap(rng.uniform(p.low, p.high))

    # -- unit cube -------------------------------------------------------------
    def _bounds(self) -> tuple[float, float]:
        p = self.param
        low, high = float(p.low), float(p.high)  # type: ignore[union-attr]
        if isinstance(p, IntParam):
            low, high = low - 0.5, high + 0.5
            if p.log:
                low = max(low, p.low * 0.5)
        if self.log:
            return math.log(low), math.log(high)
        return low, high

    def to_unit(self, encoded: Any) -> list[float]:
        if isinstance(self.param, ChoiceParam):
            vec = [0.0] * self.size
            vec[int(encoded)] = 1.0
            return vec
        low, high = self._bounds()
        x = math.log(float(encoded)) if self.log else float(encoded)
        return [min(max((x - low) / (high - low), 0.0), 1.0)]

    def from_unit(self, vec: Iterable[float]) -> Any:
        values = [float(v) for v in vec]
        if isinstance(self.param, ChoiceParam):
            return int(np.argmax(values))
        low, high = self._bounds()
        x = low + min(max(values[0], 0.0), 1.0) * (high - low)
        return self.encode(self.snap(math.exp(x) if self.log else x))


def choice_index(values: list[Any], value: Any) -> int | None:
    for i, v in enumerate(values):
        if type(v) is type(value) and v == value:
            return i
    for i, v in enumerate(values):  # 8 == 8.0, but True is not 1
        if not isinstance(v, bool) and not isinstance(value, bool) and v == value:
            return i
    return None


class Codec:
    """The tuned dimensions of a space, and conversions between configs and encodings.

    A choice of sub-spaces (``ConditionalParam``) at ``path`` is flattened: a choice
    dimension ``path/@`` (the branch index) and each branch's own dimensions under
    ``path/<i>/`` (a Codec of the branch). ``dims`` lists them all (samplers and unit-cube
    backends see every one; decoding reads only the chosen branch's), ``tree`` walks them
    branch by branch (define-by-run backends suggest only the chosen branch's).
    """

    def __init__(self, space: Space, prefix: tuple[str, ...] = ()) -> None:
        self.space = space
        self.prefix = prefix
        self.dims: list[Dim] = []  # every dimension, branches' included (full keys)
        self.own: list[Dim] = []  # this level's plain dimensions
        self.fixed: dict[str, Any] = {}  # relative keys
        self.branches: dict[str, tuple[Dim, ConditionalParam, dict[int, "Codec"]]] = {}  # relative key ->
        for path, param in iter_params(space):
            full = prefix + path
            if isinstance(param, FixedParam):
                self.fixed[SEP.join(path)] = param.value
            elif isinstance(param, (FloatParam, IntParam, ChoiceParam)):
                self.own.append(Dim(full, param))
                self.dims.append(self.own[-1])
            elif isinstance(param, ConditionalParam):
                selector = Dim(full + (BRANCH,), ChoiceParam(values=list(range(len(param.branches)))))
                subs = {i: Codec(b, full + (str(i),)) for i, b in param.branch_spaces()}
                self.branches[SEP.join(path)] = (selector, param, subs)
                self.dims.append(selector)
                for sub in subs.values():
                    self.dims.extend(sub.dims)
            else:
                raise ValueError(f"{SEP.join(path)}: a {param.type} parameter cannot be encoded")
        self.by_key = {d.key: d for d in self.dims}

    @property
    def conditional(self) -> bool:
        return bool(self.branches)

    def _rel(self, d: Dim) -> str:
        return SEP.join(d.path[len(self.prefix):])

    def tree(self, pick: Any) -> None:
        """Walk the dimensions a config uses: ``pick(dim)`` returns its encoded value (a
        branch index for a selector), and only the chosen branch is walked on."""
        for d in self.own:
            pick(d)
        for selector, _, subs in self.branches.values():
            index = int(pick(selector))
            if index in subs:
                subs[index].tree(pick)

    @property
    def width(self) -> int:
        return sum(d.size for d in self.dims)

    def decode(self, encoded: dict[str, Any]) -> dict[str, Any]:
        """Encoded flat values -> the nested config of tuned values (exact, in bounds); of a
        choice of sub-spaces, the chosen branch resolved (its fixed values included)."""
        return nest(self._decode_flat(encoded))

    def _decode_flat(self, encoded: dict[str, Any]) -> dict[str, Any]:
        out = {self._rel(d): d.snap(encoded[d.key]) for d in self.own}
        for rel, (selector, param, subs) in self.branches.items():
            index = selector.snap(encoded[selector.key])
            sub = subs.get(index)
            out[rel] = nest({**sub.fixed, **sub._decode_flat(encoded)}) if sub is not None else param.branches[index]
        return out

    def encode(self, config: dict[str, Any]) -> dict[str, Any]:
        """A (nested) config -> encoded flat values of the tuned parameters."""
        return {d.key: d.encode(lookup(config, d.path)) for d in self.dims}

    def canonical(self, encoded: dict[str, Any]) -> dict[str, Any]:
        """Snap encoded values onto what they decode to."""
        return {d.key: d.encode(d.snap(encoded[d.key])) for d in self.dims}

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        return {d.key: d.sample(rng) for d in self.dims}

    def to_unit(self, encoded: dict[str, Any]) -> np.ndarray:
        out: list[float] = []
        for d in self.dims:
            out.extend(d.to_unit(encoded[d.key]))
        return np.asarray(out, dtype=float)

    def from_unit(self, vec: Iterable[float]) -> dict[str, Any]:
        values = list(vec)
        out: dict[str, Any] = {}
        i = 0
        for d in self.dims:
            out[d.key] = d.from_unit(values[i : i + d.size])
            i += d.size
        return out

    def natural_bounds(self) -> list[tuple[float, float]]:
        """Per unit-cube coordinate, its range on the parameter's own scale (log where ``log``;
        integers widened by half a step; one-hot coordinates stay [0, 1])."""
        out: list[tuple[float, float]] = []
        for d in self.dims:
            out.extend([(0.0, 1.0)] * d.size if d.kind == "choice" else [d._bounds()])
        return out

    def ray_domains(self) -> dict[str, Any]:
        """Ray Tune domains of the encoded space, nested like the space (for Ray's searcher wrappers)."""
        from ray import tune

        out: dict[str, Any] = {}
        for d in self.dims:
            p = d.param
            if isinstance(p, ChoiceParam):
                out[d.key] = tune.choice(list(range(len(p.values))))
            elif isinstance(p, IntParam):
                out[d.key] = tune.lograndint(p.low, p.high + 1) if p.log else tune.randint(p.low, p.high + 1)
            else:
                out[d.key] = tune.loguniform(p.low, p.high) if p.log else tune.uniform(p.low, p.high)
        return nest(out)

    def check_point(self, point: Any, where: str) -> None:
        """A points_to_evaluate entry must give a valid value for every tuned parameter."""
        if not isinstance(point, dict):
            raise SpecError.at(where, point, "a mapping of parameter names to values")
        _check_keys(point, self.space, where)
        for d in self.dims:
            try:
                value = lookup(point, d.path)
            except KeyError:
                raise SpecError.at(f"{where}.{'.'.join(d.path)}", point, "a value for every tuned parameter (missing)") from None
            if not d.contains(value):
                raise SpecError.at(f"{where}.{'.'.join(d.path)}", value, d.expected())


def _check_keys(point: dict[str, Any], space: Space, where: str) -> None:
    for key, value in point.items():
        node = space.get(key)
        if key not in space:
            raise SpecError.at(f"{where}.{key}", value, f"a parameter of space: {', '.join(space)}")
        if isinstance(node, dict):
            if not isinstance(value, dict):
                raise SpecError.at(f"{where}.{key}", value, "a mapping (a nested space)")
            _check_keys(value, node, f"{where}.{key}")


def lookup(config: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = config
    for part in path:
        if not isinstance(node, dict) or part not in node:
            raise KeyError(part)
        node = node[part]
    return node


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            out.update(flatten(value, name + SEP))
        else:
            out[name] = value
    return out


def nest(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        node = out
        parts = key.split(SEP)
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return out

"""Preflight: rehearse one trial in the driver before any trial runs.

The plan has already run the cheap checks (``Trainable.check`` and ``Trainable.preflight``).
Here the trainable loads its data and fits one fold of a small sample with a config
sampled from the space (``Trainable.sample_fit``), built by the trial's own code, so what
would fail in every trial fails here, as a SpecError, with no traceback and nothing written.

``run_experiment`` starts it in a thread before Ray starts (:func:`start_preflight`), waits
for the data check only (``Trainable.check_data``: a data mistake is refused in seconds and
Ray never starts), and joins the sample fit before building the Tuner (``Preflight.result``):
the fit overlaps Ray's start-up.
``raytuner validate`` runs it in place (:func:`rehearse`), without Ray.
"""

from __future__ import annotations

import math
import threading
from typing import Any, Callable

import numpy as np

from raytuner.runner.plan import Plan
from raytuner.spec.params import ChoiceParam, ConditionalParam, FixedParam, FloatParam, GridParam, IntParam, Space
from raytuner.trainables.base import SampleFit


def _float(p: FloatParam, rng: np.random.Generator) -> float:
    value = math.exp(rng.uniform(math.log(p.low), math.log(p.high))) if p.log else rng.uniform(p.low, p.high)
    if p.q is not None:
        value = min(max(round(value / p.q) * p.q, p.low), p.high)
    return float(value)


def _int(p: IntParam, rng: np.random.Generator) -> int:
    values = p.values()
    if p.log:  # log-uniform over the range, then onto the step grid
        raw = math.exp(rng.uniform(math.log(p.low), math.log(p.high + 1)))
        return int(min(values, key=lambda v: abs(v - raw)))
    return int(values[int(rng.integers(len(values)))])


def _choice(p: ChoiceParam | GridParam, rng: np.random.Generator) -> Any:
    return p.values[int(rng.integers(len(p.values)))]


def _branch(p: ConditionalParam, rng: np.random.Generator) -> Any:
    branch = p.branches[int(rng.integers(len(p.branches)))]
    return sample_config(branch, None, rng) if isinstance(branch, dict) else branch


SAMPLERS: dict[type, Callable[[Any, np.random.Generator], Any]] = {
    ConditionalParam: _branch,
    FloatParam: _float,
    IntParam: _int,
    ChoiceParam: _choice,
    GridParam: _choice,
    FixedParam: lambda p, rng: p.value,
}


def sample_config(space: Space, seed: int | None, rng: np.random.Generator | None = None) -> dict[str, Any]:
    """One config of the space (nested like the space), drawn with the spec's seed."""
    rng = rng if rng is not None else np.random.default_rng(seed or 0)
    return {
        key: sample_config(node, seed, rng) if isinstance(node, dict) else SAMPLERS[type(node)](node, rng)
        for key, node in space.items()
    }


def rehearse(plan: Plan) -> SampleFit | None:
    """The sample fit of a plan (None when its trainable cannot rehearse a trial)."""
    return plan.trainable.sample_fit(sample_config(plan.spec.space, plan.search.seed))


class Preflight:
    """The sample fit, running in a thread beside Ray's start-up."""

    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._fit: SampleFit | None = None
        self._error: BaseException | None = None
        self._data_checked = threading.Event()
        self._thread = threading.Thread(target=self._run, name="raytuner-preflight", daemon=True)

    def _run(self) -> None:
        try:
            self._plan.trainable.check_data()
            self._data_checked.set()
            self._fit = rehearse(self._plan)
        except BaseException as exc:  # re-raised in the caller's thread by result()
            self._error = exc
        finally:
            self._data_checked.set()

    def data_checked(self) -> None:
        """Wait until the data is loaded and checked (quick; before Ray starts, so a data
        mistake is refused in seconds and Ray never starts); raise its error."""
        self._data_checked.wait()
        if self._error is not None:
            raise self._error

    def start(self) -> "Preflight":
        self._thread.start()
        return self

    def result(self) -> SampleFit | None:
        """Wait for the sample fit; raise its error (a SpecError for user mistakes)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._fit


def start_preflight(plan: Plan) -> Preflight:
    """Start the data check and sample fit of a plan in a thread and wait for the data
    check (``.result()`` joins the sample fit, which overlaps Ray's start-up)."""
    preflight = Preflight(plan).start()
    preflight.data_checked()
    return preflight

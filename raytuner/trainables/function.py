"""A user function as trainable: ``fn(config) -> dict`` or a generator of dicts (one per step).

Checkpointing (needed by pbt, pb2 and hyperband; used by retries): give the function a
``state`` parameter and yield ``(metrics, state)`` pairs. raytuner saves each state
with its report and, when the trial restarts from a checkpoint (a retry, a HyperBand
resume, a PBT clone of a better trial with mutated hyperparameters), calls the
function again with ``state`` set to the restored one (``None`` on a fresh start)::

    def train(config, state=None):
        w = state["w"] if state else 0.0
        done = state["done"] if state else 0
        for step in range(done + 1, 21):
            w = update(w, config["lr"])
            yield {"loss": loss(w)}, {"w": w, "done": step}

Tune's ``training_iteration`` (the schedulers' time attribute) and the reported
``step`` continue from the checkpoint's. Yielding a plain dict reports without a
checkpoint.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from raytuner.errors import SpecError
from raytuner.spec.params import Space
from raytuner.spec.code import code_dirs, code_name
from raytuner.spec.registry import import_object
from raytuner.spec.models import FunctionTrainableSpec
from raytuner.trainables.base import Trainable


class FunctionTrainable(Trainable):
    kind = "function"
    spec: FunctionTrainableSpec
    batchable = True  # a plain function of its config: many trials per call on a warm actor

    def batch_job(self, objectives: Any, max_steps: int | None, target: float | None) -> Any:
        from raytuner.trainables.batch import BatchJob

        return BatchJob(self.spec.function, dict(self.spec.params), tuple((str(n), str(m)) for n, m in objectives),
                        max_steps, target, code_dirs())

    def check(self, space: Space) -> str:
        metric = self.metric
        fn = import_object(self.spec.function, "trainable.function")
        if not callable(fn):
            raise SpecError.at("trainable.function", self.spec.function, "a callable fn(config)")
        if metric.mode is None:
            raise SpecError.at("metric.mode", None, "'max' or 'min' (a function trainable has no default)")
        return metric.mode

    def checkpoints(self) -> bool:
        return accepts_state(import_object(self.spec.function, "trainable.function"))

    def build(self) -> Callable[[dict[str, Any]], None]:
        from functools import partial

        return partial(function_trial, fn_path=self.spec.function, fixed=dict(self.spec.params))


def function_trial(config: dict[str, Any], *, fn_path: Any, fixed: dict[str, Any]) -> None:
    from raytuner.trainables.reporting import report

    fn = import_object(fn_path, "trainable.function")
    if accepts_state(fn):
        stateful_trial(fn, {**fixed, **config}, fn_path)
        return
    result = fn({**fixed, **config})
    if isinstance(result, dict):
        report(_clean(result))
        return
    if result is None or not (inspect.isgenerator(result) or hasattr(result, "__iter__")):
        raise TypeError(f"{code_name(fn_path)} returned {type(result).__name__}; expected a dict of metrics or an iterator of dicts")
    for step in result:
        if not isinstance(step, dict):
            raise TypeError(f"{code_name(fn_path)} yielded {type(step).__name__}; expected a dict of metrics")
        report(_clean(step))


def _clean(metrics: dict[str, Any]) -> dict[str, Any]:
    """Plain floats for numpy scalars; NaN/inf kept (``reporting.report`` applies the metrics rule)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        if hasattr(value, "item") and callable(value.item):
            value = value.item()
        out[key] = value
    return out


def accepts_state(fn: Any) -> bool:
    """Whether ``fn`` takes a ``state`` argument (the checkpointing protocol)."""
    try:
        return "state" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def stateful_trial(fn: Callable[..., Any], config: dict[str, Any], fn_path: Any) -> None:
    """Run ``fn(config, state=...)``: restore the latest checkpoint, save one per (metrics, state) yielded."""
    from raytuner.trainables.checkpointing import report_step, restore

    restored = restore()
    step = restored.step if restored else 0
    result = fn(config, state=restored.state if restored else None)
    if isinstance(result, dict):
        report_step(_clean(result), step=step + 1, state=None, checkpoint=False)
        return
    if result is None or not hasattr(result, "__iter__"):
        raise TypeError(f"{code_name(fn_path)} returned {type(result).__name__}; expected a dict of metrics or an iterator")
    for item in result:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], dict):
            metrics, state, checkpoint = item[0], item[1], True
        elif isinstance(item, dict):
            metrics, state, checkpoint = item, None, False
        else:
            raise TypeError(
                f"{code_name(fn_path)} yielded {type(item).__name__}; expected a dict of metrics or a (metrics, state) pair"
            )
        step += 1
        report_step(_clean(metrics), step=step, state=state, checkpoint=checkpoint)

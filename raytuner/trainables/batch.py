"""Batched evaluation of a function trainable: many trials per call, on a warm actor.

The batched path (``execution.batch``, ``raytuner.runner.batched``) sends each actor of a
pool a list of ``(trial_id, config)`` and gets one ``Evaluation`` per trial back: the
reports it made (each with Tune's bookkeeping columns, so the trial files read as Ray
Tune's), under the same metrics rule as a Tune trial (``results.metric_rule``), and the
per-trial stopping conditions applied here (``max_steps``, ``target``). No Ray import
at module level: ``BatchWorker`` becomes an actor in the runner.

A trainable's evaluator (``BatchJob.fn_path``: a small picklable callable, e.g. the
scikit-learn folds of ``trainables.sklearn.folds``) holds its data as an ObjectRef: the
driver puts the data in Ray's object store once per run (``put_shared``) and each actor
reads it once (``shared``), not once per batch.
"""

from __future__ import annotations

import inspect
import math
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from raytuner.results.metric_rule import WALL_CLOCK_KEY, flagged
from raytuner.spec.code import code_name, use_code_dirs

_functions: dict[Any, Callable[..., Any]] = {}  # fn_path -> function, per process


@dataclass(frozen=True)
class BatchJob:
    """How every trial of a run is evaluated (sent with each batch; small)."""

    fn_path: Any  # an import path, or a callable (pickled by value: a function, a trainable's evaluator)
    fixed: dict[str, Any] = field(default_factory=dict)
    objectives: tuple[tuple[str, str], ...] = ()
    max_steps: int | None = None  # stop.max_steps
    target: float | None = None  # stop.target, on the first objective
    code_dirs: tuple[str, ...] = ()  # the driver's folders of user modules (raytuner.spec.code)


@dataclass
class Evaluation:
    """One trial's outcome: its reports (Tune's columns included), or the error it raised."""

    trial_id: str
    rows: list[dict[str, Any]]
    error: str | None = None  # "Type: message"
    error_type: str | None = None
    node_ip: str = ""
    error_pickle: bytes | None = None  # the exception itself (cloudpickle), as Ray Tune keeps it in error.pkl
    traceback: str | None = None  # its traceback, as Ray Tune writes error.txt


_shared: dict[str, Any] = {}  # ObjectRef hex -> value, per process (the latest few runs' data)
_SHARED_KEPT = 2


def put_shared(value: Any) -> Any:
    """The driver's side: ``value`` in Ray's object store once (an ObjectRef), or itself when
    Ray is not up (an evaluation in the driver, e.g. a unit test)."""
    import ray

    return ray.put(value) if ray.is_initialized() else value


def shared(value: Any) -> Any:
    """The actor's side: the value behind an ObjectRef, read from the object store once per
    process and kept for the next batches (the latest ``_SHARED_KEPT`` refs); else ``value``."""
    import ray

    if not isinstance(value, ray.ObjectRef):
        return value
    key = value.hex()
    if key not in _shared:
        while len(_shared) >= _SHARED_KEPT:
            _shared.pop(next(iter(_shared)))  # the oldest run's data
        _shared[key] = ray.get(value)
    return _shared[key]


def function_of(fn_path: Any) -> Callable[..., Any]:
    if not isinstance(fn_path, str):  # the function itself, unpickled with the batch
        return fn_path
    fn = _functions.get(fn_path)
    if fn is None:
        from raytuner.spec.registry import import_object

        fn = _functions[fn_path] = import_object(fn_path, "trainable.function")
    return fn


def evaluate(job: BatchJob, items: Iterable[tuple[str, dict[str, Any]]], node_ip: str = "") -> list[Evaluation]:
    """Run every ``(trial_id, config)`` of a batch, one after the other."""
    use_code_dirs(job.code_dirs)
    fn = function_of(job.fn_path)
    stateful = _accepts_state(fn)
    host, pid = socket.gethostname(), os.getpid()
    out = []
    for trial_id, config in items:
        evaluation = _one(fn, stateful, job, trial_id, config)
        evaluation.node_ip = node_ip
        for row in evaluation.rows:
            row.update(trial_id=trial_id, node_ip=node_ip, hostname=host, pid=pid)
        out.append(evaluation)
    return out


def _one(fn: Callable[..., Any], stateful: bool, job: BatchJob, trial_id: str, config: dict[str, Any]) -> Evaluation:
    from raytuner.results.metric_rule import apply_rule

    start = last = time.time()
    rows: list[dict[str, Any]] = []
    try:
        merged = {**job.fixed, **config}
        result = fn(merged, state=None) if stateful else fn(merged)
        reports = [result] if isinstance(result, dict) else result
        if reports is None or not hasattr(reports, "__iter__"):
            raise TypeError(f"{code_name(job.fn_path)} returned {type(result).__name__}; expected a dict of metrics or an iterator of dicts")
        for item in reports:
            metrics = item[0] if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], dict) else item
            if not isinstance(metrics, dict):
                raise TypeError(f"{code_name(job.fn_path)} yielded {type(metrics).__name__}; expected a dict of metrics")
            now = time.time()
            step = len(rows) + 1
            row = apply_rule(_plain(metrics), job.objectives, step) if job.objectives else _plain(metrics)
            row.update(training_iteration=step, time_this_iter_s=now - last, time_total_s=now - start,
                       timestamp=int(now), done=bool(row.get("done", False)))
            row[WALL_CLOCK_KEY] = now
            rows.append(row)
            last = now
            if flagged(row) or _stop(job, row, step):
                break
    except Exception as exc:  # noqa: BLE001 - a trial's own error is its result
        return _failed(trial_id, rows, exc)
    if not rows:
        return Evaluation(trial_id, rows, f"MetricError: {code_name(job.fn_path)} reported nothing", "MetricError")
    rows[-1]["done"] = True
    return Evaluation(trial_id, rows)


def _failed(trial_id: str, rows: list[dict[str, Any]], exc: Exception) -> Evaluation:
    """A trial that raised: its one-line message, and the exception and traceback as Ray Tune
    keeps them (error.pkl, error.txt), so the original error can be re-raised (TuneSearchCV)."""
    import traceback

    try:
        import cloudpickle

        pickled: bytes | None = cloudpickle.dumps(exc)
    except Exception:  # noqa: BLE001 - an exception that cannot be pickled: its message only
        pickled = None
    return Evaluation(trial_id, rows, f"{type(exc).__name__}: {exc}".splitlines()[0][:300], type(exc).__name__,
                      error_pickle=pickled, traceback="".join(traceback.format_exception(exc)))


def _stop(job: BatchJob, row: dict[str, Any], step: int) -> bool:
    if job.max_steps is not None and step >= job.max_steps:
        return True
    if job.target is None or not job.objectives:
        return False
    name, mode = job.objectives[0]
    value = row.get(name)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return False
    return value >= job.target if mode == "max" else value <= job.target


def _plain(metrics: dict[str, Any]) -> dict[str, Any]:
    """Plain Python numbers for numpy scalars (NaN/inf kept: the metrics rule judges them)."""
    return {k: (v.item() if hasattr(v, "item") and callable(v.item) else v) for k, v in metrics.items()}


def _accepts_state(fn: Any) -> bool:
    try:
        return "state" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


class BatchWorker:
    """A warm worker of the pool (``ray.remote(BatchWorker)`` in the runner): imports the
    function once and evaluates batch after batch, on whichever node Ray placed it."""

    def __init__(self) -> None:
        import ray

        self.node_ip = ray.util.get_node_ip_address()

    def run(self, job: BatchJob, items: list[tuple[str, dict[str, Any]]]) -> list[Evaluation]:
        return evaluate(job, items, self.node_ip)

    def node(self) -> str:
        return self.node_ip

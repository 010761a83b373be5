"""Recording a finished experiment in the history store (``raytuner.results.history``), and
the task fingerprint warm starts rank past experiments by.

Recording never fails a run: any problem with the store is one warning line on stderr.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any, Callable, TextIO

from raytuner.results.history.records import HistoryExperiment, HistoryTrial
from raytuner.results.summary import INTERRUPTED, Summary
from raytuner.runner.plan import Plan
from raytuner.spec.code import code_name
from raytuner.spec.models import ExperimentSpec


def _sklearn_family(trainable: Any) -> str:
    if trainable.estimator:
        return code_name(trainable.estimator)
    return "pipeline:" + "|".join(f"{s.name}={code_name(s.estimator) if s.estimator else sorted(s.options or {})}"
                                  for s in trainable.pipeline)


def _torch_family(trainable: Any) -> str:
    model = trainable.model
    return f"torch:{model.type}:{code_name(getattr(model, 'path', None) or getattr(model, 'function', None) or '')}".rstrip(":")


FAMILIES: dict[str, Callable[[Any], str]] = {  # trainable.type -> the model family it tunes
    "sklearn": _sklearn_family,
    "function": lambda t: f"function:{code_name(t.function)}",
    "torch": _torch_family,
    "class": lambda t: f"class:{code_name(t.cls)}",
}

_FINGERPRINTS: "weakref.WeakKeyDictionary[Any, dict[str, Any]]" = weakref.WeakKeyDictionary()
_TASK_KEYS: "weakref.WeakKeyDictionary[Any, str | None]" = weakref.WeakKeyDictionary()


def model_family(spec: ExperimentSpec) -> str:
    family = FAMILIES.get(spec.trainable.type)
    return family(spec.trainable) if family is not None else spec.trainable.type


def task_fingerprint(plan: Plan) -> dict[str, Any]:
    """The plan's task fingerprint (computed once per trainable: the landmarkers fit small models)."""
    from raytuner.results.history.fingerprint import dataset_meta, fingerprint

    cached = _FINGERPRINTS.get(plan.trainable)
    if cached is not None:
        return cached
    meta: dict[str, Any] = {}
    key = None
    try:
        dataset = plan.trainable.check_data()  # the search rows, as the trials load them (None: no table)
        if dataset is not None and getattr(dataset, "X", None) is not None:
            X = dataset.X
            if hasattr(X, "select_dtypes"):  # a file's raw columns: the numeric ones describe the task
                X = X.select_dtypes("number").to_numpy(dtype=float)
            meta = dataset_meta(X, dataset.y, getattr(dataset, "task", None), plan.search.seed)
            key = _TASK_KEYS[plan.trainable] = task_key(plan, dataset)
    except Exception:  # noqa: BLE001 - data the meta-features cannot read: the space and family still count
        meta = {}
    fp = fingerprint(model_family(plan.spec), meta, plan.spec.space)
    fp["metric"], fp["mode"] = plan.metric, plan.mode
    if key is not None:
        fp["task_key"] = key
    _FINGERPRINTS[plan.trainable] = fp
    return fp


def plan_task_key(plan: Plan) -> str | None:
    """The plan's ``task_key`` (None: no table of rows to key it by); computed once per trainable."""
    if plan.trainable in _TASK_KEYS:
        return _TASK_KEYS[plan.trainable]
    key = None
    try:
        dataset = plan.trainable.check_data()
        if dataset is not None and getattr(dataset, "X", None) is not None:
            key = task_key(plan, dataset)
    except Exception:  # noqa: BLE001 - no key: past results are seeded, never reused
        key = None
    _TASK_KEYS[plan.trainable] = key
    return key


def task_key(plan: Plan, dataset: Any) -> str:
    """Equal for two runs whose trials score a config the same way: the same rows (content,
    wherever the file lives), trainable settings (estimator, fixed params, folds, fidelity),
    fixed space values, metric, mode and seed. A warm start on the same task reuses past
    scores instead of re-running their configs (``raytuner.runner.warm_start``)."""
    import joblib

    from raytuner.spec.params import iter_params

    trainable = plan.spec.to_data()["trainable"]
    if isinstance(trainable.get("data"), dict):
        trainable["data"] = {k: v for k, v in trainable["data"].items() if k not in ("source", "endpoint")}
    fixed = {".".join(path): getattr(param, "value", None) for path, param in iter_params(plan.spec.space)
             if getattr(param, "type", None) == "fixed"}
    rows = joblib.hash((dataset.X, dataset.y))
    return str(joblib.hash((rows, trainable, fixed, plan.metric, plan.mode, plan.search.seed)))


def history_experiment(spec: ExperimentSpec, plan: Plan, summary: Summary) -> HistoryExperiment:
    trials = tuple(HistoryTrial(t.trial_id, t.config, t.score, t.status, t.steps) for t in summary.trials)
    failed = bool(summary.trials) and all(t.status != "ok" for t in summary.trials)
    state = "interrupted" if summary.state == INTERRUPTED else "failed" if failed else "finished"
    return HistoryExperiment(
        name=summary.name, path=summary.experiment_path, spec=spec.to_data(), metric=summary.metric,
        mode=summary.mode, strategy=summary.strategy, scheduler=summary.scheduler, started_at=summary.started_at,
        wall_time_s=summary.wall_time_s, state=state, family=model_family(spec),
        fingerprint=task_fingerprint(plan), best_score=summary.best.score if summary.best else None,
        best_config=summary.best.config if summary.best else None, trials=trials,
    )


def record_history(spec: ExperimentSpec, plan: Plan, summary: Summary, stream: TextIO | None = None) -> int | None:
    """Record the experiment (unless ``history.record`` is false); its id, or None. Never raises."""
    if not spec.history.record:
        return None
    try:
        from raytuner.results.history.store import HistoryStore

        store = HistoryStore(spec.history.url)
        try:
            return store.record(history_experiment(spec, plan, summary))
        finally:
            store.close()
    except Exception as exc:  # noqa: BLE001 - a history problem never fails a run
        text = " ".join(str(exc).split())[:200]
        print(f"warning: experiment not recorded in the history store ({type(exc).__name__}: {text}); "
              f"its results are in {summary.experiment_path}", file=stream or sys.stderr)
        return None

"""The batched path for cheap trials (``execution.batch``): a pool of warm Ray actors.

Ray Tune spends tens of milliseconds of bookkeeping on every trial (an actor call, its
result processing, the experiment state). For trials that cost a millisecond that is
nearly all of the run. Here the driver asks the strategy's own searcher (the same
object a Tune run gets) for a batch of configs per actor, each actor (one per CPU
slot, placed with Ray's SPREAD strategy so every node gets some) evaluates its batch
(``trainables.batch``) and the driver tells the searcher every result. The trial
directories are written as Ray Tune writes them (params.json, result.json,
progress.csv), so ``raytuner results/report/predict`` read a batched run as any other.

Trainables that run batched say so (``Trainable.batchable``, ``batch_refusal``, ``batch_job``):
functions, and scikit-learn k-fold trials (spec-built or TuneSearchCV's), whose data goes
into the object store once per run. ``auto``: a function is probed in the driver (three
evaluations) and batched when cheap; a trainable with ``auto_batch`` (scikit-learn: a CV
fit is too costly to probe, and warm actors save the worker boot and imports whatever the
fit costs) is batched under any scheduler that allows it, with no probe.

What it does not do (refused, or Ray Tune trials with ``auto``): per-step scheduling
(ASHA, HyperBand, PBT...), plateau stoppers, remote storage, tracking. A failed
evaluation is recorded, not retried; an actor that dies (a node lost) has its batch
rerun on a fresh actor, ``failure.max_retries`` times. A batched run is not resumable
(``raytuner resume``): it keeps no checkpoints.
"""

from __future__ import annotations

import math
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raytuner.errors import RaytunerError, SpecError
from raytuner.results.metric_rule import flagged, restore_raw
from raytuner.results.summary import TrialRecord
from raytuner.runner.batch_files import write_trial  # noqa: F401 - the trial files' writer, here as before

AUTO_LIMIT_S = 0.1  # auto batches a function whose first evaluations take less than this
BATCH_WORK_S = 0.05  # auto: about this much work per batch
MAX_AUTO_BATCH = 256
_PROBES = 3


@dataclass(frozen=True)
class BatchChoice:
    size: int  # trials per batch; 0: every trial is a Ray Tune trial
    note: str = ""


def choose_batch(spec: Any, trainable: Any, scheduler: Any, search: Any) -> BatchChoice:
    """``execution.batch`` resolved (before Ray starts): SpecError for an explicit size
    the run cannot honour; ``auto`` falls back to Ray Tune trials for the same reasons."""
    asked = spec.execution.batch
    if asked == "off":
        return BatchChoice(0)
    reason = _refusal(spec, trainable, scheduler)
    if reason is not None:
        if asked == "auto":
            return BatchChoice(0)
        raise SpecError.at("execution.batch", asked, f"'off' {reason}")
    if asked != "auto":
        return BatchChoice(int(asked))
    if trainable.auto_batch is not None:  # no probe: e.g. a CV fit is too costly to run in the driver
        return BatchChoice(trainable.auto_batch, f"execution.batch auto: {trainable.kind} trials on warm actors, "
                                                 f"{trainable.auto_batch} per call")
    seconds = _probe(spec, trainable, search)
    if seconds is None or seconds >= AUTO_LIMIT_S:
        return BatchChoice(0)
    size = max(1, min(MAX_AUTO_BATCH, int(BATCH_WORK_S / max(seconds, 1e-6))))
    return BatchChoice(size, f"execution.batch auto: {seconds * 1000:.2f} ms per evaluation, "
                             f"up to {size} trials per batch on warm actors")


def _refusal(spec: Any, trainable: Any, scheduler: Any) -> str | None:
    refusal = trainable.batch_refusal()
    if refusal is not None:
        return refusal
    if scheduler.decides_per_step:
        return (f"with scheduler '{scheduler.name}': it decides on every report of a trial (stop, pause, "
                "clone), which needs Ray Tune trials; use scheduler fifo to run batched")
    if spec.stop.plateau is not None or spec.stop.experiment_plateau is not None:
        return "with stop.plateau / stop.experiment_plateau (they need Ray Tune trials)"
    tracking = getattr(spec, "tracking", None)
    if tracking is not None and (tracking.mlflow or tracking.wandb or tracking.tensorboard or spec.storage.tensorboard):
        return "with tracking (MLflow, W&B and TensorBoard log through Ray Tune's callbacks)"
    if "://" in spec.storage.path:
        return f"with remote storage ({spec.storage.path}): batched runs write local trial directories"
    return None


def _probe(spec: Any, trainable: Any, search: Any) -> float | None:
    """Median seconds of up to three evaluations in the driver (None: it failed)."""
    import statistics

    import numpy as np

    from raytuner.spec.params import split_grid
    from raytuner.strategies.codec import Codec, flatten, nest
    from raytuner.trainables.batch import evaluate

    rest, axes = split_grid(spec.space)
    codec = Codec(rest)
    rng = np.random.default_rng(search.seed)
    job = trainable.batch_job(search.objectives, search.reports_per_trial, spec.stop.target)  # whole trials
    times: list[float] = []
    try:
        for i in range(_PROBES):
            config = nest({**codec.fixed, **flatten(codec.decode(codec.sample(rng))),
                           **{"/".join(path): values[0] for path, values in axes}})
            start = time.perf_counter()
            (evaluation,) = evaluate(job, [(f"probe_{i}", config)])
            times.append(time.perf_counter() - start)
            if evaluation.error is not None:
                return None
            if sum(times) > 3 * AUTO_LIMIT_S:
                break
    except Exception:  # noqa: BLE001 - a function that cannot be probed runs as Tune trials
        return None
    return statistics.median(times)


def run_batched(plan: Any, experiment_path: str, view: Any, records: list[TrialRecord],
                deadline: float | None) -> None:
    """Run the plan's trials in batches on the warm pool, appending to ``records`` as they end."""
    import ray
    from ray.exceptions import RayActorError
    from ray.tune.search import Searcher
    from ray.tune.utils.util import merge_dicts

    from raytuner.runner.batch_files import TrialFileWriter

    spec = plan.spec
    total = plan.num_samples
    actors = _pool(spec, total)  # first: the actors boot while the searcher is built
    searcher = _searcher(plan)
    space = plan.strategy.param_space(plan.search)
    job = plan.trainable.batch_job(plan.objectives, plan.schedule.max_steps, spec.stop.target)
    size = max(1, min(plan.batch, math.ceil(total / len(actors))))
    searcher.set_max_concurrency(size * len(actors))  # every config of every batch in flight
    prefix = uuid.uuid4().hex[:5]
    root = os.fspath(experiment_path)
    state = {"asked": 0, "finished": False}

    def next_items() -> list[tuple[str, dict[str, Any]]]:
        items: list[tuple[str, dict[str, Any]]] = []
        while len(items) < size and state["asked"] < total and not state["finished"]:
            if deadline is not None and time.monotonic() >= deadline:
                break
            trial_id = f"{prefix}_{state['asked']:05d}"
            config = searcher.suggest(trial_id)
            if config is None:
                break
            if config == Searcher.FINISHED:
                state["finished"] = True
                break
            state["asked"] += 1
            items.append((trial_id, merge_dicts(space, config)))
        return items

    inflight: dict[Any, tuple[Any, list[tuple[str, dict[str, Any]]], int]] = {}
    idle = list(actors)

    def submit() -> None:
        while idle:
            items = next_items()
            if not items:
                return
            actor = idle.pop()
            inflight[actor.run.remote(job, items)] = (actor, items, 0)

    with TrialFileWriter() as files:  # trial files written on threads, beside the loop; all on exit
        submit()
        while inflight:
            (ref,), _ = ray.wait(list(inflight), num_returns=1)
            actor, items, attempt = inflight.pop(ref)
            try:
                evaluations = ray.get(ref)
            except RayActorError as exc:  # its node was lost: a fresh actor reruns the batch
                fresh = _new_actor(spec)
                actors[actors.index(actor)] = fresh
                if attempt < spec.failure.max_retries:
                    inflight[fresh.run.remote(job, items)] = (fresh, items, attempt + 1)
                    continue
                evaluations = [_lost(tid, exc) for tid, _ in items]
                actor = fresh
            for evaluation in evaluations:
                last = evaluation.rows[-1] if evaluation.rows and evaluation.error is None else None
                searcher.on_trial_complete(evaluation.trial_id, last, error=last is None)
            idle.append(actor)
            submit()  # the actors work on while the driver records what came back
            written = []
            for evaluation, (trial_id, config) in zip(evaluations, items):
                path = os.path.join(root, f"trial_{trial_id}")
                written.append((path, config, evaluation.rows))
                if evaluation.error is not None:  # error.txt / error.pkl beside the writer's files
                    os.makedirs(path, exist_ok=True)
                    write_error(Path(path), evaluation)
                record = trial_record(evaluation, config, path, plan.metric, plan.mode, plan.scope)
                records.append(record)
                if view is not None:
                    view.record(trial_id, record.metrics, record.status == "ok")
            files.put(written)
    records.sort(key=lambda r: (len(r.trial_id), r.trial_id))  # in the order asked, as Ray Tune lists trials
    if view is not None:
        view.on_experiment_end([])


def _searcher(plan: Any) -> Any:
    """The strategy's Searcher, as a Tune run gets it (unwrapped from its SearchGenerator)."""
    algorithm = plan.strategy.searcher(plan.search)
    searcher = getattr(algorithm, "searcher", algorithm)
    if searcher is None:
        raise RaytunerError(f"strategy '{plan.strategy.name}' has no searcher to drive a batched run; "
                            "set execution.batch: off")
    searcher.set_search_properties(plan.metric, plan.mode, plan.strategy.param_space(plan.search))
    return searcher


# -- the warm pool -------------------------------------------------------------

_pool_cache: dict[tuple[Any, ...], list[Any]] = {}
_release_timer: Any = None  # a threading.Timer while a pool is kept warm (execution.warm_s)
_released_at_exit = False


def _pool(spec: Any, total: int) -> list[Any]:
    """One actor per CPU slot (at most ``budget.max_concurrent`` and the trial count); the
    runner releases them when the run ends (``release_pool``), so Ray Tune trials and the
    user's own Ray work get the CPUs back."""
    import ray

    cpu, gpu = spec.resources.cpu, spec.resources.gpu
    resources = ray.cluster_resources()
    slots = int(resources.get("CPU", 1) // cpu)
    if gpu:
        slots = min(slots, int(resources.get("GPU", 0) // gpu))
    wanted = max(1, min(slots, spec.budget.max_concurrent or slots, total))
    _cancel_timer()
    context = ray.get_runtime_context()  # a Ray started again in this process is another node: a new pool
    key = (context.get_node_id(), context.get_job_id(), cpu, gpu)
    for other in [k for k in _pool_cache if k != key]:
        release_pool(other)
    actors = _pool_cache.setdefault(key, [])
    _release_at_exit()
    actors.extend(_new_actor(spec) for _ in range(wanted - len(actors)))
    return actors[:wanted]


def _release_at_exit() -> None:
    """A warm pool is stopped at interpreter exit (before the process's own Ray, whose atexit
    hook was registered earlier and so runs later), as joblib stops its executor."""
    global _released_at_exit
    if not _released_at_exit:
        import atexit

        atexit.register(release_pool)
        _released_at_exit = True


def _new_actor(spec: Any) -> Any:
    import ray

    from raytuner.trainables.batch import BatchWorker

    worker = ray.remote(BatchWorker).options(num_cpus=spec.resources.cpu, num_gpus=spec.resources.gpu or None,
                                            scheduling_strategy="SPREAD", max_restarts=0)
    return worker.remote()


def keep_warm(seconds: float) -> None:
    """Stop the pool in ``seconds`` unless another batched run takes it first (0: now)."""
    global _release_timer
    _cancel_timer()
    if seconds <= 0:
        release_pool()
        return
    import threading

    _release_timer = threading.Timer(seconds, release_pool)
    _release_timer.daemon = True
    _release_timer.start()


def _cancel_timer() -> None:
    global _release_timer
    if _release_timer is not None:
        _release_timer.cancel()
        _release_timer = None


def release_pool(key: tuple[Any, ...] | None = None) -> None:
    """Stop the warm actors (all, or one pool's): their CPUs go back to Ray Tune trials."""
    if not _pool_cache:
        return
    import ray

    if not ray.is_initialized():  # Ray shut down: the actors went with it (and ray.kill would start a Ray)
        _pool_cache.clear()
        return
    for k in [key] if key is not None else list(_pool_cache):
        for actor in _pool_cache.pop(k, []):
            try:
                ray.kill(actor)
            except Exception:  # noqa: BLE001 - Ray shut down, or the actor is gone already
                pass


# -- what a batched trial leaves (its files: runner.batch_files) ------------------

def write_error(path: Path, evaluation: Any) -> None:
    """A failed trial's error.txt (traceback) and error.pkl (the exception), as Ray Tune leaves them."""
    from raytuner.runner.records import ERROR_FILE, ERROR_PICKLE

    if evaluation.error is None:
        return
    (path / ERROR_FILE).write_text(evaluation.traceback or evaluation.error)
    if evaluation.error_pickle is not None:
        (path / ERROR_PICKLE).write_bytes(evaluation.error_pickle)


def trial_record(evaluation: Any, config: dict[str, Any], path: str, metric: str, mode: str = "max",
                 scope: str = "last") -> TrialRecord:
    """A batched trial as a TrialRecord (the same statuses, score and scope as ``runner.records``)."""
    from raytuner.results.scope import BEST, scored_step
    from raytuner.runner.records import _SMALL_KEYS, ERROR_FILE, flag_status

    raw = dict(evaluation.rows[-1]) if evaluation.rows else {}
    metrics = restore_raw(raw)
    status, error, error_type = "ok", None, None
    if evaluation.error is not None:
        status, error, error_type = "error", evaluation.error, evaluation.error_type
    elif flagged(raw):
        status, error, error_type = flag_status(raw)
    score = metrics.get(metric)
    step = int(raw.get("training_iteration") or 0) or None
    if scope == BEST and status == "ok":
        best = scored_step(evaluation.rows, metric, mode, BEST)
        if best.score is not None:
            score, step = best.score, best.step
    scored = isinstance(score, (int, float)) and not isinstance(score, bool)
    small = {k: v for k, v in metrics.items() if k not in _SMALL_KEYS and isinstance(v, (int, float, str, bool))}
    small["node_ip"] = evaluation.node_ip
    return TrialRecord(
        trial_id=evaluation.trial_id, status=status, config=config,
        score=float(score) if scored else None,
        steps=int(raw.get("training_iteration") or 0), time_s=round(float(raw.get("time_total_s") or 0.0), 6),
        error=error, path=path, metrics=small, nodes=[evaluation.node_ip] if evaluation.node_ip else [],
        error_type=error_type, error_log=f"{path.rstrip('/')}/{ERROR_FILE}" if evaluation.error is not None else None,
        score_step=step if scored else None,
    )


def _lost(trial_id: str, exc: BaseException) -> Any:
    from raytuner.trainables.batch import Evaluation

    message = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else "its actor died"
    return Evaluation(trial_id, [], f"{type(exc).__name__}: {message}", type(exc).__name__)

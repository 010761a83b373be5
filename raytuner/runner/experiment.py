"""The only module that assembles a ray.tune.Tuner: Plan -> Tuner -> Summary on disk."""

from __future__ import annotations

import datetime as _dt
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import yaml

from raytuner.errors import ExperimentFailed
from raytuner.runner.finish import finish_experiment
from raytuner.runner.plan import Plan, make_plan
from raytuner.results.summary import SPEC_FILE, Summary, TrialRecord, best_of, write_remote_outputs, write_summary
from raytuner.runner.scheduling import StopReasons, scheduling_report
from raytuner.runner.session import quiet_ray, ray_session
from raytuner.spec.models import ExperimentSpec
from raytuner.results.storage import experiment_uri
from raytuner.results.versions import versions


def experiment_dir_name(spec: ExperimentSpec, now: _dt.datetime | None = None) -> str:
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{spec.name}-{stamp}"


def storage_root(spec: ExperimentSpec) -> str:
    path = spec.storage.path
    if "://" in path:
        return path
    return str(Path(path).expanduser().resolve())


def build_tuner(plan: Plan, name: str, callbacks: list[Any], stopper: Any = None) -> Any:
    """The Tuner for a plan. ``stopper``: the spec's stopper (build_stopper), when the
    caller wants to read afterwards which condition stopped each trial."""
    from ray import tune

    from raytuner.runner.scheduling import checkpoint_config
    from raytuner.runner.stopping import build_stopper

    spec = plan.spec
    from raytuner.results.storage import tune_storage

    trainable = tune.with_resources(plan.trainable.build(), plan.trainable.trial_resources())
    storage_path, storage_filesystem = tune_storage(spec.storage)
    search_alg, param_space = search_setup(plan)
    from ray.tune.search.basic_variant import BasicVariantGenerator

    own_generator = isinstance(search_alg, BasicVariantGenerator)  # limits its own concurrency
    allow_parallel_pending(spec.budget.max_concurrent, own_generator)
    tune_config = tune.TuneConfig(
        metric=plan.metric,
        mode=plan.mode,
        search_alg=search_alg,
        scheduler=plan.scheduler.build(plan.schedule),
        num_samples=plan.num_samples,
        max_concurrent_trials=None if own_generator else spec.budget.max_concurrent,
        time_budget_s=spec.budget.time_limit_s,
        reuse_actors=True,
        trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}",
    )
    run_config = tune.RunConfig(
        name=name,
        storage_path=storage_path,
        storage_filesystem=storage_filesystem,
        stop=stopper if stopper is not None else build_stopper(spec.stop, plan.metric, plan.mode),
        failure_config=tune.FailureConfig(max_failures=spec.failure.max_retries),
        checkpoint_config=checkpoint_config(plan),
        callbacks=[*callbacks, *trial_loggers(spec.storage.tensorboard)],
        verbose=0,
    )
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune_config,
        run_config=run_config,
    )


def trial_loggers(tensorboard: bool) -> list[Any]:
    """The per-trial files: result.json and progress.csv, plus TensorBoard events on request.

    Ray adds all three when none is given, and its TensorBoard logger imports
    tensorboardX, which imports torch when torch is installed: about 1.5 s in the
    driver before the first trial starts, on every run. So raytuner names the loggers
    itself and turns Ray's automatic ones off.
    """
    import os

    from ray.tune.logger import CSVLoggerCallback, JsonLoggerCallback

    os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] = "1"
    loggers: list[Any] = [JsonLoggerCallback(), CSVLoggerCallback()]
    if tensorboard:
        from ray.tune.logger import TBXLoggerCallback

        loggers.append(TBXLoggerCallback())
    return loggers


def stop_reasons(stopper: Any, spec: ExperimentSpec, wall_s: float) -> StopReasons:
    """What the stopping conditions did: the condition that stopped each trial, and the
    condition that ended the experiment, or "time_limit", or None."""
    reasons = dict(stopper.reasons) if stopper is not None else {}
    ended = stopper.stopped_all if stopper is not None else None
    limit = spec.budget.time_limit_s
    if ended is None and limit is not None and wall_s >= limit:
        ended = "time_limit"
    return StopReasons(trials=reasons, ended_by=ended)


def allow_parallel_pending(max_concurrent: int | None, own_generator: bool = False) -> None:
    """Let trials start side by side with every searcher.

    Ray keeps at most one trial pending when a search algorithm other than its own
    generator is used, so fast trials on reused actors end up running one after the
    other (and on one node). Unless the user set TUNE_MAX_PENDING_TRIALS_PG, allow as
    many pending trials as may run at once (without a limit: 16, or twice the CPUs).
    With Ray's own generator, Ray's default (at least 200) stays: synchronous
    HyperBand needs a bracket's trials to exist before the first of them is halved.
    """
    import os

    if "TUNE_MAX_PENDING_TRIALS_PG" in os.environ and not os.environ.get("_RAYTUNER_PENDING_SET"):
        return
    if own_generator:
        os.environ.pop("TUNE_MAX_PENDING_TRIALS_PG", None)
        os.environ.pop("_RAYTUNER_PENDING_SET", None)
        return
    if max_concurrent is None:
        import ray

        max_concurrent = max(16, 2 * int(ray.cluster_resources().get("CPU", 1)))
    os.environ["TUNE_MAX_PENDING_TRIALS_PG"] = str(max_concurrent)
    os.environ["_RAYTUNER_PENDING_SET"] = "1"


def _ray_samples_exactly(plan: Plan) -> bool:
    """Random search that Ray's own generator samples exactly as ours would: no integer
    steps or float q (Ray rounds those from 0, not from low). Ray's generator creates
    trials without a searcher round trip, which keeps the per-trial overhead at raw Ray
    Tune's (scripts/bench_overhead.py)."""
    from raytuner.spec.params import iter_params

    if plan.strategy.name != "random":
        return False
    for _, param in iter_params(plan.spec.space):
        if getattr(param, "step", 1) != 1 or getattr(param, "q", None) is not None:
            return False
    return True


def search_setup(plan: Plan) -> tuple[Any, dict[str, Any]]:
    """The searcher and param_space for the Tuner.

    PBT/PB2 refuse any search algorithm (they explore by cloning trials): their first
    population comes from Ray's own BasicVariantGenerator, seeded: sampled from the space
    (random) or the strategy's list of configs (grid, manual). Synchronous HyperBand
    gets the same for those strategies (see Scheduler.synchronous), and so does plain
    random search (see _ray_samples_exactly).
    """
    plain = plan.strategy.name in ("random", "grid", "manual")
    if plan.scheduler.explores_itself or (plan.scheduler.synchronous and plain) or _ray_samples_exactly(plan):
        from ray.tune.search.basic_variant import BasicVariantGenerator

        from raytuner.spec.space import to_ray, values_space

        seed = plan.search.seed
        # Ray ignores TuneConfig.max_concurrent_trials for a generator passed in: it limits itself.
        limit = plan.spec.budget.max_concurrent or 0
        configs = getattr(plan.strategy, "configs", None)
        if configs is not None:
            points = [dict(c) for c in configs(plan.search)]
            space = values_space(points)
        else:
            points = [dict(p) for p in plan.search.points_to_evaluate] or None
            space = to_ray(plan.spec.space)
        return BasicVariantGenerator(points_to_evaluate=points, random_state=seed, max_concurrent=limit), space
    return plan.strategy.searcher(plan.search), plan.strategy.param_space(plan.search)


def run_experiment(
    spec: ExperimentSpec,
    *,
    address: str | None = None,
    progress_stream: TextIO | None = None,
    show_progress: bool = True,
    verbose: bool = False,
    inputs: Any = None,
) -> Summary:
    """Validate, run on Ray, write summary.json and spec.yaml; return the Summary.

    Raises SpecError before Ray starts for any problem with the spec, and
    ExperimentFailed (after writing the summary) when every trial failed.
    """
    plan = make_plan(spec, inputs)
    quiet_ray(verbose)
    from raytuner.console.progress import Progress, ProgressView

    name = experiment_dir_name(spec)
    if show_progress:
        for note in plan.notes:
            print(note, file=progress_stream or sys.stderr)
    progress = Progress(plan.metric, plan.mode, plan.num_samples if plan.strategy.name != "grid" else None)
    callbacks = [ProgressView(progress, progress_stream)] if show_progress else []
    started_at = _dt.datetime.now().isoformat(timespec="seconds")
    start = time.perf_counter()
    from raytuner.runner.stopping import build_stopper

    stopper = build_stopper(spec.stop, plan.metric, plan.mode)
    with ray_session(address, verbose=verbose):
        tuner = build_tuner(plan, name, callbacks, stopper)
        grid = tuner.fit()
        experiment_path = experiment_uri(spec.storage, grid.experiment_path)
        trials = [_record(result, plan.metric) for result in grid]
        final = finish_experiment(plan, trials, experiment_path)  # refit, export, ensemble, holdout
    wall = time.perf_counter() - start
    summary = Summary(
        name=spec.name,
        experiment_path=experiment_path,
        metric=plan.metric,
        mode=plan.mode,
        strategy=plan.strategy_label,
        scheduler=plan.scheduler.name,
        started_at=started_at,
        wall_time_s=round(wall, 3),
        trials=trials,
        best=best_of(trials, plan.mode),
        versions=versions(),
        final=final,
        scheduling=scheduling_report(plan, trials, stop_reasons(stopper, spec, wall)),
        **multi_objective(plan, trials),
    )
    _write_outputs(summary, spec)
    if trials and all(t.status == "error" for t in trials):
        raise ExperimentFailed(
            f"all {len(trials)} trials failed; first error:\n{trials[0].error}\n"
            f"details: {summary.experiment_path}"
        )
    return summary


def multi_objective(plan: Plan, trials: list[TrialRecord]) -> dict[str, Any]:
    """The objectives and Pareto front of a multi-objective run (nothing for one metric)."""
    from raytuner.results.pareto import pareto_front

    objectives = plan.search.objectives
    if len(objectives) < 2:
        return {}
    return {
        "objectives": [{"name": name, "mode": mode} for name, mode in objectives],
        "pareto_front": pareto_front(trials, objectives),
    }


def _write_outputs(summary: Summary, spec: ExperimentSpec) -> None:
    path = summary.experiment_path
    if "://" in path:  # remote storage: written through the same pyarrow filesystem
        write_remote_outputs(summary, spec)
        return
    Path(path).mkdir(parents=True, exist_ok=True)
    (Path(path) / SPEC_FILE).write_text(yaml.safe_dump(spec.to_data(), sort_keys=False))
    write_summary(summary, path)


_SMALL_KEYS = ("trial_id", "training_iteration", "time_total_s", "config", "date", "timestamp",
               "pid", "hostname", "node_ip", "time_since_restore", "iterations_since_restore",
               "time_this_iter_s", "checkpoint_dir_name", "done")


def _record(result: Any, metric: str) -> TrialRecord:
    metrics = dict(result.metrics or {})
    error = None
    if result.error is not None:
        error = f"{type(result.error).__name__}: {result.error}".strip()
    score = metrics.get(metric)
    small = {k: v for k, v in metrics.items() if k not in _SMALL_KEYS and isinstance(v, (int, float, str, bool))}
    small["node_ip"] = metrics.get("node_ip")
    return TrialRecord(
        # the directory names the trial; a PBT clone's last metrics may be its donor's
        trial_id=str(Path(result.path).name.removeprefix("trial_") or metrics.get("trial_id")),
        status="error" if error else "ok",
        config=dict(result.config or {}),
        score=float(score) if isinstance(score, (int, float)) else None,
        steps=int(metrics.get("training_iteration") or 0),
        time_s=round(float(metrics.get("time_total_s") or 0.0), 3),
        error=error,
        path=str(result.path),
        metrics=small,
    )

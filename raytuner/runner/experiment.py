"""The only module that assembles a ray.tune.Tuner: Plan -> Tuner -> Summary on disk."""

from __future__ import annotations

import contextlib
import datetime as _dt
import sys
import time
from pathlib import Path
from typing import Any, Iterator, TextIO

import yaml

from raytuner.errors import ExperimentFailed
from raytuner.runner.finish import finish_experiment
from raytuner.runner.plan import Plan, make_plan
from raytuner.runner.preflight import start_preflight
from raytuner.runner.resources import require_feasible, require_feasible_here
from raytuner.results.summary import SPEC_FILE, Summary, TrialRecord, best_of, write_remote_outputs, write_summary
from raytuner.runner.scheduling import StopReasons, scheduling_report
from raytuner.runner.records import trial_record
from raytuner.runner.retries import no_retry_for_permanent_errors
from raytuner.runner.session import quiet_ray, ray_session, scoped_environ
from raytuner.runner.tuning import TunerPlan, build_stopper, multi_objective, search_setup, trial_loggers, tuner_plan
from raytuner.spec.models import ExperimentSpec
from raytuner.results.storage import experiment_uri, for_spec, probe
from raytuner.results.versions import versions


def experiment_dir_name(spec: ExperimentSpec, now: _dt.datetime | None = None) -> str:
    stamp = (now or _dt.datetime.now()).strftime("%Y%m%d-%H%M%S")
    return f"{spec.name}-{stamp}"


def storage_root(spec: ExperimentSpec) -> str:
    path = spec.storage.path
    if "://" in path:
        return path
    return str(Path(path).expanduser().resolve())


def build_tuner(plan: Plan, tuning: TunerPlan, name: str, callbacks: list[Any], stopper: Any = None) -> Any:
    """The Tuner for a plan and its decisions (``tuner_plan``); run it inside
    ``tuner_environ(tuning)``. ``stopper``: the spec's stopper (``runner.tuning.build_stopper``),
    when the caller wants to read afterwards which condition stopped each trial."""
    from ray import tune

    trainable = tune.with_resources(plan.trainable.trial_function(plan.objectives), plan.trainable.trial_resources())
    search_alg, param_space = search_setup(plan, tuning.source)
    tune_config = tune.TuneConfig(
        metric=tuning.tune_metric,
        mode=tuning.tune_mode,
        search_alg=search_alg,
        scheduler=plan.scheduler.build(plan.schedule),
        num_samples=tuning.num_samples,
        max_concurrent_trials=tuning.max_concurrent_trials,
        time_budget_s=tuning.time_budget_s,
        reuse_actors=True,
        trial_dirname_creator=lambda trial: f"trial_{trial.trial_id}",
    )
    run_config = tune.RunConfig(
        name=name,
        storage_path=tuning.storage_path,
        storage_filesystem=tuning.storage_filesystem,
        stop=stopper if stopper is not None else build_stopper(tuning),
        failure_config=tune.FailureConfig(max_failures=tuning.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=tuning.checkpoints_to_keep),
        callbacks=[*callbacks, *trial_loggers(tuning.tensorboard)],
        verbose=0,
    )
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune_config,
        run_config=run_config,
    )


@contextlib.contextmanager
def tuner_environ(tuning: TunerPlan, verbose: bool = False) -> Iterator[None]:
    """Ray's environment variables and log levels for building and running the Tuner
    (with Ray up), and its retry policy (errors a retry cannot fix are not retried:
    ``runner.retries``), all restored on exit: the caller's process is left as it was."""
    with quiet_ray(verbose), scoped_environ(tuning.environ()), no_retry_for_permanent_errors():
        yield


def stop_reasons(stopper: Any, spec: ExperimentSpec, wall_s: float) -> StopReasons:
    """What the stopping conditions did: the condition that stopped each trial, and the
    condition that ended the experiment, or "time_limit", or None."""
    reasons = dict(stopper.reasons) if stopper is not None else {}
    ended = stopper.stopped_all if stopper is not None else None
    limit = spec.budget.time_limit_s
    if ended is None and limit is not None and wall_s >= limit:
        ended = "time_limit"
    return StopReasons(trials=reasons, ended_by=ended)


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
    tuning = tuner_plan(plan)
    from raytuner.console.progress import Progress, ProgressView
    from raytuner.runner.faults import FaultLog

    name = experiment_dir_name(spec)
    if show_progress:
        for note in plan.notes:
            print(note, file=progress_stream or sys.stderr)
    progress = Progress(plan.metric, plan.mode, tuning.progress_total)
    callbacks = [ProgressView(progress, progress_stream)] if show_progress else []
    callbacks.append(fault_log := FaultLog())  # the nodes each trial ran on, its failures and restores
    started_at = _dt.datetime.now().isoformat(timespec="seconds")
    start = time.perf_counter()
    stopper = build_stopper(tuning)
    require_feasible_here(plan.trainable.trial_resources(), address, spec.resources.wait_for_nodes_s)  # no Ray yet
    probe(for_spec(spec.storage), "write results to")  # refused credentials: one message, before Ray
    preflight = start_preflight(plan)  # the sample fit, beside Ray's start-up
    with ray_session(address, verbose=verbose):  # quiet, and restored on exit
        preflight.result()  # its SpecError: Ray shut down, nothing written
        require_feasible(plan.trainable.trial_resources(), spec.resources.wait_for_nodes_s, progress_stream)
        with tuner_environ(tuning, verbose):
            tuner = build_tuner(plan, tuning, name, callbacks, stopper)
            grid = tuner.fit()
        experiment_path = experiment_uri(spec.storage, grid.experiment_path)
        trials = [_record(result, plan.metric) for result in grid]
        fault_log.annotate(trials)
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
    if trials and all(t.status != "ok" for t in trials):  # failed or diverged
        from raytuner.console.failures import all_failed_message

        raise ExperimentFailed(all_failed_message(trials, summary.experiment_path))
    return summary


def _write_outputs(summary: Summary, spec: ExperimentSpec) -> None:
    path = summary.experiment_path
    if "://" in path:  # remote storage: written through the same pyarrow filesystem
        write_remote_outputs(summary, spec)
        return
    Path(path).mkdir(parents=True, exist_ok=True)
    (Path(path) / SPEC_FILE).write_text(yaml.safe_dump(spec.to_data(), sort_keys=False))
    write_summary(summary, path)


def _record(result: Any, metric: str) -> TrialRecord:
    return trial_record(result, metric)  # raytuner.runner.records: status, score, error type and message

"""The only module that assembles a ray.tune.Tuner: Plan -> Tuner -> Summary on disk."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator, TextIO

import yaml

from raytuner.errors import ExperimentFailed, Interrupted
from raytuner.runner.early import light_usage_tags
from raytuner.runner.finish import finish_experiment
from raytuner.runner.history import plan_task_key, record_history
from raytuner.runner.warm_start import warm_start
from raytuner.runner.plan import Plan, make_plan
from raytuner.runner.preflight import start_preflight
from raytuner.runner.resources import require_feasible, require_feasible_here
from raytuner.results.summary import (INTERRUPTED, SPEC_FILE, Summary, TrialRecord, best_of, write_remote_outputs,
                                      write_summary)
from raytuner.runner.partial import PartialSummary, RunInfo, write_spec
from raytuner.runner.resume import ResumePoint, find_resume_point, restore_tuner
from raytuner.runner.scheduling import StopReasons, scheduling_report
from raytuner.runner.heap import HeapTrim
from raytuner.runner.lean_controller import lean_controller
from raytuner.runner.lean_trials import ReleaseFinished, trial_dirname
from raytuner.runner.records import trial_record
from raytuner.runner.retired import RetiredTrials
from raytuner.runner.retries import no_retry_for_permanent_errors
from raytuner.runner.session import joined_session, quiet_ray, ray_session, scoped_environ
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
        trial_dirname_creator=trial_dirname,  # a module function: pickled by name in each trial's state
    )
    run_config = tune.RunConfig(
        name=name,
        storage_path=tuning.storage_path,
        storage_filesystem=tuning.storage_filesystem,
        stop=stopper if stopper is not None else build_stopper(tuning),
        failure_config=tune.FailureConfig(max_failures=tuning.max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=tuning.checkpoints_to_keep, **_kept_by_score(plan)),
        callbacks=[*callbacks, *trial_loggers(tuning.tracking, name)],
        verbose=0,
    )
    return tune.Tuner(
        trainable,
        param_space=param_space,
        tune_config=tune_config,
        run_config=run_config,
    )


def _kept_by_score(plan: Plan) -> dict[str, Any]:
    """``metric.scope: best``: Ray keeps each trial's best checkpoints by the metric (and always its
    latest, for restores), so the best step's weights are there to export."""
    if plan.scope != "best":
        return {}
    return {"checkpoint_score_attribute": plan.metric, "checkpoint_score_order": plan.mode}


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
    resume: ResumePoint | None = None,
    announce: Callable[[str], None] | None = None,
) -> Summary:
    """Validate, run on Ray, write summary.json and spec.yaml; return the Summary.

    Raises SpecError before Ray starts for any problem with the spec, ExperimentFailed
    (after writing the summary) when every trial failed, and Interrupted (after writing
    the partial summary) on Ctrl+C. ``resume``: continue that experiment (resume_experiment).
    ``announce(experiment_path)`` is called once the experiment's path is known, before any
    trial runs (a cluster job prints it, so a stopped job's partial results can be fetched).
    """
    plan = make_plan(spec, inputs)
    plan, warm = warm_start(plan)  # seeds points_to_evaluate from past experiments (spec.warm_start)
    tuning = tuner_plan(plan)
    from raytuner.console.progress import Progress, ProgressView
    from raytuner.runner.faults import FaultLog

    name = resume.name if resume else experiment_dir_name(spec)
    if show_progress:
        for note in plan.notes:
            print(note, file=progress_stream or sys.stderr)
    progress = Progress(plan.metric, plan.mode, tuning.progress_total)
    callbacks: list[Any] = [ProgressView(progress, progress_stream)] if show_progress else []
    callbacks.append(fault_log := FaultLog())  # the nodes each trial ran on, its failures and restores
    info = _run_info(plan, name, resume)
    if announce is not None:
        announce(info.experiment_path)
    retired = _retired_trials(plan, progress)  # finished trials Tune's controller lets go of (None: it keeps all)
    partial = PartialSummary(info, retired=retired)  # summary.json with state "running", rewritten as trials finish
    callbacks.append(partial)
    callbacks.append(ReleaseFinished(o.name for o in plan.objectives))  # a finished trial's metric statistics
    callbacks.append(HeapTrim())  # the freed heap back to the OS as trials finish
    started_at = info.started_at
    start = time.perf_counter()
    stopper = build_stopper(tuning)
    require_feasible_here(plan.trainable.trial_resources(), address, spec.resources.wait_for_nodes_s)  # no Ray yet
    probe(for_spec(spec.storage), "write results to")  # refused credentials: one message, before Ray
    preflight = start_preflight(plan)  # the sample fit, beside Ray's start-up
    preprocessing = plan.trainable.data_report()  # the data is loaded and checked: what is done to it, printed once
    if show_progress and preprocessing:
        print("preprocessing (inside the pipeline, fitted per fold):", file=progress_stream or sys.stderr)
        for line in preprocessing["lines"]:
            print(f"  {line}", file=progress_stream or sys.stderr)
    with ray_session(address, verbose=verbose):  # quiet, and restored on exit
        preflight.result()  # its SpecError: Ray shut down, nothing written
        session = joined_session()  # the user's warm session (raytuner session start), if joined
        require_feasible(plan.trainable.trial_resources(), spec.resources.wait_for_nodes_s, progress_stream)
        if plan.batch and resume is None:  # cheap trials in batches on warm actors (runner.batched)
            experiment_path, trials = _run_batched(plan, info, partial, callbacks[0] if show_progress else None)
            checkpoints: dict[str, list] = {}  # batched trials keep no checkpoints
        else:
            from raytuner.runner.batched import release_pool

            release_pool()  # a batched run's warm actors give their CPUs back to the trials
            light_usage_tags()  # Ray's callback telemetry without importing mlflow, W&B, Comet, Aim
            with tuner_environ(tuning, verbose), lean_controller(retired):
                if resume is not None:
                    tuner = restore_tuner(resume, plan, tuning, callbacks, stopper)
                else:
                    tuner = build_tuner(plan, tuning, name, callbacks, stopper)
                    write_spec(spec, info.experiment_path)  # what resume needs, from the start
                    partial.write([])
                try:
                    grid = tuner.fit()
                except KeyboardInterrupt:  # a second Ctrl+C: Tune's last state save was skipped
                    _record_interrupted(spec, plan, partial.write(partial.trials, INTERRUPTED), progress_stream)
                    raise Interrupted(info.experiment_path) from None
            if partial.interrupted:  # Ctrl+C once: Tune stopped the trials, saved its state, and
                _record_interrupted(spec, plan, partial.write(partial.trials, INTERRUPTED), progress_stream)
                raise Interrupted(info.experiment_path)  # the partial summary says "interrupted"
            experiment_path = experiment_uri(spec.storage, grid.experiment_path)
            results = list(grid)  # the trials Tune's controller still held
            trials = [trial_record(result, plan.metric, plan.mode, plan.scope) for result in results]
            checkpoints = {t.trial_id: list(r.best_checkpoints or []) for t, r in zip(trials, results)}
            if retired is not None:  # and the ones it let go of, recorded as they went
                trials, checkpoints = retired.merged(trials), {**retired.checkpoints(), **checkpoints}
            fault_log.annotate(trials)
        final = finish_experiment(plan, trials, experiment_path, checkpoints)  # refit, export, ensemble, holdout
    wall = time.perf_counter() - start
    summary = Summary(
        name=spec.name,
        experiment_path=experiment_path,
        metric=plan.metric,
        mode=plan.mode,
        strategy=plan.strategy_label,
        scheduler=plan.scheduler.name,
        started_at=started_at,
        wall_time_s=round(info.prior_wall_s + wall, 3),
        trials=trials,
        best=best_of(trials, plan.mode),
        versions=versions(),
        final=final,
        scheduling=scheduling_report(plan, trials, stop_reasons(stopper, spec, wall)),
        warm_start=warm,
        task_key=plan_task_key(plan),
        scope=plan.scope,
        preprocessing=preprocessing,
        ray={"address": session.address, "session": True} if session is not None else {},
        **multi_objective(plan, trials),
    )
    _write_outputs(summary, spec)
    record_history(spec, plan, summary, progress_stream)  # the history store; a failure is one warning line
    if trials and all(t.status != "ok" for t in trials):  # failed or diverged
        from raytuner.console.failures import all_failed_message

        raise ExperimentFailed(all_failed_message(trials, summary.experiment_path), summary)
    return summary


def _retired_trials(plan: Plan, progress: Any) -> RetiredTrials | None:
    """The keeper of the finished trials Tune's controller lets go of (runner.lean_controller), or
    None where the scheduler reads finished trials back from the controller (PBT, HyperBand)."""
    if not plan.scheduler.releases_finished:
        return None
    retired = RetiredTrials(plan.metric, plan.mode, plan.scope)

    def count(records: list[TrialRecord]) -> None:  # a resume: the progress line counts them as ended
        for record in records:
            if record.status == "ok":
                progress.observe(record.trial_id, record.score)
                progress.done += 1
            else:
                progress.failed += 1
            progress.finish(record.trial_id)

    retired.on_load.append(count)
    return retired


def _record_interrupted(spec: ExperimentSpec, plan: Plan, summary: Summary, stream: Any) -> None:
    """An interrupted run goes in the history store too (state "interrupted", its trials so far)."""
    record_history(spec, plan, dataclasses.replace(summary, task_key=plan_task_key(plan)), stream)


def resume_experiment(directory: str, *, retry_failed: bool = False, endpoint: str | None = None,
                      **options: Any) -> Summary:
    """Finish an interrupted experiment (runner.resume); ``options`` as for run_experiment."""
    point = find_resume_point(directory, retry_failed=retry_failed, endpoint=endpoint)
    return run_experiment(point.spec, resume=point, **options)


def _run_batched(plan: Plan, info: RunInfo, partial: PartialSummary, view: Any) -> tuple[str, list[TrialRecord]]:
    """The batched path (runner.batched): its trial records; Ctrl+C writes what ended and stops."""
    from raytuner.runner.batched import keep_warm, run_batched
    from raytuner.runner.partial import write_partial

    write_spec(plan.spec, info.experiment_path)
    partial.write([])
    records: list[TrialRecord] = []
    limit = plan.spec.budget.time_limit_s
    start = time.monotonic()
    try:
        run_batched(plan, info.experiment_path, view, records, start + limit if limit else None)
    except KeyboardInterrupt:
        write_partial(info.summary(records, INTERRUPTED, time.monotonic() - start), info.storage)
        raise Interrupted(info.experiment_path) from None
    finally:
        keep_warm(plan.spec.execution.warm_s)  # stopped now, or kept for the next batched run
    return info.experiment_path, records


def _run_info(plan: Plan, name: str, resume: ResumePoint | None) -> RunInfo:
    spec = plan.spec
    return RunInfo(
        name=spec.name,
        experiment_path=resume.uri if resume else for_spec(spec.storage).child(name).uri,
        metric=plan.metric, mode=plan.mode, strategy=plan.strategy_label, scheduler=plan.scheduler.name,
        started_at=(resume and resume.started_at) or _dt.datetime.now().isoformat(timespec="seconds"),
        storage=spec.storage,
        prior_wall_s=resume.prior_wall_s if resume else 0.0,
        scope=plan.scope,
    )


def _write_outputs(summary: Summary, spec: ExperimentSpec) -> None:
    path = summary.experiment_path
    if "://" in path:  # remote storage: written through the same pyarrow filesystem
        write_remote_outputs(summary, spec)
        return
    Path(path).mkdir(parents=True, exist_ok=True)
    (Path(path) / SPEC_FILE).write_text(yaml.safe_dump(spec.to_data(), sort_keys=False))
    write_summary(summary, path)

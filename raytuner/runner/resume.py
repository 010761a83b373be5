"""``raytuner resume DIR``: finish an interrupted experiment with Ray Tune's ``Tuner.restore``.

An experiment directory holds what a resume needs from the start of the run: spec.yaml
(the validated spec, overrides applied: it rebuilds the same trainable and search
space; objects.pkl holds the Python objects it only names: ``runner.objects``), Ray Tune's ``tuner.pkl`` and its periodic experiment state (trial statuses, each
trial's latest checkpoint, the searcher's state; saved every
``runner.tuning.EXPERIMENT_STATE_PERIOD_S`` seconds), and the partial
summary.json. Finished trials are kept as they are, unfinished ones continue from their
last checkpoint, failed ones are rerun from scratch with ``retry_failed``, and the
searcher continues where it stopped, so the final count is the spec's budget. Finished
trials Tune's controller had let go of (``runner.lean_controller``) come back as records from
the same snapshot and are not run again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from raytuner.errors import ResultsError, SpecError
from raytuner.results import storage
from raytuner.results.summary import FINISHED, SPEC_FILE, SUMMARY_FILE, Summary, read_summary
from raytuner.runner.tuning import build_stopper, search_setup, trial_loggers
from raytuner.spec.models import ExperimentSpec

TUNER_FILE = "tuner.pkl"  # Ray Tune writes it when the Tuner is built


@dataclass(frozen=True)
class ResumePoint:
    """An experiment directory that can be resumed, and how."""

    uri: str  # what users see: an absolute local path or s3://bucket/key
    tune_path: str  # what Tune.restore is given (the path inside ``filesystem``)
    filesystem: Any  # a pyarrow filesystem for remote storage, else None
    spec: ExperimentSpec
    previous: Summary | None  # the partial (or final) summary.json, when one was written
    retry_failed: bool = False

    @property
    def name(self) -> str:
        return self.uri.rstrip("/").rsplit("/", 1)[-1]

    @property
    def started_at(self) -> str | None:
        return self.previous.started_at if self.previous else None

    @property
    def prior_wall_s(self) -> float:
        return float(self.previous.wall_time_s) if self.previous else 0.0


def find_resume_point(directory: str, *, retry_failed: bool = False, endpoint: str | None = None) -> ResumePoint:
    """Check ``directory`` is a raytuner experiment that can be resumed (ResultsError: exit 2, if not)."""
    endpoint = endpoint or os.environ.get("RAYTUNER_STORAGE_ENDPOINT")
    try:
        location = storage.resolve(directory, endpoint=endpoint)
    except SpecError as exc:
        raise ResultsError(f"cannot open {directory}: {exc.problems[0].expected}") from None
    run_it = "give the directory `raytuner run` printed (e.g. results/NAME-YYYYmmdd-HHMMSS)"
    if not storage.exists(location):
        raise ResultsError(f"{directory} does not exist: {run_it}")
    if not storage.is_file(location.child(SPEC_FILE)):
        raise ResultsError(f"{directory} is not a raytuner experiment directory (no {SPEC_FILE}): {run_it}")
    spec = _saved_spec(location, directory)
    previous = _previous(location, endpoint)
    if previous is not None and previous.state == FINISHED:
        failed = previous.counts.get("error", 0)
        if not (retry_failed and failed):
            hint = f"; rerun its {failed} failed trial(s) with --retry-failed" if failed else ""
            raise ResultsError(f"{directory} already finished ({len(previous.trials)} trials): nothing to resume; "
                               f"see it with `raytuner results {directory}`{hint}")
    if not storage.is_file(location.child(TUNER_FILE)):
        raise ResultsError(f"{directory}: Ray Tune saved no state there (stopped before the run started): "
                           f"start it again with `raytuner run`")
    if location.is_local:
        return ResumePoint(location.uri, location.path, None, spec, previous, retry_failed)
    remote = storage.resolve(directory, endpoint=endpoint or spec.storage.endpoint, region=spec.storage.region)
    return ResumePoint(remote.uri, remote.path, remote.fs, spec, previous, retry_failed)


def _saved_spec(location: storage.Location, directory: str) -> ExperimentSpec:
    import yaml

    from raytuner.spec.loader import validate_spec

    from raytuner.runner.objects import restore_objects

    text = storage.read_text(location.child(SPEC_FILE))
    try:
        data = yaml.safe_load(text)
        if isinstance(data, dict):
            data = restore_objects(data, location)  # functions and classes given as objects (runner.objects)
        return validate_spec(data)
    except (yaml.YAMLError, SpecError) as exc:
        raise ResultsError(f"{directory}/{SPEC_FILE} is not a valid raytuner spec ({exc}): "
                           "resume needs the spec the run saved") from None


def _previous(location: storage.Location, endpoint: str | None) -> Summary | None:
    if not storage.is_file(location.child(SUMMARY_FILE)):
        return None
    try:
        return read_summary(location.uri, endpoint=endpoint)
    except ResultsError:
        return None  # a torn or foreign summary.json: Tune's own state decides


def restore_tuner(point: ResumePoint, plan: Any, tuning: Any, callbacks: list[Any], stopper: Any) -> Any:
    """Ray Tune's Tuner for ``point``, with the same trainable and search space as the run,
    and this run's callbacks (progress, partial summary, trial loggers) and stopper."""
    from ray import tune

    trainable = tune.with_resources(plan.trainable.trial_function(plan.objectives), plan.trainable.trial_resources())
    _, param_space = search_setup(plan, tuning.source)
    tuner = tune.Tuner.restore(
        point.tune_path,
        trainable=trainable,
        resume_unfinished=True,
        resume_errored=False,
        restart_errored=point.retry_failed,
        param_space=param_space,
        storage_filesystem=point.filesystem,
    )
    # Tune restores the RunConfig pickled when the run started (its callbacks wrote to the
    # old process's streams): give it this run's. Not reachable through Ray Client.
    local = getattr(tuner, "_local_tuner", None)
    if local is not None:
        run_config = local.get_run_config()
        run_config.callbacks = [*callbacks, *trial_loggers(tuning.tracking, point.name)]
        run_config.stop = stopper if stopper is not None else build_stopper(tuning)
    return tuner

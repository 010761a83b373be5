"""What the driver keeps of a finished trial: ``ReleaseFinished`` trims Ray Tune's Trial.

Tune keeps every Trial object in the driver until the run ends (the ResultGrid is built
from them), and each holds, besides its config and last result, running statistics of
every numeric metric it reported: ``run_metadata.metric_analysis`` (max, min, avg, last,
last-5-avg, last-10-avg per metric) and ``metric_n_steps`` (two deques per metric), plus
a cached JSON copy of all that for the experiment state file. With many short trials that
is most of the driver's growth per trial (ray#64231).

raytuner reads none of it for a finished trial: records come from the last result, the
config, the path and the error; schedulers and searchers act on live trials. So once a
trial completes or fails, the statistics of every metric but the run's objectives are
dropped (the objectives' stay: Ray's ``ResultGrid.get_best_result`` reads them), and the
cached JSON is invalidated so the next experiment-state save stores the trimmed state.

A trial that completed (Tune never runs it again, a resume included) gives up more:
the step windows of the objectives too (``metric_n_steps``: only updated by new
results), and its own copy of the resource request, replaced by one shared by every
finished trial that asked the same (``release``). A failed trial keeps its windows: a
resume with ``retry_failed`` runs it again. Either kind lets go of the ObjectRef Tune
keeps of the actor's default metrics (``_default_result_or_future``, read only while a
trial has not reported yet): held, it pins a reference and its small object in Ray's core
worker for the whole run. Measured by ``scripts/bench_scale.py``.
"""

from __future__ import annotations

from typing import Any, Iterable

from ray.tune import Callback
from ray.tune.progress_reporter import TrialProgressCallback


def trial_dirname(trial: Any) -> str:
    """``trial_<id>``: the trial directory's name. A module function, not a lambda: Tune
    pickles it into every trial's saved state (a lambda by value, about 1.3 KB a trial)."""
    return f"trial_{trial.trial_id}"


def trim(trial: Any, keep: Iterable[str]) -> int:
    """Drop the running statistics of every metric not in ``keep``; returns how many went."""
    meta = getattr(trial, "run_metadata", None)
    if meta is None:
        return 0
    kept = set(keep)
    analysis, steps = meta.metric_analysis, meta.metric_n_steps
    gone = [name for name in analysis if name not in kept]
    for name in gone:
        analysis.pop(name, None)
        steps.pop(name, None)
    for name in [name for name in steps if name not in kept]:
        steps.pop(name, None)
    meta.invalidate_cache()  # the dicts changed in place: the cached JSON is stale
    drop_default_future(trial)
    return len(gone)


def drop_default_future(trial: Any) -> None:
    """Forget the ObjectRef of the actor's default metrics once the trial has reported
    (Tune's ``last_result`` reads it only for a trial with no report of its own)."""
    meta = getattr(trial, "run_metadata", None)
    reported = meta is not None and any(key != "trial_id" for key in meta.last_result)
    if reported and getattr(trial, "_default_result_or_future", None) is not None:
        trial._default_result_or_future = None


def release(trial: Any, keep: Iterable[str], shared: dict[Any, Any]) -> None:
    """A completed trial: ``trim``, drop every step window, share its resource request.

    ``shared`` maps a resource request to the one instance finished trials keep of it."""
    trim(trial, keep)
    meta = getattr(trial, "run_metadata", None)
    if meta is not None and meta.metric_n_steps:
        meta.metric_n_steps = {}  # Tune only appends to them on a new result (none comes)
    request = getattr(trial, "placement_group_factory", None)
    if request is not None:
        same = shared.setdefault(request, request)
        if getattr(trial, "_default_placement_group_factory", None) is request:
            trial._default_placement_group_factory = same
        trial.placement_group_factory = same
    if hasattr(trial, "invalidate_json_state"):
        trial.invalidate_json_state()


class NoTrialProgress(TrialProgressCallback):
    """Stands in for Ray's ``TrialProgressCallback``, which Tune adds to every run of its old
    output flow (raytuner's: ``RAY_AIR_NEW_OUTPUT=0``) unless one is given. At ``verbose=0`` it
    prints nothing, yet keys four dicts and sets by the Trial object and never lets go: every
    finished Trial stays alive for the whole run. This one keeps nothing (raytuner's progress
    view prints the run)."""

    def __init__(self) -> None:
        super().__init__()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        pass

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        pass

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        pass


class ReleaseFinished(Callback):
    """Trims each Trial as it completes or fails (in the driver); keeps one resource request
    per distinct request, nothing per trial."""

    def __init__(self, objectives: Iterable[str]) -> None:
        self.objectives = tuple(objectives)
        self._shared: dict[Any, Any] = {}

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        release(trial, self.objectives, self._shared)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        trim(trial, self.objectives)

    def __getstate__(self) -> dict[str, Any]:  # Ray pickles callbacks with the experiment state
        return {**self.__dict__, "_shared": {}}

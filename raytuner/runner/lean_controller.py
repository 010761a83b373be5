"""Finished trials out of Ray Tune's controller: ``LeanController`` and ``lean_controller(keeper)``.

Tune's ``TuneController`` keeps every Trial until the run ends: in ``_trials``, in its
status sets, and as a cached JSON state in ``_trial_metadata`` that every experiment-state
snapshot writes again (ray#64231). With 10,000 trivial trials that is ~14 KB a trial of
driver memory and saves that grow with the run. ``LeanController`` keeps the ``keep`` most
recently completed trials and, after each step, hands older completed ones to a
``runner.retired.RetiredTrials`` (their TrialRecord and kept checkpoints) and removes every
reference the controller holds to them. Nothing else in Tune reads a completed trial:
searchers and the concurrency limit were told of it on completion (the searcher's own
count keeps ``num_samples``), and the schedulers raytuner allows this with
(``Scheduler.releases_finished``) act only on live trials. Failed trials stay (a resume may
retry them), and so do paused, pending and running ones.

``tune.run`` builds its controller by name, in the thread that calls ``Tuner.fit``:
``lean_controller(keeper)`` swaps ``ray.tune.tune.TuneController`` for this class while any
such block runs in the process, and the keeper is the calling thread's (a Tune run in
another thread, without one, gets Tune's behaviour). A Tuner behind Ray Client runs
elsewhere and keeps every trial, as before.
"""

from __future__ import annotations

import collections
import contextlib
import threading
from typing import Any, Iterator

from ray.tune.execution.tune_controller import TuneController
from ray.tune.experiment import Trial

from raytuner.runner.retired import RetiredTrials

STATE_KEY = "_raytuner_retired"  # the keeper's state in the snapshot's runner_data
_PATCH_LOCK = threading.Lock()
_PATCH = {"users": 0, "previous": None}  # blocks in force, and Tune's class to put back after the last
_LOCAL = threading.local()  # .keeper: the RetiredTrials of the run this thread is in


class LeanController(TuneController):
    """TuneController that retires completed trials beyond ``keeper.keep`` (see the module)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.keeper: RetiredTrials | None = getattr(_LOCAL, "keeper", None)  # None: Tune's behaviour
        self._finished: collections.deque[Trial] = collections.deque()  # completed trials, oldest first
        super().__init__(*args, **kwargs)

    # -- which trials have completed, in order -------------------------------------------
    def _set_trial_status(self, trial: Trial, status: str) -> None:
        before = trial.status
        super()._set_trial_status(trial, status)
        if status == Trial.TERMINATED and before != Trial.TERMINATED:
            self._finished.append(trial)

    def add_trial(self, trial: Trial) -> None:
        super().add_trial(trial)
        if trial.status == Trial.TERMINATED:  # a resume's finished trials
            self._finished.append(trial)

    # -- retiring ---------------------------------------------------------------------------
    def step(self) -> None:
        super().step()
        keeper = self.keeper
        if keeper is not None:
            self._retire(keeper)
            keeper.held_max = max(keeper.held_max, len(self._trials))

    def _retire(self, keeper: RetiredTrials) -> None:
        finished = self._finished
        gone: set[Trial] = set()
        while len(finished) > keeper.keep:
            trial = finished[0]
            if trial.status != Trial.TERMINATED:  # run again since (a requeued trial): not finished now
                finished.popleft()
                continue
            if not self._may_retire(trial):
                break  # its actor or a decision is still in flight: retry after the next step
            finished.popleft()
            keeper.add(trial)
            gone.add(trial)
        if gone:
            self._forget(gone)

    def _may_retire(self, trial: Trial) -> bool:
        return (trial not in self._trial_to_actor and not trial.is_saving and not trial.is_restoring
                and trial.trial_id not in self._cached_trial_decisions
                and trial.trial_id not in self._queued_trial_decisions)

    def _forget(self, gone: set[Trial]) -> None:
        """Every reference the controller holds to the ``gone`` trials."""
        self._trials[:] = [t for t in self._trials if t not in gone]  # in place: callbacks were given this list
        for trial in gone:
            self._stopped_trials.discard(trial)
            self._live_trials.discard(trial)
            self._trials_to_cache.discard(trial)
            self._trial_metadata.pop(trial.trial_id, None)
            pending = self._resources_to_pending_trials.get(trial.placement_group_factory)
            if pending is not None:
                pending.discard(trial)
            self._checkpoint_manager._trial_num_checkpoints_since_last_sync.pop(trial, None)
        self._pending_trials_list = [t for t in self._pending_trials_list if t not in gone]

    # -- the snapshot (experiment_state-*.json) ------------------------------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        keeper = state.pop("keeper", None)
        state.pop("_finished", None)
        if keeper is not None and len(keeper):
            state[STATE_KEY] = keeper.state()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        retired = state.pop(STATE_KEY, None)
        super().__setstate__(state)
        if self.keeper is not None:
            self.keeper.load(retired, self._storage.storage_filesystem)

    def _restore_trials(self, experiment_state: dict) -> list[Trial]:
        if not experiment_state.get("trial_data"):  # every trial was retired: Tune's own code indexes [0]
            return []
        return super()._restore_trials(experiment_state)


@contextlib.contextmanager
def lean_controller(keeper: RetiredTrials | None) -> Iterator[None]:
    """While the block runs, ``tune.run`` in this process builds a LeanController fed to ``keeper``
    (None: Tune's own controller, unchanged)."""
    if keeper is None:
        yield
        return
    import ray.tune.tune as tune_module

    with _PATCH_LOCK:
        if _PATCH["users"] == 0:
            _PATCH["previous"] = tune_module.TuneController
            tune_module.TuneController = LeanController  # type: ignore[misc]
        _PATCH["users"] += 1
    _LOCAL.keeper = keeper
    try:
        yield
    finally:
        _LOCAL.keeper = None
        with _PATCH_LOCK:
            _PATCH["users"] -= 1
            if _PATCH["users"] == 0 and tune_module.TuneController is LeanController:
                tune_module.TuneController = _PATCH["previous"]  # type: ignore[misc]

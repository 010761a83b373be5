"""Which nodes each trial ran on, and what happened when it failed and was restored.

``FaultLog`` is a Ray Tune callback: every result names its node (``node_ip``); Tune calls
``on_trial_recover`` for a failure it retries (``FailureConfig.max_failures``) and
``on_trial_error`` for the last one. The first result after a recovery tells where the trial
went on and from which checkpoint (``training_iteration - iterations_since_restore``). After
the run, a failure counts as a node loss when the node the trial ran on is no longer alive
(Ray marks a lost node dead some seconds after it goes), or Ray's error says its node died.
``FaultBook`` holds the bookkeeping without Ray (unit-tested on made-up events).
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from ray.tune import Callback

from raytuner.results.faults import ERROR, NODE_LOST, Restore
from raytuner.results.summary import TrialRecord

_NODE_DIED = ("node has died", "nodediederror", "node died", "its node is dead", "raylet died")


class FaultBook:
    def __init__(self) -> None:
        self.nodes: dict[str, list[str]] = {}
        self.failures: dict[str, int] = {}
        self.restores: dict[str, list[Restore]] = {}
        self._pending: dict[str, Restore] = {}  # restored, not yet reported again

    def result(self, trial_id: str, node: Any, step: Any, since_restore: Any) -> None:
        nodes = self.nodes.setdefault(trial_id, [])
        if node and (not nodes or nodes[-1] != str(node)):
            nodes.append(str(node))
        pending = self._pending.pop(trial_id, None)
        if pending is not None:
            pending.to_node = str(node) if node else None
            if isinstance(step, int) and isinstance(since_restore, int):
                pending.step = max(0, step - since_restore)

    def failed(self, trial_id: str, failures: int, error: str | None, *, restored: bool) -> None:
        self.failures[trial_id] = max(int(failures or 0), self.failures.get(trial_id, 0) + 1)
        if not restored:
            return
        nodes = self.nodes.get(trial_id) or [None]
        record = Restore(failure=self.failures[trial_id], cause=ERROR, from_node=nodes[-1], error=error)
        self.restores.setdefault(trial_id, []).append(record)
        self._pending[trial_id] = record

    def annotate(self, trials: Iterable[TrialRecord], lost_nodes: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        """Put each trial's nodes, failure count and restores on its record; name node losses."""
        for trial in trials:
            trial.nodes = list(self.nodes.get(trial.trial_id, []))
            restores = self.restores.get(trial.trial_id, [])
            for restore in restores:
                said = (restore.error or "").lower()
                if restore.from_node in lost_nodes or any(words in said for words in _NODE_DIED):
                    restore.cause = NODE_LOST
            trial.restores = list(restores)
            trial.failures = self.failures.get(trial.trial_id, 0)


def _first_line(text: Any) -> str | None:
    """The first line of the latest failure in Ray's error file ("Failure # N (occurred at ...)" blocks)."""
    latest = re.split(r"^Failure # \d+.*$", str(text or ""), flags=re.MULTILINE)[-1]
    lines = [line.strip() for line in latest.splitlines() if line.strip()]
    return lines[0][:300] if lines else None


def lost_nodes() -> set[str]:
    """Addresses of nodes Ray knows as dead and that have no alive node at the same address."""
    import ray

    try:
        table = ray.nodes()
    except Exception:  # Ray Client, a GCS that went away...
        return set()
    alive = {str(n.get("NodeManagerAddress")) for n in table if n.get("Alive")}
    return {str(n.get("NodeManagerAddress")) for n in table if not n.get("Alive")} - alive


class FaultLog(Callback):
    """Feeds a FaultBook from Tune's events (in the driver)."""

    def __init__(self) -> None:
        self.book = FaultBook()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
        self.book.result(trial.trial_id, result.get("node_ip"), result.get("training_iteration"),
                         result.get("iterations_since_restore"))

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.book.failed(trial.trial_id, trial.num_failures, _error(trial), restored=True)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.book.failed(trial.trial_id, trial.num_failures, _error(trial), restored=False)

    def annotate(self, trials: Iterable[TrialRecord]) -> None:
        self.book.annotate(trials, lost_nodes())


def _error(trial: Any) -> str | None:
    try:
        return _first_line(trial.get_error())
    except Exception:  # the error file is not there (yet)
        return None

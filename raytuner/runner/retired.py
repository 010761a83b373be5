"""What raytuner keeps of a finished trial that Tune's controller let go of: ``RetiredTrials``.

Ray Tune's controller holds every Trial of an experiment until the run ends (its state
JSON, run metadata, last result, storage context; ray#64231), and saves all of them in
every experiment-state snapshot. With thousands of trials that is most of the driver's
growth. ``runner.lean_controller`` takes a completed trial out of the controller once it
is older than the ``keep`` most recent finished ones; before it goes, this keeper turns it
into the TrialRecord the ResultGrid would have given (``runner.records.trial_record``),
stored as one compact JSON line (about 300 bytes), plus the checkpoints Ray kept of it
(their paths and steps: the export step picks one).

The keeper's state goes into the same experiment-state snapshot as the trials Tune still
holds (``LeanController.__getstate__``), so a resume sees every finished trial exactly once:
the held ones through Tune, the retired ones through ``load``. A retired trial is never
run again: it is not in Tune's saved trials, and the searcher's saved state counts it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from raytuner.results.scope import BEST
from raytuner.results.summary import TrialRecord, record_from_line, record_line

STEP = "training_iteration"
KEEP_FINISHED = 200  # finished trials Tune's controller keeps; older ones are retired (runner.lean_controller)


class RetiredTrials:
    """Records of the trials taken out of Tune's controller, in the order they went."""

    def __init__(self, metric: str, mode: str, scope: str = "last", keep: int | None = None) -> None:
        self.metric, self.mode, self.scope = metric, mode, scope
        self.keep = KEEP_FINISHED if keep is None else keep
        self._lines: list[str] = []  # record_line of each retired trial
        self._checkpoints: dict[str, list[tuple[str, int]]] = {}  # trial id -> (path, step), only where Ray kept any
        self._filesystem: Any = None  # the storage's pyarrow filesystem (checkpoints are rebuilt on it)
        self.held_max = 0  # the most trials Tune's controller held after a step (a test reads it)
        self.on_load: list[Callable[[list[TrialRecord]], None]] = []  # told of the trials a resume restored

    def __len__(self) -> int:
        return len(self._lines)

    def add(self, trial: Any) -> TrialRecord:
        """Record a completed Tune Trial (its files are written: TrialFiles closed them)."""
        from ray.tune import Result

        from raytuner.runner.records import trial_record

        frame = _history_frame(trial) if self.scope == BEST else None
        result = Result(metrics=dict(trial.last_result or {}), checkpoint=None, error=None, path=trial.path,
                        metrics_dataframe=frame)
        record = trial_record(result, self.metric, self.mode, self.scope)
        self._lines.append(record_line(record))
        kept = trial.run_metadata.checkpoint_manager.best_checkpoint_results
        if kept:
            self._filesystem = self._filesystem or trial.storage.storage_filesystem
            self._checkpoints[record.trial_id] = [(c.checkpoint.path, int((c.metrics or {}).get(STEP) or 0))
                                                  for c in kept]
        return record

    def records(self) -> list[TrialRecord]:
        return [record_from_line(line) for line in self._lines]

    def checkpoints(self) -> dict[str, list[tuple[Any, dict[str, Any]]]]:
        """trial id -> [(ray.tune.Checkpoint, {"training_iteration": step}), ...], as the ResultGrid gives."""
        if not self._checkpoints:
            return {}
        from ray.tune import Checkpoint

        return {tid: [(Checkpoint(path, filesystem=self._filesystem), {STEP: step}) for path, step in kept]
                for tid, kept in self._checkpoints.items()}

    def state(self) -> dict[str, Any]:
        """What the experiment-state snapshot holds of the retired trials (plain JSON)."""
        return {"records": list(self._lines), "checkpoints": {k: [list(c) for c in v] for k, v in self._checkpoints.items()}}

    def load(self, state: dict[str, Any] | None, filesystem: Any = None) -> None:
        """A resume: the retired trials of the runs before (``state``), then ``on_load`` is told."""
        if not state:
            return
        self._lines = [str(line) for line in state.get("records") or []]
        self._checkpoints = {str(k): [(str(p), int(s)) for p, s in v] for k, v in (state.get("checkpoints") or {}).items()}
        self._filesystem = filesystem
        records = self.records()
        for hook in self.on_load:
            hook(records)

    def merged(self, held: list[TrialRecord]) -> list[TrialRecord]:
        """The retired trials' records, then ``held`` (the ResultGrid's), each trial once."""
        retired = self.records()
        ids = {r.trial_id for r in retired}
        return retired + [r for r in held if r.trial_id not in ids]


def _history_frame(trial: Any) -> Any:
    """The trial's reports as Ray's ExperimentAnalysis reads them (result.json, flattened with "/"),
    from the driver's copy (storage may lag it); None when there is none."""
    import pandas as pd

    path = Path(trial.local_path or "", "result.json")
    try:
        text = path.read_text().rstrip("\n")
    except OSError:
        return None
    rows = [json.loads(line) for line in text.split("\n") if line.strip()]
    return pd.json_normalize(rows, sep="/") if rows else None

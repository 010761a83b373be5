"""The per-trial files, written by one lean Tune logger callback: ``TrialFiles``.

Each trial directory gets what Ray Tune's JSON and CSV loggers write and what
``results.experiment`` and Ray's ``ExperimentAnalysis`` read back: ``params.json`` and
``params.pkl`` (the config, at start), ``result.json`` (one JSON line per report) and
``progress.csv`` (the flattened reports, config dropped; the columns of the first).

Ray's loggers keep a dict entry per trial for the whole run, keyed by the Trial object
(``JsonLoggerCallback._trial_configs``, ``CSVLoggerCallback._trial_continue``; ray#64231):
with thousands of trials the driver's memory grows with every finished one. Here a trial
has an entry (its two open files and CSV columns) only while it runs: ``log_trial_end``
closes and drops it. ``open_trials`` says which trials hold one (a test reads it).

A trial that starts again (PBT pauses and clones, retries) appends to its local files; the
copy on storage is read only when there is no local one (a resumed experiment): storage
lags the local files, and copying it back lost the rows since its last upload.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import ray.cloudpickle as cloudpickle
from ray.air.constants import EXPR_PARAM_FILE, EXPR_PARAM_PICKLE_FILE, EXPR_PROGRESS_FILE, EXPR_RESULT_FILE
from ray.tune.logger import LoggerCallback
from ray.tune.utils import flatten_dict
from ray.tune.utils.util import SafeFallbackEncoder

from raytuner.results.metric_rule import WALL_CLOCK_KEY


@dataclass
class _Open:
    """A running trial's files."""

    results: TextIO  # result.json
    progress: TextIO  # progress.csv
    continued: bool  # progress.csv had rows already (a restored trial): no second header
    writer: csv.DictWriter | None = None  # made at the first report (its keys are the columns)

    def close(self) -> None:
        self.results.close()
        self.progress.close()


class TrialFiles(LoggerCallback):
    """result.json, progress.csv, params.json and params.pkl per trial; state only while it runs."""

    _SAVED_FILE_TEMPLATES = [EXPR_RESULT_FILE, EXPR_PROGRESS_FILE, EXPR_PARAM_FILE, EXPR_PARAM_PICKLE_FILE]

    def __init__(self) -> None:
        self._open: dict[str, _Open] = {}  # trial id -> its files, while the trial runs

    @property
    def open_trials(self) -> list[str]:
        return list(self._open)

    def log_trial_start(self, trial: Any) -> None:
        self._close(trial)
        trial.init_local_path()
        directory = Path(trial.local_path)
        self.update_config(trial, trial.config)
        for name in (EXPR_RESULT_FILE, EXPR_PROGRESS_FILE):
            if not (directory / name).exists():  # a local copy is the newest: storage's may lag a few rows
                self._restore_from_remote(name, trial)  # a restored trial's rows, from remote storage
        progress = directory / EXPR_PROGRESS_FILE
        continued = progress.exists() and progress.stat().st_size > 0
        self._open[str(trial.trial_id)] = _Open((directory / EXPR_RESULT_FILE).open("at"), progress.open("at"),
                                                continued)

    def log_trial_result(self, iteration: int, trial: Any, result: dict) -> None:
        files = self._open.get(str(trial.trial_id))
        if files is None:
            self.log_trial_start(trial)
            files = self._open[str(trial.trial_id)]
        result = {**result, WALL_CLOCK_KEY: result.get(WALL_CLOCK_KEY, time.time())}  # sub-second order
        json.dump(result, files.results, cls=SafeFallbackEncoder)
        files.results.write("\n")
        files.results.flush()
        row = flatten_dict({k: v for k, v in result.items() if k != "config"}, delimiter="/")
        if files.writer is None:  # a continued file keeps its header: the new rows line up with it
            header = _header(Path(files.progress.name)) if files.continued else None
            files.writer = csv.DictWriter(files.progress, header or list(row))
            if not files.continued:
                files.writer.writeheader()
        files.writer.writerow({k: v for k, v in row.items() if k in files.writer.fieldnames})
        files.progress.flush()

    def log_trial_end(self, trial: Any, failed: bool = False) -> None:
        self._close(trial)

    def update_config(self, trial: Any, config: dict) -> None:
        directory = Path(trial.local_path)
        with (directory / EXPR_PARAM_FILE).open("w") as fh:
            json.dump(config, fh, indent=2, sort_keys=True, cls=SafeFallbackEncoder)
        with (directory / EXPR_PARAM_PICKLE_FILE).open("wb") as fh:
            cloudpickle.dump(config, fh)

    def _close(self, trial: Any) -> None:
        files = self._open.pop(str(trial.trial_id), None)
        if files is not None:
            files.close()

    def __getstate__(self) -> dict[str, Any]:  # Ray pickles callbacks with the experiment state
        return {**self.__dict__, "_open": {}}


def _header(path: Path) -> list[str] | None:
    """The columns of an existing progress.csv (its first line), or None."""
    try:
        with path.open(newline="") as fh:
            return next(csv.reader(fh), None) or None
    except OSError:
        return None

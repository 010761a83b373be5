"""Every experiment under a storage path: ``raytuner experiments [STORAGE]`` / ``raytuner.experiments()``.

An experiment directory is one with summary.json, or spec.yaml or Ray Tune trial
directories. With summary.json its state is the summary's (``run_state``: finished, or a
partial summary's running/interrupted, a dead driver's "running" read as interrupted).
Without one (experiments from before partial summaries) it is *running* when a file in it
or in a trial directory changed within ``RECENT_S`` seconds, else *interrupted*: a guess
from the files. Newest first.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from raytuner.errors import ResultsError
from raytuner.results.summary import SPEC_FILE, SUMMARY_FILE, Summary, read_summary, run_state

RECENT_S = 120.0
FINISHED, RUNNING, INTERRUPTED = "finished", "running", "interrupted"
_STAMP = re.compile(r"-(\d{8}-\d{6})$")


@dataclass(frozen=True)
class ExperimentEntry:
    """One experiment of a storage path, as ``raytuner experiments`` lists it."""

    name: str
    state: str  # finished | running | interrupted
    started: str | None  # ISO time, seconds
    strategy: str | None
    scheduler: str | None
    trials: int
    best_score: float | None
    metric: str | None
    mode: str | None
    path: str

    def to_data(self) -> dict[str, Any]:
        return asdict(self)


def default_storage() -> str:
    """The spec's default storage path (``storage.path``)."""
    from raytuner.spec.models import StorageSpec

    return StorageSpec().path


def list_experiments(storage: str | Path | None = None, *, endpoint: str | None = None,
                     now: float | None = None) -> list[ExperimentEntry]:
    """The experiments directly under ``storage`` (default: the spec's default), newest first."""
    from raytuner.results import storage as store

    root = str(storage) if storage is not None else default_storage()
    endpoint = endpoint or os.environ.get("RAYTUNER_STORAGE_ENDPOINT")
    location = store.resolve(root, endpoint=endpoint)
    if not store.exists(location):
        raise ResultsError(f"{root} does not exist: give the storage path experiments were written to "
                           f"(a spec's storage.path; default {default_storage()!r})")
    now = time.time() if now is None else now
    entries = []
    for name, is_dir, _ in sorted(store.list_dir(location)):
        if not is_dir:
            continue
        child = location.child(name)
        entry = _local_entry(Path(child.path), now) if child.is_local else _remote_entry(child, endpoint)
        if entry is not None:
            entries.append(entry)
    entries.sort(key=lambda e: (e.started or "", e.path), reverse=True)
    return entries


def _local_entry(directory: Path, now: float) -> ExperimentEntry | None:
    if (directory / SUMMARY_FILE).is_file():
        try:
            return _from_summary(read_summary(directory), str(directory.resolve()))
        except ResultsError:
            pass  # being written or broken: read what the directory holds
    from raytuner.results.experiment import read_experiment

    try:
        experiment = read_experiment(directory)
    except ResultsError:
        return None  # not an experiment
    from raytuner.results.comparison import totals

    row = totals(experiment)
    recent = _newest_mtime(directory) >= now - RECENT_S
    started = _stamp(directory.name) or _iso(min((s for s in experiment.trials["start"] if s == s), default=None))
    return ExperimentEntry(name=experiment.name, state=RUNNING if recent else INTERRUPTED, started=started,
                           strategy=row.strategy, scheduler=row.scheduler, trials=row.trials,
                           best_score=row.best_score, metric=experiment.metric, mode=experiment.mode,
                           path=experiment.path)


def _remote_entry(location: Any, endpoint: str | None) -> ExperimentEntry | None:
    """s3:// and other URIs: finished experiments from summary.json; others from spec.yaml
    and their trial directories (state "interrupted" or "running": not told apart remotely)."""
    from raytuner.results import storage as store

    if store.is_file(location.child(SUMMARY_FILE)):
        try:
            return _from_summary(read_summary(location.uri, endpoint=endpoint), location.uri)
        except ResultsError:
            return None
    if not store.is_file(location.child(SPEC_FILE)):
        return None
    import yaml

    try:
        spec = yaml.safe_load(store.read_text(location.child(SPEC_FILE))) or {}
    except yaml.YAMLError:
        return None
    metric = spec.get("metric") or {}
    metric = metric[0] if isinstance(metric, list) and metric else metric
    trials = sum(1 for _, is_dir, _ in store.list_dir(location) if is_dir)
    name = Path(location.path).name
    return ExperimentEntry(name=str(spec.get("name") or name), state=f"{INTERRUPTED} or {RUNNING}",
                           started=_stamp(name), strategy=(spec.get("strategy") or {}).get("name"),
                           scheduler=(spec.get("scheduler") or {}).get("name"), trials=trials, best_score=None,
                           metric=metric.get("name") if isinstance(metric, dict) else None,
                           mode=metric.get("mode") if isinstance(metric, dict) else None, path=location.uri)


def _from_summary(summary: Summary, path: str) -> ExperimentEntry:
    best = summary.best.score if summary.best is not None else None
    return ExperimentEntry(name=summary.name, state=run_state(summary), started=summary.started_at, strategy=summary.strategy,
                           scheduler=summary.scheduler, trials=len(summary.trials),
                           best_score=float(best) if best is not None else None, metric=summary.metric,
                           mode=summary.mode, path=path)


def _newest_mtime(directory: Path) -> float:
    """The newest change of the directory's files and of its trial directories' files."""
    newest = 0.0
    for entry in directory.iterdir():
        try:
            newest = max(newest, entry.stat().st_mtime)
            if entry.is_dir():
                newest = max([newest] + [f.stat().st_mtime for f in entry.iterdir() if f.is_file()])
        except OSError:
            continue
    return newest


def _stamp(name: str) -> str | None:
    """The start time in an experiment directory's name (``<name>-YYYYmmdd-HHMMSS``)."""
    match = _STAMP.search(name)
    if not match:
        return None
    return _dt.datetime.strptime(match.group(1), "%Y%m%d-%H%M%S").isoformat(timespec="seconds")


def _iso(epoch: Any) -> str | None:
    if epoch is None:
        return None
    return _dt.datetime.fromtimestamp(float(epoch)).isoformat(timespec="seconds")

"""The experiment directory: summary.json written after a run, read back by every command.

Layout (Ray Tune's own, plus our files)::

    <storage>/<name>-<YYYYmmdd-HHMMSS>/
        summary.json       # this module: best config/score, every trial, wall time
        spec.yaml          # the validated spec the run used (for resume, history)
        <trial dirs>/      # Ray Tune: result.json, progress.csv, params.json, checkpoints
        tuner.pkl, experiment_state-*.json   # Ray Tune: for Tuner.restore
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import MISSING, asdict, dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Any

from raytuner.errors import ResultsError
from raytuner.results.faults import Restore
from raytuner.results.final import FinalResults
from raytuner.results.history.records import WarmStart
from raytuner.results.scheduling import SchedulingReport

SUMMARY_FILE = "summary.json"
SPEC_FILE = "spec.yaml"
SCHEMA_VERSION = 1

# Summary.state: "running" (a partial summary.json, rewritten as trials finish), "interrupted"
# (Ctrl+C, or a driver that died: see run_state), "finished" (the run ended; the summary is final)
RUNNING, INTERRUPTED, FINISHED = "running", "interrupted", "finished"


@dataclass
class TrialRecord:
    trial_id: str
    status: str  # "ok" | "error" | "diverged" (NaN/inf: see results.metric_rule); in a partial summary also "running" | "pending" | "paused"
    config: dict[str, Any]
    score: float | None  # the metric at the step metric.scope picks: the last (default) or the best
    steps: int  # reports made
    time_s: float
    error: str | None = None  # "Type: message", one line ("diverged: loss is nan at step 2")
    path: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # last report, small
    nodes: list[str] = field(default_factory=list)  # every node it reported from, in order (repeats merged)
    failures: int = 0  # failures Ray Tune counted (retried or final)
    restores: list[Restore] = field(default_factory=list)  # the failures it was restored after
    error_type: str | None = None  # the original exception's class name (ValueError, SpecError...)
    error_log: str | None = None  # the trial's error.txt (Ray's tracebacks)
    score_step: int | None = None  # the step (training_iteration) the score comes from


@dataclass
class Summary:
    name: str
    experiment_path: str
    metric: str
    mode: str
    strategy: str
    scheduler: str
    started_at: str
    wall_time_s: float
    trials: list[TrialRecord]
    best: TrialRecord | None
    versions: dict[str, str] = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION
    final: FinalResults = field(default_factory=FinalResults)  # after the search: refit, ensemble (raytuner.runner.finish)
    scheduling: SchedulingReport = field(default_factory=SchedulingReport)  # early stopping counts, PBT schedules
    objectives: list[dict[str, str]] = field(default_factory=list)  # multi-objective: [{name, mode}, ...]
    pareto_front: list[str] = field(default_factory=list)  # multi-objective: trial ids, non-dominated
    state: str = FINISHED  # RUNNING | INTERRUPTED | FINISHED (older summaries: finished)
    driver: dict[str, Any] = field(default_factory=dict)  # partial summaries: {host, pid} of the driver writing it
    warm_start: WarmStart | None = None  # the configs seeded from past experiments (raytuner.runner.warm_start)
    task_key: str | None = None  # equal for runs that score configs the same way (raytuner.runner.history.task_key)
    scope: str = "last"  # metric.scope: a trial's score is its last step's ("last") or its best step's ("best")
    preprocessing: dict[str, Any] | None = None  # a file's columns: kinds, what was done, rows dropped (trainable.data_report)
    ray: dict[str, Any] = field(default_factory=dict)  # the Ray it ran on: {address, session} when a raytuner session

    def front(self) -> list[TrialRecord]:
        """The Pareto-optimal trials (multi-objective experiments)."""
        by_id = {t.trial_id: t for t in self.trials}
        return [by_id[t] for t in self.pareto_front if t in by_id]

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {"total": len(self.trials), "ok": 0, "error": 0}
        for trial in self.trials:
            out[trial.status] = out.get(trial.status, 0) + 1
        return out

    @property
    def nodes(self) -> dict[str, int]:
        """Trials per node (the node_ip each trial last reported from), most used first."""
        out: dict[str, int] = {}
        for trial in self.trials:
            node = trial.metrics.get("node_ip")
            if node:
                out[str(node)] = out.get(str(node), 0) + 1
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))

    def ranked(self) -> list[TrialRecord]:
        """Trials with a finite score, best first; then the rest (diverged trials among them,
        whatever their score: see results.metric_rule)."""
        scored = [t for t in self.trials if _rankable(t)]
        scored.sort(key=lambda t: t.score, reverse=self.mode == "max")  # type: ignore[arg-type,return-value]
        return scored + [t for t in self.trials if not _rankable(t)]

    def to_data(self) -> dict[str, Any]:
        data = _fields(self)  # json_safe copies what it walks: no deep copy first (asdict's)
        data["final"] = self.final.to_data()
        data["scheduling"] = self.scheduling.to_data()
        data["counts"] = self.counts
        data["nodes"] = self.nodes
        return json_safe(data)


def run_state(summary: Summary) -> str:
    """The summary's state, with a "running" one whose driver is gone (killed, crashed; on
    this host, by its pid) read as "interrupted"."""
    if summary.state != RUNNING or not summary.driver:
        return summary.state
    import socket

    if summary.driver.get("host") != socket.gethostname():
        return RUNNING  # another machine's driver: nothing to check
    try:
        os.kill(int(summary.driver.get("pid", 0)), 0)
    except ProcessLookupError:
        return INTERRUPTED
    except (PermissionError, ValueError, OverflowError):
        pass
    return RUNNING


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


_PLAIN = frozenset({str, int, bool, type(None)})


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON (numpy scalars as Python's, non-finite floats as None/"inf"/"-inf",
    dataclasses as dicts of their fields)."""
    if type(value) in _PLAIN:  # the common leaves, first (numpy's scalars are other types)
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return json_safe(value.item())
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if is_dataclass(value) and not isinstance(value, type):
        return json_safe(_fields(value))
    return repr(value)


def _rankable(trial: TrialRecord) -> bool:
    return _finite(trial.score) and trial.status != "diverged"


def best_of(trials: list[TrialRecord], mode: str) -> TrialRecord | None:
    scored = [t for t in trials if _rankable(t)]
    if not scored:
        return None
    return max(scored, key=lambda t: t.score) if mode == "max" else min(scored, key=lambda t: t.score)  # type: ignore[arg-type,return-value]


def write_summary(summary: Summary, directory: str | Path) -> Path:
    """Write summary.json atomically (a reader never sees half a file)."""
    path = Path(directory) / SUMMARY_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(summary.to_data(), indent=2, allow_nan=False))
    os.replace(tmp, path)
    return path


_RECORD_DEFAULTS = {name: f.default if f.default_factory is MISSING else f.default_factory()  # type: ignore[misc]
                    for name, f in TrialRecord.__dataclass_fields__.items()
                    if f.default is not MISSING or f.default_factory is not MISSING}


def record_line(record: TrialRecord) -> str:
    """One record as compact JSON, fields at their default left out (``record_from_line`` reads it)."""
    data = {k: v for k, v in asdict(record).items() if k not in _RECORD_DEFAULTS or v != _RECORD_DEFAULTS[k]}
    return json.dumps(json_safe(data), separators=(",", ":"), allow_nan=False)


def record_from_line(line: str) -> TrialRecord:
    return _trial(json.loads(line))


def _trial(data: dict[str, Any]) -> TrialRecord:
    score = data.get("score")
    if isinstance(score, str):  # "inf" / "-inf"
        score = float(score)
    restores = [Restore.from_data(r) for r in data.get("restores") or []]
    return TrialRecord(**{**data, "score": score, "restores": restores})


def read_summary(directory: str | Path, *, endpoint: str | None = None) -> Summary:
    """Read an experiment directory (or its summary.json) back; URIs (s3://...) too."""
    if "://" in str(directory):
        return _read_remote_summary(str(directory), endpoint)
    path = Path(directory)
    if not path.exists():
        raise ResultsError(f"{directory} does not exist")
    if path.is_dir():
        path = path / SUMMARY_FILE
    if not path.is_file():
        raise ResultsError(f"no {SUMMARY_FILE} in {directory}: not a finished raytuner experiment directory")
    try:
        return _summary_from(json.loads(path.read_text()))
    except (ValueError, TypeError, KeyError) as exc:
        raise ResultsError(f"{path} is not a raytuner summary ({exc})") from None


def _summary_from(data: dict[str, Any]) -> Summary:
    data.pop("counts", None)
    data.pop("nodes", None)
    trials = [_trial(t) for t in data.pop("trials")]
    best = data.pop("best")
    final = FinalResults.from_data(data.pop("final", None))
    scheduling = SchedulingReport.from_data(data.pop("scheduling", None))
    warm = WarmStart.from_data(data.pop("warm_start", None))
    return Summary(trials=trials, best=_trial(best) if best else None, final=final, scheduling=scheduling,
                   warm_start=warm, **data)


def latest_experiment(storage: str | Path, name: str | None = None, *, endpoint: str | None = None) -> Path:
    """The newest experiment directory under a storage path (optionally of one name); URIs too."""
    if "://" in str(storage):
        return _latest_remote(str(storage), name, endpoint)  # type: ignore[return-value]
    root = Path(storage)
    if not root.is_dir():
        raise ResultsError(f"{storage} does not exist")
    candidates = [
        p.parent for p in root.glob(f"*/{SUMMARY_FILE}") if name is None or p.parent.name.startswith(f"{name}-")
    ]
    if not candidates:
        raise ResultsError(f"no finished experiment under {storage}")
    return max(candidates, key=lambda p: (p / SUMMARY_FILE).stat().st_mtime)


# -- remote storage (s3://, gs://, any pyarrow filesystem URI) -------------------------


def write_remote_outputs(summary: Summary, spec: Any, endpoint: str | None = None) -> None:
    """Write spec.yaml and summary.json into a remote experiment directory."""
    import yaml

    from raytuner.results import storage

    location = storage.resolve(summary.experiment_path, endpoint=getattr(spec.storage, "endpoint", endpoint),
                               region=getattr(spec.storage, "region", None))
    storage.write_text(location, SPEC_FILE, yaml.safe_dump(spec.to_data(), sort_keys=False))
    storage.write_text(location, SUMMARY_FILE, json.dumps(summary.to_data(), indent=2, allow_nan=False))


def _read_remote_summary(uri: str, endpoint: str | None = None) -> Summary:
    from raytuner.results import storage

    endpoint = endpoint or os.environ.get("RAYTUNER_STORAGE_ENDPOINT")
    location = storage.resolve(uri, endpoint=endpoint)
    if not location.uri.endswith(SUMMARY_FILE):
        location = location.child(SUMMARY_FILE)
    if not storage.is_file(location):
        raise ResultsError(f"no {SUMMARY_FILE} at {location.uri}: not a finished raytuner experiment directory")
    try:
        return _summary_from(json.loads(storage.read_text(location)))
    except (ValueError, TypeError, KeyError) as exc:
        raise ResultsError(f"{location.uri} is not a raytuner summary ({exc})") from None


def _latest_remote(uri: str, name: str | None = None, endpoint: str | None = None) -> str:
    from raytuner.results import storage

    endpoint = endpoint or os.environ.get("RAYTUNER_STORAGE_ENDPOINT")
    root = storage.resolve(uri, endpoint=endpoint)
    best: tuple[float, str] | None = None
    for entry, is_dir, _ in storage.list_dir(root):
        if not is_dir or (name is not None and not entry.startswith(f"{name}-")):
            continue
        for child, child_is_dir, mtime in storage.list_dir(root.child(entry)):
            if child == SUMMARY_FILE and not child_is_dir and (best is None or mtime > best[0]):
                best = (mtime, root.child(entry).uri)
    if best is None:
        raise ResultsError(f"no finished experiment under {uri}")
    return best[1]

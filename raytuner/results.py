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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raytuner.errors import ResultsError

SUMMARY_FILE = "summary.json"
SPEC_FILE = "spec.yaml"
SCHEMA_VERSION = 1


@dataclass
class TrialRecord:
    trial_id: str
    status: str  # "ok" | "error"
    config: dict[str, Any]
    score: float | None  # last reported value of the metric
    steps: int  # reports made
    time_s: float
    error: str | None = None
    path: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)  # last report, small


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
    objectives: list[dict[str, str]] = field(default_factory=list)  # multi-objective: [{name, mode}, ...]
    pareto_front: list[str] = field(default_factory=list)  # multi-objective: trial ids, non-dominated

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

    def ranked(self) -> list[TrialRecord]:
        """Trials with a finite score, best first; then the rest."""
        scored = [t for t in self.trials if _finite(t.score)]
        scored.sort(key=lambda t: t.score, reverse=self.mode == "max")  # type: ignore[arg-type,return-value]
        return scored + [t for t in self.trials if not _finite(t.score)]

    def to_data(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts
        return _json_safe(data)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value)


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        return _json_safe(value.item())
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def best_of(trials: list[TrialRecord], mode: str) -> TrialRecord | None:
    scored = [t for t in trials if _finite(t.score)]
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


def _trial(data: dict[str, Any]) -> TrialRecord:
    score = data.get("score")
    if isinstance(score, str):  # "inf" / "-inf"
        score = float(score)
    return TrialRecord(**{**data, "score": score})


def read_summary(directory: str | Path) -> Summary:
    """Read an experiment directory (or its summary.json) back."""
    path = Path(directory)
    if path.is_dir():
        path = path / SUMMARY_FILE
    if not path.is_file():
        raise ResultsError(f"no {SUMMARY_FILE} in {directory}: not a finished raytuner experiment directory")
    try:
        data = json.loads(path.read_text())
        data.pop("counts", None)
        trials = [_trial(t) for t in data.pop("trials")]
        best = data.pop("best")
        return Summary(trials=trials, best=_trial(best) if best else None, **data)
    except (ValueError, TypeError, KeyError) as exc:
        raise ResultsError(f"{path} is not a raytuner summary ({exc})") from None


def latest_experiment(storage: str | Path, name: str | None = None) -> Path:
    """The newest experiment directory under a storage path (optionally of one name)."""
    root = Path(storage)
    candidates = [
        p.parent for p in root.glob(f"*/{SUMMARY_FILE}") if name is None or p.parent.name.startswith(f"{name}-")
    ]
    if not candidates:
        raise ResultsError(f"no finished experiment under {storage}")
    return max(candidates, key=lambda p: (p / SUMMARY_FILE).stat().st_mtime)

"""An experiment directory read back as tables: ``read_experiment(DIR)``.

Works on a finished experiment (summary.json is then the authority for status, score and
error) and on a running or interrupted one (trial directories only; ``spec.yaml`` when
present gives the metric and the space)::

    exp = raytuner.read_experiment("results/quickstart-20260101-120000")
    exp.trials    # one row per trial: trial_id, status, score, score_step, steps, time_s, error,
                  # node, start, end, path, config.<name> ... (nested config keys dotted: config.model.width)
    exp.history   # one row per report: trial_id plus the progress.csv / result.json columns
                  # (training_iteration is the step; every reported metric is a column)

``score`` follows ``metric.scope`` (``results.scope``): the last step's value, or the best
step's; ``score_step`` is that step. The console's leaderboard ranks this same table
(:func:`trials_table` builds it from an in-memory Summary at the end of a run).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from raytuner.errors import ResultsError, SpecError
from raytuner.results.metric_rule import STATUS_KEY, WALL_CLOCK_KEY, WORST
from raytuner.results.scope import LAST, scored_step
from raytuner.results.summary import (FINISHED, SPEC_FILE, SUMMARY_FILE, Summary, TrialRecord, best_of, read_summary,
                                      run_state)

TRIAL_COLUMNS = ["trial_id", "status", "score", "score_step", "steps", "time_s", "error", "node", "start", "end", "path"]
STEP = "training_iteration"


@dataclass(frozen=True)
class Experiment:
    """What one experiment directory holds, as pandas tables plus its summary and spec."""

    path: str
    name: str
    metric: str | None
    mode: str | None
    trials: pd.DataFrame
    history: pd.DataFrame
    summary: Summary | None = None
    spec: dict[str, Any] = field(default_factory=dict)  # spec.yaml's data ({} when absent)
    state: str = FINISHED  # "running" | "interrupted" | "finished" | "unknown" (no summary.json: an older run)
    scope: str = LAST  # metric.scope: which step gives each trial's score

    @property
    def finished(self) -> bool:
        """True once summary.json is written (the run ended)."""
        return self.summary is not None

    @property
    def config_columns(self) -> list[str]:
        return [c for c in self.trials.columns if c.startswith("config.")]

    def params(self) -> dict[str, Any]:
        """The tuned parameters of spec.yaml's space by flattened name (``a.b``): Param models."""
        from raytuner.spec.params import iter_params, parse_space

        try:
            space = parse_space(self.spec.get("space") or {})
        except SpecError:
            return {}
        return {".".join(p): param for p, param in iter_params(space) if param is not None and param.type != "fixed"}

    def curve(self, trial_id: str) -> pd.DataFrame:
        """One trial's reports, in order."""
        return self.history[self.history["trial_id"] == trial_id]

    def to_summary(self) -> Summary:
        """summary.json's Summary; while running or interrupted, one built from the trial
        directories (status ok / error / unfinished, wall time from the trials' times)."""
        if self.summary is not None:
            return self.summary
        records = []
        for _, row in self.trials.iterrows():
            config = {c.removeprefix("config."): _plain(row[c]) for c in self.config_columns}
            step = row["score_step"]
            records.append(TrialRecord(trial_id=str(row["trial_id"]), status=str(row["status"]), config=config,
                                       score=row["score"] if finite_number(row["score"]) else None,
                                       score_step=int(step) if finite_number(step) else None,
                                       steps=int(row["steps"]), time_s=float(row["time_s"] or 0.0),
                                       error=row["error"] or None, path=row["path"],
                                       metrics={"node_ip": row["node"]} if isinstance(row["node"], str) else {}))
        starts = [float(v) for v in self.trials["start"] if finite_number(v)]
        ends = [float(v) for v in self.trials["end"] if finite_number(v)]
        mode = self.mode or "max"
        return Summary(name=self.name, experiment_path=self.path, metric=self.metric or "", mode=mode,
                       strategy=str((self.spec.get("strategy") or {}).get("name") or ""),
                       scheduler=str((self.spec.get("scheduler") or {}).get("name") or ""), started_at="",
                       wall_time_s=max(ends) - min(starts) if starts and ends else 0.0, trials=records,
                       best=best_of(records, mode), scope=self.scope)

    def ranked(self) -> pd.DataFrame:
        """The trials table, best first (the leaderboard's order): see :func:`ranked`."""
        return ranked(self.trials, self.mode or "max")


def ranked(trials: pd.DataFrame, mode: str) -> pd.DataFrame:
    """Trials with a finite score (not diverged), best first; then the rest in their order."""
    scores = pd.to_numeric(trials["score"], errors="coerce")
    rankable = scores.notna() & scores.map(lambda v: finite_number(v)) & (trials["status"] != "diverged")
    top = trials[rankable].assign(_s=scores[rankable]).sort_values("_s", ascending=mode != "max", kind="stable")
    return pd.concat([top.drop(columns="_s"), trials[~rankable]])


def trials_table(summary: Summary, dirs: dict[str, Path] | None = None,
                 curves: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """The trials table of a Summary (``read_experiment``'s ``trials``): one row per trial, its
    config flattened into ``config.<name>`` columns; trial directories (``dirs``, their reports in
    ``curves``) add start and end times and the trials the summary does not hold."""
    records = _records(summary, dirs or {}, curves or {}, summary.metric, summary.mode, summary.scope)
    return pd.DataFrame(records, columns=_columns(records))


def read_experiment(directory: str | Path, *, endpoint: str | None = None) -> Experiment:
    """Read an experiment directory (local, or a URI such as ``s3://bucket/exp``) into tables."""
    if "://" in str(directory):
        return _read_remote(str(directory), endpoint)
    root = Path(directory)
    if not root.is_dir():
        raise ResultsError(f"{directory} is not an experiment directory (no such directory)")
    summary = read_summary(root) if (root / SUMMARY_FILE).is_file() else None
    state = run_state(summary) if summary is not None else "unknown"
    if state != FINISHED:  # a partial summary.json: the trial directories are newer
        summary = None
    spec = _read_spec(root)
    dirs = _trial_dirs(root)
    if summary is None and not dirs and not spec:
        raise ResultsError(f"{directory} is not a raytuner experiment directory (no {SUMMARY_FILE}, "
                           f"no {SPEC_FILE}, no trial directories)")
    metric, mode, scope = _metric(summary, spec)
    curves = {tid: _read_rows(d) for tid, d in dirs.items()}
    records = _records(summary, dirs, curves, metric, mode, scope)
    trials = pd.DataFrame(records, columns=_columns(records))
    frames = [frame.assign(trial_id=tid) for tid, frame in curves.items() if not frame.empty]
    history = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["trial_id", STEP])
    history = history[["trial_id"] + [c for c in history.columns if c != "trial_id"]]
    name = summary.name if summary else str(spec.get("name") or root.name)
    return Experiment(path=str(root.resolve()), name=name, metric=metric, mode=mode, trials=trials,
                      history=history, summary=summary, spec=spec, state=state, scope=scope)


def _read_remote(uri: str, endpoint: str | None) -> Experiment:
    from raytuner.results import storage

    endpoint = endpoint or os.environ.get("RAYTUNER_STORAGE_ENDPOINT")
    location = storage.resolve(uri, endpoint=endpoint)
    if not storage.exists(location):
        raise ResultsError(f"{uri} does not exist")
    local = Path(tempfile.mkdtemp(prefix="raytuner-exp-")) / Path(location.path).name
    skip = _checkpoint_files
    storage.copy_tree(location, local, skip=skip)
    experiment = read_experiment(local)
    return Experiment(**{**experiment.__dict__, "path": uri})


def _checkpoint_files(rel: str, is_dir: bool) -> bool:
    return is_dir and rel.startswith("checkpoint_")


def _read_spec(root: Path) -> dict[str, Any]:
    path = root / SPEC_FILE
    if not path.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ResultsError(f"{path} is not YAML ({exc})") from None
    return data if isinstance(data, dict) else {}


def _metric(summary: Summary | None, spec: dict[str, Any]) -> tuple[str | None, str | None, str]:
    """(metric, mode, scope) from the summary, else spec.yaml."""
    if summary is not None:
        return summary.metric, summary.mode, summary.scope
    metric = spec.get("metric")
    if isinstance(metric, list) and metric:
        metric = metric[0]
    if isinstance(metric, dict):
        return metric.get("name"), metric.get("mode") or "max", str(metric.get("scope") or LAST)
    if isinstance(metric, str):
        return metric, "max", LAST
    return None, None, LAST


def _trial_dirs(root: Path) -> dict[str, Path]:
    """Trial id -> directory, for every subdirectory Ray Tune wrote a trial into."""
    out: dict[str, Path] = {}
    for child in sorted(root.iterdir()):
        if not child.is_dir() or not any((child / f).exists() for f in ("params.json", "result.json")):
            continue
        out[_trial_id(child)] = child
    return out


def _trial_id(directory: Path) -> str:
    for line in _lines(directory / "result.json"):
        tid = json.loads(line).get("trial_id")
        if tid:
            return str(tid)
    name = directory.name
    return name[len("trial_"):] if name.startswith("trial_") else name


def _lines(path: Path) -> list[str]:
    try:
        return [line for line in path.read_text().splitlines() if line.strip()]
    except (FileNotFoundError, UnicodeDecodeError):
        return []


def _read_rows(directory: Path) -> pd.DataFrame:
    """A trial's reports: progress.csv, else result.json (config columns dropped); the metrics
    rule's stand-in for a NaN/inf/missing value (``metric_rule.WORST``) read as NaN."""
    return _without_stand_ins(_read_reports(directory))


def _without_stand_ins(frame: pd.DataFrame) -> pd.DataFrame:
    numeric = frame.select_dtypes("number")
    if not numeric.empty:
        frame[numeric.columns] = numeric.mask(numeric.abs() == WORST)
    return frame


def _read_reports(directory: Path) -> pd.DataFrame:
    csv = directory / "progress.csv"
    if csv.is_file() and csv.stat().st_size:
        try:
            return pd.read_csv(csv)
        except (ValueError, pd.errors.ParserError):
            pass
    rows = []
    for line in _lines(directory / "result.json"):
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a line being written
        row.pop("config", None)
        rows.append(row)
    return pd.DataFrame(rows)


def _records(summary: Summary | None, dirs: dict[str, Path], curves: dict[str, pd.DataFrame],
             metric: str | None, mode: str | None, scope: str) -> list[dict[str, Any]]:
    from raytuner.spec.space import flatten

    records = []
    known = {t.trial_id: t for t in summary.trials} if summary else {}
    for tid in list(known) + [t for t in dirs if t not in known]:
        rows = curves.get(tid, pd.DataFrame())
        directory = dirs.get(tid)
        start, end = _times(rows, directory)
        last = rows.iloc[-1].to_dict() if not rows.empty else {}
        record: dict[str, Any] = {"trial_id": tid, "start": start, "end": end,
                                  "path": str(directory) if directory else (known[tid].path if tid in known else None)}
        trial = known.get(tid)
        if trial is not None:
            record.update(status=trial.status, score=trial.score, score_step=trial.score_step, steps=trial.steps,
                          time_s=trial.time_s,
                          error=trial.error, node=trial.metrics.get("node_ip") or last.get("node_ip"))
            config = trial.config
        else:
            error = _error(directory)
            scored = scored_step(rows.to_dict("records"), metric, mode or "max", scope) if metric else None
            ruled = last.get(STATUS_KEY) if isinstance(last.get(STATUS_KEY), str) else None  # diverged, error
            record.update(status="error" if error else (ruled or ("ok" if _done(rows) else "unfinished")),
                          score=scored.score if scored else None, score_step=scored.step if scored else None,
                          steps=len(rows),
                          time_s=float(last.get("time_total_s") or 0.0), error=error, node=last.get("node_ip"))
            config = _params(directory)
        record.update({f"config.{k}": v for k, v in flatten(config).items()})
        records.append(record)
    return records


def _columns(records: list[dict[str, Any]]) -> list[str]:
    configs = sorted({k for r in records for k in r if k.startswith("config.")})
    return TRIAL_COLUMNS + configs


def _times(rows: pd.DataFrame, directory: Path | None) -> tuple[float | None, float | None]:
    """A trial's start and end (epoch seconds): from its reports (raytuner's sub-second wall clock
    where the rows carry it, else Ray's whole-second ``timestamp``), else its files' times."""
    stamp = WALL_CLOCK_KEY if WALL_CLOCK_KEY in rows and rows[WALL_CLOCK_KEY].notna().any() else "timestamp"
    if not rows.empty and stamp in rows and "time_total_s" in rows:
        stamps = pd.to_numeric(rows[stamp], errors="coerce")
        totals = pd.to_numeric(rows["time_total_s"], errors="coerce")
        end = float(stamps.max())
        start = float((stamps - totals).min())
        if math.isfinite(start) and math.isfinite(end):
            return start, max(end, start + float(totals.max()))
    if directory is None or not directory.is_dir():
        return None, None
    mtimes = [p.stat().st_mtime for p in directory.iterdir() if p.is_file()]
    params = directory / "params.json"
    start = params.stat().st_mtime if params.exists() else (min(mtimes) if mtimes else None)
    return start, (max(mtimes) if mtimes else start)


def _done(rows: pd.DataFrame) -> bool:
    return not rows.empty and "done" in rows and bool(rows["done"].iloc[-1])


def _error(directory: Path | None) -> str | None:
    if directory is None:
        return None
    path = directory / "error.txt"
    return path.read_text().strip() or "failed" if path.is_file() else None


def _params(directory: Path | None) -> dict[str, Any]:
    if directory is None or not (directory / "params.json").is_file():
        return {}
    try:
        data = json.loads((directory / "params.json").read_text())
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _plain(value: Any) -> Any:
    """A table cell as plain Python (numpy scalars unwrapped, pandas' NaN as None)."""
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else value


def finite_number(value: Any) -> bool:
    """A real int or float (not a bool), neither NaN nor infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)

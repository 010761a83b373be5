"""One Ray Tune result -> one TrialRecord: status, score, the error's type and message.

* A trial that raised: status ``error``; ``error_type`` is the original exception's class
  name (``ValueError``, not Ray's ``RayTaskError(ValueError)``), ``error`` is
  ``"Type: message"`` on one line (no traceback: that stays in the trial's
  ``error.txt``, named by ``error_log``).
* A trial the metrics rule ended (``results.metric_rule``): status ``diverged`` (NaN/inf;
  the score is that value, so it ranks last) or ``error`` (``error_type`` ``MetricError``:
  a missing or non-number metric; no score). Its metrics hold what it reported.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from raytuner.errors import causes
from raytuner.results.metric_rule import DIVERGED, REASON_KEY, STATUS_KEY, WALL_CLOCK_KEY, flagged, restore_raw
from raytuner.results.scope import BEST, LAST, scored_step
from raytuner.results.summary import TrialRecord

_SMALL_KEYS = ("trial_id", "training_iteration", "time_total_s", "config", "date", "timestamp",
               "pid", "hostname", "node_ip", "time_since_restore", "iterations_since_restore",
               "time_this_iter_s", "checkpoint_dir_name", "done", STATUS_KEY, REASON_KEY, WALL_CLOCK_KEY)
ERROR_FILE = "error.txt"  # Ray Tune writes each failure's traceback there, in the trial directory
ERROR_PICKLE = "error.pkl"  # and the exception itself (a RayTaskError wrapping the original), pickled
METRIC_ERROR = "MetricError"  # error_type of a trial ended for a missing or non-number metric
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_MESSAGE_LIMIT = 300


def error_parts(error: BaseException) -> tuple[str, str]:
    """(type name, one-line message) of the error behind Ray's wrappers."""
    cause = causes(error)[0]
    name = type(cause).__name__
    if name.startswith("RayTaskError(") and name.endswith(")"):
        name = name[len("RayTaskError("):-1]
    return name, one_line(str(cause), name)


def one_line(text: str, name: str = "") -> str:
    """A message on one line: ANSI codes dropped; of a traceback, its last line (without ``Type: ``)."""
    lines = [line.strip() for line in _ANSI.sub("", text).strip().splitlines() if line.strip()]
    if not lines:
        return ""
    line = lines[-1] if len(lines) > 1 else lines[0]
    if name and line.startswith(f"{name}: "):
        line = line[len(name) + 2:]
    return line if len(line) <= _MESSAGE_LIMIT else line[: _MESSAGE_LIMIT - 3] + "..."


def flag_status(raw: dict[str, Any]) -> tuple[str, str, str | None]:
    """(status, error, error_type) of a report the metrics rule flagged (diverged or a bad metric)."""
    status = str(raw[STATUS_KEY])
    reason = str(raw.get(REASON_KEY) or status)
    if status == DIVERGED:
        return status, f"diverged: {reason}", None
    return status, f"{METRIC_ERROR}: {reason}", METRIC_ERROR


def trial_record(result: Any, metric: str, mode: str = "max", scope: str = LAST) -> TrialRecord:
    """The record of one ``ray.tune.Result`` (its ``metrics`` are the trial's last report; with
    ``scope`` "best", the score is the best of its reports, ``result.metrics_dataframe``)."""
    raw = dict(result.metrics or {})
    metrics = restore_raw(raw)
    status, error, error_type = "ok", None, None
    if result.error is not None:
        error_type, message = error_parts(result.error)
        status, error = "error", f"{error_type}: {message}" if message else error_type
    elif flagged(raw):
        status, error, error_type = flag_status(raw)
    score = metrics.get(metric)
    step = int(raw.get("training_iteration") or 0) or None
    if scope == BEST and status == "ok":
        best = scored_step(_history(result), metric, mode, BEST)
        if best.score is not None:
            score, step = best.score, best.step
    path = str(result.path)
    # the directory names the trial; a PBT clone's last metrics may be its donor's
    trial_id = str(Path(path).name.removeprefix("trial_") or raw.get("trial_id"))
    if status == "error" and raw.get("trial_id") not in (None, trial_id):
        score = None  # a clone that failed before its first report: the donor's score is not its own
    small = {k: v for k, v in metrics.items() if k not in _SMALL_KEYS and isinstance(v, (int, float, str, bool))}
    small["node_ip"] = raw.get("node_ip")
    log = f"{path.rstrip('/')}/{ERROR_FILE}" if result.error is not None else None
    return TrialRecord(
        trial_id=trial_id,
        status=status,
        config=dict(result.config or {}),
        score=float(score) if isinstance(score, (int, float)) and not isinstance(score, bool) else None,
        steps=int(raw.get("training_iteration") or 0),
        time_s=round(float(raw.get("time_total_s") or 0.0), 3),
        error=error,
        path=path,
        metrics=small,
        error_type=error_type,
        error_log=log,
        score_step=step if isinstance(score, (int, float)) and not isinstance(score, bool) else None,
    )


def _history(result: Any) -> list[dict[str, Any]]:
    """The trial's reports, in order (Ray reads its progress.csv); [] when there are none."""
    try:
        frame = result.metrics_dataframe
    except Exception:  # noqa: BLE001 - no progress file (a trial that never reported)
        return []
    return [] if frame is None else frame.to_dict("records")


def original_error(record: TrialRecord) -> BaseException | None:
    """The exception a failed trial raised, as its own code raised it (class, message,
    attributes; Ray's ``RayTaskError``/``TuneError`` wrappers removed), read from the
    pickle Ray Tune leaves in a local trial directory; None if there is none to read."""
    if record.status != "error" or not record.path or "://" in record.path:
        return None
    file = Path(record.path) / ERROR_PICKLE
    try:
        import cloudpickle  # Ray's dependency; Ray wrote the file with it

        wrapped = cloudpickle.loads(file.read_bytes())
    except Exception:  # noqa: BLE001 - missing, unreadable or unpicklable: the caller falls back to the text
        return None
    found = causes(wrapped) if isinstance(wrapped, BaseException) else []
    if not found:
        return None
    cause = found[0]
    if type(cause).__name__.startswith("RayTaskError("):  # a cause Ray could not unwrap
        return None
    cause.__traceback__ = None
    return cause

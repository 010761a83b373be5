"""The one way a trial reports to Tune: ``report(metrics, checkpoint=None)``, under the metrics rule.

Every trainable's Tune function is run by ``under_metric_rule`` (``Trainable.trial_function``),
which tells this module the run's objectives for the trial; every report of every
trainable (function steps, scikit-learn folds, torch epochs, a DDP driver's forwarded
reports) goes through ``report``, which applies ``raytuner.results.metric_rule``: a
NaN/inf objective marks the trial diverged, a missing or non-number one marks it
failed; that report carries the worst finite value instead and ends the trial.
"""

from __future__ import annotations

import threading
from functools import partial
from typing import Any, Callable, Iterable

from raytuner.results.metric_rule import apply_rule
from raytuner.spec.code import use_code_dirs

_lock = threading.Lock()
_objectives: tuple[tuple[str, str], ...] = ()  # of the trial running in this process (set per call)
_reports = 0  # reports made by that trial in this process


def report(metrics: dict[str, Any], checkpoint: Any = None, *, rule: bool = True) -> None:
    """``tune.report`` with the metrics rule applied (safe from a reporting thread).

    ``rule=False``: report as given (TuneSearchCV, which follows scikit-learn's
    ``error_score`` semantics: every split runs and a NaN score is a result)."""
    from ray import tune

    global _reports
    with _lock:
        _reports += 1
        step = metrics.get("step", _reports)
        objectives = _objectives if rule else ()
    checked = apply_rule(metrics, objectives, step if isinstance(step, int) else None) if objectives else metrics
    if checkpoint is None:
        tune.report(checked)
    else:
        tune.report(checked, checkpoint=checkpoint)


def under_metric_rule(fn: Callable[[dict[str, Any]], Any], objectives: Iterable[tuple[str, str]],
                      code_dirs: tuple[str, ...] = ()) -> Callable[[dict[str, Any]], Any]:
    """The Tune function ``fn`` with its reports checked against ``objectives`` ((name, mode) pairs);
    ``code_dirs``: the driver's folders of user modules, put on the worker's sys.path first."""
    return partial(run_trial, fn=fn, objectives=tuple((str(n), str(m)) for n, m in objectives),
                   code_dirs=tuple(code_dirs))


def run_trial(config: dict[str, Any], *, fn: Callable[[dict[str, Any]], Any], objectives: tuple[tuple[str, str], ...],
              code_dirs: tuple[str, ...] = ()) -> Any:
    global _objectives, _reports
    use_code_dirs(code_dirs)  # modules beside the spec: importable in the trial as on the driver
    with _lock:  # one trial at a time per actor process (reused actors run them one after another)
        _objectives, _reports = objectives, 0
    return fn(config)

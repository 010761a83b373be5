"""A run leaves the user's process as it was: environment variables and log levels.

Ray reads some settings only from the environment (TUNE_MAX_PENDING_TRIALS_PG,
TUNE_DISABLE_AUTO_CALLBACK_LOGGERS, RAY_AIR_NEW_OUTPUT...): raytuner sets them around
the Tuner's build and fit and restores them on exit; a value the user set wins.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import pytest

import raytuner
from raytuner.runner.experiment import tuner_environ
from raytuner.runner.plan import make_plan
from raytuner.runner.session import QUIET_ENV, QUIET_LOGGERS, quiet_ray, scoped_environ
from raytuner.runner.tuning import tuner_plan
from raytuner.spec.loader import validate_spec
from tests.integration.test_run import fn_spec

# What a bare ray.init() itself puts into os.environ (seen with Ray 2.60 by comparing
# before and after it); with the session's Ray already up, a run adds none of them.
RAY_INIT_SETS = frozenset({"RAY_CLIENT_MODE", "RAY_USAGE_STATS_ENABLED", "PYTHONBREAKPOINT", "RAY_AUTH_MODE"})
TUNER_VARS = ("TUNE_MAX_PENDING_TRIALS_PG", "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", *QUIET_ENV)


def changed(before: dict[str, str], after: dict[str, str]) -> dict[str, tuple[str | None, str | None]]:
    keys = (set(before) | set(after)) - RAY_INIT_SETS
    return {k: (before.get(k), after.get(k)) for k in sorted(keys) if before.get(k) != after.get(k)}


def levels() -> dict[str, int]:
    """The levels raytuner lowers for a run. Importing Ray Tune sets ray.data's itself (to
    DEBUG, once): import it first, so that only what a run does is compared."""
    import ray.tune  # noqa: F401

    return {name: logging.getLogger(name).level for name in QUIET_LOGGERS}


# -- with Ray ------------------------------------------------------------------------


@pytest.mark.parametrize("space", [
    {"x": {"type": "float", "low": -5, "high": 5}},  # Ray's own generator
    {"x": {"type": "int", "low": -4, "high": 4, "step": 2}},  # our searcher: pending trials set for the run
])
def test_run_leaves_the_environment_as_it_was(
    ray_local, storage: Path, space: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in TUNER_VARS:  # unset, so that one set for good shows up
        monkeypatch.delenv(key, raising=False)
    env, logs = dict(os.environ), levels()
    summary = raytuner.run(fn_spec(storage, "quadratic", space, budget={"trials": 2}), show_progress=False)
    assert summary.counts["ok"] == 2
    assert changed(env, dict(os.environ)) == {}
    assert levels() == logs


def test_a_users_pending_trials_setting_is_kept(ray_local, storage: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNE_MAX_PENDING_TRIALS_PG", "3")
    env = dict(os.environ)
    raytuner.run(fn_spec(storage, "quadratic", {"x": {"type": "int", "low": -4, "high": 4, "step": 2}}, budget={"trials": 2}), show_progress=False)
    assert changed(env, dict(os.environ)) == {}


def test_tune_search_cv_leaves_the_environment_as_it_was(ray_local, monkeypatch: pytest.MonkeyPatch) -> None:
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from raytuner.sklearn import TuneSearchCV

    X, y = load_iris(return_X_y=True)
    for key in TUNER_VARS:
        monkeypatch.delenv(key, raising=False)
    env, logs = dict(os.environ), levels()
    search = TuneSearchCV(LogisticRegression(max_iter=200), {"C": [0.1, 1.0]}, strategy="grid", cv=2).fit(X, y)
    assert search.best_params_["C"] in (0.1, 1.0)
    assert changed(env, dict(os.environ)) == {}
    assert levels() == logs


# -- without Ray: what the blocks set, and that they restore on error ----------------------


def test_the_tuner_sees_its_variables_and_the_users_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = fn_spec(tmp_path, "quadratic", {"x": {"type": "int", "low": -4, "high": 4, "step": 2}}, budget={"trials": 2, "max_concurrent": 2})
    tuning = tuner_plan(make_plan(validate_spec(spec)))
    monkeypatch.delenv("TUNE_MAX_PENDING_TRIALS_PG", raising=False)
    env = dict(os.environ)
    with tuner_environ(tuning):
        assert os.environ["TUNE_MAX_PENDING_TRIALS_PG"] == "2"
        assert os.environ["TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"] == "1"
        assert os.environ["RAY_AIR_NEW_OUTPUT"] == "0"
        assert logging.getLogger("ray.tune").level == logging.ERROR
    assert changed(env, dict(os.environ)) == {}
    monkeypatch.setenv("TUNE_MAX_PENDING_TRIALS_PG", "7")
    monkeypatch.setenv("RAY_AIR_NEW_OUTPUT", "1")
    with tuner_environ(tuning):
        assert os.environ["TUNE_MAX_PENDING_TRIALS_PG"] == "7" and os.environ["RAY_AIR_NEW_OUTPUT"] == "1"
    assert os.environ["TUNE_MAX_PENDING_TRIALS_PG"] == "7" and os.environ["RAY_AIR_NEW_OUTPUT"] == "1"


def test_restored_on_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RT_TEST_A", raising=False)
    monkeypatch.setenv("RT_TEST_B", "user")
    env, logs = dict(os.environ), levels()
    with pytest.raises(RuntimeError), quiet_ray(), scoped_environ({"RT_TEST_A": "1", "RT_TEST_B": "ours"}):
        assert os.environ["RT_TEST_A"] == "1" and os.environ["RT_TEST_B"] == "user"
        os.environ["RT_TEST_B"] = "changed inside"
        raise RuntimeError("boom")
    assert changed(env, dict(os.environ)) == {}
    assert levels() == logs

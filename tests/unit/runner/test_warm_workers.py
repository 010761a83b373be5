"""Trial workers booted and imported ahead of the trials (runner.warm_workers): which modules
a run preloads, how many workers it asks for and when (no Ray: tests/integration/test_warm_workers.py
checks that Ray takes both)."""

from __future__ import annotations

from typing import Any

import pytest

from raytuner.runner import session, warm_workers
from raytuner.runner.plan import make_plan
from raytuner.spec.models import ExperimentSpec

ROOT_SPEC = {"name": "w", "metric": {"name": "accuracy", "mode": "max"}, "budget": {"trials": 6},
             "storage": {"path": "unused"}}


def _sklearn_plan(**extra: Any) -> Any:
    spec = ExperimentSpec.model_validate({
        **ROOT_SPEC, "trainable": {"type": "sklearn", "estimator": "sklearn.ensemble.RandomForestClassifier",
                                   "data": {"source": "sklearn:iris"}, "cv": {"folds": 2}},
        "space": {"n_estimators": {"type": "int", "low": 5, "high": 10}}, **extra})
    return make_plan(spec)


def test_a_run_preloads_tunes_trainable_raytuners_trial_code_and_the_estimators_module() -> None:
    modules = warm_workers.worker_modules(_sklearn_plan().trainable)
    assert modules[0] == "ray.tune"
    assert "raytuner.trainables.sklearn.trainable" in modules and "sklearn.ensemble._forest" in modules
    assert len(modules) == len(set(modules))
    assert warm_workers.preload_config(modules) == {"preload_python_modules": list(modules)}
    assert warm_workers.preload_config(()) == {}


def test_the_users_own_modules_are_never_preloaded(tmp_path, monkeypatch) -> None:
    (tmp_path / "mymodels.py").write_text("from sklearn.tree import DecisionTreeClassifier\n"
                                          "class Tree(DecisionTreeClassifier):\n    pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    from raytuner.spec.code import library_module

    import mymodels  # noqa: E402

    assert library_module(mymodels.Tree) is None
    assert library_module(mymodels.DecisionTreeClassifier) == "sklearn.tree._classes"


def test_trial_slots_are_cpus_over_a_trials_at_most_max_concurrent_and_trials(monkeypatch) -> None:
    import ray

    monkeypatch.setattr(ray, "cluster_resources", lambda: {"CPU": 8.0})
    assert warm_workers.trial_slots(_sklearn_plan()) == 6  # 6 trials
    assert warm_workers.trial_slots(_sklearn_plan(budget={"trials": 20, "max_concurrent": 3})) == 3
    assert warm_workers.trial_slots(_sklearn_plan(budget={"trials": 20}, resources={"cpu": 3})) == 2


def test_a_later_run_asks_for_workers_the_first_run_gets_rays_own(monkeypatch) -> None:
    asked: list[int] = []
    kept = session._KeptRay()
    monkeypatch.setattr(kept, "up", lambda: True)
    monkeypatch.setattr(warm_workers, "prestart", lambda n, **_: asked.append(n))
    kept.fresh = True  # just started: Ray prestarted a worker per CPU for this driver
    kept.warm_workers(2)
    assert asked == []
    kept.warm_workers(2)
    kept.warm_workers(1)
    assert asked == [2, 1]


@pytest.fixture(autouse=True)
def _no_kept_ray_change() -> Any:
    before = (session._KEPT.fresh, session._KEPT.node_id)
    yield
    assert (session._KEPT.fresh, session._KEPT.node_id) == before


def test_rays_callback_usage_tag_is_recorded_as_ray_counts_it_without_its_imports(monkeypatch) -> None:
    import json

    from ray.air._internal import usage
    from ray.tune import Callback
    from ray.tune.logger import CSVLoggerCallback, LoggerCallback

    from raytuner.runner.early import light_usage_tags

    class Mine(LoggerCallback):
        pass

    callbacks = [CSVLoggerCallback(), Callback(), Mine(), Callback()]
    expected = dict(usage._count_callbacks(callbacks))  # Ray's own count (imports mlflow, W&B...)
    light_usage_tags()
    light_usage_tags()  # idempotent
    recorded: dict = {}
    monkeypatch.setattr(usage, "record_extra_usage_tag", lambda key, value: recorded.update({key: value}))
    assert usage.tag_callbacks(callbacks) is True
    assert json.loads(recorded[usage.TagKey.AIR_CALLBACKS]) == expected
    assert usage.tag_callbacks([]) is False

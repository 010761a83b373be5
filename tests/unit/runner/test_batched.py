"""execution.batch without Ray: the plan's choice (auto, refusals) and one batch evaluated
in process with the metrics rule and stopping conditions, as the pool's actors do."""

from __future__ import annotations

import math

import pytest

from raytuner.errors import SpecError
from raytuner.runner.batched import trial_record, write_trial
from raytuner.runner.plan import make_plan
from raytuner.spec.models import ExperimentSpec
from raytuner.trainables.batch import BatchJob, evaluate


def _spec(function: str = "raytuner.testing:quadratic", **extra: object) -> ExperimentSpec:
    data = {"name": "b", "trainable": {"type": "function", "function": function},
            "space": {"x": {"type": "float", "low": -1, "high": 6}}, "metric": {"name": "loss", "mode": "min"},
            "budget": {"trials": 10}, "storage": {"path": "unused"}, **extra}
    return ExperimentSpec.model_validate(data)


def test_auto_batches_a_cheap_function_and_off_is_the_default() -> None:
    plan = make_plan(_spec(execution={"batch": "auto"}))
    assert plan.batch >= 1 and any("execution.batch auto" in n for n in plan.notes)
    assert make_plan(_spec()).batch == 0
    assert make_plan(_spec(execution={"batch": 7})).batch == 7


def test_auto_keeps_tune_trials_for_a_slow_function() -> None:
    spec = _spec("raytuner.testing:curve", execution={"batch": "auto"})
    spec = spec.model_copy(update={"trainable": spec.trainable.model_copy(update={"params": {"sleep": 0.04, "steps": 3}})})
    assert make_plan(spec).batch == 0


@pytest.mark.parametrize("extra, words", [
    ({"scheduler": {"name": "asha"}, "stop": {"max_steps": 5}}, "scheduler 'asha'"),
    ({"stop": {"plateau": {}}}, "stop.plateau"),
])
def test_an_explicit_batch_with_what_needs_tune_trials_is_a_spec_error(extra: dict, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        make_plan(_spec(execution={"batch": 4}, **extra))
    message = str(caught.value)
    assert "execution.batch" in message and "4" in message and words in message
    assert make_plan(_spec(execution={"batch": "auto"}, **extra)).batch == 0  # auto: Tune trials instead


def test_one_batch_applies_the_metrics_rule_errors_and_stopping(tmp_path) -> None:
    objectives = (("loss", "min"),)
    fails = evaluate(BatchJob("raytuner.testing:fail_when_negative", objectives=objectives),
                     [("a_00000", {"x": -1.0}), ("a_00001", {"x": 2.0})], "10.0.0.1")
    assert fails[0].error.startswith("ValueError: x=-1.0") and fails[1].error is None
    assert fails[1].rows[0]["loss"] == 1.0 and fails[1].rows[0]["done"] is True
    assert fails[1].rows[0]["node_ip"] == "10.0.0.1" and fails[1].rows[0]["trial_id"] == "a_00001"
    (nan,) = evaluate(BatchJob("raytuner.testing:nan_when_negative", objectives=objectives), [("b", {"x": -1.0})])
    record = trial_record(nan, {"x": -1.0}, str(tmp_path), "loss")
    assert record.status == "diverged" and math.isnan(record.metrics["loss"])
    (stopped,) = evaluate(BatchJob("raytuner.testing:curve", {"steps": 9}, objectives, max_steps=4), [("c", {"x": 3.0})])
    assert [r["training_iteration"] for r in stopped.rows] == [1, 2, 3, 4]
    (target,) = evaluate(BatchJob("raytuner.testing:curve", {"steps": 9}, objectives, target=3.0), [("d", {"x": 3.0})])
    assert len(target.rows) == 4 and target.rows[-1]["loss"] <= 3.0  # 10/4 = 2.5 is the first <= 3
    write_trial(tmp_path / "trial_d", {"x": 3.0}, target.rows)
    from raytuner.results.experiment import read_experiment

    experiment = read_experiment(tmp_path)
    assert list(experiment.trials["trial_id"]) == ["d"] and len(experiment.history) == 4
    assert experiment.trials["config.x"].tolist() == [3.0]


def _sklearn_spec(**extra: object) -> ExperimentSpec:
    data = {"name": "s", "trainable": {"type": "sklearn", "estimator": "sklearn.ensemble.RandomForestClassifier",
                                       "data": {"source": "sklearn:iris"}, "cv": {"folds": 3}},
            "space": {"n_estimators": {"type": "int", "low": 2, "high": 4}}, "metric": {"name": "accuracy", "mode": "max"},
            "budget": {"trials": 2}, "storage": {"path": "unused"}, **extra}
    return ExperimentSpec.model_validate(data)


def test_auto_batches_sklearn_folds_under_fifo_without_a_probe(monkeypatch: pytest.MonkeyPatch) -> None:
    import raytuner.runner.batched as batched

    monkeypatch.setattr(batched, "_probe", lambda *a: pytest.fail("an sklearn trial is not probed"))
    plan = make_plan(_sklearn_spec(execution={"batch": "auto"}, resources={"cpu": 2}))
    assert plan.batch == 1 and any("sklearn trials on warm actors" in n for n in plan.notes)
    assert make_plan(_sklearn_spec()).batch == 0  # off stays the default
    assert make_plan(_sklearn_spec(execution={"batch": "auto"}, scheduler={"name": "asha"})).batch == 0
    job = plan.trainable.batch_job(plan.objectives, plan.schedule.max_steps, None)  # Ray not up: the data itself
    assert job.fn_path.setup.fixed["n_jobs"] == 2 and job.fn_path.setup.cv.seed == plan.spec.strategy.seed
    (evaluation,) = evaluate(job, [("t", {"n_estimators": 3})])
    assert evaluation.error is None and [r["fold"] for r in evaluation.rows] == [1, 2, 3]
    assert [r["step"] for r in evaluation.rows] == [1, 2, 3] and 0 < evaluation.rows[-1]["accuracy"] <= 1


def test_sklearn_fidelities_other_than_folds_are_refused_batched() -> None:
    trainable = {"type": "sklearn", "estimator": "sklearn.ensemble.RandomForestClassifier",
                 "data": {"source": "sklearn:iris"}, "fidelity": {"kind": "estimators", "steps": 2}}
    spec = _sklearn_spec(execution={"batch": 2}).model_dump()
    spec["trainable"] = trainable
    with pytest.raises(SpecError) as caught:
        make_plan(ExperimentSpec.model_validate(spec))
    assert "execution.batch" in str(caught.value) and "fidelity.kind 'estimators'" in str(caught.value)

"""Scheduler options and checks, before Ray starts (no Ray here)."""

from __future__ import annotations

from typing import Any

import pytest

from raytuner.errors import SpecError
from raytuner.runner.plan import make_plan
from raytuner.schedulers import SCHEDULERS, ScheduleContext
from raytuner.spec.models import ExperimentSpec

ALL = ["asha", "bohb", "fifo", "hyperband", "median", "pb2", "pbt"]


def spec(scheduler: dict[str, Any], **extra: Any) -> ExperimentSpec:
    data: dict[str, Any] = {
        "name": "t",
        "trainable": {"type": "function", "function": "raytuner.testing:resumable_curve", "params": {"steps": 9}},
        "space": {"x": {"type": "float", "low": 0, "high": 6}, "kind": {"type": "choice", "values": ["a", "b"]}},
        "metric": {"name": "loss", "mode": "min"},
        "scheduler": scheduler,
        "stop": {"max_steps": 9},
    }
    data.update(extra)
    return ExperimentSpec.model_validate(data)


def problem(exc: pytest.ExceptionInfo[SpecError]) -> tuple[str, str]:
    first = exc.value.problems[0]
    return first.path, first.expected


def test_registry_has_every_scheduler() -> None:
    assert SCHEDULERS.names() == ALL
    for name in ALL:
        assert SCHEDULERS.get(name).name == name


@pytest.mark.parametrize("name", ["asha", "hyperband", "median", "pbt", "pb2"])
def test_defaults_come_from_the_trainable(name: str) -> None:
    plan = make_plan(spec({"name": name}))
    built = plan.scheduler.build(plan.schedule)
    assert getattr(built, "_time_attr") == "training_iteration"
    if name in ("asha", "hyperband"):
        assert getattr(built, "_max_t_attr", getattr(built, "_max_t", None)) == 9
    if name in ("pbt", "pb2"):
        assert built._perturbation_interval == 2  # a quarter of the 9 steps
        assert plan.scheduler.checkpoints_to_keep(plan.schedule) is None  # all: clones restore donors' checkpoints
        assert plan.scheduler.fewest_checkpoints_to_keep(plan.schedule) >= 4


def test_unknown_option_names_the_field() -> None:
    with pytest.raises(SpecError) as exc:
        make_plan(spec({"name": "asha", "options": {"grace_priod": 2}}))
    assert problem(exc)[0] == "scheduler.options.grace_priod"


def test_grace_period_above_max_t() -> None:
    with pytest.raises(SpecError) as exc:
        make_plan(spec({"name": "asha", "options": {"grace_period": 20}}))
    assert problem(exc)[0] == "scheduler.options.grace_period"


def test_max_t_needed_when_the_trainable_does_not_know_its_steps() -> None:
    s = spec({"name": "asha"}, stop={})
    with pytest.raises(SpecError) as exc:
        make_plan(s)
    path, expected = problem(exc)
    assert path == "scheduler.options.max_t" and "stop.max_steps" in expected
    assert make_plan(spec({"name": "asha", "options": {"max_t": 5}}, stop={})).scheduler.options.max_t == 5


def test_bohb_refuses_other_strategies() -> None:
    with pytest.raises(SpecError) as exc:
        make_plan(spec({"name": "bohb"}))
    path, expected = problem(exc)
    assert path == "scheduler.name"
    assert "'bohb'" in expected and "'random'" in expected


@pytest.mark.parametrize("name", ["pbt", "pb2", "hyperband"])
def test_cloning_schedulers_need_a_checkpointing_trainable(name: str) -> None:
    s = spec({"name": name}, trainable={"type": "function", "function": "raytuner.testing:curve"})
    with pytest.raises(SpecError) as exc:
        make_plan(s)
    path, expected = problem(exc)
    assert path == "scheduler.name" and "state" in expected


def test_pbt_mutations_from_names_and_dsl() -> None:
    plan = make_plan(spec({"name": "pbt", "options": {"mutations": ["x"]}}))
    assert set(plan.scheduler.build(plan.schedule)._hyperparam_mutations) == {"x"}
    plan = make_plan(spec({"name": "pbt"}))
    mutations = plan.scheduler.build(plan.schedule)._hyperparam_mutations
    assert mutations["kind"] == ["a", "b"] and "x" in mutations
    with pytest.raises(SpecError) as exc:
        make_plan(spec({"name": "pbt", "options": {"mutations": ["y"]}}))
    assert problem(exc)[0] == "scheduler.options.mutations.0"
    with pytest.raises(SpecError) as exc:
        make_plan(spec({"name": "pbt", "options": {"mutations": {"x": {"type": "float", "low": 2, "high": 1}}}}))
    assert problem(exc)[0].startswith("scheduler.options.mutations.x")


def test_pb2_bounds_are_numeric_only() -> None:
    plan = make_plan(spec({"name": "pb2"}))
    assert plan.scheduler.build(plan.schedule)._hyperparam_bounds == {"x": [0.0, 6.0]}
    with pytest.raises(SpecError) as exc:
        make_plan(spec({"name": "pb2", "options": {"bounds": ["kind"]}}))
    assert problem(exc)[0] == "scheduler.options.bounds"


def test_pbt_keeps_mutations_inside_the_space() -> None:
    from raytuner.spec.params import parse_space
    from raytuner.schedulers._population import clip

    space = parse_space({"lr": {"type": "float", "low": 0.01, "high": 0.1}, "n": {"type": "int", "low": 1, "high": 8}})
    assert clip({"lr": 0.12, "n": 9.6, "other": 1}, space) == {"lr": 0.1, "n": 8, "other": 1}
    assert clip({"lr": 0.05, "n": 2.4}, space) == {"lr": 0.05, "n": 2}


MULTI = (("loss", "min"), ("size", "min"))


@pytest.mark.parametrize("name", ["asha", "hyperband", "median", "pbt", "pb2"])
def test_multi_objective_needs_one_metric_to_compare(name: str) -> None:
    plan = make_plan(spec({"name": name}))
    ctx = ScheduleContext(**{**plan.schedule.__dict__, "objectives": MULTI})
    with pytest.raises(SpecError) as exc:
        plan.scheduler.check(ctx)
    path, expected = problem(exc)
    assert path == "scheduler.options.metric" and "loss, size" in expected
    chosen = SCHEDULERS.get(name)(SCHEDULERS.get(name).Options(metric="size"))
    chosen.check(ctx)
    built = chosen.build(ctx)
    assert (built._metric, built._mode) == ("size", "min")
    with pytest.raises(SpecError):
        SCHEDULERS.get(name)(SCHEDULERS.get(name).Options(metric="nope")).check(ctx)


def test_single_objective_scheduler_metric_must_match() -> None:
    with pytest.raises(SpecError) as exc:
        make_plan(spec({"name": "asha", "options": {"metric": "other"}}))
    assert problem(exc)[0] == "scheduler.options.metric"


def test_plateau_stoppers_are_built() -> None:
    from raytuner.spec.models import StopSpec
    from raytuner.runner.stopping import MaxStepsStopper, RecordingStopper, build_stopper

    stop = StopSpec(max_steps=5, plateau={"window": 3}, experiment_plateau={"top": 3})
    built = build_stopper(stop, "loss", "min")
    assert isinstance(built, RecordingStopper)
    names = [(name, type(s).__name__) for name, s in built.stoppers]
    assert names == [("max_steps", "MaxStepsStopper"), ("plateau", "TrialPlateauStopper"),
                     ("experiment_plateau", "ExperimentPlateauStopper")]
    assert build_stopper(StopSpec(), "loss", "min") is None
    target = build_stopper(StopSpec(max_steps=5, target=1.0), "loss", "min")
    assert not target("a", {"training_iteration": 1, "loss": 3.0})
    assert target("a", {"training_iteration": 2, "loss": 0.5}) and target("b", {"training_iteration": 5, "loss": 2.0})
    assert target.reasons == {"a": "target", "b": "max_steps"}
    steps = MaxStepsStopper(5)
    assert not steps("t", {"training_iteration": 4}) and steps("t", {"training_iteration": 5})


def test_sklearn_fidelity_checks() -> None:
    base = {
        "name": "t",
        "trainable": {"type": "sklearn", "estimator": "sklearn.ensemble.RandomForestClassifier",
                      "data": {"source": "sklearn:iris"}, "fidelity": {"kind": "epochs"}},
        "metric": "accuracy",
    }
    with pytest.raises(SpecError) as exc:
        make_plan(ExperimentSpec.model_validate(base))
    assert problem(exc)[0] == "trainable.fidelity.kind"
    base["trainable"] = {**base["trainable"], "estimator": "sklearn.linear_model.SGDClassifier",
                         "fidelity": {"kind": "estimators"}}
    with pytest.raises(SpecError) as exc:
        make_plan(ExperimentSpec.model_validate(base))
    assert problem(exc)[0] == "trainable.fidelity.kind"
    base["trainable"] = {**base["trainable"], "fidelity": {"kind": "epochs", "steps": 7}}
    plan = make_plan(ExperimentSpec.model_validate(base))
    assert plan.schedule.max_steps == 7 and plan.schedule.checkpoints


def test_pb2_names_the_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from raytuner.errors import DependencyError

    monkeypatch.setitem(sys.modules, "ray.tune.schedulers.pb2", None)  # import fails as if not installed
    with pytest.raises(DependencyError) as exc:
        make_plan(spec({"name": "pb2"}))
    assert "raytuner[pb2]" in str(exc.value) and "'pb2' scheduler" in str(exc.value)


@pytest.mark.parametrize("name", ALL)
def test_conformance_every_scheduler_builds_or_refuses_clearly(name: str) -> None:
    """Every registry entry: default options validate, and it builds a Ray TrialScheduler
    (or refuses the spec with a SpecError naming a field, never a crash)."""
    from ray.tune.schedulers import TrialScheduler

    from raytuner.strategies import STRATEGIES

    cls = SCHEDULERS.get(name)
    assert cls.name == name and SCHEDULERS.summary(name)
    strategy = {"name": "bohb"} if name == "bohb" and "bohb" in STRATEGIES else {"name": "random"}
    try:
        plan = make_plan(spec({"name": name}, strategy=strategy))
    except SpecError as exc:
        assert name == "bohb" and exc.problems[0].path in ("scheduler.name", "strategy.name")
        return
    built = plan.scheduler.build(plan.schedule)
    assert built is None or isinstance(built, TrialScheduler)
    keep = plan.scheduler.checkpoints_to_keep(plan.schedule)
    assert keep is None or keep >= 2


def test_cli_refuses_bohb_without_its_strategy(capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    from raytuner.cli.main import main

    spec_path = Path(__file__).resolve().parents[3] / "experiments" / "asha.yaml"
    assert main(["validate", str(spec_path), "--set", "scheduler.name=bohb", "--set", "scheduler.options={}"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: invalid spec") and "scheduler.name" in err and "'bohb'" in err
    assert "Traceback" not in err


def test_synchronous_scheduler_with_a_concurrency_limit_gets_a_note() -> None:
    limited = make_plan(spec({"name": "hyperband"}, budget={"trials": 6, "max_concurrent": 2}))
    assert any("budget.max_concurrent=2" in note and "hyperband" in note for note in limited.notes)
    assert not make_plan(spec({"name": "hyperband"}, budget={"trials": 6})).notes
    assert not make_plan(spec({"name": "asha"}, budget={"trials": 6, "max_concurrent": 2})).notes


@pytest.mark.parametrize("name, fallback", [("pbt", "trainable"), ("asha", "scheduler")])
def test_stops_are_credited_to_the_condition_that_stopped_the_trial(name: str, fallback: str) -> None:
    """PBT never stops a trial: one that ended early was stopped by a stop condition or by
    its own early stopping, never "by the pbt scheduler" (issue #16)."""
    from raytuner.results.summary import TrialRecord
    from raytuner.runner.scheduling import StopReasons, scheduling_report

    def trial(tid: str, steps: int, **metrics: Any) -> TrialRecord:
        return TrialRecord(trial_id=tid, status="ok", config={}, score=1.0, steps=steps, time_s=0.1, metrics=metrics)

    plan = make_plan(spec({"name": name}))
    trials = [trial("full", 9), trial("flat", 4), trial("own", 5, stopped_early=True), trial("cut", 3)]
    report = scheduling_report(plan, trials, StopReasons(trials={"flat": "plateau"}))
    early = report.early_stopping
    assert early.stop_reasons == {"flat": "plateau", "own": "early_stopping", "cut": fallback}
    assert early.stopped_by == dict(sorted({"plateau": 1, "early_stopping": 1, fallback: 1}.items()))

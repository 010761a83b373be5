"""Errors cross the Ray boundary intact, and the retry policy decides by the error (no Ray started)."""

from __future__ import annotations

import pickle

import cloudpickle
import pytest

from raytuner import errors
from raytuner.errors import (ClusterError, DependencyError, ExperimentFailed, Problem, RaytunerError, ResultsError,
                             SpecError, retryable)

ERRORS = [
    SpecError([Problem("space.x.high", 1.5, "at most 1.0"), Problem("metric.name", "acc", "a scorer name")], "spec.yaml"),
    SpecError.at("trainable.function", "m:f", "a callable fn(config)"),
    DependencyError("needs torch"),
    ClusterError("no cluster"),
    ResultsError("no summary"),
    ExperimentFailed("all 3 trials failed"),
    RaytunerError("plain"),
]


@pytest.mark.parametrize("error", ERRORS, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_every_raytuner_error_survives_pickling(error: RaytunerError, dumps) -> None:
    back = pickle.loads(dumps(error))
    assert type(back) is type(error)
    assert str(back) == str(error) and back.args == error.args
    assert back.__dict__ == error.__dict__
    assert back.exit_code == error.exit_code
    if isinstance(error, SpecError):
        assert back.problems == error.problems and back.source == error.source
        assert [p.render() for p in back.problems] == [p.render() for p in error.problems]


def test_a_spec_error_inside_rays_task_error_keeps_its_type_and_message() -> None:
    from ray.exceptions import RayTaskError

    error = SpecError.at("trainable.params.x", 3, "a value this objective accepts")
    wrapped = RayTaskError("train", "Traceback (most recent call last):\n...", error).as_instanceof_cause()
    back = cloudpickle.loads(cloudpickle.dumps(wrapped))  # what Ray writes to error.pkl and reads back
    assert isinstance(back, SpecError) and isinstance(back.cause, SpecError)
    assert back.cause.problems == error.problems
    assert errors.causes(back) == [back.cause]


@pytest.mark.parametrize("error", [SpecError.at("a", 1, "b"), DependencyError("x"), ImportError("no module"),
                                   ModuleNotFoundError("no module named m"), TypeError("bad type"),
                                   ValueError("bad value"), KeyError("col"), AttributeError("a"),
                                   ZeroDivisionError("0"), NotImplementedError()],
                         ids=lambda e: type(e).__name__)
def test_errors_a_retry_cannot_fix_are_not_retryable(error: BaseException) -> None:
    assert not retryable(error)


@pytest.mark.parametrize("error", [OSError("disk"), ConnectionError("reset"), TimeoutError("slow"),
                                   FileNotFoundError("checkpoint_000003"), RuntimeError("CUDA error"),
                                   MemoryError(), ClusterError("unreachable")],
                         ids=lambda e: type(e).__name__)
def test_transient_errors_are_retryable(error: BaseException) -> None:
    assert retryable(error)


def test_rays_wrappers_are_judged_by_their_cause() -> None:
    from ray.exceptions import RayActorError, RayTaskError

    assert not retryable(RayTaskError("f", "tb", TypeError("x")))
    assert not retryable(RayTaskError("f", "tb", TypeError("x")).as_instanceof_cause())
    assert retryable(RayTaskError("f", "tb", ConnectionError("x")))
    assert retryable(RayActorError())  # a lost worker or actor
    assert retryable(None)


def test_ray_train_worker_group_errors_are_judged_by_every_worker() -> None:
    from ray.train.v2.api.exceptions import WorkerGroupError

    assert not retryable(WorkerGroupError("failed", {0: ValueError("x"), 1: TypeError("y")}))
    assert retryable(WorkerGroupError("failed", {0: ValueError("x"), 1: ConnectionError("lost")}))


# -- the retry policy on Ray's Trial (the two methods it narrows must exist as used) ----


def _trial(max_failures: int):
    from ray.tune.experiment.trial import Trial

    class Offline(Trial):  # no storage: handle_error writes no error file
        local_path = None

    return Offline("__fake", stub=True, max_failures=max_failures)


def test_ray_trial_still_has_the_methods_the_policy_narrows() -> None:
    import inspect

    from ray.tune.experiment.trial import Trial

    assert list(inspect.signature(Trial.handle_error).parameters) == ["self", "exc"]
    assert list(inspect.signature(Trial.should_recover).parameters) == ["self"]
    assert isinstance(Trial.is_restoring, property)


def test_permanent_errors_are_not_recovered_transient_ones_are() -> None:
    from ray.exceptions import RayActorError, RayTaskError
    from ray.tune.experiment.trial import Trial

    from raytuner.runner.retries import no_retry_for_permanent_errors

    original = (Trial.handle_error, Trial.should_recover)
    with no_retry_for_permanent_errors() as final:
        bad = _trial(3)
        bad.handle_error(RayTaskError("train", "tb", TypeError("x")).as_instanceof_cause())
        assert not bad.should_recover() and final == {bad.trial_id}
        assert bad.num_failures == 1  # counted once, as Ray counts it
        flaky = _trial(3)
        flaky.handle_error(RayTaskError("train", "tb", ConnectionError("reset")))
        assert flaky.should_recover()
        lost = _trial(3)
        lost.handle_error(RayActorError())
        assert lost.should_recover()
        spent = _trial(0)  # max_retries 0: Ray's own limit still holds
        spent.handle_error(RayTaskError("train", "tb", ConnectionError("reset")))
        assert not spent.should_recover()
    assert (Trial.handle_error, Trial.should_recover) == original  # restored on exit
    assert _trial(3).should_recover()

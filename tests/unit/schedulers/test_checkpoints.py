"""checkpoints.keep (issue #12, part 7): a scheduler that clones trials keeps every checkpoint
by default, and a number too small for it is refused before Ray starts (no Ray here)."""

from __future__ import annotations

import pytest

from raytuner.errors import SpecError
from raytuner.runner.plan import make_plan
from raytuner.runner.tuning import tuner_plan
from tests.unit.schedulers.test_options import problem, spec

PBT = {"name": "pbt", "options": {"perturbation_interval": 3}}


@pytest.mark.parametrize(("scheduler", "kept"), [({"name": "fifo"}, 2), ({"name": "asha"}, 2), (PBT, None),
                                                  ({"name": "pb2", "options": {"perturbation_interval": 3}}, None)])
def test_defaults(scheduler: dict, kept: int | None) -> None:
    assert tuner_plan(make_plan(spec(scheduler))).checkpoints_to_keep == kept


@pytest.mark.parametrize(("scheduler", "keep", "kept"), [({"name": "fifo"}, 1, 1), ({"name": "fifo"}, "all", None),
                                                         (PBT, 9, 9), (PBT, 20, 20), (PBT, "all", None)])
def test_the_spec_sets_how_many(scheduler: dict, keep: int | str, kept: int | None) -> None:
    assert tuner_plan(make_plan(spec(scheduler, checkpoints={"keep": keep}))).checkpoints_to_keep == kept


@pytest.mark.parametrize("name", ["pbt", "pb2"])
def test_too_few_for_a_cloning_scheduler_is_refused(name: str) -> None:
    with pytest.raises(SpecError) as exc:
        make_plan(spec({"name": name, "options": {"perturbation_interval": 3}}, checkpoints={"keep": 8}))
    path, expected = problem(exc)
    assert path == "checkpoints.keep" and expected.startswith(f"at least 9, or all with scheduler '{name}'")
    assert exc.value.problems[0].value == 8


def test_pbt_in_seconds_takes_only_all() -> None:
    options = {"perturbation_interval": 2.0, "time_attr": "time_total_s"}
    with pytest.raises(SpecError) as exc:
        make_plan(spec({"name": "pbt", "options": options}, checkpoints={"keep": 50}))
    assert problem(exc)[1].startswith("all with scheduler 'pbt'")
    assert tuner_plan(make_plan(spec({"name": "pbt", "options": options}))).checkpoints_to_keep is None


@pytest.mark.parametrize("bad", [0, -1, "some", 2.5])
def test_keep_is_a_positive_integer_or_all(bad: object) -> None:
    with pytest.raises(Exception) as exc:
        spec({"name": "fifo"}, checkpoints={"keep": bad})
    assert "checkpoints.keep" in str(exc.value) or "keep" in str(exc.value)

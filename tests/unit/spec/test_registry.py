"""Registries: lazy names, clear errors, and a contract every entry must meet."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from raytuner.errors import SpecError
from raytuner.spec.registry import Registry, import_object
from raytuner.schedulers import SCHEDULERS, ScheduleContext, Scheduler
from raytuner.strategies import STRATEGIES, Strategy
from raytuner.trainables import TRAINABLES, Trainable


def test_unknown_name_lists_valid_ones() -> None:
    with pytest.raises(SpecError) as info:
        STRATEGIES.get("nope")
    text = str(info.value)
    assert "strategy.name: got 'nope'" in text
    for name in STRATEGIES.names():
        assert name in text


def test_duplicate_registration_is_refused() -> None:
    reg: Registry[object] = Registry("thing", "thing.name")
    reg.add("a", "os:path", "x")
    with pytest.raises(ValueError):
        reg.add("a", "os:path", "y")


@pytest.mark.parametrize("name", STRATEGIES.names())
def test_every_strategy_entry_meets_the_contract(name: str) -> None:
    cls = STRATEGIES.get(name)
    assert issubclass(cls, Strategy) and cls.name == name
    assert STRATEGIES.summary(name)
    assert issubclass(cls.Options, BaseModel) and cls.Options.model_config.get("extra") == "forbid"
    assert cls.supports


@pytest.mark.parametrize("name", SCHEDULERS.names())
def test_every_scheduler_entry_meets_the_contract(name: str) -> None:
    cls = SCHEDULERS.get(name)
    assert issubclass(cls, Scheduler) and cls.name == name
    assert SCHEDULERS.summary(name)
    assert cls.Options.model_config.get("extra") == "forbid"


@pytest.mark.parametrize("name", TRAINABLES.names())
def test_every_trainable_entry_meets_the_contract(name: str) -> None:
    cls = TRAINABLES.get(name)
    assert issubclass(cls, Trainable) and cls.kind == name


def test_fifo_builds_rays_fifo_scheduler() -> None:
    from ray.tune.schedulers import FIFOScheduler

    scheduler = SCHEDULERS.get("fifo")()
    assert isinstance(scheduler.build(ScheduleContext(metric="m", mode="max")), FIFOScheduler)


def test_import_object_errors_name_the_field() -> None:
    assert import_object("raytuner.testing:branin", "f").__name__ == "branin"
    assert import_object("os.path.join", "f").__name__ == "join"
    with pytest.raises(SpecError, match="trainable.function: got 'nomodule:fn'"):
        import_object("nomodule:fn", "trainable.function")
    with pytest.raises(SpecError, match="an import path"):
        import_object("plain", "f")


def test_import_raytuner_stays_light() -> None:
    import subprocess
    import sys

    code = "import sys, raytuner; bad = [m for m in ('ray', 'torch', 'sklearn', 'optuna') if m in sys.modules]; print(bad)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"

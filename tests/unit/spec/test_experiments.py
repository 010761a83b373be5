"""Every spec in experiments/ validates (no Ray; test_experiments in integration runs them)."""

from __future__ import annotations

import pytest

from raytuner.cli.main import main
from tests.integration.test_experiments import EXPERIMENTS, SPECS, _skip_without_strategy


@pytest.mark.parametrize("name", SPECS)
def test_experiment_validates(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    _skip_without_strategy(name)
    assert main(["validate", str(EXPERIMENTS / name)]) == 0
    assert capsys.readouterr().out.startswith("ok:")

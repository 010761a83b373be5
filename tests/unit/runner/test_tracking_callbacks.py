"""tracking.wandb's callback: the spec's mode reaches Ray's key check (no login for offline)."""

from __future__ import annotations

import os

import pytest

from raytuner.runner.tracking import Tracking, WandbTarget, tracking_callbacks

pytest.importorskip("wandb")


@pytest.mark.parametrize("before", [None, "online"])
def test_offline_wandb_needs_no_api_key_and_leaves_the_environment_as_it_was(
        monkeypatch: pytest.MonkeyPatch, before: str | None) -> None:
    for name in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(name, raising=False)
    if before is not None:
        monkeypatch.setenv("WANDB_MODE", before)
    monkeypatch.setenv("WANDB_CONFIG_DIR", os.devnull)  # no `wandb login` settings of the user's
    target = WandbTarget(project="p", entity=None, group=None, mode="offline")
    (callback,) = tracking_callbacks(Tracking(wandb=target), "exp-1")
    callback.setup()  # Ray's own callback raised "No WandB API key found" here
    assert callback.project == "p" and callback.group == "exp-1" and callback.kwargs["mode"] == "offline"
    assert os.environ.get("WANDB_MODE") == before

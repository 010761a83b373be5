"""tracking: checked before Ray starts (unknown keys, bad URIs, missing libraries, the moved key)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from raytuner.cli.main import main
from raytuner.runner.plan import make_plan
from raytuner.spec.loader import validate_spec


def spec(tmp_path: Path, **extra: object) -> dict:
    data = {
        "name": "tracked",
        "trainable": {"type": "function", "function": "raytuner.testing:quadratic"},
        "space": {"x": {"type": "float", "low": -1.0, "high": 1.0}},
        "metric": {"name": "loss", "mode": "min"},
        "storage": {"path": str(tmp_path / "results")},
    }
    data.update(extra)
    return data


def validate(tmp_path: Path, data: dict, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    code = main(["validate", str(path)])
    out = capsys.readouterr()
    return code, out.out + out.err


@pytest.mark.parametrize("tracking, where, says", [
    ({"mlflow": {"uri": "mlruns"}}, "tracking.mlflow.uri", "sqlite:///mlruns/mlflow.db"),
    ({"mlflow": {"uri": "sqlite://x.db"}}, "tracking.mlflow.uri", "sqlite:///relative/path.db"),
    ({"mlflow": {"uri": "http://"}}, "tracking.mlflow.uri", "http(s)://host[:port]"),
    ({"mlflow": {"experimnt": "x"}}, "tracking.mlflow.experimnt", "experiment"),
    ({"mlfow": True}, "tracking.mlfow", "mlflow"),
    ({"mlflow": {"uri": "file:///tmp/mlruns"}}, "tracking.mlflow.uri", "MLFLOW_ALLOW_FILE_STORE"),
])
def test_bad_tracking_is_one_message_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                tracking: dict, where: str, says: str) -> None:
    code, text = validate(tmp_path, spec(tmp_path, tracking=tracking), capsys)
    assert code == 2 and where in text and says in text and "Traceback" not in text


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed here")
def test_wandb_without_the_library_names_the_install(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, text = validate(tmp_path, spec(tmp_path, tracking={"wandb": {"mode": "offline"}}), capsys)
    assert code == 2 and "tracking.wandb" in text and "pip install wandb" in text


def test_mlflow_default_store_is_under_local_storage_and_remote_storage_needs_a_uri(tmp_path: Path) -> None:
    plan = make_plan(validate_spec(spec(tmp_path, tracking={"mlflow": True})))
    assert plan.tracking.mlflow is not None
    assert plan.tracking.mlflow.uri == f"sqlite:///{(tmp_path / 'results').resolve()}/mlruns/mlflow.db"
    assert plan.tracking.mlflow.experiment == "tracked"
    remote = spec(tmp_path, tracking={"mlflow": {}})
    remote["storage"] = {"path": "s3://bucket/results"}
    with pytest.raises(Exception, match=r"tracking\.mlflow\.uri.*remote"):
        make_plan(validate_spec(remote))


def test_storage_tensorboard_still_works_with_a_note_and_may_not_disagree(tmp_path: Path) -> None:
    plan = make_plan(validate_spec(spec(tmp_path, storage={"path": str(tmp_path), "tensorboard": True})))
    assert plan.tracking.tensorboard is True
    assert any("storage.tensorboard is deprecated" in note for note in plan.notes)
    assert make_plan(validate_spec(spec(tmp_path, tracking={"tensorboard": True}))).notes == ()
    with pytest.raises(Exception, match="disagree"):
        validate_spec(spec(tmp_path, storage={"path": str(tmp_path), "tensorboard": True},
                           tracking={"tensorboard": False}))

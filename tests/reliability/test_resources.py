"""A trial asking for a GPU on this CPU-only machine is refused before any trial starts
(issue #12, part 3): exit 2, one message naming the GPU, no traceback, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SPEC = """
name: wants-a-gpu
trainable: {type: function, function: "raytuner.testing:quadratic"}
space:
  x: {type: float, low: 0.0, high: 6.0}
metric: {name: loss, mode: min}
budget: {trials: 2}
resources: {cpu: 1, gpu: 1}
"""


def test_a_gpu_request_on_a_cpu_only_machine_is_refused(tmp_path: Path) -> None:
    if Path("/dev/nvidia0").exists():
        pytest.skip("this machine has a GPU")
    (tmp_path / "spec.yaml").write_text(SPEC)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RAY_ADDRESS", None)
    done = subprocess.run(
        [sys.executable, "-m", "raytuner.cli.main", "run", str(tmp_path / "spec.yaml"),
         "--set", f"storage.path={tmp_path / 'results'}"],
        capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: resources.gpu: each trial asks for 1 GPU, but no node has any GPU")
    assert "set resources.gpu: 0" in lines[0]
    assert "Traceback" not in done.stderr + done.stdout
    assert not (tmp_path / "results").exists()


def test_more_cpus_than_any_node_of_a_running_ray(ray_local: None, tmp_path: Path) -> None:
    """Ray already up (2 CPUs): the node table is read and the request refused before Tune starts."""
    import yaml

    import raytuner
    from raytuner.runner.resources import InfeasibleResources

    data = yaml.safe_load(SPEC)
    data["resources"] = {"cpu": 3}
    data["storage"] = {"path": str(tmp_path / "results")}
    with pytest.raises(InfeasibleResources) as exc:
        raytuner.run(data, show_progress=False)
    assert str(exc.value).startswith("resources.cpu: each trial asks for 3 CPU, but the largest node offers 2 CPU")
    assert not (tmp_path / "results").exists()

"""Ray takes what runner.warm_workers asks: the PrestartWorkers call with this process's token,
and the preload of the test Ray's workers (raytuner.testing.TEST_PRELOAD) seen from a trial."""

from __future__ import annotations

from raytuner.runner import warm_workers
from raytuner.spec.models import ExperimentSpec


def test_ray_takes_the_prestart_request_and_the_workers_preload(ray_local, tmp_path) -> None:
    warm_workers.request_workers(1, keep_alive_s=5)  # raises when the RPC or its token is refused
    from raytuner.runner.experiment import run_experiment

    spec = ExperimentSpec.model_validate({
        "name": "pre", "trainable": {"type": "function", "function": "raytuner.testing:preload_probe"},
        "space": {"x": {"type": "float", "low": 0, "high": 1}}, "metric": {"name": "loss", "mode": "min"},
        "budget": {"trials": 2}, "storage": {"path": str(tmp_path)}})
    summary = run_experiment(spec, show_progress=False)
    assert [t.metrics["preloaded"] for t in summary.trials] == [1.0, 1.0]

"""Ray takes runner.warm_workers' PrestartWorkers call with this process's token (the warm
session's drivers rely on it)."""

from __future__ import annotations

from raytuner.runner import warm_workers


def test_ray_takes_the_prestart_request(ray_local) -> None:
    warm_workers.request_workers(1, keep_alive_s=5)  # raises when the RPC or its token is refused

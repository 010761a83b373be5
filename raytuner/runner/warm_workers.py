"""Worker processes booted for a driver before its trials ask for them (Ray's PrestartWorkers).

Ray prestarts one worker per CPU for the first driver of a raylet only; a driver joining the
user's warm session (``raytuner session start``) gets none. ``prestart(n)`` asks the raylet
for them with Ray's own ``PrestartWorkers`` RPC (exposed to no Python API; best effort: a
failure leaves the trials to boot their workers), in a thread, while the driver sets up.

Measured and not kept: preloading the trials' modules in every worker the raylet starts
(Ray's ``preload_python_modules``) and prestarting workers for each later run in a process.
Ray Tune's trial actors mostly do not take the idle workers (they start their own), so the
prestarted workers' imports were CPU taken from the run: the quickstart took 1-2 s longer
with them (15.4 s against 13.3-14.5 s, 2 runs each, load 2).
"""

from __future__ import annotations

import threading
from typing import Callable, Sequence

def prestart(num_workers: int, *, keep_alive_s: int = 60,
             metadata: Callable[[], Sequence[tuple[str, str]]] | None = None) -> threading.Thread | None:
    """Ask this driver's raylet to boot ``num_workers`` worker processes for this job now, in
    a thread; they wait idle up to ``keep_alive_s``. ``metadata``: the gRPC authentication
    metadata (default: Ray's own, read from the token this process loaded). Returns the thread."""
    if num_workers < 1:
        return None

    def run() -> None:
        try:
            request_workers(num_workers, keep_alive_s, metadata)
        except Exception:  # noqa: BLE001 - an optimisation only
            pass

    thread = threading.Thread(target=run, name="raytuner-prestart", daemon=True)
    thread.start()
    return thread


def request_workers(num_workers: int, keep_alive_s: int,
                    metadata: Callable[[], Sequence[tuple[str, str]]] | None = None) -> None:
    """The ``PrestartWorkers`` call itself (raises what fails), for this driver's job on its node."""
    import grpc
    import ray
    from ray.core.generated import common_pb2, node_manager_pb2, node_manager_pb2_grpc

    context = ray.get_runtime_context()
    node = next(n for n in ray.nodes() if n["Alive"] and n["NodeID"] == context.get_node_id())
    request = node_manager_pb2.PrestartWorkersRequest(
        language=common_pb2.PYTHON, job_id=ray.JobID.from_hex(context.get_job_id()).binary(),
        keep_alive_duration_secs=keep_alive_s, num_workers=num_workers)
    auth = list(metadata() if metadata is not None else _ray_metadata())
    with grpc.insecure_channel(f"{node['NodeManagerAddress']}:{node['NodeManagerPort']}") as channel:
        node_manager_pb2_grpc.NodeManagerServiceStub(channel).PrestartWorkers(request, metadata=auth, timeout=10)


def _ray_metadata() -> Sequence[tuple[str, str]]:
    try:
        from ray._private.authentication.grpc_authentication_client_interceptor import (
            _get_authentication_metadata_tuple,
        )
    except ImportError:  # another Ray: no token auth to add
        return ()
    return _get_authentication_metadata_tuple()


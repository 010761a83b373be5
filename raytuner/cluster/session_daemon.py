"""``python -m raytuner.cluster.session_daemon``: the session's one process (leader of its own
process group). It starts a local Ray (``ray.init``: GCS, raylet and workers are its
children, in its group; node IP 127.0.0.1, so every port listens on loopback only), writes
the state file, then watches: with an idle timeout it stops the session once no other
driver has been connected for that long. SIGTERM (``raytuner session stop``) stops Ray and
removes the state file and temp dir."""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import tempfile
import time

from raytuner.runner.warm_session import (
    KEEP_LOOPBACK_ENV, SessionState, read_state, source_hash, state_path, write_state,
)

POLL_S = 1.0


def _other_drivers(own_job: str) -> int:
    from ray._private import state

    return sum(1 for job in state.jobs() if not job["IsDead"] and job["JobID"] != own_job)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--num-cpus", type=int, default=None)
    parser.add_argument("--idle-timeout", type=float, default=0.0)
    args = parser.parse_args(argv)
    stopping = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stopping.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stopping.update(now=True))

    # Ray binds its GCS, raylet, agents and metrics to loopback only for node IP 127.0.0.1, which
    # it keeps (rather than swapping in the machine's address) with this, read at import by this
    # process and by every process it starts (see raytuner.cluster.ray_node)
    os.environ[KEEP_LOOPBACK_ENV] = "0"
    import ray
    from ray._private import ray_constants

    ray_constants.ENABLE_RAY_CLUSTER = False  # in case ray was imported before
    temp_dir = tempfile.mkdtemp(prefix="rts", dir="/tmp")
    path = state_path()
    try:
        ray.init(num_cpus=args.num_cpus, include_dashboard=False, _node_ip_address="127.0.0.1", _temp_dir=temp_dir, namespace="raytuner-session",
                 log_to_driver=False, logging_level=logging.ERROR, configure_logging=True)
        from raytuner.results.versions import __version__

        context = ray.get_runtime_context()
        own_job = context.get_job_id()
        state = SessionState(
            address=context.gcs_address, pid=os.getpid(), version=__version__, source_hash=source_hash(),
            python=sys.executable, num_cpus=int(ray.cluster_resources().get("CPU", 0)),
            idle_timeout_s=args.idle_timeout, temp_dir=temp_dir,
            token_path=os.environ.get("RAY_AUTH_TOKEN_PATH", ""), started_at=time.time(),
        )
        write_state(state, path)
        print("ready", flush=True)
        last_used = time.monotonic()
        while not stopping["now"]:
            time.sleep(POLL_S)
            if args.idle_timeout <= 0:
                continue
            if _other_drivers(own_job):
                last_used = time.monotonic()
            elif time.monotonic() - last_used >= args.idle_timeout:
                break
    finally:
        current = read_state(path)
        if current is not None and current.pid == os.getpid():
            path.unlink(missing_ok=True)
        try:
            ray.shutdown()
        finally:
            shutil.rmtree(temp_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

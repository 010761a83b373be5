"""``python -m raytuner.cluster.ray_node start ...``: Ray's own ``ray start``, keeping a loopback
``--node-ip-address`` as given. Used by :mod:`raytuner.cluster.local` only.

Why (Ray 2.60, read in ``ray/scripts/scripts.py`` and ``ray/_private/services.py``, and measured
with the listening sockets of every process of a local cluster):

- Ray's servers bind to loopback only when the node's IP is exactly ``127.0.0.1``: the GCS,
  the raylet's node-manager and object-manager gRPC servers, the dashboard agent's gRPC server
  (``get_localhost_ip() if is_localhost(ip) else get_all_interfaces_ip()``), the metrics
  exporters (``address=get_localhost_ip() if is_localhost(ip) else ""``) and the monitor.
  With any other node IP (127.0.0.2 included) they listen on ``0.0.0.0`` / ``::``.
- ``ray start`` replaces ``--node-ip-address 127.0.0.1`` by the machine's network address
  (``resolve_ip_for_localhost``), so the node then listens on every interface. There is no
  flag or environment variable to keep it; ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` keeps it for
  a head but refuses worker nodes.

- Every Ray client does the same swap when it connects to ``127.0.0.1:PORT`` (``ray.init`` in the
  dashboard agent's job manager, job drivers...), unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``,
  for which ``get_node_ip_address`` answers 127.0.0.1.

So this wrapper runs Ray's CLI with ``resolve_ip_for_localhost`` returning the host unchanged,
and gives the processes it starts ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` (read by them at
import; this process already read it, so it may still start a worker node). A driver
outside the cluster needs that variable too (``cluster local up`` prints it). ``raytuner cluster local up`` checks the listening sockets after
start and says so if any is not on loopback.
"""

from __future__ import annotations

import os
import sys

KEEP_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
# main() for `python -c` in an environment without raytuner (`cluster local up --python`)
INLINE = ("import os, sys; import ray._private.services as services; "
          "services.resolve_ip_for_localhost = lambda host: host; "
          f"os.environ['{KEEP_LOOPBACK_ENV}'] = '0'; "
          "from ray.scripts.scripts import main; sys.exit(int(main() or 0))")


def main() -> int:
    import ray._private.services as services
    from ray.scripts.scripts import main as ray_main

    services.resolve_ip_for_localhost = lambda host: host  # keep 127.0.0.1: bind to loopback
    os.environ[KEEP_LOOPBACK_ENV] = "0"  # children: connect to 127.0.0.1 as 127.0.0.1
    return int(ray_main() or 0)


if __name__ == "__main__":
    sys.exit(main())

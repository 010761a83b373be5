"""A multi-node Ray cluster on one machine: a head plus N workers on loopback addresses.

``raytuner cluster local up`` starts one ``ray start --block`` per node, each in its own
session (process group), with its own short ``--temp-dir``, free ports and a small object
store; token authentication is on (a fresh random token, in a 0600 file in the state
directory; it is passed to Ray as ``RAY_AUTH_TOKEN_PATH``, never on a command line).
``state.json`` records every node's PID, address and temp dir, so ``down`` stops exactly
those processes by PID (their session) and removes their temp dirs. Never ``ray stop``,
which would stop every Ray of the user.

Every node runs with ``--node-ip-address 127.0.0.1`` through :mod:`raytuner.cluster.ray_node`
(Ray's ``ray start`` keeping that address: Ray binds its GCS, raylets, agents and metrics
ports to loopback only for exactly 127.0.0.1, and its CLI would otherwise swap in the
machine's network address). ``up`` then reads the listening sockets of every process it
started and records any that is not on loopback (``exposed``), which the CLI prints. All
nodes share 127.0.0.1, so trials tell nodes apart by node id, not by IP.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raytuner.errors import ClusterError

STATE_FILE = "state.json"
TOKEN_FILE = "auth_token"
DEFAULT_STATE_DIR = Path("~/.raytuner/local-cluster")


@dataclass
class Node:
    role: str  # "head" | "worker"
    ip: str
    pid: int  # the `ray start --block` process: leader of its own session
    temp_dir: str
    log: str
    num_cpus: int
    num_gpus: int = 0


@dataclass
class LocalCluster:
    state_dir: str
    gcs_address: str
    dashboard_url: str
    token_path: str
    nodes: list[Node] = field(default_factory=list)
    root_temp_dir: str = ""
    started_at: str = ""
    sockets_checked: int = 0  # listening sockets of the started processes, read after start
    exposed: list[str] = field(default_factory=list)  # those not on loopback (should be none)

    @property
    def worker_ips(self) -> list[str]:
        return [n.ip for n in self.nodes if n.role == "worker"]

    def to_data(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> "LocalCluster":
        nodes = [Node(**n) for n in data.pop("nodes", [])]
        return cls(nodes=nodes, **data)


def state_dir(path: str | os.PathLike[str] | None = None) -> Path:
    chosen = path or os.environ.get("RAYTUNER_CLUSTER_STATE") or DEFAULT_STATE_DIR
    return Path(chosen).expanduser().resolve()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


LOOPBACK = "127.0.0.1"  # the one node IP for which Ray binds every port to loopback


def _ray_command(python: str | None = None) -> list[str]:
    """Ray's `ray` CLI, run so that it keeps --node-ip-address 127.0.0.1 (see ray_node); with
    another interpreter (one without raytuner, e.g. only ray[default,tune]) ray_node's code inline."""
    from raytuner.cluster.ray_node import INLINE

    return [sys.executable, "-m", "raytuner.cluster.ray_node"] if python is None else [python, "-c", INLINE]


def _node_env(token_path: Path, python: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    for key in ("RAY_ADDRESS", "RAY_AUTH_TOKEN", "RAY_API_SERVER_ADDRESS", *(("PYTHONPATH",) if python else ())):
        env.pop(key, None)  # another interpreter gets nothing of this environment's (PYTHONPATH)
    env.update(
        RAY_AUTH_MODE="token",
        RAY_AUTH_TOKEN_PATH=str(token_path),
        RAY_USAGE_STATS_ENABLED="0",
        # jobs run `python` / `raytuner` from this environment
        PATH=os.pathsep.join([str(Path(python or sys.executable).parent), env.get("PATH", "")]),
    )
    return env


def _agent_ports() -> list[str]:
    return [
        "--dashboard-agent-listen-port", str(free_port()),
        "--dashboard-agent-grpc-port", str(free_port()),
        "--metrics-export-port", str(free_port()),
        "--runtime-env-agent-port", str(free_port()),
    ]


def up(
    path: str | os.PathLike[str] | None = None,
    *,
    workers: int = 2,
    cpus_per_worker: int = 1,
    gpus_per_worker: int = 0,
    head_cpus: int = 0,
    object_store_mb: int = 100,
    timeout_s: float = 90.0,
    python: str | None = None,
) -> LocalCluster:
    """Start a head and ``workers`` workers (with ``python``'s Ray, default this one's);
    return once every node is registered."""
    if workers < 0 or cpus_per_worker < 0 or head_cpus < 0:
        raise ClusterError("workers and CPU counts must be >= 0")
    root = state_dir(path)
    if (root / STATE_FILE).exists():
        existing = load(root)
        if any(_alive(n) for n in existing.nodes):
            raise ClusterError(f"a local cluster is already running from {root}: `raytuner cluster local down` first")
        _cleanup(existing)
    root.mkdir(parents=True, exist_ok=True)
    token_path = root / TOKEN_FILE
    fd = os.open(token_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32))
    temp_root = tempfile.mkdtemp(prefix="rtc", dir="/tmp")
    ips = [LOOPBACK] * (workers + 1)
    gcs_port, dashboard_port = free_port(), free_port()
    cluster = LocalCluster(
        state_dir=str(root),
        gcs_address=f"{ips[0]}:{gcs_port}",
        dashboard_url=f"http://127.0.0.1:{dashboard_port}",
        token_path=str(token_path),
        root_temp_dir=temp_root,
        started_at=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    env = _node_env(token_path, python)
    ray = _ray_command(python)
    common = ["--block", "--disable-usage-stats", "--object-store-memory", str(object_store_mb * 1024 * 1024)]
    try:
        head_cmd = [
            *ray, "start", "--head", *common, "--node-ip-address", ips[0], "--port", str(gcs_port),
            "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dashboard_port),
            "--ray-client-server-port", str(free_port()), "--num-cpus", str(head_cpus), *_agent_ports(),
        ]
        cluster.nodes.append(_start("head", ips[0], head_cmd, head_cpus, 0, temp_root, root, env))
        for i in range(workers):
            cmd = [
                *ray, "start", *common, "--address", cluster.gcs_address, "--node-ip-address", ips[i + 1],
                "--num-cpus", str(cpus_per_worker), "--num-gpus", str(gpus_per_worker), *_agent_ports(),
            ]
            cluster.nodes.append(_start(f"worker{i + 1}", ips[i + 1], cmd, cpus_per_worker, gpus_per_worker,
                                        temp_root, root, env))
        _save(cluster)
        _wait_ready(cluster, workers + 1, timeout_s)
        check_sockets(cluster)
        _save(cluster)
    except BaseException:
        down_cluster(cluster)
        raise
    return cluster


def check_sockets(cluster: LocalCluster) -> list[str]:
    """Record the listening sockets of every process the cluster started that are not on loopback."""
    from raytuner.cluster import sockets

    found = sockets.listening(sorted({pid for node in cluster.nodes for pid in _ours(node)}))
    cluster.sockets_checked = len(found)
    cluster.exposed = [str(s) for s in found if not s.loopback]
    return cluster.exposed


def _start(name: str, ip: str, cmd: list[str], cpus: int, gpus: int, temp_root: str, root: Path,
           env: dict[str, str]) -> Node:
    temp_dir = os.path.join(temp_root, name)
    log = root / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*cmd, "--temp-dir", temp_dir], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env, start_new_session=True,
        )
    role = "head" if name == "head" else "worker"
    return Node(role=role, ip=ip, pid=proc.pid, temp_dir=temp_dir, log=str(log), num_cpus=cpus, num_gpus=gpus)


def _get(cluster: LocalCluster, route: str, timeout: float = 2.0) -> Any:
    token = Path(cluster.token_path).read_text().strip()
    request = urllib.request.Request(cluster.dashboard_url + route, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - loopback only
        return json.loads(response.read().decode())


def alive_nodes(cluster: LocalCluster) -> list[dict[str, Any]]:
    """The nodes the head's GCS knows as ALIVE (through the authenticated dashboard)."""
    data = _get(cluster, "/api/v0/nodes?limit=1000&detail=false")
    rows = data.get("data", {}).get("result", {}).get("result", [])
    return [row for row in rows if row.get("state") == "ALIVE"]


def _wait_ready(cluster: LocalCluster, expected: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = "no answer from the dashboard yet"
    while time.monotonic() < deadline:
        for node in cluster.nodes:
            if not _alive(node):
                tail = _tail(node.log)
                raise ClusterError(f"local cluster: the {node.role} at {node.ip} exited while starting:\n{tail}")
        try:
            count = len(alive_nodes(cluster))
            if count >= expected:
                return
            last = f"{count} of {expected} nodes registered"
        except (OSError, ValueError, urllib.error.URLError) as exc:
            last = f"dashboard not ready ({type(exc).__name__})"
        time.sleep(0.5)
    raise ClusterError(f"local cluster not ready after {timeout_s:.0f}s: {last}")


def _tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


# -- processes: found by session, checked by temp dir, stopped by PID ------------------


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _session_members(node: Node) -> list[int]:
    """PIDs in the node's session (the leader and everything Ray started under it)."""
    members = []
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not entry.isdigit():
            continue
        try:
            if os.getsid(int(entry)) == node.pid:
                members.append(int(entry))
        except OSError:
            continue
    return members


def _alive(node: Node) -> bool:
    """The recorded leader still runs and is ours (its command line names our temp dir)."""
    try:
        os.kill(node.pid, 0)
    except OSError:
        return False
    cmdline = _cmdline(node.pid)
    return not cmdline or node.temp_dir in cmdline  # no /proc (macOS): trust the PID


def _ours(node: Node) -> list[int]:
    if not os.path.isdir("/proc"):
        return [node.pid] if _alive(node) else []
    pids = []
    for pid in _session_members(node):
        cmd = _cmdline(pid)
        if pid == node.pid and node.temp_dir not in cmd:
            continue  # PID reused by someone else
        pids.append(pid)
    if node.pid not in pids and pids and not any(node.temp_dir in _cmdline(p) for p in pids):
        return []  # a foreign session that happens to reuse the id
    return pids


def down_cluster(cluster: LocalCluster, grace_s: float = 3.0) -> list[int]:
    """SIGTERM every process of every node, SIGKILL what is left after ``grace_s``."""
    targets = {pid for node in cluster.nodes for pid in _ours(node)}
    for pid in targets:
        send_signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and any(_exists(pid) for pid in targets):
        time.sleep(0.1)
    for node in cluster.nodes:  # Ray may have started more workers meanwhile
        targets |= set(_ours(node))
    for pid in targets:
        if _exists(pid):
            send_signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_exists(pid) for pid in targets):
        time.sleep(0.05)
    _cleanup(cluster)
    return sorted(targets)


def _exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie is gone for our purposes
        return "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (OSError, IndexError):
        return True


def send_signal(pid: int, sig: int) -> None:
    """``sig`` to ``pid``; a process already gone (or not ours to signal) is no error."""
    try:
        os.kill(pid, sig)
    except OSError:
        pass


def _cleanup(cluster: LocalCluster) -> None:
    for node in cluster.nodes:
        shutil.rmtree(node.temp_dir, ignore_errors=True)
    if cluster.root_temp_dir:
        shutil.rmtree(cluster.root_temp_dir, ignore_errors=True)
    root = Path(cluster.state_dir)
    for name in (STATE_FILE, TOKEN_FILE):
        try:
            (root / name).unlink()
        except OSError:
            pass


def _save(cluster: LocalCluster) -> None:
    root = Path(cluster.state_dir)
    tmp = root / (STATE_FILE + ".tmp")
    tmp.write_text(json.dumps(cluster.to_data(), indent=2))
    os.replace(tmp, root / STATE_FILE)


def load(path: str | os.PathLike[str] | None = None) -> LocalCluster:
    root = state_dir(path)
    try:
        return LocalCluster.from_data(json.loads((root / STATE_FILE).read_text()))
    except FileNotFoundError:
        raise ClusterError(f"no local cluster recorded in {root} (`raytuner cluster local up` starts one)") from None
    except (ValueError, TypeError) as exc:
        raise ClusterError(f"{root / STATE_FILE} is not a local-cluster state file ({exc})") from None


def down(path: str | os.PathLike[str] | None = None, grace_s: float = 3.0) -> list[int]:
    return down_cluster(load(path), grace_s)


def status(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Every recorded node with whether its process runs, and the nodes Ray reports alive."""
    cluster = load(path)
    nodes = [{**asdict(n), "running": _alive(n)} for n in cluster.nodes]
    try:
        registered = sorted(str(row.get("node_ip")) for row in alive_nodes(cluster))
        dashboard = "ok"
    except (OSError, ValueError, urllib.error.URLError) as exc:
        registered, dashboard = [], f"unreachable ({type(exc).__name__})"
    return {
        "state_dir": cluster.state_dir,
        "dashboard_url": cluster.dashboard_url,
        "gcs_address": cluster.gcs_address,
        "token_path": cluster.token_path,
        "dashboard": dashboard,
        "alive_node_ips": registered,
        "nodes": nodes,
    }

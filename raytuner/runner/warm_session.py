"""Finding the user's warm local session (``raytuner session start``) from a driver.

A session is one long-lived local Ray, started on purpose by the user and stopped by
``raytuner session stop`` or its idle timeout (``raytuner.cluster.session``). Its state file
(``session.json`` in ``RAYTUNER_SESSION_DIR``, default ``~/.cache/raytuner``) records the
GCS address, the daemon's PID (leader of its own process group), the raytuner version and
a hash of raytuner's source. A driver that is given no address uses the session when the
file is there, the PID lives, the version and source match this process's, and the address
answers; anything else is a stale file: removed, and the driver starts its own Ray as
always. ``RAYTUNER_SESSION=off`` (or ``RAY_ADDRESS``) ignores any session.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

STATE_FILE = "session.json"
TOKEN_FILE = "auth_token"
DEFAULT_DIR = "~/.cache/raytuner"
NAMESPACE = "raytuner-session"
# Ray keeps 127.0.0.1 as the node IP (and so listens on loopback only) when this is 0; read
# by Ray at import (see raytuner.cluster.ray_node)
KEEP_LOOPBACK_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


@dataclass(frozen=True)
class SessionState:
    address: str  # the GCS address, host:port
    pid: int  # the daemon: leader of its own process group
    version: str
    source_hash: str
    python: str  # the interpreter (venv) the session's workers run
    num_cpus: int
    idle_timeout_s: float  # 0: none
    temp_dir: str
    token_path: str
    started_at: float

    def environ(self) -> dict[str, str]:
        """What a driver needs to join it (the session's own token)."""
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": self.token_path, KEEP_LOOPBACK_ENV: "0"}


def session_dir() -> Path:
    return Path(os.environ.get("RAYTUNER_SESSION_DIR") or DEFAULT_DIR).expanduser()


def state_path() -> Path:
    return session_dir() / STATE_FILE


def source_hash() -> str:
    """A hash of raytuner's installed source (file names, sizes and mtimes: cheap)."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha1()
    for path in sorted(root.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()[:16]


def read_state(path: Path | None = None) -> SessionState | None:
    path = path or state_path()
    try:
        return SessionState(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def write_state(state: SessionState, path: Path | None = None) -> None:
    path = path or state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(asdict(state), indent=1))
    tmp.replace(path)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def answers(address: str, timeout_s: float = 1.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def stale_reason(state: SessionState) -> str | None:
    """Why a recorded session cannot be used by this process (None: it can)."""
    import sys

    from raytuner.results.versions import __version__

    if not pid_alive(state.pid):
        return f"its process {state.pid} is gone"
    if state.version != __version__ or state.source_hash != source_hash():
        return "it runs another raytuner version or source"
    if os.path.realpath(state.python) != os.path.realpath(sys.executable):
        return f"it runs another Python ({state.python})"
    if not answers(state.address):
        return f"nothing answers at {state.address}"
    return None


def live_session() -> SessionState | None:
    """The session a driver without an address should use, or None; a stale state file is
    removed (the daemon's own PID is checked first, so a live session of another version
    is left alone, only ignored)."""
    if os.environ.get("RAYTUNER_SESSION", "").lower() in ("off", "0", "no", "false"):
        return None
    if os.environ.get("RAY_ADDRESS"):  # a job on a cluster, or a user's own choice: that Ray, not ours
        return None
    path = state_path()
    state = read_state(path) if path.exists() else None
    if state is None:
        if path.exists():
            path.unlink(missing_ok=True)  # unreadable
        return None
    reason = stale_reason(state)
    if reason is None:
        return state
    if not pid_alive(state.pid):
        path.unlink(missing_ok=True)
    return None


@contextlib.contextmanager
def keep_loopback() -> Iterator[None]:
    """While a driver joins the session (it listens on 127.0.0.1 only): connect to 127.0.0.1
    as 127.0.0.1. Ray read ``KEEP_LOOPBACK_ENV`` at import, so its constant is set here;
    once connected, Ray answers the node IP from the joined node."""
    from ray._private import ray_constants

    before = ray_constants.ENABLE_RAY_CLUSTER
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before


def announce(state: SessionState, stream: Any = None) -> None:
    import sys

    print(f"using the raytuner session at {state.address}; `raytuner session stop` to end it",
          file=stream or sys.stderr)


def prestart_workers(state: SessionState, keep_alive_s: int = 60) -> None:
    """Ask the session's raylet to boot this driver's worker processes now (one per CPU), in
    the background, so the run's first trials find them booted, as a fresh local Ray's first
    driver does (Ray prestarts workers for the first driver of a raylet only, and never
    shares a worker between drivers); see ``raytuner.runner.warm_workers``."""
    from raytuner.runner.warm_workers import prestart

    def metadata() -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {Path(state.token_path).read_text().strip()}")]

    prestart(max(1, state.num_cpus), keep_alive_s=keep_alive_s, metadata=metadata)

"""A warm local session: one local Ray kept up between runs, on purpose (opt-in).

``raytuner session start`` (or :func:`start`) starts it; every later ``raytuner run``,
``raytuner.run`` and ``TuneSearchCV.fit`` given no address joins it (about half a second)
instead of starting a Ray of its own (3-4 s), and says so in one line. It ends with
``raytuner session stop`` (:func:`stop`: its own process group only, never ``ray stop``)
or after ``idle_timeout_s`` with no driver connected. Its state file lives in
``RAYTUNER_SESSION_DIR`` (default ``~/.cache/raytuner``); see ``runner.warm_session``.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from typing import Any

from raytuner.cluster.local import send_signal as _signal
from raytuner.errors import ClusterError
from raytuner.runner.warm_session import (
    KEEP_LOOPBACK_ENV, TOKEN_FILE, SessionState, live_session, pid_alive, read_state, session_dir, stale_reason,
    state_path,
)

__all__ = ["start", "stop", "status", "processes", "SessionState"]
DAEMON = "raytuner.cluster.session_daemon"


def start(idle_timeout_s: float = 0.0, num_cpus: int | None = None, *, wait_s: float = 90.0) -> SessionState:
    """Start the session (or return the one already up)."""
    if idle_timeout_s < 0:
        raise ClusterError(f"idle timeout {idle_timeout_s!r}: expected 0 (none) or a positive number of seconds")
    if num_cpus is not None and num_cpus < 1:
        raise ClusterError(f"num_cpus {num_cpus!r}: expected a positive integer")
    running = live_session()
    if running is not None:
        return running
    _clear_stale()
    root = session_dir()
    root.mkdir(parents=True, exist_ok=True)
    token = root / TOKEN_FILE
    fd = os.open(token, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secrets.token_hex(32))
    env = dict(os.environ, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=str(token), RAY_USAGE_STATS_ENABLED="0",
               **{KEEP_LOOPBACK_ENV: "0"})  # node IP 127.0.0.1: every port on loopback (see the daemon)
    env.pop("RAY_ADDRESS", None)
    cmd = [sys.executable, "-m", DAEMON, "--idle-timeout", str(idle_timeout_s)]
    if num_cpus is not None:
        cmd += ["--num-cpus", str(num_cpus)]
    log = open(root / "session.log", "ab")
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True, close_fds=True)
    log.close()
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        state = read_state()
        if state is not None and state.pid == proc.pid:
            return state
        if proc.poll() is not None:
            raise ClusterError(f"the session did not start (exit status {proc.returncode}); see {root / 'session.log'}")
        time.sleep(0.1)
    _stop_group(proc.pid, 3.0)
    raise ClusterError(f"the session did not start within {wait_s:.0f} s; see {root / 'session.log'}")


def stop(grace_s: float = 5.0) -> bool:
    """Stop the session this state file records (its process group only); False when none was up."""
    state = read_state()
    if state is None:
        state_path().unlink(missing_ok=True)
        return False
    stopped = _ours(state.pid) and _stop_group(state.pid, grace_s)
    _forget(state)
    return stopped


def status() -> dict[str, Any]:
    """What the state file says and whether that session is usable from this process."""
    state = read_state()
    if state is None:
        return {"running": False, "state_file": str(state_path())}
    reason = stale_reason(state)
    return {"running": pid_alive(state.pid), "usable": reason is None, "why_not": reason,
            "state_file": str(state_path()), **asdict(state)}


def _ours(pid: int) -> bool:
    """The PID is still the session's daemon (not a reused PID) and leads its own group."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        return DAEMON in cmdline and os.getpgid(pid) == pid
    except (OSError, ProcessLookupError):
        return False


def _stop_group(pgid: int, grace_s: float) -> bool:
    """SIGTERM to the session's processes, SIGKILL to what is left after the grace. Its
    processes: its process group, and every descendant of the daemon (Ray's worker processes
    put themselves in process groups of their own), read before the first signal."""
    members = processes(pgid)
    if pgid not in members:
        return False
    for pid in members:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and _left(members):
        time.sleep(0.1)
    for pid in _left(members):
        _signal(pid, signal.SIGKILL)
    return True


def processes(pgid: int) -> dict[int, str]:
    """The session's processes (pid -> start time): its daemon's process group and every
    descendant of the daemon (Ray's worker processes put themselves in groups of their own)."""
    table = _processes()
    return {pid: start for pid, (start, _) in table.items()
            if pid == pgid or _descends(pid, pgid, table) or _pgid(pid) == pgid}


def _processes() -> dict[int, tuple[str, int]]:
    """pid -> (start time: field 22 of /proc/PID/stat, parent pid) of every live process."""
    out: dict[int, tuple[str, int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            out[int(entry)] = (fields[19], int(fields[1]))
    return out


def _descends(pid: int, ancestor: int, table: dict[int, tuple[str, int]]) -> bool:
    seen = 0
    while pid > 1 and seen < 64:
        pid, seen = (table[pid][1] if pid in table else 0), seen + 1
        if pid == ancestor:
            return True
    return False


def _pgid(pid: int) -> int:
    try:
        return os.getpgid(pid)
    except (ProcessLookupError, PermissionError):
        return -1


def _left(members: dict[int, str]) -> list[int]:
    """The members still running (the same process: its start time unchanged)."""
    now = _processes()
    for pid in members:  # reap the daemon when this process started it
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
    return [pid for pid, start in members.items() if now.get(pid, ("", 0))[0] == start]


def _clear_stale() -> None:
    """Forget a dead session; stop a live one this process cannot use (another raytuner
    version or source, another Python): ``start`` replaces it rather than orphaning it."""
    state = read_state()
    if state is None:
        return
    if pid_alive(state.pid) and _ours(state.pid):
        _stop_group(state.pid, 5.0)
    _forget(state)


def _forget(state: SessionState) -> None:
    import shutil

    current = read_state()
    if current is not None and current.pid == state.pid:
        state_path().unlink(missing_ok=True)
    if state.temp_dir.startswith("/tmp/rts"):
        shutil.rmtree(state.temp_dir, ignore_errors=True)

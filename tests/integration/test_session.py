"""The opt-in warm session (raytuner.cluster.session): start, a run that joins it, every port
of its processes on loopback only, stop (its own process group only), and the idle timeout.
Each test's session lives in a state dir of its own (RAYTUNER_SESSION_DIR); the suite's
shared Ray is never it (a run joins a session only when this process has no Ray of its
own, so the run is a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SPEC = """
name: in-session
trainable: {type: function, function: raytuner.testing:curve}
space: {x: {type: float, low: -5.0, high: 10.0}, steps: 2}
metric: {name: loss, mode: min}
strategy: {name: random, seed: 0}
budget: {trials: 3, max_concurrent: 1}
storage: {path: %s}
"""

SCRIPT = """
import json, sys
import raytuner
from raytuner.runner import session
summary = raytuner.run(sys.argv[1], show_progress=False)
import os, ray

class Probe:
    def pid(self):
        return os.getpid()

# a worker process that outlives this driver (Ray gives it a process group of its own)
probe = ray.remote(num_cpus=0)(Probe).options(lifetime="detached", name="probe", namespace="t").remote()
print(json.dumps({"ray": summary.ray, "ok": summary.counts["ok"], "starts": session.local_ray_starts(),
                  "worker": ray.get(probe.pid.remote())}))
"""


@pytest.fixture
def session_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "session"
    monkeypatch.setenv("RAYTUNER_SESSION_DIR", str(path))
    return path


def test_start_run_in_it_status_and_stop_only_its_own(session_dir: Path, tmp_path: Path) -> None:
    import raytuner.cluster.session as session

    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])  # not the session's
    state = session.start(num_cpus=1)
    try:
        assert json.loads((session_dir / "session.json").read_text())["pid"] == state.pid
        assert os.getpgid(state.pid) == state.pid  # leader of its own process group
        assert session.start().pid == state.pid  # a second start returns the one up
        info = session.status()
        assert info["running"] and info["usable"] and info["address"] == state.address

        spec = tmp_path / "spec.yaml"
        spec.write_text(SPEC % (tmp_path / "results"))
        env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
        done = subprocess.run([sys.executable, "-c", SCRIPT, str(spec)], capture_output=True, text=True,
                              env=env, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        out = json.loads(done.stdout.strip().splitlines()[-1])
        worker = out.pop("worker")
        assert out == {"ray": {"address": state.address, "session": True}, "ok": 3, "starts": 0}
        assert _alive(worker) and os.getpgid(worker) != state.pid
        assert f"using the raytuner session at {state.address}" in done.stderr
        # every port of the session's processes (GCS, raylet, agents, workers) on loopback only
        from raytuner.cluster import sockets

        found = sockets.listening(sorted(session.processes(state.pid)))
        assert state.address.startswith("127.0.0.1:") and len(found) >= 3
        assert [str(item) for item in found if not item.loopback] == []
    finally:
        members = _group(state.pid)
        assert session.stop() is True
    assert bystander.poll() is None  # only the session's own processes were stopped
    bystander.kill()
    bystander.wait()
    assert members and not [pid for pid in members if _alive(pid)]
    assert not _alive(worker)  # a descendant in a group of its own: stopped too
    assert not (session_dir / "session.json").exists() and not Path(state.temp_dir).exists()
    assert session.stop() is False and session.status()["running"] is False


def test_idle_timeout_stops_it(session_dir: Path) -> None:
    import raytuner.cluster.session as session

    state = session.start(idle_timeout_s=1.0, num_cpus=1)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _alive(state.pid):
        time.sleep(0.2)
    try:
        assert not _alive(state.pid)
        assert not (session_dir / "session.json").exists()
    finally:
        session.stop()


def _group(pgid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    out.append(int(entry.name))
            except (ProcessLookupError, PermissionError):
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False

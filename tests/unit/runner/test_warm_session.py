"""The warm session's state file as a driver reads it: usable, stale (removed), or another
raytuner's (ignored, left for its own ``session stop``). No Ray is started here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from raytuner.results.versions import __version__
from raytuner.runner import warm_session as ws


def _state(tmp_path: Path, pid: int, **changes: object) -> ws.SessionState:
    fields = dict(address="127.0.0.1:1", pid=pid, version=__version__, source_hash=ws.source_hash(),
                  python=sys.executable, num_cpus=1, idle_timeout_s=0.0, temp_dir=str(tmp_path / "t"),
                  token_path=str(tmp_path / "tok"), started_at=0.0)
    fields.update(changes)
    return ws.SessionState(**fields)  # type: ignore[arg-type]


@pytest.fixture
def session_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RAYTUNER_SESSION_DIR", str(tmp_path / "s"))
    return tmp_path / "s"


def test_no_state_file_no_session(session_dir: Path) -> None:
    assert ws.live_session() is None
    assert not (session_dir / ws.STATE_FILE).exists()


def test_a_dead_pid_is_a_stale_file_removed(session_dir: Path, tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    ws.write_state(_state(tmp_path, int(done.stdout)))
    assert ws.live_session() is None
    assert not (session_dir / ws.STATE_FILE).exists()


def test_another_version_is_ignored_and_left_alone(session_dir: Path, tmp_path: Path) -> None:
    import os

    ws.write_state(_state(tmp_path, os.getpid(), version="0.0.0-other"))
    assert ws.live_session() is None
    assert (session_dir / ws.STATE_FILE).exists()  # its daemon lives: `session stop` still finds it
    assert "another raytuner version" in (ws.stale_reason(ws.read_state()) or "")


def test_off_switch_and_unreadable_file(session_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session_dir.mkdir(parents=True)
    (session_dir / ws.STATE_FILE).write_text("{not json")
    assert ws.live_session() is None
    assert not (session_dir / ws.STATE_FILE).exists()
    ws.write_state(_state(tmp_path, 1))
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")  # a job on a cluster: that Ray, not the session
    assert ws.live_session() is None
    monkeypatch.delenv("RAY_ADDRESS")
    monkeypatch.setenv("RAYTUNER_SESSION", "off")
    assert ws.live_session() is None


def test_session_cli_rejects_a_bad_idle_timeout() -> None:
    from raytuner.cli.session import duration

    assert duration("30m") == 1800 and duration("90") == 90 and duration("0") == 0
    with pytest.raises(Exception, match="expected a duration"):
        duration("3x")

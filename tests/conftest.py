from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXPERIMENTS = ROOT / "experiments"


@pytest.fixture(scope="session")
def ray_local():
    """One local Ray per test session (num_cpus=2, no dashboard, own short temp dir)."""
    import ray

    from raytuner.testing import start_test_ray

    temp_dir = start_test_ray(2)
    yield
    ray.shutdown()
    shutil.rmtree(temp_dir, ignore_errors=True)


@pytest.fixture
def storage(tmp_path: Path) -> Path:
    path = tmp_path / "results"
    path.mkdir()
    return path


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake AWS credentials for the S3 server below; the user's ~/.aws is never read."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real S3-compatible server (moto's server mode) on 127.0.0.1 and a free port."""
    import socket

    from moto.server import ThreadedMotoServer

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def raytuner_home(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test (and the CLI subprocesses it starts) writes its history store to a tmp dir,
    never to the real ~/.raytuner."""
    home = tmp_path_factory.mktemp("raytuner-home")
    monkeypatch.setenv("RAYTUNER_HOME", str(home))
    # a user's warm session (raytuner session start) is never joined by a test: its state
    # file is looked for in this empty dir (tests of the session set their own)
    monkeypatch.setenv("RAYTUNER_SESSION_DIR", str(home / "session"))
    monkeypatch.delenv("RAYTUNER_HISTORY_URL", raising=False)
    return home


@pytest.fixture(scope="session")
def postgres_url():
    """A PostgreSQL server of its own (Debian's postgresql package) on 127.0.0.1 and a free port,
    stopped by its pid at the end of the session; skipped when it cannot start here."""
    from raytuner.testing.postgres import PostgresUnavailable, start_postgres

    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        pytest.skip(f"no PostgreSQL server for this test: {exc}")
    try:
        yield server.url
    finally:
        server.stop()

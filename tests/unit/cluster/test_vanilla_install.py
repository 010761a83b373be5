"""--install package without a cluster: the wheel and its pins, the spec's extras, the version
check, retries of transient Jobs API errors (a fake client) and the failed job's block."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from raytuner.cli.main import main
from raytuner.cluster import compat, install, jobs, preflight
from raytuner.errors import ClusterError
from raytuner.spec.loader import load_spec

ROOT = Path(__file__).resolve().parents[3]
AGENT = "Request failed with status code 500: No available agent to submit job, please try again later."


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def flaky(errors: list[BaseException], result: Any = "ok") -> Any:
    calls = []

    def fn(*_: Any, **__: Any) -> Any:
        calls.append(1)
        if errors:
            raise errors.pop(0)
        return result

    fn.calls = calls  # type: ignore[attr-defined]
    return fn


def test_transient_errors_are_retried_with_backoff() -> None:
    clock = Clock()
    fn = flaky([RuntimeError(AGENT), ConnectionError("Failed to connect to Ray at address: x"),
                RuntimeError("Request failed with status code 503: ")])
    assert compat.retrying(fn, what="submit", sleep=clock.sleep, clock=clock) == "ok"
    assert clock.sleeps == [0.5, 1.0, 2.0] and len(fn.calls) == 4


def test_retries_stop_after_the_budget_with_a_clear_error() -> None:
    clock = Clock()
    fn = flaky([RuntimeError(AGENT)] * 100)
    with pytest.raises(ClusterError, match=r"submit: the cluster kept answering with a transient error for 60 s") as err:
        compat.retrying(fn, what="submit", sleep=clock.sleep, clock=clock)
    assert "No available agent" in str(err.value) and "Traceback" not in str(err.value)
    assert sum(clock.sleeps) == pytest.approx(60.0) and max(clock.sleeps) == compat.MAX_DELAY_S
    assert len(fn.calls) == len(clock.sleeps) + 1 < 20


@pytest.mark.parametrize("message", ["Request failed with status code 401: Unauthorized",
                                     "Request failed with status code 404: no such job",
                                     "Request failed with status code 400: bad runtime_env"])
def test_permanent_errors_fail_at_once(message: str) -> None:
    clock = Clock()
    fn = flaky([RuntimeError(message)])
    with pytest.raises(RuntimeError):
        compat.retrying(fn, what="x", sleep=clock.sleep, clock=clock)
    assert clock.sleeps == [] and len(fn.calls) == 1


class FakeClient:
    """Jobs API double: answers from queues, records what was asked."""

    def __init__(self, ray_version: str = "2.60.0", python: str | None = None) -> None:
        import ray

        self._server_ray_version = ray_version
        self.python = python or "%d.%d" % __import__("sys").version_info[:2]
        self.ray = ray.__version__ if ray_version is None else ray_version
        self.submitted: list[dict[str, Any]] = []
        self.deleted: list[str] = []
        self.submit_errors: list[BaseException] = []
        self.status_errors: list[BaseException] = []
        self.logs = ""
        self.message = ""

    def submit_job(self, **kwargs: Any) -> str:
        self.submitted.append(kwargs)
        if self.submit_errors:
            raise self.submit_errors.pop(0)
        return kwargs["submission_id"]

    def get_job_status(self, job_id: str) -> str:
        if self.status_errors:
            raise self.status_errors.pop(0)
        if job_id in self.deleted:  # as Ray: a deleted job is not found
            raise RuntimeError(f"Job {job_id} does not exist")
        return "SUCCEEDED" if job_id.startswith("raytuner-probe-") else "FAILED"

    def get_job_logs(self, job_id: str) -> str:
        if job_id.startswith("raytuner-probe-"):
            return f"some noise\n{compat.PROBE_MARKER} {self.ray} {self.python}\n"
        return self.logs

    def get_job_info(self, job_id: str) -> Any:
        return SimpleNamespace(status=self.get_job_status(job_id), message=self.message, submission_id=job_id)

    def delete_job(self, job_id: str) -> bool:
        self.deleted.append(job_id)
        return True


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(compat.time, "sleep", clock.sleep)
    return clock


def test_jobs_calls_retry_through_a_fake_client(no_sleep: Clock) -> None:
    client = FakeClient()
    client.status_errors = [ConnectionError("Failed to connect to Ray"), RuntimeError(AGENT)]
    cluster = jobs.Cluster("http://127.0.0.1:8265", None, client)
    assert jobs.status(cluster, "raytuner-probe-1") == "SUCCEEDED"
    assert no_sleep.sleeps == [0.5, 1.0]


def test_a_retried_submit_that_reached_the_head_is_not_submitted_twice(no_sleep: Clock, tmp_path: Path) -> None:
    client = FakeClient()
    client.submit_errors = [RuntimeError("Request failed with status code 502: Bad Gateway"),
                            RuntimeError("Job with submission_id raytuner-x already exists.")]
    cluster = jobs.Cluster("http://127.0.0.1:8265", None, client)
    package = jobs.Package("raytuner-x", "python -m x", {}, [], tmp_path / "staging", {})
    assert jobs.submit(cluster, package) == "raytuner-x"
    assert len(client.submitted) == 2


def test_versions_must_match() -> None:
    here = compat.Versions("2.60.0", "3.11")
    compat.check_versions(here, compat.Versions("2.60.1", "3.11"), "http://h:8265")  # patch releases agree
    with pytest.raises(ClusterError) as err:
        compat.check_versions(here, compat.Versions("2.59.0", "3.10"), "http://h:8265")
    text = str(err.value)
    assert "Ray 2.59.0 there, 2.60.0 here and Python 3.10 there, 3.11 here" in text
    assert "ray[default,tune]==2.59.0" in text


def test_the_probe_job_reads_the_cluster_python_and_is_deleted(no_sleep: Clock) -> None:
    import ray

    client = FakeClient(ray_version=ray.__version__, python="3.9")
    cluster = jobs.Cluster("http://127.0.0.1:8265", None, client)
    with pytest.raises(ClusterError, match=r"Python 3\.9 there"):
        preflight.check_versions(cluster, "package")
    assert client.deleted == [client.submitted[0]["submission_id"]]
    assert "runtime_env" not in client.submitted[0]  # the probe needs nothing installed
    client.python = "%d.%d" % __import__("sys").version_info[:2]
    assert preflight.check_versions(cluster, "package").python == client.python
    client = FakeClient(ray_version="2.40.0")
    with pytest.raises(ClusterError, match="Ray 2.40.0 there"):  # from /api/version: no job for --install none
        preflight.check_versions(jobs.Cluster("http://127.0.0.1:8265", None, client), "none")
    assert client.submitted == []


def test_the_failed_job_block_groups_repeated_lines() -> None:
    logs = "start\n" + "ModuleNotFoundError: No module named 'rich'\n" * 3 + "\nend\n"
    block = compat.failure_block("raytuner-q-1", "FAILED", "Job entrypoint command failed with exit code 1", logs)
    assert block.splitlines() == [
        "job raytuner-q-1 FAILED:", "  Job entrypoint command failed with exit code 1",
        "  last 5 lines of its log:", "  | start", "  | ModuleNotFoundError: No module named 'rich'  (x3)", "  | end"]
    assert compat.failure_block("j", "FAILED", None, "") == "job j FAILED (no message, empty log)"


def test_the_wheel_and_exact_pins(tmp_path: Path) -> None:
    spec = load_spec(str(ROOT / "experiments" / "quickstart.yaml"), ["strategy.name=tpe"])
    shipment = install.ship(spec)
    constraints = install.read_constraints(ROOT / "constraints.txt")
    assert shipment.extras == ("search",)
    names = {req.split("==")[0]: req.split("==")[1] for req in shipment.requirements}
    assert all("==" in req for req in shipment.requirements)
    assert {"rich", "scikit-learn", "hyperopt", "optuna", "sqlalchemy"} <= set(names)
    assert names["rich"] == constraints["rich"] and names["hyperopt"] == constraints["hyperopt"]
    assert not {"ray", "numpy", "pandas", "pyarrow", "pydantic", "pyyaml", "raytuner"} & set(names)  # Ray's own
    pip = shipment.pip()
    assert pip["packages"][0] == f"${{RAY_RUNTIME_ENV_CREATE_WORKING_DIR}}/{shipment.wheel_rel}"
    shipment.place(tmp_path)
    with zipfile.ZipFile(tmp_path / shipment.wheel_rel) as wheel:
        assert "raytuner/cluster/remote.py" in wheel.namelist()
    assert install.ship(spec).sha256 == shipment.sha256  # built once per state of the sources


def test_spec_extras() -> None:
    quick = str(ROOT / "experiments" / "quickstart.yaml")
    assert install.spec_extras(load_spec(quick)) == ()
    assert install.spec_extras(load_spec(quick, ["strategy.name=auto"])) == ("search",)
    assert install.spec_extras(load_spec(quick, ["strategy.name=optuna-gp"])) == ("search", "torch")


def test_cli_version_mismatch_is_one_message_before_any_upload(monkeypatch: pytest.MonkeyPatch, no_sleep: Clock,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    client = FakeClient(ray_version="2.50.0")
    monkeypatch.setattr(jobs, "connect", lambda *a, **k: jobs.Cluster("http://127.0.0.1:8265", None, client))
    code = main(["submit", str(ROOT / "experiments" / "quickstart.yaml"), "--address", "http://127.0.0.1:8265"])
    err = capsys.readouterr().err
    assert code == 2 and "Ray 2.50.0 there" in err and "Traceback" not in err
    assert client.submitted == []  # /api/version said enough: no probe job, no upload
    assert len(err.strip().splitlines()) == 1


def test_cli_wait_shows_why_the_job_failed(monkeypatch: pytest.MonkeyPatch, no_sleep: Clock, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import ray

    client = FakeClient(ray_version=ray.__version__)
    client.message = "Failed to set up runtime environment.\nERROR: No matching distribution found for rich==15.0.0"
    client.logs = ""
    monkeypatch.setattr(jobs, "connect", lambda *a, **k: jobs.Cluster("http://127.0.0.1:8265", None, client))
    monkeypatch.setattr(jobs, "follow", lambda cluster, job_id: "FAILED")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "spec.yaml").write_text((ROOT / "experiments" / "quickstart.yaml").read_text())
    code = main(["submit", "spec.yaml", "--address", "http://127.0.0.1:8265", "--wait"])
    out, err = capsys.readouterr()
    assert code == 1
    job = out.splitlines()[0]
    assert f"job {job} FAILED:\n  Failed to set up runtime environment.\n  ERROR: No matching distribution" in err
    env = client.submitted[-1]["runtime_env"]
    assert env["pip"]["packages"][0].endswith(".whl") and "working_dir" in env
    assert json.dumps(env).count("rich==") == 1

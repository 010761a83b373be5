"""fetch's rewriting of a fetched experiment, helper-job clean-up, and a failed job's error block."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from raytuner.cluster import jobs
from raytuner.cluster.fetch import delete_job, relocate


def test_relocate_points_the_summary_and_models_at_the_fetched_copy(tmp_path: Path) -> None:
    head = "/home/ray/results/exp-20260101-000000"
    target = tmp_path / "fetched"
    (target / "model").mkdir(parents=True)
    (target / "summary.json").write_text(json.dumps({
        "experiment_path": head, "state": "running", "name": "exp",
        "final": {"refit": {"path": f"{head}/model", "files": ["model.joblib"]}},
        "trials": [{"path": f"{head}/trial_0", "note": "/home/ray/results/exp-2026-other"}],
    }))
    (target / "model" / "model.json").write_text(json.dumps({"experiment_path": head}))
    relocate(target, head, ended=True)
    data = json.loads((target / "summary.json").read_text())
    here = str(target.resolve())
    assert data["experiment_path"] == here and data["final"]["refit"]["path"] == f"{here}/model"
    assert data["trials"][0]["path"] == f"{here}/trial_0"
    assert data["trials"][0]["note"] == "/home/ray/results/exp-2026-other"  # a sibling is not this experiment
    assert data["state"] == "interrupted"  # the job ended: nobody is writing it any more
    assert json.loads((target / "model" / "model.json").read_text())["experiment_path"] == here


def test_relocate_keeps_a_finished_state_and_uris(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text(json.dumps({"experiment_path": "s3://b/exp/x-1", "state": "finished"}))
    relocate(tmp_path, None, ended=True)  # a URI is valid everywhere: kept
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data == {"experiment_path": "s3://b/exp/x-1", "state": "finished"}
    (tmp_path / "summary.json").write_text(json.dumps({"experiment_path": "s3://b/exp/x-1", "state": "running"}))
    relocate(tmp_path, None, ended=True)
    assert json.loads((tmp_path / "summary.json").read_text())["state"] == "interrupted"


class _Client:
    """A Jobs API client whose delete is refused twice (a job that has only just ended)."""

    def __init__(self, status: str = "SUCCEEDED", refusals: int = 2) -> None:
        self.status, self.refusals, self.calls = status, refusals, []

    def get_job_status(self, job_id: str) -> str:
        if self.status == "GONE":
            raise RuntimeError(f"Job {job_id} does not exist")
        return self.status

    def delete_job(self, job_id: str) -> bool:
        self.calls.append("delete")
        if self.refusals:
            self.refusals -= 1
            raise RuntimeError("Attempted to delete job in a non-terminal state")
        self.status = "GONE"
        return True

    def stop_job(self, job_id: str) -> bool:
        self.calls.append("stop")
        self.status = "STOPPED"
        return True


def _cluster(client: Any) -> jobs.Cluster:
    return jobs.Cluster("http://127.0.0.1:8265", None, client)


def test_delete_job_retries_until_the_helper_job_is_gone() -> None:
    client = _Client(refusals=2)
    assert delete_job(_cluster(client), "raytuner-fetch-1", timeout_s=10)
    assert client.calls == ["delete", "delete", "delete"] and client.status == "GONE"
    running = _Client(status="RUNNING", refusals=0)
    assert delete_job(_cluster(running), "raytuner-fetch-2", timeout_s=10)
    assert running.calls == ["stop", "delete"]


LOG = """raytuner: running spread on the cluster
RAYTUNER_RESULT {"experiment_path": "/r/spread-1"}
error: invalid spec spec.yaml:
  - resources.cpu: got 2; expected at most 1
  - budget.trials: got 0; expected >= 1
after the error
"""


def test_error_lines_take_the_last_message_with_its_continuation() -> None:
    assert jobs.error_lines(LOG) == ["error: invalid spec spec.yaml:", "  - resources.cpu: got 2; expected at most 1",
                                     "  - budget.trials: got 0; expected >= 1"]
    assert jobs.error_lines("all fine\n") == []


class _Info:
    def __init__(self, message: str) -> None:
        self.message = message


def test_failure_block_groups_the_jobs_error(monkeypatch: Any) -> None:
    cluster = _cluster(object())
    monkeypatch.setattr(jobs, "logs", lambda c, j: LOG)
    block = jobs.failure_block(cluster, "raytuner-x", "FAILED")
    assert block.splitlines()[0] == "job raytuner-x FAILED:"
    assert block.splitlines()[1] == "  error: invalid spec spec.yaml:" and len(block.splitlines()) == 4
    assert jobs.failure_block(cluster, "raytuner-x", "SUCCEEDED") == ""
    monkeypatch.setattr(jobs, "logs", lambda c, j: "")  # failed before its entrypoint ran: Ray's message
    monkeypatch.setattr(jobs, "info", lambda c, j: _Info("runtime_env setup failed: No module named 'rich'"))
    block = jobs.failure_block(cluster, "raytuner-x", "FAILED")
    assert "error: runtime_env setup failed: No module named 'rich'" in block


def test_jobs_list_hides_and_deletes_raytuner_helper_jobs() -> None:
    """A deleted helper job that Ray lists again (a ghost FAILED entry) is deleted and not shown."""
    from types import SimpleNamespace

    from raytuner.cluster import jobs

    class Client:
        def __init__(self) -> None:
            self.deleted: list[str] = []

        def list_jobs(self) -> list[SimpleNamespace]:
            return [SimpleNamespace(submission_id=name, start_time=t) for t, name in
                    enumerate(["raytuner-quick-1", "raytuner-fetch-ab12", "raytuner-probe-cd34", None])]

        def delete_job(self, job_id: str) -> bool:
            self.deleted.append(job_id)
            return True

    client = Client()
    listed = jobs.list_jobs(jobs.Cluster("http://127.0.0.1:8265", None, client))
    assert [j.submission_id for j in listed] == [None, "raytuner-quick-1"]
    assert client.deleted == ["raytuner-fetch-ab12", "raytuner-probe-cd34"]

"""A real multi-node Ray cluster on loopback (head + 2 workers, token auth on), driven only
through our CLI: `cluster local up`, `submit --wait`, `jobs`, `fetch`, `cluster local down`.

The cluster has its own ports, temp dirs and token file: the session's `ray_local` and
other people's Rays are not touched, and the user's ~/.ray/auth_token is never read or written
(RAY_AUTH_TOKEN_PATH points at the cluster's own token).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from raytuner.cluster import local as cluster_local
from raytuner.cli.main import main
from raytuner.results.summary import read_summary

OBJECTIVE = '''
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def slow(config):
    """Takes long enough that two trials overlap; says what the packaged directory holds."""
    import ray

    time.sleep(float(config.get("sleep", 1.0)))
    return {
        "node_id": ray.get_runtime_context().get_node_id(),
        "loss": (float(config["x"]) - 3.0) ** 2,
        "saw_env_file": (HERE / ".env").exists(),
        "saw_results": (HERE / "results").exists(),
        "saw_venv": (HERE / ".venv").exists(),
    }


def mixed(config):
    """Quick for x < 4, a minute otherwise: a job stopped midway has finished trials and running ones."""
    time.sleep(0.2 if float(config["x"]) < 4 else 60.0)
    return {"loss": (float(config["x"]) - 3.0) ** 2}
'''

SPEC = """
name: spread
description: two workers, trials spread over them
trainable: {type: function, function: "objective:slow", params: {sleep: 1.0}}
space:
  x: {type: float, low: 0.0, high: 6.0}
metric: {name: loss, mode: min}
strategy: {name: random, seed: 0}
budget: {trials: 4, max_concurrent: 2}
resources: {cpu: 1, placement: spread}
failure: {max_retries: 0}
"""


@pytest.fixture(scope="module")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    state = tmp_path_factory.mktemp("cluster") / "state"
    started = time.perf_counter()
    with pytest.MonkeyPatch.context() as env:  # the nodes' own S3 credentials (think: instance roles)
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        code = main(["cluster", "local", "up", "--state-dir", str(state), "--workers", "2", "--cpus", "1",
                     "--head-cpus", "0", "--json"])
    try:
        assert code == 0
        info = json.loads((state / "state.json").read_text())
        info["up_s"] = time.perf_counter() - started
        yield info
    finally:
        cluster = cluster_local.load(state) if (state / "state.json").exists() else None
        if cluster is not None:  # no log of ours or of Ray's holds the token
            token = Path(cluster.token_path).read_text().strip()
            logs = [*state.glob("*.log"), *Path(cluster.root_temp_dir).rglob("*.log"),
                    *Path(cluster.root_temp_dir).rglob("*.out"), *Path(cluster.root_temp_dir).rglob("*.err")]
            leaked = [str(p) for p in logs if p.is_file() and token.encode() in p.read_bytes()]
            leaked += [f"command line of {pid}" for node in cluster.nodes for pid in cluster_local._ours(node)
                       if token in cluster_local._cmdline(pid)]
        main(["cluster", "local", "down", "--state-dir", str(state)])
        if cluster is not None:  # every process we started is gone, and so are their temp dirs
            assert not any(cluster_local._ours(node) for node in cluster.nodes)
            assert not any(Path(node.temp_dir).exists() for node in cluster.nodes)
            assert not leaked, f"the token appears in {leaked}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "objective.py").write_text(OBJECTIVE)
    (root / "spec.yaml").write_text(SPEC)
    (root / ".env").write_text("AWS_SECRET_ACCESS_KEY=do-not-ship\n")
    (root / "results").mkdir()
    (root / "results" / "old-summary.json").write_text("{}")
    (root / ".venv").mkdir()
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return root


@pytest.fixture
def token_env(local_cluster: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", local_cluster["token_path"])
    return Path(local_cluster["token_path"]).read_text().strip()


def test_submit_follow_fetch_on_two_workers(local_cluster: dict[str, Any], project: Path, token_env: str,
                                            tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    url = local_cluster["dashboard_url"]
    workers = {n["ip"] for n in local_cluster["nodes"] if n["role"] == "worker"}
    assert {n["ip"] for n in local_cluster["nodes"]} == {"127.0.0.1"}  # every node on loopback
    rows = cluster_local.alive_nodes(cluster_local.load(local_cluster["state_dir"]))
    worker_ids = {row["node_id"] for row in rows if not row.get("is_head_node")}
    assert len(worker_ids) == 2
    capfd.readouterr()
    pwned = tmp_path / "pwned"
    started = time.perf_counter()
    code = main(["submit", str(project / "spec.yaml"), "--address", url, "--workdir", str(project),
                 "--install", "none", "--wait",  # the nodes run this venv; package: test_vanilla_cluster.py
                 "--set", f"storage.path={tmp_path / 'cluster-results'}",
                 "--set", f"description=x; touch {pwned} $(touch {pwned})"])
    submit_s = time.perf_counter() - started
    out, err = capfd.readouterr()
    assert code == 0, out + err
    job_id = out.splitlines()[0].strip()
    assert job_id.startswith("raytuner-spread-")
    # the followed logs: progress, leaderboard, per-node counts, the result marker
    assert "trials 4/4" in out and "RAYTUNER_RESULT" in out and "nodes:" in out
    assert f"job {job_id}: SUCCEEDED" in err
    assert not pwned.exists()  # overrides reach the cluster quoted, never through a shell
    assert token_env not in out + err

    assert main(["jobs", "status", job_id, "--address", url]) == 0
    assert "SUCCEEDED" in capfd.readouterr().out
    assert main(["jobs", "list", "--address", url, "--json"]) == 0
    listed = {j["job"]: j for j in json.loads(capfd.readouterr().out)}
    assert listed[job_id]["metadata"]["raytuner_spec"] == "spread"
    assert main(["jobs", "logs", job_id, "--address", url]) == 0
    assert "RAYTUNER_RESULT" in capfd.readouterr().out

    fetched = tmp_path / "fetched"
    started = time.perf_counter()
    assert main(["fetch", job_id, "--address", url, "--to", str(fetched)]) == 0
    fetch_s = time.perf_counter() - started
    assert capfd.readouterr().out.strip() == str(fetched)
    assert sorted(p.name for p in fetched.iterdir()) == ["spec.yaml", "summary.json"]
    summary = read_summary(fetched)
    assert summary.counts == {"total": 4, "ok": 4, "error": 0}
    assert set(summary.nodes) == workers  # all nodes share 127.0.0.1: told apart by node id
    assert {t.metrics["node_id"] for t in summary.trials} == worker_ids  # both workers, not the head (0 CPUs)
    assert sum(summary.nodes.values()) == 4
    for trial in summary.trials:  # what the packaged working dir held on the cluster
        assert trial.metrics["saw_env_file"] is False
        assert trial.metrics["saw_results"] is False
        assert trial.metrics["saw_venv"] is False
    print(f"\n[timing] cluster up {local_cluster['up_s']:.1f}s, submit --wait {submit_s:.1f}s, "
          f"fetch {fetch_s:.1f}s", file=sys.stderr)


def test_stop_a_running_job(local_cluster: dict[str, Any], project: Path, token_env: str, tmp_path: Path,
                            capfd: pytest.CaptureFixture[str]) -> None:
    url = local_cluster["dashboard_url"]
    capfd.readouterr()
    assert main(["submit", str(project / "spec.yaml"), "--address", url, "--workdir", str(project),
                 "--install", "none", "--set", "trainable.params.sleep=60",
                 "--set", f"storage.path={tmp_path / 'r'}"]) == 0
    job_id = capfd.readouterr().out.splitlines()[0].strip()
    assert main(["jobs", "stop", job_id, "--address", url]) == 0
    assert "stop requested" in capfd.readouterr().out
    assert main(["jobs", "logs", job_id, "--follow", "--address", url]) == 3  # STOPPED
    assert f"job {job_id}: STOPPED" in capfd.readouterr().err
    code = main(["fetch", job_id, "--address", url, "--to", str(tmp_path / "f")])
    err = capfd.readouterr().err  # stopped before or after its experiment started (partial summary)
    assert (code == 2 and "reported no experiment directory" in err) or (code == 0 and (tmp_path / "f" / "spec.yaml").is_file())
    assert main(["jobs", "status", "raytuner-no-such-job", "--address", url]) == 2
    assert "no job 'raytuner-no-such-job'" in capfd.readouterr().err


def test_shared_s3_storage_on_the_cluster(local_cluster: dict[str, Any], project: Path, token_env: str,
                                          s3_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capfd: pytest.CaptureFixture[str]) -> None:
    """Trials on two workers write to S3 (moto); fetch reads the bucket directly, so does results."""
    import boto3

    for key, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                       ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(key, value)
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket="rt-cluster")
    url = local_cluster["dashboard_url"]
    capfd.readouterr()
    code = main(["submit", str(project / "spec.yaml"), "--address", url, "--workdir", str(project),
                 "--install", "none", "--wait", "--set", "trainable.params.sleep=0.2", "--set", "budget.trials=2",
                 "--set", "storage.path=s3://rt-cluster/exp", "--set", f"storage.endpoint={s3_endpoint}"])
    out, err = capfd.readouterr()
    assert code == 0, out + err
    job_id = out.splitlines()[0].strip()
    fetched = tmp_path / "from-s3"
    assert main(["fetch", job_id, "--address", url, "--to", str(fetched)]) == 0
    assert sorted(p.name for p in fetched.iterdir()) == ["spec.yaml", "summary.json"]
    summary = read_summary(fetched)
    assert summary.experiment_path.startswith("s3://rt-cluster/exp/spread-")
    assert summary.counts["ok"] == 2 and set(summary.nodes) <= {n["ip"] for n in local_cluster["nodes"]}
    capfd.readouterr()
    assert main(["results", "s3://rt-cluster/exp", "--endpoint", s3_endpoint, "--json"]) == 0
    assert json.loads(capfd.readouterr().out)["best"] == summary.to_data()["best"]
    keys = [o["Key"] for o in boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(
        Bucket="rt-cluster")["Contents"]]
    assert any("/trial_" in k and k.endswith("result.json") for k in keys)


def test_run_with_address_uses_the_cluster(local_cluster: dict[str, Any], project: Path, tmp_path: Path) -> None:
    """`raytuner run --address` (as on a head node): a separate driver process joins the cluster.
    Each trial reserves a child bundle with strict_spread: the Ray task it starts runs on the
    other worker node."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH", "RAY_ADDRESS"))}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=local_cluster["token_path"], HOME=str(tmp_path),
               RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")  # a driver keeps 127.0.0.1 (see cluster/ray_node)
    done = subprocess.run(
        [sys.executable, "-m", "raytuner.cli.main", "run", str(project / "spec.yaml"), "--address",
         local_cluster["gcs_address"], "--json", "--set", "trainable.function=raytuner.testing:where",
         "--set", "trainable.params={tasks: 1, task_cpus: 0.5}", "--set", "resources.cpu=0.5",
         "--set", "resources.child_bundles=1", "--set", "resources.child_cpu=0.5",
         "--set", "resources.placement=strict_spread",
         "--set", "budget.trials=2", "--set", f"storage.path={tmp_path / 'runs'}"],
        capture_output=True, text=True, env=env, timeout=300, cwd=project)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    workers = {n["ip"] for n in local_cluster["nodes"] if n["role"] == "worker"}
    assert summary["counts"]["ok"] == 2 and set(summary["nodes"]) <= workers
    for trial in summary["trials"]:
        metrics = trial["metrics"]
        assert metrics["trial_node"] in workers and metrics["task_nodes"] in workers
        assert metrics["task_node_ids"] != metrics["trial_node_id"]  # strict_spread: the child bundle is elsewhere


def test_run_without_a_token_is_a_clear_error(local_cluster: dict[str, Any], project: Path,
                                              tmp_path: Path) -> None:
    """Ray says only "Failed to connect" (or that a previous instance crashed); we say why."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH", "RAY_ADDRESS"))}
    env.update(HOME=str(tmp_path), RAY_gcs_server_port_wait_time_s="2",  # Ray retries 20 s by default
               RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    done = subprocess.run(
        [sys.executable, "-m", "raytuner.cli.main", "run", str(project / "spec.yaml"), "--address",
         local_cluster["gcs_address"], "--set", f"storage.path={tmp_path / 'runs'}"],
        capture_output=True, text=True, env=env, timeout=120, cwd=project)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: could not connect to the Ray cluster")
    assert "token authentication" in last and "no token was found" in last and "RAY_AUTH_TOKEN_PATH" in last
    assert "Traceback" not in done.stderr and not (tmp_path / "runs").exists()


def test_unauthenticated_and_wrong_token_are_refused(local_cluster: dict[str, Any], project: Path,
                                                     tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    url = local_cluster["dashboard_url"]
    # no token anywhere (own HOME: the user's ~/.ray/auth_token is not read): 401
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH", "RAY_ADDRESS"))}
    env["HOME"] = str(tmp_path)
    done = subprocess.run([sys.executable, "-m", "raytuner.cli.main", "submit", str(project / "spec.yaml"),
                           "--address", url, "--workdir", str(project)],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "401 Unauthorized" in done.stderr and "Traceback" not in done.stderr
    # a token of another cluster: 403
    wrong = tmp_path / "wrong_token"
    wrong.write_text("0" * 64)
    capfd.readouterr()
    assert main(["jobs", "list", "--address", url, "--token-file", str(wrong)]) == 2
    err = capfd.readouterr().err
    assert "403 Forbidden" in err and "0" * 64 not in err


def test_local_cluster_status_and_refuses_a_second_up(local_cluster: dict[str, Any],
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    state = local_cluster["state_dir"]
    capfd.readouterr()
    assert main(["cluster", "local", "status", "--state-dir", state, "--json"]) == 0
    info = json.loads(capfd.readouterr().out)
    assert info["dashboard"] == "ok" and all(n["running"] for n in info["nodes"])
    assert sorted(info["alive_node_ips"]) == sorted(n["ip"] for n in local_cluster["nodes"])
    assert main(["cluster", "local", "up", "--state-dir", state]) == 2
    assert "already running" in capfd.readouterr().err


def test_plain_http_to_another_machine_is_refused(project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    capfd.readouterr()
    assert main(["submit", str(project / "spec.yaml"), "--address", "http://192.0.2.10:8265"]) == 2
    err = capfd.readouterr().err
    assert "refusing plain http:// to 192.0.2.10" in err
    assert "ray dashboard" in err and "kubectl port-forward" in err and "--insecure" in err


def test_insecure_lets_it_try_and_the_dashboard_is_not_on_the_network(
        local_cluster: dict[str, Any], project: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """With --insecure the address is accepted; our dashboard listens on 127.0.0.1 only, so
    the machine's own network address does not answer."""
    import ray._private.services as services

    ip = services.get_node_ip_address()
    if ip.startswith("127."):
        pytest.skip("this machine has no non-loopback address")
    port = local_cluster["dashboard_url"].rsplit(":", 1)[1]
    capfd.readouterr()
    code = main(["jobs", "list", "--address", f"http://{ip}:{port}", "--insecure"])
    err = capfd.readouterr().err
    # nothing answers there: retried as a head that is still starting would be, then one message
    assert code == 2 and "Failed to connect to Ray" in err and "Is the head node up" in err and "refusing" not in err


ACTOR_DRIVER = """
import sys, ray
ray.init(address=sys.argv[1])

@ray.remote(num_cpus=0)
class Probe:
    def ping(self):
        return 1

probes = [Probe.remote() for _ in range(2)]
assert ray.get([p.ping.remote() for p in probes]) == [1, 1]
print("ready", flush=True)
sys.stdin.read()  # hold the actors (and their worker processes) until the test closes stdin
"""


def test_every_port_listens_on_loopback_only(local_cluster: dict[str, Any], tmp_path: Path) -> None:
    """Read the listening sockets of every process the cluster started (GCS, raylets, agents,
    dashboard, metrics, and workers holding actors), with psutil: all on 127.0.0.0/8 or ::1."""
    import ipaddress

    import ray  # noqa: F401 - puts Ray's bundled psutil on the path
    import psutil

    assert local_cluster["exposed"] == [] and local_cluster["sockets_checked"] > 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_AUTH", "RAY_ADDRESS"))}
    env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=local_cluster["token_path"], HOME=str(tmp_path),
               RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")  # a driver keeps 127.0.0.1 (see cluster/ray_node)
    driver = subprocess.Popen([sys.executable, "-c", ACTOR_DRIVER, local_cluster["gcs_address"]],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=env)
    try:
        assert driver.stdout is not None and driver.stdout.readline().strip() == "ready", driver.stderr
        cluster = cluster_local.load(local_cluster["state_dir"])
        pids = {pid for node in cluster.nodes for pid in cluster_local._ours(node)}
        found: list[tuple[str, str, int]] = []
        for pid in sorted(pids):
            try:
                proc = psutil.Process(pid)
                found += [(proc.name(), c.laddr.ip, c.laddr.port) for c in proc.net_connections(kind="inet")
                          if c.status == psutil.CONN_LISTEN]
            except psutil.NoSuchProcess:
                continue

        def loopback(ip: str) -> bool:
            address = ipaddress.ip_address(ip)
            mapped = getattr(address, "ipv4_mapped", None)
            return (mapped or address).is_loopback

        names = {name for name, _, _ in found}
        assert "gcs_server" in names and "raylet" in names, found
        assert len(found) >= 12  # GCS, 3 raylets x 2, agents, dashboard, metrics: not a vacuous check
        exposed = [item for item in found if not loopback(item[1])]
        assert exposed == []
    finally:
        if driver.stdin:
            driver.stdin.close()
        try:
            driver.wait(timeout=60)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait()


MIXED_SPEC = """
name: mixed
trainable: {type: function, function: "objective:mixed"}
space:
  x: {type: grid, values: [1.0, 2.0, 5.0, 6.0]}
metric: {name: loss, mode: min}
strategy: {name: grid}
budget: {max_concurrent: 2}
resources: {cpu: 1}
failure: {max_retries: 0}
"""


def test_a_stopped_jobs_partial_results_are_fetched_and_no_helper_job_stays(
        local_cluster: dict[str, Any], project: Path, token_env: str, tmp_path: Path,
        capfd: pytest.CaptureFixture[str]) -> None:
    url = local_cluster["dashboard_url"]
    (project / "mixed.yaml").write_text(MIXED_SPEC)
    storage = tmp_path / "head-results"  # the head's disk (the same machine here)
    capfd.readouterr()
    assert main(["submit", str(project / "mixed.yaml"), "--address", url, "--workdir", str(project),
                 "--install", "none", "--set", f"storage.path={storage}"]) == 0
    job_id = capfd.readouterr().out.splitlines()[0].strip()
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:  # the partial summary shows the two quick trials finished
        found = list(storage.glob("mixed-*/summary.json"))
        if found:
            try:
                if sum(t["status"] == "ok" for t in json.loads(found[0].read_text())["trials"]) >= 2:
                    break
            except (ValueError, KeyError):
                pass
        time.sleep(0.5)
    else:
        pytest.fail("the two quick trials never showed up in the partial summary")
    assert main(["jobs", "stop", job_id, "--address", url]) == 0
    assert main(["jobs", "logs", job_id, "--follow", "--address", url]) in (1, 3)
    capfd.readouterr()

    fetched = tmp_path / "fetched"
    assert main(["fetch", job_id, "--address", url, "--to", str(fetched)]) == 0
    assert capfd.readouterr().out.strip() == str(fetched)
    assert {"spec.yaml", "summary.json"} <= {p.name for p in fetched.iterdir()}
    summary = read_summary(fetched)
    assert summary.state == "interrupted"
    ok = sorted(t.config["x"] for t in summary.trials if t.status == "ok")
    assert ok == [1.0, 2.0] and summary.best is not None and summary.best.config["x"] == 2.0
    assert summary.experiment_path == str(fetched.resolve())  # where it is now, not the head's path
    assert str(storage) not in (fetched / "summary.json").read_text()
    assert main(["results", str(fetched)]) == 0
    assert "mixed" in capfd.readouterr().out

    # the helper job that packed the results is gone; the user's job stays
    assert main(["jobs", "list", "--address", url, "--json"]) == 0
    listed = [j["job"] for j in json.loads(capfd.readouterr().out)]
    assert job_id in listed
    assert not [j for j in listed if (j or "").startswith("raytuner-fetch-")]  # None: drivers not started as jobs


def test_a_job_no_worker_can_run_fails_in_seconds_with_its_reason(
        local_cluster: dict[str, Any], project: Path, token_env: str, tmp_path: Path,
        capfd: pytest.CaptureFixture[str]) -> None:
    url = local_cluster["dashboard_url"]
    capfd.readouterr()
    started = time.perf_counter()
    code = main(["submit", str(project / "spec.yaml"), "--address", url, "--workdir", str(project),
                 "--install", "none", "--wait", "--set", "resources.cpu=2",
                 "--set", f"storage.path={tmp_path / 'r'}"])
    out, err = capfd.readouterr()
    assert code == 1, out + err
    job_id = out.splitlines()[0].strip()
    assert f"job {job_id}: FAILED" in err
    block = err.split(f"job {job_id} FAILED:", 1)[1]  # the job's error, grouped, after the status
    assert "error:" in block and "CPU" in block and "Traceback" not in block
    print(f"\n[timing] submit --wait of a job no node can run: {time.perf_counter() - started:.1f}s\n{block}",
          file=sys.stderr)

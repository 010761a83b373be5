"""Submission without a cluster: addresses, tokens, what gets packaged, the entrypoint, install
modes, placement, per-node counts and the translation of Ray's connection errors."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from raytuner.cluster import jobs
from raytuner.runner import auth
from raytuner.cli.main import main
from raytuner.errors import ClusterError

SPEC = """
name: pkg
trainable: {type: function, function: "objective:f"}
space: {x: {type: float, low: 0.0, high: 1.0}}
metric: {name: loss, mode: min}
storage: {path: out/runs}
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    for rel, text in {
        "spec.yaml": SPEC,
        "objective.py": "def f(c):\n    return {'loss': c['x']}\n",
        "data/train.csv": "a,b\n1,2\n",
        "data/big.parquet": "x",
        ".gitignore": "*.parquet\n/build/\n",
        ".raytunerignore": "notes/\n",
        "notes/todo.md": "x",
        "build/x.py": "x",
        "pkg/build/keep.py": "x",
        ".env": "SECRET=1",
        "config/.env.production": "SECRET=1",
        ".venv/bin/python": "x",
        "results/old/summary.json": "{}",
        "out/runs/exp-1/summary.json": "{}",
        "cluster/.secrets/auth_token": "abc",
        "keys/deploy.pem": "x",
        ".git/config": "x",
        "pkg/__pycache__/m.cpython-311.pyc": "x",
    }.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _dry_run(project: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[str, str, list[str]]:
    assert main(["submit", str(project / "spec.yaml"), "--workdir", str(project), "--dry-run", *extra]) == 0
    out = capsys.readouterr().out
    entry = out.split("entrypoint: ", 1)[1].splitlines()[0]
    env = out.split("runtime_env: ", 1)[1].splitlines()[0]
    files = []
    for line in out.split("files (", 1)[1].splitlines()[1:]:
        if not line.startswith("  "):
            break  # the "left out" list follows
        files.append(line.strip())
    return entry, env, files


def test_package_leaves_out_secrets_venv_results_and_ignored(project: Path, capsys: pytest.CaptureFixture[str],
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(project / "cluster/.secrets/auth_token"))
    _, _, files = _dry_run(project, capsys, "--exclude", "data/*.csv")
    assert files == [".gitignore", ".raytunerignore", "objective.py", "pkg/build/keep.py", "spec.yaml"]


def test_a_file_holding_the_token_is_refused(project: Path, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    token = "f" * 64
    monkeypatch.setenv("RAY_AUTH_TOKEN", token)
    (project / "settings.py").write_text(f"TOKEN = '{token}'\n")
    assert main(["submit", str(project / "spec.yaml"), "--workdir", str(project), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "settings.py contains the cluster's auth token" in err and token not in err


def test_entrypoint_quotes_overrides(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    evil = "description=x'; touch /tmp/pwned; echo \"$(id)\" `id`"
    entry, env, _ = _dry_run(project, capsys, "--set", evil, "--set", "budget.trials=3")
    assert shlex.split(entry) == ["python", "-m", "raytuner.cluster.remote", "run", "spec.yaml",
                                  "--set", evil, "--set", "budget.trials=3"]
    wheel = json.loads(env)["pip"]["packages"][0]
    assert wheel.startswith("${RAY_RUNTIME_ENV_CREATE_WORKING_DIR}/.raytuner-wheel/") and wheel.endswith(".whl")


def test_a_bad_override_fails_before_anything_is_sent(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["submit", str(project / "spec.yaml"), "--workdir", str(project), "--dry-run",
                 "--set", "budget.trials=0"]) == 2
    assert "budget.trials" in capsys.readouterr().err


def test_spec_outside_the_workdir_travels_along(project: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text(SPEC)
    assert main(["submit", str(outside), "--workdir", str(project), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "run .raytuner-spec/elsewhere.yaml" in out and ".raytuner-spec/elsewhere.yaml" in out.split("files (")[1]


def test_install_modes() -> None:
    with pytest.raises(ClusterError, match="no wheel built"):
        jobs.runtime_env_install("package")
    assert jobs.runtime_env_install("none") == {}
    assert jobs.runtime_env_install("pip:raytuner[torch]==0.1.0") == {"pip": ["raytuner[torch]==0.1.0"]}
    for bad in ("pip:", "conda", ""):
        with pytest.raises(ClusterError, match="expected one of package, none, pip:REQUIREMENT"):
            jobs.runtime_env_install(bad)


@pytest.mark.parametrize("address, ok", [
    ("http://127.0.0.1:8265", True), ("127.0.0.1:8265", True), ("http://localhost:8265/", True),
    ("http://[::1]:8265", True), ("http://127.0.0.5:1", True), ("https://ray.example.com", True),
    ("http://10.0.0.5:8265", False), ("http://ray.example.com:8265", False), ("10.1.2.3:8265", False),
])
def test_plain_http_only_to_loopback(address: str, ok: bool) -> None:
    if ok:
        assert auth.check_address(address).startswith(("http://", "https://"))
    else:
        with pytest.raises(ClusterError, match="refusing plain http://"):
            auth.check_address(address)
        assert auth.check_address(address, insecure=True).startswith("http://")


def test_bad_addresses() -> None:
    with pytest.raises(ClusterError, match="expected an http"):
        auth.check_address("ray://10.0.0.1:10001")
    with pytest.raises(ClusterError, match="no cluster address"):
        auth.check_address("")


def test_token_sources_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    assert auth.resolve_token() is None
    home_token = tmp_path / ".ray" / "auth_token"
    home_token.parent.mkdir()
    home_token.write_text("home\n")
    assert auth.resolve_token().value == "home"
    path_token = tmp_path / "t"
    path_token.write_text("frompath")
    monkeypatch.setenv("RAY_AUTH_TOKEN_PATH", str(path_token))
    assert auth.resolve_token().value == "frompath"
    monkeypatch.setenv("RAY_AUTH_TOKEN", "fromenv")
    token = auth.resolve_token()
    assert token.value == "fromenv" and "fromenv" not in repr(token) and "fromenv" not in f"{token}"
    flag = tmp_path / "flag"
    flag.write_text("fromflag")
    assert auth.resolve_token(flag).value == "fromflag"
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(ClusterError, match="is empty"):
        auth.resolve_token(empty)


def test_token_new(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / ".secrets" / "auth_token"
    assert main(["cluster", "token", "new", str(target)]) == 0
    value = target.read_text().strip()
    assert len(value) == 64 and (target.stat().st_mode & 0o777) == 0o600
    assert value not in capsys.readouterr().out
    assert main(["cluster", "token", "new", str(target)]) == 2
    assert target.read_text().strip() == value


def test_auth_errors_are_explained_without_the_token() -> None:
    token = auth.Token("s3cr3t" * 8, "RAY_AUTH_TOKEN")
    err = jobs.explain(RuntimeError("Authentication required: Unauthorized (401)"), "http://127.0.0.1:1", None)
    assert "401 Unauthorized" in str(err) and "RAY_AUTH_TOKEN_PATH" in str(err)
    err = jobs.explain(RuntimeError(f"Authentication failed: 403 for Bearer {token.value}"),
                       "http://127.0.0.1:1", token)
    assert "403 Forbidden" in str(err) and token.value not in str(err) and "RAY_AUTH_TOKEN" in str(err)


def test_misleading_crash_message_becomes_a_token_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from raytuner.runner.session import connect_error

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    ray_text = ("Failed to connect to GCS. This is probably because a previous Ray instance crashed; "
                "check the logs of the GCS")
    message = str(connect_error("auto", ConnectionError(ray_text)))
    assert "token authentication" in message and "no token was found" in message
    assert "get-auth-token" in message
    plain = str(connect_error("auto", ConnectionError("connection refused")))
    assert "token" not in plain
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    nobody = str(connect_error(f"127.0.0.1:{port}", ConnectionError(ray_text)))
    assert "Nothing answers there" in nobody and "token" not in nobody


def test_placement_maps_to_placement_groups() -> None:
    from ray import tune

    from raytuner.trainables.placement import trial_resources
    from raytuner.spec.models import ResourcesSpec

    assert trial_resources(ResourcesSpec(cpu=2, gpu=0.5)) == {"cpu": 2, "gpu": 0.5}
    for name, strategy in (("pack", "PACK"), ("spread", "SPREAD"), ("strict_spread", "STRICT_SPREAD")):
        pgf = trial_resources(ResourcesSpec(cpu=1.5, gpu=0.25, placement=name))
        assert isinstance(pgf, tune.PlacementGroupFactory)
        assert pgf.strategy == strategy and pgf.bundles == [{"CPU": 1.5, "GPU": 0.25}]
    pgf = trial_resources(ResourcesSpec(cpu=1, child_bundles=2, child_cpu=0.5, child_gpu=0.5))
    assert pgf.strategy == "PACK"
    assert pgf.bundles == [{"CPU": 1.0}, {"CPU": 0.5, "GPU": 0.5}, {"CPU": 0.5, "GPU": 0.5}]


def test_summary_counts_trials_per_node(tmp_path: Path) -> None:
    from raytuner.console.summary import print_summary
    from raytuner.results.summary import Summary, TrialRecord, read_summary, write_summary

    trials = [TrialRecord(f"t{i}", "ok", {"x": i}, float(i), 1, 0.1, metrics={"node_ip": ip})
              for i, ip in enumerate(["10.0.0.2", "10.0.0.3", "10.0.0.2"])]
    summary = Summary("n", str(tmp_path), "loss", "min", "random", "fifo", "now", 1.0, trials, trials[0])
    assert summary.nodes == {"10.0.0.2": 2, "10.0.0.3": 1}
    assert summary.to_data()["nodes"] == {"10.0.0.2": 2, "10.0.0.3": 1}
    write_summary(summary, tmp_path)
    assert read_summary(tmp_path).nodes == summary.nodes
    import io

    stream = io.StringIO()
    print_summary(summary, stream)
    assert "nodes: 10.0.0.2 (2 trials), 10.0.0.3 (1 trial)" in stream.getvalue()


def test_unknown_storage_scheme_is_a_spec_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.replace("objective:f", "raytuner.testing:quadratic"))
    assert main(["validate", str(spec), "--set", "storage.path=s4://bucket/x"]) == 2
    assert "storage.path" in capsys.readouterr().err


def test_a_port_with_401_in_it_is_not_an_auth_error() -> None:
    err = jobs.explain(ConnectionError("Failed to connect to Ray at address: http://127.0.0.1:44013"),
                       "http://127.0.0.1:44013", None)
    assert "cannot reach the Ray Jobs API" in str(err) and "401" not in str(err).replace("44013", "")


def test_pack_takes_summary_spec_reports_and_models_not_tune_internals(tmp_path: Path) -> None:
    from raytuner.cluster import fetch as fetch_mod, remote

    exp = tmp_path / "demo-20260101-000000"
    for rel in ("summary.json", "spec.yaml", "report.html", "model/best.joblib", "trial_abc/result.json",
                "trial_abc/checkpoint_000000/state.pkl", "tuner.pkl", "experiment_state-2026.json",
                "basic-variant-state-2026.json", ".validate_storage_marker"):
        path = exp / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(rel)
    logs = "other output\n"
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert remote.main(["pack", str(exp)]) == 0
    logs += out.getvalue() + "more output\n"
    target = tmp_path / "fetched"
    fetch_mod._extract(remote.unpack(logs), target)
    files = sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file())
    assert files == ["model/best.joblib", "report.html", "spec.yaml", "summary.json"]
    assert (target / "summary.json").read_text() == "summary.json"
    with pytest.raises(ValueError, match="corrupt"):
        remote.unpack(logs.replace("RAYTUNER_PACK_END ", "RAYTUNER_PACK_END 00"))
    everything = remote.pack(str(exp), include_all=True)
    target_all = tmp_path / "all"
    fetch_mod._extract(everything, target_all)
    assert (target_all / "trial_abc" / "checkpoint_000000" / "state.pkl").is_file()


def test_file_uri_storage_round_trips_paths(tmp_path: Path) -> None:
    from raytuner.results import storage
    from raytuner.spec.models import StorageSpec

    spec = StorageSpec(path=f"file://{tmp_path}/exp")
    path, fs = storage.tune_storage(spec)
    assert path == f"{tmp_path}/exp" and fs is not None
    uri = storage.experiment_uri(spec, f"{tmp_path}/exp/demo-1")
    assert uri == f"file://{tmp_path}/exp/demo-1"
    location = storage.resolve(uri)
    storage.write_text(location, "summary.json", "{}")
    assert (tmp_path / "exp" / "demo-1" / "summary.json").read_text() == "{}"
    assert [name for name, _, _ in storage.list_dir(storage.resolve(f"file://{tmp_path}/exp"))] == ["demo-1"]


def test_ignored_data_and_ignored_spec(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = project / "specs" / "sk.yaml"
    spec.parent.mkdir()
    spec.write_text(
        "name: sk\ntrainable: {type: sklearn, estimator: sklearn.linear_model.Ridge, "
        "data: {source: data/big.parquet, target: a}}\nmetric: r2\n")
    (project / ".raytunerignore").write_text("notes/\nspecs/\n")
    assert main(["submit", str(spec), "--workdir", str(project), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert "trainable.data.source" in err and "excluded from the package" in err
    (project / ".raytunerignore").write_text("notes/\nspecs/\n!*.parquet\n")
    assert main(["submit", str(spec), "--workdir", str(project), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "run .raytuner-spec/sk.yaml" in out and "data/big.parquet" in out

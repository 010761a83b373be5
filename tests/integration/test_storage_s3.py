"""Storage on S3: a real S3-compatible server (moto's server mode on loopback), not a mock of ours."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from raytuner.cli.main import main

SPEC = {
    "name": "s3demo",
    "trainable": {"type": "function", "function": "raytuner.testing:curve"},
    "space": {"x": {"type": "float", "low": 0.0, "high": 6.0}, "steps": 2},
    "metric": {"name": "loss", "mode": "min"},
    "strategy": {"name": "random", "seed": 1},
    "budget": {"trials": 3, "max_concurrent": 2},
}


def _bucket(endpoint: str, name: str) -> None:
    import boto3

    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=name)


def test_s3_round_trip(ray_local: None, s3_endpoint: str, aws_env: None, tmp_path: Path,
                       capsys: pytest.CaptureFixture[str]) -> None:
    import yaml

    _bucket(s3_endpoint, "rt-bucket")
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(SPEC))
    args = ["run", str(spec_file), "--json", "--set", "storage.path=s3://rt-bucket/exp",
            "--set", f"storage.endpoint={s3_endpoint}"]
    assert main(args) == 0
    ran = json.loads(capsys.readouterr().out)
    assert ran["experiment_path"].startswith("s3://rt-bucket/exp/s3demo-")
    assert ran["counts"] == {"total": 3, "ok": 3, "error": 0}
    assert sum(ran["nodes"].values()) == 3

    # what Ray Tune and we wrote is really in the bucket
    import boto3

    keys = {o["Key"] for o in boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(
        Bucket="rt-bucket", Prefix="exp/")["Contents"]}
    prefix = ran["experiment_path"].removeprefix("s3://rt-bucket/")
    assert f"{prefix}/summary.json" in keys and f"{prefix}/spec.yaml" in keys
    assert any(k.startswith(f"{prefix}/trial_") and k.endswith("result.json") for k in keys)
    assert not (Path.cwd() / "rt-bucket").exists()

    # `raytuner results` reads it back: the storage root (newest experiment) and the directory itself
    assert main(["results", "s3://rt-bucket/exp", "--endpoint", s3_endpoint, "--json"]) == 0
    back = json.loads(capsys.readouterr().out)
    assert back["best"] == ran["best"] and back["experiment_path"] == ran["experiment_path"]
    assert main(["results", ran["experiment_path"], "--endpoint", s3_endpoint]) == 0
    out = capsys.readouterr().out
    assert "s3demo: top 3 of 3 trials" in out and "nodes:" in out

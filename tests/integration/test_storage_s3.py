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


def _iris_csv(path: Path) -> Path:
    from sklearn.datasets import load_iris

    data = load_iris(as_frame=True)
    frame = data.frame.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    frame["species"] = [data.target_names[t] for t in frame.pop("target")]
    frame.to_csv(path, index=False)
    return path


def _sklearn_spec(source: str, **data: object) -> dict:
    return {
        "name": "s3model",
        "trainable": {"type": "sklearn", "estimator": "sklearn.linear_model.LogisticRegression",
                      "params": {"max_iter": 500},
                      "data": {"source": source, "target": "species", "holdout": 0.3, **data}, "cv": {"folds": 2}},
        "space": {"C": {"type": "float", "low": 0.01, "high": 10, "log": True}},
        "metric": "accuracy", "strategy": {"name": "random", "seed": 2}, "budget": {"trials": 3},
        "ensemble": {"top_k": 2, "method": "voting"},
    }


def test_refit_model_and_ensemble_saved_to_s3_and_predicted_from_there(
        ray_local: None, s3_endpoint: str, aws_env: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import boto3
    import pandas as pd
    import yaml

    import raytuner

    _bucket(s3_endpoint, "model-bucket")
    csv = _iris_csv(tmp_path / "iris.csv")
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(_sklearn_spec(str(csv))))
    assert main(["run", str(spec_file), "--json", "--set", "storage.path=s3://model-bucket/exp",
                 "--set", f"storage.endpoint={s3_endpoint}"]) == 0
    ran = json.loads(capsys.readouterr().out)
    exp = ran["experiment_path"]
    refit, ensemble = ran["final"]["refit"], ran["final"]["ensemble"]
    assert refit["path"] == f"{exp}/model" and ensemble["path"] == f"{exp}/ensemble"
    assert {"model.joblib", "model.skops"} <= set(refit["files"])
    keys = {o["Key"] for o in boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(
        Bucket="model-bucket", Prefix="exp/")["Contents"]}
    prefix = exp.removeprefix("s3://model-bucket/")
    for sub in ("model", "ensemble"):
        assert {f"{prefix}/{sub}/{name}" for name in ("model.joblib", "model.json", "spec.yaml")} <= keys

    out = tmp_path / "pred.csv"
    assert main(["predict", "--model", exp, "--endpoint", s3_endpoint, "--data", str(csv), "--out", str(out)]) == 0
    assert "accuracy:" in capsys.readouterr().err
    saved = raytuner.load_model(exp, endpoint=s3_endpoint)
    assert saved.path == f"{exp}/model" and saved.meta["config"] == ran["best"]["config"]
    frame = pd.read_csv(csv)
    expected = saved.model.predict(frame.drop(columns=["species"]))  # the whole pipeline: raw columns in
    assert pd.read_csv(out)["prediction"].tolist() == expected.tolist()

    assert main(["predict", "--model", exp, "--ensemble", "--endpoint", s3_endpoint, "--data", str(csv)]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 151  # header + one row per input row
    assert raytuner.load_model(f"{exp}/model/model.skops", endpoint=s3_endpoint).meta["kind"] == "best"

    # a path with no model is one clear message, exit 2
    assert main(["predict", "--model", "s3://model-bucket/nothing", "--endpoint", s3_endpoint, "--data", str(csv)]) == 2
    assert "s3://model-bucket/nothing holds no model (model.json)" in capsys.readouterr().err


def test_data_from_s3_read_by_validate_and_run(ray_local: None, s3_endpoint: str, aws_env: None, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import boto3
    import yaml

    _bucket(s3_endpoint, "data-bucket")
    csv = _iris_csv(tmp_path / "iris.csv")
    boto3.client("s3", endpoint_url=s3_endpoint).upload_file(str(csv), "data-bucket", "tables/iris.csv")
    body = _sklearn_spec("s3://data-bucket/tables/iris.csv")
    del body["ensemble"]
    spec_file = tmp_path / "spec.yaml"
    spec_file.write_text(yaml.safe_dump(body))

    # validate: the endpoint from the environment, the file read (sample fit) when credentials are here
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_endpoint)
    assert main(["validate", str(spec_file)]) == 0
    assert "sample fit: 105 rows" in capsys.readouterr().out
    assert main(["validate", str(spec_file), "--set", "trainable.data.source=s3://data-bucket/tables/nope.csv"]) == 2
    err = capsys.readouterr().err
    assert "trainable.data.source: got 's3://data-bucket/tables/nope.csv'; expected an existing file" in err
    assert "Traceback" not in err
    assert main(["validate", str(spec_file), "--set", "trainable.data.target=label"]) == 2
    assert "one of the file's columns: sepal_length" in capsys.readouterr().err
    with monkeypatch.context() as m:  # no credentials here: validate says it did not read the file
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            m.delenv(key)
        assert main(["validate", str(spec_file)]) == 0
        assert "not read: no credentials found here" in capsys.readouterr().out

    # run: data and results on S3, the data's endpoint taken from storage.endpoint
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    assert main(["run", str(spec_file), "--json", "--set", "storage.path=s3://data-bucket/results",
                 "--set", f"storage.endpoint={s3_endpoint}"]) == 0
    ran = json.loads(capsys.readouterr().out)
    assert ran["counts"] == {"total": 3, "ok": 3, "error": 0}
    refit = ran["final"]["refit"]
    assert refit["search_rows"] == 105 and refit["holdout_rows"] == 45 and refit["path"].startswith("s3://data-bucket/results/")
    import raytuner

    assert raytuner.read_summary(ran["experiment_path"], endpoint=s3_endpoint).best.trial_id == ran["best"]["trial_id"]
    assert raytuner.load_model(ran["experiment_path"], endpoint=s3_endpoint).meta["data_source"] == "s3://data-bucket/tables/iris.csv"


def test_torch_export_saved_to_s3_loads_back_with_the_search_score(
        ray_local: None, s3_endpoint: str, aws_env: None, tmp_path: Path) -> None:
    """A torch run on S3 storage: its best checkpoint is exported into the bucket, and
    ``load_model("s3://...")`` scores the validation split as the search did."""
    pytest.importorskip("torch")
    import numpy as np
    from sklearn.datasets import load_digits

    import raytuner
    from raytuner.spec.loader import validate_spec
    from raytuner.trainables.torch.data import split_table

    _bucket(s3_endpoint, "torch-bucket")
    csv = tmp_path / "digits.csv"
    load_digits(as_frame=True).frame.rename(columns={"target": "label"}).iloc[:200].to_csv(csv, index=False)
    spec = validate_spec({
        "name": "torch-s3",
        "trainable": {"type": "torch", "data": {"source": str(csv), "target": "label", "task": "classification",
                                                "batch_size": 32},
                      "model": {"type": "mlp", "depth": 1, "width": 16}, "epochs": 2,
                      "optimizer": {"name": "adam", "lr": 0.01}},
        "space": {"optimizer": {"lr": {"type": "float", "low": 0.005, "high": 0.05, "log": True}}},
        "metric": {"name": "val_loss", "scope": "best"},
        "strategy": {"name": "random", "seed": 0},
        "budget": {"trials": 2, "max_concurrent": 2},
        "storage": {"path": "s3://torch-bucket/exp", "endpoint": s3_endpoint},
    })
    summary = raytuner.run(spec, show_progress=False)
    exp = summary.experiment_path
    assert exp.startswith("s3://torch-bucket/exp/torch-s3-") and summary.best is not None
    export = summary.final.export
    assert export.trial_id == summary.best.trial_id and export.saved is not None and export.saved.path == f"{exp}/model"
    saved = raytuner.load_model(exp, endpoint=s3_endpoint)
    assert saved.path == f"{exp}/model" and saved.meta["framework"] == "torch"
    assert saved.meta["epoch"] == summary.best.score_step
    split = split_table(spec.trainable.data, spec.strategy.seed, "classification")
    metrics = saved.model.evaluate(split.X_val, np.asarray(split.classes)[split.y_val])
    assert metrics["val_loss"] == pytest.approx(summary.best.score, rel=1e-5)

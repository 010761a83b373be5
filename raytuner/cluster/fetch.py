"""``raytuner fetch``: a job's experiment directory (finished, failed or stopped) brought here.

Straight from the storage when it is a URI (s3://, gs://...), else through a small ``pack``
job on the head node, which is deleted afterwards (``jobs list`` keeps only the user's
jobs). A stopped or failed job has a partial ``summary.json`` (written as trials finish),
so its finished trials come back too. The fetched summary and model files name where they
are now: the head's local path is replaced by the local directory (an s3:// URI stays: it
is valid everywhere), and a summary left "running" by a job that has ended says "interrupted".
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import tarfile
from pathlib import Path
from typing import Any

from raytuner.cluster.jobs import TERMINAL, Cluster, call, delete_job, info, logs, runtime_env_install, wait
from raytuner.errors import ClusterError

REWRITTEN = ("summary.json", "model/model.json", "ensemble/model.json")


def fetch(cluster: Cluster, job_id: str, dest: str | os.PathLike[str] | None = None, *,
          include_all: bool = False, endpoint: str | None = None) -> Path:
    from raytuner.cluster import remote
    from raytuner.results import storage

    job = info(cluster, job_id)
    if str(job.status) not in TERMINAL:
        raise ClusterError(f"job {job_id} is {job.status}: fetch it once it has finished "
                           f"(`raytuner jobs logs {job_id} --follow` waits, `raytuner jobs stop {job_id}` stops it)")
    result = remote.parse_result(logs(cluster, job_id))
    if result is None:
        raise ClusterError(f"job {job_id} ({job.status}) reported no experiment directory (it ended before "
                           f"its experiment started): see `raytuner jobs logs {job_id}`")
    experiment = str(result["experiment_path"])
    name = experiment.rstrip("/").rsplit("/", 1)[-1]
    target = Path(dest) if dest is not None else Path("results") / name
    if target.exists() and any(target.iterdir()):
        raise ClusterError(f"{target} exists and is not empty: choose another --to")
    endpoint = endpoint or result.get("endpoint")
    if storage.is_uri(experiment):
        location = storage.resolve(experiment, endpoint=endpoint, region=result.get("region"))
        copied = storage.copy_tree(location, target, skip=remote.fetch_skip(include_all))
        if not copied:
            raise ClusterError(f"nothing to fetch at {experiment} (the job {job_id} ended {job.status} "
                               "before writing anything)")
    else:
        _extract(_pack_on_cluster(cluster, job, experiment, include_all), target)
    relocate(target, None if storage.is_uri(experiment) else experiment, ended=True)
    return target


def relocate(target: Path, experiment: str | None, *, ended: bool) -> None:
    """Rewrite the fetched summary and model files: ``experiment`` (the head's local path)
    becomes ``target`` (None: keep paths, e.g. an s3:// URI, valid everywhere); a summary
    still "running" of a job that ended becomes "interrupted"."""
    from raytuner.results.summary import INTERRUPTED, RUNNING

    here = str(target.resolve())
    old = (experiment or "").rstrip("/")

    def move(value: Any) -> Any:
        if old and isinstance(value, str) and (value == old or value.startswith(old + "/")):
            return here + value[len(old):]
        if isinstance(value, list):
            return [move(v) for v in value]
        if isinstance(value, dict):
            return {k: move(v) for k, v in value.items()}
        return value

    for rel in REWRITTEN:
        path = target / rel
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        data = move(data)
        if rel == "summary.json" and isinstance(data, dict) and ended and data.get("state") == RUNNING:
            data["state"] = INTERRUPTED
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, path)


def _pack_on_cluster(cluster: Cluster, job: Any, experiment: str, include_all: bool) -> bytes:
    from raytuner.cluster import remote

    install = (job.metadata or {}).get("raytuner_install", "package")
    argv = ["python", "-m", "raytuner.cluster.remote", "pack", experiment] + (["--all"] if include_all else [])
    runtime_env = runtime_env_install(install, None) if install != "package" else _wheel_env()
    job_id = call(cluster, cluster.client.submit_job, entrypoint=shlex.join(argv),
                  runtime_env=runtime_env or None,
                  submission_id=f"raytuner-fetch-{secrets.token_hex(4)}",
                  metadata={"raytuner_fetch": str(job.submission_id)})
    if runtime_env and "working_dir" in runtime_env:  # uploaded now
        shutil.rmtree(runtime_env["working_dir"], ignore_errors=True)
    try:
        final = wait(cluster, job_id, poll_s=0.3, timeout_s=600)
        text = logs(cluster, job_id)
        if final != "SUCCEEDED":
            tail = "\n".join(text.strip().splitlines()[-5:])
            raise ClusterError(f"could not read {experiment} on the cluster ({final}):\n{tail}")
        try:
            return remote.unpack(text)
        except ValueError as exc:
            raise ClusterError(f"fetching {experiment}: {exc}") from None
    finally:
        delete_job(cluster, job_id)


def _wheel_env() -> dict[str, Any]:
    """The fetch job's environment under --install package: the same wheel and base pins as a job
    without extras (so Ray reuses that environment), in a working dir holding only the wheel."""
    import tempfile

    from raytuner.cluster import install as inst

    shipment = inst.ship(None)
    staging = Path(tempfile.mkdtemp(prefix="raytuner-fetch-"))
    shipment.place(staging)
    return {"working_dir": str(staging), **runtime_env_install("package", shipment)}


def _extract(data: bytes, target: Path) -> None:
    import io
    import tempfile

    with tempfile.TemporaryDirectory() as tmp, tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(tmp, filter="data")  # no absolute paths, no links out, no devices
        tops = list(Path(tmp).iterdir())
        if len(tops) != 1 or not tops[0].is_dir():
            raise ClusterError("fetch: unexpected archive layout from the cluster")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            target.rmdir()
        shutil.move(str(tops[0]), str(target))

"""Sending experiments to a Ray cluster through the Ray Jobs API, and getting them back.

``submit`` packages the working directory (:mod:`raytuner.cluster.workdir`), installs raytuner on
the cluster through the job's runtime_env (see :data:`INSTALL_MODES`), and starts
``python -m raytuner.cluster.remote run SPEC --set ...`` there; the entrypoint is built with
``shlex`` quoting from validated names and the user's overrides, so nothing is
interpreted by the cluster's shell. ``raytuner.cluster.fetch`` brings the results back: straight from the
storage when it is a URI (s3://, gs://...), else through a small ``pack`` job on the head
node. Every request carries the bearer token (:mod:`raytuner.runner.auth`); no output, error or
packaged file ever contains it.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
import re
import secrets
import shlex
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, TextIO

from raytuner.cluster import compat
from raytuner.cluster.install import INSTALL_MODES, runtime_env_install  # noqa: F401 - re-exported
from raytuner.runner import auth
from raytuner.errors import ClusterError, SpecError

TERMINAL = ("SUCCEEDED", "FAILED", "STOPPED")
# `jobs stop`: Ray's supervisor sends SIGINT (Tune's graceful stop, like Ctrl+C) and waits this long
STOP_ENV = {"RAY_JOB_STOP_SIGNAL": "SIGINT", "RAY_JOB_STOP_WAIT_TIME_S": "20"}
EXIT_CODES = {"SUCCEEDED": 0, "FAILED": 1, "STOPPED": 3}
FAILURE_LINES = 25  # lines of a failed job's log shown on the laptop


@dataclass
class Cluster:
    """An authenticated Jobs API client for one address."""

    address: str
    token: auth.Token | None
    client: Any

    def redact(self, text: str) -> str:
        return auth.redact(text, self.token)


def connect(address: str | None, *, token_file: str | None = None, insecure: bool = False,
            ca_cert: str | None = None, retry_s: float = compat.RETRY_S) -> Cluster:
    address = address or os.environ.get("RAY_API_SERVER_ADDRESS") or _http_ray_address()
    url = auth.check_address(address or "", insecure=insecure)
    token = auth.resolve_token(token_file)
    if ca_cert is not None and not Path(ca_cert).expanduser().exists():
        raise ClusterError(f"--ca-cert {ca_cert}: no such file or directory")
    from ray.job_submission import JobSubmissionClient

    verify: Any = str(Path(ca_cert).expanduser()) if ca_cert else True
    try:
        client = compat.retrying(lambda: JobSubmissionClient(url, headers=auth.headers(token), verify=verify),
                                 what=f"connecting to {url}", budget_s=retry_s, on_retry=_say_retry)
    except ClusterError:
        raise
    except Exception as exc:  # noqa: BLE001 - Ray raises ConnectionError/RuntimeError/ValueError
        raise explain(exc, url, token) from None
    return Cluster(url, token, client)


def _http_ray_address() -> str | None:
    value = os.environ.get("RAY_ADDRESS", "")
    return value if value.startswith(("http://", "https://")) else None


def explain(exc: BaseException, url: str, token: auth.Token | None) -> ClusterError:
    """A clear ClusterError for what the Jobs API answered (never echoing the token)."""
    text = auth.redact(str(exc), token)
    kind = _auth_failure(text)
    if kind == 401:
        return ClusterError(
            f"{url} refused the request: 401 Unauthorized, the cluster has token authentication on and no "
            "token was sent. Set RAY_AUTH_TOKEN_PATH (or RAY_AUTH_TOKEN, or --token-file) to the cluster's "
            "token: `ray get-auth-token` on the head node, or the file `raytuner cluster local up` printed."
        )
    if kind == 403:
        source = token.source if token else "nowhere"
        return ClusterError(f"{url} refused the token from {source}: 403 Forbidden (a token of another cluster?)")
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return ClusterError(f"cannot reach the Ray Jobs API at {url}: {first}")


def _auth_failure(text: str) -> int | None:
    """401 / 403 from Ray's messages (not from a port number that happens to contain 401)."""
    if re.search(r"Authentication required|Unauthorized|status code:? 401\b", text):
        return 401
    if re.search(r"Authentication failed|Forbidden|Invalid authentication token|status code:? 403\b", text):
        return 403
    return None


def _say_retry(exc: BaseException, wait: float) -> None:
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
    print(f"(cluster not ready: {first}; retrying in {wait:.1f} s)", file=sys.stderr, flush=True)


def call(cluster: Cluster, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """fn(*args, **kwargs) on the Jobs API: transient errors retried, the rest one clear ClusterError."""
    name = getattr(fn, "__name__", "request")
    try:
        return compat.retrying(lambda: fn(*args, **kwargs), what=f"{name} on {cluster.address}",
                               on_retry=_say_retry)
    except ClusterError:
        raise
    except Exception as exc:  # noqa: BLE001
        text = cluster.redact(str(exc))
        if "does not exist" in text or re.search(r"status code:? 404\b", text):
            job = args[0] if args else "?"
            raise ClusterError(f"no job {job!r} on {cluster.address}") from None
        raise explain(exc, cluster.address, cluster.token) from None


# -- submit --------------------------------------------------------------------------


@dataclass
class Package:
    """What a submission sends: the staged working dir, its files, the entrypoint, runtime_env."""

    submission_id: str
    entrypoint: str
    runtime_env: dict[str, Any]
    files: list[str]
    staging_dir: Path
    metadata: dict[str, str]
    left_out: list[Any] = field(default_factory=list)  # workdir.LeftOut: what stays here, and why


def build_package(
    spec_path: str,
    overrides: Iterable[str] = (),
    *,
    workdir: str | os.PathLike[str] = ".",
    excludes: Iterable[str] = (),
    install: str = "package",
    token: auth.Token | None = None,
    include: Iterable[str] = (),
) -> Package:
    """Validate the spec, stage the working directory, build a quoted entrypoint."""
    from raytuner.spec.loader import load_spec

    overrides = list(overrides)
    root = Path(workdir).resolve()
    if not root.is_dir():
        raise ClusterError(f"--workdir {workdir}: not a directory")
    from raytuner.cluster import install as inst

    inst.check_mode(install)
    spec = load_spec(spec_path, overrides)  # a bad spec or --set fails here, before anything is sent
    shipment = inst.ship(spec) if install == "package" else None
    spec_file = Path(spec_path).resolve()
    from raytuner.cluster import workdir as wd

    results_dirs = {"results"}  # the default results folder, the spec's own and the overridden one
    try:
        paths = [load_spec(spec_path).storage.path, spec.storage.path]
    except SpecError:  # valid only with the overrides
        paths = [spec.storage.path]
    for path in paths:
        results_dirs.update(wd.local_results_dirs(root, path))
    patterns = wd.patterns_for(root, excludes, sorted(results_dirs))
    selection = wd.select(root, patterns, include)
    files = selection.files
    try:
        rel_spec = spec_file.relative_to(root).as_posix()
    except ValueError:
        rel_spec = None
    if rel_spec is not None and rel_spec not in files:
        rel_spec = None  # excluded (e.g. git-ignored): shipped on its own below
    _check_data_shipped(spec, root, files)
    staging = wd.stage(root, files, secret=token.value if token else None)
    if shipment is not None:
        shipment.place(staging)
    if rel_spec is None:  # the spec lies outside the package: ship it next to the files
        rel_spec = f".raytuner-spec/{spec_file.name}"
        if token and token.value.encode() in spec_file.read_bytes():
            shutil.rmtree(staging, ignore_errors=True)
            raise ClusterError(f"{spec_path} contains the cluster's auth token: refusing to package it")
        (staging / ".raytuner-spec").mkdir()
        shutil.copy2(spec_file, staging / rel_spec)
        files.append(rel_spec)
    argv = ["python", "-m", "raytuner.cluster.remote", "run", rel_spec]
    for item in overrides:
        argv += ["--set", item]
    entrypoint = shlex.join(argv)
    if token and token.value in entrypoint:
        shutil.rmtree(staging, ignore_errors=True)
        raise ClusterError("an override contains the cluster's auth token: refusing to submit it")
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    from raytuner.results.versions import __version__

    runtime_env = {"working_dir": str(staging), **runtime_env_install(install, shipment),
                   "excludes": ["__pycache__/", "*.pyc"], "env_vars": dict(STOP_ENV)}
    return Package(
        submission_id=f"raytuner-{spec.name}-{stamp}-{secrets.token_hex(3)}",
        entrypoint=entrypoint,
        runtime_env=runtime_env,
        files=files,
        staging_dir=staging,
        metadata={"raytuner_spec": spec.name, "raytuner_install": install, "raytuner_version": __version__,
                  **({"raytuner_extras": ",".join(shipment.extras)} if shipment else {})},
        left_out=[item for item in selection.left_out if item.path != rel_spec],
    )


def _check_data_shipped(spec: Any, root: Path, files: list[str]) -> None:
    """A data file the spec names by a relative path must travel with the job."""
    data = getattr(spec.trainable, "data", None)
    source = getattr(data, "source", None)
    if not isinstance(source, str) or ":" in source.split("/", 1)[0] or Path(source).is_absolute():
        return  # sklearn:NAME, a URI, or an absolute path on the cluster
    rel = Path(source).as_posix().removeprefix("./")
    if rel not in files:
        state = "excluded from the package (.gitignore, .raytunerignore or --exclude)" if (root / rel).exists() \
            else "missing from the working directory"
        raise SpecError.at("trainable.data.source", source,
                           f"a file that travels with the job; it is {state}: un-ignore it with a '!' "
                           "pattern in .raytunerignore, or put it in shared storage and use that path")


def submit(cluster: Cluster, package: Package) -> str:
    attempts: list[int] = []

    def once() -> Any:
        attempts.append(1)
        try:
            return cluster.client.submit_job(entrypoint=package.entrypoint, runtime_env=package.runtime_env,
                                             submission_id=package.submission_id, metadata=package.metadata)
        except Exception as exc:  # a retried submit whose first try reached the head
            if len(attempts) > 1 and "already exists" in str(exc):
                return package.submission_id
            raise

    once.__name__ = "submit_job"
    try:
        return str(call(cluster, once))
    finally:
        shutil.rmtree(package.staging_dir, ignore_errors=True)


# -- list, status, logs, stop, wait ----------------------------------------------------


HELPER_JOBS = ("raytuner-fetch-", "raytuner-probe-")  # raytuner's own short jobs, deleted after use


def list_jobs(cluster: Cluster) -> list[Any]:
    """The cluster's jobs, newest first. raytuner's helper jobs are deleted after use; one that
    Ray lists again (a deleted job's supervisor can re-create a FAILED entry a moment later) is
    deleted here and not listed."""
    jobs = []
    for job in call(cluster, cluster.client.list_jobs):
        if str(getattr(job, "submission_id", None) or "").startswith(HELPER_JOBS):
            try:
                cluster.client.delete_job(job.submission_id)
            except Exception:  # noqa: BLE001 - best effort: hidden either way
                pass
            continue
        jobs.append(job)
    return sorted(jobs, key=lambda j: j.start_time or 0, reverse=True)


def info(cluster: Cluster, job_id: str) -> Any:
    return call(cluster, cluster.client.get_job_info, job_id)


def status(cluster: Cluster, job_id: str) -> str:
    return str(call(cluster, cluster.client.get_job_status, job_id))


def logs(cluster: Cluster, job_id: str) -> str:
    return cluster.redact(str(call(cluster, cluster.client.get_job_logs, job_id)))


def follow(cluster: Cluster, job_id: str, stream: TextIO | None = None) -> str:
    """Print the job's logs as they come until it ends; return its final status."""
    out = stream or sys.stdout
    info(cluster, job_id)  # a clear error for an unknown job

    async def tail() -> None:
        async for chunk in cluster.client.tail_job_logs(job_id):
            out.write(cluster.redact(chunk))
            out.flush()

    try:
        asyncio.run(tail())
    except ClusterError:
        raise
    except Exception as exc:  # noqa: BLE001 - the websocket closes oddly on some versions
        text = cluster.redact(str(exc))
        if _auth_failure(text):
            raise explain(exc, cluster.address, cluster.token) from None
        print(f"(log stream interrupted: {type(exc).__name__}; waiting for the job to end)", file=sys.stderr)
    return wait(cluster, job_id, poll_s=0.5)


def wait(cluster: Cluster, job_id: str, *, poll_s: float = 1.0, timeout_s: float | None = None) -> str:
    deadline = None if timeout_s is None else time.monotonic() + timeout_s
    while True:
        current = status(cluster, job_id)
        if current in TERMINAL:
            return current
        if deadline is not None and time.monotonic() > deadline:
            raise ClusterError(f"job {job_id} still {current} after {timeout_s:.0f}s")
        time.sleep(poll_s)


def error_lines(log_text: str) -> list[str]:
    """The job's last ``error: ...`` message (with its indented continuation lines), from its logs."""
    lines = log_text.splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith("error: ")]
    if not starts:
        return []
    block = [lines[starts[-1]]]
    for line in lines[starts[-1] + 1:]:
        if not line.startswith((" ", "\t")) or not line.strip():
            break
        block.append(line)
    return block


def failure_block(cluster: Cluster, job_id: str, final: str) -> str:
    """Why a job did not succeed, in one block: its own error message, else what Ray says."""
    if final == "SUCCEEDED":
        return ""
    lines = error_lines(logs(cluster, job_id))
    if not lines:
        message = str(getattr(info(cluster, job_id), "message", "") or "").strip()
        if final == "STOPPED" and not message:
            return ""
        lines = [f"error: {cluster.redact(message)}" if message else "error: the job ended with no message"]
        if "last available logs" not in message:
            lines.append(f"  (see `raytuner jobs logs {job_id}`)")
    return "\n".join([f"job {job_id} {final}:", *(f"  {line}" for line in lines)])


def delete_job(cluster: Cluster, job_id: str, *, timeout_s: float = 30.0) -> bool:
    """Delete a helper job and check it is gone (a job that has just ended may refuse a delete
    for a moment; a still running one is stopped first). True once it no longer exists."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            status = str(cluster.client.get_job_status(job_id))
        except Exception:  # noqa: BLE001 - gone (404) is what we want
            return True
        try:
            if status not in TERMINAL:
                cluster.client.stop_job(job_id)
            else:
                cluster.client.delete_job(job_id)
        except Exception:  # noqa: BLE001 - retried until the deadline
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.3)


def stop(cluster: Cluster, job_id: str) -> bool:
    return bool(call(cluster, cluster.client.stop_job, job_id))

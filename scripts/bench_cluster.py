"""Cluster path timings: local multi-node cluster up/down, submit -> finished, fetch, S3 storage.

    .venv/bin/python scripts/bench_cluster.py [--workers 2] [--trials 4] [--quick] [--json OUT]

Starts its own local cluster (own ports, temp dirs, token; stopped by PID at the end) and its
own moto S3 server on loopback; prints a markdown table (`sections(quick)`, the contract of
scripts/benchlib.py; --quick: 2 trials). Never runs `ray stop`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchlib  # noqa: E402

SPEC = """
name: bench
trainable: {type: function, function: "raytuner.testing:quadratic"}
space: {x: {type: float, low: 0.0, high: 6.0}}
metric: {name: loss, mode: min}
strategy: {name: random, seed: 0}
budget: {trials: TRIALS, max_concurrent: 2}
resources: {cpu: 1, placement: spread}
"""


def timed(rows: list[tuple[str, float, str]], name: str, note: str = ""):  # type: ignore[no-untyped-def]
    @contextlib.contextmanager
    def block():  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        yield
        rows.append((name, time.perf_counter() - start, note))

    return block()


def quiet_main(args: list[str]) -> tuple[int, str]:
    from raytuner.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(args)
    return code, out.getvalue()


def measure(workers: int, trials: int) -> benchlib.Section:
    opts = argparse.Namespace(workers=workers, trials=trials)
    rows: list[tuple[str, float, str]] = []
    work = Path(tempfile.mkdtemp(prefix="rtbench"))
    (work / "spec.yaml").write_text(SPEC.replace("TRIALS", str(opts.trials)))
    state = work / "state"
    from raytuner.cluster import local as cluster_local

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    try:
        with timed(rows, f"cluster local up (head + {opts.workers} workers)", "until every node is registered"):
            cluster = cluster_local.up(state, workers=opts.workers, cpus_per_worker=1)
        os.environ["RAY_AUTH_TOKEN_PATH"] = cluster.token_path
        url = cluster.dashboard_url
        with timed(rows, "first submit --wait on a fresh cluster (cold)", "--install none; workers start"):
            code, out = quiet_main(["submit", str(work / "spec.yaml"), "--address", url, "--workdir", str(work),
                                    "--install", "none", "--wait", "--set", f"storage.path={work / 'res'}"])
        for install in ("none", "package"):
            with timed(rows, f"submit --wait, {opts.trials} trials, --install {install}", "submit to SUCCEEDED"):
                code, out = quiet_main(["submit", str(work / "spec.yaml"), "--address", url, "--workdir", str(work),
                                        "--install", install, "--wait", "--set", f"storage.path={work / 'res'}"])
            if code != 0:
                raise RuntimeError(f"submit --install {install} failed (exit {code}): {out.strip()[-300:]}")
            job = out.splitlines()[0]
        with timed(rows, "fetch (local storage on the head: pack job)", "summary.json + spec.yaml"):
            code, _ = quiet_main(["fetch", job, "--address", url, "--to", str(work / "fetched")])
        if code != 0:
            raise RuntimeError(f"fetch {job} failed (exit {code})")
        with timed(rows, "jobs list", ""):
            quiet_main(["jobs", "list", "--address", url])
        _bench_s3(rows, work, opts.trials)
    finally:
        if (state / "state.json").exists():
            with timed(rows, "cluster local down", "SIGTERM, 3 s grace, SIGKILL, temp dirs removed"):
                cluster_local.down(state)
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return benchlib.Section(
        key="cluster",
        title=f"Cluster path: local cluster (head + {workers} workers), submit, fetch, S3 storage",
        command=f"python scripts/bench_cluster.py --workers {workers} --trials {trials}",
        headers=["step", "seconds", "note"],
        rows=[[name, f"{seconds:.2f}", note] for name, seconds, note in rows],
        notes=["one run of each step (a cluster start per suite run); no goal of issue #15 is measured here."],
    )


def sections(quick: bool, workers: int = 2, trials: int = 4) -> list[benchlib.Section]:
    return [measure(workers, 2 if quick else trials)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--trials", type=int, default=4)
    opts, rest = parser.parse_known_args(argv)
    return benchlib.main(lambda quick: sections(quick, opts.workers, opts.trials), rest)


def _bench_s3(rows: list[tuple[str, float, str]], work: Path, trials: int) -> None:
    """The same run in-process on one local Ray: local storage vs S3 (moto on loopback)."""
    import boto3
    from moto.server import ThreadedMotoServer

    from raytuner.testing import start_test_ray

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    import logging

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    import ray

    temp_dir = start_test_ray(2)
    try:
        endpoint = f"http://127.0.0.1:{port}"
        boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
        spec = str(work / "spec.yaml")
        quiet_main(["run", spec, "--quiet", "--set", f"storage.path={work / 'warm'}"])  # warm-up
        with timed(rows, f"run {trials} trials, local storage (one local Ray)", "in-process"):
            quiet_main(["run", spec, "--quiet", "--set", f"storage.path={work / 'local'}"])
        with timed(rows, f"run {trials} trials, s3:// storage (moto)", "same, through pyarrow S3"):
            code, _ = quiet_main(["run", spec, "--quiet", "--set", "storage.path=s3://bench/exp",
                                  "--set", f"storage.endpoint={endpoint}"])
        if code != 0:
            raise RuntimeError(f"run on s3:// storage failed (exit {code})")
        with timed(rows, "results s3://bench/exp", "newest experiment, read back"):
            quiet_main(["results", "s3://bench/exp", "--endpoint", endpoint])
    finally:
        ray.shutdown()
        import shutil

        shutil.rmtree(temp_dir, ignore_errors=True)
        server.stop()


if __name__ == "__main__":
    sys.exit(main())

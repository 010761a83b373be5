"""CLI commands for clusters: submit, jobs, fetch, cluster local|token. Thin: parse, call, print."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

Register = Callable[[str], Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]]


def _connection(p: argparse.ArgumentParser) -> None:
    p.add_argument("--address", default=None,
                   help="the cluster's dashboard / Jobs API, e.g. http://127.0.0.1:8265 through an SSH tunnel "
                        "(default: $RAY_API_SERVER_ADDRESS)")
    p.add_argument("--token-file", default=None,
                   help="file with the cluster's auth token (default: $RAY_AUTH_TOKEN, $RAY_AUTH_TOKEN_PATH, "
                        "~/.ray/auth_token)")
    p.add_argument("--insecure", action="store_true",
                   help="allow plain http:// to a non-loopback address (token and code travel unencrypted)")
    p.add_argument("--ca-cert", default=None, metavar="PATH",
                   help="CA bundle (file or directory) to verify an https:// dashboard with")


def add_cluster_commands(sub: Any, command: Register) -> None:
    from raytuner.cluster.jobs import INSTALL_MODES

    p = sub.add_parser("submit", help="send a spec to a Ray cluster as a job (Ray Jobs API)")
    p.add_argument("spec", help="experiment spec (YAML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec field on the cluster (repeatable)")
    _connection(p)
    p.add_argument("--workdir", default=".", help="directory packaged as the job's working dir (default: .)")
    p.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                   help="gitignore-like pattern left out of the package (repeatable; .gitignore and "
                        ".raytunerignore are read too)")
    p.add_argument("--include", action="append", default=[], metavar="PATH",
                   help="send a file or folder that would be left out (repeatable); a credential inside a "
                        "folder must be named itself. --dry-run lists what is left out and why")
    p.add_argument("--install", default="package",
                   help="how raytuner gets onto the cluster: " + "; ".join(f"{k}: {v}" for k, v in INSTALL_MODES.items()))
    p.add_argument("--wait", action="store_true", help="follow the logs to the end; exit with the job's status")
    p.add_argument("--dry-run", action="store_true", help="show what would be sent; send nothing")
    command("submit")(_submit)

    p = sub.add_parser("jobs", help="list, inspect, follow or stop jobs on a cluster")
    jobs_sub = p.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    q = jobs_sub.add_parser("list", help="jobs on the cluster, newest first")
    _connection(q)
    q.add_argument("--json", action="store_true")
    for name, text in (("status", "a job's status"), ("logs", "a job's logs"), ("stop", "stop a job")):
        q = jobs_sub.add_parser(name, help=text)
        q.add_argument("job", help="job (submission) id, as `raytuner submit` printed it")
        _connection(q)
        if name == "logs":
            q.add_argument("--follow", "-f", action="store_true", help="keep printing until the job ends")
    command("jobs")(_jobs)

    p = sub.add_parser("fetch", help="bring a job's results (summary, spec, reports, models) here; a stopped or "
                                     "failed job's partial summary too")
    p.add_argument("job")
    _connection(p)
    p.add_argument("--to", default=None, help="local directory (default: results/<experiment>)")
    p.add_argument("--all", action="store_true", help="also Ray Tune's trial folders and checkpoints")
    p.add_argument("--endpoint", default=None, help="S3-compatible endpoint (default: the spec's)")
    command("fetch")(_fetch)

    p = sub.add_parser("cluster", help="local multi-node clusters and auth tokens")
    cluster_sub = p.add_subparsers(dest="cluster_command", required=True, metavar="WHAT")
    local = cluster_sub.add_parser("local", help="a head and N workers on this machine's loopback")
    local.add_argument("action", choices=["up", "down", "status"])
    local.add_argument("--state-dir", default=None,
                       help="where PIDs, addresses and the token are kept (default: $RAYTUNER_CLUSTER_STATE "
                            "or ~/.raytuner/local-cluster)")
    local.add_argument("--workers", type=int, default=2)
    local.add_argument("--cpus", type=int, default=1, help="CPUs per worker")
    local.add_argument("--gpus", type=int, default=0, help="GPUs per worker")
    local.add_argument("--head-cpus", type=int, default=0, help="CPUs of the head (0: trials go to workers)")
    local.add_argument("--python", default=None, metavar="PATH",
                       help="run the nodes with this interpreter's Ray, e.g. a virtualenv holding only "
                            "ray[default,tune] (a vanilla cluster; submit with the default --install package)")
    local.add_argument("--json", action="store_true")
    token = cluster_sub.add_parser("token", help="write a fresh random auth token to a 0600 file")
    token.add_argument("action", choices=["new"])
    token.add_argument("path", help="e.g. cluster/.secrets/auth_token (git-ignored, never packaged)")
    token.add_argument("--force", action="store_true", help="replace an existing token file")
    command("cluster")(_cluster)


def _connect(args: argparse.Namespace) -> Any:
    from raytuner.cluster.jobs import connect

    return connect(args.address, token_file=args.token_file, insecure=args.insecure, ca_cert=args.ca_cert)


def _submit(args: argparse.Namespace) -> int:
    from raytuner.cluster import jobs
    from raytuner.runner import auth

    if args.dry_run:
        package = jobs.build_package(args.spec, args.overrides, workdir=args.workdir, excludes=args.exclude,
                                     install=args.install, token=auth.resolve_token(args.token_file),
                                     include=args.include)
        try:
            env = {k: v for k, v in package.runtime_env.items() if k != "working_dir"}
            print(f"entrypoint: {package.entrypoint}")
            print(f"runtime_env: {json.dumps(env)}")
            print(f"files ({len(package.files)}):")
            for name in package.files:
                print(f"  {name}")
            _print_left_out(package.left_out, sys.stdout)
        finally:
            import shutil

            shutil.rmtree(package.staging_dir, ignore_errors=True)
        return 0
    from raytuner.cluster import install, preflight

    install.check_mode(args.install)
    cluster = _connect(args)
    preflight.check_versions(cluster, args.install)  # before anything is built or uploaded
    package = jobs.build_package(args.spec, args.overrides, workdir=args.workdir, excludes=args.exclude,
                                 install=args.install, token=cluster.token, include=args.include)
    secrets = [item for item in package.left_out if item.kind == "secret"]
    if secrets:
        print(f"left out {len(secrets)} credential file(s): {', '.join(i.path for i in secrets)} "
              "(--dry-run lists everything left out; --include PATH sends one)", file=sys.stderr)
    job_id = jobs.submit(cluster, package)
    print(job_id, flush=True)
    print(f"submitted {job_id} to {cluster.address} ({len(package.files)} files); follow it with "
          f"`raytuner jobs logs {job_id} --follow --address {cluster.address}`", file=sys.stderr)
    if not args.wait:
        return 0
    final = jobs.follow(cluster, job_id)
    print(f"job {job_id}: {final}", file=sys.stderr)
    _print_failure(jobs, cluster, job_id, final)
    return jobs.EXIT_CODES.get(final, 1)


def _print_failure(jobs: Any, cluster: Any, job_id: str, final: str) -> None:
    """Why a job did not succeed, one block: raytuner's own error message when the job printed
    one, else Ray's message and the log's last lines (a job that died before raytuner ran:
    a runtime env that failed to install...); a plain stop prints nothing."""
    if final == "SUCCEEDED":
        return
    from raytuner.cluster import preflight

    own = jobs.error_lines(jobs.logs(cluster, job_id))
    if own or final == "STOPPED":
        block = jobs.failure_block(cluster, job_id, final)
    else:
        block = preflight.failure_report(cluster, job_id)
    if block:
        print(block, file=sys.stderr)


def _print_left_out(left_out: list[Any], stream: Any) -> None:
    print(f"left out ({len(left_out)}):", file=stream)
    for item in left_out:
        print(f"  {item}", file=stream)
    if any(item.kind != "ignored" for item in left_out):
        print("  (send one anyway with --include PATH)", file=stream)


def _jobs(args: argparse.Namespace) -> int:
    from raytuner.cluster import jobs

    cluster = _connect(args)
    action = args.jobs_command
    if action == "list":
        found = jobs.list_jobs(cluster)
        if args.json:
            print(json.dumps([{"job": j.submission_id, "status": str(j.status), "entrypoint": j.entrypoint,
                               "start_time": j.start_time, "end_time": j.end_time, "metadata": j.metadata}
                              for j in found], indent=2))
            return 0
        for j in found:
            spec = (j.metadata or {}).get("raytuner_spec", "-")
            print(f"{j.submission_id or j.job_id}  {str(j.status):<9}  {spec}  {j.entrypoint}")
        if not found:
            print("no jobs", file=sys.stderr)
        return 0
    if action == "status":
        job = jobs.info(cluster, args.job)
        print(f"{args.job}: {job.status}" + (f" ({job.message})" if job.message else ""))
        return 0
    if action == "logs":
        if args.follow:
            final = jobs.follow(cluster, args.job)
            print(f"job {args.job}: {final}", file=sys.stderr)
            _print_failure(jobs, cluster, args.job, final)
            return jobs.EXIT_CODES.get(final, 1)
        sys.stdout.write(jobs.logs(cluster, args.job))
        return 0
    stopped = jobs.stop(cluster, args.job)
    print(f"{args.job}: {'stop requested' if stopped else 'already finished'}")
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from raytuner.cluster.fetch import fetch

    cluster = _connect(args)
    target = fetch(cluster, args.job, args.to, include_all=args.all, endpoint=args.endpoint)
    print(target)
    return 0


def _cluster(args: argparse.Namespace) -> int:
    if args.cluster_command == "token":
        from raytuner.runner.auth import new_token_file

        path = new_token_file(args.path, force=args.force)
        print(f"wrote a new token to {path} (mode 0600); keep it out of git and out of job packages")
        return 0
    from raytuner.cluster import local as cluster_local

    if args.action == "up":
        cluster = cluster_local.up(args.state_dir, workers=args.workers, cpus_per_worker=args.cpus,
                                   gpus_per_worker=args.gpus, head_cpus=args.head_cpus, python=args.python)
        if args.json:
            print(json.dumps(cluster.to_data(), indent=2))
            return 0
        workers = sum(1 for n in cluster.nodes if n.role == "worker")
        print(f"local cluster up: head (GCS {cluster.gcs_address}) and {workers} worker(s) on {cluster_local.LOOPBACK}")
        print(f"dashboard / Jobs API: {cluster.dashboard_url} (token authentication on)")
        if cluster.exposed:
            print(f"warning: {len(cluster.exposed)} of {cluster.sockets_checked} listening sockets are NOT on "
                  f"loopback (reachable from the network):", file=sys.stderr)
            for item in cluster.exposed:
                print(f"  {item}", file=sys.stderr)
        elif cluster.sockets_checked:
            print(f"all {cluster.sockets_checked} listening sockets of the cluster's processes are on loopback")
        else:
            print("listening sockets not checked (no /proc here): Ray may listen beyond loopback", file=sys.stderr)
        print(f"  export RAY_AUTH_TOKEN_PATH={cluster.token_path}")
        print("  export RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0   # only for `raytuner run --address "
              f"{cluster.gcs_address}`: Ray then keeps 127.0.0.1")
        install = "" if args.python else " --install none"  # a vanilla cluster gets raytuner with the job
        print(f"  raytuner submit experiments/quickstart.yaml --address {cluster.dashboard_url}{install} --wait")
        print("  raytuner cluster local down")
        return 0
    if args.action == "down":
        stopped = cluster_local.down(args.state_dir)
        print(f"local cluster down: {len(stopped)} processes stopped")
        return 0
    info = cluster_local.status(args.state_dir)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"dashboard {info['dashboard_url']}: {info['dashboard']}; GCS {info['gcs_address']}; "
          f"token file {info['token_path']}")
    for node in info["nodes"]:
        state = "running" if node["running"] else "stopped"
        print(f"  {node['role']:<7} {node['ip']:<12} pid {node['pid']:<8} {state:<8} "
              f"{node['num_cpus']} CPU  {node['temp_dir']}")
    print(f"nodes Ray reports alive: {', '.join(info['alive_node_ips']) or 'none'}")
    return 0 if all(n["running"] for n in info["nodes"]) else 1

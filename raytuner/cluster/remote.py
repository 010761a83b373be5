"""What a submitted job runs on the cluster (``python -m raytuner.cluster.remote ...``).

``run SPEC [--set K=V ...]``: run the experiment on the job's cluster (``address="auto"``),
print progress and the leaderboard, then one ``RAYTUNER_RESULT {json}`` line saying where
the experiment lies, which ``raytuner fetch`` reads from the job's logs.

``pack DIR [--all]``: print an experiment directory's small files (summary.json, spec.yaml,
reports, models; with ``--all`` also Ray Tune's trial folders) as a base64 tar.gz between
``RAYTUNER_PACK`` markers: how ``raytuner fetch`` brings results back from a cluster whose
storage is a local disk of the head node, through the same authenticated Jobs API.

A relative local ``storage.path`` is taken relative to ``$RAYTUNER_STORAGE_ROOT`` (default:
the home directory) rather than the job's temporary working directory, which Ray deletes.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import sys
import tarfile
from pathlib import Path
from typing import Any, Sequence

PACK_LIMIT = 256 * 2**20  # what `fetch` moves through the Jobs API's log endpoint at most
RESULT_MARKER = "RAYTUNER_RESULT "
PACK_MARKER = "RAYTUNER_PACK "
PACK_END = "RAYTUNER_PACK_END "
# Ray Tune's bookkeeping at the top of an experiment directory: not fetched unless --all
TUNE_INTERNALS = ("tuner.pkl", "experiment_state-", "basic-variant-state-", "search_gen_state-", "searcher-state-",
                  ".validate_storage_marker", "trainable.pkl")


def fetch_skip(include_all: bool):  # type: ignore[no-untyped-def]
    """skip(relpath, is_dir) for the files `raytuner fetch` brings back."""

    def skip(rel: str, is_dir: bool) -> bool:
        if include_all:
            return False
        name = rel.rsplit("/", 1)[-1]
        if is_dir:
            return name.startswith("trial_")
        return any(name == p or (p.endswith("-") and name.startswith(p)) for p in TUNE_INTERNALS)

    return skip


def storage_override(spec: Any) -> list[str]:
    """--set storage.path=... anchoring a relative local path outside the job's working dir."""
    path = spec.storage.path
    if "://" in path or Path(path).expanduser().is_absolute():
        return []
    root = Path(os.environ.get("RAYTUNER_STORAGE_ROOT") or Path.home())
    return [f"storage.path={(root / path).resolve()}"]


def result_line(summary_path: str, spec: Any) -> str:
    data = {"experiment_path": summary_path, "name": spec.name,
            "endpoint": spec.storage.endpoint, "region": spec.storage.region}
    return RESULT_MARKER + json.dumps(data)


def parse_result(logs: str) -> dict[str, Any] | None:
    found = None
    for line in logs.splitlines():
        if line.startswith(RESULT_MARKER):
            try:
                found = json.loads(line[len(RESULT_MARKER):])
            except ValueError:
                continue
    return found


def _run(args: argparse.Namespace) -> int:
    from raytuner.console.summary import print_summary
    from raytuner.errors import ExperimentFailed, RaytunerError
    from raytuner.spec.loader import load_spec
    from raytuner.results.summary import latest_experiment
    from raytuner.runner.experiment import run_experiment, storage_root

    try:
        spec = load_spec(args.spec, args.overrides)
        spec = load_spec(args.spec, [*args.overrides, *storage_override(spec)])
        import raytuner

        print(f"raytuner: running {spec.name} on the cluster; storage {spec.storage.path}; "
              f"raytuner {raytuner.__version__} from {Path(raytuner.__file__).parent}", flush=True)
        _stop_gracefully()
        try:  # the experiment's path is printed before any trial runs: a stopped job can be fetched
            summary = run_experiment(spec, address="auto", progress_stream=sys.stdout,
                                     announce=lambda path: print(result_line(path, spec), flush=True))
        except ExperimentFailed as exc:
            print(f"error: {exc}", file=sys.stderr, flush=True)
            path = latest_experiment(storage_root(spec), spec.name, endpoint=spec.storage.endpoint)
            print(result_line(str(path), spec), flush=True)
            return exc.exit_code
        print_summary(summary, stream=sys.stdout)
        print(result_line(summary.experiment_path, spec), flush=True)
        return 0
    except RaytunerError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return exc.exit_code
    except KeyboardInterrupt:
        print("error: stopped (the partial summary keeps the trials that finished)", file=sys.stderr, flush=True)
        return 130


def _stop_gracefully() -> None:
    """``raytuner jobs stop`` (SIGTERM from Ray's job supervisor) acts as Ctrl+C: Tune stops the
    trials and saves its state, the partial summary is written as "interrupted"."""
    import signal

    signal.signal(signal.SIGTERM, lambda *_: signal.raise_signal(signal.SIGINT))


def pack(directory: str, include_all: bool = False, *, endpoint: str | None = None) -> bytes:
    """A tar.gz of an experiment directory's fetchable files (local or any storage URI)."""
    import tempfile

    from raytuner.results import storage

    location = storage.resolve(directory, endpoint=endpoint)
    if not storage.exists(location):
        raise FileNotFoundError(f"{directory} does not exist on this node")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / Path(location.path).name
        copied = storage.copy_tree(location, root, skip=fetch_skip(include_all))
        size = sum(p.stat().st_size for p in copied)
        if size > PACK_LIMIT:
            raise ValueError(f"{directory} holds {size / 2**20:.0f} MiB to fetch, over the {PACK_LIMIT // 2**20} MiB "
                             "that travel through job logs: use shared storage (s3://...) for such runs")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            tar.add(root, arcname=root.name)
    return buffer.getvalue()


def _pack(args: argparse.Namespace) -> int:
    try:
        data = pack(args.directory, args.all, endpoint=args.endpoint)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    text = base64.b64encode(data).decode()
    out = sys.stdout
    for i in range(0, len(text), 4000):
        out.write(PACK_MARKER + text[i:i + 4000] + "\n")
    out.write(PACK_END + hashlib.sha256(data).hexdigest() + "\n")
    out.flush()
    return 0


def unpack(logs: str) -> bytes:
    """The tar.gz `pack` printed, checked against its digest."""
    chunks, digest = [], None
    for line in logs.splitlines():
        if line.startswith(PACK_MARKER):
            chunks.append(line[len(PACK_MARKER):].strip())
        elif line.startswith(PACK_END):
            digest = line[len(PACK_END):].strip()
    if digest is None:
        raise ValueError("the transfer did not finish (no end marker in the job's logs)")
    data = base64.b64decode("".join(chunks))
    if hashlib.sha256(data).hexdigest() != digest:
        raise ValueError("the transfer is corrupt (digest mismatch)")
    return data


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m raytuner.cluster.remote")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run")
    p.add_argument("spec")
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p = sub.add_parser("pack")
    p.add_argument("directory")
    p.add_argument("--all", action="store_true")
    p.add_argument("--endpoint", default=None)
    args = parser.parse_args(argv)
    return _run(args) if args.command == "run" else _pack(args)


if __name__ == "__main__":
    sys.exit(main())

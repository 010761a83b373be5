"""Fault-injection objectives (#12): trials that say where they run and record every step
they run, so tests can kill drivers and nodes and check what was (not) rerun."""

from __future__ import annotations

import json
import os
from typing import Any, Iterator


def slow_resumable(config: dict[str, Any], state: Any = None) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """`resumable_curve`, `sleep` s a step, saying where it is (node-loss tests).

    Before each step it writes ``<marker_dir>/<trial id>.json``: {node, done} (``done``: the
    step of the newest checkpoint it reported), so a test knows which node to take away.
    """
    import time

    import ray
    from ray import tune

    steps = int(config.get("steps", 20))
    done = int(state["done"]) if state else 0
    marker = os.path.join(config["marker_dir"], f"{tune.get_context().get_trial_id()}.json")
    for step in range(done + 1, steps + 1):
        with open(marker + ".tmp", "w") as f:
            json.dump({"node": ray.util.get_node_ip_address(), "pid": os.getpid(), "done": step - 1}, f)
        os.replace(marker + ".tmp", marker)
        time.sleep(float(config.get("sleep", 0.5)))
        yield {"loss": (float(config["x"]) - 3.0) ** 2 + 10.0 / step, "restored_step": done}, {"done": step}


def recorded_steps(config: dict[str, Any], state: Any = None) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Resume tests: `steps` checkpointed steps of `sleep` s; every step it runs is recorded.

    Appends ``step <n> <resumed_from>`` to ``<record_dir>/<trial_id>.steps`` for each step
    it runs (``resumed_from``: the checkpoint's step it restarted from, 0 on a fresh
    start) and ``end`` when its last step was reported, so a test can tell from the files
    which trials finished, which were running, and that none was rerun; ``recorded``
    reads them back. loss = (x - 3)^2 + 1/step (minimise).
    """
    import time

    from ray import tune

    path = os.path.join(config["record_dir"], f"{tune.get_context().get_trial_id()}.steps")
    steps = int(config.get("steps", 4))
    done = int(state["done"]) if state else 0
    for step in range(done + 1, steps + 1):
        time.sleep(float(config.get("sleep", 0.5)))
        with open(path, "a") as f:
            f.write(f"step {step} {done}\n")
        yield {"loss": (float(config["x"]) - 3.0) ** 2 + 1.0 / step, "resumed_from": done}, {"done": step}
    with open(path, "a") as f:
        f.write("end\n")


def recorded(record_dir: str) -> dict[str, list[str]]:
    """What ``recorded_steps`` trials wrote: trial id -> lines (``step N FROM`` ..., ``end``)."""
    out: dict[str, list[str]] = {}
    for name in sorted(os.listdir(record_dir)):
        if name.endswith(".steps"):
            with open(os.path.join(record_dir, name)) as f:
                out[name[: -len(".steps")]] = f.read().split("\n")[:-1]  # a line being written is dropped
    return out


def tune_state(experiment_dir: str) -> dict[str, tuple[str, int]]:
    """Ray Tune's last saved experiment state (what a resume restores from):
    trial id -> (status, steps reported), or {} before its first save."""
    import glob

    files = sorted(glob.glob(os.path.join(experiment_dir, "experiment_state-*.json")))
    if not files:
        return {}
    try:
        with open(files[-1]) as f:
            data = json.load(f)
    except (OSError, ValueError):  # being replaced
        return {}
    out: dict[str, tuple[str, int]] = {}
    for trial_json, metadata_json in data.get("trial_data", []):
        trial, metadata = json.loads(trial_json), json.loads(metadata_json)
        steps = int((metadata.get("last_result") or {}).get("training_iteration") or 0)
        out[str(trial["trial_id"])] = (str(trial["status"]), steps)
    return out

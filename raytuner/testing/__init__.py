"""Objectives and helpers for tests, conformance suites and benchmarks.

The functions here are importable on every Ray worker (they live in the package),
so specs can name them as ``trainable.function: raytuner.testing:branin``.
"""

from __future__ import annotations

import json
import math
import os
from typing import Any, Iterator

# -- known-optimum benchmark functions (minimise) ------------------------------

BRANIN_MIN = 0.397887
HARTMANN6_MIN = -3.32237


def branin(config: dict[str, Any]) -> dict[str, float]:
    """Branin on x1 in [-5, 10], x2 in [0, 15]; minimum 0.397887."""
    x1, x2 = float(config["x1"]), float(config["x2"])
    a, b, c = 1.0, 5.1 / (4 * math.pi**2), 5 / math.pi
    r, s, t = 6.0, 10.0, 1 / (8 * math.pi)
    value = a * (x2 - b * x1**2 + c * x1 - r) ** 2 + s * (1 - t) * math.cos(x1) + s
    return {"value": value, "regret": value - BRANIN_MIN}


_H_ALPHA = [1.0, 1.2, 3.0, 3.2]
_H_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
_H_P = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
]


def hartmann6(config: dict[str, Any]) -> dict[str, float]:
    """Hartmann 6-d on [0, 1]^6 (keys x0..x5); minimum -3.32237."""
    x = [float(config[f"x{i}"]) for i in range(6)]
    value = 0.0
    for i in range(4):
        inner = sum(_H_A[i][j] * (x[j] - _H_P[i][j]) ** 2 for j in range(6))
        value -= _H_ALPHA[i] * math.exp(-inner)
    return {"value": value, "regret": value - HARTMANN6_MIN}


def rosenbrock(config: dict[str, Any]) -> dict[str, float]:
    """Rosenbrock in as many dimensions as keys x0..x{d-1}; minimum 0."""
    d = sum(1 for k in config if k.startswith("x") and k[1:].isdigit())
    x = [float(config[f"x{i}"]) for i in range(d)]
    value = sum(100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(d - 1))
    return {"value": value, "regret": value}


def schaffer(config: dict[str, Any]) -> dict[str, float]:
    """Schaffer's two objectives, both minimised: f1 = x^2, f2 = (x - 2)^2; Pareto set x in [0, 2]."""
    x = float(config["x"])
    return {"f1": x**2, "f2": (x - 2.0) ** 2}


# -- trivial and misbehaving objectives for tests ------------------------------


def quadratic(config: dict[str, Any]) -> dict[str, float]:
    """(x - 3)^2 + (y or 0): trivial and fast; minimum 0 at x=3."""
    return {"loss": (float(config["x"]) - 3.0) ** 2 + float(config.get("y", 0.0))}


def concurrency(config: dict[str, Any]) -> dict[str, float]:
    """Counts the trials running at once, whatever the machine's speed (concurrency tests).

    Trials share a counter in the directory ``count_dir`` (a file under an exclusive
    lock, so they must run on one machine): +1 on start, -1 on end, and the largest
    value seen is kept. A trial waits (up to ``wait_s``) until ``gather`` trials have
    been running at once, then holds ``hold`` seconds, so a cap of ``gather`` is
    reached however slowly trials start. Reports ``running_at_start`` and
    ``most_at_once`` (the largest count seen so far); ``concurrency_record`` reads it back.
    """
    import time

    path = os.path.join(config["count_dir"], "concurrency.json")

    def update(delta: int) -> dict[str, int]:
        import fcntl

        with open(path + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = concurrency_record(config["count_dir"])
                state["now"] += delta
                state["most"] = max(state["most"], state["now"])
                with open(path, "w") as f:
                    json.dump(state, f)
                return state
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    started = update(+1)
    try:
        gather = int(config.get("gather", 1))
        deadline = time.monotonic() + float(config.get("wait_s", 60.0))
        while update(0)["most"] < gather and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(float(config.get("hold", 0.2)))
    finally:
        ended = update(-1)
    return {"loss": float(config.get("x", 0.0)), "running_at_start": started["now"], "most_at_once": ended["most"]}


def concurrency_record(count_dir: str) -> dict[str, int]:
    """What ``concurrency`` trials recorded in ``count_dir``: {"now": running, "most": most at once}."""
    try:
        with open(os.path.join(count_dir, "concurrency.json")) as f:
            return {k: int(v) for k, v in json.load(f).items()}
    except FileNotFoundError:
        return {"now": 0, "most": 0}


def trivial(config: dict[str, Any]) -> dict[str, float]:
    """The cheapest possible trial: for overhead benchmarks."""
    return {"score": float(config.get("x", 0.0))}


def curve(config: dict[str, Any]) -> Iterator[dict[str, float]]:
    """A learning curve: loss decays towards (x - 3)^2 over `steps` reports (`sleep` s each)."""
    import time

    steps = int(config.get("steps", 5))
    final = (float(config["x"]) - 3.0) ** 2
    for step in range(1, steps + 1):
        time.sleep(float(config.get("sleep", 0.0)))
        yield {"loss": final + 10.0 / step, "step": step}


def resumable_curve(config: dict[str, Any], state: Any = None) -> Iterator[tuple[dict[str, float], dict[str, Any]]]:
    """`curve` with checkpoints: loss decays towards (x - 3)^2 + offset; resumes from `state`.

    Reports `restored_step` (the step the trial resumed from, 0 on a fresh start).
    """
    steps = int(config.get("steps", 5))
    final = (float(config["x"]) - 3.0) ** 2 + float(config.get("offset", 0.0))
    done = int(state["done"]) if state else 0
    for step in range(done + 1, steps + 1):
        yield {"loss": final + 10.0 / step, "restored_step": done}, {"done": step}


def growth(config: dict[str, Any], state: Any = None) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """A population-training objective: `score` grows by `rate` per step (maximise).

    The state carries the score, the steps done, the trial that wrote it and the
    lineage of (re)starts: each start appends {me, from, step, score, rate} (``from``:
    the trial whose checkpoint it restored). The lineage is reported as JSON in
    ``history`` so tests can check a PBT clone continued from the donor's state.
    """
    from ray import tune

    me = str(tune.get_context().get_trial_id())
    steps = int(config.get("steps", 12))
    rate = float(config["rate"])
    score = float(state["score"]) if state else 0.0
    done = int(state["done"]) if state else 0
    history = list(state["history"]) if state else []
    history.append({"me": me, "from": state["writer"] if state else "", "step": done, "score": score, "rate": rate})
    text = json.dumps(history)
    for step in range(done + 1, steps + 1):
        score += rate
        yield {"score": score, "history": text}, {"score": score, "done": step, "writer": me, "history": history}


def flat(config: dict[str, Any]) -> Iterator[dict[str, float]]:
    """A learning curve that never moves: `loss` = x for `steps` reports (plateau tests)."""
    for step in range(1, int(config.get("steps", 10)) + 1):
        yield {"loss": float(config["x"]), "step": step}


def nan_when_negative(config: dict[str, Any]) -> dict[str, float]:
    """Reports NaN for x < 0: searchers must survive it."""
    x = float(config["x"])
    return {"loss": float("nan") if x < 0 else (x - 3.0) ** 2}


def fail_when_negative(config: dict[str, Any]) -> dict[str, float]:
    """Raises for x < 0: failed trials must be reported, not crash the search."""
    x = float(config["x"])
    if x < 0:
        raise ValueError(f"x={x} is negative")
    return {"loss": (x - 3.0) ** 2}


def always_fails(config: dict[str, Any]) -> dict[str, float]:
    raise RuntimeError("this objective always fails")


def fail_once(config: dict[str, Any]) -> dict[str, float]:
    """Fails the first time it runs for a given marker directory, then succeeds (retry tests)."""
    marker = os.path.join(config["marker_dir"], f"ran-{config['x']}")
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("transient failure")
    return {"loss": float(config["x"])}


def _count_run(config: dict[str, Any]) -> int:
    """Append one line to ``count_dir``/runs-<x> for this run of a trial; the runs so far."""
    path = os.path.join(config["count_dir"], f"runs-{config.get('x', 0)}")
    with open(path, "a") as f:
        f.write("run\n")
    with open(path) as f:
        return sum(1 for _ in f)


def raises(config: dict[str, Any]) -> dict[str, float]:
    """Counts its runs (``count_dir``), then raises ``config["error"]`` (a builtin exception's
    name, or ``SpecError``) with a message naming x; reports ``loss`` = x when ``error`` is
    none (retry-policy tests: an error a retry cannot fix must run once)."""
    _count_run(config)
    name = config.get("error")
    x = config.get("x", 0)
    if name == "SpecError":
        from raytuner.errors import SpecError

        raise SpecError.at("trainable.params.x", x, "a value this objective accepts")
    if name:
        import builtins

        raise getattr(builtins, name)(f"x={x} is not accepted")
    return {"loss": float(x)}


def flaky_connection(config: dict[str, Any]) -> dict[str, float]:
    """Counts its runs (``count_dir``); the first run of each x raises ConnectionError (transient), later ones report loss = x."""
    if _count_run(config) == 1:
        raise ConnectionError("connection reset (injected, transient)")
    return {"loss": float(config.get("x", 0))}


def bad_metric(config: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """A learning curve (``loss`` = x + 1/step, ``steps`` reports) whose report at step
    ``bad_at`` is bad when ``bad`` is set: ``nan``, ``inf``, ``-inf`` (a float), ``missing``
    (no loss), ``string`` (loss is a str) or ``none`` (loss is None); ``raise`` raises
    ValueError there instead. Metrics-rule tests."""
    x = float(config.get("x", 0.0))
    bad, bad_at = config.get("bad"), int(config.get("bad_at", 2))
    for step in range(1, int(config.get("steps", 4)) + 1):
        metrics: dict[str, Any] = {"loss": x + 1.0 / step, "step": step}
        if bad and step == bad_at:
            if bad == "raise":
                raise ValueError(f"x={x}: bad input at step {step}")
            if bad in ("nan", "inf", "-inf"):
                metrics["loss"] = float(bad)
            elif bad == "missing":
                del metrics["loss"]
            elif bad == "string":
                metrics["loss"] = "oops"
            elif bad == "none":
                metrics["loss"] = None
        yield metrics


def bad_metric_checkpointed(config: dict[str, Any], state: Any = None) -> Iterator[tuple[dict[str, Any], dict[str, int]]]:
    """``bad_metric`` with a checkpoint per step (population-based training tests)."""
    done = int(state["done"]) if state else 0
    for metrics in bad_metric(config):
        if metrics["step"] > done:
            yield metrics, {"done": metrics["step"]}


def where(config: dict[str, Any]) -> dict[str, Any]:
    """Reports the node it runs on and the nodes of ``tasks`` Ray tasks it starts (placement tests)."""
    import time

    import ray

    @ray.remote(num_cpus=float(config.get("task_cpus", 1.0)))
    def node_of_task() -> tuple[str, str]:
        time.sleep(float(config.get("sleep", 0.0)))
        return ray.util.get_node_ip_address(), ray.get_runtime_context().get_node_id()

    found = ray.get([node_of_task.remote() for _ in range(int(config.get("tasks", 1)))])
    return {"loss": float(config.get("x", 0.0)), "trial_node": ray.util.get_node_ip_address(),
            "task_nodes": ",".join(sorted(ip for ip, _ in found)),
            # nodes sharing one IP (`cluster local`: all on 127.0.0.1) differ by id
            "trial_node_id": ray.get_runtime_context().get_node_id(),
            "task_node_ids": ",".join(sorted(node for _, node in found))}


# -- Ray for tests ------------------------------------------------------------


def start_test_ray(num_cpus: int = 2) -> str:
    """Start the one local Ray a test session shares; returns its temp dir. A local Ray this
    process started and kept (``raytuner.runner.session``: a run before the fixture) is
    shut down first."""
    from raytuner.runner.session import quiet_ray, start_local_ray, stop_local_ray

    stop_local_ray()
    with quiet_ray():  # Ray's processes start quiet; this process is left as it was
        return start_local_ray(num_cpus, prefix="rtt")


# -- torch trainable helpers (torch is imported only when called) ----------------


def flaky_torch_model(config: dict[str, Any]) -> Any:
    """An MLP (for `model: {type: build}`) whose first attempt fails after
    `fail_after_batches` training batches; a marker file in `marker_dir` makes the
    retry succeed (failure-retry and restore tests)."""
    from torch import nn

    marker = os.path.join(config["marker_dir"], "failed-once")
    limit = int(config.get("fail_after_batches", 0))

    class Flaky(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.1), nn.Linear(32, 10))
            self.calls = 0

        def forward(self, x: Any) -> Any:
            if self.training:
                self.calls += 1
                if limit and self.calls > limit and not os.path.exists(marker):
                    open(marker, "w").close()
                    raise RuntimeError("injected failure (flaky_torch_model)")
            return self.net(x)

    return Flaky()

"""Per-trial overhead: raytuner (Ray Tune trials, and batched) against raw Ray Tune (default
and tuned), Optuna in-process, a plain loop (the floor) and the theoretical minimum
(trials x length / cores); then the batched path alone on 1,000 trivial trials: the whole
run with the actor pool started by it, the second run of the process on the pool kept warm
(``execution.warm_s``), and the marginal cost of one more trial on that warm pool.

    python scripts/bench_overhead.py [--quick] [--json OUT]

Every contender runs the same objective (``raytuner.testing:curve``: ``reports`` reports,
``length / reports`` seconds of sleep each) with random search. Ray is started once, before
any timing; contenders are interleaved within each repeat; medians and the range of the
repeats are reported.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")

import benchlib  # noqa: E402

CORES = 2


def _objective(config: dict) -> list[dict]:
    from raytuner.testing import curve

    return list(curve(config))


def plain_loop(trials: int, length: float, reports: int, storage: str) -> float:
    import random

    start = time.perf_counter()
    rng = random.Random(0)
    for _ in range(trials):
        _objective({"x": rng.uniform(0, 6), "steps": reports, "sleep": length / reports})
    return time.perf_counter() - start


def optuna_in_process(trials: int, length: float, reports: int, storage: str) -> float:
    import optuna

    from raytuner.testing import curve

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial: optuna.Trial) -> float:
        value = 0.0
        for step, row in enumerate(curve({"x": trial.suggest_float("x", 0, 6), "steps": reports, "sleep": length / reports})):
            trial.report(row["loss"], step)
            value = row["loss"]
        return value

    start = time.perf_counter()
    study.optimize(objective, n_trials=trials, n_jobs=CORES if length else 1)
    return time.perf_counter() - start


def _raw_tune(trials: int, length: float, reports: int, storage: str, reuse: bool) -> float:
    from ray import tune

    from raytuner.testing import curve

    def trainable(config: dict) -> None:
        for row in curve(config):
            tune.report(row)

    start = time.perf_counter()
    tune.Tuner(
        trainable,
        param_space={"x": tune.uniform(0, 6), "steps": reports, "sleep": length / reports},
        tune_config=tune.TuneConfig(metric="loss", mode="min", num_samples=trials, reuse_actors=reuse),
        run_config=tune.RunConfig(name=f"raw-{time.time_ns()}", storage_path=storage, verbose=0),
    ).fit()
    return time.perf_counter() - start


def raw_tune_default(trials: int, length: float, reports: int, storage: str) -> float:
    return _raw_tune(trials, length, reports, storage, reuse=False)


def raw_tune_tuned(trials: int, length: float, reports: int, storage: str) -> float:
    return _raw_tune(trials, length, reports, storage, reuse=True)


def _raytuner(trials: int, length: float, reports: int, storage: str, execution: dict) -> float:
    import raytuner

    spec = {
        "name": "overhead",
        "trainable": {"type": "function", "function": "raytuner.testing:curve",
                      "params": {"steps": reports, "sleep": length / reports}},
        "space": {"x": {"type": "float", "low": 0, "high": 6}},
        "metric": {"name": "loss", "mode": "min"},
        "budget": {"trials": trials},
        "storage": {"path": storage},
        "history": {"record": False},
        "execution": execution,
    }
    start = time.perf_counter()
    summary = raytuner.run(spec, show_progress=True, progress_stream=open(os.devnull, "w"))
    elapsed = time.perf_counter() - start
    if summary.counts["ok"] != trials:
        raise RuntimeError(f"raytuner: {summary.counts}")
    return elapsed


def raytuner_tune(trials: int, length: float, reports: int, storage: str) -> float:
    return _raytuner(trials, length, reports, storage, {"batch": "off"})


def raytuner_batched(trials: int, length: float, reports: int, storage: str) -> float:
    """batch auto; the actor pool is started by the run (a cold pool: its boot is in the figure)."""
    return _raytuner(trials, length, reports, storage, {"batch": "auto"})


WARM = {"batch": "auto", "warm_s": 600}  # the pool outlives the run, for the next batched run of the process


def raytuner_batched_warm(trials: int, length: float, reports: int, storage: str) -> float:
    """batch auto, the second run of the process: a first (untimed) run leaves the pool warm;
    released after (its actors hold every CPU, which raw Ray Tune's trials would wait for)."""
    from raytuner.runner.batched import release_pool

    _raytuner(trials, length, reports, storage, WARM)
    try:
        return _raytuner(trials, length, reports, storage, WARM)
    finally:
        release_pool()


CONTENDERS = {
    "plain loop (floor, 1 core)": plain_loop,
    "Optuna in-process": optuna_in_process,
    "raw Ray Tune default": raw_tune_default,
    "raw Ray Tune tuned (reuse_actors)": raw_tune_tuned,
    "raytuner (Tune trials)": raytuner_tune,
    "raytuner batched (auto, pool started per run)": raytuner_batched,
    "raytuner batched (auto, pool kept warm: second run)": raytuner_batched_warm,
}
BATCHED_ONLY = 0.1  # trials this long or longer run as Tune trials under batch auto (runner.batched.AUTO_LIMIT_S)


def batched_steady(trials: int, repeats: int, storage: str) -> tuple[list[list[str]], dict[str, float]]:
    """The batched path on ``trials`` trivial trials, per repeat: the whole run with the pool
    started by it (released before), the second run on the pool it left warm, and a run of a
    tenth as many trials on the warm pool; the marginal cost of a trial is the difference of
    the two warm runs over the difference of their trial counts."""
    from raytuner.runner.batched import release_pool

    small = max(1, trials // 10)
    cold: list[float] = []
    warm: list[float] = []
    marginal: list[float] = []
    for _ in range(repeats):
        release_pool()
        cold.append(_raytuner(trials, 0.0, 1, storage, WARM))
        warm.append(_raytuner(trials, 0.0, 1, storage, WARM))
        few = _raytuner(small, 0.0, 1, storage, WARM)
        marginal.append((warm[-1] - few) / (trials - small))
    release_pool()
    label = f"{trials} x 0 s, 1 report"
    rows = [
        [label, "whole run, pool started by the run", benchlib.median_spread(cold),
         f"{1000 * benchlib.median(cold) / trials:.2f}"],
        [label, "second run, pool kept warm (execution.warm_s)", benchlib.median_spread(warm),
         f"{1000 * benchlib.median(warm) / trials:.2f}"],
        [label, f"marginal trial on the warm pool ({trials} vs {small} trials)", "—",
         f"{1000 * benchlib.median(marginal):.2f} ({1000 * min(marginal):.2f}–{1000 * max(marginal):.2f})"],
    ]
    figures = {"cold": 1000 * benchlib.median(cold) / trials, "warm": 1000 * benchlib.median(warm) / trials,
               "marginal": 1000 * benchlib.median(marginal)}
    return rows, figures


def sections(quick: bool) -> list[benchlib.Section]:
    import ray

    from raytuner.runner.batched import release_pool
    from raytuner.testing import start_test_ray

    cases = [(40, 0.0, 1), (20, 0.1, 1)] if quick else [
        (100, 0.0, 1), (100, 0.0, 100), (40, 0.1, 1), (40, 0.1, 100), (10, 1.0, 1), (10, 1.0, 100)]
    repeats = 2 if quick else 3
    skip_default = quick  # raw Tune without reuse_actors costs ~1 s per trial here
    temp = start_test_ray(CORES)
    storage = tempfile.mkdtemp(prefix="rtbench")
    rows: list[list[str]] = []
    per_trial: dict[tuple[str, tuple], float] = {}
    try:
        for case in cases:
            trials, length, reports = case
            times: dict[str, list[float]] = {name: [] for name in CONTENDERS}
            for _ in range(repeats):
                for name, fn in CONTENDERS.items():
                    if name == "raw Ray Tune default" and (skip_default or trials > 40):
                        continue
                    if fn is raytuner_batched_warm and length >= BATCHED_ONLY:
                        continue  # auto runs such trials as Tune trials: the row above
                    times[name].append(fn(trials, length, reports, storage))
            release_pool()
            floor = trials * length / CORES
            base = benchlib.median(times["raw Ray Tune tuned (reuse_actors)"])
            for name, values in times.items():
                if not values:
                    why = "not run (Tune trials under auto)" if "warm" in name else "not run (too slow)"
                    rows.append([f"{trials} x {length:g} s, {reports} report(s)", name, "—", "—", why])
                    continue
                med = benchlib.median(values)
                per_trial[(name, case)] = 1000 * (med - floor) / trials
                rows.append([f"{trials} x {length:g} s, {reports} report(s)", name, benchlib.median_spread(values),
                             f"{1000 * (med - floor) / trials:.2f}", benchlib.ratio(med, base)])
            rows.append([f"{trials} x {length:g} s, {reports} report(s)", "theoretical minimum", f"{floor:.2f} s", "0", "—"])
        steady_rows, steady = batched_steady(1000, repeats, storage)
    finally:
        release_pool()
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(storage, ignore_errors=True)

    trivial = cases[0]
    ours = per_trial.get(("raytuner (Tune trials)", trivial), float("nan"))
    raw = per_trial.get(("raw Ray Tune tuned (reuse_actors)", trivial), float("nan"))
    batched = per_trial.get(("raytuner batched (auto, pool started per run)", trivial), float("nan"))
    warm = per_trial.get(("raytuner batched (auto, pool kept warm: second run)", trivial), float("nan"))
    notes = [
        benchlib.goal(ours <= raw, f"raytuner Tune trials {ours:.1f} ms per trivial trial against raw Ray Tune tuned "
                      f"{raw:.1f} ms ({ours / raw:.2f}x; goal <= 1.0x). To close: fewer per-result callbacks "
                      "(progress, partial summary, fault log), TUNE_GLOBAL_CHECKPOINT_S adaptive, smaller result dicts"),
        f"batched path, {trivial[0]} trivial trials per run: {batched:.2f} ms per trial when the run starts the actor "
        f"pool (its boot spread over {trivial[0]} trials), {warm:.2f} ms on the pool kept warm (execution.warm_s); "
        "1,000 trials: the table below.",
        "ms per trial = (median wall time - theoretical minimum) / trials; ratio = median wall / raw Ray Tune tuned.",
    ]
    steady_notes = [
        benchlib.goal(steady["warm"] <= 5.0,
                      f"goal 3 batched path: {steady['warm']:.2f} ms per trivial trial on an actor pool kept warm "
                      "(execution.warm_s; the second run of 1,000 trials in the process, plan, trial files and summary "
                      f"included; marginal trial {steady['marginal']:.2f} ms; goal <= 5 ms); a run that starts its own "
                      f"pool: {steady['cold']:.2f} ms per trial over 1,000 trials. Judged on the warm pool: the issue asks "
                      "the batched path ('or an actor pool kept warm') at <= 5 ms per trivial trial; a cold run adds the "
                      "pool's boot (Ray starts a worker process per CPU, which imports raytuner). To close (cold runs): "
                      "a pool kept warm across processes by the raytuner session (detached actors), so no run boots one"),
        "marginal = (warm run of 1,000 - warm run of 100) / 900: what one more trial costs the driver (searcher, "
        "result processing, trial files on a writer thread) with the actors warm. Most of it is the file system "
        "creating a directory and three files per trial (0.1-0.5 ms each on a busy VM's ext4; with the storage on "
        "tmpfs the warm run measured 0.26 ms per trial).",
    ]
    return [benchlib.Section(
        key="overhead",
        title="Per-trial overhead (2 CPUs, local Ray started once)",
        command=f"python scripts/bench_overhead.py{' --quick' if quick else ''}",
        headers=["trials x length, reports", "contender", "wall (median, range)", "ms per trial over minimum", "vs raw Tune tuned"],
        rows=rows,
        notes=notes,
    ), benchlib.Section(
        key="overhead-batched",
        title="Batched path, 1,000 trivial trials: whole run and steady state (2 CPUs, local Ray started once)",
        command=f"python scripts/bench_overhead.py{' --quick' if quick else ''}",
        headers=["trials x length, reports", "batched run", "wall (median, range)", "ms per trial"],
        rows=steady_rows,
        notes=steady_notes,
    )]


if __name__ == "__main__":
    sys.exit(benchlib.main(sections))

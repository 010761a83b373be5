"""Per-trial overhead: raytuner vs raw Ray Tune (best settings) vs Optuna in-process.

    .venv/bin/python scripts/bench_overhead.py [--trials 100] [--repeats 2]

All three run the same trivial objective (raytuner.testing.trivial) N times with random
search. Ray is started once, before any timing; each Ray-based run is timed from the
Tuner's construction to its results (raytuner: run_experiment, including its summary and
progress view). Runs alternate to share warm-up; the best of the repeats is reported.
Prints a markdown table of seconds per trial and the ratios.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")


def raw_ray_tune(trials: int, storage: str) -> float:
    from ray import tune

    from raytuner.testing import trivial

    def trainable(config: dict) -> None:
        tune.report(trivial(config))

    start = time.perf_counter()
    tuner = tune.Tuner(
        trainable,
        param_space={"x": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(metric="score", mode="max", num_samples=trials, reuse_actors=True),
        run_config=tune.RunConfig(name=f"raw-{time.time_ns()}", storage_path=storage, verbose=0),
    )
    tuner.fit()
    return time.perf_counter() - start


def via_raytuner(trials: int, storage: str) -> float:
    import raytuner

    spec = {
        "name": "overhead",
        "trainable": {"type": "function", "function": "raytuner.testing:trivial"},
        "space": {"x": {"type": "float", "low": 0, "high": 1}},
        "metric": {"name": "score", "mode": "max"},
        "budget": {"trials": trials},
        "storage": {"path": storage},
    }
    start = time.perf_counter()
    summary = raytuner.run(spec, show_progress=True, progress_stream=open(os.devnull, "w"))
    elapsed = time.perf_counter() - start
    assert summary.counts["ok"] == trials
    return elapsed


def optuna_in_process(trials: int) -> float:
    import optuna

    from raytuner.testing import trivial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    start = time.perf_counter()
    study.optimize(lambda t: trivial({"x": t.suggest_float("x", 0, 1)})["score"], n_trials=trials)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    import ray

    from raytuner.testing import start_test_ray

    temp = start_test_ray(2)
    storage = tempfile.mkdtemp(prefix="rtbench")
    times: dict[str, list[float]] = {"raw Ray Tune (reuse_actors)": [], "raytuner": [], "Optuna in-process": []}
    try:
        for _ in range(args.repeats):
            times["raw Ray Tune (reuse_actors)"].append(raw_ray_tune(args.trials, storage))
            times["raytuner"].append(via_raytuner(args.trials, storage))
            times["Optuna in-process"].append(optuna_in_process(args.trials))
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(storage, ignore_errors=True)

    raw = min(times["raw Ray Tune (reuse_actors)"])
    print(f"\n{args.trials} trivial trials, best of {args.repeats}, 2 CPUs, local Ray\n")
    print("| runner | seconds (best) | seconds (median) | ms per trial | vs raw Ray Tune |")
    print("|---|---:|---:|---:|---:|")
    for name, values in times.items():
        best = min(values)
        print(f"| {name} | {best:.2f} | {statistics.median(values):.2f} | {1000 * best / args.trials:.2f} | {best / raw:.3f}x |")


if __name__ == "__main__":
    main()

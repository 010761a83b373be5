"""Early stopping on a digits classifier: raytuner FIFO vs ASHA, Optuna with pruners,
scikit-learn's HalvingRandomSearchCV. Prints markdown tables.

    .venv/bin/python scripts/bench_early_stopping.py                 # 3 seeds, about 3 minutes
    .venv/bin/python scripts/bench_early_stopping.py --quick         # 1 seed, fifo/asha/optuna-sha, small MLP
    .venv/bin/python scripts/bench_early_stopping.py --json out.json # also the sections for scripts/bench.py
    .venv/bin/python scripts/bench_early_stopping.py --hidden 64 --trials 20 --epochs 18 --target 0.97  # the small task

The task: an MLPClassifier (2 x 256 hidden units by default) on scikit-learn's digits, trained with
partial_fit, one epoch per step, up to --steps epochs, scored on a stratified holdout
(the first of 5 shuffled folds: raytuner's ``fidelity: {kind: epochs, validation:
holdout}``). Every method gets the same space (learning_rate_init, alpha, batch_size),
the same number of sampled configs (--trials), the same split and the same 2-way
parallelism. The default target (0.99) is one few configs reach: with an easy target
(0.97, 0.98) the first config reaches it and time to target measures start-up alone.

* raytuner fifo / asha: random strategy, 2 concurrent trials on a local Ray
  (started once, not timed), a checkpoint per step;
* Optuna: RandomSampler (so the pruner is what differs), SuccessiveHalvingPruner or
  HyperbandPruner, n_jobs=2 threads, in-process;
* HalvingRandomSearchCV: resource = max_iter (epochs, from scratch per rung),
  min 2, factor 3, the same holdout split, n_jobs=2 threads.

In-process methods run with one BLAS thread per worker thread (threadpoolctl), as
Ray's trial workers do (OMP_NUM_THREADS=1): otherwise 2 threads x N BLAS threads
oversubscribe the cores and the comparison measures that instead.

Time to target: wall-clock seconds from the start of the search until any reported
score (any step of any trial) first reaches --target; "-" if it never did. Steps:
epochs trained in total. A method that never reaches the target counts its full time.
"First report" is the fixed start-up cost (for raytuner: starting the trainable's
worker processes in each Tuner.fit, with the local Ray already running); the last
column subtracts it, to show the scheduling effect alone.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT))

import benchlib  # noqa: E402

SPACE_LR = (1e-5, 1e-1)
SPACE_ALPHA = (1e-6, 1e-1)
BATCH_SIZES = [32, 64, 128, 256]
HIDDEN = [256, 256]  # hidden layer sizes (--hidden)
_LOCK = threading.Lock()  # Optuna and halving observe from 2 threads


@dataclass
class Run:
    method: str
    seed: int
    target: float
    start: float = field(default_factory=time.perf_counter)
    reached_s: float | None = None
    first_s: float | None = None  # the first score reported: start-up cost (Ray: trainable workers)
    steps: int = 0
    best: float = -math.inf
    total_s: float = 0.0

    def observe(self, score: float, steps: int = 1) -> None:
        with _LOCK:
            self.steps += steps
            if self.first_s is None:
                self.first_s = time.perf_counter() - self.start
            self.best = max(self.best, score)
            if self.reached_s is None and score >= self.target:
                self.reached_s = time.perf_counter() - self.start

    def finish(self) -> "Run":
        self.total_s = time.perf_counter() - self.start
        return self


def sample_configs(seed: int, n: int) -> list[dict[str, Any]]:
    """The same n configs for raytuner and Optuna, so the scheduler/pruner is what differs."""
    rng = np.random.default_rng(seed)
    return [
        {
            "learning_rate_init": float(np.exp(rng.uniform(*np.log(SPACE_LR)))),
            "alpha": float(np.exp(rng.uniform(*np.log(SPACE_ALPHA)))),
            "batch_size": int(rng.choice(BATCH_SIZES)),
        }
        for _ in range(n)
    ]


def holdout(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    from raytuner.trainables.sklearn.estimator import make_splits
    from raytuner.trainables.sklearn.setup import CVSetup

    X, y = load_digits(return_X_y=True)
    train, test = make_splits(CVSetup(folds=5, shuffle=True, stratified=True, seed=seed), X, y)[0]
    return X, y, X[train], y[train], X[test], y[test]


# -- raytuner -------------------------------------------------------------------

_RUNS: dict[str, Run] = {}  # the Tuner pickles its callbacks: keep the Run outside


def _timer_class() -> type:
    from ray.tune import Callback

    class Timer(Callback):
        def __init__(self, per_step: int) -> None:
            self.per_step = per_step

        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
            import sys  # looked up at call time: the Tuner pickles this class by value

            module = sys.modules.get("bench_early_stopping") or sys.modules["__main__"]
            module._RUNS["current"].observe(float(result["accuracy"]), steps=self.per_step)

    return Timer


def raytuner_spec(scheduler: dict[str, Any], seed: int, trials: int, steps: int, per_step: int,
                  storage: str) -> dict[str, Any]:
    return {
        "name": f"bench-{scheduler['name']}",
        "trainable": {
            "type": "sklearn",
            "estimator": "sklearn.neural_network.MLPClassifier",
            "params": {"hidden_layer_sizes": list(HIDDEN)},
            "data": {"source": "sklearn:digits"},
            "cv": {"folds": 5},
            "fidelity": {"kind": "epochs", "steps": steps, "epochs_per_step": per_step, "validation": "holdout"},
        },
        "space": {
            "learning_rate_init": {"type": "float", "low": SPACE_LR[0], "high": SPACE_LR[1], "log": True},
            "alpha": {"type": "float", "low": SPACE_ALPHA[0], "high": SPACE_ALPHA[1], "log": True},
            "batch_size": {"type": "choice", "values": BATCH_SIZES},
        },
        "metric": {"name": "accuracy", "mode": "max"},
        "strategy": {"name": "random", "seed": seed, "points_to_evaluate": sample_configs(seed, trials)},
        "scheduler": scheduler,
        "budget": {"trials": trials, "max_concurrent": 2},
        "storage": {"path": storage},
    }


def run_raytuner(scheduler: dict[str, Any], seed: int, trials: int, steps: int, per_step: int, target: float,
                 storage: str) -> Run:
    from raytuner.spec.loader import validate_spec
    from raytuner.runner.plan import make_plan
    from raytuner.runner.experiment import build_tuner, tuner_environ
    from raytuner.runner.tuning import tuner_plan

    plan = make_plan(validate_spec(raytuner_spec(scheduler, seed, trials, steps, per_step, storage)))
    tuning = tuner_plan(plan)
    run = Run(f"raytuner {scheduler['name']}", seed, target)

    _RUNS["current"] = run
    with tuner_environ(tuning):
        tuner = build_tuner(plan, tuning, f"bench-{scheduler['name']}-{seed}-{time.time_ns()}", [_timer_class()(per_step)])
        run.start = time.perf_counter()
        tuner.fit()
    return run.finish()


# -- Optuna ---------------------------------------------------------------------


def run_optuna(pruner_name: str, seed: int, trials: int, steps: int, per_step: int, target: float) -> Run:
    import optuna
    from sklearn.neural_network import MLPClassifier

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    X, y, Xtr, ytr, Xte, yte = holdout(seed)
    classes = np.unique(y)
    pruner = (optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
              if pruner_name == "sha"
              else optuna.pruners.HyperbandPruner(min_resource=1, max_resource=steps, reduction_factor=3))
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=seed), pruner=pruner)
    for config in sample_configs(seed, trials):
        study.enqueue_trial(config)
    run = Run(f"optuna {'successive halving' if pruner_name == 'sha' else 'hyperband'}", seed, target)

    def objective(trial: Any) -> float:
        model = MLPClassifier(
            hidden_layer_sizes=tuple(HIDDEN), random_state=seed,
            learning_rate_init=trial.suggest_float("learning_rate_init", *SPACE_LR, log=True),
            alpha=trial.suggest_float("alpha", *SPACE_ALPHA, log=True),
            batch_size=trial.suggest_categorical("batch_size", BATCH_SIZES),
        )
        score = 0.0
        for step in range(1, steps + 1):
            for _ in range(per_step):
                model.partial_fit(Xtr, ytr, classes=classes)
            score = float(model.score(Xte, yte))
            run.observe(score, steps=per_step)
            trial.report(score, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return score

    run.start = time.perf_counter()
    with warnings.catch_warnings(), threadpool_limits(1):  # as Ray's workers: 1 BLAS thread each
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=trials, n_jobs=2)
    return run.finish()


# -- scikit-learn HalvingRandomSearchCV ----------------------------------------


def run_halving(seed: int, trials: int, epochs: int, target: float) -> Run:
    from joblib import parallel_backend
    from scipy.stats import loguniform
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import HalvingRandomSearchCV
    from sklearn.neural_network import MLPClassifier

    X, y, Xtr, ytr, Xte, yte = holdout(seed)
    from raytuner.trainables.sklearn.estimator import make_splits
    from raytuner.trainables.sklearn.setup import CVSetup

    split = make_splits(CVSetup(folds=5, shuffle=True, stratified=True, seed=seed), X, y)[:1]
    run = Run("sklearn HalvingRandomSearchCV", seed, target)

    def scorer(estimator: Any, X_: np.ndarray, y_: np.ndarray) -> float:
        score = float(estimator.score(X_, y_))
        run.observe(score, steps=int(estimator.max_iter))  # a fit from scratch: max_iter epochs
        return score

    search = HalvingRandomSearchCV(
        MLPClassifier(hidden_layer_sizes=tuple(HIDDEN), random_state=seed),
        {"learning_rate_init": loguniform(*SPACE_LR), "alpha": loguniform(*SPACE_ALPHA), "batch_size": BATCH_SIZES},
        n_candidates=trials, resource="max_iter", min_resources=2, max_resources=epochs, factor=3,
        cv=split, scoring=scorer, random_state=seed, refit=False, n_jobs=2, error_score=0.0,
        return_train_score=False,  # halving searches default to True: the scorer would see training scores
    )
    run.start = time.perf_counter()
    with warnings.catch_warnings(), parallel_backend("threading", n_jobs=2), threadpool_limits(1):
        warnings.simplefilter("ignore")
        search.fit(X, y)
    return run.finish()


# -- report ---------------------------------------------------------------------


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def time_to_target(run: Run) -> float:
    """Seconds to the target; a run that never reached it counts its total time (a lower bound)."""
    return run.reached_s if run.reached_s is not None else run.total_s


def summarise(runs: list[Run], target: float, trials: int, epochs: int, per_step: int, ray_start_s: float,
              command: str) -> list[benchlib.Section]:
    methods = list(dict.fromkeys(r.method for r in runs))
    seeds = sorted({r.seed for r in runs})
    rows = []
    medians: dict[str, float] = {}
    for method in methods:
        rs = [r for r in runs if r.method == method]
        ttt = [time_to_target(r) for r in rs]
        medians[method] = statistics.median(ttt)
        startup = ray_start_s if method.startswith("raytuner") else 0.0
        rows.append([
            method, f"{sum(r.reached_s is not None for r in rs)}/{len(rs)}", benchlib.median_spread(ttt, "s", 1),
            f"{statistics.median(ttt) + startup:.1f}", fmt(statistics.median(r.total_s for r in rs)),
            f"{statistics.median(r.steps for r in rs):.0f}", f"{statistics.median(r.best for r in rs):.4f}",
            fmt(statistics.median(r.first_s or 0.0 for r in rs)),
            fmt(statistics.median(t - (r.first_s or 0.0) for t, r in zip(ttt, rs))),
        ])
    per_seed = [[method, *(f"{fmt(r.reached_s)} ({r.steps})" for r in sorted(
        (r for r in runs if r.method == method), key=lambda r: r.seed))] for method in methods]
    notes = [f"Ray started once before timing: {ray_start_s:.1f} s (the 'incl. Ray start-up' column adds it "
             "to raytuner's rows; Optuna and scikit-learn start nothing)."]
    fifo, asha = medians.get("raytuner fifo"), medians.get("raytuner asha")
    optuna = medians.get("optuna successive halving")
    gap = ("what would close it: the trial workers' start-up (first report) is most of the gap: each Ray "
           "Tune trial boots a worker process of its own (Tune's trial actors do not take idle or prestarted "
           "workers, measured), so: ASHA's rung decisions taken in the driver on reports streamed from the "
           "batched path's warm actors, then Tune's per-result driver work")
    if asha is not None and optuna:
        ratio = asha / optuna
        notes.append(benchlib.goal(ratio <= 1.0, f"ASHA / Optuna successive halving, time to target, Ray up: "
                                   f"{ratio:.2f}x (goal <= 1.0x)" + ("" if ratio <= 1.0 else f"; {gap}")))
        asha_first = statistics.median(r.first_s or 0.0 for r in runs if r.method == "raytuner asha")
        notes.append(f"ASHA / Optuna successive halving after the first report (start-up taken out): "
                     f"{(asha - asha_first) / optuna:.2f}x")
    if asha is not None and fifo:
        ratio = asha / fifo
        notes.append(benchlib.goal(ratio <= 0.5, f"ASHA / FIFO, time to target: {ratio:.2f}x (goal <= 0.5x)"
                                   + ("" if ratio <= 0.5 else "; what would close it: a target fewer configs reach "
                                      "(the early-stopping effect grows with the share of configs ASHA stops)")))
    title = (f"Early stopping: digits, MLPClassifier{tuple(HIDDEN)}, {trials} configs per method, up to {epochs} "
             f"epochs ({per_step} per report), target holdout accuracy {target}, 2 parallel workers, seeds {seeds}")
    return [
        benchlib.Section(
            key="early-stopping", title=title, command=command,
            headers=["method", "reached target", "time to target, Ray up (s)", "incl. Ray start-up (s)",
                     "total time (s)", "epochs trained", "best accuracy", "first report (s)",
                     "time to target after first report (s)"],
            rows=rows, notes=notes,
        ),
        benchlib.Section(
            key="early-stopping-per-seed", title="Early stopping per seed: time to target in s (epochs trained)",
            command=command, headers=["method", *(f"seed {s}" for s in seeds)], rows=per_seed,
        ),
    ]


DEFAULTS = {"seeds": [0, 1, 2], "trials": 30, "epochs": 27, "epochs_per_step": 3, "target": 0.99,
            "methods": ["fifo", "asha", "optuna-sha", "optuna-hyperband", "halving"], "hidden": [256, 256],
            "storage": "/tmp/rt-bench-es"}
QUICK = {"seeds": [0], "trials": 16, "epochs": 12, "epochs_per_step": 3, "target": 0.96,
         "methods": ["fifo", "asha", "optuna-sha"], "hidden": [64]}
OPTIONS: dict[str, Any] = {}  # set from the command line


def run_method(method: str, seed: int, o: dict[str, Any], steps: int) -> Run:
    per_step = o["epochs_per_step"]
    if method == "fifo":
        return run_raytuner({"name": "fifo"}, seed, o["trials"], steps, per_step, o["target"], o["storage"])
    if method == "asha":
        return run_raytuner({"name": "asha", "options": {"grace_period": 1, "reduction_factor": 3}},
                            seed, o["trials"], steps, per_step, o["target"], o["storage"])
    if method.startswith("optuna"):
        return run_optuna("sha" if method == "optuna-sha" else "hyperband", seed, o["trials"], steps, per_step,
                          o["target"])
    return run_halving(seed, o["trials"], o["epochs"], o["target"])


def sections(quick: bool) -> list[benchlib.Section]:
    o = {**DEFAULTS, **(QUICK if quick else {}), **OPTIONS}
    HIDDEN[:] = o["hidden"]
    steps = o["epochs"] // o["epochs_per_step"]
    import ray

    from raytuner.runner.session import ray_session

    began = time.perf_counter()
    runs: list[Run] = []
    with ray_session(num_cpus=2):
        if not ray.is_initialized():  # pragma: no cover - ray_session starts or joins one
            raise RuntimeError("Ray did not start")
        ray_start_s = time.perf_counter() - began
        for seed in o["seeds"]:
            for method in o["methods"]:  # interleaved per seed
                run = run_method(method, seed, o, steps)
                runs.append(run)
                print(f"seed {seed} {run.method}: target at {fmt(run.reached_s)} s, total {run.total_s:.1f} s, "
                      f"{run.steps} epochs, best {run.best:.4f}", file=sys.stderr, flush=True)
    command = "python scripts/bench_early_stopping.py" + (" --quick" if quick else "")
    if OPTIONS:
        command += " " + " ".join(f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                                  for k, v in OPTIONS.items())
    return summarise(runs, o["target"], o["trials"], o["epochs"], o["epochs_per_step"], ray_start_s, command)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     add_help=False)
    parser.add_argument("--seeds", type=int, nargs="+")
    parser.add_argument("--trials", type=int, help="configs per method")
    parser.add_argument("--epochs", type=int, help="epochs of a trial that runs to the end")
    parser.add_argument("--epochs-per-step", type=int, help="epochs per report (per pruning check)")
    parser.add_argument("--target", type=float)
    parser.add_argument("--methods", nargs="+", choices=["fifo", "asha", "optuna-sha", "optuna-hyperband", "halving"])
    parser.add_argument("--hidden", type=int, nargs="+", help="MLP hidden layer sizes")
    parser.add_argument("--storage")
    args, rest = parser.parse_known_args(argv)
    OPTIONS.update({k: v for k, v in vars(args).items() if v is not None})
    return benchlib.main(sections, rest)


if __name__ == "__main__":
    sys.exit(main())

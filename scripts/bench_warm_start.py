"""Warm starts from the experiment history: trials needed to reach a target score, with and
without `warm_start: {from: history}`, on a family of related tasks and one unrelated task.

    .venv/bin/python scripts/bench_warm_start.py [--seeds 3] [--budget 30] [--k 3] [--quick] [--json OUT]

Tasks (SVC, C and gamma log-uniform over wide ranges, 3-fold accuracy): digits (the source,
tuned first and recorded), then related ones (digits + Gaussian noise, two row subsamples),
then an unrelated one (breast_cancer, unscaled). Tuned in this order; the warm arm records
every run in a fresh history store (SQLite in a temp dir) and seeds each task with
raytuner's own warm-start code (task fingerprints, `HistoryStore.similar`, `fit_to_space`);
the cold arm is plain seeded random search. The search loop is sequential and in-process
(no Ray: the figure is about which configs are tried, not about scheduling).
Target per task: 99% of the best score any run reached on it. Prints a markdown table
(`sections(quick)`, the contract of scripts/benchlib.py; --quick: 1 seed, budget 10).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchlib  # noqa: E402

from raytuner.results.history.fingerprint import dataset_meta, fingerprint  # noqa: E402
from raytuner.results.history.records import HistoryExperiment, HistoryTrial, WarmStart  # noqa: E402
from raytuner.results.history.store import HistoryStore  # noqa: E402
from raytuner.runner.warm_start import fit_to_space, round_robin  # noqa: E402
from raytuner.spec.params import parse_space  # noqa: E402

FAMILY = "sklearn.svm.SVC"
RANGES = {"C": (1e-2, 1e3), "gamma": (1e-6, 1e1)}
MAX_DISTANCE = 0.5  # the default of warm_start.max_distance
SPACE = parse_space({name: {"type": "float", "low": lo, "high": hi, "log": True} for name, (lo, hi) in RANGES.items()})


def tasks() -> list[tuple[str, np.ndarray, np.ndarray, bool]]:
    import sklearn.datasets as ds

    rng = np.random.default_rng(0)
    X, y = ds.load_digits(return_X_y=True)
    half = rng.choice(len(y), len(y) // 2, replace=False)
    part = rng.choice(len(y), int(len(y) * 0.6), replace=False)
    Xb, yb = ds.load_breast_cancer(return_X_y=True)
    return [
        ("digits (source)", X, y, True),
        ("digits + noise", X + rng.normal(0, 1.0, X.shape), y, True),
        ("digits 50% rows", X[half], y[half], True),
        ("digits 60% rows + noise", X[part] + rng.normal(0, 0.5, X[part].shape), y[part], True),
        ("breast_cancer (unrelated)", Xb, yb, False),
    ]


def evaluate(X: np.ndarray, y: np.ndarray, config: dict[str, float]) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.svm import SVC

    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    return float(cross_val_score(SVC(C=config["C"], gamma=config["gamma"]), X, y, cv=cv).mean())


def random_configs(seed: int, n: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    return [{k: float(math.exp(rng.uniform(math.log(lo), math.log(hi)))) for k, (lo, hi) in RANGES.items()}
            for _ in range(n)]


def search(X: np.ndarray, y: np.ndarray, seed: int, budget: int, points: list[dict[str, Any]]) -> list[tuple[dict, float]]:
    configs = (points + random_configs(seed, budget))[:budget]
    return [(c, evaluate(X, y, c)) for c in configs]


def seeds_from(store: HistoryStore, fp: dict[str, Any], k: int) -> list[dict[str, Any]]:
    found = [s for s in store.similar(fp, k, metric="accuracy") if s.distance <= MAX_DISTANCE]  # warm_start.max_distance
    print("  distances: " + ", ".join(f"{s.experiment.name} {s.distance:.3f}" for s in store.similar(fp, k, metric="accuracy")),
          file=sys.stderr)
    return fit_to_space(round_robin([s.experiment.ranked_configs() for s in found], k), SPACE, WarmStart("history"))


def record(store: HistoryStore, name: str, fp: dict[str, Any], runs: list[tuple[dict, float]]) -> None:
    best = max(runs, key=lambda r: r[1])
    store.record(HistoryExperiment(
        name=name, path=f"bench/{name}", spec={}, metric="accuracy", mode="max", strategy="random", scheduler="fifo",
        started_at="bench", wall_time_s=0.0, state="finished", family=FAMILY, fingerprint=fp, best_score=best[1],
        best_config=best[0], trials=tuple(HistoryTrial(f"t{i}", c, s, "ok", 3) for i, (c, s) in enumerate(runs))))


def trials_to(scores: list[float], target: float) -> int | None:
    best = -math.inf
    for i, score in enumerate(scores, start=1):
        best = max(best, score)
        if best >= target:
            return i
    return None


def measure(seeds: int, budget: int, k: int) -> benchlib.Section:
    all_tasks = tasks()
    fps = {name: fingerprint(FAMILY, dataset_meta(X, y), SPACE) for name, X, y, _ in all_tasks}
    cold: dict[str, list[list[float]]] = {name: [] for name, *_ in all_tasks}
    warm: dict[str, list[list[float]]] = {name: [] for name, *_ in all_tasks}
    for seed in range(seeds):
        with tempfile.TemporaryDirectory() as home:
            store = HistoryStore(f"sqlite:///{os.path.join(home, 'history.db')}")
            for name, X, y, _ in all_tasks:
                cold_runs = search(X, y, 1000 + seed, budget, [])
                points = seeds_from(store, fps[name], k)
                warm_runs = search(X, y, 1000 + seed, budget, points)
                record(store, f"{name}-{seed}", fps[name], warm_runs)
                cold[name].append([s for _, s in cold_runs])
                warm[name].append([s for _, s in warm_runs])
                print(f"seed {seed} {name}: {len(points)} seeded", file=sys.stderr)
    rows = []
    for name, *_ in all_tasks:
        target = 0.99 * max(max(s) for s in cold[name] + warm[name])
        c = [trials_to(s, target) for s in cold[name]]
        w = [trials_to(s, target) for s in warm[name]]
        miss = budget + 1  # not reached within the budget: counted as budget + 1
        cm, wm = float(np.median([x or miss for x in c])), float(np.median([x or miss for x in w]))
        fmt = lambda xs: ", ".join(str(x) if x else f">{budget}" for x in xs)  # noqa: E731
        rows.append([name, f"{target:.4f}", f"{cm:g} ({fmt(c)})", f"{wm:g} ({fmt(w)})", f"{cm / wm:.1f}x"])
    return benchlib.Section(
        key="warm-start",
        title=f"Warm starts from the history: trials to target ({seeds} seed(s), budget {budget}, k {k})",
        command=f"python scripts/bench_warm_start.py --seeds {seeds} --budget {budget} --k {k}",
        headers=["task", "target (99% of best)", "cold: trials to target (median, per seed)",
                 "warm: trials to target (median, per seed)", "ratio"],
        rows=rows,
        notes=["ratio > 1: the warm start reaches the target in fewer trials; the unrelated task should stay near 1."],
    )


def sections(quick: bool, seeds: int = 3, budget: int = 30, k: int = 3) -> list[benchlib.Section]:
    return [measure(1, 10, k) if quick else measure(seeds, budget, k)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], add_help=False)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--budget", type=int, default=30)
    parser.add_argument("--k", type=int, default=3)
    args, rest = parser.parse_known_args(argv)
    return benchlib.main(lambda quick: sections(quick, args.seeds, args.budget, args.k), rest)


if __name__ == "__main__":
    sys.exit(main())

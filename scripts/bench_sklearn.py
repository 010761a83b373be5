"""TuneSearchCV vs scikit-learn's searches at the same budget: wall time, best CV score, holdout.

    .venv/bin/python scripts/bench_sklearn.py                      # digits, 20 candidates, 3 folds
    .venv/bin/python scripts/bench_sklearn.py --dataset breast_cancer --trials 30 --jobs 2

Every search gets the same candidates budget (GridSearchCV: the grid closest to it) and
the same number of parallel jobs; HalvingRandomSearchCV starts from 3x the candidates on
fewer samples (its usual use). A 25% holdout split, unseen by every search, scores the
refit best model. Ray is started once before timing (TuneSearchCV's wall time includes
its per-search overhead: Tuner set-up and trial actors). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from typing import Any, Callable

import numpy as np


def _searches(args: argparse.Namespace) -> list[tuple[str, str, Callable[[], Any]]]:
    from scipy.stats import loguniform
    from sklearn.experimental import enable_halving_search_cv  # noqa: F401
    from sklearn.model_selection import GridSearchCV, HalvingRandomSearchCV, RandomizedSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from raytuner.schedulers import SCHEDULERS
    from raytuner.sklearn import TuneSearchCV
    from raytuner.strategies import STRATEGIES

    est = make_pipeline(StandardScaler(), SVC())
    dists = {"svc__C": loguniform(1e-2, 1e3), "svc__gamma": loguniform(1e-5, 1e0)}
    side = max(2, int(round(np.sqrt(args.trials))))
    grid = {"svc__C": np.logspace(-2, 3, side).tolist(), "svc__gamma": np.logspace(-5, 0, side).tolist()}
    common = {"cv": args.folds, "n_jobs": args.jobs}
    out: list[tuple[str, str, Callable[[], Any]]] = [
        ("GridSearchCV", f"grid {side}x{side}", lambda: GridSearchCV(est, grid, **common)),
        ("RandomizedSearchCV", "random", lambda: RandomizedSearchCV(est, dists, n_iter=args.trials, random_state=args.seed, **common)),
        ("HalvingRandomSearchCV", f"random, {3 * args.trials} start", lambda: HalvingRandomSearchCV(
            est, dists, n_candidates=3 * args.trials, factor=3, random_state=args.seed, **common)),
    ]
    for strategy in ("random", "tpe"):
        for scheduler in ("fifo", "asha"):
            missing = [n for n, reg in ((strategy, STRATEGIES), (scheduler, SCHEDULERS)) if n not in reg]
            label = f"{strategy}" + (" + ASHA over folds" if scheduler == "asha" else "")
            if missing:
                print(f"note: skipping TuneSearchCV {label}: {', '.join(missing)} not in the registry on this branch",
                      file=sys.stderr)
                continue
            out.append(("TuneSearchCV", label, lambda s=strategy, c=scheduler: TuneSearchCV(
                est, dists, strategy=s, scheduler=c, n_trials=args.trials, random_state=args.seed, **common)))
    return out


def _fits(search: Any, folds: int) -> int:
    results = search.cv_results_
    if "n_resources" in results:  # halving: every candidate of every iteration
        return int(len(results["params"]) * folds)
    ran = [k for k in results if k.startswith("split") and k.endswith("_test_score")]
    return int(sum(np.isfinite(results[k]).sum() for k in ran))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="digits", choices=["digits", "breast_cancer", "wine", "iris"])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--folds", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import sklearn.datasets as ds
    from sklearn.model_selection import train_test_split

    from raytuner.testing import start_test_ray

    warnings.filterwarnings("ignore")
    X, y = getattr(ds, f"load_{args.dataset}")(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=args.seed, stratify=y)
    start_test_ray(max(args.jobs, 1))
    rows = []
    for name, label, make in _searches(args):
        search = make()
        start = time.perf_counter()
        search.fit(X_train, y_train)
        wall = time.perf_counter() - start
        rows.append((name, label, len(search.cv_results_["params"]), _fits(search, args.folds), wall,
                     search.best_score_, search.score(X_test, y_test)))
        print(f"done: {name} {label} in {wall:.1f}s", file=sys.stderr)
    print(f"\n{args.dataset}: {len(y_train)} search rows, {len(y_test)} holdout rows; SVC(C, gamma) with scaling; "
          f"{args.folds}-fold CV, {args.jobs} parallel jobs, budget {args.trials} candidates; "
          f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}\n")
    print("| search | strategy | candidates | fits | wall s | best CV accuracy | holdout accuracy |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, label, cands, fits, wall, cv, hold in rows:
        print(f"| {name} | {label} | {cands} | {fits} | {wall:.1f} | {cv:.4f} | {hold:.4f} |")


if __name__ == "__main__":
    main()

"""Benchmark the torch trainable: epochs/s against a plain PyTorch loop, trials per hour,
and how hypergradient descent shrinks the sensitivity to the initial learning rate.

    .venv/bin/python scripts/bench_torch.py            # prints markdown tables
    .venv/bin/python scripts/bench_torch.py --quick    # fewer epochs and trials

Same model and data everywhere: an MLP (2 x 128 by default, --width, ReLU) on scikit-learn's digits
(1437 training rows, 360 validation rows, standardised), batch 64, Adam lr 1e-3,
one torch thread, CPU. Each epoch trains and evaluates (loss and accuracy) in every
variant. In-process variants are compared by CPU time per epoch (robust on a shared
machine) and by wall time; trials under Ray Tune by wall time between reports
(``time_this_iter_s``: training, evaluation, the report and the checkpoint).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader

from raytuner.spec.torch import TorchTrainableSpec
from raytuner.trainables.torch.data import clear_cache, load_tensors
from raytuner.trainables.torch.loop import TrialSetup, prepare, train
from raytuner.trainables.torch.report import LocalSession

TRAINABLE: dict[str, Any] = {
    "model": {"type": "mlp", "depth": 2, "width": 128},
    "data": {"source": "sklearn:digits", "batch_size": 64},
    "optimizer": {"name": "adam", "lr": 1e-3},
}


def setup_for(trainable: dict[str, Any], epochs: int) -> TrialSetup:
    spec = TorchTrainableSpec.model_validate({**trainable, "epochs": epochs})
    return TrialSetup(spec=spec.model_dump(mode="json"), metric="val_accuracy", mode="max", seed=0, cpus=1,
                      gpus=0, task="classification")


def _rates(stamps: list[tuple[float, float]]) -> tuple[float, float]:
    """(epochs per wall second, epochs per CPU second) over epochs 2..N."""
    n = len(stamps) - 1
    return n / (stamps[-1][0] - stamps[0][0]), n / (stamps[-1][1] - stamps[0][1])


def _stamp() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def ours_in_process(epochs: int, checkpoint_dir: str | None = None) -> tuple[float, float]:
    """raytuner's loop (prepare + train with an in-process session)."""
    run = prepare(setup_for(TRAINABLE, epochs), {})
    stamps: list[tuple[float, float]] = []

    class Timed(LocalSession):
        def report(self, metrics: dict[str, Any], state: dict[str, Any] | None) -> None:
            super().report(metrics, state)
            stamps.append(_stamp())

    train(run, Timed(checkpoint_dir))
    return _rates(stamps)


def plain_loop(epochs: int, *, index_batches: bool) -> tuple[float, float]:
    """Epochs/s of a hand-written loop on the same tensors and model."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    spec = TorchTrainableSpec.model_validate({**TRAINABLE, "epochs": epochs})
    data = load_tensors(spec.data, seed=0, task="classification", config={}, params={})
    w = TRAINABLE["model"]["width"]
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, 10))
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    X, y = data.train.tensors  # type: ignore[attr-defined]
    Xv, yv = data.val.tensors  # type: ignore[attr-defined]
    loader = DataLoader(data.train, batch_size=64, shuffle=True)
    stamps = []
    for _ in range(epochs):
        model.train()
        batches = ((X[i], y[i]) for i in torch.randperm(len(X)).split(64)) if index_batches else loader
        for xb, yb in batches:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            out = model(Xv)
            float(loss_fn(out, yv))
            float((out.argmax(1) == yv).float().mean())
        stamps.append(_stamp())
    return _rates(stamps)


def tune_runs(epochs: int, trials: int, checkpoint_every: int, concurrent: int,
              overlap: bool = True) -> tuple[float, float, float]:
    """(epochs/s of the fastest trial, trials/hour, wall seconds): `trials` trials on 2 CPUs."""
    import raytuner
    from raytuner.runner.session import ray_session

    storage = tempfile.mkdtemp(prefix="bench-torch-")
    spec = {
        "name": "bench-torch",
        "trainable": {"type": "torch", **TRAINABLE, "epochs": epochs, "checkpoint_every": checkpoint_every,
                      "overlap_reports": overlap},
        "space": {"optimizer": {"lr": {"type": "float", "low": 3e-4, "high": 3e-3, "log": True}}},
        "metric": "val_accuracy",
        "budget": {"trials": trials, "max_concurrent": concurrent},
        "resources": {"cpu": 1},
        "storage": {"path": storage},
    }
    with ray_session(num_cpus=2):
        start = time.perf_counter()
        summary = raytuner.run(spec, show_progress=False)
        wall = time.perf_counter() - start
    import pandas as pd

    rates = []
    for trial in summary.trials:
        frame = pd.read_csv(f"{trial.path}/progress.csv")
        per_epoch = frame["time_this_iter_s"].iloc[1:]
        rates.append(1.0 / per_epoch.mean())
    return max(rates), trials / wall * 3600, wall  # best trial, like the best-of-N in-process rows


def hypergradient_sensitivity(epochs: int) -> list[tuple[str, list[float]]]:
    rows = []
    lrs = [1e-4, 1e-3, 1e-2, 1e-1]
    for label, extra in (("SGD", {}), ("SGD-HD (beta 0.05)", {"hypergradient": {"beta": 0.05}})):
        finals = []
        for lr in lrs:
            trainable = {**TRAINABLE, "optimizer": {"name": "sgd", "lr": lr, **extra}}
            s = LocalSession()
            train(prepare(setup_for(trainable, epochs), {}), s)
            finals.append(s.reports[-1]["val_loss"])
        rows.append((label, finals))
    return rows


def _with_dir(fn: Any, epochs: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as d:
        return fn(epochs, d)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved repeats of the in-process timings (best kept)")
    parser.add_argument("--width", type=int, default=128, help="MLP width (heavier epochs amortise per-epoch overhead)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    TRAINABLE["model"]["width"] = args.width
    if args.quick:
        args.epochs, args.trials, args.repeat = 10, 4, 1
    clear_cache()
    torch.set_num_threads(1)

    # interleaved repeats, best of each: a shared machine slows some runs down
    variants = {
        "plain PyTorch loop, DataLoader(batch_size=64, shuffle=True)": lambda: plain_loop(args.epochs, index_batches=False),
        "plain PyTorch loop, index batches (randperm)": lambda: plain_loop(args.epochs, index_batches=True),
        "raytuner loop in-process (no checkpoint files)": lambda: ours_in_process(args.epochs),
        "raytuner loop in-process, checkpoint file every epoch": lambda: _with_dir(ours_in_process, args.epochs),
    }
    best: dict[str, tuple[float, float]] = {name: (0.0, 0.0) for name in variants}
    for _ in range(args.repeat):
        for name, fn in variants.items():
            wall_rate, cpu_rate = fn()
            best[name] = (max(best[name][0], wall_rate), max(best[name][1], cpu_rate))
    # epochs/s: one trial at a time, like the in-process rows; trials/hour: 2 at a time
    tune_rate = tune_runs(args.epochs, 2, checkpoint_every=1, concurrent=1)[0]
    tune_rate5 = tune_runs(args.epochs, 2, checkpoint_every=5, concurrent=1)[0]
    tune_sync = tune_runs(args.epochs, 2, checkpoint_every=1, concurrent=1, overlap=False)[0]
    _, per_hour, wall = tune_runs(args.epochs, args.trials, checkpoint_every=1, concurrent=2)
    _, per_hour5, wall5 = tune_runs(args.epochs, args.trials, checkpoint_every=5, concurrent=2)

    print(f"## Epochs per second (MLP 2x{args.width} on digits, batch 64, Adam, 1 thread, {args.epochs} epochs)\n")
    base_wall, base_cpu = best["plain PyTorch loop, DataLoader(batch_size=64, shuffle=True)"]
    ix_wall, ix_cpu = best["plain PyTorch loop, index batches (randperm)"]
    print("| variant | epochs/s (wall) | epochs per CPU-s | vs plain DataLoader loop (CPU) | vs plain index-batch loop (CPU) |")
    print("|---|---:|---:|---:|---:|")
    for name, (wall_rate, cpu_rate) in best.items():
        print(f"| {name} | {wall_rate:.1f} | {cpu_rate:.1f} | {cpu_rate / base_cpu:.2f}x | {cpu_rate / ix_cpu:.2f}x |")
    for name, rate in (("raytuner trial under Ray Tune (1 at a time), checkpoint every epoch", tune_rate),
                       ("raytuner trial under Ray Tune (1 at a time), checkpoint every 5 epochs", tune_rate5),
                       ("same, overlap_reports: false (each report waits for the driver)", tune_sync)):
        print(f"| {name} | {rate:.1f} | - | {rate / base_wall:.2f}x (wall) | {rate / ix_wall:.2f}x (wall) |")
    print(f"\n## Trials per hour ({args.trials} trials x {args.epochs} epochs, 2 concurrent, 1 CPU each)\n")
    print("| checkpoints | wall s | trials/hour |")
    print("|---|---:|---:|")
    print(f"| every epoch | {wall:.1f} | {per_hour:.0f} |")
    print(f"| every 5 epochs | {wall5:.1f} | {per_hour5:.0f} |")
    hd_epochs = max(3, args.epochs // 6)
    print(f"\n## Sensitivity to the initial lr (SGD, final val loss after {hd_epochs} epochs)\n")
    lrs = ["1e-4", "1e-3", "1e-2", "1e-1"]
    print("| optimiser | " + " | ".join(f"lr {x}" for x in lrs) + " | spread (max - min) |")
    print("|---|" + "---:|" * (len(lrs) + 1))
    for label, finals in hypergradient_sensitivity(hd_epochs):
        print(f"| {label} | " + " | ".join(f"{v:.3f}" for v in finals) + f" | {max(finals) - min(finals):.3f} |")


if __name__ == "__main__":
    main()

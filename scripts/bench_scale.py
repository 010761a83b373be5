"""Scale (issue #15, goal 5): many trivial trials in one experiment, raytuner vs raw Ray Tune.

    .venv/bin/python scripts/bench_scale.py [--quick] [--json OUT]
    .venv/bin/python scripts/bench_scale.py --contender raytuner --trials 10000   # one run, JSON on stdout

Each contender runs in a fresh driver process (its own local Ray, 2 CPUs) so its memory is its
own; the two alternate. The driver's RSS (psutil) and a timestamp are taken as each trial
completes (raytuner: from its progress lines, one per finished trial; raw Tune: a Callback).
Figures: RSS at trial 100 and at the last trial, the growth between them (MB, KB per trial),
per-trial overhead (median over windows of 10 completions of ms per trial) for trials 100-200
and the last 100, and the size of the results directory (bytes, files).
Goal: growth <= 50 MB from trial 100 to trial 10,000; last-100 overhead within 1.2x of 100-200.
With BENCH_SCALE_TRACE=1 a one-contender run also reports the Python heap's growth per trial
(tracemalloc; what is left of the RSS growth is native memory and allocator high water).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import benchlib  # noqa: E402

FULL_TRIALS, QUICK_TRIALS = 10_000, 1_000
GOAL_MB = 50.0  # growth from trial 100 to trial 10,000
GOAL_RATIO = 1.2  # last-100 overhead vs trials 100-200
CONTENDERS = ("raw Ray Tune (reuse_actors)", "raytuner")
_COUNT = re.compile(r"trials (\d+)")


TRACE_ENV = "BENCH_SCALE_TRACE"  # =1: also the Python heap (tracemalloc) per trial; its timings are not comparable


class Samples:
    """(trials done, seconds, RSS bytes) at each completion; with tracemalloc on, the traced bytes too."""

    def __init__(self) -> None:
        import psutil

        self._proc = psutil.Process()
        self.rows: list[tuple[int, float, int]] = []
        self.traced: dict[int, int] = {}

    def take(self, done: int) -> None:
        self.rows.append((done, time.perf_counter(), self._proc.memory_info().rss))
        import tracemalloc

        if tracemalloc.is_tracing():
            self.traced[done] = tracemalloc.get_traced_memory()[0]


class ProgressSampler:
    """A text stream for raytuner's progress view: it writes one line per finished trial."""

    def __init__(self, samples: Samples) -> None:
        self.samples = samples

    def write(self, text: str) -> int:
        found = _COUNT.search(text)
        if found:
            self.samples.take(int(found.group(1)))
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def run_raytuner(trials: int, storage: str, samples: Samples) -> str:
    import raytuner

    spec = {
        "name": "scale",
        "trainable": {"type": "function", "function": "raytuner.testing:trivial"},
        "space": {"x": {"type": "float", "low": 0, "high": 1}},
        "metric": {"name": "score", "mode": "max"},
        "budget": {"trials": trials},
        "storage": {"path": storage},
    }
    summary = raytuner.run(spec, show_progress=True, progress_stream=ProgressSampler(samples))  # type: ignore[arg-type]
    assert summary.counts["ok"] == trials, summary.counts
    return summary.experiment_path


def run_raw(trials: int, storage: str, samples: Samples) -> str:
    from ray import tune

    from raytuner.testing import trivial

    class Sampler(tune.Callback):
        """Ray pickles callbacks with its experiment state: the samples stay out of it."""

        def __init__(self) -> None:
            self.done = 0

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.done += 1
            samples.take(self.done)

        def __reduce__(self) -> Any:
            return (object, ())

    def trainable(config: dict) -> None:
        tune.report(trivial(config))

    tuner = tune.Tuner(
        trainable,
        param_space={"x": tune.uniform(0, 1)},
        tune_config=tune.TuneConfig(metric="score", mode="max", num_samples=trials, reuse_actors=True),
        run_config=tune.RunConfig(name="raw-scale", storage_path=storage, verbose=0, callbacks=[Sampler()]),
    )
    grid = tuner.fit()
    assert len(grid) == trials and not grid.errors
    return grid.experiment_path


def dir_size(path: str) -> tuple[int, int]:
    total = files = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                total += os.path.getsize(os.path.join(root, name))
                files += 1
            except OSError:
                pass
    return total, files


def per_trial_ms(rows: list[tuple[int, float, int]], first: int, last: int) -> float:
    """Median over windows of 10 completions of the ms per trial, for completions first..last."""
    times = {done: t for done, t, _ in rows}
    spans = [(times[i + 10] - times[i]) * 100.0 for i in range(first, last - 9, 10) if i in times and i + 10 in times]
    return statistics.median(spans) if spans else float("nan")


def measure(contender: str, trials: int) -> dict[str, Any]:
    """One contender in this process: Ray up, run, figures."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray

    from raytuner.testing import start_test_ray

    temp = start_test_ray(2)
    if os.environ.get(TRACE_ENV) == "1":
        import tracemalloc

        tracemalloc.start(1)
    storage = tempfile.mkdtemp(prefix="rtscale")
    samples = Samples()
    try:
        start = time.perf_counter()
        path = (run_raytuner if contender == "raytuner" else run_raw)(trials, storage, samples)
        wall = time.perf_counter() - start
        size, files = dir_size(path)
    finally:
        ray.shutdown()
        shutil.rmtree(temp, ignore_errors=True)
        shutil.rmtree(storage, ignore_errors=True)
    rss = {done: r for done, _, r in samples.rows}
    at100, at_end = rss.get(100, 0), samples.rows[-1][2]
    return {
        "contender": contender, "trials": trials, "wall_s": wall,
        "rss100_mb": at100 / 2**20, "rss_end_mb": at_end / 2**20,
        "growth_mb": (at_end - at100) / 2**20,
        "kb_per_trial": (at_end - at100) / 1024 / max(1, trials - 100),
        "ms_100_200": per_trial_ms(samples.rows, 100, 200),
        "ms_last_100": per_trial_ms(samples.rows, trials - 100, trials),
        "dir_mb": size / 2**20, "dir_files": files,
        # the Python heap's share of the growth (BENCH_SCALE_TRACE=1): the rest is native and allocator
        **({"python_kb_per_trial": (samples.traced[trials] - samples.traced[100]) / 1024 / max(1, trials - 100)}
           if 100 in samples.traced and trials in samples.traced else {}),
    }


def spawn(contender: str, trials: int) -> dict[str, Any]:
    """measure() in a fresh driver process (its memory is its own)."""
    proc = subprocess.run([sys.executable, __file__, "--contender", contender, "--trials", str(trials)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{contender}: exit {proc.returncode}: {proc.stderr.strip()[-600:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def sections(quick: bool) -> list[benchlib.Section]:
    trials = QUICK_TRIALS if quick else FULL_TRIALS
    figures = {name: spawn(name, trials) for name in CONTENDERS}
    rows = []
    for name, f in figures.items():
        rows.append([name, str(trials), f"{f['rss100_mb']:.0f}", f"{f['rss_end_mb']:.0f}", f"{f['growth_mb']:.1f}",
                     f"{f['kb_per_trial']:.1f}", f"{f['ms_100_200']:.1f}", f"{f['ms_last_100']:.1f}",
                     benchlib.ratio(f["ms_last_100"], f["ms_100_200"]), f"{f['dir_mb']:.1f} MB / {f['dir_files']} files",
                     f"{f['wall_s']:.0f}"])
    ours = figures["raytuner"]
    # the goal is stated for 10,000 trials; a shorter run is held to the same MB per trial
    allowed = GOAL_MB * (trials - 100) / (FULL_TRIALS - 100)
    ratio = ours["ms_last_100"] / ours["ms_100_200"]
    notes = [
        benchlib.goal(ours["growth_mb"] <= allowed,
                      f"goal 5 memory: driver growth {ours['growth_mb']:.1f} MB from trial 100 to {trials} "
                      f"(≤ {allowed:.1f} MB allowed at this size, 50 MB at 10,000; raw Ray Tune "
                      f"{figures[CONTENDERS[0]]['growth_mb']:.1f} MB; {ours['kb_per_trial']:.1f} KB per trial against "
                      f"{figures[CONTENDERS[0]]['kb_per_trial']:.1f}). raytuner's own per-trial state is released "
                      "(TrialFiles, ReleaseFinished, Progress); Tune's controller keeps only the 200 most recently "
                      "completed trials: an older one leaves it (every reference: its Trial, cached state JSON, "
                      "status sets) once raytuner holds its record, ~300 bytes in Tune's experiment-state snapshot "
                      "(runner.lean_controller, runner.retired), so saves no longer grow by ~8 KB a trial; Ray's "
                      "TrialProgressCallback, which Tune adds to every run and which held every Trial to the end, is "
                      "replaced by a silent stand-in (NoTrialProgress); HeapTrim "
                      "hands the freed heap back to the OS (malloc_trim) every 50 finished trials. What is left: the "
                      "records themselves, per-trial ids in the searcher and the fault log, native memory (Ray core "
                      "worker) and allocator high water, which grows with the driver's load (BENCH_SCALE_TRACE=1 "
                      "gives the Python heap's share). What would close the gap: records spilled to a file "
                      "instead of held, and upstream, Tune keeping finished trials as records (ray#64231)."),
        benchlib.goal(ratio <= GOAL_RATIO,
                      f"goal 5 overhead: last 100 trials {ours['ms_last_100']:.1f} ms/trial vs trials 100-200 "
                      f"{ours['ms_100_200']:.1f} ms/trial ({ratio:.2f}x, goal ≤ {GOAL_RATIO}x). Every experiment-state save "
                      "and partial summary is O(trials); raytuner spaces them out with the trial count and their cost. "
                      "Tune's per-step scans cover only the trials its controller still holds (finished ones leave it). "
                      "What would close the rest: the partial summary written from a file of records instead of "
                      "rebuilt. Timings on a shared machine are noisy: compare runs made side by side."),
        f"results directory: {ours['dir_mb']:.1f} MB in {ours['dir_files']} files for {trials} trials (raytuner).",
    ]
    return [benchlib.Section(
        key="scale",
        title=f"Scale: {trials} trivial trials in one experiment (driver memory, per-trial overhead)",
        command=f"python scripts/bench_scale.py{' --quick' if quick else ''}",
        headers=["runner", "trials", "RSS @100 (MB)", "RSS @end (MB)", "growth (MB)", "KB/trial",
                 "ms/trial 100-200", "ms/trial last 100", "last/first", "results dir", "wall (s)"],
        rows=rows, notes=notes)]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--contender", choices=CONTENDERS)
    parser.add_argument("--trials", type=int, default=QUICK_TRIALS)
    known, rest = parser.parse_known_args()
    if known.contender:
        print(json.dumps(measure(known.contender, known.trials)))
        sys.exit(0)
    sys.exit(benchlib.main(sections, rest))

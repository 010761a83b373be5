"""A batched trial's files (runner.batch_files): the same bytes as the plain json/csv writer
the batched path used before, written on the writer's threads, and a failed write raised."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from raytuner.runner.batch_files import TrialFileWriter, write_trial


def _reference(path: Path, config: dict, rows: list[dict]) -> None:
    """The writer the batched path had: json.dumps per file and per line, csv.DictWriter."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "params.json").write_text(json.dumps(config, default=repr))
    (path / "result.json").write_text("".join(json.dumps({**row, "config": config}, default=repr) + "\n" for row in rows))
    if not rows:
        return
    out = io.StringIO()
    writer = csv.DictWriter(out, list(dict.fromkeys(k for row in rows for k in row)))
    writer.writeheader()
    writer.writerows(rows)
    (path / "progress.csv").write_text(out.getvalue())


CASES = {
    "one report": ({"x": 0.25, "y": [1, 2], "nested": {"lr": 1e-3}}, [{"loss": 1.5, "done": True, "trial_id": "a"}]),
    "steps, a column late, nan": ({"x": 1}, [{"loss": 2.0, "step": 1}, {"loss": float("nan"), "step": 2, "extra": "é, \"q\""}]),
    "no reports": ({"x": 3}, []),
    "an empty report": ({"x": 4}, [{}]),
    "a metric named config": ({"x": 5}, [{"config": "mine", "loss": 1.0}]),
    "a value json cannot write": ({"f": Path("/p")}, [{"loss": 0.5, "obj": object}]),
}


@pytest.mark.parametrize("config, rows", list(CASES.values()), ids=list(CASES))
def test_the_trial_files_are_the_plain_writers_bytes(tmp_path: Path, config: dict, rows: list[dict]) -> None:
    write_trial(tmp_path / "new" / "trial_a", config, rows)
    _reference(tmp_path / "old" / "trial_a", config, rows)
    old, new = tmp_path / "old" / "trial_a", tmp_path / "new" / "trial_a"
    assert sorted(p.name for p in new.iterdir()) == sorted(p.name for p in old.iterdir())
    for name in ("params.json", "result.json", "progress.csv"):
        if (old / name).exists():
            assert (new / name).read_bytes() == (old / name).read_bytes(), name


def test_the_writer_writes_every_batch_by_close_and_raises_a_failed_write(tmp_path: Path) -> None:
    with TrialFileWriter(threads=2) as files:
        for b in range(5):
            files.put([(str(tmp_path / f"trial_{b}_{i}"), {"x": i}, [{"loss": float(i)}]) for i in range(20)])
    assert len(list(tmp_path.glob("trial_*/progress.csv"))) == 100
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    files = TrialFileWriter(threads=1)
    files.put([(str(blocker / "trial_x"), {"x": 1}, [{"loss": 1.0}])])  # a directory under a file
    with pytest.raises(NotADirectoryError):
        files.close()


def test_the_progress_view_keeps_only_the_best_of_finished_batched_trials() -> None:
    from raytuner.console.progress import Progress, ProgressView

    view = ProgressView(Progress("loss", "min", total=3), io.StringIO(), live=False)
    view.record("a", {"loss": 2.0}, True)
    view.record("b", {"loss": 1.0}, True)
    view.record("c", {"loss": 1e300}, False)
    progress = view.progress
    assert progress.latest == {} and (progress.done, progress.failed) == (2, 1)  # nothing kept per trial
    assert (progress.best_trial, progress.best) == ("b", 1.0)

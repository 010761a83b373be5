"""RetiredTrials without Ray's controller: a finished trial's record, its state in the snapshot, a resume."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from raytuner.results.summary import TrialRecord, record_from_line, record_line
from raytuner.runner.retired import RetiredTrials


def _trial(tmp_path: Any, n: int, losses: list[float], kept: list[tuple[str, int]] = ()) -> Any:
    local = tmp_path / f"trial_t_{n}"
    local.mkdir()
    rows = [{"loss": v, "training_iteration": i + 1, "config": {"x": n}} for i, v in enumerate(losses)]
    (local / "result.json").write_text("".join(json.dumps(r) + "\n" for r in rows))
    checkpoints = [SimpleNamespace(checkpoint=SimpleNamespace(path=p), metrics={"training_iteration": s}) for p, s in kept]
    return SimpleNamespace(
        last_result={**rows[-1], "trial_id": f"t_{n}", "node_ip": "10.0.0.1"}, path=str(local), local_path=str(local),
        run_metadata=SimpleNamespace(checkpoint_manager=SimpleNamespace(best_checkpoint_results=checkpoints)),
        storage=SimpleNamespace(storage_filesystem=None))


def test_records_survive_the_snapshot_and_a_resume(tmp_path: Any) -> None:
    keeper = RetiredTrials("loss", "min", "best", keep=5)
    keeper.add(_trial(tmp_path, 1, [3.0, 1.0, 2.0], kept=[(str(tmp_path / "ck1"), 2), (str(tmp_path / "ck2"), 3)]))
    keeper.add(_trial(tmp_path, 2, [4.0]))
    first = keeper.records()
    assert [(r.trial_id, r.score, r.score_step, r.steps, r.config) for r in first] == [
        ("t_1", 1.0, 2, 3, {"x": 1}), ("t_2", 4.0, 1, 1, {"x": 2})]  # scope best: the best step's score
    assert first[0].metrics["node_ip"] == "10.0.0.1"

    seen: list[list[TrialRecord]] = []
    resumed = RetiredTrials("loss", "min", "best")
    resumed.on_load.append(seen.append)
    resumed.load(json.loads(json.dumps(keeper.state())))  # the snapshot is plain JSON
    assert resumed.records() == first and seen == [first]
    assert {k: [(str(c.path), m) for c, m in v] for k, v in resumed.checkpoints().items()} == {
        "t_1": [(str(tmp_path / "ck1"), {"training_iteration": 2}), (str(tmp_path / "ck2"), {"training_iteration": 3})]}
    held = TrialRecord(trial_id="t_3", status="ok", config={}, score=0.5, steps=1, time_s=0.0)
    assert [r.trial_id for r in resumed.merged([first[1], held])] == ["t_1", "t_2", "t_3"]  # each trial once


def test_a_record_line_leaves_defaults_out() -> None:
    record = TrialRecord(trial_id="a_1", status="diverged", config={"x": 1.0}, score=float("inf"), steps=2, time_s=0.5)
    line = record_line(record)
    assert "nodes" not in line and "error" not in line
    assert record_from_line(line) == record

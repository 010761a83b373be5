"""Nodes, failures and restores per trial (issue #12, part 5), from made-up Tune events (no Ray)."""

from __future__ import annotations

import io
import json

from raytuner.console.faults import fault_lines
from raytuner.console.summary import print_summary
from raytuner.results.faults import ERROR, NODE_LOST, Restore
from raytuner.results.summary import Summary, TrialRecord, _summary_from
from raytuner.runner.faults import FaultBook, _first_line


def record(trial_id: str) -> TrialRecord:
    return TrialRecord(trial_id=trial_id, status="ok", config={"x": 1}, score=1.0, steps=20, time_s=1.0)


def summary(trials: list[TrialRecord]) -> Summary:
    return Summary(name="n", experiment_path="/tmp/x", metric="loss", mode="min", strategy="random",
                   scheduler="fifo", started_at="now", wall_time_s=1.0, trials=trials, best=trials[0])


def run_with_a_lost_node() -> FaultBook:
    book = FaultBook()
    for step in range(1, 10):  # trial a on worker A, checkpoint every step
        book.result("a", "10.0.0.3", step, step)
        book.result("b", "10.0.0.4", step, step)
    book.failed("a", 1, "ray.exceptions.ActorDiedError: The actor died unexpectedly", restored=True)
    for since, step in enumerate(range(10, 21), start=1):  # went on from step 9 on B
        book.result("a", "10.0.0.4", step, since)
    return book


def test_a_restore_after_a_lost_node() -> None:
    book = run_with_a_lost_node()
    trials = [record("a"), record("b")]
    book.annotate(trials, lost_nodes={"10.0.0.3"})
    a, b = trials
    assert a.nodes == ["10.0.0.3", "10.0.0.4"] and a.failures == 1
    assert a.restores == [Restore(failure=1, cause=NODE_LOST, from_node="10.0.0.3", to_node="10.0.0.4", step=9,
                                  error="ray.exceptions.ActorDiedError: The actor died unexpectedly")]
    assert b.nodes == ["10.0.0.4"] and b.failures == 0 and b.restores == []
    assert fault_lines(summary(trials)) == [
        "1 trial restored after node loss: trial a (node 10.0.0.3 → node 10.0.0.4, from checkpoint at step 9)"]


def test_an_error_on_a_live_node_and_a_final_failure() -> None:
    book = FaultBook()
    book.result("c", "10.0.0.3", 1, 1)
    book.failed("c", 1, "RuntimeError: transient failure", restored=True)
    book.result("c", "10.0.0.3", 1, 1)  # no checkpoint: started over
    book.failed("c", 2, "RuntimeError: again", restored=False)
    trials = [record("c")]
    book.annotate(trials, lost_nodes=set())
    (c,) = trials
    assert c.failures == 2 and [r.cause for r in c.restores] == [ERROR] and c.restores[0].step == 0
    assert fault_lines(summary(trials)) == [
        "1 trial restored after an error: trial c (node 10.0.0.3 → node 10.0.0.3, from the start)"]


def test_rays_words_for_a_dead_node_count_as_a_node_loss() -> None:
    book = FaultBook()
    book.result("d", "10.0.0.5", 3, 3)
    book.failed("d", 1, "NodeDiedError: the node has died", restored=True)
    trials = [record("d")]
    book.annotate(trials, lost_nodes=set())
    assert trials[0].restores[0].cause == NODE_LOST and trials[0].restores[0].to_node is None
    assert "node 10.0.0.5 → not resumed" in fault_lines(summary(trials))[0]


def test_the_record_survives_summary_json_and_is_printed() -> None:
    trials = [record("a"), record("b")]
    run_with_a_lost_node().annotate(trials, lost_nodes={"10.0.0.3"})
    data = json.loads(json.dumps(summary(trials).to_data()))
    assert data["trials"][0]["nodes"] == ["10.0.0.3", "10.0.0.4"]
    assert data["trials"][0]["restores"][0]["cause"] == "node_lost"
    back = _summary_from(data)
    assert back.trials[0].restores == trials[0].restores and back.trials[0].failures == 1
    out = io.StringIO()
    print_summary(back, out)
    assert "1 trial restored after node loss: trial a (node 10.0.0.3 → node 10.0.0.4, from checkpoint at step 9)" \
        in out.getvalue()


def test_an_old_summary_without_the_fields_reads_back() -> None:
    data = json.loads(json.dumps(summary([record("a")]).to_data()))
    for trial in data["trials"] + [data["best"]]:
        for key in ("nodes", "failures", "restores"):
            trial.pop(key)
    back = _summary_from(data)
    assert back.trials[0].restores == [] and back.trials[0].nodes == [] and fault_lines(back) == []


def test_first_line_of_the_latest_failure() -> None:
    text = "Failure # 1 (occurred at 2026)\nRuntimeError: one\n  more\nFailure # 2 (occurred at 2026)\n\nValueError: two\n"
    assert _first_line(text) == "ValueError: two" and _first_line(None) is None

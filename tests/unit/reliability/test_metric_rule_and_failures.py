"""The metrics rule, trial records and the grouped failure block (no Ray started)."""

from __future__ import annotations

import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from raytuner.console.failures import all_failed_message, failure_groups, failure_lines
from raytuner.console.summary import print_summary
from raytuner.errors import SpecError
from raytuner.results.metric_rule import (DIVERGED, FAILED, REASON_KEY, STATUS_KEY, WORST, apply_rule, flagged, judge,
                                          restore_raw)
from raytuner.results.summary import Summary, TrialRecord
from raytuner.runner.records import error_parts, one_line, trial_record

MIN = (("loss", "min"),)


@pytest.mark.parametrize("value", [1.5, 0, -3, np.float64(2.0), np.int64(4), np.float32(0.5)])
def test_finite_numbers_pass_unchanged(value) -> None:
    metrics = {"loss": value, "other": "text"}
    assert judge(metrics, MIN) is None
    assert apply_rule(metrics, MIN) == metrics


@pytest.mark.parametrize("value, status, worst", [
    (float("nan"), DIVERGED, WORST), (float("inf"), DIVERGED, WORST), (float("-inf"), DIVERGED, WORST),
    (np.float64("nan"), DIVERGED, WORST), ("oops", FAILED, WORST), (None, FAILED, WORST), (True, FAILED, WORST),
])
def test_bad_values_become_the_worst_finite_value_and_end_the_trial(value, status, worst) -> None:
    out = apply_rule({"loss": value, "acc": 0.5}, MIN, step=2)
    assert out["loss"] == worst and math.isfinite(out["loss"])
    assert out[STATUS_KEY] == status and out["done"] is True and "at step 2" in out[REASON_KEY]
    assert out["acc"] == 0.5 and flagged(out)
    back = restore_raw(out)
    if status == DIVERGED:
        assert math.isnan(back["loss"]) if math.isnan(value) else back["loss"] == value
    assert STATUS_KEY in back and not any(k.startswith("raytuner_raw_") for k in back)


def test_a_missing_metric_fails_the_trial_and_maximising_gets_minus_worst() -> None:
    out = apply_rule({"acc": 0.5}, (("loss", "max"),), step=1)
    assert out["loss"] == -WORST and out[STATUS_KEY] == FAILED
    assert out[REASON_KEY] == "no 'loss' reported at step 1"
    assert "loss" not in restore_raw(out)  # missing again when read back


def test_every_objective_is_checked_and_failed_wins_over_diverged() -> None:
    objectives = (("f1", "min"), ("f2", "max"))
    out = apply_rule({"f1": float("nan"), "f2": "x"}, objectives)
    assert out[STATUS_KEY] == FAILED and out["f1"] == WORST and out["f2"] == -WORST
    assert judge({"f1": 1.0, "f2": float("inf")}, objectives).bad == ("f2",)


# -- records: what a Ray Result becomes ------------------------------------------


def _result(tmp: Path, metrics=None, error=None, tid="abc") -> SimpleNamespace:
    return SimpleNamespace(metrics=metrics or {}, error=error, path=str(tmp / f"trial_{tid}"), config={"x": 1})


def test_a_failed_trials_record_keeps_the_original_type_and_one_line(tmp_path: Path) -> None:
    from ray.exceptions import RayTaskError

    tb = "Traceback (most recent call last):\n  File \"f.py\", line 1\nValueError: x=-1 is negative"
    wrapped = RayTaskError("\x1b[36mtrain\x1b[39m", tb, ValueError("x=-1 is negative")).as_instanceof_cause()
    record = trial_record(_result(tmp_path, error=wrapped), "loss")
    assert record.status == "error" and record.error_type == "ValueError"
    assert record.error == "ValueError: x=-1 is negative"
    assert record.error_log == str(tmp_path / "trial_abc" / "error.txt")
    spec = trial_record(_result(tmp_path, error=RayTaskError("t", "tb", SpecError.at("a.b", 1, "c"))), "loss")
    assert spec.error_type == "SpecError" and spec.error == "SpecError: invalid spec: a.b: got 1; expected c"


def test_error_text_of_a_traceback_is_its_last_line_without_colours() -> None:
    assert one_line("\x1b[36mray::train()\x1b[39m\n  File x\nValueError: bad", "ValueError") == "bad"
    from ray.tune.error import TuneError

    assert error_parts(TuneError("Failure # 1\nTraceback...\nKeyError: 'col'")) == ("TuneError", "KeyError: 'col'")


def test_diverged_and_metric_failed_records(tmp_path: Path) -> None:
    nan = apply_rule({"loss": float("nan"), "step": 2}, MIN, step=2)
    record = trial_record(_result(tmp_path, {**nan, "training_iteration": 2}), "loss")
    assert record.status == "diverged" and math.isnan(record.score) and record.steps == 2
    assert record.error == "diverged: loss is nan at step 2" and record.error_type is None
    assert STATUS_KEY not in record.metrics and math.isnan(record.metrics["loss"])
    missing = trial_record(_result(tmp_path, apply_rule({"acc": 1.0}, MIN, step=1)), "loss")
    assert missing.status == "error" and missing.score is None and missing.error_type == "MetricError"
    ok = trial_record(_result(tmp_path, {"loss": 0.5, "training_iteration": 3}), "loss")
    assert ok.status == "ok" and ok.score == 0.5 and ok.error is None


def test_a_clone_that_failed_before_reporting_is_not_ranked_with_its_donors_score(tmp_path: Path) -> None:
    donors = {"loss": 0.1, "training_iteration": 4, "trial_id": "donor"}  # what PBT left as its last result
    failed = trial_record(_result(tmp_path, donors, error=RuntimeError("does not fit"), tid="clone"), "loss")
    assert failed.status == "error" and failed.score is None and failed.score_step is None
    own = trial_record(_result(tmp_path, {**donors, "trial_id": "clone"}, error=RuntimeError("x"), tid="clone"), "loss")
    assert own.score == 0.1  # a trial that failed after its own reports keeps its last score


# -- the block ----------------------------------------------------------------------


def _trial(tid: str, status: str = "ok", score=1.0, error=None, error_type=None, log=None) -> TrialRecord:
    return TrialRecord(trial_id=tid, status=status, config={"x": 1}, score=score, steps=1, time_s=0.1, error=error,
                       path=f"/exp/trial_{tid}", error_type=error_type, error_log=log)


def _trials() -> list[TrialRecord]:
    out = [_trial("good", score=0.5), _trial("worse", score=2.0)]
    out += [_trial(f"v{i}", "error", None, f"ValueError: x=-{i}.0 is negative", "ValueError", f"/exp/trial_v{i}/error.txt")
            for i in range(6)]
    out += [_trial("t0", "error", None, "TypeError: bad", "TypeError", "/exp/trial_t0/error.txt")]
    out += [_trial(f"d{i}", "diverged", float("nan"), "diverged: loss is nan at step 2") for i in range(2)]
    return out


def test_failures_are_grouped_one_line_per_error() -> None:
    groups = failure_groups(_trials())
    assert [(g.status, g.error_type, len(g.trials)) for g in groups] == [
        ("error", "ValueError", 6), ("error", "TypeError", 1), ("diverged", None, 2)]
    lines = failure_lines(_trials())
    assert lines == [
        "6 trials failed: ValueError: x=-0.0 is negative (first: trial v0, log: /exp/trial_v0/error.txt)",
        "1 trial failed: TypeError: bad (first: trial t0, log: /exp/trial_t0/error.txt)",
        "2 trials diverged: loss is nan at step 2 (first: trial d0, in /exp/trial_d0)",
    ]


def test_verbose_adds_the_first_traceback_of_each_group(tmp_path: Path) -> None:
    log = tmp_path / "error.txt"
    log.write_text("Failure # 1\n\x1b[36mray::train()\x1b[39m\nTraceback (most recent call last):\nTypeError: bad\n")
    trials = [_trial("t0", "error", None, "TypeError: bad", "TypeError", str(log))]
    assert not any("Traceback" in line for line in failure_lines(trials))
    verbose = failure_lines(trials, verbose=True)
    assert "    Traceback (most recent call last):" in verbose and not any("\x1b" in line for line in verbose)


def test_the_summary_ranks_diverged_and_failed_last_and_prints_the_block(capsys) -> None:
    trials = _trials()
    summary = Summary(name="s", experiment_path="/exp", metric="loss", mode="min", strategy="random", scheduler="fifo",
                      started_at="now", wall_time_s=1.0, trials=trials, best=trials[0])
    assert [t.trial_id for t in summary.ranked()][:2] == ["good", "worse"]
    assert {t.status for t in summary.ranked()[2:]} == {"error", "diverged"}
    assert summary.counts == {"total": 11, "ok": 2, "error": 7, "diverged": 2}
    print_summary(summary, top=20)
    out = capsys.readouterr().out
    assert "trials: 11 (2 ok, 7 failed, 2 diverged)" in out
    assert out.count("6 trials failed: ValueError") == 1 and "Traceback" not in out and "\x1b" not in out
    assert "diverged" in out.split("trials:")[0]  # the leaderboard shows the status, not nan
    message = all_failed_message(trials[2:], "/exp")
    assert message.startswith("all 9 trials failed:\n  6 trials failed: ValueError") and message.endswith("details: /exp")


def test_reading_trial_files_back_shows_no_stand_in_values(tmp_path: Path) -> None:
    from raytuner.results.experiment import _read_rows

    (tmp_path / "progress.csv").write_text("loss,step,note\n1.5,1,a\n1e+300,2,b\n")
    rows = _read_rows(tmp_path)
    assert rows["loss"].iloc[0] == 1.5 and math.isnan(rows["loss"].iloc[1])
    assert list(rows["step"]) == [1, 2] and list(rows["note"]) == ["a", "b"]


def test_a_trainable_may_flag_divergence_itself_and_the_trial_ranks_last(tmp_path: Path) -> None:
    reported = {"val_accuracy": 0.9, STATUS_KEY: DIVERGED, REASON_KEY: "train_loss is nan", "epoch": 3}
    out = apply_rule(reported, (("val_accuracy", "max"),), step=3)
    assert out["val_accuracy"] == -WORST and out["done"] is True and out[REASON_KEY] == "train_loss is nan at step 3"
    record = trial_record(_result(tmp_path, out), "val_accuracy")
    assert record.status == "diverged" and record.score == 0.9  # the raw value is kept...
    ok = _trial("ok", score=0.5)
    summary = Summary(name="s", experiment_path="/exp", metric="val_accuracy", mode="max", strategy="random",
                      scheduler="fifo", started_at="now", wall_time_s=1.0, trials=[record, ok], best=None)
    assert summary.ranked() == [ok, record]  # ...but it ranks last and is never the best
    from raytuner.results.summary import best_of

    assert best_of([record, ok], "max") is ok

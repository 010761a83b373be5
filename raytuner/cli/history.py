"""CLI commands for the experiment history store: history list|show|similar|forget|export."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from typing import Any, Callable

Register = Callable[[str], Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]]


def add_history_commands(sub: Any, command: Register) -> None:
    p = sub.add_parser("history", help="past experiments in the history store (list, show, similar, forget, export)")
    actions = p.add_subparsers(dest="history_command", required=True, metavar="ACTION")
    q = actions.add_parser("list", help="recorded experiments, newest first")
    q.add_argument("--family", default=None, help="only this estimator / model family")
    q.add_argument("--limit", type=int, default=50)
    _common(q)
    q = actions.add_parser("show", help="one experiment: its fingerprint and trials")
    q.add_argument("id", type=int, help="experiment id (raytuner history list)")
    _common(q)
    q = actions.add_parser("similar", help="past experiments most similar to a spec's task (what warm_start would use)")
    q.add_argument("spec", help="experiment spec (YAML)")
    q.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    q.add_argument("-k", type=int, default=5, help="how many")
    _common(q)
    q = actions.add_parser("forget", help="delete an experiment (and its trials) from the store")
    q.add_argument("id", type=int)
    _common(q)
    q = actions.add_parser("export", help="every trial of every experiment as CSV (--json: experiments with trials)")
    q.add_argument("-o", "--out", default=None, help="write to this file (default: stdout)")
    _common(q)
    command("history")(_history)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=None, help="SQLAlchemy URL of the store (default: $RAYTUNER_HISTORY_URL, "
                                               "else sqlite in $RAYTUNER_HOME/history.db)")
    p.add_argument("--json", action="store_true", help="JSON on stdout")


def _store(args: argparse.Namespace) -> Any:
    from raytuner.results.history.store import HistoryStore

    return HistoryStore(args.url)


def _history(args: argparse.Namespace) -> int:
    return ACTIONS[args.history_command](args)


def _score(value: Any) -> str:
    return "-" if value is None else f"{value:.6g}"


def _list(args: argparse.Namespace) -> int:
    found = _store(args).experiments(family=args.family, trials=True, limit=args.limit)
    if args.json:
        print(json.dumps([e.to_data(trials=False) for e in found], indent=2))
        return 0
    if not found:
        print("no experiment recorded yet")
    for e in found:
        print(f"{e.id:>5}  {e.started_at:<19}  {e.name:<24} {e.state:<8} {len(e.trials):>4} trials  "
              f"best {e.metric} {_score(e.best_score)}  {e.family}")
    return 0


def _show(args: argparse.Namespace) -> int:
    e = _store(args).get(args.id)
    if args.json:
        print(json.dumps(e.to_data(), indent=2, default=str))
        return 0
    print(f"experiment {e.id}: {e.name} ({e.state}), {e.path}")
    print(f"  {e.family}; {e.metric} ({e.mode}); strategy {e.strategy}, scheduler {e.scheduler}; "
          f"started {e.started_at}, {e.wall_time_s:.1f}s; recorded {e.recorded_at} on {e.host or '?'}")
    fp = {k: v for k, v in e.fingerprint.items() if k not in ("family", "space")}
    print("  fingerprint: " + ", ".join(f"{k}={_fmt(v)}" for k, v in fp.items()))
    print("  space: " + ", ".join(f"{k} ({v})" for k, v in (e.fingerprint.get("space") or {}).items()))
    print(f"  best {e.metric}: {_score(e.best_score)}  config: {json.dumps(e.best_config, default=str)}")
    for t in e.trials:
        print(f"  {t.trial_id:<14} {t.status:<8} {_score(t.score):>10}  {t.steps:>3} steps  {json.dumps(t.config, default=str)}")
    return 0


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _similar(args: argparse.Namespace) -> int:
    from raytuner.runner.history import task_fingerprint
    from raytuner.runner.plan import make_plan
    from raytuner.spec.loader import load_spec

    plan = make_plan(load_spec(args.spec, args.overrides))  # checked as `raytuner validate` does; no Ray
    found = _store(args).similar(task_fingerprint(plan), args.k, metric=plan.metric)
    if args.json:
        print(json.dumps([{"distance": s.distance, **s.experiment.to_data(trials=False)} for s in found], indent=2))
        return 0
    if not found:
        print(f"no past experiment of family {task_fingerprint(plan)['family']} with metric {plan.metric}")
    for s in found:
        e = s.experiment
        print(f"{e.id:>5}  distance {s.distance:.4f}  {e.name:<24} best {e.metric} {_score(e.best_score)}  {e.path}")
    return 0


def _forget(args: argparse.Namespace) -> int:
    from raytuner.errors import ResultsError

    if not _store(args).forget(args.id):
        raise ResultsError(f"history: no experiment with id {args.id} (raytuner history list shows the ids)")
    print(json.dumps({"forgotten": args.id}) if args.json else f"forgot experiment {args.id}")
    return 0


def _export(args: argparse.Namespace) -> int:
    found = _store(args).experiments(trials=True)
    out = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        if args.json:
            json.dump([e.to_data() for e in found], out, indent=2, default=str)
            out.write("\n")
        else:
            writer = csv.writer(out)
            writer.writerow(["experiment_id", "experiment", "family", "metric", "mode", "trial_id", "status",
                             "score", "steps", "config"])
            for e in found:
                for t in e.trials:
                    writer.writerow([e.id, e.name, e.family, e.metric, e.mode, t.trial_id, t.status,
                                     "" if t.score is None else t.score, t.steps, json.dumps(t.config, default=str)])
    finally:
        if args.out:
            out.close()
    return 0


ACTIONS: dict[str, Callable[[argparse.Namespace], int]] = {
    "list": _list, "show": _show, "similar": _similar, "forget": _forget, "export": _export,
}

"""The command line: parse arguments, call the library, print. Nothing else lives here."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Sequence

from raytuner.errors import RaytunerError

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def register(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return register


def _spec_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("spec", help="experiment spec (YAML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a spec field, e.g. --set budget.trials=20 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="raytuner", description="Declarative, distributed hyperparameter tuning on Ray.")
    from raytuner import __version__

    parser.add_argument("--version", action="version", version=f"raytuner {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="run an experiment spec on Ray")
    _spec_args(p)
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--top", type=int, default=10, help="rows of the leaderboard")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--quiet", action="store_true", help="no progress; print only the results path")
    out.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--verbose", action="store_true", help="show Ray's logs and trial output")

    p = sub.add_parser("validate", help="check a spec without running it")
    _spec_args(p)

    sub.add_parser("strategies", help="list strategies and schedulers")
    sub.add_parser("schema", help="print the JSON Schema of the spec")

    p = sub.add_parser("results", help="show the leaderboard of a finished experiment")
    p.add_argument("path", help="experiment directory (or a storage directory: its newest experiment)")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--json", action="store_true")
    return parser


@command("run")
def _run(args: argparse.Namespace) -> int:
    from raytuner.display import print_summary
    from raytuner.loader import load_spec
    from raytuner.runner import run_experiment

    spec = load_spec(args.spec, args.overrides)
    summary = run_experiment(spec, address=args.address, show_progress=not (args.quiet or args.json), verbose=args.verbose)
    if args.json:
        print(json.dumps(summary.to_data(), indent=2))
    elif args.quiet:
        print(summary.experiment_path)
    else:
        print_summary(summary, top=args.top)
    return 0


@command("validate")
def _validate(args: argparse.Namespace) -> int:
    from raytuner.loader import load_spec
    from raytuner.params import iter_params
    from raytuner.plan import make_plan

    spec = load_spec(args.spec, args.overrides)
    plan = make_plan(spec)
    tuned = [".".join(path) for path, p in iter_params(spec.space) if p.type != "fixed"]
    print(
        f"ok: {spec.name}: {spec.trainable.type} trainable, {plan.metric} ({plan.mode}), "
        f"strategy {plan.strategy_label}, scheduler {plan.scheduler.name}, "
        f"{plan.num_samples} sample(s), tuning {', '.join(tuned) or 'nothing'}"
    )
    for note in plan.notes:
        print(note)
    return 0


@command("strategies")
def _strategies(args: argparse.Namespace) -> int:
    from raytuner.schedulers import SCHEDULERS
    from raytuner.strategies import STRATEGIES

    print("strategies (strategy.name):")
    for entry in STRATEGIES.entries():
        kinds = ", ".join(sorted(STRATEGIES.get(entry.name).supports))
        print(f"  {entry.name:<12} {entry.summary}  [space: {kinds}]")
    print("schedulers (scheduler.name):")
    for entry in SCHEDULERS.entries():
        print(f"  {entry.name:<12} {entry.summary}")
    return 0


@command("schema")
def _schema(args: argparse.Namespace) -> int:
    from raytuner.loader import dump_schema

    print(dump_schema())
    return 0


@command("results")
def _results(args: argparse.Namespace) -> int:
    from pathlib import Path

    from raytuner.display import print_summary
    from raytuner.results import SUMMARY_FILE, latest_experiment, read_summary

    path = Path(args.path)
    if path.is_dir() and not (path / SUMMARY_FILE).exists():
        path = latest_experiment(path)
    summary = read_summary(path)
    if args.json:
        print(json.dumps(summary.to_data(), indent=2))
    else:
        print_summary(summary, top=args.top)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except RaytunerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def entry() -> None:  # pragma: no cover - console script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

"""The command line: parse arguments, call the library, print. Nothing else lives here."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from typing import Any, Callable, Iterator, Sequence

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
    from raytuner.results.versions import __version__

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
    p.add_argument("--report", action="store_true", help="also write <experiment>/report.html and print its path")
    p.add_argument("--no-history", action="store_true", help="do not record this run in the history store")

    p = sub.add_parser("resume", help="finish an interrupted experiment (Ctrl+C, a killed driver, a reboot)")
    p.add_argument("path", help="the experiment directory (local or s3://...) `raytuner run` printed")
    p.add_argument("--retry-failed", action="store_true", help="also rerun failed trials, from scratch")
    p.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--endpoint", default=None, help="S3-compatible endpoint for s3:// paths")
    p.add_argument("--top", type=int, default=10, help="rows of the leaderboard")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.add_argument("--verbose", action="store_true", help="show Ray's logs and trial output")

    p = sub.add_parser("validate", help="check a spec without running it")
    _spec_args(p)

    sub.add_parser("strategies", help="list strategies and schedulers")
    sub.add_parser("schema", help="print the JSON Schema of the spec")

    p = sub.add_parser("report", help="write an experiment's offline HTML report (one self-contained file)")
    p.add_argument("path", help="experiment directory (local or s3://...), finished, running or interrupted")
    p.add_argument("-o", "--out", default=None, help="where to write it (default: <experiment>/report.html)")
    p.add_argument("--endpoint", default=None, help="S3-compatible endpoint for s3:// paths")

    p = sub.add_parser("results", help="show the leaderboard of a finished experiment")
    p.add_argument("path", help="experiment directory (or a storage directory: its newest experiment)")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.add_argument("--verbose", action="store_true", help="with each group of failed trials, the first one's traceback")
    p.add_argument("--endpoint", default=None, help="S3-compatible endpoint for s3:// paths, e.g. http://127.0.0.1:9000")

    from raytuner.cli.cluster import add_cluster_commands

    add_cluster_commands(sub, command)
    from raytuner.cli.session import add_session_commands  # session start|stop|status
    add_session_commands(sub, command)
    from raytuner.cli.results import add_results_commands  # compare, experiments
    add_results_commands(sub, command)
    from raytuner.cli.history import add_history_commands  # history list|show|similar|forget|export
    add_history_commands(sub, command)

    p = sub.add_parser("predict", help="predict with a saved model (an experiment's refit model or ensemble)")
    p.add_argument("--model", required=True, help="experiment directory, model directory or model file (local or s3://...)")
    p.add_argument("--data", required=True, help="a .csv / .parquet file with the training columns")
    p.add_argument("--out", default=None, help="write predictions to this CSV (default: stdout)")
    p.add_argument("--ensemble", action="store_true", help="use the experiment's ensemble instead of its best model")
    p.add_argument("--proba", action="store_true", help="add one probability column per class")
    p.add_argument("--format", choices=["joblib", "skops"], default=None, help="which saved file to load")
    p.add_argument("--endpoint", default=None, help="S3-compatible endpoint for an s3:// --model")

    p = sub.add_parser("ensemble", help="build an ensemble of a finished experiment's top configs (no new search)")
    p.add_argument("path", help="experiment directory")
    p.add_argument("--method", default=None, help="greedy | voting | average | stacking (default: the spec's, else greedy)")
    p.add_argument("--top-k", type=int, default=None, help="distinct configs, best first (default: the spec's, else 5)")
    p.add_argument("--option", dest="options", action="append", default=None, metavar="KEY=VALUE",
                   help="a method option, e.g. --option rounds=100 (repeatable)")
    p.add_argument("--json", action="store_true")
    return parser


@contextlib.contextmanager
def blamed(args: argparse.Namespace) -> Iterator[None]:
    """A SpecError in the block names the spec file and the ``--set`` that caused it."""
    from raytuner.errors import SpecError
    from raytuner.spec.loader import blame_overrides

    try:
        yield
    except SpecError as exc:
        if exc.source is not None:
            raise
        raise SpecError(blame_overrides(exc.problems, args.overrides), args.spec) from None


def load_checked(args: argparse.Namespace) -> tuple[Any, Any]:
    """Load a spec with its overrides and check it fully (no Ray): (spec, plan)."""
    from raytuner.spec.loader import load_spec
    from raytuner.runner.plan import make_plan

    spec = load_spec(args.spec, args.overrides)
    with blamed(args):
        return spec, make_plan(spec)


@command("run")
def _run(args: argparse.Namespace) -> int:
    from raytuner.runner.early import start_ray_early
    from raytuner.runner.session import quiet_ray

    args.overrides += ["history.record=false"] if args.no_history else []
    spec, plan = load_checked(args)
    with blamed(args), quiet_ray(args.verbose):  # the preflight's sample fit fails before any trial runs
        start_ray_early(plan, args.address, verbose=args.verbose)  # Ray starts while the runner imports
        from raytuner.console.summary import print_summary
        from raytuner.runner.experiment import run_experiment

        summary = run_experiment(spec, address=args.address, show_progress=not (args.quiet or args.json), verbose=args.verbose)
    if args.json:
        print(json.dumps(summary.to_data(), indent=2))
    elif args.quiet:
        print(summary.experiment_path)
    else:
        print_summary(summary, top=args.top, verbose=args.verbose)
        print(f"report: raytuner report {summary.experiment_path}")
    if args.report:
        from raytuner.console.report import write_report

        path = write_report(summary.experiment_path)
        if not args.json:
            print(f"report written: {path}")
    return 0


@command("resume")
def _resume(args: argparse.Namespace) -> int:
    from raytuner.console.summary import print_summary
    from raytuner.runner.experiment import resume_experiment

    summary = resume_experiment(args.path, retry_failed=args.retry_failed, endpoint=args.endpoint,
                                address=args.address, show_progress=not args.json, verbose=args.verbose)
    if args.json:
        print(json.dumps(summary.to_data(), indent=2))
    else:
        print_summary(summary, top=args.top)
    return 0


@command("report")
def _report(args: argparse.Namespace) -> int:
    from raytuner.console.report import write_report

    print(write_report(args.path, args.out, endpoint=args.endpoint))
    return 0


@command("validate")
def _validate(args: argparse.Namespace) -> int:
    from raytuner.runner.preflight import rehearse
    from raytuner.spec.params import iter_params

    from raytuner.results.storage import for_spec, probe
    from raytuner.trainables.remote_data import credentials_here, unchecked_note

    spec, plan = load_checked(args)
    if "://" in spec.storage.path and credentials_here(spec.storage.path):
        probe(for_spec(spec.storage), "reach storage")  # refused credentials: one message
    note = unchecked_note(plan.trainable.spec)  # s3:// data and no credentials here: not read
    with blamed(args):
        fit = None if note else rehearse(plan)  # loads the data and fits one fold of a sample, as a trial would
        from raytuner.runner.warm_start import warm_start

        plan, _ = warm_start(plan)  # warm_start.from: an experiment directory that is one, the store reachable
    tuned = [".".join(path) for path, p in iter_params(spec.space) if p.type != "fixed"]
    print(
        f"ok: {spec.name}: {spec.trainable.type} trainable, {plan.metric} ({plan.mode}), "
        f"strategy {plan.strategy_label}, scheduler {plan.scheduler.name}, "
        f"{plan.num_samples} sample(s), tuning {', '.join(tuned) or 'nothing'}"
    )
    if fit is not None:
        print(f"sample fit: {fit.rows} rows, one fold, {plan.metric} {fit.score:.4g} in {fit.seconds:.2f} s")
    report = None if note else plan.trainable.data_report()
    if report:
        print("preprocessing (inside the pipeline, fitted per fold):")
        for line in report["lines"]:
            print(f"  {line}")
    for line in [*plan.notes, *([note] if note else [])]:
        print(line)
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
    from raytuner.ensemble import ENSEMBLE_METHODS

    print("ensemble methods (ensemble.method):")
    for entry in ENSEMBLE_METHODS.entries():
        print(f"  {entry.name:<12} {entry.summary}")
    return 0


@command("schema")
def _schema(args: argparse.Namespace) -> int:
    from raytuner.spec.loader import dump_schema

    print(dump_schema())
    return 0


@command("results")
def _results(args: argparse.Namespace) -> int:
    from pathlib import Path

    from raytuner.results.summary import SPEC_FILE, SUMMARY_FILE, latest_experiment, read_summary

    if "://" in args.path:  # s3://bucket/exp (a storage root or one experiment)
        from raytuner.errors import ResultsError, SpecError
        from raytuner.results.storage import exists, resolve

        uri = args.path
        try:
            if not exists(resolve(uri, endpoint=args.endpoint).child(SUMMARY_FILE)):
                uri = str(latest_experiment(uri, endpoint=args.endpoint))
            return _show(read_summary(uri, endpoint=args.endpoint), args)
        except SpecError as exc:
            raise ResultsError(f"cannot open {args.path}: {exc.problems[0].expected}") from None
    from raytuner.results.experiment import read_experiment

    path = Path(args.path)
    if path.is_file() and path.name == SUMMARY_FILE:
        path = path.parent
    if path.is_dir() and not (path / SUMMARY_FILE).exists():
        if (path / SPEC_FILE).is_file():  # running or interrupted: read from its trial directories
            print(f"{path}: not finished (no {SUMMARY_FILE}); read from its trial directories", file=sys.stderr)
        else:
            path = latest_experiment(path)
    experiment = read_experiment(path)  # the leaderboard ranks its trials table
    summary = read_summary(path) if (path / SUMMARY_FILE).is_file() else experiment.to_summary()
    return _show(summary, args, experiment.trials)


def _show(summary: Any, args: argparse.Namespace, trials: Any = None) -> int:
    from raytuner.console.summary import print_summary

    if args.json:
        print(json.dumps(summary.to_data(), indent=2))
    else:
        print_summary(summary, top=args.top, verbose=args.verbose, trials=trials)
    return 0


@command("predict")
def _predict(args: argparse.Namespace) -> int:
    from raytuner.runner.predict import load_model, predict_table
    from raytuner.trainables.holdout import read_table

    saved = load_model(args.model, args.format, ensemble=args.ensemble, endpoint=args.endpoint)
    frame = read_table(args.data) if _is_file(args.data, "--data") else None
    table, score = predict_table(saved, frame, proba=args.proba)
    if args.out:
        table.to_csv(args.out, index=False)
    else:
        table.to_csv(sys.stdout, index=False)
    if score is not None:
        print(f"{saved.meta['metric']}: {score:.6g} on {len(table)} rows of {args.data}", file=sys.stderr)
    return 0


@command("ensemble")
def _ensemble(args: argparse.Namespace) -> int:
    from raytuner.runner.ensemble_step import ensemble_experiment
    from raytuner.console.final import describe_final
    from raytuner.spec.loader import parse_override
    from raytuner.results.summary import json_safe, read_summary

    options = None
    if args.options is not None:
        options = {}
        for text in args.options:
            keys, value = parse_override(text)
            options[".".join(keys)] = value
    result = ensemble_experiment(args.path, args.method, args.top_k, options)  # recorded in summary.json
    if args.json:
        print(json.dumps(json_safe(result.to_data()), indent=2))
    else:
        from raytuner.console.summary import _console

        summary = read_summary(args.path)
        console = _console(None)
        for line in describe_final(summary.final, summary.metric):
            console.print(line)
    return 0  # a failing step raises (exit status from the error)


def _is_file(path: str, field: str) -> bool:
    from pathlib import Path

    from raytuner.errors import SpecError

    if not Path(path).is_file():
        raise SpecError.at(field, path, "an existing .csv / .parquet file")
    return True


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except RaytunerError as exc:
        print(f"{exc.prefix}{exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def entry() -> None:  # pragma: no cover - console script
    sys.exit(main())


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

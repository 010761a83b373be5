"""CLI commands over finished (or running) experiments: compare, experiments. Thin: parse, call, print."""

from __future__ import annotations

import argparse
import json
from typing import Any, Callable

Register = Callable[[str], Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]]


def add_results_commands(sub: Any, command: Register) -> None:
    p = sub.add_parser("compare", help="compare experiments side by side in one offline HTML page")
    p.add_argument("paths", nargs="+", metavar="DIR", help="two or more experiment directories (local or s3://...)")
    p.add_argument("-o", "--out", default=None, help="where to write it (default: ./compare.html)")
    p.add_argument("--force", action="store_true",
                   help="compare experiments whose metric or mode differ (refused otherwise)")
    p.add_argument("--endpoint", default=None, help="S3-compatible endpoint for s3:// paths")
    command("compare")(_compare)

    p = sub.add_parser("experiments", help="every experiment under a storage path, newest first")
    p.add_argument("storage", nargs="?", default=None,
                   help="storage path (local or s3://...; default: the spec's default storage.path)")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.add_argument("--endpoint", default=None, help="S3-compatible endpoint for s3:// paths")
    command("experiments")(_experiments)


def _compare(args: argparse.Namespace) -> int:
    from raytuner.console.experiments import print_totals
    from raytuner.console.report.compare import write_comparison
    from raytuner.results.comparison import compare_experiments

    comparison = compare_experiments(args.paths, force=args.force, endpoint=args.endpoint)
    path = write_comparison(comparison, args.out)
    for line in comparison.notes:
        print(line)
    print_totals(comparison.totals)
    print(path)
    return 0


def _experiments(args: argparse.Namespace) -> int:
    from raytuner.console.experiments import print_experiments
    from raytuner.results.catalog import default_storage, list_experiments

    entries = list_experiments(args.storage, endpoint=args.endpoint)
    if args.json:
        print(json.dumps([e.to_data() for e in entries], indent=2))
    else:
        print_experiments(entries, args.storage or default_storage())
    return 0

"""``raytuner session start|stop|status``: the opt-in warm local session (raytuner.session)."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any, Callable

Register = Callable[[str], Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]]
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}


def duration(text: str) -> float:
    """Seconds from '90', '90s', '30m' or '2h'; 0 is no timeout."""
    value = text.strip().lower()
    scale = _UNITS.get(value[-1:], None)
    number = value[:-1] if scale is not None else value
    try:
        seconds = float(number) * (scale or 1.0)
    except ValueError:
        seconds = -1.0
    if seconds < 0 or seconds != seconds:
        raise argparse.ArgumentTypeError(f"{text!r}: expected a duration such as 90s, 30m or 2h (0: none)")
    return seconds


def add_session_commands(sub: Any, command: Register) -> None:
    p = sub.add_parser("session", help="a warm local Ray kept between runs (opt-in): start, stop, status")
    actions = p.add_subparsers(dest="session_command", required=True, metavar="ACTION")
    q = actions.add_parser("start", help="start it; later runs without --address join it")
    q.add_argument("--idle-timeout", type=duration, default=duration("30m"),
                   help="stop it after this long with no run connected (default 30m; 0: never)")
    q.add_argument("--num-cpus", type=int, default=None, help="CPUs it offers (default: all)")
    actions.add_parser("stop", help="stop it (its own processes only)")
    q = actions.add_parser("status", help="whether one is up, and where")
    q.add_argument("--json", action="store_true")
    command("session")(_session)


def _session(args: argparse.Namespace) -> int:
    import raytuner.cluster.session as session

    if args.session_command == "start":
        started = time.perf_counter()
        state = session.start(args.idle_timeout, args.num_cpus)
        idle = f"stops after {state.idle_timeout_s:g} s idle" if state.idle_timeout_s else "no idle timeout"
        print(f"raytuner session at {state.address} ({state.num_cpus} CPUs, {idle}; pid {state.pid}), "
              f"up in {time.perf_counter() - started:.1f} s; `raytuner session stop` to end it")
        return 0
    if args.session_command == "stop":
        print("session stopped" if session.stop() else "no session was running")
        return 0
    info = session.status()
    if args.json:
        print(json.dumps(info, indent=2))
    elif not info["running"]:
        print("no session")
    else:
        usable = "in use by runs without --address" if info["usable"] else f"not used: {info['why_not']}"
        print(f"session at {info['address']} (pid {info['pid']}, {info['num_cpus']} CPUs): {usable}")
    return 0 if info["running"] else 1

"""Talking to a cluster that may be just starting, or of another version.

- :func:`retrying`: a Jobs API call retried with exponential backoff for a bounded time while
  the answer is transient (Ray's "No available agent to submit job" right after a head starts,
  5xx answers, a refused or reset connection); then a clear error. Everything else (401, 403,
  404, a bad request) fails at once.
- :func:`check_versions`: Ray and Python (major.minor) here and on the cluster must agree
  before anything is uploaded: the job's environment is pinned from this machine, and Ray's
  client and cluster talk one protocol.
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from raytuner.errors import ClusterError

T = TypeVar("T")
RETRY_S = 60.0  # how long transient Jobs API errors are retried
FIRST_DELAY_S = 0.5
MAX_DELAY_S = 8.0
TRANSIENT = re.compile(
    r"No available agent|please try again later|status code:? 5\d\d\b|\b50[234]\b|Service Unavailable|"
    r"Bad Gateway|Gateway Time-?out|Connection refused|Failed to connect to Ray|ConnectionResetError|"
    r"Connection reset|RemoteDisconnected|Connection aborted|Max retries exceeded",
    re.IGNORECASE,
)
PERMANENT = re.compile(r"status code:? (40[0-9]|41\d)\b|Unauthorized|Forbidden|Authentication", re.IGNORECASE)


def is_transient(exc: BaseException) -> bool:
    text = f"{type(exc).__name__}: {exc}"
    if PERMANENT.search(text):
        return False
    return isinstance(exc, ConnectionError) or bool(TRANSIENT.search(text))


def retrying(fn: Callable[[], T], *, what: str, budget_s: float = RETRY_S,
             sleep: Callable[[float], None] | None = None, clock: Callable[[], float] | None = None,
             on_retry: Callable[[BaseException, float], None] | None = None) -> T:
    """fn(), retried with backoff (0.5 s doubling to 8 s) while it fails transiently, for at most budget_s."""
    sleep = sleep or time.sleep
    clock = clock or time.monotonic
    deadline = clock() + budget_s
    delay = FIRST_DELAY_S
    attempts = 0
    while True:
        attempts += 1
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - classified below
            if not is_transient(exc):
                raise
            left = deadline - clock()
            if left <= 0:
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ClusterError(
                    f"{what}: the cluster kept answering with a transient error for {budget_s:.0f} s "
                    f"({attempts} attempts), last: {first}. Is the head node up (`ray status` on it, the "
                    "dashboard's logs)? Try again once it is.") from None
            wait = min(delay, left)
            if on_retry is not None:
                on_retry(exc, wait)
            sleep(wait)
            delay = min(delay * 2, MAX_DELAY_S)


@dataclass(frozen=True)
class Versions:
    ray: str
    python: str  # major.minor

    @classmethod
    def here(cls) -> "Versions":
        import ray

        return cls(ray.__version__, f"{sys.version_info[0]}.{sys.version_info[1]}")


def _major_minor(version: str) -> str:
    return ".".join(version.split(".")[:2])


def check_versions(local: Versions, remote: Versions, address: str) -> None:
    """A ClusterError naming both versions when Ray or Python major.minor differ."""
    problems = []
    if _major_minor(local.ray) != _major_minor(remote.ray):
        problems.append(f"Ray {remote.ray} there, {local.ray} here")
    if remote.python and _major_minor(local.python) != _major_minor(remote.python):
        problems.append(f"Python {remote.python} there, {local.python} here")
    if problems:
        raise ClusterError(
            f"the cluster at {address} runs {' and '.join(problems)}: jobs are submitted and their environment "
            "is pinned from this machine, so the versions must match. Use a virtualenv here with the "
            f"cluster's versions (pip install 'ray[default,tune]=={remote.ray}' on Python {remote.python or '?'}), "
            "or a cluster image with yours.")


PROBE_MARKER = "RAYTUNER_PROBE"
PROBE = ("import sys, ray; print('" + PROBE_MARKER + "', ray.__version__, "
         "'%d.%d' % sys.version_info[:2], flush=True)")


def parse_probe(logs: str) -> Versions | None:
    for line in logs.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == PROBE_MARKER:
            return Versions(parts[1], parts[2])
    return None


def ray_version_of(client: Any) -> str | None:
    """The cluster's Ray version as its dashboard reported it when the client connected (/api/version)."""
    version = getattr(client, "_server_ray_version", None)
    return str(version) if version else None


def failure_block(job_id: str, status: str, message: str | None, logs: str, lines: int = 25) -> str:
    """One block saying why a job ended badly: Ray's message (e.g. a runtime_env that failed to
    install) and the last lines of its log, repeated lines grouped."""
    out = [f"job {job_id} {status}" + (":" if message or logs.strip() else " (no message, empty log)")]
    tail = [line.rstrip() for line in logs.splitlines() if line.strip()][-lines:]
    shown = set(tail)  # Ray's message often repeats the log's end: each line once
    for line in (message or "").strip().splitlines()[-lines:]:
        if line.rstrip() not in shown:
            out.append(f"  {line}")
    if tail:
        out.append(f"  last {len(tail)} lines of its log:")
        grouped: list[list[Any]] = []
        for line in tail:
            if grouped and grouped[-1][0] == line:
                grouped[-1][1] += 1
            else:
                grouped.append([line, 1])
        out.extend(f"  | {line}" + (f"  (x{count})" if count > 1 else "") for line, count in grouped)
    return "\n".join(out)

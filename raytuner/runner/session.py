"""Starting or joining Ray, quietly, and translating Ray's connection errors."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from typing import Iterator, Mapping

from raytuner.errors import ClusterError

QUIET_ENV = {
    "RAY_AIR_NEW_OUTPUT": "0",  # the old reporter honours verbose=0: no tables
    "RAY_DEDUP_LOGS": "1",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "1000000",
    "RAY_TRAIN_ENABLE_V2_MIGRATION_WARNINGS": "0",
}


# without --verbose: Tune does not log each failed trial's traceback (raytuner prints
# one grouped block of failures after the run; the tracebacks stay in the trial's
# error.txt); set only for the block, and a user's own value wins
QUIET_TRIAL_ERRORS_ENV = {"TUNE_PRINT_ALL_TRIAL_ERRORS": "0"}

QUIET_LOGGERS = ("ray", "ray.tune", "ray.train", "ray.data")
# loggers whose ERROR records only repeat what raytuner reports itself (without --verbose):
# ray.tune.tune logs "Trials did not complete: [...]" after a run with failed trials
SILENT_LOGGERS = ("ray.tune.tune",)


@contextlib.contextmanager
def scoped_environ(values: Mapping[str, str | None]) -> Iterator[None]:
    """Set environment variables for the block; on exit (also on error) every one of them
    is as it was before. A variable already set (by the user) keeps its value; None
    sets nothing."""
    saved = {key: os.environ.get(key) for key in values}
    try:
        for key, value in values.items():
            if value is not None and key not in os.environ:
                os.environ[key] = value
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


@contextlib.contextmanager
def quiet_loggers(verbose: bool = False) -> Iterator[None]:
    """Ray's loggers at ERROR for the block (unless verbose); their levels restored on exit."""
    levels = {**{name: logging.ERROR for name in QUIET_LOGGERS}, **{name: logging.CRITICAL for name in SILENT_LOGGERS}}
    loggers = [logging.getLogger(name) for name in levels]
    saved = [logger.level for logger in loggers]
    try:
        if not verbose:
            for logger in loggers:
                logger.setLevel(levels[logger.name])
        yield
    finally:
        for logger, level in zip(loggers, saved):
            logger.setLevel(level)


@contextlib.contextmanager
def quiet_ray(verbose: bool = False) -> Iterator[None]:
    """Ray's noise turned down for the block (QUIET_ENV, log levels; without ``verbose``
    no trial tracebacks either); all restored on exit."""
    env = QUIET_ENV if verbose else {**QUIET_ENV, **QUIET_TRIAL_ERRORS_ENV}
    with scoped_environ(env), quiet_loggers(verbose):
        yield


@contextlib.contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None, verbose: bool = False) -> Iterator[None]:
    """Use the Ray already initialised in this process, or start/join one for the block;
    quiet (``quiet_ray``) for the block."""
    with quiet_ray(verbose), _session(address, num_cpus, verbose):
        yield



@contextlib.contextmanager
def _session(address: str | None, num_cpus: int | None, verbose: bool) -> Iterator[None]:
    import ray

    if address is not None:
        preflight(address)
    if ray.is_initialized():
        yield
        return
    temp_dir = None
    try:
        if address is None:
            temp_dir = start_local_ray(num_cpus, verbose=verbose)
        else:
            _connect(address, verbose)
    except ClusterError:
        raise
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
        raise ClusterError(f"could not start Ray: {exc}") from None
    try:
        yield
    finally:
        ray.shutdown()
        if temp_dir:
            shutil.rmtree(temp_dir, ignore_errors=True)


def start_local_ray(num_cpus: int | None, *, verbose: bool = False, prefix: str = "rt") -> str:
    """Start a quiet local Ray (no dashboard) in a short temp dir of its own; return that dir."""
    import ray

    temp_dir = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    ray.init(
        num_cpus=num_cpus,
        include_dashboard=False,
        _temp_dir=temp_dir,
        log_to_driver=verbose,
        logging_level=logging.INFO if verbose else logging.ERROR,
        configure_logging=True,
    )
    return temp_dir


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a HOST:PORT or ray://HOST:PORT address; None for anything else."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit() or "://" in host:
        return None
    return host.strip("[]") or "127.0.0.1", int(port)


def _listening(host: str, port: int, timeout_s: float) -> OSError | None:
    """None when something accepts a TCP connection at host:port, else the error."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return None
    except OSError as exc:
        return exc


def preflight(address: str, timeout_s: float = 3.0) -> None:
    """Fail fast when nothing listens at a host:port address (Ray would retry for minutes)."""
    if address == "auto" or "://" in address and not address.startswith("ray://"):
        return
    target = _host_port(address)
    if target is None:
        raise ClusterError(f"--address {address!r}: expected 'auto', HOST:PORT or ray://HOST:PORT")
    exc = _listening(*target, timeout_s)
    if exc is not None:
        raise ClusterError(
            f"no Ray cluster answers at {address!r} ({exc.strerror or exc}); start one "
            "(`ray start --head`, `raytuner cluster local up`) or check the address"
        ) from None


def _connect(address: str, verbose: bool) -> None:
    import ray

    try:
        ray.init(
            address=address,
            log_to_driver=verbose,
            logging_level=logging.INFO if verbose else logging.ERROR,
        )
    except ConnectionError as exc:
        raise connect_error(address, exc) from None


def connect_error(address: str, exc: BaseException) -> ClusterError:
    """Ray says "a previous Ray instance crashed" when it was refused for want of a token."""
    text = f"{exc} {exc.__cause__ or ''}"  # Ray's cause names InvalidAuthToken; its message does not
    hint = ""
    if not _reachable(address):
        hint = " Nothing answers there: is the cluster up, and is this its GCS address (head:6379)?"
    elif "crashed" in text or "auth" in text.lower() or "token" in text.lower():
        from raytuner.runner.auth import resolve_token

        try:
            token = resolve_token()
        except ClusterError as bad:
            token, found = None, f" ({bad})"
        else:
            found = f" (a token was found in {token.source}: is it this cluster's?)" if token else (
                " (no token was found in RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token)")
        mode = "" if os.environ.get("RAY_AUTH_MODE") == "token" else "RAY_AUTH_MODE=token and "
        hint = (
            " The cluster most likely has token authentication on and refused this process"
            f"{found}: set {mode}RAY_AUTH_TOKEN_PATH (or RAY_AUTH_TOKEN) to the cluster's token "
            "(`ray get-auth-token` on the head node). Ray's message about a crashed previous "
            "instance is misleading here."
        )
    return ClusterError(f"could not connect to the Ray cluster at {address!r}.{hint}")


def _reachable(address: str) -> bool:
    """Whether something listens at host:port (True when the address is not host:port)."""
    target = _host_port(address)
    return target is None or _listening(*target, 2.0) is None

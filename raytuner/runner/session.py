"""Starting or joining Ray, quietly, and translating Ray's connection errors."""

from __future__ import annotations

import atexit
import concurrent.futures
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import threading
from typing import Any, Iterator

from raytuner.errors import ClusterError

from raytuner.runner.quiet import (  # noqa: F401 - re-exported: callers import them from here
    QUIET_ENV,
    QUIET_LOGGERS,
    QUIET_TRIAL_ERRORS_ENV,
    SILENT_LOGGERS,
    quiet_loggers,
    quiet_ray,
    scoped_environ,
)


@contextlib.contextmanager
def ray_session(address: str | None = None, *, num_cpus: int | None = None, verbose: bool = False) -> Iterator[None]:
    """Use the Ray already initialised in this process, or start one (no address: a local
    Ray, kept up for later sessions in this process and shut down at exit, see
    ``_KeptRay``) or join one for the block (an address); quiet (``quiet_ray``) for the block."""
    with quiet_ray(verbose), _session(address, num_cpus, verbose):
        yield



@contextlib.contextmanager
def _session(address: str | None, num_cpus: int | None, verbose: bool) -> Iterator[None]:
    import ray

    if address is not None:
        preflight(address)
        if _KEPT.up():  # this process's local Ray is not the cluster asked for
            stop_local_ray()
    elif _KEPT.wait_background():  # a start begun by begin_local_ray (its error is raised here)
        yield
        return
    if ray.is_initialized():
        yield
        return
    if address is None:  # started once, kept for the next sessions, shut down at exit
        _KEPT.start(num_cpus, verbose)
        yield
        return
    try:
        _connect(address, verbose)
    except ClusterError:
        raise
    except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
        raise ClusterError(f"could not start Ray: {exc}") from None
    try:
        yield
    finally:
        ray.shutdown()


class _KeptRay:
    """The local Ray this process started: kept up for every later session in the process
    (as joblib keeps its executor: a second ``TuneSearchCV.fit`` or ``raytuner.run`` pays no
    start-up), shut down at interpreter exit (``atexit``) or by :func:`stop_local_ray`."""

    def __init__(self) -> None:
        self.temp_dir: str | None = None
        self.node_id: str | None = None
        self.session: Any = None  # the warm session joined (runner.warm_session.SessionState), if any
        self.starts = 0  # local Rays this process started (tests and benchmarks read it)
        self._lock = threading.Lock()
        self._background: concurrent.futures.Future[None] | None = None
        self._exit_hook = False
        self._release = threading.Event()  # ends the thread that started Ray in the background

    def up(self) -> bool:
        import ray

        return self.node_id is not None and ray.is_initialized() and ray.get_runtime_context().get_node_id() == self.node_id

    def start(self, num_cpus: int | None, verbose: bool) -> None:
        import ray

        with self._lock:
            if ray.is_initialized():
                return
            self._forget()  # one started before and shut down by someone else: its files go
            if self._join_session(verbose):
                return
            try:
                temp_dir = start_local_ray(num_cpus, verbose=verbose)
            except ClusterError:
                raise
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
                raise ClusterError(f"could not start Ray: {exc}") from None
            self.temp_dir, self.starts = temp_dir, self.starts + 1
            self.node_id = ray.get_runtime_context().get_node_id() if ray.is_initialized() else None
            if not self._exit_hook:
                atexit.register(stop_local_ray)
                self._exit_hook = True

    def _join_session(self, verbose: bool) -> bool:
        """Join the user's warm session (``raytuner session start``) when one is up and usable
        (runner.warm_session); kept joined like a started Ray, disconnected at exit."""
        from raytuner.runner.warm_session import announce, keep_loopback, live_session, prestart_workers

        state = live_session()
        if state is None:
            return False
        with scoped_environ(state.environ()), keep_loopback():
            _reload_auth()  # Ray read RAY_AUTH_* once, at import: it reads the session's now
            try:
                _connect(state.address, verbose)
            except BaseException:
                _reload_auth()
                raise
        self.session = state
        self.node_id = ray_node_id()
        prestart_workers(state)  # the trials' worker processes boot while the driver sets up
        announce(state)
        if not self._exit_hook:
            atexit.register(stop_local_ray)
            self._exit_hook = True
        return True

    def begin(self, num_cpus: int | None, verbose: bool) -> None:
        import ray  # imported here, in the caller's thread: the start thread only starts Ray

        if ray.is_initialized() or self._background is not None:
            return
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._release = threading.Event()

        def run() -> None:
            try:
                self.start(num_cpus, verbose)
            except BaseException as exc:  # raised in the session that waits for it
                future.set_exception(exc)
                return
            future.set_result(None)
            # Ray's processes die with the *thread* that spawned them (prctl PR_SET_PDEATHSIG
            # is per thread on Linux): this one lives until the Ray is stopped or the process ends
            self._release.wait()

        _exit_on_sigterm()  # what ray.init does in the main thread (not in ours): atexit runs
        self._background = future
        threading.Thread(target=run, name="raytuner-ray-start", daemon=True).start()

    def wait_background(self) -> bool:
        """Wait for a start begun by ``begin`` (True), raising its error; False when none was."""
        future, self._background = self._background, None
        if future is None:
            return False
        future.result()
        return True

    def stop(self) -> None:
        import ray

        with self._lock:
            if self.up():
                _stop_monitor()
                ray.shutdown()
            if self.session is not None:
                _reload_auth()  # the session's token is forgotten: a later local Ray reads the environment's
            self._forget()
            self._release.set()

    def _forget(self) -> None:
        if self.temp_dir:
            shutil.rmtree(self.temp_dir, ignore_errors=True)
        self.temp_dir = self.node_id = self.session = None


_KEPT = _KeptRay()


def begin_local_ray(num_cpus: int | None = None, *, verbose: bool = False) -> None:
    """Start this process's local Ray in a thread now (when none is up); the next
    ``ray_session`` without an address waits for it. ``raytuner run`` calls it once the
    spec and data are checked, so Ray's start-up overlaps the driver's imports and the
    preflight sample fit. A start that fails raises its error in that session. Call it
    inside ``quiet_ray`` (Ray's processes inherit the environment it sets)."""
    _KEPT.begin(num_cpus, verbose)


def _stop_monitor() -> None:
    """Ray's autoscaler monitor of a local Ray started here killed at once: it ignores the
    SIGTERM of ``ray.shutdown`` for the whole second Ray then waits before killing it
    (it holds no state of a local Ray without autoscaling)."""
    try:
        from ray._private import worker

        node = getattr(worker, "_global_node", None)
        if node is not None and node.head:
            node.kill_monitor(check_alive=False)
    except Exception:  # noqa: BLE001 - ray.shutdown kills it anyway, a second later
        pass


def _exit_on_sigterm() -> None:
    import signal

    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(signum))


def stop_local_ray() -> None:
    """Shut down the local Ray this process started and kept (at exit; callable earlier)."""
    _KEPT.stop()


def _reload_auth() -> None:
    """Ray's authentication settings and token read again from the environment (Ray caches
    both in the process; its own test utilities reset them the same way)."""
    try:
        from ray._raylet import AuthenticationTokenLoader, Config
    except ImportError:  # another Ray: joining a session may then need RAY_AUTH_* set by the user
        return
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def ray_node_id() -> str | None:
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


def joined_session() -> Any:
    """The warm session this process joined and is still connected to (SessionState), or None."""
    return _KEPT.session if _KEPT.up() else None


def local_ray_starts() -> int:
    """How many local Rays this process has started (a kept one is started once)."""
    return _KEPT.starts


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

"""What a batched trial leaves on disk: params.json, result.json and progress.csv, as Ray
Tune's JSON and CSV loggers write them (``raytuner results/report/predict`` read them back).

``write_trial`` writes one trial's files; ``TrialFileWriter`` writes them off the driver's
loop, a batch at a time, on a thread of its own: the driver goes on asking the searcher and
feeding the actors while the files are written (the file system's calls release the GIL).
Creating a file is most of a trivial trial's cost on a busy VM's ext4 (0.1-0.5 ms each,
the kernel's time; measured: a second or third writer thread did not make it faster).
Per trial: one ``mkdir`` and, per file, one ``open``/``write``/``close`` (Python's text
``open`` adds an ``fstat``, an ``ioctl`` and an ``lseek``), and the config encoded once for
params.json and every line of result.json. The bytes are the ones the plain
``json.dumps``/``csv.DictWriter`` writer wrote (a test compares them).
"""

from __future__ import annotations

import csv
import io
import json
import os
import queue
import threading
from pathlib import Path
from typing import Any, Iterable

_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)
_ENCODE = json.JSONEncoder(default=repr).encode  # what json.dumps(value, default=repr) writes


def trial_bytes(config: dict[str, Any], rows: list[dict[str, Any]]) -> tuple[bytes, bytes, bytes | None]:
    """(params.json, result.json, progress.csv or None when there are no rows), encoded."""
    params = _ENCODE(config)
    lines = []
    for row in rows:
        if not row:
            lines.append('{"config": ' + params + "}\n")
        elif "config" in row:  # a report of its own "config": the merged dict keeps its place
            lines.append(_ENCODE({**row, "config": config}) + "\n")
        else:  # {**row, "config": config} without encoding the config again
            lines.append(_ENCODE(row)[:-1] + ', "config": ' + params + "}\n")
    progress = None
    if rows:
        out = io.StringIO()
        writer = csv.DictWriter(out, list(dict.fromkeys(k for row in rows for k in row)))
        writer.writeheader()
        writer.writerows(rows)
        progress = out.getvalue().encode()
    return params.encode(), "".join(lines).encode(), progress


def write_trial(path: Path | str, config: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    """One trial's params.json, result.json and progress.csv (none without rows) in ``path``."""
    directory = os.fspath(path)
    try:
        os.mkdir(directory)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(directory, exist_ok=True)
    params, results, progress = trial_bytes(config, rows)
    _write(os.path.join(directory, "params.json"), params)
    _write(os.path.join(directory, "result.json"), results)
    if progress is not None:
        _write(os.path.join(directory, "progress.csv"), progress)


def _write(path: str, data: bytes) -> None:
    fd = os.open(path, _FLAGS, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


Batch = Iterable[tuple[str, dict[str, Any], list[dict[str, Any]]]]  # (trial directory, config, rows)


class TrialFileWriter:
    """Writes batches of trials' files on daemon threads (one by default); ``close`` waits
    for every one.

    A write that fails (a full disk) is raised by the next ``put`` or by ``close``; the
    batches after it are not written. Use as a context manager: leaving it waits for the
    files (also on an exception, so an interrupted run's summary names written trials).
    """

    def __init__(self, threads: int = 1) -> None:
        self._queue: queue.SimpleQueue[list[Any] | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._threads = [threading.Thread(target=self._work, name=f"raytuner-trial-files-{i}", daemon=True)
                         for i in range(max(1, threads))]
        for thread in self._threads:
            thread.start()

    def put(self, batch: Batch) -> None:
        self._raise()
        self._queue.put(list(batch))

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()
        self._raise()

    def __enter__(self) -> TrialFileWriter:
        return self

    def __exit__(self, kind: Any, value: Any, traceback: Any) -> None:
        if kind is None:
            self.close()
            return
        try:  # the run's own error wins; the files written so far stay
            self.close()
        except Exception:  # noqa: BLE001 - reported by the error already on its way
            pass

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _work(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            if self._error is not None:
                continue  # after a failed write: drain, write nothing more
            try:
                for path, config, rows in batch:
                    write_trial(path, config, rows)
            except BaseException as exc:  # noqa: BLE001 - handed to the driver's thread
                self._error = exc

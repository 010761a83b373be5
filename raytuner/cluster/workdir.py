"""What of the working directory travels to the cluster with a submitted job.

The files are copied into a staging directory that becomes the job's ``working_dir``, so
what is sent is exactly what :func:`select` chose (and tests can look at it). Left out, each
with its reason in :class:`Selection`.left_out (``submit --dry-run`` prints them):

- credentials (:mod:`raytuner.cluster.credentials`: names and contents), whatever the ignore files say;
- real virtual environments (a folder with ``pyvenv.cfg`` or ``conda-meta/``, and ``.venv/``):
  an ordinary folder such as ``env/`` travels;
- VCS, cache and tool folders (``.git/``, ``__pycache__/``, ``node_modules/``...);
- ``.gitignore`` / ``.raytunerignore`` patterns (gitignore-like) and ``--exclude`` patterns;
- the spec's local results folder; a single file over the package limit.

Only ``--include PATH`` sends something left out: a folder it names is entered, but a
credential inside must be named itself. A file that contains the token being sent is
refused outright, include or not.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from raytuner.cluster import credentials
from raytuner.cluster.credentials import matches as _match
from raytuner.errors import ClusterError

# tool folders never packaged (not secrets: --include can bring one back)
TOOL_FOLDERS = (
    ".git/", ".hg/", ".svn/", ".tox/", ".nox/", "__pycache__/", ".pytest_cache/", ".mypy_cache/", ".ruff_cache/",
    ".hypothesis/", ".ipynb_checkpoints/", "node_modules/", "ray_results/", ".raytuner/", "*.pyc",
)
VENV_MARKERS = ("pyvenv.cfg", "conda-meta")
IGNORE_FILES = (".gitignore", ".raytunerignore")
MAX_BYTES = 100 * 1024 * 1024  # Ray's limit for a working_dir package
MAX_FILE_BYTES = MAX_BYTES  # a single file larger than the whole package may be is left out
SCAN_LIMIT = 2 * 1024 * 1024  # files larger than this are not scanned for the token
SECRET, VENV, TOOL, IGNORED, RESULTS, SIZE, LINK = (
    "secret", "virtualenv", "ignored folder", "ignored", "results folder", "size", "link")


@dataclass(frozen=True)
class LeftOut:
    """A file or folder that does not travel, and why (``kind`` is one of the constants above)."""

    path: str  # relative POSIX path; folders end with "/"
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"{self.path}  ({self.kind}: {self.detail})"


@dataclass(frozen=True)
class Selection:
    files: list[str]
    left_out: list[LeftOut]


@dataclass
class Patterns:
    """gitignore-like patterns: ``dir/`` matches directories, ``/x`` is anchored at the root,
    a pattern without a slash matches a name at any depth, ``!x`` re-includes."""

    rules: list[tuple[str, bool, str]] = field(default_factory=list)  # (pattern, negated, source)
    forced: list[str] = field(default_factory=list)  # results folders

    def add(self, pattern: str, *, source: str = "--exclude", forced: bool = False) -> None:
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            return
        if forced:
            self.forced.append(pattern)
            return
        negated = pattern.startswith("!")
        self.rules.append((pattern[1:] if negated else pattern, negated, source))

    def reason(self, rel: str, is_dir: bool) -> LeftOut | None:
        """Why the ignore files, --exclude or the results folders leave this path out."""
        shown = rel + "/" if is_dir else rel
        if any(_match(p, rel, is_dir) for p in self.forced):
            return LeftOut(shown, RESULTS, "the spec's local results")
        state: LeftOut | None = None
        for pattern, negated, source in self.rules:
            if _match(pattern, rel, is_dir):
                state = None if negated else LeftOut(shown, IGNORED, f"{source} {pattern}")
        return state


def patterns_for(root: Path, extra: Iterable[str] = (), results_dirs: Iterable[str] = ()) -> Patterns:
    patterns = Patterns()
    for name in IGNORE_FILES:
        path = root / name
        if path.is_file():
            for line in path.read_text(errors="replace").splitlines():
                patterns.add(line, source=name)
    for pattern in extra:
        patterns.add(pattern, source="--exclude")
    for rel in results_dirs:
        patterns.add("/" + rel.strip("/") + "/", forced=True)
    return patterns


def _fixed_reason(full: Path, rel: str, is_dir: bool) -> LeftOut | None:
    """Left out whatever the ignore files say: credentials, virtualenvs, tool folders."""
    shown = rel + "/" if is_dir else rel
    pattern = credentials.secret_pattern(rel, is_dir)
    if pattern:
        return LeftOut(shown, SECRET, f"matches {pattern}")
    if is_dir:
        marker = next((m for m in VENV_MARKERS if (full / m).exists()), None)
        if marker or full.name == ".venv":
            return LeftOut(shown, VENV, f"has {marker}" if marker else ".venv")
    tool = next((p for p in TOOL_FOLDERS if _match(p, rel, is_dir)), None)
    return LeftOut(shown, TOOL, tool) if tool else None


def select(root: Path, patterns: Patterns, include: Iterable[str] = ()) -> Selection:
    """The files to package (relative POSIX paths, sorted) and what is left out, with reasons."""
    named = {_normalise(root, item) for item in include}
    chosen: list[str] = []
    left: list[LeftOut] = []

    def decide(full: Path, rel: str, is_dir: bool) -> LeftOut | None:
        reason = _fixed_reason(full, rel, is_dir) or patterns.reason(rel, is_dir)
        if not is_dir and reason is None:
            size = full.stat().st_size
            what = credentials.sniff(full, size)
            if what:
                reason = LeftOut(rel, SECRET, what)
            elif size > MAX_FILE_BYTES:
                reason = LeftOut(rel, SIZE, f"{size / 2**20:.1f} MiB, over the {MAX_FILE_BYTES / 2**20:.0f} MiB "
                                            "package limit (data belongs in storage)")
        if reason is None or rel in named:
            return None
        under_named = any(rel.startswith(n + "/") for n in named)
        return None if under_named and reason.kind != SECRET else reason

    for current, dirs, files in os.walk(root, followlinks=False):
        base = Path(current).relative_to(root)
        keep_dirs = []
        for name in sorted(dirs):
            rel = (base / name).as_posix()
            full = Path(current, name)
            reason = LeftOut(rel + "/", LINK, "a link to a folder") if full.is_symlink() else decide(full, rel, True)
            if reason:
                left.append(reason)
            else:
                keep_dirs.append(name)
        dirs[:] = keep_dirs
        for name in sorted(files):
            rel = (base / name).as_posix()
            full = Path(current, name)
            if full.is_symlink() and not full.resolve().is_relative_to(root.resolve()):
                left.append(LeftOut(rel, LINK, "points outside the working directory"))
                continue  # never follow a link out of the project
            reason = decide(full, rel, False)
            if reason:
                left.append(reason)
            else:
                chosen.append(rel)
    return Selection(sorted(chosen), sorted(left, key=lambda item: item.path))


def _normalise(root: Path, item: str) -> str:
    path = Path(item).expanduser()
    full = path if path.is_absolute() else root / path
    try:
        rel = full.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        raise ClusterError(f"--include {item}: not inside the working directory {root}") from None
    if rel == "." or not full.exists():
        raise ClusterError(f"--include {item}: no such file or folder in the working directory {root}")
    return rel


def local_results_dirs(root: Path, storage_path: str) -> list[str]:
    """The spec's local storage folder, relative to root, when it lies inside root."""
    if "://" in storage_path:
        return []
    path = Path(storage_path).expanduser()
    full = (root / path).resolve() if not path.is_absolute() else path.resolve()
    try:
        return [full.relative_to(root.resolve()).as_posix()]
    except ValueError:
        return []


def stage(root: Path, files: list[str], *, secret: str | None = None) -> Path:
    """Copy the chosen files into a fresh staging directory (the job's working_dir)."""
    total = 0
    target = Path(tempfile.mkdtemp(prefix="raytuner-pkg-"))
    try:
        for rel in files:
            source = root / rel
            size = source.stat().st_size
            total += size
            if total > MAX_BYTES:
                raise ClusterError(f"the working directory is over {MAX_BYTES // 2**20} MiB after excludes; "
                                   "add patterns to .raytunerignore or --exclude (data belongs in storage)")
            if secret and size <= SCAN_LIMIT and secret.encode() in source.read_bytes():
                raise ClusterError(f"{rel} contains the cluster's auth token: refusing to package it "
                                   "(remove the token from the file or exclude it)")
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return target

"""What of the working directory travels to the cluster with a submitted job.

The files are copied into a staging directory that becomes the job's ``working_dir``, so
what is sent is exactly what :func:`select` chose (and tests can look at it). Excluded:
``.gitignore`` / ``.raytunerignore`` patterns (gitignore-like), ``--exclude`` patterns, the
spec's local results folder, and always, whatever a user says: secrets (``.env*``, token
and key files, cloud credentials), virtual environments, VCS and cache folders. A file
that contains the token being sent is refused outright.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from raytuner.errors import ClusterError

# never packaged, whatever the ignore files say (negations cannot re-include these)
ALWAYS_EXCLUDE = (
    ".git/", ".hg/", ".svn/", ".venv/", "venv/", "env/", ".tox/", ".nox/", "__pycache__/", "*.pyc",
    ".pytest_cache/", ".mypy_cache/", ".ruff_cache/", ".ipynb_checkpoints/", "node_modules/",
    ".env", ".env.*", "*.env", ".envrc", ".secrets/", "secrets/", ".ray/", ".aws/", ".ssh/", ".gnupg/",
    ".netrc", ".pypirc", ".git-credentials", ".dockercfg", ".docker/",
    "auth_token", "*.token", "*_token", "token", "*.pem", "*.key", "*.p12", "*.pfx", "id_rsa*", "id_ed25519*",
    "id_ecdsa*", "credentials", "credentials.json", "service-account*.json", "kubeconfig", ".kube/",
    "ray_results/", ".raytuner/",
)
IGNORE_FILES = (".gitignore", ".raytunerignore")
MAX_BYTES = 100 * 1024 * 1024  # Ray's limit for a working_dir package
SCAN_LIMIT = 2 * 1024 * 1024  # files larger than this are not scanned for the token


@dataclass
class Patterns:
    """gitignore-like patterns: ``dir/`` matches directories, ``/x`` is anchored at the root,
    a pattern without a slash matches a name at any depth, ``!x`` re-includes (not secrets)."""

    rules: list[tuple[str, bool]] = field(default_factory=list)  # (pattern, negated)
    forced: list[str] = field(default_factory=list)

    def add(self, pattern: str, *, forced: bool = False) -> None:
        pattern = pattern.strip()
        if not pattern or pattern.startswith("#"):
            return
        if forced:
            self.forced.append(pattern)
            return
        negated = pattern.startswith("!")
        self.rules.append((pattern[1:] if negated else pattern, negated))

    def excluded(self, rel: str, is_dir: bool) -> bool:
        if any(_match(p, rel, is_dir) for p in self.forced):
            return True
        state = False
        for pattern, negated in self.rules:
            if _match(pattern, rel, is_dir):
                state = not negated
        return state


def _match(pattern: str, rel: str, is_dir: bool) -> bool:
    dir_only = pattern.endswith("/")
    pattern = pattern.rstrip("/")
    if dir_only and not is_dir:
        return False
    if pattern.startswith("**/"):
        return _match(pattern[3:] + ("/" if dir_only else ""), rel, is_dir) or fnmatch.fnmatchcase(rel, pattern)
    if "/" in pattern:  # anchored at the root of the working directory
        return fnmatch.fnmatchcase(rel, pattern.lstrip("/"))
    return fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], pattern)


def patterns_for(root: Path, extra: Iterable[str] = (), results_dirs: Iterable[str] = ()) -> Patterns:
    patterns = Patterns()
    for pattern in ALWAYS_EXCLUDE:
        patterns.add(pattern, forced=True)
    for name in IGNORE_FILES:
        path = root / name
        if path.is_file():
            for line in path.read_text(errors="replace").splitlines():
                patterns.add(line)
    for pattern in extra:
        patterns.add(pattern)
    for rel in results_dirs:
        patterns.add("/" + rel.strip("/") + "/", forced=True)
    return patterns


def select(root: Path, patterns: Patterns) -> list[str]:
    """Relative POSIX paths of the files to package, sorted."""
    chosen: list[str] = []
    for current, dirs, files in os.walk(root, followlinks=False):
        base = Path(current).relative_to(root)
        keep_dirs = []
        for name in sorted(dirs):
            rel = (base / name).as_posix()
            full = Path(current, name)
            if full.is_symlink() or patterns.excluded(rel, True):
                continue
            keep_dirs.append(name)
        dirs[:] = keep_dirs
        for name in sorted(files):
            rel = (base / name).as_posix()
            full = Path(current, name)
            if full.is_symlink() and not full.resolve().is_relative_to(root.resolve()):
                continue  # never follow a link out of the project
            if not patterns.excluded(rel, False):
                chosen.append(rel)
    return sorted(chosen)


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

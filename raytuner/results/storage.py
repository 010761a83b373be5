"""Where experiments live: a local directory or any pyarrow filesystem URI (s3://, gs://, ...).

One place turns ``storage.path`` (+ ``endpoint`` / ``region`` for S3-compatible stores)
into what Ray Tune needs (``RunConfig(storage_path=..., storage_filesystem=...)``), and
reads and writes our own small files (summary.json, spec.yaml) through the same
filesystem, so a run on ``s3://bucket/exp`` can be read back by ``raytuner results``.

Credentials never live in a spec: pyarrow takes them from the standard environment
(``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, instance
roles, ``GOOGLE_APPLICATION_CREDENTIALS``...). When an S3 endpoint override is set and
the driver's environment holds keys, they are handed to the filesystem object Ray ships
to the trial workers (which may have been started without them).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from raytuner.spec.models import endpoint_parts
from raytuner.errors import ResultsError, SpecError
from raytuner.results.cloud_access import access


def is_uri(path: str | os.PathLike[str]) -> bool:
    return "://" in str(path)


@dataclass(frozen=True)
class Location:
    """A directory: local (``fs is None``) or inside a pyarrow filesystem."""

    uri: str  # what users see: /abs/dir or s3://bucket/key
    path: str  # what the filesystem sees: /abs/dir or bucket/key
    fs: Any = None  # pyarrow.fs.FileSystem or None for local
    scheme: str = ""

    @property
    def is_local(self) -> bool:
        return self.fs is None

    def child(self, *parts: str) -> "Location":
        if self.is_local:
            joined = str(Path(self.path, *parts))
            return Location(joined, joined)
        path = posixpath.join(self.path, *parts)
        return Location(f"{self.scheme}://{path}", path, self.fs, self.scheme)


def resolve(path: str, *, endpoint: str | None = None, region: str | None = None) -> Location:
    """Turn a storage path (or URI) into a Location; errors name ``storage.path``."""
    if not is_uri(path):
        local = str(Path(path).expanduser().resolve())
        return Location(local, local)
    scheme = urlsplit(path).scheme.lower()
    try:
        import pyarrow.fs as pafs
    except ImportError:  # pragma: no cover - pyarrow is a core dependency
        raise SpecError.at("storage.path", path, "a local path (pyarrow is missing for URIs)") from None
    try:
        if scheme == "s3" and (endpoint or region):
            fs = pafs.S3FileSystem(**_s3_options(endpoint, region))
            fs_path = path.split("://", 1)[1].split("?", 1)[0]
        elif scheme in ("gs", "gcs") and endpoint:
            host, http = endpoint_parts(endpoint)
            fs = pafs.GcsFileSystem(endpoint_override=host, scheme=http)
            fs_path = path.split("://", 1)[1].split("?", 1)[0]
        else:
            fs, fs_path = pafs.FileSystem.from_uri(path)
    except (ValueError, OSError, TypeError) as exc:
        raise SpecError.at("storage.path", path, f"a filesystem URI pyarrow can open ({exc})") from None
    fs_path = fs_path.rstrip("/")
    clean = path.split("?", 1)[0].rstrip("/")
    return Location(clean, fs_path, fs, clean.split("://", 1)[0])


def _s3_options(endpoint: str | None, region: str | None) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if region:
        options["region"] = region
    if endpoint:
        host, scheme = endpoint_parts(endpoint)
        options.update(endpoint_override=host, scheme=scheme)
        key, secret = os.environ.get("AWS_ACCESS_KEY_ID"), os.environ.get("AWS_SECRET_ACCESS_KEY")
        if key and secret:  # trial workers may lack the driver's environment
            options.update(access_key=key, secret_key=secret,
                           session_token=os.environ.get("AWS_SESSION_TOKEN") or None)
    return options


# schemes pyarrow.fs.FileSystem.from_uri understands (plus gcs as an alias of gs)
SCHEMES = ("file", "local", "mock", "s3", "gs", "gcs", "hdfs", "viewfs", "abfs", "abfss")


def check(storage: Any) -> None:
    """Cheap, offline check of a StorageSpec (runs before Ray starts)."""
    path = storage.path
    if "\x00" in path:
        raise SpecError.at("storage.path", path, "a directory path without NUL characters")
    if not is_uri(path):
        return
    scheme = path.split("://", 1)[0].lower()
    if scheme not in SCHEMES:
        raise SpecError.at("storage.path", path, f"a local path or a URI with one of the schemes {', '.join(SCHEMES)}")
    if not path.split("://", 1)[1].strip("/"):
        raise SpecError.at("storage.path", path, "a URI with a bucket or directory, e.g. s3://my-bucket/raytuner")


def for_spec(storage: Any) -> Location:
    """The Location of a StorageSpec (``path``, optional ``endpoint`` / ``region``)."""
    return resolve(storage.path, endpoint=getattr(storage, "endpoint", None),
                   region=getattr(storage, "region", None))


def tune_storage(storage: Any) -> tuple[str, Any]:
    """(storage_path, storage_filesystem) for ray.tune.RunConfig."""
    location = for_spec(storage)
    return location.path, location.fs


def experiment_uri(storage: Any, experiment_path: str) -> str:
    """Ray reports paths inside the filesystem; users get a URI back for remote storage."""
    location = for_spec(storage)
    if location.is_local or is_uri(experiment_path):
        return experiment_path
    return f"{location.scheme}://{experiment_path}"


# -- reading and writing our small files ---------------------------------------


def write_text(location: Location, name: str, text: str) -> None:
    write_bytes(location, name, text.encode("utf-8"))


def write_bytes(location: Location, name: str, data: bytes) -> None:
    target = location.child(name)
    if location.is_local:
        Path(location.path).mkdir(parents=True, exist_ok=True)
        tmp = Path(target.path + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, target.path)
        return
    with access(target.uri, "write"):
        location.fs.create_dir(location.path, recursive=True)
        with location.fs.open_output_stream(target.path) as stream:
            stream.write(data)


def read_text(location: Location) -> str:
    return read_bytes(location).decode("utf-8")


def read_bytes(location: Location) -> bytes:
    if location.is_local:
        return Path(location.path).read_bytes()
    try:
        with access(location.uri, "read"), location.fs.open_input_stream(location.path) as stream:
            return stream.read()
    except (FileNotFoundError, OSError) as exc:
        raise ResultsError(f"cannot read {location.uri}: {exc}") from None


def exists(location: Location) -> bool:
    if location.is_local:
        return Path(location.path).exists()
    import pyarrow.fs as pafs

    with access(location.uri, "read"):
        return location.fs.get_file_info(location.path).type != pafs.FileType.NotFound


def is_file(location: Location) -> bool:
    if location.is_local:
        return Path(location.path).is_file()
    import pyarrow.fs as pafs

    with access(location.uri, "read"):
        return location.fs.get_file_info(location.path).type == pafs.FileType.File


def list_dir(location: Location) -> list[tuple[str, bool, float]]:
    """(name, is_dir, mtime) of the entries directly under a directory."""
    if location.is_local:
        root = Path(location.path)
        return [(p.name, p.is_dir(), p.stat().st_mtime) for p in root.iterdir()] if root.is_dir() else []
    import pyarrow.fs as pafs

    try:
        with access(location.uri, "list"):
            infos = location.fs.get_file_info(pafs.FileSelector(location.path, allow_not_found=True))
    except OSError as exc:
        raise ResultsError(f"cannot list {location.uri}: {exc}") from None
    out = []
    for info in infos:
        mtime = info.mtime.timestamp() if info.mtime is not None else 0.0
        out.append((info.base_name, info.type == pafs.FileType.Directory, mtime))
    return out


def copy_tree(source: Location, target: Path, *, skip: Any = None) -> list[Path]:
    """Copy a directory from any Location to a local directory; ``skip(relpath)`` filters."""
    copied: list[Path] = []
    for name, is_dir, _ in list_dir(source):
        rel = name
        if skip is not None and skip(rel, is_dir):
            continue
        child = source.child(name)
        if is_dir:
            copied += copy_tree(child, target / name, skip=None)
            continue
        target.mkdir(parents=True, exist_ok=True)
        if child.is_local:
            data = Path(child.path).read_bytes()
        else:
            with access(child.uri, "read"), child.fs.open_input_stream(child.path) as stream:
                data = stream.read()
        (target / name).write_bytes(data)
        copied.append(target / name)
    return copied


def upload_tree(source: Path, target: Location) -> list[str]:
    """Copy a local directory into a Location (local or remote); returns the URIs written."""
    written: list[str] = []
    for item in sorted(Path(source).rglob("*")):
        if not item.is_file():
            continue
        rel = item.relative_to(source).as_posix()
        dest = target.child(*rel.split("/"))
        if target.is_local:
            Path(dest.path).parent.mkdir(parents=True, exist_ok=True)
            Path(dest.path).write_bytes(item.read_bytes())
        else:
            with access(dest.uri, "write"):
                target.fs.create_dir(posixpath.dirname(dest.path), recursive=True)
                with target.fs.open_output_stream(dest.path) as stream:
                    stream.write(item.read_bytes())
        written.append(dest.uri)
    return written


def probe(location: Location, action: str = "use storage") -> None:
    """One cheap request to remote storage, so refused credentials fail before Ray starts."""
    if location.is_local:
        return
    with access(location.uri, action):
        location.fs.get_file_info(location.path)

"""Saved models: a fitted estimator with the spec, config and scores it came from.

A model directory holds ``model.joblib`` (always), ``model.skops`` (when skops is
installed), ``model.json`` (what the model is: config, metric, CV and holdout scores,
feature columns, target, classes, versions) and ``spec.yaml``. ``raytuner predict``
reads it back through :func:`load_model` and :func:`predict_table`.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

import yaml

from raytuner.errors import DependencyError, RaytunerError, ResultsError, SpecError

MODEL_DIR = "model"
ENSEMBLE_DIR = "ensemble"
META_FILE = "model.json"
FORMATS = ("joblib", "skops")
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "raytuner.", "builtins.", "collections.")


def skops_available() -> bool:
    try:
        _skops_io()
    except ImportError:
        return False
    return True


def _skops_io() -> Any:
    """``skops.io``, imported without importing torch.

    At import skops lists scikit-learn's estimators (``sklearn.utils.all_estimators``),
    whose package walk imports ``sklearn.externals.array_api_compat.torch``, and so torch
    (about 1.5 s and 400 MB), although the walk then skips that package. When torch is not
    imported yet, it is hidden for that one import: the walk ignores the ImportError and
    skops trusts the same types. Torch is importable again right after.
    """
    if "skops.io" in sys.modules or "torch" in sys.modules:
        import skops.io

        return skops.io
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` raises ImportError
    try:
        import skops.io
    finally:
        if "torch" in sys.modules and sys.modules["torch"] is None:
            del sys.modules["torch"]
    return skops.io


def save_model(directory: str | Path, model: Any, meta: dict[str, Any], formats: list[str] | tuple[str, ...] = FORMATS,
               spec_data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the model files; returns ``meta`` with the files written and formats skipped."""
    import joblib

    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    files, skipped = [], {}
    for fmt in formats:
        target = path / f"model.{fmt}"
        if fmt == "joblib":
            joblib.dump(model, target)
        elif fmt == "skops":
            if not skops_available():
                skipped["skops"] = "not installed (pip install 'raytuner[export]')"
                continue
            sio = _skops_io()

            try:
                sio.dump(model, target)
            except Exception as exc:  # a type skops cannot persist: joblib still has it
                skipped["skops"] = f"{type(exc).__name__}: {exc}"
                continue
        files.append(target.name)
    return write_meta(path, {**meta, "files": files, "skipped": skipped}, spec_data)


def write_meta(directory: str | Path, meta: dict[str, Any], spec_data: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``model.json`` (atomically; ``created_at`` added) and ``spec.yaml`` into a model directory."""
    path = Path(directory)
    meta = {**meta, "created_at": _dt.datetime.now().isoformat(timespec="seconds")}
    if spec_data is not None:
        (path / "spec.yaml").write_text(yaml.safe_dump(spec_data, sort_keys=False))
    tmp = path / (META_FILE + ".tmp")
    tmp.write_text(json.dumps(_plain(meta), indent=2))
    os.replace(tmp, path / META_FILE)
    return meta


def _plain(value: Any) -> Any:
    from raytuner.results.summary import json_safe

    return json_safe(value)


@dataclass
class SavedModel:
    model: Any
    meta: dict[str, Any]
    path: Path | str  # the model directory: a local Path, or its URI (s3://...) for remote storage

    def features(self, frame: Any) -> Any:
        """A table's training columns, in order (other columns, e.g. the target, left out); a model
        that takes a file's raw columns (``meta["input"] == "columns"``) preprocesses them itself."""
        names = list(self.meta.get("feature_names") or [])
        if self.meta.get("input") != "columns" or not hasattr(frame, "columns"):
            return frame
        missing = [name for name in names if name not in {str(c) for c in frame.columns}]
        if missing:
            raise ResultsError(f"the rows lack training columns {missing} (a column may be empty, not absent)")
        return frame[names]

    def predict(self, frame: Any) -> Any:
        return self.model.predict(self.features(frame))

    def predict_proba(self, frame: Any) -> Any:
        return self.model.predict_proba(self.features(frame))


def resolve_model_dir(path: str | Path, ensemble: bool = False) -> Path:
    """A model directory from a model dir, a model file, or an experiment dir."""
    p = Path(path)
    if p.is_file():
        p = p.parent
    if not p.is_dir():
        raise ResultsError(f"no model at {path}: expected a model directory, model file or experiment directory")
    if (p / META_FILE).is_file() and not ensemble:
        return p
    sub = p / (ENSEMBLE_DIR if ensemble else MODEL_DIR)
    if (sub / META_FILE).is_file():
        return sub
    what = "ensemble (set ensemble: in the spec)" if ensemble else f"model ({META_FILE})"
    raise ResultsError(f"{path} holds no {what}: not a raytuner model or experiment directory")


def resolve_remote_model_dir(uri: str, ensemble: bool = False, endpoint: str | None = None) -> Any:
    """The Location of a model directory on remote storage (model dir, model file or experiment)."""
    from raytuner.results.storage import is_file, resolve

    try:
        location = resolve(uri, endpoint=endpoint)
    except SpecError as exc:  # it names storage.path: here it is the model's path
        raise ResultsError(f"cannot open {uri}: expected {exc.problems[0].expected}") from None
    if location.path.endswith((".joblib", ".skops", ".pt")):
        location = resolve(uri.rsplit("/", 1)[0], endpoint=endpoint)
    if not ensemble and is_file(location.child(META_FILE)):
        return location
    sub = location.child(ENSEMBLE_DIR if ensemble else MODEL_DIR)
    if is_file(sub.child(META_FILE)):
        return sub
    what = "ensemble (set ensemble: in the spec)" if ensemble else f"model ({META_FILE})"
    hint = "" if endpoint else " (for an S3-compatible store, pass its --endpoint)"
    raise ResultsError(f"{uri} holds no {what}: not a raytuner model or experiment directory{hint}")


ModelLoader = Callable[[Path, dict[str, Any]], Any]  # (model directory, model.json) -> the model


def load_model(path: str | Path, fmt: str | None = None, ensemble: bool = False, *,
               endpoint: str | None = None, loaders: Mapping[str, ModelLoader] | None = None) -> SavedModel:
    """Load a saved model (joblib by default; skops loads only scikit-learn/numpy/raytuner types).

    ``loaders``: by model.json's ``framework`` (e.g. ``torch``), the function that loads that kind
    of model directory (``raytuner.runner.predict.MODEL_LOADERS``); scikit-learn models need none.

    ``path``: an experiment directory, model directory or model file, local or a URI
    (``s3://bucket/exp/name-...``; ``endpoint`` for S3-compatible stores): a remote model
    directory is copied to a temporary folder and loaded from there.
    """
    if "://" in str(path):
        import tempfile

        from raytuner.results.storage import copy_tree

        remote = resolve_remote_model_dir(str(path), ensemble, endpoint)
        if fmt is None and str(path).endswith(".skops"):
            fmt = "skops"
        with tempfile.TemporaryDirectory(prefix="raytuner-load-") as tmp:
            copy_tree(remote, Path(tmp))
            saved = load_model(tmp, fmt, ensemble=False, loaders=loaders)
        return SavedModel(saved.model, saved.meta, remote.uri)
    directory = resolve_model_dir(path, ensemble)
    meta = json.loads((directory / META_FILE).read_text())
    framework = meta.get("framework", "sklearn")
    if framework != "sklearn":
        loader = (loaders or {}).get(framework)
        if loader is None:
            raise ResultsError(f"{directory} holds a {framework} model: load it with raytuner.load_model")
        return SavedModel(loader(directory, meta), meta, directory)
    if fmt is None:
        fmt = "skops" if Path(path).suffix == ".skops" else ("joblib" if "model.joblib" in meta.get("files", []) else "skops")
    target = directory / f"model.{fmt}"
    if not target.is_file():
        raise ResultsError(f"{directory} has no model.{fmt} (it has: {', '.join(meta.get('files', [])) or 'none'})")
    if fmt == "joblib":
        import joblib

        return SavedModel(joblib.load(target), meta, directory)
    if not skops_available():
        raise DependencyError("loading a .skops model needs skops: pip install 'raytuner[export]'")
    sio = _skops_io()

    untrusted = sio.get_untrusted_types(file=target)
    unknown = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
    if unknown:
        raise RaytunerError(f"{target} contains types outside scikit-learn/numpy/raytuner: {unknown}; "
                            "load it with skops.io.load(..., trusted=[...]) after checking them")
    return SavedModel(sio.load(target, trusted=untrusted), meta, directory)

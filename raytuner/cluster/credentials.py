"""What counts as a credential when a working directory is packaged for a cluster.

A file is a credential when its path matches :data:`SECRET_PATTERNS` (cloud keys,
package-manager and Docker auth, Terraform state, ``*secret*``, ``*token*``, keys...), or when
the head of a small file looks like one (a PEM private key, a Google service-account key,
AWS access keys). Names are compared case-insensitively. Only ``submit --include PATH``
naming the exact file (or folder) sends one anyway.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

# gitignore-like: "dir/" matches folders only, "**/a/b" a path ending in a/b, a bare name any depth
SECRET_PATTERNS = (
    # environment files and shell secrets
    ".env", ".env.*", "*.env", ".envrc", ".netrc", "_netrc", ".git-credentials",
    # cloud credentials
    ".aws/", "aws_credentials", "credentials", "credentials.json", "**/.config/gcloud/", "gcloud/",
    "application_default_credentials.json", "gcp-key.json", "*-key.json", "service-account*.json", ".boto", ".s3cfg",
    ".azure/",
    # package managers and container registries
    ".npmrc", ".pypirc", ".yarnrc", ".gem/credentials", ".docker/", "**/.docker/config.json", ".dockercfg",
    ".dockerconfigjson",
    # infrastructure state, cluster access
    "*.tfstate", "*.tfstate.backup", "*.tfvars", "kubeconfig", ".kube/", ".ray/",
    # keys, tokens and anything called secret
    "*secret*", "*token*", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "id_rsa*", "id_dsa*",
    "id_ecdsa*", "id_ed25519*", ".ssh/", ".gnupg/",
)
SNIFF_BYTES = 64 * 1024  # the head of a file that is read
SNIFF_MAX_SIZE = 1024 * 1024  # larger files are data, not key files: not read
_PRIVATE_KEY = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----")
_SERVICE_ACCOUNT = re.compile(rb'"type"\s*:\s*"service_account"|"private_key(?:_id)?"\s*:')
_AWS_KEYS = re.compile(rb"(?im)^\s*aws_(?:secret_access_key|session_token)\s*[=:]")
CONTENT_RULES = (  # (what it looks like, pattern, only for names matching)
    ("content looks like a private key", _PRIVATE_KEY, "*"),
    ("content looks like a service-account key", _SERVICE_ACCOUNT, "*.json"),
    ("content holds AWS credentials", _AWS_KEYS, "*"),
)


def secret_pattern(rel: str, is_dir: bool) -> str | None:
    """The deny-list pattern a relative POSIX path matches, or None."""
    lowered = rel.lower()
    return next((p for p in SECRET_PATTERNS if matches(p, lowered, is_dir)), None)


def matches(pattern: str, rel: str, is_dir: bool) -> bool:
    """gitignore-like: ``dir/`` only folders, ``/x`` or ``a/b`` anchored at the root, ``**/a/b`` at any
    depth, a bare name at any depth."""
    dir_only = pattern.endswith("/")
    pattern = pattern.rstrip("/")
    if dir_only and not is_dir:
        return False
    if pattern.startswith("**/"):
        tail = pattern[3:]
        return fnmatch.fnmatchcase(rel, tail) or fnmatch.fnmatchcase(rel, "*/" + tail)
    if "/" in pattern:
        return fnmatch.fnmatchcase(rel, pattern.lstrip("/"))
    return fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], pattern)


def sniff(path: Path, size: int) -> str | None:
    """Why a small file's head looks like a credential, or None."""
    if size > SNIFF_MAX_SIZE:
        return None
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError:
        return None
    name = path.name.lower()
    for what, pattern, names in CONTENT_RULES:
        if fnmatch.fnmatchcase(name, names) and pattern.search(head):
            return what
    return None

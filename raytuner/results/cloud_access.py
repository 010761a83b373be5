"""Cloud storage access: are credentials there, and what a refusal means to a person.

pyarrow reports a refused S3 request as an ``OSError`` whose text holds the AWS error
name (``AWS Error ACCESS_DENIED during HeadObject operation``...). :func:`access` turns
those into one :class:`~raytuner.errors.StorageAccessError` naming the URI, what was
attempted and what to set; other errors pass through unchanged.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path
from typing import Iterator

from raytuner.errors import StorageAccessError

# AWS error names (pyarrow spells them in capitals) and HTTP statuses that mean "who are you?"
_DENIED = re.compile(
    r"ACCESS_DENIED|AccessDenied|INVALID_ACCESS_KEY_ID|InvalidAccessKeyId|SIGNATURE_DOES_NOT_MATCH|"
    r"SignatureDoesNotMatch|MISSING_AUTHENTICATION_TOKEN|EXPIRED_TOKEN|ExpiredToken|UNRECOGNIZED_CLIENT|"
    r"INVALID_CLIENT_TOKEN_ID|HTTP status 40[13]\b|No credentials|Unable to locate credentials"
)
_ENV_KEYS = (
    ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), ("AWS_PROFILE",), ("AWS_WEB_IDENTITY_TOKEN_FILE",),
    ("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",), ("AWS_CONTAINER_CREDENTIALS_FULL_URI",),
)

HINT = ("set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or give the machine an "
        "instance role / IRSA service account) with access to the bucket; on a cluster the head and "
        "every worker need them")


def has_credentials(scheme: str = "s3") -> bool:
    """Whether this process can find S3 credentials without asking the network (env or shared files)."""
    if scheme != "s3":
        return True  # gs://, hdfs://: their libraries find credentials themselves
    if any(all(os.environ.get(k) for k in keys) for keys in _ENV_KEYS):
        return True
    for env, default in (("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"), ("AWS_CONFIG_FILE", "~/.aws/config")):
        path = Path(os.environ.get(env) or default).expanduser()
        with contextlib.suppress(OSError):
            if path.is_file() and "aws_access_key_id" in path.read_text(errors="replace").lower():
                return True
    return False


def is_denied(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and bool(_DENIED.search(str(exc)))


def denied_error(uri: str, action: str, exc: BaseException | None = None) -> StorageAccessError:
    found = "credentials were found but were refused" if has_credentials(uri.split("://", 1)[0]) else "no credentials were found"
    detail = ""
    if exc is not None:
        match = _DENIED.search(str(exc))
        detail = f" ({match.group(0)})" if match else ""
    return StorageAccessError(f"cannot {action} {uri}: access denied{detail}; {found}: {HINT}")


@contextlib.contextmanager
def access(uri: str, action: str) -> Iterator[None]:
    """Refusals inside the block become one clear StorageAccessError; other errors pass."""
    try:
        yield
    except OSError as exc:
        if is_denied(exc):
            raise denied_error(uri, action, exc) from None
        raise

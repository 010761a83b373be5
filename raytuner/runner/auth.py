"""Talking to a cluster's Jobs API safely: which address is acceptable, which token to send.

Ray's dashboard and Jobs API run arbitrary code for whoever reaches them
(CVE-2023-48022). So:

- plain ``http://`` is only accepted to a loopback address (an SSH tunnel made by
  ``ray dashboard cluster.yaml`` or ``kubectl port-forward`` ends there); anything else
  needs ``https://`` or an explicit ``--insecure``;
- the token (Ray's token authentication, ``RAY_AUTH_MODE=token``) is sent as a bearer
  header; it is read from ``--token-file``, ``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH`` or
  ``~/.ray/auth_token``, in that order, and is never printed, logged or packaged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from raytuner.errors import ClusterError
from raytuner.runner.address import parse_address

DEFAULT_TOKEN_PATH = Path("~/.ray/auth_token")
TUNNEL_HINT = (
    "open an SSH tunnel and use the loopback address instead: `ray dashboard cluster/aws.yaml` "
    "(then --address http://127.0.0.1:8265), or on Kubernetes "
    "`kubectl port-forward service/raytuner-head-svc 8265:8265`; or serve the dashboard over https"
)


@dataclass(frozen=True)
class Token:
    value: str
    source: str  # where it came from, for messages (never the value)

    def __repr__(self) -> str:  # never show the value, not even in a traceback
        return f"Token(source={self.source!r})"

    __str__ = __repr__


def check_address(address: str, *, insecure: bool = False) -> str:
    """The canonical Jobs API URL; plain http:// only to loopback (and not through a proxy)."""
    parsed = parse_address(address)
    if parsed.scheme == "http" and not insecure:
        if not parsed.loopback:
            raise ClusterError(
                f"refusing plain http:// to {parsed.host}, which is not a loopback address: the token and your "
                f"code would cross the network unencrypted, and Ray's Jobs API runs code for whoever reaches it. "
                f"{TUNNEL_HINT}. Pass --insecure only if you know the network is private."
            )
        proxy = _proxy_for(parsed.url)
        if proxy:
            raise ClusterError(
                f"refusing plain http:// to {parsed.host}: a proxy is set in the environment ({proxy}), so the "
                f"token would travel to it unencrypted; add {parsed.host} to NO_PROXY (e.g. "
                f"NO_PROXY=127.0.0.1,localhost) or pass --insecure"
            )
    return parsed.url


def _proxy_for(url: str) -> str | None:
    """The environment proxy `requests` would send this URL through (name of the variable only)."""
    try:
        from requests.utils import get_environ_proxies
    except ImportError:  # pragma: no cover - requests comes with ray[default]
        return None
    proxies = get_environ_proxies(url)
    return next((f"{key} proxy" for key in ("http", "all") if proxies.get(key)), None)


def resolve_token(token_file: str | os.PathLike[str] | None = None) -> Token | None:
    """The token to send, from the first source that has one; None when there is none."""
    if token_file:
        path = Path(token_file).expanduser()
        return Token(_read(path, "--token-file"), f"--token-file {path}")
    value = os.environ.get("RAY_AUTH_TOKEN", "").strip()
    if value:
        return Token(value, "RAY_AUTH_TOKEN")
    env_path = os.environ.get("RAY_AUTH_TOKEN_PATH", "").strip()
    if env_path:
        path = Path(env_path).expanduser()
        return Token(_read(path, "RAY_AUTH_TOKEN_PATH"), f"RAY_AUTH_TOKEN_PATH {path}")
    default = DEFAULT_TOKEN_PATH.expanduser()
    if default.is_file():
        value = default.read_text().strip()
        if value:
            return Token(value, str(default))
    return None


def _read(path: Path, source: str) -> str:
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise ClusterError(f"{source}: cannot read the token file {path} ({exc.strerror})") from None
    if not value:
        raise ClusterError(f"{source}: the token file {path} is empty")
    return value


def headers(token: Token | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token.value}"} if token else {}


def redact(text: str, token: Token | None) -> str:
    """Remove the token from any text that may reach a terminal or a log."""
    if token and token.value and token.value in text:
        text = text.replace(token.value, "<token>")
    return text


def new_token_file(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """Write a fresh random token (as Ray generates them) to a 0600 file."""
    import secrets

    target = Path(path).expanduser()
    if target.exists() and not force:
        raise ClusterError(f"{target} exists; pass --force to replace the token (the cluster must restart)")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    os.chmod(target, 0o600)
    return target

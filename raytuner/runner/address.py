"""One parser decides where a Jobs API address points, and the client connects only there.

Ray's ``JobSubmissionClient`` talks to the dashboard with ``requests`` (whose parser is
``urllib3.util.parse_url``) and follows logs with ``aiohttp`` (``yarl``). Python's
``urllib.parse`` reads some addresses differently: ``http://198.51.100.7\\@127.0.0.1:8265``
is host 127.0.0.1 for ``urlsplit`` but 198.51.100.7 for urllib3. So the address is parsed
once, with urllib3, after refusing everything that parsers disagree on (userinfo,
backslashes, percent-encoding, queries, fragments, whitespace, non-ASCII), its host is
brought to one canonical form (numeric IPv4 forms such as ``127.1``, ``2130706433`` or
``0x7f.1`` read as the C library reads them; IPv4-mapped IPv6 as the IPv4 address it
reaches), and the client is given the URL rebuilt from those parts only, which every
parser reads the same way. Whether plain ``http://`` is acceptable is decided on that host.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from raytuner.errors import ClusterError

SCHEMES = ("http", "https")
LOCALHOST_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")
# characters that parsers disagree on, or that hide a host: refused anywhere in the address
_FORBIDDEN = {"\\": "a backslash", "@": "user information ('@')", "%": "percent-encoding ('%')",
              "#": "a fragment ('#')", "?": "a query ('?')"}
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_HOSTNAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_NUMERIC = re.compile(r"[0-9][0-9A-Fa-fXx.]*")  # what the C library may read as an IPv4 address
_PATH = re.compile(r"(?:/[A-Za-z0-9._~-]*)*")
_DIGITS = {8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}
EXAMPLE = "e.g. http://127.0.0.1:8265 or https://ray.example.com"


@dataclass(frozen=True)
class Address:
    """A Jobs API address in canonical form: ``url`` is rebuilt from the parsed parts only."""

    scheme: str
    host: str  # a dotted IPv4 address, an IPv6 address (no brackets) or a lower-case DNS name
    port: int | None
    path: str
    loopback: bool

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{host}{port}{self.path}"


def parse_address(address: str) -> Address:
    """Parse a Jobs API address strictly (see the module doc); a ClusterError says what is wrong."""
    text = (address or "").strip()
    if not text:
        raise ClusterError("no cluster address: pass --address http://127.0.0.1:8265 (or set RAY_API_SERVER_ADDRESS)")
    for char in text:
        if char in _FORBIDDEN:
            raise ClusterError(f"--address {address!r}: {_FORBIDDEN[char]} is not allowed in a cluster address "
                               f"(parsers disagree on where the host is); give only scheme, host and port, {EXAMPLE}")
        if not char.isascii() or not char.isprintable() or char.isspace():
            raise ClusterError(f"--address {address!r}: the character {char!r} is not allowed; use an ASCII "
                               f"host name or IP address, {EXAMPLE}")
    if "://" not in text:
        text = "http://" + text
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parts = parse_url(text)  # the parser `requests` (Ray's JobSubmissionClient) connects with
    except (LocationParseError, ValueError) as exc:
        raise ClusterError(f"--address {address!r}: not a URL ({exc}); {EXAMPLE}") from None
    scheme = (parts.scheme or "").lower()
    if scheme not in SCHEMES:
        raise ClusterError(f"--address {address!r}: expected an http(s):// URL of the Ray dashboard (Jobs API), "
                           "e.g. http://127.0.0.1:8265")
    if parts.auth is not None or parts.query is not None or parts.fragment is not None:
        raise ClusterError(f"--address {address!r}: only scheme, host, port and path are allowed; {EXAMPLE}")
    if not parts.host:
        raise ClusterError(f"--address {address!r}: no host")
    if parts.port is not None and not 1 <= parts.port <= 65535:
        raise ClusterError(f"--address {address!r}: port {parts.port} is not between 1 and 65535")
    path = (parts.path or "").rstrip("/")
    if not _PATH.fullmatch(path):
        raise ClusterError(f"--address {address!r}: the path {path!r} may hold only letters, digits and . _ ~ - /")
    host, loopback = canonical_host(parts.host, address)
    return Address(scheme, host, parts.port, path, loopback)


def canonical_host(host: str, address: str = "") -> tuple[str, bool]:
    """(canonical host, whether it is this machine's loopback) for a host as urllib3 returns it."""
    where = f"--address {address!r}: " if address else ""
    if host.startswith("["):
        try:
            ip6 = ipaddress.IPv6Address(host[1:-1] if host.endswith("]") else "invalid")
        except ValueError:
            raise ClusterError(f"{where}{host} is not a valid IPv6 address") from None
        if ip6.ipv4_mapped is not None:  # ::ffff:a.b.c.d reaches a.b.c.d
            return str(ip6.ipv4_mapped), ip6.ipv4_mapped.is_loopback
        return ip6.compressed, ip6.is_loopback
    if _NUMERIC.fullmatch(host):
        ip4 = inet_aton(host)
        if ip4 is None:
            raise ClusterError(f"{where}{host!r} looks like an IPv4 address but is not a valid one; "
                               "write it as four decimal numbers, e.g. 127.0.0.1")
        return str(ip4), ip4.is_loopback
    if not _HOSTNAME.fullmatch(host):
        raise ClusterError(f"{where}{host!r} is not a valid host name; {EXAMPLE}")
    name = host.lower()
    return name, name in LOCALHOST_NAMES


def inet_aton(text: str) -> ipaddress.IPv4Address | None:
    """An IPv4 address read as the C library's inet_aton/getaddrinfo read it (``127.1``,
    ``2130706433``, ``0x7f.1``, ``0177.0.0.1``); None when it would not read one."""
    parts = text.split(".")
    if not 1 <= len(parts) <= 4:
        return None
    values = []
    for part in parts:
        if part[:2].lower() == "0x":
            digits, base = part[2:], 16
        elif len(part) > 1 and part.startswith("0"):
            digits, base = part[1:], 8
        else:
            digits, base = part, 10
        if not digits or any(c not in _DIGITS[base] for c in digits):
            return None
        values.append(int(digits, base))
    *head, last = values
    if any(v > 255 for v in head) or last >= 256 ** (4 - len(head)):
        return None
    number = 0
    for v in head:
        number = number * 256 + v
    number = number * 256 ** (4 - len(head)) + last
    return ipaddress.IPv4Address(number)

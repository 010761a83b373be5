"""One URL parser decides: the host the plain-http guard approves is the host the HTTP
libraries Ray's JobSubmissionClient uses (requests/urllib3, aiohttp/yarl) connect to, and
no host outside this machine is ever approved for plain http."""

from __future__ import annotations

import ipaddress
import socket

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from raytuner.errors import ClusterError
from raytuner.runner import auth
from raytuner.runner.address import inet_aton, parse_address


def _connect_ip(host: str) -> str | None:
    """The address the C library connects to for a host urllib3 returned (numeric only, no DNS)."""
    try:
        info = socket.getaddrinfo(host.strip("[]"), 80, 0, socket.SOCK_STREAM, 0, socket.AI_NUMERICHOST)
    except (socket.gaierror, UnicodeError, ValueError):
        return None
    ip = ipaddress.ip_address(info[0][4][0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def _connects_to(url: str) -> str | None:
    """Where requests (urllib3's parser, then getaddrinfo) would connect for this URL."""
    from urllib3.util import parse_url

    host = parse_url(url).host or ""
    return _connect_ip(host) or host.lower()


ATTACKS = [  # (address, why it must not reach 198.51.100.7 with the token in plaintext)
    ("http://198.51.100.7\\@127.0.0.1:8265", "a backslash"),
    ("http://198.51.100.7%5C@127.0.0.1:8265", "percent-encoding"),
    ("http://198.51.100.7%5c@127.0.0.1:8265", "percent-encoding"),
    ("http://198.51.100.7%2F@127.0.0.1:8265", "percent-encoding"),
    ("http://198.51.100.7%40127.0.0.1:8265", "percent-encoding"),
    ("http://127.0.0.1:8265@198.51.100.7", "user information"),
    ("http://user:pass@127.0.0.1:8265", "user information"),
    ("http://127.0.0.1#@198.51.100.7", "a fragment"),
    ("http://198.51.100.7#@127.0.0.1", "a fragment"),
    ("http://198.51.100.7?@127.0.0.1", "a query"),
    ("http://198.51.100.7/\\127.0.0.1", "a backslash"),
    ("http://[::1%25eth0]:8265", "percent-encoding"),
    ("http://127.0.0.1 .198.51.100.7", "not allowed"),
    ("http://127.0.0.1\t:8265", "not allowed"),
    ("http://１２７.０.０.１:8265", "not allowed"),  # fullwidth digits: IDNA maps them to ASCII
    ("http://127.0.0.1.:8265", "not a valid"),
    ("http://0x7f.1.2.3.4:8265", "not a valid"),
    ("http://08.0.0.1:8265", "not a valid"),
    ("http://4294967296:8265", "not a valid"),
    ("http://3325256711:8265", "refusing plain http:// to 198.51.100.7"),  # decimal form of the remote host
    ("http://0xc6.51.100.7:8265", "refusing plain http:// to 198.51.100.7"),
    ("http://00000127.0.0.1:8265", "refusing plain http:// to 87.0.0.1"),  # octal: not loopback at all
    ("http://[::ffff:198.51.100.7]:8265", "refusing plain http:// to 198.51.100.7"),
    ("http://[::127.0.0.1]:8265", "refusing plain http:// to ::7f00:1"),  # IPv4-compatible: not loopback
    ("http://[64:ff9b::7f00:1]:8265", "refusing plain http://"),  # NAT64 of 127.0.0.1: leaves the machine
    ("http://localhost.evil.example:8265", "refusing plain http://"),
    ("http://127.0.0.1.nip.io:8265", "refusing plain http://"),
    ("ftp://127.0.0.1:8265", "expected an http"),
    ("ray://127.0.0.1:10001", "expected an http"),
    ("http://127.0.0.1:0", "port 0"),
]


@pytest.mark.parametrize("address, reason", ATTACKS)
def test_known_attacks_are_refused(address: str, reason: str) -> None:
    with pytest.raises(ClusterError, match=reason.replace("?", r"\?").replace("+", r"\+")) as caught:
        auth.check_address(address)
    assert "Traceback" not in str(caught.value)


LOOPBACK_FORMS = [  # (address, the canonical URL the client is given)
    ("http://127.1:8265", "http://127.0.0.1:8265"),
    ("http://2130706433:8265", "http://127.0.0.1:8265"),
    ("http://0x7f.1:8265", "http://127.0.0.1:8265"),
    ("http://0x7f000001:8265", "http://127.0.0.1:8265"),
    ("http://0177.0.0.1:8265", "http://127.0.0.1:8265"),
    ("http://127.0.0.5:8265/", "http://127.0.0.5:8265"),
    ("http://[::ffff:127.0.0.1]:8265", "http://127.0.0.1:8265"),
    ("http://[0:0:0:0:0:0:0:1]:8265", "http://[::1]:8265"),
    ("HTTP://LocalHost:8265", "http://localhost:8265"),
    ("127.0.0.1:8265", "http://127.0.0.1:8265"),
    ("  http://127.0.0.1:8265/  ", "http://127.0.0.1:8265"),
    ("http://127.0.0.1:8265/proxy/ray/", "http://127.0.0.1:8265/proxy/ray"),
]


@pytest.mark.parametrize("address, url", LOOPBACK_FORMS)
def test_loopback_forms_are_read_as_the_c_library_reads_them(address: str, url: str) -> None:
    assert auth.check_address(address) == url
    assert _connects_to(url) == _connects_to(address.strip()) or "localhost" in url.lower()


def test_https_and_insecure_still_work_to_remote_hosts() -> None:
    assert auth.check_address("https://Ray.Example.COM/") == "https://ray.example.com"
    assert auth.check_address("https://198.51.100.7:8443") == "https://198.51.100.7:8443"
    assert auth.check_address("http://3325256711:8265", insecure=True) == "http://198.51.100.7:8265"
    with pytest.raises(ClusterError, match="backslash"):  # --insecure never lets a smuggled host through
        auth.check_address("http://198.51.100.7\\@127.0.0.1:8265", insecure=True)


def test_a_proxy_in_the_environment_is_refused_for_plain_http(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    with pytest.raises(ClusterError, match="NO_PROXY"):
        auth.check_address("http://127.0.0.1:8265")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert auth.check_address("http://127.0.0.1:8265") == "http://127.0.0.1:8265"


@pytest.mark.parametrize("text", ["127.1", "2130706433", "0x7f.1", "0177.0.0.1", "1.2.3", "255.255.65535",
                                  "00000127.0.0.1", "0xC6336407", "08.1", "1.2.3.4.5", "4294967296", "0x", "1..2"])
def test_inet_aton_matches_the_c_library(text: str) -> None:
    mine = inet_aton(text)
    assert (str(mine) if mine is not None else None) == _connect_ip(text)


# -- property: for any address, the approved host is the host the libraries connect to --------

SMUGGLE = ["\\", "@", "%5C", "%40", "%2F", "#", "?", "/", ":", " ", "\t", "[", "]", "%", ".", "１"]
HOSTS = ["127.0.0.1", "127.1", "2130706433", "0x7f.1", "0177.0.0.1", "127.0.0.9", "localhost", "LOCALHOST",
         "[::1]", "[::ffff:127.0.0.1]", "[::ffff:198.51.100.7]", "198.51.100.7", "3325256711", "0xc6.0x33.100.7",
         "10.0.0.5", "ray.example.com", "localhost.example.com", "[::127.0.0.1]", "[fe80::1]", "00000127.0.0.1",
         "127.0.0.1.", "127.0.0.1.nip.io", "0", "0.0.0.0", "[::]"]

_text = st.lists(st.sampled_from(list("ab1.:-_") + SMUGGLE), max_size=6).map("".join)
_plain_host = st.sampled_from(HOSTS)
_host = st.one_of(_plain_host, _plain_host, _plain_host, st.builds(lambda a, b, c: a + b + c, _plain_host,
                                                                   st.sampled_from(SMUGGLE), _plain_host))
_address = st.builds(  # about half of the generated addresses parse; the rest test the refusals
    lambda scheme, userinfo, host, port, path: f"{scheme}{userinfo}{host}{port}{path}",
    st.sampled_from(["http://"] * 4 + ["https://"] * 2 + ["HTTP://", "", "ftp://", "ray://", "http:/", "http:\\\\"]),
    st.one_of(st.just(""), st.just(""), st.just(""), _text.map(lambda u: u + "@")),
    _host,
    st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"), st.integers(1, 65535).map(lambda p: f":{p}"),
              st.integers(0, 70000).map(lambda p: f":{p}"), _text.map(lambda t: ":" + t)),
    st.one_of(st.just(""), st.just("/"), st.sampled_from(["/proxy/ray/", "/a.b/c"]), _text.map(lambda t: "/" + t)),
)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_address)
@example("http://198.51.100.7\\@127.0.0.1:8265")
@example("http://198.51.100.7%5C@127.0.0.1:8265")
def test_the_approved_host_is_the_connected_host(address: str) -> None:
    import yarl

    try:
        parsed = parse_address(address)
    except ClusterError:
        return  # refused: nothing is sent anywhere
    url = parsed.url
    # requests (urllib3 + getaddrinfo) connects to exactly the approved host...
    assert _connects_to(url) == parsed.host
    # ...and so does aiohttp (yarl), which follows the logs
    y = yarl.URL(url)
    assert y.user is None and y.password is None
    assert (_connect_ip(y.host) or y.host) == parsed.host
    # the URL given to the client says the same as what the user wrote, as urllib3 reads it
    assert _connects_to(address.strip() if "://" in address else "http://" + address.strip()) == parsed.host
    # the guard approves plain http only for this machine
    try:
        approved = auth.check_address(address)
    except ClusterError as exc:
        assert "refusing plain http://" in str(exc) or "proxy" in str(exc)
        return
    if approved.startswith("http://"):
        ip = _connect_ip(parsed.host)
        assert (ipaddress.ip_address(ip).is_loopback if ip else parsed.host in ("localhost",))

"""Reading a process's listening sockets from /proc (what `cluster local up` checks)."""

from __future__ import annotations

import os
import socket

import pytest

from raytuner.cluster import sockets


@pytest.mark.skipif(not sockets.supported(), reason="needs Linux /proc")
def test_listening_sockets_and_whether_they_are_loopback() -> None:
    opened = []
    try:
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET, "127.0.0.3"),
                             (socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::1"), (socket.AF_INET6, "::")):
            sock = socket.socket(family)
            sock.bind((host, 0))
            sock.listen()
            opened.append((host, sock.getsockname()[1], sock))
        idle = socket.socket()  # bound but not listening: not reported
        idle.bind(("0.0.0.0", 0))
        opened.append(("idle", idle.getsockname()[1], idle))
        found = {(s.ip, s.port): s for s in sockets.listening([os.getpid()])}
        for host, port, _ in opened:
            if host == "idle":
                assert not any(p == port for _, p in found), found
                continue
            item = found[(host if host not in ("::1", "::") else str(host), port)]
            assert item.loopback == (host in ("127.0.0.1", "127.0.0.3", "::1")) and item.pid == os.getpid()
    finally:
        for _, _, sock in opened:
            sock.close()

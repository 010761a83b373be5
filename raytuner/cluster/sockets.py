"""Which TCP addresses a set of processes listens on (Linux ``/proc``; empty elsewhere).

``raytuner cluster local up`` uses it to check that what it started listens on loopback
only, and to say which sockets do not.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

_LISTEN = "0A"


@dataclass(frozen=True)
class Listening:
    pid: int
    process: str  # the command's name, for messages
    ip: str
    port: int

    @property
    def loopback(self) -> bool:
        ip = ipaddress.ip_address(self.ip)
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        return ip.is_loopback

    def __str__(self) -> str:
        host = f"[{self.ip}]" if ":" in self.ip else self.ip
        return f"{host}:{self.port} ({self.process}, pid {self.pid})"


def supported() -> bool:
    return os.path.isdir("/proc/self/fd") and Path("/proc/net/tcp").exists()


def listening(pids: list[int]) -> list[Listening]:
    """Every TCP socket in LISTEN state held by one of ``pids``."""
    table = {**_table("/proc/net/tcp", 4), **_table("/proc/net/tcp6", 6)}
    found = []
    for pid in pids:
        name = _name(pid)
        for inode in _socket_inodes(pid):
            if inode in table:
                ip, port = table[inode]
                found.append(Listening(pid, name, ip, port))
    return sorted(set(found), key=lambda s: (s.pid, s.port, s.ip))


def _table(path: str, version: int) -> dict[str, tuple[str, int]]:
    rows: dict[str, tuple[str, int]] = {}
    try:
        lines = Path(path).read_text().splitlines()[1:]
    except OSError:
        return rows
    for line in lines:
        fields = line.split()
        if len(fields) < 10 or fields[3] != _LISTEN:
            continue
        address, port = fields[1].split(":")
        rows[fields[9]] = (_ip(address, version), int(port, 16))
    return rows


def _ip(hex_address: str, version: int) -> str:
    raw = bytes.fromhex(hex_address)
    # the kernel prints each 32-bit word in host (little-endian) order
    swapped = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    return str(ipaddress.IPv4Address(swapped) if version == 4 else ipaddress.IPv6Address(swapped))


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return "?"

"""The test run's port hand-out: ports stay clear of what the kernel gives sockets bound to
port 0, and no port is handed out twice, even inside a block handed out before."""

from __future__ import annotations

import socket

from tests.ports import free_media_port, free_rtp_range, free_udp_tcp_port


def _ephemeral_start() -> int:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as ports:
        return int(ports.read().split()[0])


def test_ports_are_handed_out_once_and_below_the_ephemeral_range() -> None:
    handed: list[int] = []
    for _ in range(20):
        handed.append(free_udp_tcp_port())
        media = free_media_port()
        handed.extend(range(media, media + 4))
        rtp = free_rtp_range(41)
        assert rtp % 2 == 0
        handed.extend(range(rtp, rtp + 41))
    assert len(set(handed)) == len(handed)
    assert max(handed) < _ephemeral_start()


def test_a_port_bound_by_someone_else_is_skipped() -> None:
    next_port = free_udp_tcp_port() + 1
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", next_port))
        assert free_udp_tcp_port() == next_port + 1

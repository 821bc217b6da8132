"""Loopback ports for the local Neo4j server: free ports, the Bolt handshake, the port choice."""

from __future__ import annotations

import socket

from .errors import Neo4jServerError


def bolt_answers(port: int, timeout: float = 1.0) -> bool:
    """True when 127.0.0.1:port completes a Bolt handshake (no authentication needed)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            # magic, then 4 proposals: 5.0-5.8, 4.4, 4.3, 3
            sock.sendall(
                b"\x60\x60\xb0\x17"
                b"\x00\x08\x08\x05"
                b"\x00\x00\x04\x04"
                b"\x00\x00\x03\x04"
                b"\x00\x00\x00\x03"
            )
            reply = b""
            while len(reply) < 4:
                chunk = sock.recv(4 - len(reply))
                if not chunk:
                    return False
                reply += chunk
            return reply != b"\x00\x00\x00\x00"
    except OSError:
        return False


def port_free(port: int) -> bool:
    """True when ``port`` can be bound on 127.0.0.1 now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(n: int) -> list[int]:
    """``n`` distinct loopback ports that were free a moment ago (picked by the OS)."""
    socks = []
    try:
        for _ in range(n):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            socks.append(sock)
        return [s.getsockname()[1] for s in socks]
    finally:
        for sock in socks:
            sock.close()


def choose_ports(
    state: dict, bolt_port: int | None, http_port: int | None, browser: bool
) -> tuple[int, int | None]:
    """The Bolt and HTTP ports a new server on a home will listen on.

    Args:
        state: the home's server.json; its previous ports are reused when still free.
        bolt_port: the Bolt port asked for; None to pick one.
        http_port: the HTTP port asked for; None to pick one, 0 for no HTTP connector.
        browser: Neo4j Browser wanted (without it and without ``http_port``: no HTTP).

    Returns:
        ``(bolt_port, http_port)``, ``http_port`` None when there is no HTTP connector.

    Raises:
        Neo4jServerError: a port asked for is busy, or both ports are the same.
    """
    want_http = http_port != 0 and (browser or http_port is not None)
    if bolt_port is not None and not port_free(bolt_port):
        raise Neo4jServerError(
            f"Bolt port {bolt_port} on 127.0.0.1 is busy: stop what uses it, or pass another "
            "port (or none to pick a free one)"
        )
    if want_http and http_port is not None and not port_free(http_port):
        raise Neo4jServerError(
            f"HTTP port {http_port} on 127.0.0.1 is busy: stop what uses it, or pass another "
            "port (or none to pick a free one)"
        )
    spare = iter(free_ports(2))
    if bolt_port is None:
        prev = state.get("bolt_port")
        bolt_port = (
            prev if isinstance(prev, int) and prev != http_port and port_free(prev) else None
        )
        bolt_port = bolt_port or next(p for p in spare if p != http_port)
    if want_http and http_port is None:
        prev = state.get("http_port")
        http_port = (
            prev if isinstance(prev, int) and prev != bolt_port and port_free(prev) else None
        )
        http_port = http_port or next(p for p in spare if p != bolt_port)
    if not want_http:
        http_port = None
    if http_port is not None and http_port == bolt_port:
        raise Neo4jServerError(f"Bolt and HTTP cannot share port {bolt_port}")
    return bolt_port, http_port

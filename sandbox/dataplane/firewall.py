"""A TCP proxy in front of each database instance, admitting only the sources its security groups admit.

AWS's RDS guide ("Controlling access with security groups"): a DB instance in a VPC is reached only by the
sources its VPC security groups' inbound rules allow; anything else is dropped (AWS's VPC guide, "Security
group rules"), so the client's connection times out. Here the RDS stand-in's endpoint is this proxy's port;
the proxy relays to the sandbox's PostgreSQL what it admits, and holds the rest open, unanswered.

Attribution: a task's process connects from 127.0.0.1 (Linux picks the loopback route's source address
whatever address it listens on), so the proxy finds who opened the connection: the client socket's inode in
``/proc/net/tcp``, then the sandbox's task process (or a descendant) holding that inode. The task's private
IP and groups come from the address book (sandbox/aws/security_groups.py). A connection no task holds comes
from the controller (tests, ansible, an operator's psql): admitted, as an operator's tunnel to a private
database (a bastion, Session Manager port forwarding) would be; a database's reachability from the internet
(PubliclyAccessible, routes) is not modelled.
"""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sandbox.aws import security_groups
from sandbox.state import HOST

DROPPED_HOLD = 900.0  # seconds a dropped connection is held open (unanswered) before it is closed
CHUNK = 65536


def _hex_address(text: str) -> tuple[str, int]:
    """``0100007F:1F90`` (as /proc/net/tcp writes IPv4 addresses, host byte order) -> ("127.0.0.1", 8080)."""
    address, _, port = text.partition(":")
    return socket.inet_ntoa(struct.pack("<I", int(address, 16))), int(port, 16)


def socket_inode(table: str, local: tuple[str, int], remote: tuple[str, int]) -> int | None:
    """The inode of the socket whose local and remote ends these are, in /proc/net/tcp's text."""
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 10:
            continue
        if _hex_address(fields[1]) == local and _hex_address(fields[2]) == remote:
            inode = int(fields[9])
            return inode or None
    return None


def descendants(pid: int) -> list[int]:
    """``pid`` and its children's pids, recursively (from /proc/<pid>/task/<tid>/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{current}/task"):
                with contextlib.suppress(OSError), open(f"/proc/{current}/task/{tid}/children") as handle:
                    todo += [int(child) for child in handle.read().split()]
    return found


def holds_socket(pid: int, inode: int) -> bool:
    target = f"socket:[{inode}]"
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return True
    return False


def source_endpoint(peer: tuple[str, int], local: tuple[str, int]) -> security_groups.Endpoint | None:
    """The task (its address-book entry) whose process opened the connection from ``peer`` to ``local``."""
    try:
        with open("/proc/net/tcp") as handle:
            inode = socket_inode(handle.read(), peer, local)
    except OSError:
        return None
    if inode is None:
        return None
    for endpoint in security_groups.ADDRESSES.endpoints():
        if endpoint.pid and any(holds_socket(pid, inode) for pid in descendants(endpoint.pid)):
            return endpoint
    return None


@dataclass
class Guard:
    """What the proxy asks of each connection: the groups and the port (as AWS sees it) of the instance."""

    account: str
    region: str
    groups: Callable[[], Iterable[str]]
    port: int

    def admits(self, source: security_groups.Endpoint | None) -> bool:
        if source is None:
            return True  # the controller: an operator's tunnel (see the module's docstring)
        rules = security_groups.group_rules(self.account, self.region, tuple(self.groups()))
        return security_groups.admits(rules, self.port, source.address, source.groups)


class DatabaseProxy:
    """One instance's endpoint: a loopback port relaying admitted connections to ``upstream``."""

    def __init__(self, upstream: tuple[str, int], guard: Guard, port: int = 0) -> None:
        """``port``: the one to listen on if it is free (an instance restored in place keeps its port)."""
        self.upstream, self.guard = upstream, guard
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((HOST, port))
        except OSError:
            self.sock.bind((HOST, 0))
        self.sock.listen(64)
        self.port = int(self.sock.getsockname()[1])
        self.closed = threading.Event()
        self.lock = threading.Lock()
        self.open: set[socket.socket] = set()
        self.dropped: list[tuple[float, socket.socket]] = []
        self.thread = threading.Thread(target=self._accept, daemon=True, name="sandbox-db-proxy")
        self.thread.start()

    def _accept(self) -> None:
        while not self.closed.is_set():
            try:
                client, peer = self.sock.accept()
            except OSError:
                return
            source = source_endpoint((str(peer[0]), int(peer[1])), (HOST, self.port))
            if not self.guard.admits(source):
                self._drop(client)
                continue
            threading.Thread(target=self._relay, args=(client,), daemon=True, name="sandbox-db-relay").start()

    def _drop(self, client: socket.socket) -> None:
        now = time.monotonic()
        with self.lock:
            expired = [sock for since, sock in self.dropped if now - since > DROPPED_HOLD]
            self.dropped = [(since, sock) for since, sock in self.dropped if now - since <= DROPPED_HOLD]
            self.dropped.append((now, client))
        for sock in expired:
            sock.close()

    def _relay(self, client: socket.socket) -> None:
        try:
            server = socket.create_connection(self.upstream, timeout=10)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        with self.lock:
            self.open.update((client, server))
        pump = threading.Thread(target=self._pump, args=(server, client), daemon=True, name="sandbox-db-pump")
        pump.start()
        self._pump(client, server)
        pump.join()
        with self.lock:
            self.open.difference_update((client, server))
        client.close()
        server.close()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(CHUNK):
                sink.sendall(data)
        except OSError:
            pass
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        with contextlib.suppress(OSError):
            source.shutdown(socket.SHUT_RD)

    def close(self) -> None:
        self.closed.set()
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        with self.lock:
            held = [sock for _, sock in self.dropped] + list(self.open)
            self.dropped, self.open = [], set()
        for sock in held:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


__all__ = ["DatabaseProxy", "Guard", "descendants", "socket_inode", "source_endpoint"]

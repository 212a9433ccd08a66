"""sandbox.dataplane.firewall: who opened a connection (/proc), and the proxy's drop or relay (loopback only,
no moto: the guard's decision is given)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from sandbox.aws.security_groups import ADDRESSES, Endpoint
from sandbox.dataplane.firewall import DatabaseProxy, Guard, descendants, socket_inode, source_endpoint

TABLE = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0 100 0 0
   1: 0100007F:A1B2 0100007F:1F90 01 00000000:00000000 00:00000000 00000000     0        0 2222 1 0 20 4 30
"""


def test_socket_inode_reads_proc_net_tcp() -> None:
    assert socket_inode(TABLE, ("127.0.0.1", 0xA1B2), ("127.0.0.1", 8080)) == 2222
    assert socket_inode(TABLE, ("127.0.0.1", 0xA1B3), ("127.0.0.1", 8080)) is None


@pytest.fixture
def server() -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock
    sock.close()


def test_a_connection_is_attributed_to_the_task_whose_child_process_opened_it(server: socket.socket) -> None:
    port = server.getsockname()[1]
    script = f"import socket, time; s = socket.create_connection(('127.0.0.1', {port})); time.sleep(30)"
    # the task's process is a shell whose child opens the connection (a one-off command's process tree)
    task = subprocess.Popen(["/bin/sh", "-c", f'"{sys.executable}" -c "{script}"; true'])
    endpoint = ADDRESSES.claim(
        Endpoint("127.10.255.1", "123456789012", "eu-west-2", ("sg-0app",), pid=task.pid)
    )
    try:
        server.settimeout(10)
        conn, peer = server.accept()
        assert len(descendants(task.pid)) >= 2
        assert source_endpoint(peer, ("127.0.0.1", port)) == endpoint
        with socket.create_connection(("127.0.0.1", port)) as mine:  # the controller's own connection
            other, other_peer = server.accept()
            assert mine.getsockname() == other_peer
            assert source_endpoint(other_peer, ("127.0.0.1", port)) is None
            other.close()
        conn.close()
    finally:
        ADDRESSES.release(endpoint.address)
        task.kill()
        task.wait()


class Decided(Guard):
    def __init__(self, admitted: bool) -> None:
        super().__init__("123456789012", "eu-west-2", lambda: (), 5432)
        self.admitted = admitted

    def admits(self, source: Endpoint | None) -> bool:
        return self.admitted


def echo_server(server: socket.socket) -> None:
    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(1024):
                    conn.sendall(data)

    threading.Thread(target=serve, daemon=True).start()


@pytest.mark.parametrize("admitted", [True, False])
def test_the_proxy_relays_what_it_admits_and_drops_the_rest(server: socket.socket, admitted: bool) -> None:
    echo_server(server)
    proxy = DatabaseProxy(server.getsockname(), Decided(admitted))
    try:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=1.0) as client:
            client.sendall(b"SELECT 1")
            if admitted:
                assert client.recv(1024) == b"SELECT 1"
            else:
                with pytest.raises(TimeoutError):  # accepted by the kernel, never answered
                    client.recv(1024)
    finally:
        proxy.close()


def test_a_proxy_reopens_on_the_port_it_is_given_when_free(server: socket.socket) -> None:
    first = DatabaseProxy(server.getsockname(), Decided(True))
    port = first.port
    first.close()
    again = DatabaseProxy(server.getsockname(), Decided(True), port)
    try:
        assert again.port == port
    finally:
        again.close()

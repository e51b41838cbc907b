"""What compiled programs can read: context arrays, pointers to pointers, user strings,
string map values, casts between kernel types, constant-folded branches, tuple `in`."""

from __future__ import annotations

import socket
import subprocess
import threading

import pytest

from tests.util import requires_root

pytestmark = requires_root


@pytest.fixture(scope="module")
def progs():
    from tests.progs import features

    for p in (features.on_exit, features.on_execve, features.on_state):
        assert p.insns
    yield features
    for p in (features.on_exit, features.on_execve, features.on_state):
        p.close(maps=True)
    for m in (features.seen, features.names, features.copies, features.args,
              features.tcp_bytes):
        m.close()


@pytest.mark.usefixtures("no_leaks")
def test_ctx_char_arrays_and_string_map_values(progs):
    with progs.on_exit.attach():
        child = subprocess.Popen(["/bin/true"])
        child.wait()
    assert progs.names[child.pid] == "true"
    assert progs.copies[child.pid] == "true"
    assert progs.seen[child.pid, 7] == 1


@pytest.mark.usefixtures("no_leaks")
def test_pointer_to_pointer_and_user_strings(progs):
    with progs.on_execve.attach():
        child = subprocess.Popen(["/bin/echo", "pybpf-argv-one"], stdout=subprocess.DEVNULL)
        child.wait()
    assert progs.args[child.pid] == "pybpf-argv-one"


@pytest.mark.usefixtures("no_leaks")
def test_cast_to_tcp_sock(progs):
    payload = b"x" * 3000
    with progs.on_state.attach():
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        port = server.getsockname()[1]

        def serve() -> None:
            conn, _ = server.accept()
            received = b""
            while len(received) < len(payload):
                received += conn.recv(65536)
            conn.close()

        t = threading.Thread(target=serve)
        t.start()
        client = socket.create_connection(("127.0.0.1", port))
        client.sendall(payload)
        t.join()
        client.close()
        server.close()
    # the server side's socket (local port = the listening port) received the payload
    assert progs.tcp_bytes[port] == len(payload)

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

    programs = (features.on_exit, features.on_execve, features.on_state, features.on_exec,
                features.on_v6)
    for p in programs:
        assert p.insns
    yield features
    for p in programs:
        p.close(maps=True)
    for m in (features.seen, features.names, features.copies, features.args,
              features.tcp_bytes, features.exec_names, features.fd0, features.v6,
              features.who, features.pairs):
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


@pytest.mark.usefixtures("no_leaks")
def test_data_loc_strings_fd_tables_struct_fields_and_tuple_keys(progs):
    with progs.on_exec.attach():
        child = subprocess.Popen(["/bin/true"])
        child.wait()
    assert progs.exec_names[child.pid] == "/bin/true"
    assert progs.fd0[child.pid] >= 1  # stdin's struct file was reached through fdt->fd[0]
    assert progs.names[child.pid] == "true"
    assert progs.pairs[child.pid, 5] == 1


@pytest.mark.usefixtures("no_leaks")
def test_array_members_of_kernel_structs(progs):
    with progs.on_v6.attach():
        server = socket.socket(socket.AF_INET6)
        server.bind(("::1", 0))
        server.listen(1)
        client = socket.create_connection(("::1", server.getsockname()[1]))
        conn, _ = server.accept()
        port = client.getsockname()[1]
        conn.close()
        client.close()
        server.close()
    assert progs.v6[port] == socket.htonl(1)  # the last word of ::1

"""A bounded TCP exchange on loopback, run as a child process: the server sends N bytes and
receives 5, then both close. Prints "<server port> <client port>"."""

from __future__ import annotations

import socket
import sys
import threading
import time


def main() -> None:
    fam = socket.AF_INET6 if sys.argv[1] == "6" else socket.AF_INET
    nbytes = int(sys.argv[2])
    host = "::1" if fam == socket.AF_INET6 else "127.0.0.1"
    time.sleep(float(sys.argv[3]) if len(sys.argv) > 3 else 0.8)
    srv = socket.socket(fam)
    srv.bind((host, 0))
    srv.listen()
    port = srv.getsockname()[1]

    def serve() -> None:
        c, _ = srv.accept()
        c.sendall(b"x" * nbytes)
        c.recv(100)
        c.close()

    t = threading.Thread(target=serve)
    t.start()
    cl = socket.create_connection((host, port))
    cl.sendall(b"hello")
    data = b""
    while len(data) < nbytes:
        data += cl.recv(1 << 16)
    time.sleep(0.2)
    print(port, cl.getsockname()[1], flush=True)
    cl.close()
    t.join()
    srv.close()


if __name__ == "__main__":
    main()

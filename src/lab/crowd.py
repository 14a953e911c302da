#!/usr/bin/env python3
"""fixer lab crowd: clients that hold nginx's connections, so nginx has none left for users.

Each connection sends the start of a request and never finishes it, so nginx keeps it open
(waiting for the rest of the header) instead of reusing it. A connection nginx closes is
opened again a second later.
"""

import argparse
import select
import socket
import sys
import time


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=2)
    s.sendall(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nX-Held: ")
    return s


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--count", type=int, default=3)
    args = parser.parse_args()

    held = []
    announced = False
    while True:
        while len(held) < args.count:
            try:
                held.append(connect(args.port))
            except OSError:
                break
        if not announced:
            print(f"crowd holding {len(held)} connection(s) to 127.0.0.1:{args.port}", flush=True)
            announced = True
        readable, _, _ = select.select(held, [], [], 1.0)
        for s in readable:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                held.remove(s)
                s.close()
        time.sleep(1.0)


if __name__ == "__main__":
    sys.exit(main())

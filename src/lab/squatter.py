#!/usr/bin/env python3
"""fixer lab squatter: some other program holding the backend's port.

It accepts connections and never says a word, like a stray service that grabbed the port
before the real backend could.
"""

import argparse
import socket
import sys


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", args.port))
    sock.listen(64)
    print(f"squatter holding 127.0.0.1:{args.port}", flush=True)
    held = []
    while True:
        conn, _ = sock.accept()
        held.append(conn)


if __name__ == "__main__":
    sys.exit(main())

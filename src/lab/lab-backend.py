#!/usr/bin/env python3
"""fixer lab backend: a tiny HTTP API on loopback, written by `fixer lab up`.

Modes:
  serve   (default) answer GET /api/health with {"status":"ok"} and GET / with a small page.
  stuck   bind and listen, then never accept: connections pile up in the accept queue.
  prompt  bind and listen, then block reading stdin at an "Email: " prompt, like Streamlit's
          first-run prompt. A line written to stdin (e.g. `echo me@example.com > stdin.fifo`)
          unblocks it and it starts serving.
  prompt-first  block reading stdin at an "Email: " prompt *before* binding, as Streamlit's
          first-run prompt does (nothing listens until a line is read); then serve.

With --tls-cert and --tls-key it serves HTTPS instead (for nginx's `proxy_pass https://`).
"""

import argparse
import json
import socket
import ssl
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    server_version = "lab-backend/1"

    def do_GET(self):
        if self.path == "/api/health":
            self.reply(200, "application/json", json.dumps({"status": "ok"}))
        elif self.path == "/":
            self.reply(200, "text/html", "<!doctype html><title>lab</title><p>fixer lab backend</p>\n")
        else:
            self.reply(404, "application/json", json.dumps({"error": "not found"}))

    def reply(self, status, content_type, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


class Server6(Server):
    address_family = socket.AF_INET6


def ask_email():
    try:
        email = input("Email: ")
    except EOFError:
        print("stdin closed before an email was entered", file=sys.stderr, flush=True)
        return None
    print(f"thanks, {email.strip()!r}; serving", flush=True)
    return email


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--mode", choices=["serve", "stuck", "prompt", "prompt-first"], default="serve")
    args = parser.parse_args()

    if args.mode == "prompt-first" and ask_email() is None:
        return 1
    server = (Server6 if ":" in args.host else Server)((args.host, args.port), Handler)
    scheme = "http"
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    host = f"[{args.host}]" if ":" in args.host else args.host
    print(f"lab-backend listening on {scheme}://{host}:{args.port} (mode {args.mode})", flush=True)
    if args.mode == "stuck":
        while True:
            time.sleep(3600)
    if args.mode == "prompt" and ask_email() is None:
        return 1
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())

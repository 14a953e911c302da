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
  slow    answer every request, but only after 3 s (longer than the lab nginx's 1 s wait).
  error500  answer every request with 500 Internal Server Error.
  crash   read each request, then close the connection without a word.
  big-header  answer with a 16 KiB Set-Cookie header (more than nginx's proxy_buffer_size).

With --tls-cert and --tls-key it serves HTTPS instead (for nginx's `proxy_pass https://`).
With --plain-text-alert as well, a connection that starts with anything but a TLS handshake
(plain HTTP from `proxy_pass http://`) is answered with a TLS alert record and closed, as TLS
stacks that reject a wrong protocol with an alert do.
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
        mode = self.server.mode
        if mode == "slow":
            time.sleep(SLOW_SECONDS)
        elif mode == "error500":
            return self.reply(500, "application/json", json.dumps({"error": "internal"}))
        elif mode == "crash":
            self.close_connection = True
            return
        elif mode == "big-header":
            self.extra_headers = [("Set-Cookie", "session=" + "x" * BIG_HEADER_BYTES)]
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
        for name, value in getattr(self, "extra_headers", []):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64
    mode = "serve"


class AlertingTlsServer(Server):
    """Accepts plain sockets and wraps only those that start a TLS handshake."""

    context = None

    def get_request(self):
        conn, addr = self.socket.accept()
        conn.settimeout(2)
        try:
            first = conn.recv(1, socket.MSG_PEEK)
            if first != TLS_HANDSHAKE:
                conn.recv(65536)
                conn.sendall(TLS_ALERT)
                conn.shutdown(socket.SHUT_WR)
                raise OSError("not a TLS handshake")
            conn.settimeout(None)
            return self.context.wrap_socket(conn, server_side=True), addr
        except OSError:
            conn.close()
            raise


TLS_HANDSHAKE = b"\x16"
# A TLS 1.2 record: alert, fatal, protocol_version.
TLS_ALERT = b"\x15\x03\x03\x00\x02\x02\x46"
SLOW_SECONDS = 3
BIG_HEADER_BYTES = 16 * 1024


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
    parser.add_argument("--plain-text-alert", action="store_true")
    parser.add_argument("--mode", choices=["serve", "stuck", "prompt", "prompt-first", "slow", "error500", "crash", "big-header"], default="serve")
    args = parser.parse_args()

    if args.mode == "prompt-first" and ask_email() is None:
        return 1
    if args.plain_text_alert:
        server_class = AlertingTlsServer
    else:
        server_class = Server6 if ":" in args.host else Server
    server = server_class((args.host, args.port), Handler)
    server.mode = args.mode
    scheme = "http"
    if args.plain_text_alert:
        server.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.context.load_cert_chain(args.tls_cert, args.tls_key)
        scheme = "https"
    elif args.tls_cert:
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

#!/usr/bin/env python3
"""A small HTTP/1.1 (optionally HTTPS) server for BridgeUplink's HTTPClient tests.

Standard library only. Listens on 127.0.0.1, an ephemeral port, prints
"READY <port>" on stdout once it accepts connections, and exits when its
stdin reaches EOF (so it never outlives the test process that started it).

Routes (any method; the path may also arrive in absolute form, as a proxy gets it):
  /echo     200 JSON {method, target, headers: [[name, value]...], body_hex, connection}
            query: status=<code>, date=<Date header value>, size=<n> (answer n bytes of "x" instead)
  /delay    answers "late" after ms=<n> milliseconds
  /hang     reads the request and never answers
  /gzip     a gzip-encoded body ("compressed " * 100) when the client accepts gzip
  /close    answers "bye" with "Connection: close"
  /stats    200 JSON {connections, requests}: connections accepted so far, requests answered
"""

import argparse
import gzip
import http.server
import json
import os
import signal
import ssl
import sys
import threading
import time
import urllib.parse

lock = threading.Lock()
stats = {"connections": 0, "requests": 0}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        with lock:
            stats["connections"] += 1
            self.connection_number = stats["connections"]

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        self.route()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def do_HEAD(self):
        self.route(head=True)

    def route(self, head=False):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        with lock:
            stats["requests"] += 1
        if url.path == "/echo":
            status = int(query.get("status", "200"))
            if "size" in query:
                payload = b"x" * int(query["size"])
            else:
                payload = json.dumps({
                    "method": self.command,
                    "target": self.path,
                    "headers": [[k, v] for k, v in self.headers.items()],
                    "body_hex": body.hex(),
                    "connection": self.connection_number,
                }).encode()
            self.answer(status, payload, head, date=query.get("date"), extra=[("X-Test-Extra", "yes"), ("X-Test-Extra", "again")])
        elif url.path == "/delay":
            time.sleep(int(query.get("ms", "1000")) / 1000)
            self.answer(200, b"late", head)
        elif url.path == "/hang":
            time.sleep(3600)
        elif url.path == "/gzip":
            plain = b"compressed " * 100
            if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                self.answer(200, gzip.compress(plain), head, extra=[("Content-Encoding", "gzip")])
            else:
                self.answer(200, plain, head)
        elif url.path == "/close":
            self.answer(200, b"bye", head, extra=[("Connection", "close")])
            self.close_connection = True
        elif url.path == "/stats":
            with lock:
                payload = json.dumps(stats).encode()
            self.answer(200, payload, head)
        else:
            self.answer(404, b"no such route", head)

    def answer(self, status, payload, head, date=None, extra=()):
        if status in (204, 304):
            payload = b""  # these statuses have no body (RFC 9110 §15.3.5, §15.4.5)
        if date is None:
            self.send_response(status)
        else:
            self.send_response_only(status)
            self.send_header("Date", date)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(payload)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(payload)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that rejects our certificate or hangs up is part of the tests


def exit_on_stdin_eof():
    sys.stdin.buffer.read()
    os._exit(0)


def main():
    # A child spawned from a Dispatch worker thread inherits its blocked signals; take SIGTERM and SIGINT back.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
    parser = argparse.ArgumentParser()
    parser.add_argument("--cert")
    parser.add_argument("--key")
    args = parser.parse_args()
    server = Server(("127.0.0.1", 0), Handler)
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=exit_on_stdin_eof, daemon=True).start()
    print("READY %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

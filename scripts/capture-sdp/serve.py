#!/usr/bin/env python3
"""Tiny HTTP server for the browser side of the SDP capture (127.0.0.1 only).

GET  /<file>        serves a file from this directory (page.html)
GET  /sdp/<name>    serves a previously captured SDP from OUTDIR (for cross answers)
POST /sdp/<name>    stores the request body, byte for byte, as OUTDIR/<name>
POST /log           prints the request body (a progress note from the page)

usage: serve.py PORT OUTDIR
"""
import http.server
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PORT = int(sys.argv[1])
OUTDIR = os.path.abspath(sys.argv[2])
NAME = re.compile(r"^/sdp/([a-z0-9-]+\.sdp)$")


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass  # keep the log to saved files and page notes

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=HERE, **kwargs)

    def do_GET(self):
        m = NAME.match(self.path)
        if not m:
            return super().do_GET()
        path = os.path.join(OUTDIR, m.group(1))
        if not os.path.exists(path):
            return self.send_error(404)
        with open(path, "rb") as f:
            body = f.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/sdp")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/log":
            print("page: " + body.decode(errors="replace"), file=sys.stderr, flush=True)
            self.send_response(204)
            self.end_headers()
            return
        m = NAME.match(self.path)
        if not m:
            return self.send_error(404)
        with open(os.path.join(OUTDIR, m.group(1)), "wb") as f:
            f.write(body)
        print(f"saved {m.group(1)} ({len(body)} bytes)", file=sys.stderr, flush=True)
        self.send_response(204)
        self.end_headers()


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()

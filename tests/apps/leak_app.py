"""A worker that leaks memory on request, for the recycle tests.

GET /leak?worker=N&mb=M: when this is worker N (COREFORK_WORKER_ID), allocate
M MiB (default 20), write every page so it is resident, keep it forever and
answer 200 with the MiB kept; any other worker answers 409 so the caller
tries again on a new connection. Every other path answers 200 with
{"worker": N, "pid": P}. SIGTERM: stop accepting, finish the requests in
flight, exit 0 (HTTP/1.0: one request per connection, so none is idle).
"""
import json
import os
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

WORKER = int(os.environ.get("COREFORK_WORKER_ID", "0"))
kept = []


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        url = urlparse(self.path)
        if url.path == "/leak":
            query = parse_qs(url.query)
            want = int(query.get("worker", [str(WORKER)])[0])
            if want != WORKER:
                return self.answer(409, {"worker": WORKER, "pid": os.getpid()})
            mb = min(int(query.get("mb", ["20"])[0]), 256)
            kept.append(b"\x01" * (mb << 20))
            return self.answer(200, {"worker": WORKER, "pid": os.getpid(),
                                     "kept_mb": sum(len(b) for b in kept) >> 20})
        self.answer(200, {"worker": WORKER, "pid": os.getpid()})

    def answer(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for requests in flight


if __name__ == "__main__":
    server = Server(("127.0.0.1", int(os.environ["PORT"])), Handler)
    signal.signal(signal.SIGTERM,
                  lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever(poll_interval=0.05)
    server.server_close()

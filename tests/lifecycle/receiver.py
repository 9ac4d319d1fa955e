"""A real HTTP receiver on 127.0.0.1 that records webhook deliveries and answers what a test tells it."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    """Records every POST (headers, raw body, parsed JSON); answers the queued status codes, then 200."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.answers: deque[int] = deque()
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    code = receiver.answers.popleft() if receiver.answers else 200
                    receiver.received.append(
                        {"headers": dict(self.headers), "body": body, "json": json.loads(body), "answered": code}
                    )
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def ok(self) -> list[dict[str, Any]]:
        """Deliveries answered 2xx."""
        with self._lock:
            return [r for r in self.received if 200 <= r["answered"] < 300]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

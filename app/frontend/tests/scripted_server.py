"""A tiny real HTTP server, in a thread, that answers from a script.

Used to inject the failures a real API cannot be made to produce on demand (a 503 followed by a
200, a dropped connection, a slow answer) over real sockets, so ``requests``/urllib3 retry logic
runs for real.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Action:
    """One scripted answer: a status and JSON body, optionally late, or a dropped connection."""

    status: int = 200
    body: Any = None
    delay: float = 0.0
    drop: bool = False
    headers: dict[str, str] | None = None


def ok(data: Any = None, status: int = 200) -> Action:
    """An enveloped success."""
    return Action(status, {"success": True, "data": data, "error": None})


def fail(status: int, error: str, data: Any = None) -> Action:
    """An enveloped failure."""
    return Action(status, {"success": False, "data": data, "error": error})


@dataclass
class Recorded:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class ScriptedServer:
    """Answers ``(method, path)`` with the next scripted action; the last one repeats."""

    script: dict[tuple[str, str], list[Action]] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, method: str, path: str, *actions: Action) -> None:
        """Script the answers to ``method path``."""
        self.script[(method.upper(), path)] = list(actions)

    def calls(self, method: str, path: str) -> list[Recorded]:
        """Requests received for ``method path``."""
        return [r for r in self.requests if r.method == method.upper() and r.path == path]

    def next_action(self, method: str, path: str) -> Action:
        with self.lock:
            actions = self.script.get((method, path))
            if not actions:
                return fail(404, "Not found")
            return actions.pop(0) if len(actions) > 1 else actions[0]

    def start(self) -> str:
        """Serve on a free loopback port; return the base URL."""
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                with server.lock:
                    server.requests.append(
                        Recorded(
                            self.command,
                            url.path,
                            parse_qs(url.query),
                            dict(self.headers.items()),
                            json.loads(raw) if raw else None,
                        )
                    )
                action = server.next_action(self.command, url.path)
                if action.delay:
                    time.sleep(action.delay)
                if action.drop:
                    # Close without a status line: the client sees the connection reset.
                    self.close_connection = True
                    return
                payload = json.dumps(action.body).encode() if action.body is not None else b""
                self.send_response(action.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in (action.headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            do_GET = _handle  # noqa: N815
            do_POST = _handle  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()

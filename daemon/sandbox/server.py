"""The sandbox ATS: the contract's seven calls, read-only views and fault controls.

One function answers every request, `SandboxATS.handle(Incoming) -> Reply`; two ways in
share it:
- over HTTP, stdlib only (`http.server.ThreadingHTTPServer`, one daemon thread per
  connection), so a delayed answer never blocks other requests, and `stop()` returns
  promptly: it wakes every sleeping handler and shuts every open connection;
- in process, `SandboxATS.transport()`: an httpx transport with no socket and no thread
  (see `inprocess`).

    /api/v1/...          the contract (shapes: "plain", or "variant" for tolerant reading)
    GET /                an HTML page of what was received
    GET /_sandbox/state  every record as JSON, plus request counts per route
    GET /_sandbox/cvs/ID the exact bytes of a stored CV
    GET /_sandbox/health {"ok": true}
    GET|POST|DELETE /_sandbox/faults   list, add, clear injected faults

With a token set, everything but /_sandbox/health needs it: `Authorization: Bearer TOKEN`,
or (for a person's browser on the page and the views) HTTP Basic with the token as the
password.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import io
import json
import logging
import signal
import socket
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from daemon.sandbox.api import Api, ApiRequest, Route, error_answer, json_answer, match_route
from daemon.sandbox.exchange import JSON_TYPE, Answer, Incoming, Reply
from daemon.sandbox.faults import Fault, FaultBook
from daemon.sandbox.inprocess import Sleep, in_process_transport, no_wait
from daemon.sandbox.page import render_page
from daemon.sandbox.state import RESUME_TYPES, Rejected, SandboxState, load_seed

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

SHAPES = ("plain", "variant")
MAX_BODY = 25 * 1024 * 1024
HTML_TYPE = "text/html; charset=utf-8"
EXTENSIONS = dict(zip((kind for _, kind in RESUME_TYPES), ("pdf", "doc", "docx"), strict=True))
PAGE_HEADERS = (("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
                ("X-Content-Type-Options", "nosniff"))
HEALTH = "/_sandbox/health"
API_CHALLENGE = (("WWW-Authenticate", "Bearer"),)
VIEW_CHALLENGE = (("WWW-Authenticate", 'Bearer realm="sandbox ATS"'),
                  ("WWW-Authenticate", 'Basic realm="sandbox ATS", charset="UTF-8"'))




# -- HTTP plumbing ----------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    """A threading server that can shut its open connections and wake sleeping handlers."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], sandbox: SandboxATS):
        self.sandbox = sandbox
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._connections_lock:
            (self._connections.add if add else self._connections.discard)(conn)

    def close_connections(self) -> None:
        with self._connections_lock:
            for conn in self._connections:
                _shut(conn)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("sandbox.connection.error", exc_info=True)


def _shut(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """One connection; every request goes through `_handle`."""

    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection is closed after a minute
    # Answer at once on a reused connection: with Nagle's algorithm a small answer written in
    # two pieces waits for the client's delayed ACK (about 40 ms a request on keep-alive).
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        self.server.track(self.connection, add=False)
        super().finish()

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def _handle(self) -> None:
        body = self._read_body()
        if body is None:
            return
        reply = self.server.sandbox.handle(Incoming(
            self.command, self.path, self.headers.get("Authorization", ""),
            self.headers.get("Content-Type", ""), body))
        if reply.answer is None or not self._sleep(reply.delay):
            self._drop()
        else:
            self._send(reply.answer, reply)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._send(error_answer(411, "length_required", "send a Content-Length"))
            return None
        length = self.headers.get("Content-Length", "0").strip()
        if not length.isdigit() or int(length) > MAX_BODY:
            self.close_connection = True
            self._send(error_answer(413, "too_large", f"bodies are limited to {MAX_BODY} bytes"))
            return None
        return self.rfile.read(int(length))

    def _sleep(self, seconds: float) -> bool:
        """Wait; False when the server is stopping meanwhile."""
        return seconds <= 0 or not self.server.stopping.wait(seconds)

    def _drop(self) -> None:
        self.close_connection = True
        _shut(self.connection)

    def _send(self, answer: Answer, reply: Reply | None = None) -> None:
        reply = reply or Reply(answer)
        trickling = reply.trickle > 0
        if trickling:  # the status line and headers are kept back, to be sent a byte at a time
            self.wfile, sent = io.BytesIO(), self.wfile
        self.send_response(answer.status)
        if answer.content_type:
            self.send_header("Content-Type", answer.content_type)
        for name, value in answer.headers:
            self.send_header(name, value)
        if answer.status != 204:
            self.send_header("Content-Length", str(reply.body_length()))
        self.end_headers()
        chunks = reply.body_chunks() if answer.status != 204 else iter(())
        if trickling:
            head, self.wfile = self.wfile.getvalue(), sent
            self._trickle(head, chunks, reply.trickle)
            return
        for chunk in chunks:
            self.wfile.write(chunk)

    def _trickle(self, head: bytes, chunks: Iterator[bytes], seconds: float) -> None:
        """Send the answer one byte every `seconds`; stop (closing) when the server stops."""
        for chunk in (head, *chunks):
            for index in range(len(chunk)):
                self.wfile.write(chunk[index:index + 1])
                self.wfile.flush()
                if not self._sleep(seconds):
                    self._drop()
                    return

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = urlsplit(self.path).path
        log.debug("sandbox.request", extra={"method": self.command, "path": path, "status": code})

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sandbox.http", extra={"detail": format % args})


def fault_answer(fault: Fault) -> Answer:
    """The answer of a before-commit fault: its status, Retry-After and body."""
    headers = (("Retry-After", fault.retry_after),) if fault.retry_after is not None else ()
    if fault.body is None:
        message = f"sandbox fault: {fault.status}"
        return error_answer(fault.status, "injected_fault", message, headers)
    text = fault.body.lstrip()
    kind = HTML_TYPE if text.startswith("<") else _json_or_text(text)
    return Answer(fault.status, fault.body.encode(), kind, headers)


def _json_or_text(text: str) -> str:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return "text/plain; charset=utf-8"
    return JSON_TYPE


# -- the public object ------------------------------------------------------------------


class SandboxATS:
    """A local stand-in for Skailer with state in SQLite; see the module docstring."""

    def __init__(self, db_path: str | Path, seed_path: str | Path | None = None,
                 token: str | None = None, shape: str = "plain"):
        if shape not in SHAPES:
            raise ValueError(f"shape must be one of {SHAPES}, not {shape!r}")
        self.db_path, self.token, self.shape = Path(db_path), token, shape
        self.faults = FaultBook()
        self._seed = load_seed(seed_path)
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._store: SandboxState | None = None
        self._serving = False  # requests are answered (started, or a transport was made)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.base_url: str | None = None

    # -- life cycle -------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve in a daemon thread; return the base URL, e.g. "http://127.0.0.1:PORT"."""
        if self._server is not None:
            raise RuntimeError("the sandbox ATS is already running")
        self._state_store()
        server = _Server((host, port), self)
        self._serving = True
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="sandbox-ats", daemon=True)
        self._server = server
        self._thread.start()
        bound_host, bound_port = server.server_address[:2]
        self.base_url = f"http://{_url_host(str(bound_host))}:{bound_port}"
        log.info("sandbox.started", extra={"url": self.base_url, "shape": self.shape})
        return self.base_url

    def stop(self) -> None:
        """Stop serving: wake delayed handlers, close connections, close the database."""
        server, self._server = self._server, None
        with self._lock:
            self._serving = False
        if server is not None:
            server.stopping.set()
            server.shutdown()
            server.close_connections()
            server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            log.info("sandbox.stopped", extra={"url": self.base_url})
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()

    def serve_forever(self, host: str = "127.0.0.1", port: int = 8025) -> None:
        """Serve until Ctrl-C or SIGTERM, then stop cleanly."""
        done = threading.Event()
        in_main = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGTERM, lambda *_: done.set()) if in_main else None
        self.start(host, port)
        try:
            done.wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()
            if in_main:
                signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)

    def __enter__(self) -> SandboxATS:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def transport(self, *, sleep: Sleep = no_wait) -> httpx.BaseTransport:
        """An httpx transport to this sandbox in process: no socket, no thread, no start().

        `AtsClient(base_url, token, transport=sandbox.transport())` then talks to the same
        routes, rules and faults as over HTTP. A fault's delay longer than the request's read
        timeout is a ReadTimeout (after the work, for an after-commit fault); a shorter one
        goes to `sleep` (by default it is not waited). A dropped connection is a
        RemoteProtocolError, as over HTTP. `stop()` ends it like the server.
        """
        self._state_store()
        with self._lock:
            self._serving = True
        return in_process_transport(self.handle, sleep)

    # -- what tests and admins use ------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """Every record, and the request counts (the JSON of GET /_sandbox/state)."""
        return self._snapshot(self._state_store())

    def _snapshot(self, store: SandboxState) -> dict[str, Any]:
        with self._lock:
            requests = dict(self._counts)
        return {**store.snapshot(), "requests": requests}

    def cv_file(self, cv_id: str | int) -> bytes | None:
        """The exact bytes of a stored CV (what GET /_sandbox/cvs/ID serves), or None."""
        found = self._state_store().cv_file(str(cv_id))
        return found[1] if found else None

    def auth_headers(self) -> dict[str, str]:
        """Headers that let a request in: the bearer token, when one is set."""
        return {"Authorization": f"Bearer {self.token}"} if self.token is not None else {}

    def add_fault(self, fault: Fault) -> None:
        """Inject a fault (after the existing ones)."""
        self.faults.add(fault)

    def clear_faults(self) -> None:
        """Remove every fault."""
        self.faults.clear()

    def count(self, method: str, template: str) -> None:
        """Count one API request under "METHOD /route/template"."""
        with self._lock:
            self._counts[f"{method} {template}"] += 1

    def _live_store(self) -> SandboxState:
        """The open state for a request; a request that outlives stop() gets a 503."""
        with self._lock:
            if self._store is None or not self._serving:
                raise Rejected(503, "stopping", "the sandbox ATS is stopping")
            return self._store

    def _state_store(self) -> SandboxState:
        with self._lock:
            if self._store is None:
                self._store = SandboxState(self.db_path, self._seed)
            return self._store

    # -- request handling: the one way in, for the HTTP server and the transport -------

    def handle(self, request: Incoming) -> Reply:
        """Answer one request: an API call (through the faults) or a view."""
        try:
            if request.path.startswith("/api/"):
                return self._api(request)
            return Reply(self._control(request))
        except Rejected as exc:
            return Reply(error_answer(exc.status, exc.code, exc.message))
        except Exception:
            log.exception("sandbox.request.failed",
                          extra={"method": request.method, "path": request.path})
            return Reply(error_answer(500, "internal_error", "the sandbox failed; see its log"))

    def _api(self, request: Incoming) -> Reply:
        """Count the call, apply its fault if any (before or after the work), answer it."""
        method, path = request.method, request.path
        route, params, exists = match_route(method, path)
        self.count(method, route.template if route else "(unknown)")
        fault = self.faults.take(method, path)
        if fault is not None and not fault.after_commit:
            log.info("sandbox.fault", extra={"method": method, "path": path, "status": fault.status})
            return Reply(None if fault.drop else fault_answer(fault), fault.delay, fault.trickle, fault.pad)
        answer = self._api_answer(method, route, exists, request.authorization, ApiRequest(
            params, request.query, request.content_type, request.body))
        if fault is None:
            return Reply(answer)
        return Reply(None if fault.drop else answer, fault.delay, fault.trickle, fault.pad)

    def _api_answer(self, method: str, route: Route | None, exists: bool, authorization: str,
                    request: ApiRequest) -> Answer:
        """Check the token, find the route, and run the call."""
        if not self._authorized(authorization):
            return error_answer(401, "unauthorized", "a valid bearer token is required",
                                API_CHALLENGE)
        if route is None:
            if exists:
                return error_answer(405, "method_not_allowed", f"{method} is not allowed here")
            return error_answer(404, "not_found", "no such API path")
        return Api(self._live_store(), self.shape).answer(route, request)

    def _authorized(self, header: str, *, basic: bool = False) -> bool:
        """A bearer token (or, with `basic`, HTTP Basic with the token as the password)."""
        if self.token is None:
            return True
        scheme, _, credentials = header.strip().partition(" ")
        if basic and scheme.lower() == "basic":
            credentials = _basic_password(credentials)
        elif scheme.lower() != "bearer":
            return False
        return hmac.compare_digest(credentials.strip().encode(), self.token.encode())

    def _control(self, request: Incoming) -> Answer:
        """The health check (open to all), the read-only views and the fault controls."""
        method, path = request.method, request.path
        if (method, path) == ("GET", HEALTH):
            return json_answer(200, {"ok": True})
        if not self._authorized(request.authorization, basic=True):
            return error_answer(401, "unauthorized", "a valid token is required", VIEW_CHALLENGE)
        if path.startswith("/_sandbox/cvs/") and method == "GET":
            return self._cv_file(path.removeprefix("/_sandbox/cvs/"))
        views = {
            ("GET", "/"): lambda: Answer(200, render_page(self._live_state()).encode(), HTML_TYPE,
                                         PAGE_HEADERS),
            ("GET", "/_sandbox/state"): lambda: json_answer(200, self._live_state()),
            ("GET", "/_sandbox/faults"): lambda: json_answer(200, {"items": self.faults.listing()}),
            ("POST", "/_sandbox/faults"): lambda: self._add_fault(request.body),
            ("DELETE", "/_sandbox/faults"): lambda: self._clear_faults(),
        }
        view = views.get((method, path))
        return view() if view else error_answer(404, "not_found", "no such page")

    def _live_state(self) -> dict[str, Any]:
        return self._snapshot(self._live_store())

    def _cv_file(self, cv_id: str) -> Answer:
        found = self._live_store().cv_file(cv_id)
        if found is None:
            return error_answer(404, "not_found", "no such CV")
        cv, data = found
        ext = EXTENSIONS.get(cv["content_type"], "bin")
        disposition = f'attachment; filename="cv-{cv["id"]}.{ext}"'
        return Answer(200, data, cv["content_type"], (("Content-Disposition", disposition),
                                                      ("X-Content-Type-Options", "nosniff")))

    def _add_fault(self, body: bytes) -> Answer:
        try:
            fault = Fault.from_json(json.loads(body or b"null"))
        except (ValueError, UnicodeDecodeError) as exc:
            return error_answer(422, "validation_error", str(exc))
        self.add_fault(fault)
        return json_answer(201, fault.to_json())

    def _clear_faults(self) -> Answer:
        self.clear_faults()
        return Answer(204, content_type="")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _basic_password(credentials: str) -> str:
    """The password of HTTP Basic credentials ("" when they cannot be read)."""
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return ""
    return decoded.partition(":")[2]

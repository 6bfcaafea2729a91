"""The review page's HTTP server: uvicorn in a thread of its own, stopped when the block ends."""

from __future__ import annotations

import logging
import socket
import threading

import uvicorn
from starlette.types import ASGIApp

log = logging.getLogger(__name__)


class Listener:
    """Serves `app` on host:port while inside the `with` block (the socket is bound and listening at once, so a
    port in use is an OSError here, not in the thread, and a request made as soon as the block is entered waits
    in the backlog for uvicorn's first accept instead of being refused)."""

    def __init__(self, host: str, port: int, app: ASGIApp):
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
            self.socket.listen(128)
        except OSError:
            self.socket.close()
            raise
        self.port = self.socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, server_header=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._serve, name="web", daemon=True)

    def _serve(self) -> None:
        self.server.run(sockets=[self.socket])

    def __enter__(self) -> Listener:
        self.thread.start()
        log.info("web.listening", extra={"port": self.port})
        return self

    def stop(self) -> None:
        """Asks the server to finish (requests in hand are answered first)."""
        self.server.should_exit = True

    def __exit__(self, *_exc: object) -> None:
        self.stop()
        self.thread.join(timeout=10)
        self.socket.close()

    def wait(self) -> None:
        """Until the server stops (`ats-inbox web`: SIGINT or SIGTERM call `stop`)."""
        while self.thread.is_alive():
            self.thread.join(timeout=0.5)  # a timed join lets the main thread take signals

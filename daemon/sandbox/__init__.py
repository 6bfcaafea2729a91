"""The sandbox ATS: a local, persistent stand-in for Skailer's API, for tests, the demo and admins.

    sb = SandboxATS(db_path, seed_path=None, token=None, shape="plain")
    base_url = sb.start()          # "http://127.0.0.1:PORT", served in a daemon thread
    sb.add_fault(Fault("POST", "/api/v1/candidate", status=503, retry_after="2"))
    sb.state()                     # every record + request counts
    sb.stop()

    client = AtsClient("http://sandbox", token, transport=sb.transport())  # in process,
                                   # never started: the same routes, rules and faults

Modules: `server` (SandboxATS, the HTTP server, the one request handler), `api` (the
seven calls), `state` (records and rules in SQLite), `faults`, `inprocess` (the httpx
transport), `exchange` (request and reply), `page` (the HTML view), `secret` (the token).

It implements the project's working contract (`/api/v1`, seven calls) with the rules a
real ATS would enforce, keeps its state in SQLite (seeded once from seed.json), and can
inject the failures a client must survive (`faults`).
"""

from daemon.sandbox.faults import Fault, FaultBook
from daemon.sandbox.server import SHAPES, SandboxATS
from daemon.sandbox.state import load_seed

__all__ = ["SHAPES", "Fault", "FaultBook", "SandboxATS", "load_seed"]

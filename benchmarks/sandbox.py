"""`ats-inbox sandbox` for the benchmark: the same server, its replies sent without Nagle's delay.

    python -m benchmarks.sandbox --port PORT --db FILE --token TOKEN

The sandbox's handler writes a reply's headers and body in two writes; on a kept-alive
connection the second waits for the client's delayed ACK (about 40 ms on Linux), so every
request on a reused connection took 42 ms and one on a new connection 19 ms: the sandbox
punished connection reuse. `disable_nagle_algorithm` (socketserver's TCP_NODELAY switch)
removes that artefact here without touching the daemon; requests then take 0.5-3 ms, and
the ATS's latency is what `benchmarks.run --ats-latency-ms` adds on purpose.
"""

from __future__ import annotations

import sys

from daemon.cli import main
from daemon.sandbox import server

server._Handler.disable_nagle_algorithm = True

if __name__ == "__main__":
    sys.exit(main(["sandbox", *sys.argv[1:]]))

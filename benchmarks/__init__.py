"""The benchmarks: each measured process runs as a user's installed ats-inbox would.

The benchmarks run in the test environment, where selenium (the browser tests') brings trio, and
httpcore imports trio whenever it is installed (80 ms of every start here). An installed ats-inbox
has no trio: no runtime dependency needs it. So every `python -m benchmarks.*` process (the floor,
the naive flow, the daemon through `benchmarks.counted`) runs without it, the floor and the daemon
alike.
"""

import sys

sys.modules.setdefault("trio", None)  # type: ignore[arg-type]  # `import trio` raises ImportError

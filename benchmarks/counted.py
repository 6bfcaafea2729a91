"""`ats-inbox` (daemon.cli.main, the console script's function) with its database work counted.

    BENCH_COUNTS=counts.json python -m benchmarks.counted poll --config CONFIG

SQLAlchemy engine events count transactions (writes: BEGIN IMMEDIATE; reads: BEGIN) and
SQL statements; the counts are written to $BENCH_COUNTS when the command ends. A listener
on the Engine class costs one function call per event; nothing in the daemon changes.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter

from sqlalchemy import event
from sqlalchemy.engine import Engine

from daemon.cli import main
from daemon.store.repository import READ_ONLY

counts: Counter[str] = Counter()


@event.listens_for(Engine, "begin")
def _begin(connection) -> None:
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    counts["reads" if read_only else "writes"] += 1


@event.listens_for(Engine, "before_cursor_execute")
def _statement(*_args) -> None:
    counts["statements"] += 1


if __name__ == "__main__":
    try:
        code = main(sys.argv[1:])
    finally:
        with open(os.environ["BENCH_COUNTS"], "w") as out:
            json.dump(dict(counts), out)
    sys.exit(code)

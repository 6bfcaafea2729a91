"""What the benchmark's scripts share: where the mailbox and the ATS are, and the mail specs."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from imapclient import IMAPClient

from benchmarks.generate import Spec

FETCH_BYTES = 4 * 1024 * 1024  # bodies per FETCH, at most: the daemon's default `fetch_bytes`


@dataclass(frozen=True, slots=True)
class Target:
    """One run's mailbox and ATS, written to a JSON file for a script in a subprocess."""

    host: str
    port: int
    user: str
    password: str
    ca_file: str
    folder: str
    ats_url: str
    token: str
    manifest: str  # JSON lines of Spec, in UID order

    def save(self, path: Path) -> Path:
        path.write_text(json.dumps(asdict(self)))
        return path

    @classmethod
    def load(cls, path: str) -> Target:
        return cls(**json.loads(Path(path).read_text()))

    def imap(self) -> IMAPClient:
        context = ssl.create_default_context(cafile=self.ca_file)
        client = IMAPClient(self.host, port=self.port, ssl=True, ssl_context=context, timeout=60)
        client.login(self.user, self.password)
        return client

    def specs(self) -> list[Spec]:
        with open(self.manifest) as lines:
            return [Spec.from_json(json.loads(line)) for line in lines]


def batches(uids: list[int], sizes: dict[int, int], limit: int = FETCH_BYTES) -> Iterator[list[int]]:
    """Runs of UIDs whose bodies stay under `limit` bytes together (one message at least)."""
    chunk: list[int] = []
    total = 0
    for uid in uids:
        if chunk and total + sizes[uid] > limit:
            yield chunk
            chunk, total = [], 0
        chunk.append(uid)
        total += sizes[uid]
    if chunk:
        yield chunk

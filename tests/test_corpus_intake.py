"""Real-world mail, malformed included, through the whole intake: each gets a recorded outcome."""

from __future__ import annotations

import pytest

from tests import invariant
from tests.e2e import FIXTURES, imap_settings, run_cli, write_config

pytestmark = pytest.mark.imap
CORPUS = sorted((FIXTURES / "emails").glob("*.eml"))


def test_every_corpus_mail_ends_with_a_recorded_outcome(tmp_path, dovecot, sandbox):
    """Broken MIME, odd encodings, hostile names: nothing crashes, nothing is left pending or unrecorded."""
    delivered = 0
    for path in CORPUS:
        dovecot.append("INBOX", path.read_bytes())
        delivered += 1
    config = write_config(tmp_path / "config.toml", imap=imap_settings(dovecot, ignored_folder="Ignored"),
                          ats_url=sandbox.base_url, database=tmp_path / "db.sqlite")
    result = run_cli("poll", "--config", str(config))
    assert result.code == 0, result.stderr[-3000:]
    rows = invariant.records(tmp_path / "db.sqlite")
    assert len(rows) == delivered
    assert {r.status for r in rows} <= {"review", "duplicate", "submitted", "ignored"}
    assert all(r.reason for r in rows if r.status != "submitted")
    assert not [r.reason for r in rows if r.reason.startswith("internal error")]
    assert dovecot.uids("INBOX") == []  # every mail was acted on: none is left unhandled
    ignored = sum(1 for r in rows if r.status == "ignored")
    assert len(dovecot.uids("Review")) == sum(1 for r in rows if not r.candidate_id and r.status != "ignored")
    assert len(dovecot.uids("Ignored")) == ignored > 0  # automatic mail of the corpus, never the ATS's

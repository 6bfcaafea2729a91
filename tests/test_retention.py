"""Personal data: removed from settled messages after retention_days, and from one person's on request."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from daemon import cli
from daemon.domain import MessageKey, Status
from daemon.intake.retention import REMOVED, purge_expired, purge_person
from daemon.store import database, open_store
from daemon.store.models import MessageRecord
from daemon.store.repository import Remember, Store
from tests.e2e import write_config

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
PERSONAL = {"sender_name", "sender_email", "subject", "sent_at", "forwarded_by", "note", "attachments",
            "reason", "route_reason", "last_error", "action_error", "personal_data_removed_at", "updated_at"}


@pytest.fixture
def store(tmp_path: Path):
    store = open_store(f"sqlite:///{tmp_path / 'ats-inbox.db'}")
    yield store
    store.close()


def add(store: Store, uid: int, status: str = Status.SUBMITTED, age_days: int = 200, email: str = "ann@example.org",
        **fields: object) -> int:
    """A record with every personal field filled, `age_days` old, with an applicant and an upload step."""
    values = {
        "sender_name": "Ann Lee", "sender_email": email, "subject": "Application: Data Analyst (Ann Lee)",
        "sent_at": NOW - timedelta(days=age_days), "forwarded_by": "hr@acme.example",
        "attachments": json.dumps([{"name": "Ann_Lee_CV.pdf", "size": 1234}]),
        "note": "called Ann Lee, added by hand", "reason": f"no job matched; sender {email}",
        "route_reason": f"sender {email}; attachment 'Ann_Lee_CV.pdf'", "last_error": "ATS: applicant Ann Lee exists",
        "action_error": "", "job_id": "7", "job_title": "Data Analyst", "rule": "job title in the subject",
        "applicant_id": "1001", "candidate_id": "2001", "created_at": NOW - timedelta(days=age_days),
        "resolved_by": "maria" if status == Status.RESOLVED else "",
    }
    values.update(fields)
    key = MessageKey("jobs@imap:993", "INBOX", 7, uid)
    pk = store.add_message(key, message_id=f"m{uid}@example.org", sha256="ab" * 32, size=4321,
                           content_key="cd" * 32, status=status, **values).id
    store.record_step(pk, "upload_cv:0", "done", ats_id="501",
                      detail=json.dumps({"id": 501, "parsed": {"name": "Ann Lee", "phone": "+49 30 1"}}))
    store.record_step(pk, "create_applicant", "done", ats_id="1001", detail=json.dumps({"id": 1001, "email": email}),
                      remember=Remember(email=email, applicant_id="1001"))
    return pk


def row(store: Store, pk: int) -> dict[str, object]:
    record = store.message_by_pk(pk)
    return {column.key: getattr(record, column.key) for column in inspect(MessageRecord).column_attrs}


def steps(store: Store, pk: int) -> dict[str, tuple[str, str, dict]]:
    return {name: (s.status, s.ats_id, json.loads(s.detail)) for name, s in store.steps(pk).items()}


def assert_only_personal_fields_changed(before: dict, after: dict) -> None:
    assert {k for k in before if before[k] != after[k]} <= PERSONAL
    assert {k: after[k] for k in before if k not in PERSONAL} == {k: before[k] for k in before if k not in PERSONAL}


def test_retention_removes_exactly_the_personal_fields(store):
    """Sender, subject, date, forwarder, note and file names go; texts lose the values they quote;
    ids, hashes, sizes, status, job, ATS ids, who resolved it and the journal's ids stay."""
    pk = add(store, 1, Status.RESOLVED)
    before, steps_before = row(store, pk), steps(store, pk)
    assert purge_expired(store, 180, NOW) == 1
    after = row(store, pk)
    assert_only_personal_fields_changed(before, after)
    assert (after["sender_name"], after["sender_email"], after["subject"], after["forwarded_by"], after["note"],
            after["sent_at"]) == ("", "", "", "", "", None)
    assert json.loads(after["attachments"]) == [{"name": "", "size": 1234}]
    assert after["reason"] == f"no job matched; sender {REMOVED}"
    assert after["route_reason"] == f"sender {REMOVED}; attachment '{REMOVED}'"
    assert after["last_error"] == f"ATS: applicant {REMOVED} exists"
    assert after["resolved_by"] == "maria"
    assert after["personal_data_removed_at"] is not None
    assert steps(store, pk) == {
        "upload_cv:0": ("done", "501", {"id": 501, "parsed": {}}),
        "create_applicant": ("done", "1001", {"id": 1001, "email": ""}),
    }
    assert {name: s[:2] for name, s in steps_before.items()} == {name: s[:2] for name, s in steps(store, pk).items()}


def test_retention_keeps_young_and_pending_messages(store):
    """A message younger than retention_days, or one still pending, keeps everything."""
    young = add(store, 1, Status.SUBMITTED, age_days=10)
    pending = add(store, 2, Status.PENDING, age_days=400)
    kept = {pk: row(store, pk) for pk in (young, pending)}
    assert purge_expired(store, 180, NOW) == 0
    assert {pk: row(store, pk) for pk in (young, pending)} == kept


def test_retention_covers_every_settled_status_once(store):
    """Review, resolved and submitted mail past the limit is cleaned, each only once."""
    settled = (Status.REVIEW, Status.RESOLVED, Status.SUBMITTED)
    ids = [add(store, n, status) for n, status in enumerate(settled, start=1)]
    assert purge_expired(store, 180, NOW) == 3
    assert purge_expired(store, 180, NOW + timedelta(days=1)) == 0
    assert all(row(store, pk)["sender_email"] == "" for pk in ids)


def test_retention_keeps_the_known_applicant(store):
    """The email -> applicant id table stays: without it a second application makes a second applicant."""
    add(store, 1)
    purge_expired(store, 180, NOW)
    assert store.known_applicant("ann@example.org") == "1001"


def test_purge_removes_one_persons_data_and_their_applicant(store):
    """Every message of the address (any age, any status) loses its personal fields; others keep theirs;
    the applicant row for the address is forgotten."""
    mine = [add(store, 1, Status.SUBMITTED, age_days=1),
            add(store, 2, Status.REVIEW, age_days=3, email="ANN@example.org")]
    other = add(store, 3, Status.SUBMITTED, age_days=1, email="bob@example.org", sender_name="Bob")
    befores = {pk: row(store, pk) for pk in mine}
    other_before = row(store, other)
    purged = purge_person(store, "Ann@Example.org", NOW)
    assert purged.ids == tuple(mine)
    assert purged.applicant_id == "1001"
    for pk in mine:
        after = row(store, pk)
        assert_only_personal_fields_changed(befores[pk], after)
        assert after["sender_email"] == "" and after["subject"] == ""
    assert row(store, other) == other_before
    assert store.known_applicant("ann@example.org") is None
    assert store.known_applicant("bob@example.org") == "1001"  # add() remembers every sender


def test_purge_finds_a_message_by_the_applicants_address_in_the_journal(store):
    """A forwarded application (sender: the forwarder) is found by the applicant address it created."""
    pk = add(store, 1, email="ann@example.org")
    with store.session() as s:
        s.get_one(MessageRecord, pk).sender_email = "recruiter@acme.example"
    assert purge_person(store, "ann@example.org", NOW).ids == (pk,)
    assert row(store, pk)["sender_email"] == ""


def config(tmp_path: Path) -> Path:
    imap = {"host": "127.0.0.1", "port": 1, "security": "none", "username": "jobs", "password": "x"}
    return write_config(tmp_path / "config.toml", imap=imap, ats_url="http://127.0.0.1:1",
                        database=tmp_path / "ats-inbox.db")


def test_purge_command_says_what_was_removed_and_what_stays_elsewhere(store, tmp_path, capsys):
    """`messages purge --email` names the messages, the applicant forgotten, and that the ATS and the
    mailbox keep their copies; a pending message is called out."""
    add(store, 1, Status.SUBMITTED, age_days=1)
    add(store, 2, Status.PENDING, age_days=0)
    assert cli.main(["messages", "purge", "--email", "ann@example.org", "--config", str(config(tmp_path))]) == 0
    out = capsys.readouterr().out
    assert "removed the personal data of 2 message(s)" in out
    assert "The ATS keeps its own copy" in out and "applicant 1001" in out
    assert "still pending" in out
    assert "mailbox" in out


def test_purge_of_an_unknown_address_says_nothing_was_found(store, tmp_path, capsys):
    """An address with no message and no applicant: said plainly, exit 0."""
    assert cli.main(["messages", "purge", "--email", "nobody@example.org", "--config", str(config(tmp_path))]) == 0
    assert "nothing recorded for nobody@example.org" in capsys.readouterr().out


def on_disk(path: Path) -> bytes:
    """The database's bytes as they are on disk: the main file and its write-ahead log, lower-cased."""
    wal = path.with_name(path.name + "-wal")
    return (path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")).lower()


def two_more_passes(store: Store) -> None:
    for _ in range(2):
        store.finish_pass(store.start_pass(), outcome="ok", seen=0, submitted=0, set_aside=0)


def test_a_purge_reaches_the_files_while_the_daemon_runs(store, tmp_path):
    """After `messages purge` (while the daemon holds the database open and writes on), neither the database
    file nor its write-ahead log holds the person's name or address."""
    add(store, 1, Status.SUBMITTED, age_days=1)
    add(store, 2, Status.REVIEW, age_days=1)
    assert b"ann@example.org" in on_disk(tmp_path / "ats-inbox.db")
    assert cli.main(["messages", "purge", "--email", "ann@example.org", "--config", str(config(tmp_path))]) == 0
    two_more_passes(store)
    data = on_disk(tmp_path / "ats-inbox.db")
    assert b"ann lee" not in data and b"ann@example.org" not in data


def test_retention_reaches_the_files(store, tmp_path):
    """After retention cleaned a message, the name is in neither the database file nor its write-ahead log (the
    address stays once, in the applicants table, by design)."""
    add(store, 1, Status.SUBMITTED)
    assert purge_expired(store, 180, NOW) == 1
    two_more_passes(store)
    assert b"ann lee" not in on_disk(tmp_path / "ats-inbox.db")


def test_every_connection_overwrites_what_it_deletes():
    """secure_delete is set on each connection, also where SQLite was built without it on by default."""
    connection = sqlite3.connect(":memory:")
    connection.execute("PRAGMA secure_delete = 0")
    database._sqlite_connect(connection, None)
    assert connection.execute("PRAGMA secure_delete").fetchone()[0] == 1

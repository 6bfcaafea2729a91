"""The review queue: `ats-inbox messages list|show|retry|resolve` over a real SQLite store."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from daemon import cli
from daemon.domain import MessageKey, Placement, Status
from daemon.errors import MailboxUnavailable
from daemon.intake import review
from daemon.sandbox import Fault
from daemon.store import open_store
from daemon.store.repository import Store
from tests.e2e import FIXTURES, run_cli, write_config
from tests.mailfactory import build_email

SHA = "ab" * 32
PDF = (FIXTURES / "resumes" / "rendercv-john-doe-classic.pdf").read_bytes()
UNREACHABLE_IMAP = {"host": "127.0.0.1", "port": 1, "security": "none", "username": "jobs"}


@pytest.fixture
def database(tmp_path: Path) -> Path:
    return tmp_path / "ats-inbox.db"


@pytest.fixture
def store(database: Path):
    store = open_store(f"sqlite:///{database}")
    yield store
    store.close()


def make_config(tmp_path: Path, database: Path, **imap: object) -> Path:
    settings = {**UNREACHABLE_IMAP, "password": "x", **imap}
    return write_config(tmp_path / "config.toml", imap=settings, ats_url="http://127.0.0.1:1",
                        database=database)


@pytest.fixture
def config(tmp_path: Path, database: Path) -> Path:
    """No review folder: set-aside mail stays in the watched folder, so retry moves nothing."""
    return make_config(tmp_path, database)


def add(store: Store, uid: int, status: str, **fields: object) -> int:
    key = MessageKey("jobs@127.0.0.1:1", "INBOX", 7, uid)
    record = store.add_message(key, message_id=f"m{uid}@example.org", sha256=SHA, size=100,
                               status=status, **fields)
    return record.id


def messages(config: Path, *args: str) -> int:
    return cli.main(["--log-level", "ERROR", "messages", *args, "--config", str(config)])


def step_states(store: Store, pk: int) -> dict[str, str]:
    return {name: step.status for name, step in store.steps(pk).items()}


# -- list ----------------------------------------------------------------------------------

def test_list_puts_messages_that_need_a_person_first(store, config, capsys):
    """Without --status every message is listed; review and uncertain come first, newest first."""
    submitted = add(store, 1, Status.SUBMITTED, job_title="Data Analyst", candidate_id="c-1")
    reviewed = add(store, 2, Status.REVIEW, reason="no job matched: Head Chef")
    uncertain = add(store, 3, Status.UNCERTAIN, reason="ATS outcome unknown")
    later = add(store, 4, Status.SUBMITTED)
    assert [m.id for m in review.list_messages(store)] == [uncertain, reviewed, later, submitted]
    assert messages(config, "list") == 0
    out = capsys.readouterr().out
    assert "no job matched: Head Chef" in out
    assert "Data Analyst" in out
    assert "c-1" in out
    assert out.index("no job matched") < out.index("Data Analyst")


@pytest.mark.parametrize(("statuses", "expected"), [
    (["review"], [Status.REVIEW]),
    (["review", "uncertain"], [Status.UNCERTAIN, Status.REVIEW]),
    (["--status", "submitted", "--status", "duplicate"], [Status.DUPLICATE, Status.SUBMITTED]),
    (["resolved"], []),
])
def test_list_filters_by_status(store, config, capsys, statuses, expected):
    """--status takes one or more statuses, and may be repeated."""
    statuses_in_order = [Status.SUBMITTED, Status.REVIEW, Status.UNCERTAIN, Status.DUPLICATE, Status.PENDING]
    for uid, status in enumerate(statuses_in_order, start=1):
        add(store, uid, status)
    args = statuses if statuses[0] == "--status" else ["--status", *statuses]
    assert messages(config, "list", *args) == 0
    lines = capsys.readouterr().out.splitlines()
    shown = [line.split()[3] for line in lines[2:]]  # "#", date, time, status, ...
    assert shown == expected
    if not expected:
        assert lines == ["no messages"]


def test_list_limit(store, config, capsys):
    """--limit bounds the rows."""
    for uid in range(1, 6):
        add(store, uid, Status.SUBMITTED)
    assert messages(config, "list", "--limit", "2") == 0
    assert len(capsys.readouterr().out.splitlines()) == 2 + 2


def test_unknown_status_exits_2_listing_the_valid_ones(config, capsys):
    """A status that does not exist is a usage error (exit 2) that names the valid ones."""
    with pytest.raises(SystemExit) as exited:
        messages(config, "list", "--status", "failed")
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "failed" in err
    assert all(status in err for status in review.STATUSES)


def test_cli_statuses_are_the_stores():
    """The parser's status choices (kept import-light for --help) are the store's statuses, and those
    `resolve --status` takes are the ones the lifecycle lets a person resolve."""
    assert set(cli.MESSAGE_STATUSES) == set(review.STATUSES)
    assert set(cli.RESOLVE_STATUSES) == set(review.RESOLVABLE)


# -- show ----------------------------------------------------------------------------------

def test_show_prints_the_record_and_its_step_timeline(store, config, capsys):
    """Key, Message-ID, hash, ids, error, note and every journal step with its ATS id."""
    pk = add(store, 42, Status.UNCERTAIN, job_id="101", job_title="Senior Python Developer",
             applicant_id="a-9", attempts=2, last_error="read timeout", note="called Jane",
             mailbox_action="flagged", reason="ATS outcome unknown, check the ATS before retrying")
    store.record_step(pk, "upload_cv_1", "done", ats_id="cv-5", detail='{"id": "cv-5"}')
    store.record_step(pk, "create_applicant", "done", ats_id="a-9", detail='{"id": "a-9"}')
    store.record_step(pk, "create_candidate", "started")
    assert messages(config, "show", str(pk)) == 0
    out = capsys.readouterr().out
    for text in ("jobs@127.0.0.1:1", "INBOX", "UIDVALIDITY:", " 7\n", " 42\n", "m42@example.org",
                 SHA, "uncertain", "ATS outcome unknown", "Senior Python Developer (101)", "a-9",
                 "read timeout", "called Jane", "flagged", "Attempts:"):
        assert text in out, text
    timeline = out[out.index("Steps:"):]
    steps = ("upload_cv_1", "create_applicant", "create_candidate")
    order = [timeline.index(name) for name in steps]
    assert order == sorted(order)
    assert "cv-5" in timeline
    assert "started" in timeline
    assert f"messages retry {pk}" in out


def test_show_of_a_message_without_steps(store, config, capsys):
    """A message with an empty journal says so; a duplicate names its original."""
    original = add(store, 1, Status.SUBMITTED)
    pk = add(store, 2, Status.DUPLICATE, duplicate_of=original)
    assert messages(config, "show", f"#{pk}") == 0
    out = capsys.readouterr().out
    assert "Steps: none recorded" in out
    assert f"#{original}" in out
    assert "Next:" not in out


@pytest.mark.parametrize("action", [
    ["show", "42"], ["retry", "42"], ["resolve", "42", "--note", "x"],
])
def test_unknown_id_exits_1_pointing_to_the_list(config, capsys, action):
    """An id that does not exist: exit 1 and a clear message."""
    assert messages(config, *action) == 1
    assert "no message #42; see `ats-inbox messages list`" in capsys.readouterr().err


# -- retry ---------------------------------------------------------------------------------

def test_retry_puts_a_review_message_back_in_the_queue(store, config, capsys):
    """review -> pending, reason "retry requested", attempts and errors cleared; done steps kept."""
    pk = add(store, 1, Status.REVIEW, reason="gave up after 5 attempts", attempts=5, last_error="503",
             mailbox_action="flagged", job_id="101")
    store.record_step(pk, "upload_cv_1", "done", ats_id="cv-1", detail='{"id": "cv-1"}')
    store.record_step(pk, "mailbox", "done", detail="flagged")
    assert messages(config, "retry", str(pk)) == 0
    assert capsys.readouterr().out.startswith(f"#{pk} review -> pending")
    record = store.message_by_pk(pk)
    assert (record.status, record.reason, record.attempts) == (Status.PENDING, "retry requested", 0)
    assert (record.last_error, record.mailbox_action, record.job_id) == ("", "", "101")
    assert step_states(store, pk) == {"upload_cv_1": "done"}  # the mailbox action is owed again


def test_retry_of_uncertain_forgets_unanswered_calls_and_warns(store, config, capsys):
    """Started steps (sent, answer lost) are removed, done ones kept, and the person is warned."""
    pk = add(store, 1, Status.UNCERTAIN, reason="ATS outcome unknown")
    store.record_step(pk, "upload_cv_1", "done", ats_id="cv-1", detail='{"id": "cv-1"}')
    store.record_step(pk, "create_applicant", "done", ats_id="a-1", detail='{"id": "a-1"}')
    store.record_step(pk, "create_candidate", "started")
    assert messages(config, "retry", str(pk)) == 0
    captured = capsys.readouterr()
    assert "create_candidate" in captured.out
    assert "warning" in captured.err
    assert "NOT done" in captured.err
    assert f"messages resolve {pk}" in captured.err
    assert store.message_by_pk(pk).status == Status.PENDING
    assert step_states(store, pk) == {"upload_cv_1": "done", "create_applicant": "done"}


def test_retry_of_review_keeps_unanswered_calls_and_says_what_follows(store, config, capsys):
    """A review message keeps its started steps (only uncertain ones are forgotten), with a note."""
    pk = add(store, 1, Status.REVIEW, reason="ATS refused: ATS create candidate: refused (422)")
    store.record_step(pk, "create_candidate", "started")
    assert messages(config, "retry", str(pk)) == 0
    err = capsys.readouterr().err
    assert "create_candidate" in err
    assert "uncertain" in err
    assert step_states(store, pk) == {"create_candidate": "started"}


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.PENDING, Status.DUPLICATE, Status.RESOLVED])
def test_retry_refuses_other_statuses(store, config, capsys, status):
    """Only review, uncertain and ignored messages can be retried; the others exit 1, unchanged."""
    pk = add(store, 1, status, reason="as it was")
    store.record_step(pk, "create_candidate", "started")
    assert messages(config, "retry", str(pk)) == 1
    assert f"message #{pk} is {status}" in capsys.readouterr().err
    record = store.message_by_pk(pk)
    assert (record.status, record.reason) == (status, "as it was")
    assert step_states(store, pk) == {"create_candidate": "started"}


@pytest.mark.parametrize(("extra", "retried"), [
    ([], {Status.REVIEW}),
    (["--include-uncertain"], {Status.REVIEW, Status.UNCERTAIN}),
])
def test_retry_all(store, config, capsys, extra, retried):
    """--all retries every review message; uncertain ones only with --include-uncertain."""
    statuses = [Status.REVIEW, Status.UNCERTAIN, Status.SUBMITTED, Status.REVIEW, Status.RESOLVED]
    ids = [add(store, uid, status) for uid, status in enumerate(statuses, start=1)]
    assert messages(config, "retry", "--all", *extra) == 0
    out = capsys.readouterr().out.splitlines()
    expected = [pk for pk, status in zip(ids, statuses, strict=True) if status in retried]
    assert [line.split()[0] for line in out] == [f"#{pk}" for pk in expected]
    for pk, status in zip(ids, statuses, strict=True):
        assert store.message_by_pk(pk).status == (Status.PENDING if pk in expected else status)


def test_retry_all_with_nothing_to_do(store, config, capsys):
    """--all with no review message says so and succeeds."""
    add(store, 1, Status.SUBMITTED)
    assert messages(config, "retry", "--all") == 0
    assert "nothing to retry" in capsys.readouterr().out


def test_retry_puts_the_record_back_when_the_mail_cannot_be_moved(store):
    """A mailbox failure while moving the mail back leaves the record as it was."""
    pk = add(store, 1, Status.REVIEW, reason="no job matched", mailbox_action="flagged")

    def broken(record):
        raise MailboxUnavailable("IMAP error while connecting: ConnectionRefusedError")

    with pytest.raises(MailboxUnavailable):
        review.retry(store, pk, broken)
    record = store.message_by_pk(pk)
    assert (record.status, record.reason) == (Status.REVIEW, "no job matched")
    moved = []
    outcome = review.retry(store, pk, lambda record: moved.append(record.id) or True)
    assert moved == [pk]
    assert "moved back" in outcome.said
    assert store.message_by_pk(pk).status == Status.PENDING


def test_retry_requeues_before_the_mail_comes_back(store):
    """When the mail reappears in the watched folder its record is already pending: a pass that
    sees it then continues the record instead of setting it aside again as a duplicate."""
    pk = add(store, 1, Status.UNCERTAIN, reason="ATS outcome unknown", mailbox_action="flagged")
    store.record_step(pk, "create_applicant", "started")
    seen = []
    review.retry(store, pk, lambda record: seen.append(store.message_by_pk(pk).status) or True)
    assert seen == [Status.PENDING]
    assert "create_applicant" not in step_states(store, pk)


def test_a_failed_move_back_restores_the_uncertain_marks(store):
    """The undo of a failed retry keeps what a person must still check: the unanswered steps."""
    pk = add(store, 1, Status.UNCERTAIN, reason="ATS outcome unknown", mailbox_action="flagged")
    store.record_step(pk, "create_applicant", "started")

    def broken(record):
        raise MailboxUnavailable("IMAP error while connecting")

    with pytest.raises(MailboxUnavailable):
        review.retry(store, pk, broken)
    record = store.message_by_pk(pk)
    assert (record.status, record.mailbox_action) == (Status.UNCERTAIN, "flagged")
    assert step_states(store, pk)["create_applicant"] == "started"


def test_retry_reports_mail_not_found_and_still_requeues(store):
    """Mail missing from the review folder: said plainly; the record is pending all the same."""
    pk = add(store, 1, Status.REVIEW, mailbox_action="flagged")
    outcome = review.retry(store, pk, lambda record: False)
    assert "NOT found in the review folder" in outcome.said
    assert store.message_by_pk(pk).status == Status.PENDING


def test_retry_moves_nothing_when_the_mail_was_never_moved(store):
    """No mailbox action done yet: the mail is still in the watched folder, nothing to move."""
    pk = add(store, 1, Status.REVIEW, mailbox_action="")
    moved = []
    review.retry(store, pk, lambda record: moved.append(record.id) or True)
    assert moved == []
    assert store.message_by_pk(pk).status == Status.PENDING


def test_retry_when_the_mailbox_is_unreachable_exits_1_unchanged(tmp_path, database, store, capsys):
    """Over the CLI: an IMAP failure while moving back is exit 1 with the error; nothing changes."""
    config = make_config(tmp_path, database, review_folder="Review")
    pk = add(store, 1, Status.REVIEW, reason="no job matched", mailbox_action="flagged")
    assert messages(config, "retry", str(pk)) == 1
    assert "IMAP" in capsys.readouterr().err
    assert store.message_by_pk(pk).status == Status.REVIEW


# -- resolve -------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [Status.REVIEW, Status.UNCERTAIN, Status.PENDING])
def test_resolve_records_the_note_and_keeps_the_rest(store, config, capsys, status):
    """resolve sets resolved and the note; reason, ids and steps stay as they were."""
    pk = add(store, 1, status, reason="no job matched", candidate_id="c-7")
    store.record_step(pk, "create_candidate", "started")
    assert messages(config, "resolve", str(pk), "--note", "added by hand in Skailer") == 0
    assert capsys.readouterr().out.strip() == f"#{pk} {status} -> resolved"
    record = store.message_by_pk(pk)
    assert (record.status, record.note) == (Status.RESOLVED, "added by hand in Skailer")
    assert (record.reason, record.candidate_id) == ("no job matched", "c-7")
    assert step_states(store, pk) == {"create_candidate": "started"}


@pytest.mark.parametrize("note", [[], ["--note", ""], ["--note", "   "]])
def test_resolve_needs_a_note(store, config, note):
    """No note, or a blank one, is a usage error (exit 2); the record stays as it was."""
    pk = add(store, 1, Status.REVIEW)
    with pytest.raises(SystemExit) as exited:
        messages(config, "resolve", str(pk), *note)
    assert exited.value.code == 2
    assert store.message_by_pk(pk).status == Status.REVIEW


@pytest.mark.parametrize("status", [Status.SUBMITTED, Status.DUPLICATE, Status.RESOLVED])
def test_resolve_refuses_settled_messages(store, config, capsys, status):
    """Submitted, duplicate and already resolved messages are not resolved again (exit 1)."""
    pk = add(store, 1, status, note="first note")
    assert messages(config, "resolve", str(pk), "--note", "second") == 1
    assert f"is {status}" in capsys.readouterr().err
    assert store.message_by_pk(pk).note == "first note"


# -- end to end with a real Dovecot --------------------------------------------------------

def dovecot_config(tmp_path: Path, dovecot, database: Path,
                   ats_url: str = "http://127.0.0.1:1") -> Path:
    imap = {"host": "127.0.0.1", "port": dovecot.imaps_port, "security": "ssl",
            "username": dovecot.user, "password": dovecot.password,
            "ca_file": str(dovecot.cert_path),
            "processed_folder": "Processed", "review_folder": "Review"}
    return write_config(tmp_path / "config.toml", imap=imap, ats_url=ats_url, database=database)


def set_aside_in_review(store: Store, dovecot, raw: bytes, message_id: str) -> int:
    dovecot.append("Review", raw, flags=[b"\\Flagged"])
    key = MessageKey(f"{dovecot.user}@127.0.0.1:{dovecot.imaps_port}", "INBOX", 1, 1)
    record = store.add_message(key, message_id=message_id, sha256=hashlib.sha256(raw).hexdigest(),
                               size=len(raw), status=Status.REVIEW, reason="no job matched",
                               mailbox_action="flagged")
    return record.id


@pytest.mark.imap
@pytest.mark.parametrize("message_id", ["retry-me@example.org", None])
def test_retry_moves_the_mail_back_to_the_inbox_unflagged(tmp_path, dovecot, database, store,
                                                          message_id):
    """`messages retry ID` finds the mail in Review (by Message-ID, else by scanning for its hash),
    moves it to INBOX without \\Flagged, leaves other mail alone, and makes the record pending."""
    raw = build_email(subject="Application for Head Chef", message_id=message_id)
    decoys = [build_email(subject="Another mail", message_id="other@example.org"),
              build_email(subject="Same Message-ID, other content", message_id=message_id)]
    for decoy in decoys:
        dovecot.append("Review", decoy, flags=[b"\\Flagged"])
    pk = set_aside_in_review(store, dovecot, raw, message_id or "")
    config = dovecot_config(tmp_path, dovecot, database)
    result = run_cli("messages", "retry", str(pk), "--config", str(config))
    assert result.code == 0, result.stderr
    assert "moved back" in result.stdout
    [uid] = dovecot.uids("INBOX")
    assert b"\\Flagged" not in dovecot.flags("INBOX", uid)
    with dovecot.client() as imap:
        imap.select_folder("INBOX", readonly=True)
        assert imap.fetch([uid], ["BODY.PEEK[]"])[uid][b"BODY[]"] == raw
    assert len(dovecot.uids("Review")) == len(decoys)
    record = store.message_by_pk(pk)
    assert (record.status, record.reason, record.mailbox_action) == (Status.PENDING, "retry requested", "")


@pytest.mark.imap
def test_retry_says_when_the_mail_is_not_in_review(tmp_path, dovecot, database, store):
    """Mail gone from Review: exit 0, said in the output, the record pending, nothing moved."""
    raw = build_email(subject="Application for Head Chef", message_id="gone@example.org")
    pk = set_aside_in_review(store, dovecot, raw, "gone@example.org")
    with dovecot.client() as imap:
        imap.select_folder("Review")
        imap.delete_messages(imap.search("ALL"))
        imap.expunge()
    config = dovecot_config(tmp_path, dovecot, database)
    result = run_cli("messages", "retry", str(pk), "--config", str(config))
    assert result.code == 0, result.stderr
    assert "NOT found in the review folder" in result.stdout
    assert dovecot.uids("INBOX") == []
    assert store.message_by_pk(pk).status == Status.PENDING


@pytest.mark.imap
def test_an_uncertain_mail_retried_is_submitted_once_from_its_journal(tmp_path, dovecot, database,
                                                                       store, sandbox):
    """A candidate call whose answer is lost holds the mail; after the person's retry the next
    poll resumes the same record: the CV and applicant are not sent again, one candidate exists."""
    config = dovecot_config(tmp_path, dovecot, database, ats_url=sandbox.base_url)
    sandbox.add_fault(Fault("POST", "/api/v1/candidate", drop=True))
    dovecot.append("INBOX", build_email(subject="Data Analyst",
                                        attachments=[("cv.pdf", PDF, "application/pdf")]))
    assert run_cli("poll", "--config", str(config)).code == 0
    [record] = review.list_messages(store)
    assert record.status == Status.UNCERTAIN
    assert len(dovecot.uids("Review")) == 1
    assert sandbox.state()["candidates"] == []  # what the person checks before retrying

    retried = run_cli("messages", "retry", str(record.id), "--config", str(config))
    assert retried.code == 0, retried.stderr
    assert "warning" in retried.stderr
    assert run_cli("poll", "--config", str(config)).code == 0

    [again] = review.list_messages(store)
    assert (again.id, again.status) == (record.id, Status.SUBMITTED)
    state = sandbox.state()
    assert (len(state["cvs"]), len(state["applicants"]), len(state["candidates"])) == (1, 1, 1)
    assert dovecot.uids("Review") == []
    assert len(dovecot.uids("Processed")) == 1


def test_show_tells_a_refused_mailbox_action_and_where_the_mail_is(store, config, capsys):
    """A refusal is shown with the server's words and the count; a moved mail with its folder and UID."""
    refused = add(store, 1, "submitted", action_attempts=2, action_error="NO [OVERQUOTA] Quota exceeded")
    moved = add(store, 2, "review", mailbox_action="flagged", placed_folder="Review", placed_uid=41)
    assert messages(config, "show", str(refused)) == 0
    assert "refused 2 time(s) by the server: NO [OVERQUOTA] Quota exceeded" in capsys.readouterr().out
    assert messages(config, "show", str(moved)) == 0
    assert "Review (UID 41)" in capsys.readouterr().out


def test_show_prints_the_rule_that_routed_the_mail_and_why(store, config, capsys):
    """The rule (or inference step) and its reasons are part of what `messages show` prints."""
    pk = add(store, 1, "submitted", rule="Data engineering by address", route_reason="recipient tag data-eng")
    assert messages(config, "show", str(pk)) == 0
    out = capsys.readouterr().out
    assert "Data engineering by address" in out and "recipient tag data-eng" in out


def test_list_and_show_give_sender_subject_and_files(store, config, capsys):
    """A recruiter sees who sent what: sender and subject in the list; date and files in show."""
    pk = add(store, 1, Status.REVIEW, reason="no job matched", sender_name="Ann Lee", sender_email="ann@example.org",
             subject="Application: Head Chef", attachments='[{"name": "cv.pdf", "size": 1234}]')
    assert messages(config, "list") == 0
    listed = capsys.readouterr().out
    assert "ann@example.org" in listed and "Application: Head Chef" in listed
    assert messages(config, "show", str(pk)) == 0
    shown = capsys.readouterr().out
    assert "Ann Lee <ann@example.org>" in shown and "cv.pdf (1234 bytes)" in shown


# -- resolve: several, by whom, and the mailbox ------------------------------------------------

def test_resolve_takes_several_ids_and_records_who(store, config, capsys):
    """`resolve 1 2 --by NAME --note TEXT`: each resolved with the note, the name and the time."""
    pks = [add(store, n, Status.REVIEW, reason="no job matched") for n in (1, 2)]
    assert messages(config, "resolve", *map(str, pks), "--by", "maria", "--note", "added by hand") == 0
    out = capsys.readouterr().out
    assert f"#{pks[0]} review -> resolved" in out and "resolved 2 of 2 message(s)" in out
    for pk in pks:
        record = store.message_by_pk(pk)
        assert (record.status, record.note, record.resolved_by) == (Status.RESOLVED, "added by hand", "maria")
        assert record.resolved_at is not None


def test_resolve_by_defaults_to_the_login_name(store, config, monkeypatch):
    """Without --by the person is the login name (the one behind sudo)."""
    monkeypatch.setenv("SUDO_USER", "maria")
    pk = add(store, 1, Status.REVIEW)
    assert messages(config, "resolve", str(pk), "--note", "done") == 0
    assert store.message_by_pk(pk).resolved_by == "maria"


def test_resolve_by_status_and_age(store, config, capsys):
    """`--status review --older-than 30d` resolves exactly the review messages older than 30 days."""
    old_review = add(store, 1, Status.REVIEW, created_at=datetime.now(UTC) - timedelta(days=40))
    young_review = add(store, 2, Status.REVIEW, created_at=datetime.now(UTC) - timedelta(days=5))
    old_uncertain = add(store, 3, Status.UNCERTAIN, created_at=datetime.now(UTC) - timedelta(days=40))
    assert messages(config, "resolve", "--status", "review", "--older-than", "30d", "--note", "stale") == 0
    assert [store.message_by_pk(pk).status for pk in (old_review, young_review, old_uncertain)] == [
        Status.RESOLVED, Status.REVIEW, Status.UNCERTAIN]
    assert "resolved 1 of 1 message(s)" in capsys.readouterr().out


def test_resolve_by_status_with_nothing_to_do(store, config, capsys):
    """No message matches: said so, exit 0."""
    assert messages(config, "resolve", "--status", "uncertain", "--older-than", "30d", "--note", "x") == 0
    assert "nothing to resolve: no message in uncertain recorded more than 30 day(s) ago" in capsys.readouterr().out


@pytest.mark.parametrize("args", [["1", "--status", "review"], ["--older-than", "30d"], [],
                                  ["--status", "review", "--older-than", "soon"]])
def test_resolve_usage_errors_exit_2(config, args):
    """IDs and --status together, neither, --older-than alone or a bad age are usage errors."""
    with pytest.raises(SystemExit) as exited:
        messages(config, "resolve", *args, "--note", "x")
    assert exited.value.code == 2


def test_bulk_resolve_goes_on_past_a_message_it_cannot_resolve(store, config, capsys):
    """A settled message among the ids is refused on its own line (exit 1); the others are resolved."""
    done = add(store, 1, Status.SUBMITTED)
    waiting = add(store, 2, Status.REVIEW)
    assert messages(config, "resolve", str(done), str(waiting), "--note", "x") == 1
    captured = capsys.readouterr()
    assert f"#{done} not resolved: message #{done} is submitted" in captured.err
    assert store.message_by_pk(waiting).status == Status.RESOLVED


class FakeDesk:
    """Settles mail in memory: records what it was asked, or fails as told."""

    def __init__(self, fail: Exception | None = None, found: bool = True):
        self.fail, self.found, self.settled = fail, found, []

    def settle(self, record):
        if self.fail is not None:
            raise self.fail
        self.settled.append(record.id)
        return Placement("Processed", 77) if self.found else None


def test_a_resolved_flagged_mail_is_settled_and_its_placement_recorded(store):
    """Flagged mail is settled after the record is resolved; the record then says it is done, and where."""
    pk = add(store, 1, Status.REVIEW, mailbox_action="flagged", placed_folder="Review", placed_uid=4)
    desk = FakeDesk()
    outcome = review.resolve(store, pk, "handled", "maria", desk.settle)
    assert desk.settled == [pk]
    assert outcome.said == f"#{pk} review -> resolved; mail unflagged, marked done, now in Processed"
    record = store.message_by_pk(pk)
    assert (record.status, record.mailbox_action, record.placed_folder, record.placed_uid) == (
        Status.RESOLVED, "processed", "Processed", 77)
    assert step_states(store, pk)["mailbox"] == "done"


def test_mail_whose_action_is_still_owed_is_left_to_the_daemon(store):
    """No mailbox action yet (the daemon owes it): nothing is settled here; the next pass marks it done."""
    pk = add(store, 1, Status.PENDING)
    desk = FakeDesk()
    assert review.resolve(store, pk, "x", "maria", desk.settle).said == f"#{pk} pending -> resolved"
    assert desk.settled == []


def test_an_unreachable_mailbox_leaves_the_record_resolved_and_says_how_to_finish(store):
    """The server is down: resolved all the same; the line says the mailbox was not updated and how to retry,
    and resolving again later settles only the mail (the note stays)."""
    pk = add(store, 1, Status.REVIEW, mailbox_action="flagged")
    down = review.resolve(store, pk, "first", "maria", FakeDesk(MailboxUnavailable("IMAP error: refused")).settle)
    assert "the mailbox was NOT updated (IMAP error: refused)" in down.said
    assert f"`ats-inbox messages resolve {pk} --note ...` again" in down.said
    assert store.message_by_pk(pk).status == Status.RESOLVED
    desk = FakeDesk()
    again = review.resolve(store, pk, "second", "someone", desk.settle)
    assert again.said.startswith(f"#{pk} already resolved (note kept); mail unflagged")
    record = store.message_by_pk(pk)
    assert (record.note, record.resolved_by, record.mailbox_action) == ("first", "maria", "processed")


def test_without_the_imap_password_resolve_still_resolves(store, tmp_path, database, capsys, monkeypatch):
    """No IMAP password in the configuration: the record is resolved, the mailbox not updated, said so."""
    monkeypatch.delenv("ATS_INBOX_IMAP_PASSWORD", raising=False)
    config = make_config(tmp_path, database)
    text = config.read_text().replace("password_file", "# password_file")
    config.write_text(text)
    pk = add(store, 1, Status.REVIEW, mailbox_action="flagged")
    assert messages(config, "resolve", str(pk), "--note", "x") == 0
    assert "the mailbox was NOT updated (no IMAP password" in capsys.readouterr().out
    assert store.message_by_pk(pk).status == Status.RESOLVED


def test_a_mail_not_found_is_said_and_the_record_stays_resolved(store):
    """The mail is gone from every folder: the record is resolved, the line says to look by hand."""
    pk = add(store, 1, Status.REVIEW, mailbox_action="flagged")
    outcome = review.resolve(store, pk, "x", "maria", FakeDesk(found=False).settle)
    assert "its mail was NOT found in the mailbox" in outcome.said
    assert store.message_by_pk(pk).mailbox_action == "flagged"


def test_show_says_who_resolved_it(store, config, capsys):
    """`messages show` prints who resolved the message and when."""
    pk = add(store, 1, Status.REVIEW)
    review.resolve(store, pk, "added by hand", "maria", now=datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert messages(config, "show", str(pk)) == 0
    assert "maria at 2026-12-01 09:00:00" in capsys.readouterr().out


# -- the mail itself, in a real Dovecot: open and resolve ---------------------------------------

def in_review(store: Store, dovecot, raw: bytes, message_id: str, **fields: object) -> int:
    """`raw` set aside in Review (flagged), recorded as moved there; its UID there recorded unless told."""
    uid = dovecot.append("Review", raw, flags=[b"\\Flagged", b"$AtsInboxReview"])
    key = MessageKey(f"{dovecot.user}@127.0.0.1:{dovecot.imaps_port}", "INBOX", 1, 1000 + uid)
    values = {"placed_folder": "Review", "placed_uid": uid, **fields}
    return store.add_message(key, message_id=message_id, sha256=hashlib.sha256(raw).hexdigest(), size=len(raw),
                             status=Status.REVIEW, reason="no job matched", mailbox_action="flagged", **values).id


@pytest.mark.imap
@pytest.mark.parametrize("placed", [True, False], ids=["by COPYUID", "by Message-ID"])
def test_open_writes_the_original_mail_to_a_private_file_without_marking_it_read(
        tmp_path, dovecot, database, store, placed):
    """`messages open ID -o FILE`: the exact bytes, a 0600 file, the mail still unread; found where its
    move put it, or again by Message-ID and hash when no UID was recorded."""
    raw = build_email(subject="Application: Head Chef", message_id="open-me@example.org")
    dovecot.append("Review", build_email(subject="Other", message_id="other@example.org"))
    pk = in_review(store, dovecot, raw, "open-me@example.org", **({} if placed else {"placed_uid": None}))
    out = tmp_path / "mail.eml"
    result = run_cli("messages", "open", str(pk), "--output", str(out),
                     "--config", str(dovecot_config(tmp_path, dovecot, database)))
    assert result.code == 0, result.stderr
    assert out.read_bytes() == raw
    assert out.stat().st_mode & 0o777 == 0o600
    uid = dovecot.uids("Review", ["HEADER", "Message-ID", "open-me@example.org"])[0]
    assert b"\\Seen" not in dovecot.flags("Review", uid)


@pytest.mark.imap
def test_open_finds_mail_left_in_the_watched_folder_by_its_uid(tmp_path, dovecot, database, store, capsysbinary):
    """No folder moves: the mail is read from the watched folder by its recorded UID (to stdout)."""
    raw = build_email(subject="Application: Head Chef", message_id=None)
    uid = dovecot.append("INBOX", raw)
    key = MessageKey(f"{dovecot.user}@127.0.0.1:{dovecot.imaps_port}", "INBOX", dovecot.folder_uidvalidity("INBOX"),
                     uid)
    pk = store.add_message(key, sha256=hashlib.sha256(raw).hexdigest(), size=len(raw), status=Status.REVIEW).id
    assert messages(dovecot_config(tmp_path, dovecot, database), "open", str(pk)) == 0
    assert capsysbinary.readouterr().out == raw


@pytest.mark.imap
def test_open_never_overwrites_and_says_when_the_mail_is_gone(tmp_path, dovecot, database, store, capsys):
    """An existing output file is refused (exit 1, unchanged); a mail in no folder is exit 1, said so."""
    raw = build_email(subject="Application: Head Chef", message_id="gone-open@example.org")
    pk = in_review(store, dovecot, raw, "gone-open@example.org")
    config = dovecot_config(tmp_path, dovecot, database)
    existing = tmp_path / "keep.txt"
    existing.write_text("mine")
    assert messages(config, "open", str(pk), "-o", str(existing)) == 1
    assert existing.read_text() == "mine" and "exists" in capsys.readouterr().err
    with dovecot.client() as imap:
        imap.select_folder("Review")
        imap.delete_messages(imap.search("ALL"))
        imap.expunge()
    assert messages(config, "open", str(pk), "-o", str(tmp_path / "new.eml")) == 1
    assert "not in the mailbox any more (looked in Review, INBOX" in capsys.readouterr().err
    assert not (tmp_path / "new.eml").exists()


@pytest.mark.imap
def test_bulk_resolve_unflags_the_mail_and_moves_it_to_processed(tmp_path, dovecot, database, store):
    """`resolve --status review --by NAME`: each mail leaves Review for Processed, unflagged, seen and marked
    done; the records say so and who resolved them; mail of other records is untouched."""
    raws = [build_email(subject=f"Application {n}", message_id=f"resolve-{n}@example.org") for n in (1, 2)]
    pks = [in_review(store, dovecot, raw, f"resolve-{n}@example.org", **({} if n == 1 else {"placed_uid": None}))
           for n, raw in zip((1, 2), raws, strict=True)]
    bystander = dovecot.append("Review", build_email(subject="Someone else"), flags=[b"\\Flagged"])
    result = run_cli("messages", "resolve", "--status", "review", "--by", "maria", "--note", "sorted by hand",
                     "--config", str(dovecot_config(tmp_path, dovecot, database)))
    assert result.code == 0, result.stderr
    assert result.stdout.count("mail unflagged, marked done, now in Processed") == 2
    assert dovecot.uids("Review") == [bystander]
    processed = dovecot.uids("Processed")
    assert len(processed) == 2
    for uid in processed:
        flags = {f.lower() for f in dovecot.flags("Processed", uid)}
        assert b"\\flagged" not in flags and b"$atsinboxreview" not in flags
        assert {b"\\seen", b"$atsinboxdone"} <= flags
    for pk in pks:
        record = store.message_by_pk(pk)
        assert (record.status, record.resolved_by, record.mailbox_action, record.placed_folder) == (
            Status.RESOLVED, "maria", "processed", "Processed")


def test_show_and_status_say_how_the_candidate_was_found(store, config, capsys):
    """A forward's record says how the candidate was found and who forwarded it; status counts the ways."""
    pk = add(store, 1, Status.SUBMITTED, found_by="attached message", forwarded_by="Rita Recruiter <rita@acme.test>")
    add(store, 2, Status.SUBMITTED, found_by="sender")
    assert messages(config, "show", str(pk)) == 0
    shown = capsys.readouterr().out
    assert "attached message" in shown and "Rita Recruiter <rita@acme.test>" in shown
    assert cli.main(["--log-level", "ERROR", "status", "--config", str(config)]) in (0, 1)
    assert "Candidates found by: attached message 1, sender 1" in capsys.readouterr().out


# -- reopen and ignore (the review page's actions, through the same rules) -------------------

def test_reopen_takes_a_resolved_message_back_to_review_saying_who_and_why(store):
    """Reopen: resolved -> review; its reason names who reopened it and why; who resolved it is cleared."""
    pk = add(store, 1, Status.REVIEW, reason="no resume attached")
    review.resolve(store, pk, "added by hand", by="rita")
    outcome = review.reopen(store, pk, "it was the wrong Chef", by="adam")
    record = store.message_by_pk(pk)
    assert (record.status, record.reason, record.resolved_by) == ("review", "reopened by adam: it was the wrong Chef",
                                                                  "")
    assert "resolved -> review" in outcome.said


@pytest.mark.parametrize("status", [Status.REVIEW, Status.PENDING, Status.SUBMITTED, Status.IGNORED])
def test_reopen_refuses_what_is_not_resolved(store, status):
    """Only a resolved message can be reopened; anything else is refused and unchanged."""
    pk = add(store, 1, status)
    with pytest.raises(review.NotAllowed, match="only resolved messages can be reopened"):
        review.reopen(store, pk, by="adam")
    assert store.message_by_pk(pk).status == status


def test_ignore_closes_a_set_aside_message_with_a_note_and_settles_its_mail(store):
    """Ignore: review -> ignored, with the note and who; flagged mail is settled as a resolved one's."""
    pk = add(store, 1, Status.REVIEW, mailbox_action="flagged")
    settled = []
    outcome = review.ignore(store, pk, "a sales pitch", by="rita",
                            settle=lambda r: settled.append(r.id) or Placement("Processed", 9))
    record = store.message_by_pk(pk)
    assert (record.status, record.note, record.resolved_by, record.placed_folder) == (
        "ignored", "a sales pitch", "rita", "Processed")
    assert settled == [pk] and "review -> ignored" in outcome.said


def test_ignore_loses_to_a_daemon_that_changed_the_message_meanwhile(store):
    """Compare-and-set: a message that moved on since it was read is not ignored."""
    pk = add(store, 1, Status.REVIEW)
    original = store.update_message

    def daemon_first(pk_, *, expect, **fields):
        original(pk_, expect=expect, status=Status.PENDING)  # the daemon took it meanwhile
        return original(pk_, expect=expect, **fields)

    store.update_message = daemon_first
    with pytest.raises(review.NotAllowed, match="changed meanwhile"):
        review.ignore(store, pk, "x", by="rita")
    assert store.message_by_pk(pk).status == "pending"

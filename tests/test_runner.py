"""The runner: a pass with a fake mailbox, a real store and the sandbox ATS in process."""

from __future__ import annotations

import json

import pytest

from daemon.ats.directory import AtsDirectory
from daemon.intake.flow import FlowOptions, MessageFlow
from daemon.intake.runner import Runner, RunnerOptions
from tests.e2e import FIXTURES
from tests.fakes import FakeMailbox
from tests.mailfactory import build_email

PDF = (FIXTURES / "resumes" / "rendercv-john-doe-classic.pdf").read_bytes()


def mail(n: int, subject: str = "Data Analyst", attach: bool = True) -> bytes:
    files = [("cv.pdf", PDF, "application/pdf")] if attach else []
    return build_email(sender=(f"P {n}", f"p{n}@example.org"), subject=subject, attachments=files)




def intake(parts, mailbox: FakeMailbox, directory=None, should_stop=lambda: False, **options) -> Runner:
    _, client, store = parts
    flow_keys = {"max_message_bytes"} & set(options)
    flow = MessageFlow(store, client, directory or AtsDirectory(client, source_name="Email"),
                       FlowOptions(**{k: options[k] for k in flow_keys}))
    return Runner(store, mailbox, flow, RunnerOptions(**options), probe=client.answers, should_stop=should_stop,
                  sleep=lambda _: None)


def test_outcomes_and_mailbox_actions(parts):
    """Submitted mail is marked done and moved; mail for a person is flagged and set aside."""
    box = FakeMailbox([mail(1), mail(2, attach=False), mail(3, "Head Chef")])
    summary = intake(parts, box, processed_folder="Done", review_folder="Review").run_pass()
    assert (summary.seen, summary.submitted, summary.set_aside) == (3, 1, 2)
    assert box.done == {1: "Done"}
    assert box.flagged == {2: "Review", 3: "Review"}


def test_too_large_mail_is_set_aside_without_downloading_it(parts):
    """RFC822.SIZE over the limit: recorded with the reason, the body never fetched."""
    box = FakeMailbox([mail(1)])
    intake(parts, box, max_message_bytes=1024).run_pass()
    assert box.fetched == []
    [record] = parts[2].messages()
    assert record.status == "review" and "too large" in record.reason


def test_next_pass_only_fetches_new_mail(parts):
    """UIDs at or below the highest seen are not fetched again."""
    box = FakeMailbox([mail(1)])
    intake(parts, box).run_pass()
    box.messages[2] = mail(2, "Python Developer")
    box.fetched.clear()
    summary = intake(parts, box).run_pass()
    assert box.fetched == [2]
    assert summary.submitted == 1


def test_connection_drop_mid_pass_reconnects_and_finishes(parts):
    """A fetch that loses the connection: reopen the mailbox and carry on, nothing lost."""
    box = FakeMailbox([mail(1), mail(2, "Python Developer"), mail(3, "Customer Support Specialist")])
    box.fail_fetch_once = {2}
    summary = intake(parts, box).run_pass()
    assert box.opens == 2
    assert summary.submitted == 3
    assert len(parts[0].state()["candidates"]) == 3


def test_stop_request_ends_the_pass_after_the_message_in_hand(parts):
    """should_stop() is honoured between messages, never in the middle of one."""
    box = FakeMailbox([mail(1), mail(2, "Python Developer")])
    runner = intake(parts, box, should_stop=lambda: bool(box.done))
    summary = runner.run_pass()
    assert summary.submitted == 1
    assert len(parts[0].state()["actions"]) == 1


def test_uidvalidity_change_remaps_by_content(parts):
    """The same mail under a new UIDVALIDITY is a duplicate, not a second application."""
    box = FakeMailbox([mail(1)])
    intake(parts, box).run_pass()
    box.uidvalidity = 8
    summary = intake(parts, box).run_pass()
    assert summary.duplicates == 1 and summary.submitted == 0
    assert len(parts[0].state()["candidates"]) == 1


@pytest.mark.parametrize(("fetch_bytes", "calls"), [(10**9, [[1, 2, 3]]), (1, [[1], [2], [3]])])
def test_bodies_are_fetched_in_batches_bounded_by_bytes(parts, fetch_bytes, calls):
    """One FETCH for several small messages; never more bytes per FETCH than allowed (but one message)."""
    box = FakeMailbox([mail(1), mail(2, "Python Developer"), mail(3, "Customer Support Specialist")])
    intake(parts, box, fetch_bytes=fetch_bytes).run_pass()
    assert box.fetch_calls == calls


class BrokenDirectory:
    """A directory whose job list raises an unexpected error once (a bug, not an ATS answer)."""

    def __init__(self, real):
        self.real, self.broken = real, True

    def __getattr__(self, name):
        return getattr(self.real, name)

    def open_jobs(self):
        if self.broken:
            self.broken = False
            raise KeyError("title")
        return self.real.open_jobs()


def test_an_unexpected_error_parks_the_message_and_the_loop_goes_on(parts):
    """A bug met on one message sets it aside with the error type; the next message is still handled."""
    store = parts[2]
    box = FakeMailbox([mail(1), mail(2, attach=False)])
    summary = intake(parts, box, directory=BrokenDirectory(AtsDirectory(parts[1], source_name="Email"))).run_pass()
    assert summary.set_aside == 2
    first, second = sorted(store.messages(), key=lambda r: r.uid)
    assert first.reason.startswith("internal error (KeyError)")
    assert second.reason.startswith("no resume attached")


# -- issue 6: hardening ----------------------------------------------------------------------

class ScriptedFlow:
    """A message flow whose outcome per UID is scripted (an error to meet, or a callable)."""

    def __init__(self, store, script):
        self.store, self.script, self.calls = store, script, []

    def handle(self, record, raw):
        from daemon.intake.flow import _failed
        from daemon.intake.outcome import Outcome

        self.calls.append(record.uid)
        step = self.script.get(record.uid)
        if callable(step):
            step = step(record)
        if isinstance(step, BaseException):
            if not isinstance(step, Exception):
                raise step  # a kill: nothing after this line runs
            return _failed(record, step)
        return step or Outcome("submitted", candidate_id=f"c{record.uid}")


def scripted(parts, box, script, probe=lambda: True, **options):
    _, _, store = parts
    flow = ScriptedFlow(store, script)
    return Runner(store, box, flow, RunnerOptions(**options), probe=probe, sleep=lambda _: None), flow


def by_uid(store):
    return {r.uid: r for r in store.messages(limit=100)}


def test_a_refused_mailbox_action_is_recorded_and_does_not_hold_up_other_mail(parts):
    """NO on one message's move: recorded with the server's words; the next mail is still taken."""
    _, _, store = parts
    box = FakeMailbox([mail(1), mail(2)])
    box.refuse = {1}
    runner, _ = scripted(parts, box, {}, processed_folder="Done")
    summary = runner.run_pass()
    assert summary.submitted == 2
    assert box.done == {2: "Done"}
    first = by_uid(store)[1]
    assert (first.status, first.mailbox_action, first.action_attempts) == ("submitted", "", 1)
    assert "OVERQUOTA" in first.action_error


def test_a_refused_action_is_retried_a_bounded_number_of_times_then_left_to_a_person(parts):
    """Later passes retry the action; after max_action_attempts it is marked refused and left alone."""
    _, _, store = parts
    box = FakeMailbox([mail(1)])
    box.refuse = {1}
    for _ in range(5):
        scripted(parts, box, {}, processed_folder="Done", max_action_attempts=3)[0].run_pass()
    record = by_uid(store)[1]
    assert (record.mailbox_action, record.action_attempts) == ("refused", 3)
    assert box.actions == [1, 1, 1]
    box.messages[2] = mail(2)
    scripted(parts, box, {}, processed_folder="Done", max_action_attempts=3)[0].run_pass()
    assert box.done == {2: "Done"}


def test_the_attempt_is_counted_before_the_work_so_a_killer_mail_is_set_aside(parts):
    """A mail that kills the process on every start is set aside after max_attempts starts."""
    _, _, store = parts
    box = FakeMailbox([mail(1), mail(2)])
    for _ in range(2):
        runner, _ = scripted(parts, box, {1: SystemExit("killed")}, max_attempts=2)
        with pytest.raises(SystemExit):
            runner.run_pass()
        assert by_uid(store)[1].status == "pending"  # the row was committed before the work
    runner, flow = scripted(parts, box, {1: SystemExit("killed")}, max_attempts=2)
    runner.run_pass()
    records = by_uid(store)
    assert records[1].status == "review" and "stopped the daemon 2 times" in records[1].reason
    assert records[2].status == "submitted"
    assert 1 not in flow.calls
    assert box.flagged == {1: ""}


def test_a_second_copy_never_takes_over_the_first_copys_record(parts):
    """Two copies of one mail while the first is pending: one record, and each copy gets its action."""
    from daemon.errors import AtsUnavailable

    _, _, store = parts
    box = FakeMailbox([mail(1)])
    scripted(parts, box, {1: AtsUnavailable("503")})[0].run_pass()
    box.messages[2] = box.messages[1]
    scripted(parts, box, {})[0].run_pass()
    records = by_uid(store)
    assert records[1].status == "submitted" and records[2].status == "duplicate"
    assert records[2].duplicate_of == records[1].id
    assert box.done == {1: "", 2: ""}


def test_a_copy_of_a_pending_mail_waits_for_it_before_its_own_action(parts):
    """The duplicate copy gets no action while the original is pending, then follows the original."""
    from daemon.errors import AtsUnavailable

    same = mail(1)
    box = FakeMailbox([same, same])
    scripted(parts, box, {1: AtsUnavailable("503")}, failures_before_pause=10)[0].run_pass()
    assert box.done == {} and box.flagged == {}
    scripted(parts, box, {})[0].run_pass()
    assert box.done == {1: "", 2: ""}


def test_a_copy_whose_original_left_the_folder_continues_its_record(parts):
    """`messages retry` put the mail back under a new UID: the pending record is re-keyed, not duplicated."""
    from daemon.errors import AtsUnavailable

    _, _, store = parts
    box = FakeMailbox([mail(1)])
    scripted(parts, box, {1: AtsUnavailable("503")})[0].run_pass()
    box.messages[5] = box.messages.pop(1)
    scripted(parts, box, {})[0].run_pass()
    [record] = store.messages()
    assert (record.uid, record.status) == (5, "submitted")


@pytest.mark.parametrize("error", ["misdirected", "token"])
def test_ats_wide_faults_stop_the_pass_and_leave_the_mail_pending(parts, error):
    """A fault about the ATS, not the message: the pass stops with it, nothing is set aside or charged."""
    from daemon.errors import AtsInboxError, AtsMisdirected, AtsRejected

    _, _, store = parts
    fault = (AtsMisdirected("GET /api/v1/sources/all answered 404: check ats.base_url") if error == "misdirected"
             else AtsRejected("refused (401)", status=401))
    box = FakeMailbox([mail(1), mail(2)])
    runner, flow = scripted(parts, box, {1: fault, 2: fault})
    with pytest.raises(AtsInboxError):
        runner.run_pass()
    assert flow.calls == [1]
    assert [(r.status, r.attempts) for r in store.messages()] == [("pending", 0)]
    assert box.flagged == {}


def test_a_lost_answer_pauses_the_pass(parts):
    """One create's answer lost (a slow ATS): that mail is uncertain, the rest wait for the next pass."""
    from daemon.errors import OutcomeUnknown

    _, _, store = parts
    box = FakeMailbox([mail(1), mail(2), mail(3)])
    runner, flow = scripted(parts, box, {1: OutcomeUnknown("create applicant: the answer was lost (ReadTimeout)")})
    summary = runner.run_pass()
    assert flow.calls == [1]
    assert [r.status for r in store.messages()] == ["uncertain"]
    assert summary.ats_down and "answer was lost" in summary.stopped


def test_a_locked_database_stops_the_pass_without_blaming_the_ats(parts):
    """StoreBusy while handling a message: the pass stops with it; the ATS is not called down."""
    from daemon.errors import StoreBusy

    probes = []
    box = FakeMailbox([mail(1), mail(2)])
    runner, flow = scripted(parts, box, {1: StoreBusy("the database is locked")}, probe=lambda: probes.append(1))
    with pytest.raises(StoreBusy):
        runner.run_pass()
    assert probes == [] and flow.calls == [1]


def test_a_person_resolving_a_mail_during_its_pass_is_not_overwritten(parts):
    """The outcome is written only on the status it was decided on: a resolve meanwhile wins."""
    from daemon.intake import review

    _, _, store = parts

    def resolved_meanwhile(record):
        review.resolve(store, record.id, "added by hand")

    box = FakeMailbox([mail(1)])
    scripted(parts, box, {1: resolved_meanwhile})[0].run_pass()
    [record] = store.messages()
    assert (record.status, record.note) == ("resolved", "added by hand")


def test_mail_marked_done_in_the_mailbox_is_never_submitted_again(parts):
    """A lost database: mail carrying $AtsInboxDone is recorded, not fetched, not sent."""
    from daemon.mailbox.base import DONE_KEYWORD, REVIEW_KEYWORD

    _, _, store = parts
    box = FakeMailbox([mail(1), mail(2), mail(3)])
    box.keywords = {1: {DONE_KEYWORD}, 2: {REVIEW_KEYWORD}}
    runner, flow = scripted(parts, box, {})
    runner.run_pass()
    records = by_uid(store)
    assert flow.calls == [3] and box.fetched == [3]
    assert records[1].status == "duplicate" and DONE_KEYWORD in records[1].reason
    assert records[2].status == "review" and REVIEW_KEYWORD in records[2].reason


def test_a_reconnect_mid_pass_counts_every_message_once(parts):
    """A connection lost during a mailbox action: the summary still counts each message exactly once."""
    box = FakeMailbox([mail(n) for n in range(1, 6)])
    box.fail_action_once = {3}
    summary = scripted(parts, box, {2: no_resume(), 4: no_resume()})[0].run_pass()
    assert (summary.seen, summary.submitted, summary.set_aside) == (5, 3, 2)
    assert box.opens == 2


def no_resume():
    from daemon.errors import NoResume

    return NoResume("no PDF, DOC or DOCX attachment")


@pytest.mark.parametrize(("max_bytes", "lines"), [(10 * 1024 * 1024, 1_000_000), (200 * 1024 * 1024, 4_194_304)])
def test_the_line_bound_grows_with_the_size_limit(max_bytes, lines):
    """A larger imap.max_message_bytes admits the lines such a mail of base64 has (one per 50 bytes)."""
    assert FlowOptions(max_message_bytes=max_bytes).structure.max_lines == lines


def test_two_folders_never_work_on_one_record(parts):
    """A copy in a second folder while the first folder's copy is pending: no takeover, one application,
    and each folder's copy gets its own action once the original is done."""
    from daemon.errors import AtsUnavailable

    _, _, store = parts
    same = mail(1)
    inbox, careers = FakeMailbox([same]), FakeMailbox([same])
    careers.folder = "Careers"
    scripted(parts, inbox, {1: AtsUnavailable("503")})[0].run_pass()
    runner, flow = scripted(parts, careers, {})
    runner.run_pass()
    assert flow.calls == [] and careers.done == {}
    scripted(parts, inbox, {})[0].run_pass()
    scripted(parts, careers, {})[0].run_pass()
    statuses = sorted((r.folder, r.status) for r in store.messages())
    assert statuses == [("Careers", "duplicate"), ("INBOX", "submitted")]
    assert inbox.done == {1: ""} and careers.done == {1: ""}


def test_what_the_mail_says_is_recorded(parts):
    """Sender, subject, date and attachment names and sizes are kept for the review queue."""
    _, _, store = parts
    box = FakeMailbox([mail(1, "Data Analyst")])
    intake(parts, box).run_pass()
    [record] = store.messages()
    assert (record.sender_name, record.sender_email, record.subject) == ("P 1", "p1@example.org", "Data Analyst")
    assert record.sent_at is not None
    assert json.loads(record.attachments) == [{"name": "cv.pdf", "size": len(PDF)}]


def test_the_first_pass_takes_only_new_unread_mail_and_counts_the_rest(parts):
    """A mailbox in use for years: old and read mail is counted and left untouched, never recorded."""
    from datetime import date, timedelta

    from daemon.config import FirstPass

    _, _, store = parts
    box = FakeMailbox([mail(1), mail(2), mail(3), mail(4)])
    box.arrived = {1: date(2023, 3, 1), 2: date.today() - timedelta(days=2)}
    box.seen = {3}
    summary = intake(parts, box, first_pass=FirstPass(days=30, unseen_only=True)).run_pass()
    assert summary.submitted == 2
    assert sorted(r.uid for r in store.messages()) == [2, 4]
    assert box.fetched == [2, 4] and box.done == {2: "", 4: ""}
    state = store.folder_state(box.account, box.folder)
    assert (state.skipped, state.highest_uid) == (2, 4)
    box.messages[5] = mail(5)
    intake(parts, box, first_pass=FirstPass()).run_pass()
    assert sorted(r.uid for r in store.messages()) == [2, 4, 5]


def test_a_first_pass_cut_short_keeps_its_window(parts):
    """The ATS goes down during the first pass: the next pass still leaves out the old mail."""
    from datetime import date

    from daemon.config import FirstPass

    _, _, store = parts
    box = FakeMailbox([mail(1), mail(2), mail(3), mail(4)])
    box.arrived = {3: date(2023, 3, 1)}
    runner, _ = scripted(parts, box, {}, first_pass=FirstPass(days=30))
    runner.should_stop = lambda: bool(box.done)  # a stop after the first message
    runner.run_pass()
    scripted(parts, box, {}, first_pass=FirstPass(days=30))[0].run_pass()
    assert sorted(r.uid for r in store.messages()) == [1, 2, 4]


def test_backfill_takes_the_mail_the_first_pass_left_out(parts):
    """`backfill --since DATE`: mail of the folder since then with no record is processed; nothing twice."""
    from datetime import date

    from daemon.config import FirstPass

    _, _, store = parts
    box = FakeMailbox([mail(1), mail(2), mail(3)])
    box.arrived = {1: date(2023, 3, 1), 2: date(2025, 6, 1)}
    intake(parts, box, first_pass=FirstPass(days=30)).run_pass()
    assert [r.uid for r in store.messages()] == [3]
    summary = intake(parts, box, backfill_since=date(2025, 1, 1)).run_pass()
    assert summary.submitted == 1
    assert sorted(r.uid for r in store.messages()) == [2, 3]
    assert len(parts[0].state()["candidates"]) == 2

"""The runner: a pass with a fake mailbox, a real store and the sandbox ATS."""

from __future__ import annotations

import pytest

from daemon.ats.client import AtsClient
from daemon.ats.directory import AtsDirectory
from daemon.intake import FlowOptions, MessageFlow
from daemon.runner import Runner, RunnerOptions
from daemon.sandbox import SandboxATS
from daemon.store import open_store
from tests.e2e import FIXTURES
from tests.fakes import FakeMailbox
from tests.mailfactory import build_email

PDF = (FIXTURES / "resumes" / "rendercv-john-doe-classic.pdf").read_bytes()


def mail(n: int, subject: str = "Data Analyst", attach: bool = True) -> bytes:
    files = [("cv.pdf", PDF, "application/pdf")] if attach else []
    return build_email(sender=(f"P {n}", f"p{n}@example.org"), subject=subject, attachments=files)


@pytest.fixture
def parts(tmp_path):
    sandbox = SandboxATS(tmp_path / "ats.db")
    client = AtsClient(sandbox.start(), "t", timeout=5)
    store = open_store(f"sqlite:///{tmp_path / 'intake.db'}")
    yield sandbox, client, store
    client.close()
    store.close()
    sandbox.stop()


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
    _, client, store = parts
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
    """A directory whose job list raises an unexpected error (a bug, not an ATS answer)."""

    def open_jobs(self):
        raise KeyError("title")


def test_an_unexpected_error_parks_the_message_and_the_loop_goes_on(parts):
    """A bug met on one message sets it aside with the error type; the next message is still handled."""
    _, client, store = parts
    box = FakeMailbox([mail(1), mail(2, attach=False)])
    summary = intake(parts, box, directory=BrokenDirectory()).run_pass()
    assert summary.set_aside == 2
    first, second = sorted(store.messages(), key=lambda r: r.uid)
    assert first.reason.startswith("internal error (KeyError)")
    assert second.reason.startswith("no resume attached")

"""The review page over an in-process world: the sandbox ATS, a real store, mail held by a fake
mailbox desk (what `messages open` would read), for the web tests (unit and browser)."""

from __future__ import annotations

from contextlib import nullcontext

from daemon.domain import Placement, Role
from daemon.store import people
from daemon.store.models import MessageRecord
from daemon.web import app, passwords
from daemon.web.access import Access
from daemon.web.desk import Desk, StatusReport
from tests.inprocess import InProcessWorld
from tests.mailfactory import build_email
from tests.world import PDF

PASSWORD = "a long test password"
SCRIPT_SUBJECT = "<script>window.__pwned=1</script> Head Chef"
SCRIPT_HTML = ('<p>Hello, I am <b>Chef</b> and want the JOB-CODE-77 job.</p>'
               '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=1">'
               '<a href="javascript:window.__pwned=1">click</a>')


class HeldMail:
    """The mailbox as the review page reads and settles it: the world's delivered mail by UID."""

    def __init__(self, world: InProcessWorld):
        self.world = world
        self.settled: list[int] = []

    def read(self, record: MessageRecord) -> bytes | None:
        return self.world.box.messages.get(record.uid)

    def settle(self, record: MessageRecord) -> Placement | None:
        self.settled.append(record.id)
        return Placement("Processed", None)

    def close(self) -> None:
        pass


def set_aside_mail(world: InProcessWorld, subject: str = "Head Chef", html: str | None = None) -> MessageRecord:
    """One mail that matches no job, polled: set aside for review."""
    world.deliver(build_email(sender=("Chef Dupont", "chef@example.org"), subject=subject,
                              body="Hello,\nI would like the JOB-CODE-77 job. CV attached.\n", html=html,
                              attachments=[("cv.pdf", PDF, "application/pdf")]))
    world.poll()
    records = world.store.messages(limit=1)
    assert records[0].status == "review", records[0].reason
    return records[0]


def add_people(world: InProcessWorld) -> None:
    hashed = passwords.hash_password(PASSWORD)
    people.save_account(world.store, "rita", Role.RECRUITER, hashed)
    people.save_account(world.store, "adam", Role.ADMIN, hashed)


def desk(world: InProcessWorld, held: HeldMail) -> Desk:
    return Desk(store=world.store, mailbox=lambda: held, move_back=None,
                directory=lambda: nullcontext(world.directory),
                status=lambda: StatusReport("healthy: the last pass was ok", True, "Messages: 1 review"))


def review_app(world: InProcessWorld, held: HeldMail, access: Access | None = None, **options):
    return app.build(desk(world, held), access or Access(), **options)

"""A test hook for crash recovery, installed only when `ATS_INBOX_TEST_CRASH_AFTER` is set.

The composition root (daemon.ops.service.assemble) wraps the store in `CrashAfter` when the
variable names a step; nothing else in the daemon knows of the hook. The process then kills
itself like `kill -9` right after the transaction that holds that step was committed:

    recorded        a message's record (on arrival)
    mailbox         the mailbox action's record
    any ATS step    a journal step done (route, upload_cv:N, create_applicant, create_candidate,
                    add_comment, ...)

An answer is committed with the next create's start (daemon.intake.journal), so a kill after
`upload_cv:0`, `create_applicant` or `create_candidate` leaves that next create started and
never sent: the message is held as uncertain, as after any crash at that point. A kill after
`add_comment` (the flow's last answer) or `mailbox` leaves nothing started.

With several messages in flight, the others are let reach a step boundary before the kill:
each answer that comes in is committed without the start it carries, and nothing more is
sent (a request cut in half is the lost-answer tests' business, not this hook's). Never set
in production.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from daemon.intake.journal import DONE, STARTED
from daemon.store.repository import StepWrite, Store

log = logging.getLogger(__name__)
CRASH_ENV = "ATS_INBOX_TEST_CRASH_AFTER"
RECORDED_STEP = "recorded"
SETTLE_SECONDS = 10.0


class CrashAfter:
    """The store, for everything; the process dies right after `step` is committed."""

    def __init__(self, store: Store, step: str):
        self._store, self.step = store, step
        self._changed = threading.Condition()
        self._out: set[tuple[int, str]] = set()  # create requests between their start and their answer
        self._crashing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def add_message(self, *args: Any, **kwargs: Any) -> Any:
        record = self._store.add_message(*args, **kwargs)
        self._after(RECORDED_STEP)
        return record

    def add_first_copy(self, *args: Any, **kwargs: Any) -> Any:
        added, first = self._store.add_first_copy(*args, **kwargs)
        if added is not None:
            self._after(RECORDED_STEP)
        return added, first

    def move_record(self, *args: Any, **kwargs: Any) -> Any:
        record = self._store.move_record(*args, **kwargs)
        self._after(RECORDED_STEP)
        return record

    def record_step(self, pk: int, step: str, status: str, **kwargs: Any) -> None:
        self.journal(pk, [StepWrite(step, status, **kwargs)])

    def journal(self, pk: int, writes: Sequence[StepWrite]) -> None:
        starts = {(pk, w.name) for w in writes if w.status == STARTED}
        if starts:
            with self._changed:
                if self._crashing:  # the process is about to die: the answers are kept, nothing more is sent
                    self._keep_answers(pk, writes)
                    self._changed.wait_for(lambda: False)
                self._out.update(starts)
        self._store.journal(pk, writes)
        for write in writes:
            if write.status == DONE:
                self._answered(pk, write.name)
        for write in writes:
            if write.status == DONE and write.name == self.step:
                with self._changed:
                    self._out.difference_update(starts)  # started with the step, never to be sent
                self._after(write.name)

    def _keep_answers(self, pk: int, writes: Sequence[StepWrite]) -> None:
        answers = [w for w in writes if w.status != STARTED]
        if answers:
            self._store.journal(pk, answers)
            self._out.difference_update((pk, w.name) for w in answers)
            self._changed.notify_all()

    def delete_step(self, pk: int, step: str) -> None:
        self._store.delete_step(pk, step)
        self._answered(pk, step)

    def record_action(self, *args: Any, step: str, **kwargs: Any) -> None:
        self._store.record_action(*args, step=step, **kwargs)
        self._after(step)

    def _answered(self, pk: int, step: str) -> None:
        with self._changed:
            self._out.discard((pk, step))
            self._changed.notify_all()

    def _after(self, step: str) -> None:
        if step != self.step:
            return
        log.warning("test.crash", extra={"after": step})
        with self._changed:
            self._crashing = True
            self._changed.wait_for(lambda: not self._out, SETTLE_SECONDS)
        os.kill(os.getpid(), signal.SIGKILL)


def armed(store: Store, environ: Mapping[str, str]) -> Store:
    """The store, wrapped in the hook when the variable names a step."""
    step = environ.get(CRASH_ENV, "")
    return CrashAfter(store, step) if step else store  # type: ignore[return-value]

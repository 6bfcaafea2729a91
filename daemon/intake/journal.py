"""The step journal of one message, kept in the store and committed step by step.

Each create call is bracketed: `start` is committed before the request goes out and
`record` after the answer, so that after any crash the daemon knows which steps are done
(never repeated), which were in flight (outcome unknown: held for a person) and which
never started. An answer recorded is committed with the next step's start, in one
transaction (the upload's answer with the applicant's start, the applicant's with the
candidate's, ...), or by `commit`, which the flow calls before anything else can happen
(the end of the flow, an error, letting go of a candidate address's lock): before the next
request goes out, every answer before it is committed.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from daemon.ats.models import AtsId
from daemon.errors import StoreBusy
from daemon.intake.submission import APPLICANT, CANDIDATE
from daemon.store.repository import Remember, StepWrite, Store

log = logging.getLogger(__name__)
DONE, STARTED = "done", "started"
BUSY_RETRIES = 10  # each waits out SQLite's own busy timeout first


class StoreJournal:
    """Implements `daemon.intake.submission.Journal` over the store for one message.

    A finished step holds an id the ATS gave us and cannot give again: when the database
    is locked, the write that carries it is tried again (BUSY_RETRIES times, with pauses)
    rather than leaving the step "started", which would later hold the message as uncertain.
    """

    def __init__(self, store: Store, message_pk: int, sleep: Callable[[float], object] = time.sleep):
        self.store, self.pk = store, message_pk
        self._sleep = sleep
        steps = store.steps(message_pk)
        self._done = {name: json.loads(s.detail) for name, s in steps.items() if s.status == DONE}
        self._started = {name for name, s in steps.items() if s.status == STARTED}
        self._held: list[StepWrite] = []  # answers recorded, committed with the next start or by commit()

    def get(self, step: str) -> Mapping[str, Any] | None:
        return self._done.get(step)

    def started(self, step: str) -> bool:
        return step in self._started

    def start(self, step: str) -> None:
        """The answers recorded so far and this step's start, committed in one transaction."""
        self._write([*self._held, StepWrite(step, STARTED)])
        self._started.add(step)

    def abandon(self, step: str) -> None:
        self.commit()
        self.store.delete_step(self.pk, step)
        self._started.discard(step)

    def record(self, step: str, ats_id: AtsId, data: Mapping[str, Any]) -> None:
        """The answer, held until the next start or commit() writes it (see the module docstring)."""
        detail = json.dumps(dict(data), ensure_ascii=False)
        self._held.append(StepWrite(step, DONE, ats_id=str(ats_id), detail=detail,
                                    remember=_remember(step, ats_id, data)))
        self._done[step] = json.loads(detail)
        self._started.discard(step)

    def commit(self) -> None:
        """Every answer recorded, committed now."""
        if self._held:
            self._write(list(self._held))

    def _write(self, writes: list[StepWrite]) -> None:
        """One transaction; tried again on a locked database while it carries an answer (an id)."""
        answers = [w for w in writes if w.status == DONE]
        for attempt in range(BUSY_RETRIES + 1 if answers else 1):
            try:
                self.store.journal(self.pk, writes)
                break
            except StoreBusy:
                if not answers:
                    raise
                if attempt == BUSY_RETRIES:
                    for lost in answers:
                        log.error("journal.lost_id", extra={"record": self.pk, "step": lost.name,
                                                            "ats_id": lost.ats_id})
                    self._held.clear()
                    raise
                log.warning("journal.busy", extra={"record": self.pk, "step": answers[-1].name,
                                                   "attempt": attempt + 1})
                self._sleep(min(2.0 ** attempt, 30.0))
        self._held.clear()

    def known_applicant(self, email: str) -> AtsId | None:
        found = self.store.known_applicant(email)
        return AtsId.from_json(found) if found else None

    def known_candidate(self, applicant_id: AtsId, job_id: AtsId) -> AtsId | None:
        found = self.store.known_candidate(applicant_id.to_json(), job_id.to_json())
        return AtsId.from_json(found) if found else None


def _remember(step: str, ats_id: AtsId, data: Mapping[str, Any]) -> Remember | None:
    step = step.rsplit("/", 1)[-1]  # a part's step ("job 2/create_candidate") teaches the same
    if step == APPLICANT and data.get("email"):
        return Remember(email=str(data["email"]), applicant_id=ats_id.to_json())
    if step == CANDIDATE:
        return Remember(applicant_id=AtsId.of(data["applicant"]).to_json(), job_id=AtsId.of(data["job"]).to_json(),
                        candidate_id=ats_id.to_json())
    return None


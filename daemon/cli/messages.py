"""What `messages list` and `messages show` print: the review queue and one message, for people
(pure: records in, text out)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from daemon.cli.report import routed_by, table
from daemon.intake.lifecycle import ALLOWED, PersonAction
from daemon.store.models import MessageRecord, ReplyRecord, StepRecord

Mailboxes = Mapping[tuple[str, str], str]  # (account, folder) -> the [[mailbox]] name (Settings.mailbox_names)


def list_text(records: Sequence[MessageRecord], mailboxes: Mailboxes | None = None) -> str:
    """The table `messages list` prints; with several `mailboxes`, which one each message came from."""
    if not records:
        return "no messages"
    several = mailboxes is not None and len(mailboxes) > 1
    rows = [[str(m.id), _when(m.created_at, seconds=False), *([mailbox_of(m, mailboxes)] if several else []),
             m.status, _from(m), _cut(m.subject, 40), m.job_title or "-", m.candidate_id or "-",
             m.reason or m.last_error or "-"]
            for m in records]
    return table(["#", "Received (UTC)", *(["Mailbox"] if several else []), "Status", "From", "Subject", "Job",
                  "Candidate", "Reason / last error"], rows)


def mailbox_of(m: MessageRecord, mailboxes: Mailboxes | None) -> str:
    """The name of the mailbox a message came from (by its account and folder); "-" for one no longer configured."""
    return (mailboxes or {}).get((m.account, m.folder), "-")


def _from(m: MessageRecord) -> str:
    """The sender; marked when the sender forwarded the mail for someone else (the candidate is inside)."""
    sender = _cut(m.sender_email, 30)
    return f"{sender} (forwarded)" if m.forwarded_by and sender != "-" else sender


def _cut(text: str, limit: int) -> str:
    if not text:
        return "-"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def show_text(record: MessageRecord, steps: Sequence[StepRecord], replies: Sequence[ReplyRecord] = (),
              mailboxes: Mailboxes | None = None) -> str:
    """Everything recorded about one message (with `mailboxes`, the one it came from), then its timeline of
    steps, then the mail sent about it."""
    m = record
    fields = [
        *([("Mailbox", mailbox_of(m, mailboxes))] if mailboxes and len(mailboxes) > 1 else []),
        ("Status", m.status), ("Reason", m.reason), ("Received", _when(m.created_at)),
        ("From", f"{m.sender_name} <{m.sender_email}>" if m.sender_name else m.sender_email),
        ("Subject", m.subject), ("Sent", _when(m.sent_at)), ("Files", _files(m.attachments)),
        ("Updated", _when(m.updated_at)), ("Account", m.account), ("Folder", m.folder),
        ("UIDVALIDITY", str(m.uidvalidity)), ("UID", str(m.uid)), ("Message-ID", m.message_id),
        ("SHA-256", m.sha256), ("Size", f"{m.size} bytes"),
        ("Job", f"{m.job_title} ({m.job_id})" if m.job_id else m.job_title),
        ("Candidate found by", m.found_by), ("Forwarded by", m.forwarded_by),
        ("Routed by", routed_by(m.rule, m.job_title)), ("Routing reason", m.route_reason),
        ("Applicant", m.applicant_id), ("Candidate", m.candidate_id), ("Attempts", str(m.attempts)),
        ("Last error", m.last_error),
        ("Duplicate of", f"#{m.duplicate_of}" if m.duplicate_of else ""), ("Note", m.note),
        ("Resolved by", _resolved(m)), ("Personal data", _removed(m)),
        ("Mailbox action", _action_text(m)),
        ("Now in", f"{m.placed_folder} (UID {m.placed_uid})" if m.placed_uid else m.placed_folder),
    ]
    width = max(len(name) for name, _ in fields) + 1
    lines = [f"Message #{m.id}"]
    lines += [f"  {(name + ':').ljust(width)} {value or '-'}" for name, value in fields]
    lines += ["", "Steps:" if steps else "Steps: none recorded"]
    if steps:
        rows = [[s.name, s.status, s.ats_id or "-", _when(s.updated_at), s.detail or "-"]
                for s in steps]
        lines.append(table(["Step", "Status", "ATS id", "Time (UTC)", "Detail"], rows))
    if replies:
        rows = [[r.kind, r.status, str(r.attempts), _when(r.sent_at or r.next_attempt_at or r.created_at),
                 r.last_error or "-"] for r in replies]
        lines += ["", "Replies:", table(["Reply", "Status", "Tries", "Sent / next try (UTC)", "Why / last error"],
                                        rows)]
    if m.status in ALLOWED[PersonAction.RETRY]:
        lines += ["", f"Next: `ats-inbox messages retry {m.id}` or "
                      f"`ats-inbox messages resolve {m.id} --note TEXT`"]
    return "\n".join(lines)


def _resolved(m: MessageRecord) -> str:
    if m.resolved_at is None:
        return m.resolved_by
    return f"{m.resolved_by or 'someone'} at {_when(m.resolved_at)}"


def _removed(m: MessageRecord) -> str:
    if m.personal_data_removed_at is None:
        return ""
    return f"removed at {_when(m.personal_data_removed_at)} (sender, subject, date, file names, note)"


def _files(attachments: str) -> str:
    """The attachment names and sizes, as recorded."""
    try:
        files = json.loads(attachments) if attachments else []
    except ValueError:
        return ""
    return ", ".join(f"{f.get('name') or 'unnamed'} ({f.get('size', 0)} bytes)" for f in files)


def _action_text(m: MessageRecord) -> str:
    """What was done in the mailbox; a refusal with the server's words and how often."""
    done = m.mailbox_action or "none yet"
    if not m.action_error:
        return done
    return f"{done}; refused {m.action_attempts} time(s) by the server: {m.action_error}"


def _when(moment: datetime | None, seconds: bool = True) -> str:
    if moment is None:
        return "-"
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")

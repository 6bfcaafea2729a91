"""SQLAlchemy 2 models. Alembic migrations in `migrations/` must agree with these."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class MessageRecord(Base):
    """One email seen in one folder, keyed by account, folder, UIDVALIDITY and UID."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("account", "folder", "uidvalidity", "uid"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(320))
    folder: Mapped[str] = mapped_column(String(1000))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str] = mapped_column(String(998), default="", index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    # Identity across copies (two aliases, two folders, a new UIDVALIDITY): Message-ID plus a
    # hash of the content without the transport headers that differ between copies.
    content_key: Mapped[str] = mapped_column(String(64), default="", index=True)
    duplicate_of: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    job_id: Mapped[str] = mapped_column(String(100), default="")
    job_title: Mapped[str] = mapped_column(String(500), default="")
    # What the mail says of itself (personal data: removed after [database] retention_days).
    sender_name: Mapped[str] = mapped_column(String(320), default="")
    sender_email: Mapped[str] = mapped_column(String(320), default="", index=True)
    subject: Mapped[str] = mapped_column(String(1000), default="")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    attachments: Mapped[str] = mapped_column(Text, default="")  # JSON: [{"name", "size"}, ...]
    # Who the candidate is and how they were found (a forward: the forwarder too).
    found_by: Mapped[str] = mapped_column(String(40), default="")
    forwarded_by: Mapped[str] = mapped_column(String(400), default="")
    # Which routing rule (or inference step) decided, and why.
    rule: Mapped[str] = mapped_column(String(200), default="")
    route_reason: Mapped[str] = mapped_column(Text, default="")
    applicant_id: Mapped[str] = mapped_column(String(100), default="")
    candidate_id: Mapped[str] = mapped_column(String(100), default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    mailbox_action: Mapped[str] = mapped_column(String(20), default="")
    # A refused mailbox action (IMAP NO/BAD): how often, and the server's last words.
    action_attempts: Mapped[int] = mapped_column(Integer, default=0)
    action_error: Mapped[str] = mapped_column(Text, default="")
    # Where the mail is after its mailbox action (the UID from COPYUID when the server gives it).
    placed_folder: Mapped[str] = mapped_column(String(1000), default="")
    placed_uid: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Who dealt with it (`messages resolve --by`) and when.
    resolved_by: Mapped[str] = mapped_column(String(200), default="")
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # When its personal data was removed ([database] retention_days, or `messages purge`).
    personal_data_removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    steps: Mapped[list[StepRecord]] = relationship(
        back_populates="message", order_by="StepRecord.id", cascade="all, delete-orphan"
    )


class StepRecord(Base):
    """One ATS or mailbox step of one message: what it returned, committed before the next call."""

    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("message_pk", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    ats_id: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    message: Mapped[MessageRecord] = relationship(back_populates="steps")


class FolderState(Base):
    """Where intake stands in one folder: the UIDVALIDITY it was read under and the highest UID seen."""

    __tablename__ = "folders"

    account: Mapped[str] = mapped_column(String(320), primary_key=True)
    folder: Mapped[str] = mapped_column(String(1000), primary_key=True)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    highest_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    # The first pass over the folder takes only mail in a window ([imap] since / skip_seen);
    # until highest_uid reaches window_end_uid, UIDs up to it are taken only if in the window.
    window_end_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    window_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    window_unseen: Mapped[bool] = mapped_column(Boolean, default=False)
    skipped: Mapped[int] = mapped_column(Integer, default=0)  # mail left out by the window, counted
    # The days the oldest and newest of that mail arrived (INTERNALDATE, as the server dates it): what
    # `backfill --since` needs to take it in. None when nothing was left out, or counted before 0008.
    skipped_from: Mapped[date | None] = mapped_column(Date, nullable=True)
    skipped_until: Mapped[date | None] = mapped_column(Date, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class PassRecord(Base):
    """One pass over the mailbox: when it ran and what it did."""

    __tablename__ = "passes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(200), default="", index=True)  # its [[mailbox]] name
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    outcome: Mapped[str] = mapped_column(String(20), default="running")
    seen: Mapped[int] = mapped_column(Integer, default=0)
    submitted: Mapped[int] = mapped_column(Integer, default=0)
    set_aside: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    # The rule set the pass ran with, and the problems of the files on disk when they differ.
    rules_fingerprint: Mapped[str] = mapped_column(String(64), default="")
    rules_problems: Mapped[str] = mapped_column(Text, default="")


class KnownApplicant(Base):
    """An applicant this daemon created, remembered by email so a second application reuses it."""

    __tablename__ = "applicants"

    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    applicant_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class KnownCandidate(Base):
    """A candidate this daemon created: one per applicant and job."""

    __tablename__ = "candidacies"

    applicant_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    job_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    candidate_id: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class StoreIdentity(Base):
    """One row, written when the database is created: tells this database from a replacement."""

    __tablename__ = "store_identity"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Lease(Base):
    """Who may work on a mailbox folder now; stops two daemons processing the same mail."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(1400), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class KeptRules(Base):
    """The last rule set accepted from a rules folder, as its files' text: a start with invalid files uses it."""

    __tablename__ = "rules_kept"

    folder: Mapped[str] = mapped_column(String(1000), primary_key=True)  # the [rules] path, as configured
    fingerprint: Mapped[str] = mapped_column(String(64))
    files: Mapped[str] = mapped_column(Text)  # JSON: [[file name, text], ...] in the order they are read
    accepted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ReplyRecord(Base):
    """One mail the daemon sends about one message (daemon.replies): recorded, its Message-ID fixed, before
    it is sent; at most one of each kind per message."""

    __tablename__ = "replies"
    __table_args__ = (UniqueConstraint("message_pk", "kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_pk: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # daemon.replies.ReplyKind
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    job_id: Mapped[str] = mapped_column(String(100), default="")
    message_id: Mapped[str] = mapped_column(String(998), unique=True)  # fixed before the first send
    # queued (waits for the relay), sent, not sent (the reason in last_error), failed (refused or given up)
    status: Mapped[str] = mapped_column(String(20), index=True)
    content: Mapped[str] = mapped_column(Text, default="")  # the composed mail, sent as it is on every try
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str] = mapped_column(Text, default="")
    # A receipt a reply acted on (it is then used up): when, and the message of that reply.
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    used_by_pk: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class WebUser(Base):
    """A person who may use the review page: a local account (`ats-inbox users add`)."""

    __tablename__ = "web_users"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))  # recruiter or admin (daemon.domain.Role)
    password_hash: Mapped[str] = mapped_column(String(400))  # scrypt, with its salt and parameters
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AuditRecord(Base):
    """One change a person made from the review page: who, when, to which message, what it did."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    who: Mapped[str] = mapped_column(String(200))
    message_pk: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text, default="")


class Instance(Base):
    """A running daemon, alive until `expires_at` unless it beats again: mailboxes are spread over these."""

    __tablename__ = "instances"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)  # host:pid, as lease owners are named
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    # the mailboxes (lease names) it is configured to serve, one per line ("": unknown, any): each mailbox is
    # spread over the live instances that serve it, so one whose configuration lacks a mailbox never gets it
    mailboxes: Mapped[str] = mapped_column(Text, default="", server_default="")

"""Who the candidate of a mail is, when a recruiter forwarded it (pure: parsed mail in, answer out).

A recruiter who forwards a candidate's mail must not become the applicant. `find_candidate`
looks, in this order:

1. attached messages (message/rfc822 at any depth, `.eml` files: `ParsedEmail.attached`),
   when the mail is a forward of them: its subject is a forward, its sender is internal, or
   no resume of its own lies outside them. (A candidate who attaches some other mail next
   to her CV stays the candidate.) Each attached message gives its own innermost original
   sender, looked for the same way; internal people are passed over. Several people give
   several candidates, each with the files inside their messages; one person's several
   messages (CV in one, cover letter in another) give one candidate with all the files.
2. an inline forward in the body (`daemon.mail.inline_forward`), innermost block first.
3. the sender, unless internal.

`internal` lists domains ("acme.test", subdomains included) and addresses of people who never
apply themselves. A forward whose original sender cannot be found (headers cut off, a name
without an address), or an internal sender's mail with no candidate in it, `needs_person`:
the caller may still find the person in the ATS's parsed CV data, else sets the mail aside.
The forwarder is never offered as the candidate.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from daemon.domain import Person
from daemon.mail import Attachment, ParsedEmail
from daemon.mail.inline_forward import InlineForward, inline_forward, is_forward_subject, strip_prefixes
from daemon.mail.resumes import detect_kind

FOUND_BY_SENDER = "sender"
FOUND_BY_HEADER = "forwarded header"
FOUND_BY_ATTACHED = "attached message"
CUT_OFF = "a forward without the original sender's header (cut off?)"

__all__ = [
    "FOUND_BY_ATTACHED",
    "FOUND_BY_HEADER",
    "FOUND_BY_SENDER",
    "Candidate",
    "CandidateSearch",
    "Person",
    "find_candidate",
    "is_internal",
]


@dataclass(frozen=True, slots=True)
class Candidate:
    """One person the mail is an application of, and the files that are theirs."""

    person: Person  # address "" when a forwarded header names the person without one
    found_by: str  # FOUND_BY_SENDER, FOUND_BY_HEADER or FOUND_BY_ATTACHED
    subject: str  # the original subject, forward prefixes stripped (for routing)
    # Their files: the files inside their attached messages; otherwise every file of the mail.
    attachments: tuple[Attachment, ...]


@dataclass(frozen=True, slots=True)
class CandidateSearch:
    """Who the mail's candidates are, who forwarded it, and whether a person must decide."""

    candidates: tuple[Candidate, ...]
    forwarder: Person | None = None  # who sent the mail in for someone else
    needs_person: bool = False  # no candidate address found: the ATS's CV data, else review
    reason: str = ""  # why a person is needed; "" otherwise
    # Files of a bundle of several candidates that lie outside every candidate's message.
    unassigned: tuple[Attachment, ...] = ()

    @property
    def candidate(self) -> Candidate | None:
        """The first candidate (the only one, but for a bundle)."""
        return self.candidates[0] if self.candidates else None


def find_candidate(email: ParsedEmail, internal: Collection[str] = ()) -> CandidateSearch:
    """The candidate(s) of `email`, how each was found, and its forwarder; see the module doc."""
    internal_set = frozenset(entry.strip().lower().lstrip("@") for entry in internal if entry.strip())
    sender = Person(email.sender_name, email.sender_email)
    sender_internal = is_internal(sender.address, internal_set)
    forward_subject = is_forward_subject(email.subject)
    if email.attached and (forward_subject or sender_internal or not _own_resumes(email)):
        found = _from_attached(email, internal_set)
        if found:
            return _bundle(email, found, sender)
    inline = inline_forward(email.body_text, expect_forward=forward_subject or sender_internal,
                            passed_over=lambda address: is_internal(address, internal_set))
    if inline is not None:
        return _from_inline(email, inline, sender, internal_set)
    if forward_subject:
        return _needs_person(sender, CUT_OFF)
    if sender_internal or not sender.address:
        why = "mail from an internal sender" if sender.address else "mail without a sender address"
        return _needs_person(sender if sender.address else None, f"{why}, with no candidate found in it")
    return CandidateSearch(
        candidates=(Candidate(sender, FOUND_BY_SENDER, email.subject, email.attachments),),
    )


def is_internal(address: str, internal: Collection[str]) -> bool:
    """Whether an address is listed, or lies in a listed domain or one of its subdomains."""
    address = address.lower()
    if not address:
        return False
    if address in internal:
        return True
    domain = address.rpartition("@")[2]
    return any(domain == entry or domain.endswith("." + entry) for entry in internal if "@" not in entry)


def _from_inline(
    email: ParsedEmail, inline: InlineForward, sender: Person, internal: frozenset[str]
) -> CandidateSearch:
    found, subject = inline.sender, inline.subject or strip_prefixes(email.subject)
    if found is None:
        return _needs_person(sender, CUT_OFF)
    if found.address and found.address == sender.address:  # a candidate forwarding her own mail
        return CandidateSearch((Candidate(sender, FOUND_BY_SENDER, subject, email.attachments),))
    if is_internal(found.address, internal):
        return _needs_person(sender, f"the forwarded header names {found.address}, an internal address")
    candidate = Candidate(found, FOUND_BY_HEADER, subject, email.attachments)
    if not found.address:
        return CandidateSearch((candidate,), sender, True, f"the forwarded header names {found.name} but no address")
    return CandidateSearch((candidate,), forwarder=sender)


def _from_attached(email: ParsedEmail, internal: frozenset[str]) -> list[Candidate]:
    """One candidate per person found in the attached messages, their files merged."""
    merged: dict[str, Candidate] = {}
    for message in email.attached:
        inner = find_candidate(message, internal)
        for found in inner.candidates:
            if not found.person.address:
                continue
            key = found.person.address
            previous = merged.get(key)
            if previous is None:
                merged[key] = Candidate(found.person, FOUND_BY_ATTACHED, strip_prefixes(found.subject),
                                        found.attachments)
            else:
                merged[key] = Candidate(previous.person, FOUND_BY_ATTACHED, previous.subject,
                                        _unique(previous.attachments + found.attachments))
    return list(merged.values())


def _bundle(email: ParsedEmail, found: list[Candidate], sender: Person) -> CandidateSearch:
    """Candidates from attached messages; the mail's own files go to a lone candidate."""
    if len(found) == 1:
        only = found[0]
        forwarder = None if only.person.address == sender.address else sender  # her own mail, attached
        return CandidateSearch((Candidate(only.person, only.found_by, only.subject, email.attachments),),
                               forwarder=forwarder)
    taken = {id(file) for candidate in found for file in candidate.attachments}
    loose = tuple(file for file in email.attachments if id(file) not in taken)
    return CandidateSearch(tuple(found), forwarder=sender, unassigned=loose)


def _own_resumes(email: ParsedEmail) -> bool:
    """Whether the mail has a resume outside its attached messages."""
    inside = {id(file) for message in email.attached for file in message.attachments}
    return any(detect_kind(file.data) for file in email.attachments if id(file) not in inside)


def _needs_person(forwarder: Person | None, reason: str) -> CandidateSearch:
    return CandidateSearch(candidates=(), forwarder=forwarder, needs_person=True, reason=reason)


def _unique(files: Iterable[Attachment]) -> tuple[Attachment, ...]:
    """The files once each (the same file object may be reachable twice), in order."""
    seen: set[int] = set()
    return tuple(file for file in files if not (id(file) in seen or seen.add(id(file))))

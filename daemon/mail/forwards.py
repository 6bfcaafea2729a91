"""Who the candidate of a mail is, when someone forwarded it (pure: parsed mail in, answer out).

A recruiter who forwards a candidate's mail must not become the applicant, and a candidate
who quotes someone else's mail (a reference from a former manager pasted below her letter)
must not hand her application to that person. The rule:

**A mail is a forward only when its sender is one who forwards, or it is plainly a forward.**
One who forwards: internal staff (`internal`: domains, "acme.test" with its subdomains, and
addresses of people who never apply themselves). Plainly a forward: the subject starts with a
forward prefix ("Fwd:", "WG:", "TR:", ...) *and* the forwarded block is at the top of the body
(`InlineForward.at_top`: after at most a short note of 15 non-blank lines, nothing quoted). Any
other mail is the sender's own application, whatever it quotes: a letter of any length with a
forwarded block below it, or a block at the top without a forward subject.

**In a chain, the candidate is the original author of the application**: the chain is followed
inward link by link while the link's sender forwards by the same rule (an internal colleague, or
a forward subject with the next block at the top of that link's text), and stops at the first
author who does not: the innermost such block's sender is the candidate, never the last
colleague in the chain. A middle link outside the company (a friend forwarding a friend's CV) is
followed through like a colleague when it plainly forwards (its subject a forward and the next
block right under its note), and is the candidate when it does not (a long text of its own
above the block: that is that person's mail quoting another). A mail whose sender is the
original sender too (a candidate forwarding her own earlier mail) is hers.

Where it looks, in this order:

1. attached messages (message/rfc822 at any depth, `.eml` files: `ParsedEmail.attached`), when
   the mail is a forward of them: its sender is internal, no resume of its own lies outside them,
   or its subject is a forward and its own text is a short note. (A candidate who attaches some
   other mail next to her CV stays the candidate.) Each attached message gives its own candidate
   by this same rule, so chains of attached messages, and an attached message that holds an
   inline forward, follow the rule at every link; internal people are passed over. Several
   people give several candidates, each with the files inside their messages; one person's
   several messages (CV in one, cover letter in another) give one candidate with all the files.
2. an inline forward in the body (`daemon.mail.inline_forward`), by the rule above.
3. the sender, unless internal.

A forward whose original sender cannot be found (headers cut off, a name without an address, an
internal address in the header), a forward subject with no forwarded mail in it, or an internal
sender's mail with no candidate in it, `needs_person`: the caller may still find the person in
the ATS's parsed CV data, else sets the mail aside; `reason` says how far the recognition got,
for the person who takes it over (no name from inside the mail is quoted in it: a record's
reason outlives the mail's personal data only where the clean-up can find it, and it finds
addresses, not names). The forwarder is never offered as the candidate.
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
NOTE_MAX_LINES = 15  # non-blank lines of a forwarder's own text above what is forwarded: "a short note"
# How far the recognition of a forward got, when a person must finish it (`CandidateSearch.reason`).
CUT_OFF = "inline forward recognised (a forward separator), but no header with the original sender under it (cut off?)"
NO_ADDRESS = "inline forward recognised, its header names the original sender without an address"
NOTHING_FORWARDED = "a forward, but neither a forwarded header nor an attached message names the original sender"
INTERNAL_NOTHING = "mail from an internal sender, with no forwarded header or attached message naming the candidate"
NO_SENDER = "mail without a sender address, and not plainly a forward"

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
    of_attached = bool(email.attached) and (sender_internal or not _own_resumes(email)
                                            or (forward_subject and _short(email)))
    if of_attached and (found := _from_attached(email, internal_set)):
        return _bundle(email, found, sender)
    inline = inline_forward(email.body_text, expect_forward=forward_subject or sender_internal,
                            passed_over=lambda address: is_internal(address, internal_set))
    if inline is not None and (sender_internal or (forward_subject and inline.at_top)):
        return _from_inline(email, inline, sender, internal_set)
    if of_attached or (forward_subject and inline is None and not email.attached):
        return _needs_person(sender if sender.address else None, NOTHING_FORWARDED)
    if sender_internal or not sender.address:
        return _needs_person(sender if sender.address else None, INTERNAL_NOTHING if sender.address else NO_SENDER)
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
        return _needs_person(sender, f"inline forward recognised, but its header names {found.address}, "
                                     "an internal address, as the original sender")
    candidate = Candidate(found, FOUND_BY_HEADER, subject, email.attachments)
    if not found.address:
        return CandidateSearch((candidate,), sender, True, NO_ADDRESS)
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


def _short(email: ParsedEmail) -> bool:
    """Whether the mail's own text is at most a short note (a forwarder's, not a letter)."""
    return sum(1 for line in email.body_text.splitlines() if line.strip()) <= NOTE_MAX_LINES


def _needs_person(forwarder: Person | None, reason: str) -> CandidateSearch:
    return CandidateSearch(candidates=(), forwarder=forwarder, needs_person=True, reason=reason)


def _unique(files: Iterable[Attachment]) -> tuple[Attachment, ...]:
    """The files once each (the same file object may be reachable twice), in order."""
    seen: set[int] = set()
    return tuple(file for file in files if not (id(file) in seen or seen.add(id(file))))

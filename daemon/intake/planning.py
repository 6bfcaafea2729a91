"""What becomes of a parsed mail, decided before anything is sent (pure: data in, a Plan out).

One decision path: the run (daemon.intake.flow), `poll --dry-run` (daemon.intake.preview) and
`rules test` (daemon.cli.rules_tryout) all read the mail with `read`, take their options from
`FlowOptions.from_settings`, and call `plan`; so a preview cannot say other than the run does.

`plan` goes in this order (the first that applies decides):
0. a reply to one of the daemon's receipts (`[replies]` on): never a candidate; the run acts on what
   it asks (daemon.intake.replying) and records it ignored;
1. who the candidates are and who forwarded (daemon.mail.forwards, with `internal_senders` and the
   agencies' domains: an agency never applies; its mail gives the person inside it, else the
   person the ATS reads in the CV); the routing sees the original's subject when the mail is a forward;
2. the routing decision (daemon.routing.explain), unless a target was journalled earlier; rules
   that could not be decided in time set the mail aside at once (a timeout is never "no match");
3. a rule that ignores the mail;
4. automatic mail (replies, bounces, list mail, the daemon's own), unless a rule took it in;
5. no resume (PDF, DOC, DOCX) for any candidate: set aside;
6. a rule that sets it aside, or no single job inferred: set aside;
7. an agency's mail whose source the ATS lacks (and no rule names a source): set aside;
8. otherwise submitted, each candidate with their own resumes (an agency's with its source).

Two limits need what only the caller knows, the size before the download and the sender's
recent mail in the store: `too_large` and `flooding` say them, with the same words everywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import TYPE_CHECKING

from daemon.ats.models import Job, Pipeline, Source
from daemon.domain import Person, RuleAction, Status
from daemon.errors import NoResume, NoRoute
from daemon.intake.outcome import reason_of
from daemon.mail import ParsedEmail, Resume
from daemon.mail.automatic import automatic_mail
from daemon.mail.forwards import CandidateSearch, find_candidate, is_internal
from daemon.mail.parsing import STRUCTURE_LIMITS, StructureLimits, parse_email
from daemon.mail.resumes import ResumeLimits, pick_resumes
from daemon.mail.spool import MailBytes
from daemon.replies.token import Claim, claims_in
from daemon.routing import Decision, Explanation, RuleSet, explain
from daemon.routing.inference import CODE_STEP, TITLE_STEP
from daemon.settings.keys import default

if TYPE_CHECKING:
    from daemon.config import Settings
    from daemon.intake.submission import Target

INFERENCE_STEPS = (CODE_STEP, TITLE_STEP)  # what decided when no rule did
FOUND_BY_CV = "ATS reading of the CV"


@dataclass(frozen=True, slots=True)
class FlowOptions:
    """How one mail is planned and submitted; each default is its configuration key's declared
    default (daemon.settings.keys), so an unconfigured flow (the demo, the tests) behaves as the daemon."""

    max_message_bytes: int = default("imap.max_message_bytes")
    limits: ResumeLimits = ResumeLimits()  # noqa: RUF009 (frozen, so sharing the default is safe)
    internal_senders: tuple[str, ...] = tuple(default("intake.internal_senders"))  # people who never apply
    agencies: tuple[tuple[str, str], ...] = tuple(default("intake.agencies").items())  # (domain or address, source)
    own_addresses: tuple[str, ...] = tuple(default("intake.own_addresses"))  # the daemon's own: mail ignored
    max_per_sender_per_hour: int = default("intake.max_per_sender_per_hour")  # 0: no flood cap
    cover_letter_chars: int = default("comment.cover_letter_chars")  # of the mail's text in the comment
    receipt_domain: str = ""  # [replies] on: the domain of its From address, whose receipt ids a reply names

    @classmethod
    def from_settings(cls, settings: Settings) -> FlowOptions:
        """The options of the run, of `poll --dry-run` and of `rules test`: built here only, so
        that none of them forgets a setting. The IMAP login, when an address, is one of the own."""
        intake = settings.intake
        login = settings.imap.username.lower()
        return cls(max_message_bytes=settings.imap.max_message_bytes, limits=settings.resumes,
                   internal_senders=intake.internal_senders, agencies=tuple(intake.agencies.items()),
                   own_addresses=(*intake.own_addresses, *([login] if "@" in login else [])),
                   max_per_sender_per_hour=intake.max_per_sender_per_hour,
                   cover_letter_chars=settings.cover_letter_chars,
                   receipt_domain=settings.replies.from_address.rpartition("@")[2].lower() if settings.replies.on
                   else "")

    @property
    def structure(self) -> StructureLimits:
        """The shape a mail may have: the default line bound grows with a larger size limit
        (a mail of `max_message_bytes` of base64 has about one line per 50 bytes)."""
        lines = max(STRUCTURE_LIMITS.max_lines, self.max_message_bytes // 50)
        return replace(STRUCTURE_LIMITS, max_lines=lines)


@dataclass(frozen=True, slots=True)
class Directory:
    """The ATS directory as data: the jobs (only open ones are ever targets; closed ones make
    reasons say "closed"), the pipelines and the sources."""

    jobs: Sequence[Job]
    pipelines: Sequence[Pipeline]
    sources: Sequence[Source]


@dataclass(frozen=True, slots=True)
class Candidacy:
    """One person the mail applies for, and their resumes. `person` None, or with no address:
    the address comes from the ATS's reading of the CV (`from_cv`)."""

    person: Person | None
    resumes: tuple[Resume, ...]
    from_cv: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """What handling a mail comes to before anything is sent: submitted, ignored or set aside."""

    status: Status  # SUBMITTED (to be submitted), IGNORED or REVIEW
    reason: str
    rule: str = ""
    route_reason: str = ""
    explanation: Explanation | None = None  # the rules tried on the routed mail; None: a journalled target
    job: Job | None = None  # where it goes when submitted (the decision's job, or the journalled target's)
    also: tuple[Job, ...] = ()  # the further jobs a person chose for it (a journalled target's `also`)
    forwarder: Person | None = None
    found_by: str = ""  # how the (first) candidate was found
    recognition: str = ""  # how far recognising a forward got when a person may be needed (CandidateSearch.reason)
    candidacies: tuple[Candidacy, ...] = ()
    notes: tuple[str, ...] = ()  # candidates of a bundle that could not be submitted, and why
    agency: str = ""  # the agency that sent the mail in (the name of its ATS source); "" for none

    @property
    def decision(self) -> Decision | None:
        return self.explanation.decision if self.explanation is not None else None

    @property
    def resumes(self) -> tuple[Resume, ...]:
        return tuple(r for c in self.candidacies for r in c.resumes)

    @property
    def candidates(self) -> tuple[Candidacy, ...]:
        """Who the mail applies for: those with a resume, else everyone found."""
        with_resumes = tuple(c for c in self.candidacies if c.resumes)
        return with_resumes or self.candidacies


def read(raw: bytes | MailBytes, options: FlowOptions) -> ParsedEmail:
    """The mail parsed as the run parses it (the same structure limits); raises as the run's parse does."""
    return parse_email(raw, limits=options.structure)


def unreadable(exc: Exception) -> Plan:
    """What the run records for a mail whose reading raised `exc`: set aside, with the reason."""
    return Plan(Status.REVIEW, reason_of(exc)[:2000])


def too_large(size: int, options: FlowOptions) -> Plan | None:
    """Set aside, never downloaded, when larger than `max_message_bytes`; None when it is not."""
    if size <= options.max_message_bytes:
        return None
    return oversized(size, options)


def oversized(size: int, options: FlowOptions) -> Plan:
    """What the run records for a mail it did not download for its size."""
    return Plan(Status.REVIEW, f"message too large ({size} bytes, limit {options.max_message_bytes})")


FLOOD_WINDOW = timedelta(hours=1)  # the sender cap counts the mail recorded within this long


def capped(options: FlowOptions, email: ParsedEmail) -> bool:
    """Whether the sender cap applies to this mail (a cap is set and the mail names its sender): only
    then is the sender's recent mail counted (`flooding`)."""
    return bool(options.max_per_sender_per_hour and email.sender_email)


def flooding(recent: int, options: FlowOptions, email: ParsedEmail) -> Plan | None:
    """When `recent` mails of the sender were recorded within the hour, the cap or more: a mail with
    a resume is set aside for a person (the sender may be forged to bury a real application: a
    limit never discards one), other mail is ignored (a loop or a flood). None when under the cap."""
    cap = options.max_per_sender_per_hour
    if not cap or recent < cap:
        return None
    flood = f"more than {cap} mails from this sender within an hour (a loop, a flood, or a forged sender)"
    if pick_resumes(email.attachments, options.limits).resumes:
        return Plan(Status.REVIEW, f"{flood}; it carries a resume: set aside for a person, nothing sent to the ATS")
    return Plan(Status.IGNORED, f"{flood}; nothing sent to the ATS")


def plan(email: ParsedEmail, options: FlowOptions, rules: RuleSet, directory: Directory | None,
         target: Target | None = None) -> Plan:
    """What would become of this mail (nothing is sent): who the candidates are, the routing
    decision (or the target journalled earlier: `directory` may then be None), the resumes, and
    whether it is submitted, ignored or set aside; see the module docstring."""
    answered = receipt_reply(email, options)
    if answered is not None:
        return Plan(Status.IGNORED, f"a reply to the receipt for message #{answered.message_pk}: acted on as its "
                    "sender asks (the mail placed or ignored, or an answer saying why not); never a candidate")
    agency = agency_of(email.sender_email, options.agencies)
    search = find_candidate(email, (*options.internal_senders, *(entry for entry, _ in options.agencies)))
    first = search.candidate
    routed = replace(email, subject=first.subject) if search.forwarder and first and first.subject else email
    explained = None if target is not None else _explain(routed, rules, directory)
    decision = explained.decision if explained is not None else None
    ruled = {"rule": target.rule if decision is None else decision.rule,
             "route_reason": "; ".join(target.reasons) if decision is None else decision.reason,
             "explanation": explained, "forwarder": search.forwarder, "recognition": search.reason,
             "found_by": first.found_by if first and first.person.address else FOUND_BY_CV, "agency": agency}
    if decision is not None and decision.undecided:
        return Plan(Status.REVIEW, f"set aside, not sent on: {decision.reason}",
                    candidacies=_candidacies(email, search, options.limits), **ruled)
    if decision is not None and decision.action == RuleAction.IGNORE:
        return Plan(Status.IGNORED, f"ignored by rule {decision.rule!r}: {decision.reason}", **ruled)
    automatic = automatic_mail(email, options.own_addresses) if decision is not None else None
    if automatic is not None and decision.rule in INFERENCE_STEPS:  # a rule may take such mail in
        return Plan(Status.IGNORED, f"{automatic.reason}; nothing sent to the ATS", **ruled)
    candidacies = _candidacies(email, search, options.limits)
    if not any(c.resumes for c in candidacies):
        skipped = "; ".join(s.text for s in pick_resumes(email.attachments, options.limits).skipped)
        missing = NoResume(f"no PDF, DOC or DOCX attachment{f' ({skipped})' if skipped else ''}")
        return Plan(Status.REVIEW, reason_of(missing), candidacies=candidacies, **ruled)
    if decision is not None and (decision.action == RuleAction.REVIEW or decision.job is None):
        return Plan(Status.REVIEW, _review_reason(decision), candidacies=candidacies, **ruled)
    notes = tuple(f"{named(c.person) or 'a candidate'}: no resume of theirs, not submitted"
                  for c in candidacies if not c.resumes)
    unknown = _unknown_agency_source(agency, decision, directory)
    if unknown:
        return Plan(Status.REVIEW, unknown, candidacies=candidacies, **ruled)
    job = target.job if decision is None else decision.job
    also = tuple(further.job for further in target.also) if decision is None else ()
    return Plan(Status.SUBMITTED, "", job=job, also=also, candidacies=candidacies, notes=notes, **ruled)


def receipt_reply(email: ParsedEmail, options: FlowOptions) -> Claim | None:
    """The receipt of ours this mail answers (by In-Reply-To or References), when [replies] is on; else None."""
    if not options.receipt_domain:
        return None
    claims = claims_in(options.receipt_domain, email.header("in-reply-to"), *email.header_values("references"))
    return claims[0] if claims else None


def agency_of(address: str, agencies: Sequence[tuple[str, str]]) -> str:
    """The name (its ATS source) of the agency `address` belongs to; "" for none. An address listed
    wins over its domain, a subdomain over its parent."""
    found = [(("@" in entry), len(entry), name) for entry, name in agencies if is_internal(address, (entry,))]
    return max(found)[2] if found else ""


def missing_agency_sources(agencies: Sequence[tuple[str, str]], sources: Sequence[Source]) -> list[str]:
    """A problem for each agency whose source the ATS does not have (`check`, `rules check`)."""
    known = {s.name.strip().casefold() for s in sources}
    names = ", ".join(repr(s.name) for s in sources) or "none"
    return [f"no ATS source named {name!r} for the agency {entry} ([intake] agencies; the ATS has {names})"
            for entry, name in agencies if name.strip().casefold() not in known]


def _unknown_agency_source(agency: str, decision: Decision | None, directory: Directory | None) -> str:
    """Why an agency's mail cannot be submitted under its source (the ATS lacks it); "" when it can, a
    rule names the source, or the target was journalled (its source was chosen then)."""
    if not agency or directory is None or (decision is not None and decision.source is not None):
        return ""
    if missing_agency_sources((("", agency),), directory.sources):
        return (f"the agency's source {agency!r} ([intake] agencies) is not among the ATS's sources: add it in "
                "the ATS or fix the setting; set aside, nothing sent to the ATS")
    return ""


def _explain(email: ParsedEmail, rules: RuleSet, directory: Directory | None) -> Explanation:
    if directory is None:
        raise ValueError("a mail without a journalled target needs the ATS directory to be routed")
    return explain(email, rules, directory.jobs, directory.pipelines, directory.sources)


def _candidacies(email: ParsedEmail, search: CandidateSearch, limits: ResumeLimits) -> tuple[Candidacy, ...]:
    """One candidacy per candidate, each with its own resumes; with no candidate to be found,
    one whose person comes from the ATS's reading of the CV (never the sender)."""
    if not search.candidates:
        return (Candidacy(None, pick_resumes(email.attachments, limits).resumes, from_cv=True),)
    return tuple(Candidacy(c.person, pick_resumes(c.attachments, limits).resumes, from_cv=not c.person.address)
                 for c in search.candidates)


def _review_reason(decision: Decision) -> str:
    """Set aside by a rule, or because inference found no single job (never a guess)."""
    if decision.rule in INFERENCE_STEPS or not decision.rule:
        return reason_of(NoRoute(decision.reason))
    return f"set aside by rule {decision.rule!r}: {decision.reason}"


def who(candidacy: Candidacy) -> str:
    """The candidate as a person reads it: 'Name <address>', or what the ATS must read in the CV for the
    run to go on (a preview cannot know the ATS's reading: the run sets the mail aside without it)."""
    person = candidacy.person
    if person is not None and person.address:
        return person.named() if person.name else f"{person.address} (the name from the ATS's reading of the CV; " \
            "set aside if it reads none)"
    return "the person the ATS reads in the CV (set aside if it reads no name or address there)"


def named(person: Person | None) -> str:
    """'Name <address>', or whichever is known; "" for nobody."""
    return person.named() if person is not None else ""

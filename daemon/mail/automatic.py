"""Mail that must never reach the ATS: automatic replies, bounces, list mail, the daemon's own.

`automatic_mail` runs an ordered table of rules over a parsed mail (Mailman's chain, in
small): the first rule that matches decides, and its marker (the header or subject that
decided) is recorded, so a wrong call can be found and a routing rule written against it.

Order, and why:
1. own mail: sent from one of the daemon's own addresses (a loop).
2. bounce, on proof: a `multipart/report` (delivery status, read receipt, spam complaint) or
   a bare `message/delivery-status`, a mailer-daemon or postmaster sender,
   `X-Failed-Recipients`. A DSN often carries `Auto-Submitted` too, so this comes before
   the automatic-reply rule.
3. automatic reply: `Auto-Submitted` other than `no` (RFC 3834), `X-Autoreply`,
   `X-Autorespond`, or a subject in the form auto-responders write ("Automatic reply: ...",
   "Out of Office: ...", "Abwesenheitsnotiz: ...", "Réponse automatique : ...",
   "Respuesta automática: ...", "Автоматический ответ: ..."): the phrase opens the subject
   and is followed by a colon or nothing.
   `X-Auto-Response-Suppress` and `X-MS-Exchange-Inbox-Rules-Loop` only ask others not to
   reply, or tell that a rule ran; Outlook sets them on ordinary mail too (Sisimai dropped
   the first from its detection for that reason). They decide only together with a weak
   subject sign: a subject that opens with an away phrase and a when, without the colon
   ("Out of office until Monday", "Abwesend bis 9.1."). Alone, or with a subject that merely
   mentions "out of office" ("Out of Office Coordinator: my application"), they decide nothing.
4. list or bulk mail: `List-Id`, `List-Unsubscribe`, `Precedence: bulk|list|junk`.
5. bounce, on a null return path (`Return-Path: <>`) and nothing more specific: RFC 3834
   auto-replies use it too, so it comes last.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from dataclasses import dataclass

from daemon.mail import ParsedEmail

AUTOMATIC_REPLY = "automatic reply"
BOUNCE = "bounce"
LIST_MAIL = "list or bulk mail"
OWN_MAIL = "own mail"

_MARKER_MAX_CHARS = 200
_AWAY_PHRASES = (
    r"automatic reply|auto[- ]?reply|auto[- ]?response|out of (?:the )?office(?: auto ?reply| reply)?"
    r"|abwesenheitsnotiz|automatische antwort|abwesend"
    r"|r[ée]ponse automatique|absence du bureau"
    r"|respuesta autom[áa]tica|fuera de la oficina"
    r"|автоматический ответ|автоответ|нет на месте"
)
_AWAY_SUBJECT = re.compile(rf"^\s*(?:{_AWAY_PHRASES})\s*(?::|$)", re.IGNORECASE)
# An away phrase opening the subject, then when: "Out of office until 5 Jan", "Abwesend bis 9.1."
_AWAY_OPENING = re.compile(
    rf"^\s*(?:{_AWAY_PHRASES})[\s,:-]+(?:until|till|from|bis|vom|ab|jusqu|du|hasta|del|desde|до|с|по|\d)",
    re.IGNORECASE,
)
_REPORT_TYPES = frozenset({"multipart/report", "message/delivery-status", "message/disposition-notification",
                           "message/feedback-report"})
_REPORT_TYPE = re.compile(r'report-type\s*=\s*"?([\w.-]+)', re.IGNORECASE)
_DAEMON_SENDERS = frozenset({"mailer-daemon", "postmaster"})
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_WEAK_HEADERS = ("X-Auto-Response-Suppress", "X-MS-Exchange-Inbox-Rules-Loop")


@dataclass(frozen=True, slots=True)
class AutomaticMail:
    """Why a mail is automatic: its category and the marker (header or subject) that decided."""

    category: str  # AUTOMATIC_REPLY, BOUNCE, LIST_MAIL or OWN_MAIL
    marker: str  # e.g. "Auto-Submitted: auto-replied"; bounded, one line

    @property
    def reason(self) -> str:
        """The recorded reason: "automatic reply (Auto-Submitted: auto-replied)"."""
        return f"{self.category} ({self.marker})"


Rule = Callable[[ParsedEmail, frozenset[str]], "str | None"]


def automatic_mail(email: ParsedEmail, own_addresses: Collection[str] = ()) -> AutomaticMail | None:
    """Why `email` must never reach the ATS, or None for mail a person may have written.

    `own_addresses` are the daemon's own addresses (any case). The first rule of `RULES`
    that finds a marker decides.
    """
    own = frozenset(address.strip().lower() for address in own_addresses)
    for category, rule in RULES:
        if (marker := rule(email, own)) is not None:
            return AutomaticMail(category=category, marker=marker[:_MARKER_MAX_CHARS])
    return None


def _own_mail(email: ParsedEmail, own: frozenset[str]) -> str | None:
    return f"From: {email.sender_email}" if email.sender_email and email.sender_email in own else None


def _delivery_report(email: ParsedEmail, _own: frozenset[str]) -> str | None:
    if email.content_type in _REPORT_TYPES:
        report = _REPORT_TYPE.search(email.header("content-type"))
        return f"Content-Type: {email.content_type}" + (f"; report-type={report.group(1)}" if report else "")
    local = email.sender_email.split("@", 1)[0]
    if local in _DAEMON_SENDERS:
        return f"From: {email.sender_email}"
    if not email.sender_email and email.sender_name.strip().lower() in _DAEMON_SENDERS:
        return f"From: {email.sender_name.strip()}"
    return _present(email, "X-Failed-Recipients")


def _automatic_reply(email: ParsedEmail, _own: frozenset[str]) -> str | None:
    submitted = email.header("auto-submitted").strip()
    if submitted and submitted.split(";", 1)[0].strip().lower() != "no":
        return f"Auto-Submitted: {submitted}"
    for name in ("X-Autoreply", "X-Autorespond"):
        value = email.header(name).strip()
        if value and value.lower() != "no":
            return f"{name}: {value}"
    if _AWAY_SUBJECT.match(email.subject):
        return f"Subject: {email.subject}"
    return _weak_signs(email)


def _weak_signs(email: ParsedEmail) -> str | None:
    """An Exchange header counts only with a subject that opens with an away phrase."""
    if not _AWAY_OPENING.match(email.subject):
        return None
    header = next((name for name in _WEAK_HEADERS if email.header(name)), None)
    if header is None:
        return None
    return f"{header}: {email.header(header)}, with Subject: {email.subject}"


def _list_mail(email: ParsedEmail, _own: frozenset[str]) -> str | None:
    for name in ("List-Id", "List-Unsubscribe"):
        if marker := _present(email, name):
            return marker
    precedence = email.header("precedence").strip()
    if precedence.lower() in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    return None


def _null_return_path(email: ParsedEmail, _own: frozenset[str]) -> str | None:
    values = email.header_values("return-path")
    if values and values[0].replace(" ", "") == "<>":
        return "Return-Path: <>"
    return None


def _present(email: ParsedEmail, name: str) -> str | None:
    value = email.header(name).strip()
    return f"{name}: {value}" if value else None


RULES: tuple[tuple[str, Rule], ...] = (
    (OWN_MAIL, _own_mail),
    (BOUNCE, _delivery_report),
    (AUTOMATIC_REPLY, _automatic_reply),
    (LIST_MAIL, _list_mail),
    (BOUNCE, _null_return_path),
)

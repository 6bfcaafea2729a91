"""Whether a mail may be answered at all, and whether the caps allow one more reply (pure).

RFC 3834 in full: never answer automatic mail, bounces, list or bulk mail, or the daemon's own mail
(daemon.mail.automatic decides those); never a no-reply style address; never a sender whose
address is not plausibly theirs: where the receiving server recorded `Authentication-Results`
(RFC 8601), only a From domain with an aligned pass (DMARC, or DKIM or SPF of the same
organisational domain, relaxed) is answered. Answering a forged sender is backscatter.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from daemon.mail import ParsedEmail
from daemon.mail.automatic import automatic_mail

_NO_REPLY = re.compile(r"^(?:no[-_.]?reply|do[-_.]?not[-_.]?reply|bounces?|notifications?|mailer|daemon)"
                       r"(?:[-_.+].*)?$|[-_.+]no[-_.]?reply$", re.IGNORECASE)
_COMMENT = re.compile(r"\([^()]*\)")
_PASS = "pass"  # noqa: S105 (an authentication result, not a password)


@dataclass(frozen=True, slots=True)
class AuthResult:
    """One `method=result` of an Authentication-Results header, with its properties (`header.d`, ...)."""

    method: str
    result: str
    properties: tuple[tuple[str, str], ...] = ()

    def get(self, name: str) -> str:
        return next((value for key, value in self.properties if key == name), "")


def refusal(email: ParsedEmail, own_addresses: Collection[str], authserv_id: str = "") -> str | None:
    """Why `email` must not be answered, or None when it may be."""
    if not email.sender_email or "@" not in email.sender_email:
        return "no sender address"
    automatic = automatic_mail(email, own_addresses)
    if automatic is not None:
        return automatic.reason
    if _NO_REPLY.search(email.sender_email.split("@", 1)[0]):
        return f"a no-reply address ({email.sender_email})"
    results = authentication_results(email, authserv_id)
    if results is not None and not aligned(email.sender_email.rsplit("@", 1)[1], results):
        return "the sender's domain did not pass DMARC, DKIM or SPF aligned (Authentication-Results)"
    return None


def authentication_results(email: ParsedEmail, authserv_id: str = "") -> tuple[AuthResult, ...] | None:
    """The results the receiving server recorded: the header of `authserv_id`, else the topmost one;
    None when there is none."""
    for value in email.header_values("authentication-results"):
        server, _, rest = _COMMENT.sub("", value).partition(";")
        if authserv_id and (server.split() or [""])[0].lower() != authserv_id.lower():
            continue
        return tuple(r for part in rest.split(";") if (r := _result(part)) is not None)
    return None


def _result(text: str) -> AuthResult | None:
    words = text.split()
    if not words or "=" not in words[0]:
        return None
    method, _, result = words[0].partition("=")
    properties = tuple((k.lower(), v.strip('"').lower()) for k, _, v in (w.partition("=") for w in words[1:]) if v)
    return AuthResult(method.lower(), result.lower(), properties)


def aligned(domain: str, results: tuple[AuthResult, ...]) -> bool:
    """A DMARC pass for this From domain, or a DKIM (header.d) or SPF (smtp.mailfrom) pass of a domain
    aligned with it (the same, or one a subdomain of the other)."""
    domain = domain.lower()
    for r in results:
        if r.result != _PASS:
            continue
        if r.method == "dmarc" and _related(domain, r.get("header.from") or domain):
            return True
        if r.method == "dkim" and _related(domain, r.get("header.d") or r.get("header.i").rpartition("@")[2]):
            return True
        if r.method == "spf" and _related(domain, r.get("smtp.mailfrom").rpartition("@")[2]):
            return True
    return False


def _related(a: str, b: str) -> bool:
    return bool(b) and (a == b or a.endswith("." + b) or b.endswith("." + a))


def over_cap(for_address_and_job: int, in_the_hour: int, max_per_hour: int) -> str | None:
    """Why one more acknowledgement or answer must not go out: one went to this address for this job
    within the period, or the hour's cap is reached; None when it may."""
    if for_address_and_job:
        return "already acknowledged for this job within the period"
    if in_the_hour >= max_per_hour:
        return f"the hourly cap of {max_per_hour} replies is reached"
    return None

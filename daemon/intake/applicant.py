"""Who the applicant is: names and email from the mail, with the ATS's CV parsing as fallback."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_NOT_A_NAME = re.compile(r"[@<>\"]|^\W*$|=\?.*\?=")  # an address, nothing, or an encoded word left undecoded


@dataclass(frozen=True, slots=True)
class PersonName:
    first: str
    middle: str
    last: str


def _from_display_name(display: str) -> PersonName | None:
    display = " ".join(display.replace(",", " ").split())
    if not display or _NOT_A_NAME.search(display):
        return None
    parts = display.split(" ")
    if len(parts) == 1:
        return PersonName(parts[0], "", "")
    return PersonName(parts[0], " ".join(parts[1:-1]), parts[-1])


def _from_parsed(parsed: Mapping[str, str]) -> PersonName | None:
    first = str(parsed.get("first_name") or "").strip()
    if not first:
        return None
    return PersonName(first, str(parsed.get("middle_name") or "").strip(),
                      str(parsed.get("last_name") or "").strip())


def applicant_name(display_name: str, parsed: Mapping[str, str], email: str) -> PersonName:
    """The sender's display name; else what the ATS parsed from the CV; else the address's local part
    (`email` is a usable address: daemon.mail.parsing.usable_address); else "Applicant"."""
    name = _from_display_name(display_name) or _from_parsed(parsed)
    if name is not None:
        return name
    local = email.split("@", 1)[0]
    return PersonName(local if local and not _NOT_A_NAME.search(local) else "Applicant", "", "")

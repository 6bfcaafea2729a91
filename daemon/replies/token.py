"""The receipt's Message-ID, signed so that a reply to it can be trusted to name its message.

`<ats-inbox.receipt.PK.TOKEN@DOMAIN>`: TOKEN is an HMAC-SHA256 (key: `[replies] token_key_file`,
or generated once, owner-only, beside the database) of the message's id and the address the
receipt went to, 26 base32 characters (130 bits): it cannot be guessed, and it is worthless for
another message or from another address. Single use is the outbox's (a receipt is marked used).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from daemon.errors import ConfigError
from daemon.files import private_file

PREFIX = "ats-inbox.receipt."
_TOKEN_CHARS = 26
_MIN_KEY_CHARS = 32
_ID = re.compile(rf"<?{re.escape(PREFIX)}(\d{{1,18}})\.([a-z2-7]{{{_TOKEN_CHARS}}})@([^>\s]+)>?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Claim:
    """What a Message-ID in In-Reply-To or References says of itself: the message and the token."""

    message_pk: int
    token: str
    message_id: str  # as we wrote it, without angle brackets


@dataclass(frozen=True, slots=True)
class ReceiptKey:
    """Signs and checks receipt ids for one domain (the From address's)."""

    key: bytes
    domain: str

    def token(self, message_pk: int, recipient: str) -> str:
        digest = hmac.new(self.key, f"receipt\0{message_pk}\0{recipient.strip().lower()}".encode(), hashlib.sha256)
        return base64.b32encode(digest.digest()).decode().lower()[:_TOKEN_CHARS]

    def message_id(self, message_pk: int, recipient: str) -> str:
        """The receipt's Message-ID (without angle brackets), fixed before it is sent."""
        return f"{PREFIX}{message_pk}.{self.token(message_pk, recipient)}@{self.domain}"

    def claims(self, *header_values: str) -> list[Claim]:
        """Every receipt id of ours (by its form and domain) in these In-Reply-To / References values."""
        return claims_in(self.domain, *header_values)

    def genuine(self, claim: Claim, sender: str) -> bool:
        """The token is the one a receipt for this message to `sender` carried."""
        return hmac.compare_digest(claim.token, self.token(claim.message_pk, sender))


def claims_in(domain: str, *header_values: str) -> list[Claim]:
    """Every receipt id of `domain`'s form in these In-Reply-To / References values (no key needed: whether
    a claim is genuine is `ReceiptKey.genuine`'s to say). The run and the previews both find replies so."""
    found = []
    for value in header_values:
        for match in _ID.finditer(value):
            if match.group(3).lower() == domain:
                token = match.group(2).lower()
                found.append(Claim(int(match.group(1)), token, f"{PREFIX}{match.group(1)}.{token}@{domain}"))
    return found


def load_key(path: Path, *, create: bool) -> bytes:
    """The key in `path`; with `create`, one is generated there (owner-only) when the file is missing."""
    if create and not path.exists():
        private_file(path)
        path.write_text(secrets.token_urlsafe(48) + "\n", encoding="ascii")
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the receipt key {path}: {exc}", key="replies.token_key_file") from exc
    if len(text) < _MIN_KEY_CHARS:
        raise ConfigError(f"the receipt key in {path} is shorter than {_MIN_KEY_CHARS} characters",
                          key="replies.token_key_file")
    return text.encode()

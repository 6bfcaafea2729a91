"""A mail's identity across copies (pure).

The same mail reaches us more than once: sent to two aliases, filed in two folders,
re-listed under a new UIDVALIDITY. The copies differ in their transport headers
(Received, Delivered-To, Return-Path...) and sometimes in line endings, but not in their
Message-ID or their content. Different mails sometimes share a Message-ID, and about one
mail in five has none, so the Message-ID alone is not an identity: the key is a hash of
the Message-ID plus the content (for mail without a Message-ID: its From, Date and
Subject headers plus the content).
"""

from __future__ import annotations

import hashlib
import re
from email.parser import BytesHeaderParser
from email.policy import compat32

_SEPARATOR = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(rb"[ \t]*\r?\n")
_IDENTITY_HEADERS = ("message-id", "from", "date", "subject")


def content_key(raw: bytes) -> str:
    """A hex SHA-256 that is equal for copies of one mail and different for different mails."""
    split = _SEPARATOR.search(raw)
    head, body = (raw[: split.start()], raw[split.end():]) if split else (raw, b"")
    headers = BytesHeaderParser(policy=compat32).parsebytes(head + b"\n\n")
    material = [_header(headers, name) for name in _IDENTITY_HEADERS]
    if material[0]:
        material = material[:1]  # a Message-ID: the other headers add nothing
    digest = hashlib.sha256("\n".join(material).encode("utf-8", "surrogateescape"))
    digest.update(b"\n\n" + _LINE_END.sub(b"\n", body).rstrip(b"\n"))
    return digest.hexdigest()


def _header(headers, name: str) -> str:
    value = headers.get(name, "")
    return " ".join(str(value).split())

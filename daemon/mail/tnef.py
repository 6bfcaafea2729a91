"""The files inside an Outlook `winmail.dat` (TNEF), through tnefparse (pure: bytes in, files out).

Outlook sends rich-text mail as one `application/ms-tnef` part named `winmail.dat` that wraps
the real attachments; a CV sent that way is invisible until it is unpacked. tnefparse (pure
Python, no dependencies) reads the container; this module is the one place that knows it.

Hostile bytes make tnefparse raise all sorts of errors (a part named winmail.dat that holds
a PNG raises `ValueError`): any failure means "no files", and the caller keeps the part as it
came. Counts are bounded; sizes need no bound, since TNEF stores its attachments uncompressed
(their total is at most the container's size).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tnefparse import TNEF

# tnefparse logs attribute names and checksums at WARNING on odd input; nothing of it is ours.
logging.getLogger("tnefparse").setLevel(logging.CRITICAL)

MAX_TNEF_FILES = 50
TNEF_SIGNATURE = b"\x78\x9f\x3e\x22"
TNEF_TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})


@dataclass(frozen=True, slots=True)
class TnefFile:
    """One file unpacked from a TNEF container: its long name as stored, and its bytes."""

    name: str
    data: bytes


def is_tnef(filename: str, content_type: str, data: bytes) -> bool:
    """A part that claims to be TNEF (by type or the `winmail.dat` name) and starts like one."""
    claims = content_type in TNEF_TYPES or filename.lower() == "winmail.dat"
    return claims and data.startswith(TNEF_SIGNATURE)


def unpack(data: bytes) -> tuple[TnefFile, ...]:
    """The attachments inside a TNEF container, in order, at most `MAX_TNEF_FILES`; () on failure."""
    try:
        container = TNEF(data, do_checksum=False)
        files = [_file(attachment) for attachment in container.attachments[:MAX_TNEF_FILES]]
    except Exception:  # hostile bytes: tnefparse raises many types; "nothing inside" is the answer
        return ()
    return tuple(file for file in files if file.data)


def _file(attachment: object) -> TnefFile:
    name = attachment.long_filename()  # type: ignore[attr-defined]
    if isinstance(name, bytes):
        name = name.decode("cp1252", "replace")
    data = attachment.data  # type: ignore[attr-defined]
    return TnefFile(name=str(name or "").rstrip("\x00"), data=data if isinstance(data, bytes) else b"")

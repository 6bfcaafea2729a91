"""The structure check's scans find, with their anchors, exactly what a scan of every byte with their regex finds."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from daemon.mail import parsing

FIXTURES = sorted(p for p in (Path(__file__).parent / "fixtures").rglob("*") if p.is_file())
TRICKS = [b"\n--", b"\r--", b"\r\n--x", b"\n--b--", b"Content-Type: message/rfc822", b"CONTENT-TYPE :\r\n message/",
          b"content-type:message/", b"boundary=", b'BOUNDARY*0="a', b"boundary=boundary=z", b'Boundary="q', b"\r",
          b"\n", b"--", b"---", b"-", b"\r\n---\r\n", b"--\r"]
SCANS = [(parsing._STRUCTURE_EVENT, parsing._STRUCTURE_ANCHORS), (parsing._BOUNDARY_PARAM, parsing._BOUNDARY_ANCHORS)]


def mutated(seed: int) -> bytes:
    """A fixture's first 20 KB with 30 of the scans' tricky pieces put in at random places."""
    rng = random.Random(seed)
    mail = bytearray(FIXTURES[seed % len(FIXTURES)].read_bytes()[:20_000])
    for _ in range(30):
        at = rng.randrange(len(mail) + 1)
        mail[at:at] = rng.choice(TRICKS)
    return bytes(mail)


def found(pattern, raw: bytes, anchors=None) -> list[tuple]:
    matches = pattern.finditer(raw) if anchors is None else parsing._found(pattern, raw, raw.lower(), anchors)
    return [(m.start(), m.end(), m.groups()) for m in matches]


@pytest.mark.parametrize("scan", SCANS, ids=["structure events", "boundary parameters"])
def test_the_anchored_scan_finds_what_the_regex_finds_in_every_fixture(scan):
    """Over every file in tests/fixtures: the same matches, in the same order."""
    pattern, anchors = scan
    assert FIXTURES
    for path in FIXTURES:
        raw = path.read_bytes()
        assert found(pattern, raw, anchors) == found(pattern, raw), path.name


@pytest.mark.parametrize("scan", SCANS, ids=["structure events", "boundary parameters"])
def test_the_anchored_scan_finds_what_the_regex_finds_in_mail_full_of_traps(scan):
    """Over 300 fixtures with delimiters, attached-message headers and boundary parameters put in anywhere (lone
    CRs, upper case, a parameter inside another's value)."""
    pattern, anchors = scan
    for seed in range(300):
        raw = mutated(seed)
        assert found(pattern, raw, anchors) == found(pattern, raw), seed

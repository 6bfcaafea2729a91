"""A mail spooled to a file reads as the same mail: the same parse, identity and refusals, window by
window; and the spool file is owner-only and gone once the mail is let go."""

from __future__ import annotations

import os
import stat

import pytest

from daemon.mail.identity import identify
from daemon.mail.parsing import parse_email
from daemon.mail.spool import MailBytes, Spooler, spool_folder, spooled
from tests.test_parsing import empty_parts, nested_messages, nested_multiparts
from tests.test_parsing_skeleton import CORPUS, FIXTURES, GENERATED, outcome

WINDOW = 4096  # small windows, so that every fixture is cut many times


def same_reading(raw: bytes) -> None:
    with spooled(raw, window=WINDOW) as mail:
        assert mail.spooled and mail.size == len(raw)
        assert outcome(parse_email, mail) == outcome(parse_email, raw)
        assert identify(mail) == identify(raw)


@pytest.mark.parametrize("path", CORPUS, ids=lambda path: str(path.relative_to(FIXTURES)))
def test_every_fixture_reads_the_same_spooled(path) -> None:
    """Every mail of tests/fixtures parses and is identified the same from a spool file in 4 KB windows."""
    same_reading(path.read_bytes())


@pytest.mark.parametrize("name", GENERATED)
def test_generated_mail_reads_the_same_spooled(name: str) -> None:
    """Large CVs, line ends of every kind and boundary tricks read the same from a spool file."""
    same_reading(GENERATED[name][0])


@pytest.mark.parametrize("raw", [empty_parts(1001), nested_multiparts(51), nested_messages(51),
                                 b"From: a@example.com\r\n\r\n" + b"a\n" * 1_000_001, b"", b" \r\n \r\n"],
                         ids=["parts", "depth", "message-depth", "lines", "empty", "blank"])
def test_a_spooled_mail_beyond_the_limits_is_refused_alike(raw: bytes) -> None:
    """Mail beyond the structure limits, and empty mail, are refused with the same words when spooled."""
    same_reading(raw)


def test_the_spool_file_is_owner_only_and_gone_when_the_mail_is_let_go() -> None:
    """A spool file is mode 0600 in a folder of mode 0700, has no name left on disk, and is closed after."""
    with Spooler() as spooler:
        spooler.write(b"From: a@example.com\r\n\r\nhi\r\n")
        mail = spooler.finish()
    fd = mail._file.fileno()
    assert stat.S_IMODE(os.fstat(fd).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(spool_folder()).st_mode) == 0o700
    assert os.listdir(spool_folder()) == []
    assert mail.sha256 == MailBytes(b"From: a@example.com\r\n\r\nhi\r\n").sha256
    mail.close()
    assert mail.closed


def spool_and_lose_the_connection(spoolers: list[Spooler]) -> None:
    with Spooler() as spooler:
        spoolers.append(spooler)
        spooler.write(b"From: a@example.com\r\n")
        raise ConnectionResetError("connection lost")


def test_a_spooler_left_by_an_error_closes_its_file() -> None:
    """An error while a mail is being spooled closes (and so removes) its file."""
    spoolers: list[Spooler] = []
    with pytest.raises(ConnectionResetError, match="connection lost"):
        spool_and_lose_the_connection(spoolers)
    assert spoolers[0]._file.closed

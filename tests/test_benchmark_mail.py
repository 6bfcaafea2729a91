"""The benchmarks' generated mailbox: mail n of a seed is the same bytes whenever it is built, so a duplicate is
its original's bytes (the figures count duplicates; a duplicate that differed would be a new application)."""

from __future__ import annotations

import time

from benchmarks.generate import kind_of, mail


def test_a_mail_is_the_same_bytes_whenever_it_is_built(monkeypatch):
    """A DOCX mail built at another time of day is the same bytes (zip entries are not dated now)."""
    docx = next(n for n in range(30) if n % 3 == 0 and kind_of(n) == "application")
    first, _ = mail(21, docx)
    later = time.localtime(time.time() + 3600)
    monkeypatch.setattr(time, "localtime", lambda *_: later)
    assert mail(21, docx)[0] == first


def test_a_duplicate_is_its_originals_bytes():
    """Each duplicate among the first 200 mails is exactly the mail it copies."""
    duplicates = [n for n in range(200) if kind_of(n) == "duplicate"]
    assert duplicates
    for n in duplicates:
        raw, spec = mail(21, n)
        assert raw == mail(21, spec.of)[0]

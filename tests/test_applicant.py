"""Applicant names: the sender's display name, else the ATS's CV parsing; never the address."""

from __future__ import annotations

import pytest

from daemon.intake.applicant import PersonName, applicant_name


@pytest.mark.parametrize(("display", "parsed", "expected"), [
    ("Jane Doe", {}, PersonName("Jane", "", "Doe")),
    ("José María Müller", {}, PersonName("José", "María", "Müller")),
    ("Doe, Jane", {}, PersonName("Jane", "", "Doe")),
    ("Cher", {}, PersonName("Cher", "", "")),
    ("", {"first_name": "John", "last_name": "Smith"}, PersonName("John", "", "Smith")),
    ("jane@example.org", {"first_name": "Jane", "last_name": "Roe"}, PersonName("Jane", "", "Roe")),
    ("", {}, None),
])
def test_name_sources_in_order(display, parsed, expected):
    """Display name first; an address posing as a name falls back to the parsed CV; neither: no name."""
    assert applicant_name(display, parsed, "jane.doe@example.org") == expected

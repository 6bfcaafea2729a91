"""Names as people write them: a display name split into first, middle and last name (a table of cases)."""

from __future__ import annotations

import pytest

from daemon.intake.applicant import PersonName, applicant_name, split_name

SURE = [
    ("Jane Doe", ("Jane", "", "Doe")),
    ("José María Müller", ("José", "María", "Müller")),
    ("Chen, Wei", ("Wei", "", "Chen")),
    ("Doe,Jane", ("Jane", "", "Doe")),
    ("van Beethoven, Ludwig", ("Ludwig", "", "van Beethoven")),
    ("Ludwig van Beethoven", ("Ludwig", "", "van Beethoven")),
    ("Jean-Claude de la Fontaine", ("Jean-Claude", "", "de la Fontaine")),
    ("Leonardo da Vinci", ("Leonardo", "", "da Vinci")),
    ("Robert De Niro", ("Robert", "", "De Niro")),
    ("Gerard ter Horst", ("Gerard", "", "ter Horst")),
    ("João dos Santos", ("João", "", "dos Santos")),
    ("Ursula von der Leyen", ("Ursula", "", "von der Leyen")),
    ("Mohammed bin Rashid", ("Mohammed", "", "bin Rashid")),
    ("Madonna", ("Madonna", "", "")),
    ("DUPONT Jean", ("Jean", "", "DUPONT")),
    ("Jean DUPONT", ("Jean", "", "DUPONT")),
    ("MÜLLER Anna Lena", ("Anna", "Lena", "MÜLLER")),
    ("Jean DE LA FONTAINE", ("Jean", "", "DE LA FONTAINE")),
    ("Wei MA", ("Wei", "", "MA")),
    ("JANE DOE", ("JANE", "", "DOE")),
    ("Dr. Anna Schmidt", ("Anna", "", "Schmidt")),
    ("Prof. Dr. Anna Schmidt", ("Anna", "", "Schmidt")),
    ("Frau Anna Schmidt", ("Anna", "", "Schmidt")),
    ("Schmidt, Anna, PhD", ("Anna", "", "Schmidt")),
    ("Anna Schmidt, PhD", ("Anna", "", "Schmidt")),
    ("Anna Schmidt PhD", ("Anna", "", "Schmidt")),
    ("John Smith MD", ("John", "", "Smith")),
    ("Martin Luther King Jr.", ("Martin", "Luther", "King Jr.")),
    ("Doe, John, Jr.", ("John", "", "Doe Jr.")),
    ("John Smith III", ("John", "", "Smith III")),
    ("Seán O'Neil", ("Seán", "", "O'Neil")),
    ("Jean d'Alembert", ("Jean", "", "d'Alembert")),
    ("J.R.R. Tolkien", ("J.R.R.", "", "Tolkien")),
    ("Mary-Jane Watson-Parker", ("Mary-Jane", "", "Watson-Parker")),
    ("\"Jane Doe\"", ("Jane", "", "Doe")),
    ("'Jane Doe'", ("Jane", "", "Doe")),
    ("“Jane Doe”", ("Jane", "", "Doe")),
    ("Jane Doe 🚀", ("Jane", "", "Doe")),
    ("🌟 Jane 🌟 Doe", ("Jane", "", "Doe")),
    ("Jane\u200d Doe\u202e", ("Jane", "", "Doe")),
    ("Karl Weber via LinkedIn", ("Karl", "", "Weber")),
    ("Jane Doe via Indeed", ("Jane", "", "Doe")),
    ("Anna Schmidt (Recruiting)", ("Anna", "", "Schmidt")),
    ("Anna Schmidt [Acme]", ("Anna", "", "Schmidt")),
    ("Anna Schmidt | Acme GmbH", ("Anna", "", "Schmidt")),
    ("Γιώργος Παπαδόπουλος", ("Γιώργος", "", "Παπαδόπουλος")),
    ("Иванов Иван Иванович", ("Иван", "Иванович", "Иванов")),
    ("Иван Иванович Иванов", ("Иван", "Иванович", "Иванов")),
    ("Петрова Анна Сергеевна", ("Анна", "Сергеевна", "Петрова")),
    ("田中 太郎", ("太郎", "", "田中")),
    ("王 伟", ("伟", "", "王")),
    ("김 민준", ("민준", "", "김")),
]

KEPT_WHOLE = [  # the order cannot be told from the name: one field, unsure (the CV's reading wins)
    "王伟",
    "田中太郎",
    "Иван Иванов",
    "محمد بن سلمان",
    "דוד כהן",
    "राहुल शर्मा",
    "Wei Chen 陈伟",
]

NOT_A_NAME = [
    "",
    "   ",
    "jane@example.org",
    "<jane@example.org>",
    "=?utf-8?q?J=C3=B6rg?=",
    "=?x-unknown?q?Jane?=",
    "karl.weber",
    "jobs_2024",
    "hr2",
    "🚀🚀",
    "(Recruiting)",
    "---",
]


@pytest.mark.parametrize(("display", "expected"), SURE, ids=[d for d, _ in SURE])
def test_a_display_name_splits_as_people_write_it(display, expected):
    """Each written form gives the first, middle and last name a person would read in it, sure of the order."""
    assert split_name(display) == PersonName(*expected)


@pytest.mark.parametrize("display", KEPT_WHOLE)
def test_a_name_whose_order_cannot_be_told_is_kept_whole(display):
    """A name of a script whose order the text does not show stays in one field, marked unsure."""
    name = split_name(display)
    assert name is not None
    assert (name.first, name.middle, name.last, name.sure) == (" ".join(display.split()), "", "", False)


@pytest.mark.parametrize("display", NOT_A_NAME)
def test_what_is_not_a_name_gives_none(display):
    """An address, an encoded word left undecoded, a local part or mere symbols is no name."""
    assert split_name(display) is None


def test_a_display_name_that_is_the_address_s_local_part_is_no_name():
    """Some clients show the local part as the display name: it is not taken for a name."""
    assert split_name("karlweber", "karlweber@talentbridge.example") is None
    assert split_name("Karl Weber", "karl.weber@talentbridge.example") == PersonName("Karl", "", "Weber")


@pytest.mark.parametrize(("display", "parsed", "expected"), [
    ("Jane Doe", {"first_name": "Janet", "last_name": "Other"}, PersonName("Jane", "", "Doe")),
    ("王伟", {"first_name": "伟", "last_name": "王"}, PersonName("伟", "", "王")),
    ("Иван Иванов", {"first_name": "Иван", "last_name": "Иванов"}, PersonName("Иван", "", "Иванов")),
    ("王伟", {}, PersonName("王伟", "", "", sure=False)),
    ("", {"first_name": "Kim", "middle_name": "J", "last_name": "Reader"}, PersonName("Kim", "J", "Reader")),
    ("", {"last_name": "Reader"}, PersonName("Reader", "", "")),
    ("karl.weber", {"first_name": "Anna", "last_name": "Berg"}, PersonName("Anna", "", "Berg")),
    ("", {}, None),
    ("karl.weber", {}, None),
    ("", {"first_name": "=?utf-8?q?x?=", "email": "anna@example.org"}, None),
])
def test_the_applicant_s_name_from_the_mail_else_the_cv_never_the_address(display, parsed, expected):
    """A sure display name wins; an unsure one gives way to the ATS's reading of the CV; neither: no name."""
    assert applicant_name(display, parsed, "karl.weber@talentbridge.example") == expected

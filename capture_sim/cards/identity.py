"""The person a card is issued to: names, dates and document number drawn from small built-in lists."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from capture_sim.validation import check_choice

SURNAMES = (
    "ERIKSSON", "MÜLLER", "NOWAK", "GARCÍA", "ROSSI", "DUBOIS", "KOWALSKI", "JANSSEN", "PAPADOPOULOS",
    "O'BRIEN", "NGUYEN", "OKAFOR", "HASSAN", "IVANOVA", "SILVA", "TANAKA", "KIM", "SINGH", "MENSAH",
    "HOFFMANN", "LINDQVIST", "MORENO", "KOVÁCS", "NIELSEN", "BERGER", "MARTIN", "HORVAT", "POPESCU",
    "VAN DER BERG", "FERREIRA", "ÖZTÜRK", "NAKAMURA", "ABBOTT", "DELACROIX", "WIŚNIEWSKA", "SCHMIDT-RÖHL",
    "CASTELLANOS", "ANDERSEN", "YILMAZ", "OKONKWO",
)  # fmt: skip
GIVEN_F = (
    "ANNA", "MARIA", "SOFIA", "ELENA", "CLARA", "AMARA", "LEILA", "HANNA", "JULIA", "INGRID", "CHLOÉ",
    "MEI", "PRIYA", "ZOE", "LUCÍA", "EMMA", "NADIA", "YUKI", "GRACE", "FATIMA", "KATARZYNA", "ASTRID",
    "ROSA", "ELIF", "NORA",
)  # fmt: skip
GIVEN_M = (
    "JOHN", "LUCAS", "MATEO", "JAN", "PIOTR", "ERIK", "AHMED", "KENJI", "DAVID", "MARCO", "LUKAS",
    "OMAR", "SAMUEL", "THOMAS", "ANDREI", "KWAME", "RAFAEL", "HENRIK", "ARJUN", "LÉON", "EMIL", "JONAS",
    "DIEGO", "MIN-JUN", "FELIX",
)  # fmt: skip

_DOC_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"  # no I / O, as many issuers avoid them next to digits


@dataclass(frozen=True)
class Identity:
    """Personal data printed on a card. Dates are calendar dates; sex is 'F' or 'M'."""

    surname: str
    given_names: str
    sex: str
    birth_date: dt.date
    issue_date: dt.date
    expiry_date: dt.date
    document_number: str

    def __post_init__(self) -> None:
        check_choice("identity.sex", self.sex, ("F", "M"))


def sample_identity(rng: np.random.Generator) -> Identity:
    """Draw a person: names from the built-in lists, birth 1945-2007, issue 2016-2025, 10-year validity."""
    sex = "F" if rng.random() < 0.5 else "M"
    given_pool = GIVEN_F if sex == "F" else GIVEN_M
    surname = SURNAMES[int(rng.integers(len(SURNAMES)))]
    n_given = 1 if rng.random() < 0.55 else 2
    picks = rng.choice(len(given_pool), size=n_given, replace=False)
    given = " ".join(given_pool[int(i)] for i in picks)
    birth = dt.date(1945, 1, 1) + dt.timedelta(days=int(rng.integers(0, 62 * 365)))
    issue = dt.date(2016, 1, 1) + dt.timedelta(days=int(rng.integers(0, 10 * 365)))
    years = 10 if rng.random() < 0.8 else 5
    expiry = issue.replace(year=issue.year + years, day=min(issue.day, 28)) - dt.timedelta(days=1)
    head = "".join(_DOC_LETTERS[int(i)] for i in rng.integers(0, len(_DOC_LETTERS), size=1 + int(rng.integers(0, 3))))
    digits = "".join(str(int(d)) for d in rng.integers(0, 10, size=9 - len(head)))
    return Identity(
        surname=surname,
        given_names=given,
        sex=sex,
        birth_date=birth,
        issue_date=issue,
        expiry_date=expiry,
        document_number=head + digits,
    )


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")


def format_date(day: dt.date, style: str) -> str:
    """Printed date in one of the styles 'dots' (31.12.1990), 'spaces' (31 12 1990), 'month' (31 DEC 1990),
    'iso' (1990-12-31)."""
    check_choice("date_style", style, ("dots", "spaces", "month", "iso"))
    if style == "dots":
        return f"{day.day:02d}.{day.month:02d}.{day.year}"
    if style == "spaces":
        return f"{day.day:02d} {day.month:02d} {day.year}"
    if style == "month":
        return f"{day.day:02d} {_MONTHS[day.month - 1]} {day.year}"
    return day.isoformat()


def yymmdd(day: dt.date) -> str:
    """Date as the 6-digit YYMMDD used in the MRZ."""
    return f"{day.year % 100:02d}{day.month:02d}{day.day:02d}"

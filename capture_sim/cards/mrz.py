"""ICAO 9303 machine readable zone for TD1 (ID-1 size) documents: 3 lines of 30 characters.

Check digits use the 7-3-1 weighting of ICAO 9303 Part 3 section 4.9: digits count as their value, letters
A..Z as 10..35, the filler '<' as 0; the check digit is the weighted sum modulo 10.
"""

from __future__ import annotations

import string
import unicodedata

from cardlive.errors import ParameterError

TD1_LINE_LENGTH = 30
FILLER = "<"
_ALLOWED = set(string.ascii_uppercase + string.digits + FILLER)
_WEIGHTS = (7, 3, 1)


def _char_value(ch: str) -> int:
    if ch.isdigit():
        return ord(ch) - ord("0")
    if "A" <= ch <= "Z":
        return ord(ch) - ord("A") + 10
    if ch == FILLER:
        return 0
    raise ParameterError(f"character {ch!r} is not allowed in an MRZ; expected 0-9, A-Z or '<'")


def mrz_check_digit(s: str) -> int:
    """ICAO 9303 check digit (0..9) of a field made of 0-9, A-Z and '<'."""
    return sum(_char_value(ch) * _WEIGHTS[i % 3] for i, ch in enumerate(s)) % 10


def mrz_name_field(surname: str, given_names: str, length: int = TD1_LINE_LENGTH) -> str:
    """Name field 'SURNAME<<GIVEN<NAMES' in MRZ characters, padded with '<' or truncated to `length`."""

    def clean(text: str) -> str:
        ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().upper()
        ascii_text = ascii_text.replace("'", "")
        out = "".join(ch if ch in _ALLOWED and ch != FILLER else FILLER for ch in ascii_text)
        return FILLER.join(part for part in out.split(FILLER) if part)

    name = clean(surname) + FILLER * 2 + clean(given_names)
    return name[:length].ljust(length, FILLER)


def _field(name: str, value: str, length: int) -> str:
    if len(value) > length or any(ch not in _ALLOWED for ch in value):
        raise ParameterError(f"{name}={value!r} must be at most {length} characters of 0-9, A-Z or '<'")
    return value.ljust(length, FILLER)


def _date(name: str, value: str) -> str:
    if len(value) != 6 or not value.isdigit():
        raise ParameterError(f"{name}={value!r} must be a date YYMMDD (6 digits)")
    return value


def td1_mrz(
    document_type: str,
    issuing_state: str,
    document_number: str,
    birth_date: str,
    sex: str,
    expiry_date: str,
    nationality: str,
    surname: str,
    given_names: str,
    optional_data_1: str = "",
    optional_data_2: str = "",
) -> list[str]:
    """The three 30-character TD1 MRZ lines (ICAO 9303 Part 5, section 4.2.2).

    Dates are YYMMDD strings, sex one of 'F', 'M', '<'; codes are 3-letter issuing state / nationality codes;
    the document number has at most 9 characters (longer numbers would need the optional-data extension,
    which is not supported).
    """
    if sex not in ("F", "M", FILLER):
        raise ParameterError(f"sex={sex!r} is not allowed; expected one of ['F', 'M', '<']")
    doc_type = _field("document_type", document_type, 2)
    state = _field("issuing_state", issuing_state, 3)
    number = _field("document_number", document_number, 9)
    opt1 = _field("optional_data_1", optional_data_1, 15)
    birth = _date("birth_date", birth_date)
    expiry = _date("expiry_date", expiry_date)
    nat = _field("nationality", nationality, 3)
    opt2 = _field("optional_data_2", optional_data_2, 11)

    line1 = doc_type + state + number + str(mrz_check_digit(number)) + opt1
    line2_head = birth + str(mrz_check_digit(birth)) + sex + expiry + str(mrz_check_digit(expiry)) + nat + opt2
    composite = line1[5:30] + line2_head[0:7] + line2_head[8:15] + line2_head[18:29]
    line2 = line2_head + str(mrz_check_digit(composite))
    line3 = mrz_name_field(surname, given_names)
    return [line1, line2, line3]


def td1_check_digits_valid(lines: list[str]) -> bool:
    """True when the lines form a well-formed TD1 MRZ whose four check digits (document number, birth date,
    expiry date, composite) are all correct."""
    if len(lines) != 3 or any(len(line) != TD1_LINE_LENGTH for line in lines):
        return False
    if any(ch not in _ALLOWED for line in lines for ch in line):
        return False
    line1, line2, _ = lines
    pairs = [
        (line1[5:14], line1[14]),
        (line2[0:6], line2[6]),
        (line2[8:14], line2[14]),
        (line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29], line2[29]),
    ]
    return all(digit.isdigit() and mrz_check_digit(field) == int(digit) for field, digit in pairs)

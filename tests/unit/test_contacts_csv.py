"""Contact list validation: what is accepted, how it is shaped, and every reason a row is
refused (``app.campaigns.contacts_csv``), plus the E.164 and duration parsing it relies on."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from app.campaigns.contacts_csv import (
    ContactList,
    agent_flow,
    iana_zone,
    parse_contacts,
    read_contacts,
    write_rejections,
)
from app.campaigns.durations import format_duration, parse_duration, parse_retry_delays
from app.campaigns.phones import check_region, normalize_phone
from app.campaigns.policy import CallResult
from app.errors import InputError

HEADER = ("phone,timezone,name,date_of_birth,external_id,context.organization,"
          "context.appointment.provider,context.appointment.start,context.appointment.location")
TAIL = "Riverside Clinic,Dr. Patel,2026-11-24T15:30:00,Main Street"


def _parse(*rows: str, header: str = HEADER, region: str | None = None,
           agent: str = "appointment_confirmation") -> ContactList:
    text = "\n".join([header, *rows]) + "\n"
    return parse_contacts(io.StringIO(text, newline=""), agent_flow(agent), region)


def _reasons(found: ContactList) -> dict[int, str]:
    return {rejection.line: rejection.reason for rejection in found.rejected}


def test_a_good_row_is_normalised_and_nested() -> None:
    found = _parse(f"(212) 555-0143,america/new_york,Maria Lopez,1984-03-12,A-1,{TAIL}",
                   region="us")
    assert found.rejected == []
    [contact] = found.accepted
    assert (contact.line, contact.phone, contact.timezone) == (2, "+12125550143",
                                                              "America/New_York")
    assert contact.contact == {"phone": "+12125550143", "timezone": "America/New_York",
                               "name": "Maria Lopez", "date_of_birth": "1984-03-12",
                               "external_id": "A-1"}
    assert contact.context == {"organization": "Riverside Clinic", "appointment": {
        "provider": "Dr. Patel", "start": "2026-11-24T15:30:00", "location": "Main Street"}}


@pytest.mark.parametrize(("row", "reason"), [
    (f"+1555,UTC,Ann,1980-01-02,A,{TAIL}", "phone: '+1555' has too few digits"),
    (f"+1212555014399999,UTC,Ann,1980-01-02,A,{TAIL}", "phone: '+1212555014399999' has too many"),
    (f"+11235550143,UTC,Ann,1980-01-02,A,{TAIL}", "phone: '+11235550143' is not a valid "
                                                  "number for region US"),
    (f"2125550143,UTC,Ann,1980-01-02,A,{TAIL}", "phone: '2125550143' has no country code"),
    (f"call me,UTC,Ann,1980-01-02,A,{TAIL}", "phone: 'call me' is not a phone number"),
    (f"+12125550143 ext. 7,UTC,Ann,1980-01-02,A,{TAIL}", "phone: '+12125550143 ext. 7' has an "
                                                         "extension"),
    (f",UTC,Ann,1980-01-02,A,{TAIL}", "phone: missing"),
    (f"+12125550143,EST,Ann,1980-01-02,A,{TAIL}", "timezone: 'EST' is not an IANA"),
    (f"+12125550143,-05:00,Ann,1980-01-02,A,{TAIL}", "timezone: '-05:00' is not an IANA"),
    (f"+12125550143,Etc/GMT+5,Ann,1980-01-02,A,{TAIL}", "timezone: 'Etc/GMT+5' is not"),
    (f"+12125550143,,Ann,1980-01-02,A,{TAIL}", "timezone: missing"),
    (f"+12125550143,UTC,,,A,{TAIL}", "appointment_confirmation needs contact.name, "
                                     "contact.date_of_birth"),
    ("+12125550143,UTC,Ann,1980-01-02,A,,Dr. P,2026-11-24T15:30:00,",
     "appointment_confirmation needs context.organization, context.appointment.location"),
    (f"+12125550143,UTC,Ann,02/01/1980,A,{TAIL}", "contact.date_of_birth: not a date"),
    ("+12125550143,UTC,Ann,1980-01-02,A,Clinic,Dr. P,next week,Main",
     "not an ISO date and time: 'next week'"),
    ("+12125550143,UTC,Ann,1980-01-02,A,Clinic", "6 cells, but the header has 9 columns"),
])
def test_each_bad_row_is_refused_with_its_reason(row: str, reason: str) -> None:
    found = _parse(row)
    assert found.accepted == []
    assert len(found.rejected) == 1 and found.rejected[0].line == 2
    assert found.rejected[0].reason.startswith(reason), found.rejected[0].reason


def test_a_duplicate_names_the_first_line_and_blank_rows_are_skipped() -> None:
    found = _parse(f"+12125550143,UTC,Ann,1980-01-02,A,{TAIL}",
                   ",,,,,,,,",
                   "",
                   f"+1 (212) 555-0143,Europe/London,Bob,1970-05-06,B,{TAIL}",
                   f"+12125550144,UTC,Cy,1970-05-06,C,{TAIL}")
    assert [c.line for c in found.accepted] == [2, 6]
    assert _reasons(found) == {5: "phone: the same number as line 2"}


def test_a_refused_first_row_does_not_make_its_number_a_duplicate() -> None:
    found = _parse(f"+12125550143,EST,Ann,1980-01-02,A,{TAIL}",
                   f"+12125550143,UTC,Ann,1980-01-02,A,{TAIL}")
    assert [c.line for c in found.accepted] == [3]
    assert list(_reasons(found)) == [2]


def test_line_numbers_follow_quoted_cells_over_several_lines() -> None:
    found = _parse(f'+12125550143,UTC,"Ann\nMarie",1980-01-02,A,{TAIL}',
                   f"+12125550144,EST,Bob,1980-01-02,B,{TAIL}")
    assert found.accepted[0].contact["name"] == "Ann\nMarie"
    assert _reasons(found).keys() == {4}


def test_utf8_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes("\ufeff".encode() + f"{HEADER}\n+12125550143,UTC,José Ñúñez,"
                     f"1980-01-02,A,{TAIL}\n".encode())
    found = read_contacts(path, "appointment_confirmation")
    assert found.accepted[0].contact["name"] == "José Ñúñez"
    assert found.accepted[0].phone == "+12125550143"  # the BOM is not part of "phone"


def test_a_file_that_is_not_utf8_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_bytes(f"{HEADER}\n+12125550143,UTC,Jos".encode() + b"\xe9,1980-01-02\n")
    with pytest.raises(InputError, match="not UTF-8"):
        read_contacts(path, "appointment_confirmation")


@pytest.mark.parametrize(("header", "problem"), [
    ("", "the contact list is empty"),
    ("timezone,name,date_of_birth", "header: no phone column"),
    ("phone,name,date_of_birth", "header: no timezone column"),
    ("phone,timezone,,name", "header: column 3 has no name"),
    ("phone,timezone,Phone", "header: column 'Phone' appears twice"),
    ("phone,timezone,context.a,context.a.b", "header: 'context.a' and 'context.a.b'"),
    ("phone,timezone,context..a", "header: 'context..a' is not a context path"),
])
def test_a_bad_header_refuses_the_file(header: str, problem: str) -> None:
    with pytest.raises(InputError, match=re.escape(problem)):
        _parse(header=header)


def test_an_unknown_agent_names_the_known_ones() -> None:
    with pytest.raises(InputError, match=r"unknown agent 'bank'.*appointment_confirmation"):
        agent_flow("bank")


def test_each_agent_requires_its_own_context() -> None:
    header = "phone,timezone,name,date_of_birth,context.organization,context.product"
    found = _parse("+12125550143,UTC,Ann,1980-01-02,Bank,Checking", header=header,
                   agent="welcome_call")
    assert _reasons(found) == {2: "welcome_call needs context.opened, context.card_last4"}


def test_rejections_report(tmp_path: Path) -> None:
    found = _parse(f"+1555,UTC,Ann,1980-01-02,A,{TAIL}", f"+12125550143,EST,B,1980-01-02,B,"
                   f"{TAIL}")
    report = tmp_path / "rejects.csv"
    write_rejections(report, found.rejected)
    lines = report.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "line,reason"
    assert [line.split(",")[0] for line in lines[1:]] == ["2", "3"]


def test_zone_names_and_regions() -> None:
    assert iana_zone(" utc ") == "UTC"
    assert iana_zone("US/Eastern") == "US/Eastern"  # an IANA link: still a place
    with pytest.raises(ValueError, match="not an IANA"):
        iana_zone("CET")
    assert check_region(" gb ") == "GB"
    assert check_region(None) is None
    with pytest.raises(InputError, match="--region 'XX'"):
        check_region("XX")
    assert normalize_phone("020 7946 0000", "GB") == "+442079460000"


def test_durations() -> None:
    assert [parse_duration(t) for t in ("90s", "30m", "2h", "1d", "1h30m", "0.5s")] == [
        90, 1800, 7200, 86400, 5400, 0.5]
    for bad in ("", "5", "2 hours", "h", "-1s"):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)
    assert parse_retry_delays("no_answer=2h, busy=30m") == {CallResult.NO_ANSWER: 7200,
                                                            CallResult.BUSY: 1800}
    with pytest.raises(ValueError, match="'answered=1h': expected"):
        parse_retry_delays("answered=1h")
    assert [format_duration(s) for s in (86400, 7200, 1800, 90, 0.5)] == [
        "1d", "2h", "30m", "90s", "0.5s"]

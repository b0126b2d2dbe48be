"""A campaign's contact list from CSV: every row checked before anything is stored.

The file is UTF-8 (a byte-order mark is fine) with a header. ``phone`` and ``timezone`` are
required columns; ``name`` and ``date_of_birth`` are required values (the agent verifies
the person with them); ``context.a.b`` columns nest into the context the agent reads
(``context.appointment.start``); any other column (``external_id``) goes into the contact.
A row is checked the way a scenario's ``contact`` and ``context`` are
(``dialog.catalog.check_setup``), so a campaign never dials someone its agent cannot talk to.

Rows that fail are listed with their line and the reason; they are for the operator's
report and never reach a log (they quote what the row holds).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import available_timezones

from app.campaigns.phones import normalize_phone
from app.campaigns.store import NewContact
from app.db import utc_now
from app.errors import InputError
from dialog.agent import ConversationSetup
from dialog.catalog import check_setup, load_flows
from dialog.flow_spec import Flow

PHONE = "phone"
TIMEZONE = "timezone"
CONTEXT_PREFIX = "context."


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str


@dataclass
class ContactList:
    """What a file held: the rows to import and the rows refused, by line."""

    accepted: list[NewContact] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)


@dataclass(frozen=True)
class _Column:
    """Where a CSV column's values go: ``("contact", ("external_id",))`` or
    ``("context", ("appointment", "start"))``."""

    part: str
    path: tuple[str, ...]


class _RowRejected(ValueError):
    pass


def agent_flow(agent: str) -> Flow:
    """The flow of a campaign agent; an ``InputError`` naming the known ones otherwise."""
    flows = load_flows()
    if agent not in flows:
        raise InputError(f"unknown agent '{agent[:60]}': campaigns can use "
                         f"{', '.join(sorted(flows))}")
    return flows[agent]


def read_contacts(path: Path, agent: str, region: str | None = None,
                  now: datetime | None = None) -> ContactList:
    """Every row of the CSV file ``path``, checked for ``agent``'s flow. A file that cannot
    be read at all (no header, no phone column, not UTF-8) raises ``InputError``."""
    flow = agent_flow(agent)
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            return parse_contacts(file, flow, region, now)
    except UnicodeDecodeError as error:
        raise InputError(f"{path}: not UTF-8 text (byte {error.start})") from None


def parse_contacts(text: Iterable[str], flow: Flow, region: str | None = None,
                   now: datetime | None = None) -> ContactList:
    """``text`` (lines of CSV, as an open file gives them) read into contacts for ``flow``."""
    result = ContactList()
    rows = _numbered_rows(text)
    header = next(rows, None)
    if header is None or not any(cell.strip() for cell in header[1]):
        raise InputError("the contact list is empty or its first line is: it needs a header "
                         "(phone,timezone,name,date_of_birth,...)")
    columns = _columns(header[1])
    first_line: dict[str, int] = {}
    when = now or utc_now()
    for line, cells in rows:
        if not any(cell.strip() for cell in cells):
            continue  # a blank row
        try:
            contact = _contact(line, cells, columns, flow, region, when)
            if contact.phone in first_line:
                raise _RowRejected(f"phone: the same number as line {first_line[contact.phone]}")
        except _RowRejected as rejected:
            result.rejected.append(Rejection(line, str(rejected)))
            continue
        first_line[contact.phone] = line
        result.accepted.append(contact)
    return result


def _numbered_rows(text: Iterable[str]) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the line each starts on (a quoted cell may span lines)."""
    reader = csv.reader(text)
    start = 1
    try:
        for cells in reader:
            yield start, cells
            start = reader.line_num + 1
    except csv.Error as error:
        raise InputError(f"line {reader.line_num}: {error}") from None


def _columns(header: list[str]) -> list[_Column]:
    columns: list[_Column] = []
    for number, written in enumerate(header, start=1):
        name = written.strip()
        if not name:
            raise InputError(f"header: column {number} has no name")
        if name.startswith(CONTEXT_PREFIX):
            column = _Column("context", tuple(name[len(CONTEXT_PREFIX):].split(".")))
            if not all(column.path):
                raise InputError(f"header: '{name[:60]}' is not a context path like "
                                 "context.appointment.start")
        else:
            column = _Column("contact", (name.lower(),))
        if column in columns:
            raise InputError(f"header: column '{name[:60]}' appears twice")
        columns.append(column)
    _check_paths([c.path for c in columns if c.part == "context"])
    missing = [n for n in (PHONE, TIMEZONE) if _Column("contact", (n,)) not in columns]
    if missing:
        raise InputError(f"header: no {' or '.join(missing)} column; the list needs "
                         "phone,timezone,name,date_of_birth and the agent's context columns")
    return columns


def _check_paths(paths: list[tuple[str, ...]]) -> None:
    """``context.a`` and ``context.a.b`` cannot both hold a value."""
    for path in paths:
        for other in paths:
            if len(other) > len(path) and other[:len(path)] == path:
                raise InputError(f"header: 'context.{'.'.join(path)}' and "
                                 f"'context.{'.'.join(other)}' cannot both be columns")


def _contact(line: int, cells: list[str], columns: list[_Column], flow: Flow,
             region: str | None, now: datetime) -> NewContact:
    if len(cells) != len(columns):
        raise _RowRejected(f"{len(cells)} cells, but the header has {len(columns)} columns")
    contact: dict[str, Any] = {}
    context: dict[str, Any] = {}
    for column, cell in zip(columns, cells, strict=True):
        value = cell.strip()
        if value:
            _put(contact if column.part == "contact" else context, column.path, value)
    try:
        contact[PHONE] = normalize_phone(contact.get(PHONE, ""), region)
        contact[TIMEZONE] = iana_zone(contact.get(TIMEZONE, ""))
        check_setup(flow, ConversationSetup(contact=contact, context=context, now=now))
    except ValueError as error:
        raise _RowRejected(str(error)) from None
    return NewContact(line=line, phone=contact[PHONE], timezone=contact[TIMEZONE],
                      contact=contact, context=context)


def _put(target: dict[str, Any], path: tuple[str, ...], value: str) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def iana_zone(name: str) -> str:
    """The IANA name (``America/New_York``, or ``UTC``) for ``name`` in any letter case;
    ``ValueError`` for abbreviations (``EST``) and offsets (``-05:00``, ``Etc/GMT+5``),
    which say nothing about daylight saving where the contact lives."""
    written = name.strip()
    if not written:
        raise ValueError("timezone: missing")
    zone = _zones().get(written.lower())
    if zone is None:
        raise ValueError(f"timezone: '{written[:40]}' is not an IANA time zone name such as "
                         "America/New_York or Europe/London")
    return zone


@cache
def _zones() -> dict[str, str]:
    """Lower-cased name -> IANA name, for the place names (Area/Location) and UTC."""
    names = {zone for zone in available_timezones()
             if "/" in zone and not zone.startswith("Etc/")}
    return {zone.lower(): zone for zone in names | {"UTC", "Etc/UTC"}}


def write_rejections(path: Path, rejected: Iterable[Rejection]) -> None:
    """The report of refused rows: ``line,reason``."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["line", "reason"])
        writer.writerows([r.line, r.reason] for r in rejected)

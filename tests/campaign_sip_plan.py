"""The contacts of a SIP campaign test or benchmark: which kinds of callee, in which time
zones, and a calling window chosen from the current time so that three zones are inside it
and a fourth opens about a minute later (the campaign shows deferral across zones).

Zones come from real cities, one at nearly every UTC offset, so that at any moment some city
is early enough in its day for the window to open there soon while three others are later
in the same day.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.campaign_sipp import DATE_OF_BIRTH, Kind, number

CITIES = (
    "Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver",
    "America/Chicago", "America/New_York", "America/Halifax", "America/Sao_Paulo",
    "Atlantic/South_Georgia", "Atlantic/Azores", "Europe/London", "Europe/Berlin",
    "Europe/Athens", "Europe/Moscow", "Asia/Dubai", "Asia/Karachi", "Asia/Dhaka",
    "Asia/Bangkok", "Asia/Shanghai", "Asia/Tokyo", "Australia/Brisbane", "Pacific/Noumea",
    "Pacific/Auckland", "Pacific/Kiritimati",
)
WINDOW_END = time(23, 59)
ROOM = timedelta(minutes=20)  # the test's length, with margin: nobody's window may close in it
ORGANIZATION = "Riverside Clinic"
CALLBACK_NUMBER = "+1 800 555 0199"
PERSONS = ("John Smith", "Ana Silva", "Robert Chen", "Linda Park", "David Brown",
           "Emma Wilson", "James Taylor", "Sofia Rossi")
ASR_PROMPT = "Riverside Clinic, Maria Lopez, Dr. Patel, " + ", ".join(PERSONS) + "."


@dataclass(frozen=True)
class WindowPlan:
    """A window ``start``-23:59 (every day): ``inside`` zones are in it now; ``later``'s
    opens at ``opens_at`` (UTC)."""

    start: time
    opens_at: datetime
    inside: tuple[str, ...]
    later: str

    @property
    def window(self) -> str:
        return f"{self.start:%H:%M}-{WINDOW_END:%H:%M}"

    @property
    def zones(self) -> tuple[str, ...]:
        return (*self.inside, self.later)


def _clock(at: datetime, zone: str) -> datetime:
    return at.astimezone(ZoneInfo(zone)).replace(tzinfo=None)


def plan_window(now: datetime, lead: timedelta = timedelta(seconds=75),
                room: timedelta = ROOM) -> WindowPlan:
    """The window for a run starting at ``now`` (UTC): it opens in the ``later`` zone at the
    first whole minute after ``now + lead``; three zones are inside it from ``now`` until
    well after the run (their local day has more than ``room`` left before 23:59)."""
    opens_at = (now + lead).replace(second=0, microsecond=0) + timedelta(minutes=1)
    def morning_first(zone: str) -> tuple[bool, time]:  # an office-hours window reads best
        local = _clock(now, zone).time()
        return not time(8) <= local < time(12), local

    for later in sorted(CITIES, key=morning_first):
        start = _clock(opens_at, later)
        local_now = _clock(now, later)
        if start.date() != local_now.date() or start + room > start.replace(
                hour=WINDOW_END.hour, minute=WINDOW_END.minute):
            continue  # the opening must be later the same day, well before the end
        inside = [zone for zone in CITIES
                  if _inside_throughout(_clock(now, zone), start.time(), room)]
        if len(inside) >= 3:
            spread = inside[:: max(1, len(inside) // 3)][:3]
            return WindowPlan(start.time(), opens_at, tuple(spread), later)
    raise AssertionError(f"no four zones fit a window at {now:%H:%M} UTC")


def _inside_throughout(clock: datetime, start: time, room: timedelta) -> bool:
    """A zone whose local ``clock`` is in the window, with ``room`` left before it closes
    (and before midnight)."""
    opened = datetime.combine(clock.date(), start) + timedelta(minutes=2)
    return opened <= clock and clock + room <= datetime.combine(clock.date(), WINDOW_END)


def in_window(at: datetime, zone: str, start: time, end: time = WINDOW_END) -> bool:
    local = at.astimezone(ZoneInfo(zone)).time()
    return start <= local < end


@dataclass(frozen=True)
class ContactRow:
    phone: str
    kind: Kind
    timezone: str
    name: str


def contact_rows(mix: dict[Kind, int], zones: Sequence[str]) -> list[ContactRow]:
    """``mix[kind]`` contacts of each kind, dealt round the zones in turn. People who
    confirm are all Maria Lopez (their recording says so and keys her date of birth)."""
    rows: list[ContactRow] = []
    zone_cycle = itertools.cycle(zones)
    names = itertools.cycle(PERSONS)
    for kind, count in mix.items():
        for index in range(count):
            name = "Maria Lopez" if kind is Kind.CONFIRMS else next(names)
            rows.append(ContactRow(number(kind, index), kind, next(zone_cycle), name))
    return rows


def appointment(zone: str, today: date) -> str:
    """An appointment three days ahead, 15:30 where the contact lives."""
    day = today + timedelta(days=3)
    return datetime.combine(day, time(15, 30), ZoneInfo(zone)).isoformat()


CSV_HEADER = ("phone", "timezone", "name", "date_of_birth", "external_id",
              "context.organization", "context.callback_number",
              "context.appointment.provider", "context.appointment.start",
              "context.appointment.location")


def context_of(row: ContactRow, today: date) -> dict[str, object]:
    return {"organization": ORGANIZATION, "callback_number": CALLBACK_NUMBER,
            "appointment": {"provider": "Dr. Patel", "start": appointment(row.timezone, today),
                            "location": "the Main Street office"}}


def write_contacts(path: Path, rows: Sequence[ContactRow], today: date) -> Path:
    with path.open("w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(CSV_HEADER)
        for line, row in enumerate(rows):
            context = context_of(row, today)
            writer.writerow([row.phone, row.timezone, row.name, DATE_OF_BIRTH, f"c{line:04d}",
                             context["organization"], context["callback_number"], "Dr. Patel",
                             appointment(row.timezone, today), "the Main Street office"])
    return path


def campaign_env(gateway_port: int, data_dir: Path, rtp_low: int, rtp_ports: int = 1200,
                 ) -> dict[str, str]:
    """Environment of the CLI (or the settings of an in-process dialer) for a campaign
    against the SIPp callees: short ring and silence timeouts, calls of at most three minutes
    (a stuck one ends instead of holding the run), a wide RTP range (every call sends from a
    port of its own)."""
    return {"AVA_DATA_DIR": str(data_dir), "DATABASE_URL": "",
            "AVA_SIP__CAMPAIGN_GATEWAY": f"127.0.0.1:{gateway_port}",
            "AVA_SIP__RING_TIMEOUT_S": "3", "AVA_SIP__RTP_PORT_MIN": str(rtp_low),
            "AVA_SIP__RTP_PORT_MAX": str(rtp_low + rtp_ports),
            "AVA_VOICE__SILENCE_TIMEOUT_S": "4", "AVA_VOICE__MAX_CALL_S": "180",
            "AVA_VOICE__ASR_PROMPT": ASR_PROMPT,
            "AVA_LOG_LEVEL": "warning"}

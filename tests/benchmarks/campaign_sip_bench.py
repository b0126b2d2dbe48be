"""SIP campaign benchmark: a campaign of ``AVA_BENCH_CAMPAIGN_CONTACTS`` contacts (default
1,000) over four time zones, dialled by the real ``SipCarrier`` (speech models, dialogue
layer, answering-machine detection) at the SIPp callees of the campaign test: people who
opt out, confirm or stay silent, answering machines, busy lines, lines that ring out,
unknown numbers and numbers on the do-not-call list. One dialer in this process, up to
``AVA_BENCH_CAMPAIGN_CALLS`` calls at once (default 6); SQLite in a temporary folder.

Figures: the campaign's duration and calls per hour (dials placed, and calls answered),
the time from the answer to the agent's first audio (people and machines separately: a
machine gets its message only after its beep), the detection's reasons, the attempts by
result, the contacts by final status and outcome, and a check of the database's attempts
against SIPp's own record of the calls it received.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from app.campaigns.claims import CallReport, Claim
from app.campaigns.dialer import CampaignDialer, DialerConfig
from app.campaigns.do_not_call import DoNotCallList
from app.campaigns.policy import (
    AttemptPolicy,
    CallingWindow,
    CallResult,
    CampaignOptions,
)
from app.campaigns.sip_carrier import PlacedCall, SipCarrier
from app.campaigns.store import CampaignStore, NewContact
from app.channels.sip_settings import SipSettings
from app.config import Settings
from app.db import database_url, open_engine
from tests.campaign_sip_plan import (
    ASR_PROMPT,
    WINDOW_END,
    ContactRow,
    contact_rows,
    context_of,
    plan_window,
)
from tests.campaign_sipp import (
    DATE_OF_BIRTH,
    Kind,
    StreamRecorder,
    read_messages,
    sipp_callees,
    write_pcaps,
)
from tests.ports import free_rtp_range, free_udp_tcp_port
from voice.latency import summarize

Report = Callable[[str], None]
# Per 100 contacts: mostly lines that do not lead to a conversation, as in a real list.
MIX_PER_100 = {Kind.OPTS_OUT: 4, Kind.CONFIRMS: 1, Kind.SILENT: 1, Kind.VOICEMAIL: 6,
               Kind.BUSY: 30, Kind.NO_ANSWER: 29, Kind.HANGS_UP: 1, Kind.UNKNOWN: 10,
               Kind.LISTED: 18}
RETRY_S = 20.0
MAX_ATTEMPTS = 2
PROGRESS_EVERY_S = 30.0
SEED = 20261124


def _mix(contacts: int) -> dict[Kind, int]:
    mix = {kind: share * contacts // 100 for kind, share in MIX_PER_100.items()}
    mix[Kind.BUSY] += contacts - sum(mix.values())
    return mix


def _options(window: CallingWindow, calls: int) -> CampaignOptions:
    delays = {result: RETRY_S for result in (CallResult.BUSY, CallResult.NO_ANSWER,
                                             CallResult.VOICEMAIL, CallResult.FAILED)}
    return CampaignOptions(window=window, max_concurrent=calls, attempts=AttemptPolicy(
        max_attempts=MAX_ATTEMPTS, retry_delay_s=delays, min_gap_s=RETRY_S))


def _contacts(rows: list[ContactRow]) -> list[NewContact]:
    today = date.today()
    return [NewContact(line=line, phone=row.phone, timezone=row.timezone,
                       contact={"phone": row.phone, "timezone": row.timezone,
                                "name": row.name, "date_of_birth": DATE_OF_BIRTH,
                                "external_id": f"c{line:05d}"},
                       context=context_of(row, today))
            for line, row in enumerate(rows, start=2)]


def _settings(base: Settings, folder: Path, gateway: int) -> Settings:
    rtp = free_rtp_range(4001)
    sip = SipSettings(campaign_gateway=f"127.0.0.1:{gateway}", ring_timeout_s=3,
                      rtp_port_min=rtp, rtp_port_max=rtp + 4000)
    voice = base.voice.model_copy(update={"silence_timeout_s": 4, "asr_prompt": ASR_PROMPT})
    return base.model_copy(update={"data_dir": folder, "database_url": None, "sip": sip,
                                   "voice": voice})


class _Progress:
    def __init__(self, report: Report, contacts: int) -> None:
        self._report, self._contacts = report, contacts
        self.results: Counter[str] = Counter()
        self._started = self._last = time.monotonic()

    def on_call(self, _claim: Claim, report: CallReport) -> None:
        self.results[str(report.result)] += 1
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_S:
            self._last = now
            self._report(f"{now - self._started:.0f} s: {sum(self.results.values())} calls "
                         f"{dict(self.results)}")


async def _campaign(settings: Settings, contacts: int, calls: int, report: Report,
                    ) -> dict[str, Any]:
    plan = plan_window(datetime.now(UTC), room=timedelta(hours=2))
    rows = contact_rows(_mix(contacts), plan.zones)
    random.Random(SEED).shuffle(rows)  # kinds mixed through the list, as in a real one
    with TemporaryDirectory(prefix="campaign-sip-") as temporary, StreamRecorder() as recorder:
        folder = Path(temporary)
        gateway = free_udp_tcp_port()
        pcaps = write_pcaps(folder / "pcaps")
        with sipp_callees(folder / "sipp", gateway, recorder.port, pcaps):
            local = _settings(settings, folder, gateway)
            engine = await open_engine(database_url(None, folder))
            try:
                store = CampaignStore(engine)
                listed = frozenset(row.phone for row in rows if row.kind is Kind.LISTED)
                await DoNotCallList(engine).add(listed, "manual")
                window = CallingWindow(start=plan.start, end=WINDOW_END)
                campaign, _ = await store.create("bench", "appointment_confirmation",
                                                 _options(window, calls), _contacts(rows),
                                                 None, listed)
                await store.move(campaign.id, "start")
                figures = await _dial(local, store, campaign.id, calls, report, contacts)
                figures["window"] = {"hours": window.describe(), "zones_open": plan.inside,
                                     "zone_opening_later": plan.later}
                attempts = [a for a in await store.attempts(campaign.id) if a.dialed_at]
                figures["contacts_by_final_status"] = await store.counts(campaign.id)
                figures["outcomes"] = await store.outcomes(campaign.id)
                figures["attempts_by_result"] = await store.results(campaign.id)
            finally:
                await engine.dispose()
        network = read_messages(folder / "sipp" / "messages.log")
    figures["sipp_calls_received"] = len(network)
    figures["database_attempts_dialled"] = len(attempts)
    return figures


async def _dial(settings: Settings, store: CampaignStore, campaign_id: str, calls: int,
                report: Report, contacts: int) -> dict[str, Any]:
    progress = _Progress(report, contacts)
    config = DialerConfig(max_calls=calls, until_done=True, campaign_ids=(campaign_id,))
    loading = time.monotonic()
    async with SipCarrier(settings) as carrier:
        report(f"models loaded in {time.monotonic() - loading:.0f} s; dialling")
        started = time.monotonic()
        await CampaignDialer(store, carrier, config, on_call=progress.on_call).run()
        duration = time.monotonic() - started
    placed = carrier.placed
    spoke = [p for p in placed if p.result in (CallResult.ANSWERED, CallResult.VOICEMAIL)]
    return {
        "campaign_duration_s": round(duration, 1),
        "calls_placed": len(placed),
        "calls_per_hour": round(len(placed) / duration * 3600),
        "answered_calls_per_hour": round(len(spoke) / duration * 3600),
        "answer_to_first_agent_audio_ms": _first_audio(spoke),
        "call_duration_s": {str(result): summarize([p.duration_s for p in placed
                                                    if p.result is result])
                            for result in sorted({p.result for p in placed})},
    }


def _first_audio(spoke: list[PlacedCall]) -> dict[str, Any]:
    """From the answer to the agent's first audio, by what the detection decided: a person
    who greeted (short or middling greeting), one who said nothing (5 s of silence), a
    machine (its message goes out once the beep has ended)."""
    groups = {"person_greeted": ("short_greeting", "middling_greeting"),
              "person_silent": ("silence",),
              "machine": ("long_greeting", "beep", "machine_phrase")}
    figures: dict[str, Any] = {
        name: summarize([p.first_agent_audio_s for p in spoke
                         if p.screening in reasons and p.first_agent_audio_s is not None],
                        unit_scale=1000)
        for name, reasons in groups.items()}
    figures["screening"] = dict(Counter(p.screening for p in spoke))
    return figures


def run(settings: Settings, report: Report) -> dict[str, Any]:
    contacts = int(os.environ.get("AVA_BENCH_CAMPAIGN_CONTACTS", "1000"))
    calls = int(os.environ.get("AVA_BENCH_CAMPAIGN_CALLS", "6"))
    report(f"{contacts} contacts, up to {calls} calls at once")
    figures: dict[str, Any] = {
        "setup": {"contacts": contacts, "max_calls": calls, "max_attempts": MAX_ATTEMPTS,
                  "retry_s": RETRY_S, "ring_timeout_s": 3,
                  "mix_per_100": {kind.name.lower(): n for kind, n in MIX_PER_100.items()},
                  "callees": "one SIPp process on loopback (recorded speech, beeps, 486, "
                             "404, ringing); SQLite"}}
    figures.update(asyncio.run(_campaign(settings, contacts, calls, report)))
    return figures

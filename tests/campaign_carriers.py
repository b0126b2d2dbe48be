"""Test doubles of the carrier (never of the database) for campaign CLI tests, plugged in
with ``--carrier tests.campaign_carriers:InstantCarrier``.

``InstantCarrier`` answers by the last digit of the number, so a test knows each contact's
fate from its phone alone: 0-4 answered (outcome ``confirmed``), 5 answered and the person
asks not to be called again, 6 busy, 7 no answer, 8 voicemail, 9 failed.
"""

from __future__ import annotations

import asyncio

from app.campaigns.carrier import Carrier
from app.campaigns.claims import CallReport, Claim
from app.campaigns.policy import CallResult

RESULT_BY_DIGIT = {"6": CallResult.BUSY, "7": CallResult.NO_ANSWER, "8": CallResult.VOICEMAIL,
                   "9": CallResult.FAILED}
OPT_OUT_DIGIT = "5"
OUTCOME = "confirmed"


def expected_report(phone: str) -> CallReport:
    digit = phone[-1]
    if digit in RESULT_BY_DIGIT:
        return CallReport(RESULT_BY_DIGIT[digit], detail=f"simulated {RESULT_BY_DIGIT[digit]}")
    if digit == OPT_OUT_DIGIT:
        return CallReport(CallResult.ANSWERED, opted_out=True)
    return CallReport(CallResult.ANSWERED, outcome=OUTCOME)


class InstantCarrier(Carrier):
    """Every call takes a few milliseconds and ends as ``expected_report`` says."""

    async def place(self, claim: Claim) -> CallReport:
        await asyncio.sleep(0.01)
        report = expected_report(claim.phone)
        if report.result == CallResult.ANSWERED:
            conversation = f"sim-{claim.contact_id}-{claim.attempt}"
            return CallReport(report.result, report.outcome, report.opted_out, conversation)
        return report


class SlowCarrier(Carrier):
    """Every call is answered after two seconds: long enough to stop a dialer mid-call."""

    async def place(self, claim: Claim) -> CallReport:
        await asyncio.sleep(2.0)
        return CallReport(CallResult.ANSWERED, OUTCOME, conversation_id=f"slow-{claim.line}")

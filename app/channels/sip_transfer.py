"""Blind transfer of an answered SIP call to a person: REFER (RFC 3515) in the call's dialog.

Once the agent has said its transfer line, the server sends REFER with ``Refer-To`` the
configured destination, ``Referred-By`` the address the caller called, and a short redacted
summary of the conversation in ``X-Ava-Summary`` (the whole summary is in the call
record). The caller's user agent answers 202 and reports how its call to the destination
goes in NOTIFYs carrying a ``message/sipfrag`` status line (aiosipua answers each with 200
and hands the status to ``progress``). ``SIP/2.0 200`` there means the transfer connected;
a failure status, an error answer to the REFER (403, 405, 501...), or nothing final within
the timeout means it did not. Either way the server then ends its own leg with BYE; what
happened is reported for the call record.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import structlog
from aiosipua import Dialog, DialogState, SipRequest, SipResponse
from aiosipua.transport import SipTransport
from aiosipua.utils import format_addr

from app.channels.sip_signalling import USER_AGENT, transport_name
from app.redaction import redact_text

log = structlog.get_logger(__name__)
SUMMARY_HEADER = "X-Ava-Summary"
SUMMARY_MAX_CHARS = 200
_T1, _T2 = 0.5, 4.0  # RFC 3261 timer E: REFER sent again over UDP until answered
_UNSAFE = re.compile(r"[\x00-\x1f\x7f]+")


class TransferResult(StrEnum):
    CONNECTED = "connected"  # the sipfrag said 2xx: the caller is through to the person
    REFUSED = "refused"  # the REFER got an error response
    FAILED = "failed"  # accepted, but the caller's call to the destination failed
    TIMED_OUT = "timed_out"  # no final answer or final NOTIFY in time
    CALLER_LEFT = "caller_left"  # the caller's side sent BYE first
    ABANDONED = "abandoned"  # the server stopped first


@dataclass(frozen=True)
class TransferReport:
    result: TransferResult
    accepted: bool  # the REFER was answered 2xx
    status: int | None = None  # the REFER's error status, or the sipfrag's final one

    def slots(self) -> dict[str, Any]:
        """What the call record keeps (the outcome itself stays ``transferred``)."""
        return {"transfer_result": self.result.value, "transfer_accepted": self.accepted,
                "transfer_status": self.status}


@dataclass
class _Pending:
    request: SipRequest
    answered: asyncio.Event = field(default_factory=asyncio.Event)  # any response
    done: asyncio.Event = field(default_factory=asyncio.Event)
    accepted: bool = False
    result: TransferResult | None = None
    status: int | None = None

    def finish(self, result: TransferResult, status: int | None = None) -> None:
        if self.result is None:
            self.result, self.status = result, status
        self.done.set()


def summary_header(summary: str) -> str:
    """The summary as one short header value: redacted, no control characters, its last
    ``SUMMARY_MAX_CHARS`` (the latest turns, which say why the caller wants a person)."""
    text = " ".join(_UNSAFE.sub(" ", redact_text(summary)).split())
    if len(text) > SUMMARY_MAX_CHARS:
        text = "..." + text[-(SUMMARY_MAX_CHARS - 3):].lstrip()
    return text


class Transfers:
    """REFERs in progress, one per call; ``response_received`` and ``progress`` are fed
    from the transport (``watch_transfers``) and the user agent (``on_transfer_progress``)."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._pending: dict[str, _Pending] = {}

    async def transfer(self, transport: SipTransport, dialog: Dialog,
                       address: tuple[str, int], local: tuple[str, int], destination: str,
                       summary: str) -> TransferReport:
        """Send REFER to ``destination`` in ``dialog`` and wait for how it ends."""
        if dialog.state != DialogState.CONFIRMED or dialog.call_id in self._pending:
            return TransferReport(TransferResult.CALLER_LEFT, accepted=False)
        refer = _refer(transport, dialog, local, destination, summary)
        pending = _Pending(refer)
        self._pending[dialog.call_id] = pending
        resend = asyncio.create_task(self._resend(transport, pending, address))
        try:
            transport.send(refer, address)
            async with asyncio.timeout(self._timeout_s):
                await pending.done.wait()
        except TimeoutError:
            pending.finish(TransferResult.TIMED_OUT)
        except (RuntimeError, OSError):  # a TCP caller whose connection has closed
            pending.finish(TransferResult.CALLER_LEFT)
        finally:
            resend.cancel()
            self._pending.pop(dialog.call_id, None)
        assert pending.result is not None
        report = TransferReport(pending.result, pending.accepted, pending.status)
        log.info("sip transfer ended", call=dialog.call_id, result=report.result.value,
                 accepted=report.accepted, status=report.status)
        return report

    def response_received(self, response: SipResponse) -> bool:
        """Whether ``response`` answers a REFER of ours (then it needs nothing more)."""
        cseq = response.cseq
        if cseq is None or cseq.method.upper() != "REFER":
            return False
        pending = self._pending.get(response.call_id or "")
        sent = pending.request.cseq if pending is not None else None
        if pending is None or sent is None or sent.seq != cseq.seq:
            return True  # a late or stray answer to a REFER: ours to drop
        pending.answered.set()
        status = response.status_code
        if 200 <= status < 300:
            pending.accepted = True
        elif status >= 300:
            pending.finish(TransferResult.REFUSED, status)
        return True

    def progress(self, call_id: str, status: int, _reason: str) -> None:
        """A NOTIFY's sipfrag status for the REFER in ``call_id`` (already answered 200)."""
        pending = self._pending.get(call_id)
        if pending is None:
            return
        pending.accepted = True  # a NOTIFY may overtake the 202 it follows
        pending.answered.set()
        if 200 <= status < 300:
            pending.finish(TransferResult.CONNECTED, status)
        elif status >= 300:
            pending.finish(TransferResult.FAILED, status)

    def peer_left(self, call_id: str) -> None:
        pending = self._pending.get(call_id)
        if pending is not None:
            pending.finish(TransferResult.CALLER_LEFT)

    def abandon_all(self) -> None:
        """The server is stopping: no transfer is waited for any longer."""
        for pending in self._pending.values():
            pending.finish(TransferResult.ABANDONED)

    async def _resend(self, transport: SipTransport, pending: _Pending,
                      address: tuple[str, int]) -> None:
        if transport.reliable:
            return
        interval = _T1
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await pending.answered.wait()
                    return
            interval = min(interval * 2, _T2)
            with contextlib.suppress(RuntimeError, OSError):
                transport.send(pending.request, address)


def _refer(transport: SipTransport, dialog: Dialog, local: tuple[str, int], destination: str,
           summary: str) -> SipRequest:
    refer = dialog.create_request("REFER", via_host=local[0], via_port=local[1],
                                  via_transport=transport_name(transport))
    refer.headers.set_single("Contact", f"<sip:{format_addr(*local)}>")
    refer.headers.set_single("Refer-To", f"<{destination}>")
    refer.headers.set_single("Referred-By", f"<{dialog.local_uri}>")
    refer.headers.set_single("User-Agent", USER_AGENT)
    if summary:
        refer.headers.set_single(SUMMARY_HEADER, summary)
    return refer


def watch_transfers(transport: SipTransport, transfers: Transfers) -> None:
    """Answers to our REFERs go to ``transfers`` (call after the user agent has started:
    aiosipua's server side would drop them); every other message goes on as before."""
    deliver = transport.on_message

    def on_message(message: SipRequest | SipResponse, address: tuple[str, int]) -> None:
        if isinstance(message, SipResponse) and transfers.response_received(message):
            return
        if deliver is not None:
            deliver(message, address)

    transport.on_message = on_message

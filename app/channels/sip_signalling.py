"""What the SIP server and the dialer share on top of aiosipua: transports (``sip_transport``),
BYE sent with retransmission until answered, responses to in-dialog requests that keep the
dialog, and the library's own logging kept quiet (its lines carry caller URIs: phone
numbers)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import unquote

from aiosipua import (
    Dialog,
    DialogState,
    SipRequest,
    SipResponse,
    SipUAC,
    parse_uri,
    prettify_header_name,
    stringify_uri,
)
from aiosipua.transport import SipTransport
from aiosipua.utils import format_addr

from app.campaigns.phones import normalize_phone
from app.channels.sip_transport import make_transport as make_transport  # re-exported
from app.channels.sip_transport import refuse, transport_name

USER_AGENT = "Ava"
_T1, _T2, _TIMEOUT = 0.5, 4.0, 32.0  # RFC 3261 timers E and F


def quiet_library_logs() -> None:
    """aiosipua logs each call's URIs at INFO and each bad datagram with a traceback; the
    channel logs what matters itself, without personal data."""
    logging.getLogger("aiosipua").setLevel(logging.CRITICAL)


def request_user(uri: str) -> str | None:
    """The user part of a request URI (``riverside-clinic`` in
    ``sip:riverside-clinic@host``), unescaped; ``None`` when there is none."""
    try:
        user = parse_uri(uri).user
    except ValueError:
        return None
    return unquote(user) if user else None


def caller_phone(from_header: str | None) -> str | None:
    """The caller's number in E.164 from a From header (``"Ann" <sip:+12125550143@host>;tag=1``
    or ``<tel:+12125550143>``), or None when its user part is not a dialable number with its
    country code (``sip:caller@host``, a number without +)."""
    if not from_header:
        return None
    uri = from_header.partition("<")[2].partition(">")[0] or from_header.partition(";")[0]
    uri = uri.strip()
    user = uri[4:].partition(";")[0] if uri.lower().startswith("tel:") else request_user(uri)
    if not user:
        return None
    try:
        return normalize_phone(user.partition(";")[0])
    except ValueError:
        return None


def respond(transport: SipTransport, dialog: Dialog, request: SipRequest, status: int,
            reason: str = "") -> None:
    """A response to an in-dialog request that leaves the dialog as it is (aiosipua's
    ``reject`` ends it: right for an INVITE, wrong for a re-INVITE)."""
    transport.send_reply(dialog.create_response(request, status, reason))


@dataclass
class _Pending:
    request: SipRequest
    address: tuple[str, int]
    answered: asyncio.Event = field(default_factory=asyncio.Event)


class ByeSender:
    """Sends BYE in a dialog and waits for its response (``response_received``) until timer
    F runs out, sending it again over UDP (timer E): ``wait_all`` lets a caller close its
    transport only once the peer has answered (a TCP peer whose connection is closed before
    its 200 goes out sees a reset)."""

    def __init__(self) -> None:
        self._pending: dict[tuple[str, int], _Pending] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def send(self, transport: SipTransport, dialog: Dialog, address: tuple[str, int],
             local: tuple[str, int]) -> None:
        if dialog.state != DialogState.CONFIRMED:
            return
        bye = dialog.create_request("BYE", via_host=local[0], via_port=local[1],
                                    via_transport=transport_name(transport))
        bye.headers.set_single("Contact", f"<sip:{format_addr(*local)}>")
        bye.headers.set_single("User-Agent", USER_AGENT)
        dialog.terminate()
        try:
            transport.send(bye, address)
        except (RuntimeError, OSError):  # a TCP peer that already closed its connection
            return
        key = (dialog.call_id, dialog.local_cseq)
        self._pending[key] = _Pending(bye, address)
        task = asyncio.create_task(self._resend(transport, key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def response_received(self, response: SipResponse) -> bool:
        """Whether ``response`` answers a BYE we sent (then it needs nothing more)."""
        cseq = response.cseq
        if cseq is None or cseq.method.upper() != "BYE":
            return False
        pending = self._pending.pop((response.call_id or "", cseq.seq), None)
        if pending is not None:
            pending.answered.set()
        return True

    async def _resend(self, transport: SipTransport, key: tuple[str, int]) -> None:
        pending = self._pending[key]
        interval, waited = _T1, 0.0
        try:
            while waited < _TIMEOUT:
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(interval):
                        await pending.answered.wait()
                        return
                waited += interval
                interval = min(interval * 2, _T2)
                if not transport.reliable:  # TCP delivers it or fails; it only waits
                    with contextlib.suppress(RuntimeError, OSError):
                        transport.send(pending.request, pending.address)
        finally:
            self._pending.pop(key, None)

    async def wait_all(self, timeout_s: float) -> None:
        """Until every BYE sent is answered or given up on, at most ``timeout_s``."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout_s)
        for task in list(self._tasks):
            task.cancel()


def _ack_failure(transport: SipTransport, response: SipResponse,
                 address: tuple[str, int]) -> None:
    """ACK a final error response to an INVITE (RFC 3261 section 17.1.1.3), which aiosipua
    does not do: without it the peer sends the response again and again."""
    to = response.to_addr
    if to is None or to.uri is None:
        return
    ack = SipRequest(method="ACK", uri=stringify_uri(to.uri))
    for name in ("via", "from", "to", "call-id"):
        value = response.headers.get_first(name)
        if value:
            ack.headers.set_single(prettify_header_name(name), value)
    cseq = response.cseq
    ack.headers.set_single("CSeq", f"{cseq.seq if cseq else 1} ACK")
    ack.headers.set_single("Max-Forwards", "70")
    with contextlib.suppress(RuntimeError, OSError):
        transport.send(ack, address)


def watch_messages(transport: SipTransport, byes: ByeSender,
                   uac: SipUAC | None = None) -> None:
    """What aiosipua gets wrong, put right in front of it (call after it has started):

    - a request whose CSeq names another method gets 400 (RFC 4475 "mismatch01");
    - a response to a BYE we sent stops that BYE's retransmission;
    - an error response to an INVITE ``uac`` sent is ACKed; one for an INVITE sent again
      since (challenged, then sent with credentials) or already failed is dropped, as
      aiosipua would take it for the call's end; one to nothing we sent is ignored.

    Every other message goes on to the user agent as before."""
    deliver = transport.on_message
    failed: deque[str] = deque(maxlen=256)  # calls whose INVITE got its final error

    def on_message(message: SipRequest | SipResponse, address: tuple[str, int]) -> None:
        if isinstance(message, SipRequest):
            cseq = message.cseq
            if cseq is not None and cseq.method.upper() != message.method.upper():
                refuse(transport, message, address, 400, "CSeq Method Mismatch")
                return
        elif isinstance(message, SipResponse):
            if byes.response_received(message):
                return
            cseq = message.cseq
            if cseq is not None and cseq.method.upper() == "INVITE" \
                    and message.status_code >= 300:
                call_id = message.call_id or ""
                call = uac.get_call(call_id) if uac is not None else None
                if call is None and call_id not in failed:
                    return  # not an INVITE of ours: no ACK for strangers
                _ack_failure(transport, message, address)
                current = call.invite.cseq if call is not None else None
                if current is None or cseq.seq < current.seq:
                    return  # a retransmission, for a call already failed or sent again
                failed.append(call_id)
        if deliver is not None:
            deliver(message, address)

    transport.on_message = on_message

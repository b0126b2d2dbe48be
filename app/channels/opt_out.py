"""A caller who asks on an inbound call not to be called again goes on the do-not-call list,
by the number they called from, when that is a phone number campaigns dial: SIP's From
(``sip:+12125550143@...``), Twilio's ``From`` (``+12125550143``). Callers without one (a
``sip:caller@`` URI, Twilio's ``client:`` identities, ``anonymous``) are left alone."""

from __future__ import annotations

import structlog

from app.campaigns.do_not_call import DoNotCallList
from app.campaigns.phones import normalize_phone
from app.conversations import ConversationService
from dialog.state import OPTED_OUT

log = structlog.get_logger(__name__)
SOURCE = "opt_out"


def dialable(text: str | None) -> str | None:
    """``text`` in E.164 when it is a number with its country code, else None."""
    if not text or not text.strip().startswith("+"):
        return None
    try:
        return normalize_phone(text)
    except ValueError:
        return None


async def honour_opt_out(conversations: ConversationService,
                         do_not_call: DoNotCallList | None, conversation_id: str,
                         number: str | None, call: str) -> bool:
    """Once the call is over: ``number`` on the list when the conversation's outcome is
    ``opted_out``. True when it was put there; a failure is logged (the call is over either
    way). ``call`` names the call in the log, never the number."""
    if do_not_call is None or number is None:
        return False
    try:
        if (await conversations.record(conversation_id)).outcome != OPTED_OUT:
            return False
        await do_not_call.add([number], SOURCE)
    except Exception:
        log.exception("opt-out not stored", call=call)
        return False
    log.info("caller opted out: number on the do-not-call list", call=call)
    return True

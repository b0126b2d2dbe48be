"""The date-of-birth check: a caller is verified when a date they said (or keyed) is the
contact's; a second miss ends the call. A request said instead of the date (the date
question's ``request`` label) or with it is kept for after verification; an opt-out or a
request for a person is done at once (``_date_given``)."""

from __future__ import annotations

import re
from datetime import date
from typing import TYPE_CHECKING

from dialog import lookahead
from dialog.dates import birth_dates, remove_birth_dates
from dialog.state import NOT_VERIFIED, WRONG_PERSON
from dialog.turn_reading import GLOBAL_LABELS, main_request, read_turn, understood

if TYPE_CHECKING:
    from dialog.engine import FlowAgent

async def verify(agent: FlowAgent, text: str) -> None:
    dobs = birth_dates(_keypad_date(text), agent.setup.now.date(), asked=True)
    residue = remove_birth_dates(text, between=True, asked=True)
    if dobs:
        await _date_given(agent, dobs, residue)
        return
    if not lookahead.identity_residue(text, str(agent.setup.contact.get("name") or "")):
        # "This is Maria", the end of a "Yes, ... this is Maria" split by a pause: the
        # caller is still confirming who they are; not a question, not a wrong date.
        agent.say_line("verify")
        return
    read, early = await read_turn(agent, main_request(agent, text),
                                  *lookahead.early_requests(agent, residue))
    main = read.main
    if main.label == "request" and understood(agent, main):
        # "I'd just like to cancel it": kept for after verification, and no wrong date
        lookahead.keep_early(agent, early, residue)
        agent.say_line("verify_first")
    elif main.label == "why" and understood(agent, main):
        agent.say_line("verify_why")
        # "How do I know this isn't a scam? Is there a number I can ring?": what the
        # organization's own passages say about it, when they do
        agent.answer_question(text, unknown_unsaid=True)
        agent.say_line("verify")
    elif main.label == "refuse" and understood(agent, main):
        _missed_verification(agent, retry="verify_refused")
    elif main.label == "not_them" and understood(agent, main):
        agent.finish_with(WRONG_PERSON, "wrong_person")
    elif main.label in GLOBAL_LABELS and main.label != "other" and understood(agent, main):
        agent.handle_global(main.label, text)
    else:
        _missed_verification(agent)


async def _date_given(agent: FlowAgent, dobs: list[date], residue: str) -> None:
    """A date, and what else was said with it: an opt-out or a request for a person is
    done at once, as at any step ("March 3rd, 69, and scrub me off your books"); a request
    of the flow's is kept for after verification."""
    early_requests = lookahead.early_requests(agent, residue)
    if not early_requests:  # a few words around the date: nothing else was said
        check_birth_date(agent, dobs)
        return
    read, early = await read_turn(agent, main_request(agent, residue), *early_requests)
    main = read.main
    if main.label in ("stop", "person") and main.confidence >= agent.services.strong:
        agent.handle_global(main.label, residue)
        return
    lookahead.keep_early(agent, early, residue)
    check_birth_date(agent, dobs)


def _keypad_date(text: str) -> str:
    """Eight keyed digits are a date: MMDDYYYY (day-first is tried too)."""
    digits = re.sub(r"\D", "", text)
    if len(digits) == 8 and re.fullmatch(r"[\d\s]+", text):
        return f"{digits[:2]}/{digits[2:4]}/{digits[4:]}"
    return text


def contact_birth_date(agent: FlowAgent) -> date | None:
    try:
        return date.fromisoformat(str(agent.setup.contact.get("date_of_birth"))[:10])
    except ValueError:
        return None


def check_birth_date(agent: FlowAgent, heard: list[date]) -> None:
    expected = contact_birth_date(agent)
    if expected is not None and expected in heard:
        agent.state.verified = True
        agent.say_line("verified")
        agent.goto(agent.flow.start)
    else:
        _missed_verification(agent)


def _missed_verification(agent: FlowAgent, retry: str = "verify_retry") -> None:
    """A wrong date, or no date at all: the question once more, then the end."""
    agent.state.verify_misses += 1
    if agent.state.verify_misses >= 2:
        agent.finish_with(NOT_VERIFIED, "not_verified")
    else:
        agent.say_line(retry)
        if agent.setup.keypad:
            agent.say_line("verify_keypad")

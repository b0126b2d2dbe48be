"""The named actions a flow file can run: the parts of an agent that are code, not data.

Each action reads and changes the dialogue state and may queue lines and back-office
actions (``book_slot``, ``cancel_appointment``) on the turn it runs in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from dialog.dates import speak_date, speak_day_and_time, speak_time
from dialog.events import Action
from dialog.polarity import NEGATION
from dialog.render import local_datetime
from dialog.time_preference import CORRECTION, TimePreference, parse_preference

if TYPE_CHECKING:
    from dialog.engine import FlowAgent

MAX_OFFERED = 3
_ORDINALS = {"first": 0, "1st": 0, "one": 0, "1": 0, "second": 1, "2nd": 1, "two": 1, "2": 1,
             "middle": 1, "third": 2, "3rd": 2, "three": 2, "3": 2}
_BARE_NUMBERS = ("one", "two", "three", "1", "2", "3")  # an ordinal only after "number", "option"
# A slot named only to be turned down: "not the first one", "not Tuesday".
_NOT_THIS = re.compile(r"\bnot\s+(?:the\s+|that\s+)?(?:one\s+(?:at|on)\s+)?[\w:]+(?:\s+one)?\b")
_ASSENT = {"yes", "yeah", "yep", "sure", "ok", "okay", "that", "works", "fine", "good", "great"}


def open_slots(agent: FlowAgent) -> list[datetime]:
    """The clinic's open slots that are still in the future, earliest first."""
    now = agent.setup.now
    slots = [local_datetime(value, agent.setup)
             for value in agent.setup.context.get("open_slots") or []]
    return sorted(s for s in slots if s.tzinfo is None or s > now)


def offer_slots(agent: FlowAgent) -> None:
    """Offer up to three open slots matching the preference, earliest first."""
    preference = agent.state.preference or TimePreference()
    slots = open_slots(agent)
    matching = [s for s in slots if preference.matches(s)]
    if not slots:
        agent.say("I'm sorry, I don't have any other open times right now. "
                  "Your current appointment stays as it is.")
        agent.goto("anything_else")
        return
    if matching:
        offered = matching[:MAX_OFFERED]
        opening = "I have"
    else:
        offered = slots[:MAX_OFFERED]
        opening = ("I'm sorry, I don't have anything open then. The earliest times I have are"
                   if not preference.empty else "The earliest times I have are")
    agent.state.offered = offered
    closing = "Would that work for you?" if len(offered) == 1 else "Which would you prefer?"
    agent.say(f"{opening} {_list_times(offered)}. {closing}")
    agent.goto("choose_slot", announce=False)


def _list_times(slots: list[datetime]) -> str:
    spoken = [speak_day_and_time(s) for s in slots]
    if len(spoken) == 1:
        return spoken[0]
    return ", ".join(spoken[:-1]) + f", or {spoken[-1]}"


def choose_slot(agent: FlowAgent, text: str) -> datetime | None:
    """The slot the caller picked: "the first one", "Thursday at 3:30", "the 2:30 one",
    "quarter past three". A self-correction picks the last choice ("the first one, no,
    make it the second"); a refusal said last ("... no, none of those") picks none."""
    offered = agent.state.offered
    for said in reversed(CORRECTION.split(text.lower())):
        said = _NOT_THIS.sub(" ", said)  # "not the first one, the second"
        chosen = _chosen_in(agent, said)
        if chosen is not None:
            return chosen
        if NEGATION.search(said):
            return None
    if len(offered) == 1 and _agrees(text) and parse_preference(text, agent.setup.now).empty:
        return offered[0]  # "yes, that works"; not "yes, Friday works" for another day
    return None


_THE_LATER = re.compile(r"\bthe later\b|\blater one\b")
_THE_EARLIER = re.compile(r"\bthe earlier\b|\bearlier one\b")


def _chosen_in(agent: FlowAgent, said: str) -> datetime | None:
    """The slot one part of the caller's words (a correction's part) names, if any."""
    offered = agent.state.offered
    words = re.findall(r"[a-z0-9]+", said)
    if offered:
        # "the later one" (not "call me later")
        if "last" in words or "latest" in words or _THE_LATER.search(said):
            return offered[-1]
        if "earliest" in words or _THE_EARLIER.search(said):
            return offered[0]
        for word in words:
            if word in _ORDINALS and _ORDINALS[word] < len(offered) and (
                    word not in _BARE_NUMBERS or "number" in words
                    or "option" in words):
                return offered[_ORDINALS[word]]
    # "the two thirty one": the "one" of "the ... one" is no minute ("2:31")
    for reading in dict.fromkeys((said, re.sub(r"\bones?\b", " ", said))):
        wanted = parse_preference(reading, agent.setup.now)
        if wanted.empty:
            continue
        for pool in (offered, open_slots(agent)):
            matches = [s for s in pool if wanted.matches(s)]
            if len(matches) == 1 or (matches and wanted.at is not None):
                return matches[0]
    return None


def _agrees(text: str) -> bool:
    """Assent to the one slot offered ("yes, that works", "that's fine"), not a refusal of
    it: "No, that doesn't work for me" had booked it, for its "that"."""
    lowered = text.lower()
    if NEGATION.search(lowered):
        return False
    return bool(_ASSENT & set(re.findall(r"[a-z]+", lowered)))


def book_slot(agent: FlowAgent) -> None:
    chosen: datetime = agent.state.slots["appointment_start"]
    agent.fields["new_appointment_day"] = speak_date(chosen)
    agent.fields["new_appointment_time"] = speak_time(chosen)
    agent.act(Action("book_slot", {"start": chosen.isoformat()}))


def cancel_appointment(agent: FlowAgent) -> None:
    start = (agent.setup.context.get("appointment") or {}).get("start")
    agent.act(Action("cancel_appointment", {"start": str(start)}))


def forget_preference(agent: FlowAgent) -> None:
    agent.state.preference = None
    agent.state.offered = []


ACTIONS: dict[str, Callable[[FlowAgent], None]] = {
    "offer_slots": offer_slots,
    "book_slot": book_slot,
    "cancel_appointment": cancel_appointment,
    "forget_preference": forget_preference,
}

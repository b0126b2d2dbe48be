"""Which offered slot the caller picked, in the words (and the digits a recognizer writes)
callers use."""

from datetime import datetime

import pytest

from dialog.actions import choose_slot
from tests.unit.test_engine import agent

OFFERED = [datetime.fromisoformat(s) for s in
           ("2026-11-26T15:30:00-05:00", "2026-11-27T10:00:00-05:00", "2026-11-30T09:00:00-05:00")]


@pytest.mark.parametrize(("said", "index"), [
    ("The first one.", 0), ("Number 1.", 0), ("option two please", 1), ("Number 2.", 1),
    ("the third", 2), ("the last one", 2), ("number three", 2),
    ("The later one.", 2), ("the earlier one please", 0),
])
def test_a_choice_by_position(said: str, index: int) -> None:
    flow_agent, _ = agent({})
    flow_agent.state.offered = list(OFFERED)
    assert choose_slot(flow_agent, said) == OFFERED[index]


@pytest.mark.parametrize("said", ["I have 2 kids", "one moment", "can you call me later"])
def test_a_bare_number_is_not_a_choice(said: str) -> None:
    flow_agent, _ = agent({})
    flow_agent.state.offered = list(OFFERED)
    assert choose_slot(flow_agent, said) is None


@pytest.mark.parametrize(("said", "taken"), [
    ("Yes, that works.", True), ("That's fine.", True), ("okay", True),
    ("No, that doesn't work for me.", False), ("Hmm, that's not good, sorry.", False),
    ("That won't work.", False), ("one moment", False),
])
def test_the_one_slot_offered_is_taken_only_on_assent(said: str, taken: bool) -> None:
    flow_agent, _ = agent({})
    flow_agent.state.offered = OFFERED[:1]
    assert (choose_slot(flow_agent, said) == OFFERED[0]) is taken


# Tuesday 2 PM, Wednesday 10:45 AM, Thursday 3:15 PM, Friday 1:45 PM
TIMES = [datetime.fromisoformat(s) for s in
         ("2026-12-01T14:00:00-05:00", "2026-12-02T10:45:00-05:00",
          "2026-12-03T15:15:00-05:00", "2026-12-04T13:45:00-05:00")]


def _choice(said: str, offered: list[datetime]) -> datetime | None:
    flow_agent, _ = agent({})
    flow_agent.state.offered = list(offered)
    return choose_slot(flow_agent, said)


@pytest.mark.parametrize(("said", "index"), [
    ("The first one. Actually no, make it the second one.", 1),
    ("Tuesday at 2, no wait, the Wednesday one", 1),
    ("second one, sorry, I mean the third", 2),
    ("hmm, the Wednesday one, no, Thursday at a quarter past three", 2),
    ("not the first one, the second one", 1),
    ("No, not Tuesday. Wednesday.", 1),
])
def test_a_self_correction_picks_the_last_choice(said: str, index: int) -> None:
    assert _choice(said, TIMES[:3]) == TIMES[index]


@pytest.mark.parametrize(("said", "index"), [
    ("Thursday at quarter past three", 2), ("the quarter past three one", 2),
    ("Let's do the 1:45.", 3), ("one forty-five please", 3),
    ("the one at 10:45", 1), ("the 10:45 one", 1), ("ten forty-five", 1),
    ("the ten forty five one", 1), ("the two o'clock one", 0), ("the three fifteen one", 2),
])
def test_a_choice_by_its_time(said: str, index: int) -> None:
    assert _choice(said, TIMES) == TIMES[index]


@pytest.mark.parametrize("said", [
    "no, none of those", "I can't do any of those", "neither",
    "the first one. no wait, none of those work",  # the refusal said last
    "the quarter past one",  # a time none of the slots has
])
def test_a_refusal_or_an_unoffered_time_is_no_choice(said: str) -> None:
    assert _choice(said, TIMES[:3]) is None
    assert _choice(said, TIMES[:1]) is None


def test_assent_naming_another_time_is_not_the_one_slot_offered() -> None:
    assert _choice("yes, Saturday works", TIMES[:1]) is None  # no Saturday slot anywhere
    assert _choice("yes, Tuesday at 2 works", TIMES[:1]) == TIMES[0]

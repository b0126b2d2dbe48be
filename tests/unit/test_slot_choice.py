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
])
def test_a_choice_by_position(said: str, index: int) -> None:
    flow_agent, _ = agent({})
    flow_agent.state.offered = list(OFFERED)
    assert choose_slot(flow_agent, said) == OFFERED[index]


@pytest.mark.parametrize("said", ["I have 2 kids", "one moment"])
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

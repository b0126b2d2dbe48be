"""A request for a person that names only the caller's own people is set aside."""

import pytest

from dialog.own_people import consults_own_people, not_for_own_people, someone_else_answering
from dialog.tracker import Prediction, TrackRequest


@pytest.mark.parametrize("said", [
    "I'd really have to talk it over with my daughter first, she handles the finances.",
    "Let me run it by my husband.", "I'll have to ask the wife.",
    "i need to chat with my gf about it", "I should check with my accountant first."])
def test_the_callers_own_people(said: str) -> None:
    assert consults_own_people(said)


@pytest.mark.parametrize("said", [
    "Can I talk to a real person?", "Put me through to your manager, my husband wants to know.",
    "I want to talk to my doctor's receptionist, not a recording.",
    "My wife said I should ask for a human.", "Let me think about it."])
def test_someone_at_the_organization_or_no_one(said: str) -> None:
    assert not consults_own_people(said)


def test_the_next_reading_stands_for_a_person_request_about_own_people() -> None:
    request = TrackRequest("Would you like to renew?", "Let me talk it over with my wife.",
                           ("yes", "no", "unsure", "person"), "")
    read = not_for_own_people(request, Prediction("person", 0.6,
                                                  {"person": 0.6, "unsure": 0.3, "no": 0.1}))
    assert read.label == "unsure" and read.confidence == pytest.approx(0.75)
    unsure = not_for_own_people(request, Prediction("unsure", 0.4,
                                                    {"unsure": 0.4, "person": 0.32, "no": 0.28}))
    assert unsure.label == "unsure" and unsure.confidence == pytest.approx(0.4 / 0.68)
    asked = TrackRequest("Would you like to renew?", "Can I talk to an agent?",
                         ("yes", "no", "unsure", "person"), "")
    sure = Prediction("person", 0.9, {"person": 0.9, "unsure": 0.1})
    assert not_for_own_people(asked, sure) is sure


@pytest.mark.parametrize(("text", "someone_else"), [
    ("this is her daughter amma is at the temple wat is this about", True),
    ("No, I'm his wife, he's at work.", True), ("It's their neighbour, they're away.", True),
    ("Yes, this is her.", False), ("I'm with my daughter right now, go on.", False)])
def test_a_relative_answering_for_the_contact_is_someone_else(text, someone_else) -> None:
    assert someone_else_answering(text) is someone_else

import pytest

from dialog.typed import spelled_out


@pytest.mark.parametrize(("typed", "meant"), [
    ("busy rn can u hit me up tmrw", "busy right now can you hit me up tomorrow"),
    ("just put me thru to a human", "just put me through to a human"),
    ("im not giving my bday", "I'm not giving my birthday"),
    ("pls cancel my appt. thx", "please cancel my appointment. thx"),
])
def test_chat_shorthand_is_spelled_out(typed: str, meant: str) -> None:
    assert spelled_out(typed) == meant


@pytest.mark.parametrize("text", [
    "U.S. Bank called me", "Yes, I'm fine", "y or n?", "it's you, right?", "the 2nd",
])
def test_words_that_are_not_shorthand_stay(text: str) -> None:
    assert spelled_out(text) == text

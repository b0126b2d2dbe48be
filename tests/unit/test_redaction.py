import io
import json
import logging

import pytest
import structlog

from app.logs import configure_logging
from app.redaction import redact_text, redact_value


@pytest.mark.parametrize(("text", "expected"), [
    ("my card is 4111 1111 1111 1111 thanks", "my card is [card] thanks"),
    ("card 4111-1111-1111-1111", "card [card]"),
    ("ssn 123-45-6789", "ssn [national-id]"),
    ("born 1984-03-12", "born [date]"),
    ("born 3/12/1984", "born [date]"),
    ("it's March 12th, 1984", "it's [date]"),
    ("12 March 84 is my birthday", "[date] is my birthday"),
])
def test_personal_data_is_masked(text, expected):
    assert redact_text(text) == expected


def test_numbers_that_are_not_cards_stay():
    assert redact_text("order 1234567890123 shipped") == "order 1234567890123 shipped"
    assert redact_text("call me at 3 pm") == "call me at 3 pm"


def test_an_id_holding_a_card_like_run_of_digits_stays_whole():
    conversation = "4111111111111111bc0e0b42c267741a"  # uuid4 hex; the digits pass Luhn
    assert redact_text(f"conversation={conversation}") == f"conversation={conversation}"
    assert redact_text("card 4111111111111111, thanks") == "card [card], thanks"


def test_personal_keys_are_masked_whatever_their_value():
    assert redact_value("date_of_birth", "1984-03-12") == "[redacted]"
    assert redact_value("meta", {"dob": "x", "agent": "welcome"}) == {"dob": "[redacted]",
                                                                      "agent": "welcome"}


def test_logs_are_redacted_but_timestamps_are_kept():
    configure_logging("info", "json")
    stream = io.StringIO()
    logging.getLogger().handlers[0].setStream(stream)  # type: ignore[attr-defined]
    structlog.get_logger("t").info("caller said", text="my card is 4111 1111 1111 1111")
    logging.getLogger("thirdparty").warning("dob 3/12/1984 seen")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines[0]["text"] == "my card is [card]"
    assert "[date]" not in lines[0]["timestamp"]
    assert lines[1]["event"] == "dob [date] seen"


def test_transcripts_keep_words_redacted_and_never_keys():
    from app.conversations import transcript_text
    from dialog.events import CallerSaid, KeypadDigits, SilenceTimeout

    assert transcript_text(CallerSaid("born 3/12/1984")) == "born [date]"
    assert transcript_text(KeypadDigits("03121984")) == "[keypad: 8 keys]"
    assert transcript_text(SilenceTimeout(8.0)) == "[silence: 8 s]"

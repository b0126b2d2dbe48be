"""Confirming the answer the dialogue hopes for (a contact's date of birth) from the audio:
the date side (which dates are its rivals) and the recognizer's rule (beat every rival,
stay near the best reading), with scores standing in for Whisper's."""

from datetime import date

from dialog.dates import ExpectedBirthDate, birth_dates, near_dates, written_dates
from voice.asr import WhisperRecognizer

BORN = date(1984, 3, 12)
TODAY = date(2026, 11, 23)


def test_every_written_form_of_a_date_reads_back_as_that_date():
    for text in written_dates(BORN):
        assert BORN in birth_dates(text, TODAY), text


def test_the_rivals_are_the_dates_a_close_guess_would_give():
    near = set(near_dates(BORN))
    assert {date(1984, 3, 13), date(1984, 3, 11), date(1984, 3, 14), date(1984, 4, 12),
            date(1983, 3, 12), date(1994, 3, 12), date(1984, 12, 3)} <= near
    assert BORN not in near
    assert date(1984, 2, 29) in near_dates(date(1984, 2, 28))  # a real calendar
    assert all(BORN.year - 11 < other.year < BORN.year + 11 for other in near)


def test_a_date_a_reading_holds_is_a_rival_too():
    expected = ExpectedBirthDate(BORN, TODAY)
    rivals = expected.rivals(0, ["It's June 5th, 1990.", "Thank you."])
    assert "June 5, 1990." in rivals and "March 12, 1984." not in rivals
    assert all(text.count(",") == 1 for text in rivals)  # all in the form asked for


def test_the_expected_date_is_never_shown():
    expected = ExpectedBirthDate(BORN, TODAY)
    assert repr(expected) == "ExpectedBirthDate()"
    assert expected.said_in("it's the twelfth of march nineteen eighty four")
    assert not expected.said_in("March 13, 1984")


class _Scores:
    """Whisper's fit of each candidate transcript, as given."""

    def __init__(self, scores: dict[str, float], default: float = -5.0) -> None:
        self.scores, self.default, self.asked = scores, default, []

    def likelihood(self, text: str) -> float:
        self.asked.append(text)
        return self.scores.get(text, self.default)


def _confirm(scores: _Scores, best_reading: float = -1.0) -> str | None:
    recognizer = object.__new__(WhisperRecognizer)  # the rule needs no model
    return recognizer._confirm(scores, ExpectedBirthDate(BORN, TODAY),  # type: ignore[arg-type]
                               ["Well markay before."], best_reading)


def test_the_expected_date_is_taken_when_it_beats_every_rival():
    scores = _Scores({"March 12th, 1984.": -1.5, "March 12, 1984.": -1.8}, default=-2.0)
    assert _confirm(scores) == "March 12th, 1984."
    # the rivals were scored in the form that fitted best
    assert "March 13th, 1984." in scores.asked and "March 13, 1984." not in scores.asked


def test_a_rival_as_likely_as_the_expected_date_keeps_the_reading():
    scores = _Scores({"March 12, 1984.": -1.5, "March 13, 1984.": -1.55}, default=-3.0)
    assert _confirm(scores) is None


def test_an_expected_date_far_below_the_best_reading_keeps_the_reading():
    scores = _Scores({"March 12, 1984.": -2.5}, default=-4.0)
    assert _confirm(scores, best_reading=-1.0) is None
    assert _confirm(scores, best_reading=-1.6) == "March 12, 1984."

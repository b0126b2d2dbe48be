from datetime import date, datetime, time

import pytest

from dialog.dates import (
    birth_dates,
    parse_preference,
    remove_birth_dates,
    speak_date,
    speak_money,
    speak_time,
)
from dialog.numbers import words_to_digits

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 10, 0)


@pytest.mark.parametrize("said", [
    "March 12th 1984", "12 March 84", "3/12/1984", "1984-03-12",
    "it's march twelfth nineteen eighty four", "the twelfth of March, 1984",
    "uh, Mar. 12, '84", "My date of birth is March 12, 1984.",
])
def test_every_spoken_form_of_a_birth_date(said):
    assert date(1984, 3, 12) in birth_dates(said, TODAY)


@pytest.mark.parametrize("heard", [
    "march twelfth nineteen hundred and eighty four",  # said the long way
    "March 12, 1900, 84.", "March 12, 1900-84", "3-12-100-84",  # a recognizer's "hundred"
    "March 12, 1,984", "The 12th on March 1984", "the 12th and March, 1984",
    "March 12, 1974, 1984.",  # the year heard twice: either may be meant
    "March 12, 1980, 4.",  # "nineteen eighty four", the last word heard on its own
    "3, 12, 1984", "3 12 1984",  # "three twelve nineteen eighty four"
    "3-12-19-84.", "3 12 19 84", "March 12, 19 84",  # the year as two numbers
])
def test_how_a_recognizer_writes_a_spoken_birth_date(heard):
    assert date(1984, 3, 12) in birth_dates(heard, TODAY)
    assert "1984" not in remove_birth_dates(heard)


def test_a_recognizers_number_forms_are_no_date_on_their_own():
    assert birth_dates("March 12, 1900, 5", TODAY) == [date(1900, 3, 12)]
    assert birth_dates("I paid 1,984 dollars on March 12", TODAY) == []
    assert birth_dates("100 90", TODAY) == []
    assert birth_dates("I have 2, 3, 4 kids", TODAY) == []
    assert birth_dates("in 1980, 4 of us moved", TODAY) == []
    assert birth_dates("March 20 84", TODAY) == [date(1984, 3, 20)]
    assert birth_dates("at 10:19 45", TODAY) == []


def test_numeric_dates_are_read_both_ways_and_incomplete_ones_not_at_all():
    assert set(birth_dates("12/03/1984", TODAY)) == {date(1984, 12, 3), date(1984, 3, 12)}
    assert birth_dates("March 12", TODAY) == []
    assert birth_dates("my card ends in 4217", TODAY) == []


def test_two_digit_years_pivot_on_the_current_year():
    assert birth_dates("5 June 05", TODAY) == [date(2005, 6, 5)]
    assert birth_dates("5 June 90", TODAY) == [date(1990, 6, 5)]


def test_the_birth_date_is_removed_before_reading_a_wish():
    rest = remove_birth_dates("It's March 12, 1984, and I need to move it to Friday")
    assert "1984" not in rest and "Friday" in rest


@pytest.mark.parametrize(("said", "field", "value"), [
    ("Thursday afternoon", "weekday", 3),
    ("Thursday afternoon", "hours", (12, 17)),
    ("Tuesday, no, Wednesday", "weekday", 2),
    ("Thursday morning, no, afternoon", "hours", (12, 17)),
    ("tomorrow at 3", "at", time(15, 0)),
    ("tomorrow at 3", "day", date(2026, 11, 24)),
    ("next week", "after", date(2026, 11, 30)),
    ("the 14th at 2:30", "day", date(2026, 12, 14)),
    ("can we do Thursday at three thirty", "at", time(15, 30)),
    ("after 3 pm on Friday", "hours", (15, 24)),
    ("at 10 am", "at", time(10, 0)),
])
def test_preferences(said, field, value):
    assert getattr(parse_preference(said, NOW), field) == value


def test_no_preference_in_unrelated_words():
    assert parse_preference("wait a second, let me check", NOW).empty


def test_number_words():
    assert words_to_digits("the first one") == "the 1st one"
    assert words_to_digits("no one is here") == "no one is here"
    assert words_to_digits("twenty twenty four") == "2024"
    assert words_to_digits("nineteen hundred and ninety") == "1990"
    assert words_to_digits("nineteen hundred seventy nine") == "1979"


def test_how_the_agent_says_things():
    when = datetime(2026, 11, 26, 15, 30)
    assert speak_date(when) == "Thursday, November 26"
    assert speak_time(when) == "3:30 PM"
    assert speak_time(time(9, 0)) == "9:00 AM"
    assert speak_money(1284) == "$1,284" and speak_money(1284.5) == "$1,284.50"

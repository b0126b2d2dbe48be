from datetime import date, datetime, time

import pytest

from dialog.dates import birth_dates, remove_birth_dates, speak_date, speak_money, speak_time
from dialog.numbers import words_to_digits
from dialog.time_preference import parse_preference

TODAY = date(2026, 11, 23)
NOW = datetime(2026, 11, 23, 10, 0)


@pytest.mark.parametrize("said", [
    "March 12th 1984", "12 March 84", "3/12/1984", "1984-03-12",
    "it's march twelfth nineteen eighty four", "the twelfth of March, 1984",
    "uh, Mar. 12, '84", "My date of birth is March 12, 1984.", "It's 1984/03/12.",
    "twelfth of march eighty four", "3/12/84",
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


@pytest.mark.parametrize(("said", "born"), [
    ("Nineteen ninety-three, October fifth.", date(1993, 10, 5)),
    ("Nineteen sixty-nine, March fifteenth.", date(1969, 3, 15)),
    ("nineteen seventy five, July third", date(1975, 7, 3)),
    ("1975, July 3rd", date(1975, 7, 3)),
    ("two thousand and one, May the 2nd", date(2001, 5, 2)),
    ("uh, nineteen eighty-two, um, the twenty-first of June", date(1982, 6, 21)),
    ("2004. February 29th.", date(2004, 2, 29)),
    ("twenty oh six, the 9th of January", date(2006, 1, 9)),
])
def test_a_birth_date_said_year_first(said, born):
    assert birth_dates(said, TODAY) == [born]
    assert str(born.year) not in remove_birth_dates(said)


@pytest.mark.parametrize(("said", "born"), [
    ("My birthday's the 19th of September, and I was born in 1985.", date(1985, 9, 19)),
    ("born on the third of July in nineteen seventy-five", date(1975, 7, 3)),
    ("It's March 3rd... 1982", date(1982, 3, 3)),
    ("It's March 3rd... uh... 82", date(1982, 3, 3)),
    ("August the 8th, of the year 1961", date(1961, 8, 8)),
    ("I was born in 1990, on the 4th of December", date(1990, 12, 4)),
    ("My birthday is May 5th. I was born in nineteen sixty-one.", date(1961, 5, 5)),
])
def test_a_birth_date_whose_year_is_said_apart(said, born):
    assert birth_dates(said, TODAY) == [born]
    rest = remove_birth_dates(said)
    assert str(born.year) not in rest and str(born.day) not in rest


@pytest.mark.parametrize("said", [
    "July third, seventy-five", "the third of July 1975", "7/3/1975", "1975-07-03",
    "July 3, 1975", "3 July 75",
])
def test_the_usual_forms_still_read_the_same(said):
    assert date(1975, 7, 3) in birth_dates(said, TODAY)


def test_numbers_that_are_no_birth_date():
    for said in ("my policy number is ESM-A-260714", "policy ESM-A-26-07-14",
                 "the card is 4539 1488 0343 6467, expiry 08/27", "it came to $1,298",
                 "4539-1488-0343-6467", "I paid $1,985 on July 3rd",
                 "I paid 1,985 dollars on July 3rd", "July 3rd at 2000 hours",
                 "my appointment is July 3rd, I've been coming here since 1985",
                 "July 3rd, no, sorry, 1985",  # the year is not said with the day
                 "1985 and then March, I don't know the day"):
        assert birth_dates(said, TODAY) == [], said


def test_a_date_in_the_future_or_before_1900_is_no_birth_date():
    assert birth_dates("July 3rd, 2030", TODAY) == []
    assert birth_dates("3/12/2084", TODAY) == [] and birth_dates("2084-03-12", TODAY) == []
    assert birth_dates("1850, July 3rd", TODAY) == []
    assert birth_dates("November 24th, 2026", TODAY) == []  # tomorrow
    assert birth_dates("November 22nd, 2026", TODAY) == [date(2026, 11, 22)]


def test_numeric_dates_are_read_both_ways_and_incomplete_ones_not_at_all():
    assert set(birth_dates("12/03/1984", TODAY)) == {date(1984, 12, 3), date(1984, 3, 12)}
    assert set(birth_dates("4-9-86", TODAY)) == {date(1986, 4, 9), date(1986, 9, 4)}
    assert birth_dates("March 12", TODAY) == []
    # a day above 12 with a two-digit year: one reading, not "5/1983"
    assert birth_dates("uh its 5/19/83", TODAY) == [date(1983, 5, 19)]
    assert birth_dates("my card ends in 4217", TODAY) == []


@pytest.mark.parametrize(("said", "born"), [
    ("Twelfth of the ninth, fifty-eight", date(1958, 9, 12)),  # the month by its number
    ("Thirty-first o' January, sixty-eight", date(1968, 1, 31)),
    ("Six eleven ninety-five.", date(1995, 6, 11)),  # three numbers as the whole answer
    ("um, 6 11 95", date(1995, 11, 6)),  # read day-first too
    ("um, twelve... two... seventy-seven.", date(1977, 12, 2)),  # pauses between them
    ("three … twelve … nineteen eighty-four", date(1984, 3, 12)),
    ("oh-three March, nineteen seventy-seven", date(1977, 3, 3)),  # a leading zero said
    ("March oh three, seventy-seven", date(1977, 3, 3)),
    ("Zero, one, one, nine, one, nine, five, nine.", date(1959, 1, 19)),  # as it is keyed
    ("zero one, one nine, nineteen fifty-nine", date(1959, 1, 19)),
    ("feburary 14 1988", date(1988, 2, 14)),  # typed with a slip
    ("Septmber 3rd, 1970", date(1970, 9, 3)),
    ("agust 9 71", date(1971, 8, 9)),
])
def test_a_birth_date_said_the_way_people_do(said, born):
    assert born in birth_dates(said, TODAY)
    assert remove_birth_dates(said).strip(" ,.") in ("", "um")


def test_numbers_said_one_by_one_are_a_date_only_as_eight_digits():
    assert birth_dates("my number is 5 5 5, 1 2 3 4", TODAY) == []
    assert birth_dates("0, 1, 1, 9, 1, 9, 5", TODAY) == []  # seven digits
    assert birth_dates("another 9 1971", TODAY) == []  # no month typed with a slip



def test_the_day_said_again_before_the_year():
    assert birth_dates("Oh, sorry. February ninth. The ninth. Nineteen eighty-two.",
                       TODAY) == [date(1982, 2, 9)]
    assert birth_dates("February ninth. The tenth. Nineteen eighty-two.", TODAY) == []


def test_three_small_numbers_inside_a_longer_turn_are_no_date():
    assert birth_dates("I've got 3 kids, 6 11 and 14", TODAY) == []
    assert birth_dates("room 6 11 95 please and then the 14th", TODAY) == []


@pytest.mark.parametrize(("said", "corrected"), [
    ("Fourth of September, seventy-four... sorry, seventy-three", date(1973, 9, 4)),
    ("March 3 1980, no wait, 1981", date(1981, 3, 3)),
    ("March 3 1980, no, March 4th", date(1980, 3, 4)),
])
def test_a_birth_date_corrected_as_it_is_said(said, corrected):
    assert corrected in birth_dates(said, TODAY)
    assert remove_birth_dates(said, between=True) == ""


def test_a_year_begun_again_after_its_decade():
    said = "Um, November thirtieth, nineteen fifty... fifty-eight."
    assert date(1958, 11, 30) in birth_dates(said, TODAY)
    assert "58" not in remove_birth_dates(said)
    # another decade, or a year not stopped at its decade, is no restart
    assert birth_dates("November 30th, 1950... 62", TODAY) == [date(1950, 11, 30)]
    assert birth_dates("November 30th, 1958... 59", TODAY) == [date(1958, 11, 30)]


@pytest.mark.parametrize("said", ["Hmm, no, March... sixth, nineteen fifty?",
                                  "March, uh, the sixth, 1950", "march … 6th 1950"])
def test_a_pause_after_the_month_is_no_break_in_the_date(said):
    assert birth_dates(said, TODAY) == [date(1950, 3, 6)]
    assert remove_birth_dates(said, between=True).strip(" ,.?") in ("", "Hmm, no")


def test_a_day_and_year_with_a_clause_between_when_asked_for_the_date():
    said = "December twenty-fifth — yep, Christmas baby — nineteen eighty-one."
    assert birth_dates(said, TODAY) == []  # not asked: the year may be anything's
    assert birth_dates(said, TODAY, asked=True) == [date(1981, 12, 25)]
    assert "1981" not in remove_birth_dates(said, asked=True)


def test_a_number_after_a_correction_is_not_always_a_year():
    assert birth_dates("March 3 1980. Sorry, 3 kids", TODAY) == [date(1980, 3, 3)]
    assert birth_dates("June 5 1990. Oh, June 6 works for me", TODAY) == [date(1990, 6, 5)]


def test_two_digit_years_pivot_on_the_current_year():
    assert birth_dates("5 June 05", TODAY) == [date(2005, 6, 5)]
    assert birth_dates("5 June 90", TODAY) == [date(1990, 6, 5)]


def test_a_tens_and_ordinal_day_in_words():
    assert birth_dates("twenty first of june ninety two", TODAY) == [date(1992, 6, 21)]
    assert words_to_digits("wait a second, the twenty first") == "wait a second, the 21st"


def test_the_words_between_two_dates_are_about_the_date():
    said = "August 30th, 1966. No, sorry, that's my brother's. August 13th, 1966, and renew it."
    assert remove_birth_dates(said, between=True) == ", and renew it."
    assert "brother" in remove_birth_dates(said)


def test_the_birth_date_is_removed_before_reading_a_wish():
    rest = remove_birth_dates("It's March 12, 1984, and I need to move it to Friday")
    assert "1984" not in rest and "Friday" in rest


@pytest.mark.parametrize(("said", "field", "value"), [
    ("Thursday afternoon", "weekday", 3),
    ("Thursday afternoon", "hours", (12, 17)),
    ("Tuesday, no, Wednesday", "weekday", 2),
    ("I'm minding the grandkids on Wednesday. Anything on a Friday?", "weekday", 4),
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


@pytest.mark.parametrize(("said", "weekday", "at"), [
    ("Thursday at quarter past three works.", 3, time(15, 15)),
    ("half past two on Monday", 0, time(14, 30)),
    ("quarter to four", None, time(15, 45)),
    ("three thirty", None, time(15, 30)),
    ("ten fifteen in the morning", None, time(10, 15)),
    ("Friday, a quarter after nine", 4, time(9, 15)),
    ("could I come in at twenty past one on Tuesday", 1, time(13, 20)),
    ("ten to eleven", None, time(10, 50)),
    ("quarter of five", None, time(16, 45)),
    ("five minutes past two", None, time(14, 5)),
    ("quarter past 9 pm", None, time(21, 15)),
    ("around one", None, time(13, 0)),
    ("Wednesday at ten, no, half past ten", 2, time(10, 30)),
    ("Half three, please", None, time(15, 30)),  # British: half past three
    ("yeah Friday at half nine'd be good", 4, time(9, 30)),
    ("in half an hour", None, None),
])
def test_clock_times_said_in_words(said, weekday, at):
    preference = parse_preference(said, NOW)
    assert (preference.weekday, preference.at) == (weekday, at)


@pytest.mark.parametrize(("said", "hours"), [
    ("sometime after lunch on Thursday", (13, 24)),
    ("first thing in the morning", (6, 12)),
    ("early afternoon", (12, 15)),
    ("late afternoon if you have it", (15, 17)),
    ("before lunch", (0, 12)),
    ("after noon", (12, 24)),
    ("this afternoon", (12, 17)),
])
def test_parts_of_the_day(said, hours):
    preference = parse_preference(said, NOW)
    assert preference.hours == hours and preference.at is None


def test_words_that_are_no_clock_time():
    # a range, half of something, a number of minutes: no time of day
    assert parse_preference("anytime from ten to four", NOW).at is None
    assert parse_preference("it takes a quarter of an hour", NOW).empty
    assert parse_preference("half of my family", NOW).empty
    assert parse_preference("twenty past three weeks", NOW).at is None
    assert parse_preference("the first one", NOW).at is None  # the 1st: a day, no time


@pytest.mark.parametrize(("said", "weekday", "hours"), [
    ("Could I move it to Friday instead? Wednesday's no good for me.", 4, None),
    ("I can't do Thursday. Do you have anything on a Saturday?", 5, None),
    ("not monday, tuesday afternoon", 1, (12, 17)),
    ("mornings don't work, afternoons please", None, (12, 17)),
    ("I can't make it on Thursday", None, None),
])
def test_a_day_ruled_out_is_no_wish(said, weekday, hours):
    wish = parse_preference(said, NOW)
    assert (wish.weekday, wish.hours) == (weekday, hours)


def test_no_preference_in_unrelated_words():
    assert parse_preference("wait a second, let me check", NOW).empty


def test_number_words():
    assert words_to_digits("the first one") == "the 1st one"
    assert words_to_digits("no one is here") == "no one is here"
    assert words_to_digits("twenty twenty four") == "2024"
    assert words_to_digits("nineteen hundred and ninety") == "1990"
    assert words_to_digits("nineteen hundred seventy nine") == "1979"
    assert words_to_digits("two thousand and one") == "2001"
    assert words_to_digits("two thousand and five hundred") == "2000 and 5 hundred"
    assert words_to_digits("quarter past one") == "quarter past 1"
    assert words_to_digits("the best one") == "the best one"


def test_how_the_agent_says_things():
    when = datetime(2026, 11, 26, 15, 30)
    assert speak_date(when) == "Thursday, November 26"
    assert speak_time(when) == "3:30 PM"
    assert speak_time(time(9, 0)) == "9:00 AM"
    assert speak_money(1284) == "$1,284" and speak_money(1284.5) == "$1,284.50"


def test_a_year_written_with_a_hyphen():
    assert birth_dates("June twenty-seventh, nineteen-eighty.", TODAY) == [date(1980, 6, 27)]
    assert words_to_digits("twenty-seven, twenty-first of May") == "27, 21st of May"


def test_what_a_wish_rules_out_and_what_is_no_wish():
    wish = parse_preference("yes, any afternoon works but not friday", NOW)
    assert wish.hours == (12, 17) and wish.excluded == frozenset({4})
    assert not wish.matches(datetime(2026, 11, 27, 14)) and wish.matches(datetime(2026, 11, 26, 14))
    assert parse_preference("cant do friday", NOW).empty  # a day ruled out alone: no wish
    assert parse_preference("mornings dont work", NOW).empty
    assert parse_preference("I've got a school thing that morning", NOW).empty
    assert parse_preference("The first one is fine.", NOW).empty
    assert parse_preference("whatever's the soonest you have", NOW).soonest
    corrected = parse_preference("Tuesday, no, sorry, Wednesday of next week. Afternoon.", NOW)
    assert corrected.weekday == 2 and corrected.after == date(2026, 11, 30)

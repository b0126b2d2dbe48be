"""Phone answers benchmark: how often Whisper, over an 8 kHz mu-law line, hears a closed
answer well enough for the dialogue to act on it, and what the recognizer's hints add.

Caller speech is espeak-ng (seeded, not the scenarios' lines). Each figure is compared
with a baseline in the same run, on the same audio:
- dates of birth: the shipped recognizer (the date question's hint, the first of eight
  readings that holds a date, and the contact's date confirmed from the audio against the
  dates near it) against the readings alone and against one greedy reading with no hint;
  and how often a date said one day, month or year off, another date, or an answer that is
  not a date was taken for the true one (a caller guessing);
- a reschedule preference (day and time): the step's ``listen`` hint against none.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from app.bridge import ANSWER_CHECKS
from app.caller_voice import on_the_line
from app.config import Settings
from app.model_loading import load_asr
from dialog.catalog import common_lines, load_flows
from dialog.dates import ExpectedBirthDate, birth_dates
from dialog.numbers import ordinal_suffix
from dialog.time_preference import parse_preference

DATES = 96
PREFERENCES = 60
SEED = 7
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("America/New_York"))


def _ordinal(n: int) -> str:
    return f"{n}{ordinal_suffix(n)}"


DATE_FORMS: tuple[Callable[[date], str], ...] = (
    lambda d: f"{d:%B} {_ordinal(d.day)}, {d.year}",
    lambda d: f"{d.day} {d:%B} {d.year % 100:02d}",
    lambda d: f"{d.month}/{d.day}/{d.year}",
    lambda d: f"{d:%B} {d.day} {d.year}",
    lambda d: f"It's {d:%B} {d.day}, {d.year}",
    lambda d: f"um, {d:%B} {_ordinal(d.day)}, {d.year}",
    lambda d: f"the {_ordinal(d.day)} of {d:%B}, {d.year}",
    lambda d: f"{d.year}-{d.month:02d}-{d.day:02d}",
)


def _near_miss(rng: random.Random, born: date) -> date:
    return rng.choice([born + timedelta(days=1), born - timedelta(days=1),
                       born.replace(year=born.year + rng.choice((-1, 1))),
                       born.replace(month=born.month % 12 + 1)])


NOT_DATES = ("I'd rather not say.", "Why do you need that?", "Who is this?",
             "Uh, let me think about it.", "I don't remember.", "Can I speak to a person?",
             "What is this about?", "Call me later.", "My birthday is in the spring.", "No.")

Recognize = Callable[[np.ndarray, date], str]


def _date_counts(recognize: Recognize, said: list[tuple[date, np.ndarray]]) -> dict[str, int]:
    counts = {"right": 0, "wrong": 0, "no_date": 0}
    for born, audio in said:
        found = birth_dates(recognize(audio, born), NOW.date())
        counts["right" if born in found else "wrong" if found else "no_date"] += 1
    return counts


def _dates(asr: Any, report: Callable[[str], None]) -> dict[str, Any]:
    rng = random.Random(SEED)
    hint = common_lines().lines["listen_verify"]
    genuine, near, other = [], [], []
    for index in range(DATES):
        born = date(rng.randint(1940, 2004), rng.randint(1, 12), rng.randint(2, 27))
        form = DATE_FORMS[index % len(DATE_FORMS)]
        genuine.append((born, on_the_line(form(born))))
        near.append((born, on_the_line(form(_near_miss(rng, born)))))
        said = (form(date(rng.randint(1940, 2004), rng.randint(1, 12), rng.randint(1, 28)))
                if index % 2 else NOT_DATES[index // 2 % len(NOT_DATES)])
        other.append((born, on_the_line(said)))
    report(f"{DATES} dates of birth, said right, said near, and other answers")
    checks = ANSWER_CHECKS["date"]
    shipped: Recognize = lambda audio, born: asr.transcribe(  # noqa: E731
        audio, hint, checks, ExpectedBirthDate(born, NOW.date())).text
    readings: Recognize = lambda audio, _: asr.transcribe(audio, hint, checks).text  # noqa: E731
    greedy: Recognize = lambda audio, _: asr.transcribe(audio).text  # noqa: E731
    return {"dates": DATES, "forms": len(DATE_FORMS), "hint": hint,
            "shipped": _date_counts(shipped, genuine),
            "baseline_readings_without_confirmation": _date_counts(readings, genuine),
            "baseline_greedy_no_hint": _date_counts(greedy, genuine),
            "taken_for_true_date": {
                "near_miss": _date_counts(shipped, near)["right"],
                "near_miss_without_confirmation": _date_counts(readings, near)["right"],
                "other_date_or_not_a_date": _date_counts(shipped, other)["right"]}}


def _preferences(asr: Any, report: Callable[[str], None]) -> dict[str, Any]:
    rng = random.Random(SEED)
    days = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "tomorrow", "next week")
    parts = ("morning", "afternoon", "at 3:30", "at 10 am", "after 2 pm", "around noon",
             "in the evening")
    shapes = ("{d} {p}", "{d} {p} would be good", "How about {d} {p}?", "um, {d}, {p}",
              "{P} on {d}, if possible")
    lines = []
    for _ in range(PREFERENCES):
        day, part = rng.choice(days), rng.choice(parts)
        lines.append(rng.choice(shapes).format(d=day, p=part, P=part.capitalize()))
    hint = load_flows()["appointment_confirmation"].steps["ask_preference"].listen
    report(f"{PREFERENCES} reschedule preferences")
    understood = {"with_hint": 0, "baseline_no_hint": 0}
    for line in lines:
        audio, wanted = on_the_line(line), parse_preference(line, NOW)
        understood["with_hint"] += parse_preference(asr.transcribe(audio, hint).text,
                                                    NOW) == wanted
        understood["baseline_no_hint"] += parse_preference(asr.transcribe(audio).text,
                                                           NOW) == wanted
    return {"lines": PREFERENCES, "hint": hint, "read_as_said": understood}


def run(settings: Settings, report: Callable[[str], None]) -> dict[str, Any]:
    asr = load_asr(threads=settings.voice.asr_threads)
    return {"date_of_birth": _dates(asr, report), "preference": _preferences(asr, report)}

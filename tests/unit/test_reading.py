"""A turn of several sentences: each sentence is read, and the turn by what matters most."""

import pytest

from dialog.reading import Reading, part_requests, resolve, sentences
from dialog.tracker import Prediction, TrackRequest

ANSWERS = ("yes", "no", "move")
THRESHOLD, STRONG = 0.5, 0.7


def said(label: str, confidence: float = 0.9, **others: float) -> Prediction:
    return Prediction(label, confidence, {label: confidence, **others})


def read(whole: Prediction, *parts: tuple[str, Prediction]) -> Reading:
    return resolve(whole, list(parts), ANSWERS, THRESHOLD, STRONG)


def test_sentences_are_split_and_a_long_turn_keeps_its_ends():
    assert sentences("Why? I'd rather not.") == ["Why?", "I'd rather not."]
    assert sentences("Um... Yes.") == ["Um...", "Yes."]
    assert sentences("um... yes") == ["um...", "yes"]  # typed in lower case: no telling
    assert sentences("One. Two. Three. Four. Five. Six.") == ["One.", "Two.", "Five.", "Six."]
    assert sentences("...") == []
    assert sentences(f"{'so the thing is ' * 11}. Yes.") == ["Yes."]


def test_an_ellipsis_before_a_lower_case_word_is_a_pause_in_the_sentence():
    assert sentences("Before I decide... does it cover flooding?") == [
        "Before I decide... does it cover flooding?"]
    assert sentences("Yes... no, wait. No, keep the paper.") == ["Yes... no, wait.",
                                                               "No, keep the paper."]


def test_one_sentence_is_read_whole():
    request = TrackRequest("Will you come?", "Yes, I'll be there.", ("yes", "no"))
    assert part_requests(request) == []
    assert read(said("yes")).main.label == "yes"


def test_a_sure_opt_out_or_request_for_a_person_in_a_sentence_wins():
    reading = read(said("why", 0.54, person=0.35), ("Why do you need that?", said("why")),
                   ("I'd rather talk to a person.", said("person", 0.85)))
    assert reading.main.label == "person"
    denied = read(said("yes", 0.41, stop=0.02), ("Maybe.", said("yes", 0.7)),
                  ("If I sign up, how would I turn them off?", said("stop", 0.79)))
    assert denied.main.label == "yes"
    plain = read(said("why", 0.94, stop=0.05), ("why do u need my dob??", said("why")),
                 ("pls unsubscribe me from these msgs", said("stop", 0.99)))
    assert plain.main.label == "stop"  # said plainly, not asked: the whole cannot deny it
    back = read(said("yes", 0.97, later=0.01), ("Okay, I'm back.", said("later", 0.97)),
                ("Yes, paperless please.", said("yes", 0.99)))
    assert back.main.label == "yes"  # only an opt-out said last overrules the whole
    unsure = read(said("no", 0.6), ("No.", said("no", 1.0)), ("Stop it.", said("stop", 0.6)))
    assert unsure.main.label == "no"
    blurred = read(said("stop", 0.78), ("Sorry, wrong number.", said("no", 0.76)),
                   ("There's nobody called Beatriz here.", said("stop", 0.67)))
    assert blurred.main.label == "no"


def test_a_turn_read_surely_as_an_aside_needs_a_sure_answer():
    asking = read(said("question", 0.93), ("Oh good.", said("no", 0.62)),
                  ("What day is my sister's appointment?", said("question", 0.98)))
    assert asking.main.label == "question"
    rude = read(said("rude", 0.97), ("God you're useless.", said("rude")),
                ("yes i got the stupid card", said("yes", 0.8)))
    assert rude.main.label == "yes"


def test_a_monologue_is_read_whole_and_by_its_last_sentences():
    story = "So I was saying to my son. " * 30 + "But no, I won't be renewing. Thanks anyway."
    request = TrackRequest("Would you like to renew?", story, ("yes", "no"))
    assert [part.utterance for part in part_requests(request)] == [
        "But no, I won't be renewing.", "Thanks anyway."]
    one_run = TrackRequest("Will you come?", "so " * 130, ("yes", "no"))
    assert part_requests(one_run) == []


def test_the_whole_reading_stands_when_a_sentence_answers_the_same():
    reading = read(said("no", 0.87), ("She's not in.", said("no", 1.0)),
                   ("What's it regarding?", said("move", 0.96)))
    assert reading.main == said("no", 0.87)


def test_the_last_answer_wins_and_a_question_beside_it_is_kept():
    reading = read(said("rude", 0.91), ("Ugh, what do you clowns want?", said("rude")),
                   ("Is there parking?", said("question", 0.8)), ("Yeah, it's me.", said("yes")))
    assert reading == Reading(said("yes"), "Is there parking?")
    corrected = read(said("no", 0.4), ("No...", said("no", 1.0)), ("wait, yes.", said("yes")))
    assert corrected.main.label == "yes"


@pytest.mark.parametrize(("whole", "expected"), [(said("question", 0.8), "question"),
                                                  (said("move", 0.3), "rude")])
def test_without_an_answer_the_whole_or_the_clearest_aside_speaks(whole, expected):
    reading = read(whole, ("Hmm.", said("other", 0.4)), ("You idiot.", said("rude", 0.6)))
    assert reading.main.label == expected and reading.asked == ""


def test_a_turn_read_surely_as_an_answer_is_overruled_only_by_a_sure_sentence():
    passing = read(said("no", 0.83), ("Yeah, no, I think I'll pass this year.", said("yes", 0.63)),
                   ("Too rich for me.", said("question", 0.53)))
    assert passing.main.label == "no"
    changed = read(said("no", 0.8), ("Hmm, not sure.", said("unsure", 0.6)),
                   ("Oh go on, yes.", said("yes", 0.95)))
    assert changed.main.label == "yes"

import pytest

from dialog.catalog import load_flows
from dialog.lookahead import (
    confirms_identity,
    identity_residue,
    is_question,
    named_answer,
    sentences,
    topic_polarity,
)
from dialog.polarity import (
    bare_answer,
    leading_answer,
    without_correcting_no,
    without_lead_in,
    without_yeah_before_no,
)


@pytest.mark.parametrize(("text", "expected"), [
    ("yes", "yes"), ("Yep.", "yes"), ("um, no", "no"), ("yeah no", "no"),
    ("no, wait, yes", "yes"), ("no thanks", "no"), ("sure, please", "yes"),
    ("No, I need to move it", None), ("okay", None), ("", None),
    ("yes yes yes yes yes yes yes", None), ("yeh pls", "yes"), ("naw ty", "no"),
])
def test_only_a_bare_polar_answer_is_read(text: str, expected: str | None) -> None:
    assert bare_answer(text) == expected


@pytest.mark.parametrize(("text", "rest"), [
    ("Yes, this is Maria.", ""), ("uh, yes, hi", ""), ("This is she.", ""),
    ("Speaking. I can't make it on Tuesday", "I can't make it on Tuesday"),
    ("Maria Lopez speaking, and I want to cancel", "I want to cancel"),
    ("Kia ora, yes, that's me.", ""),
    ("Sorry, the line cut out. Yes, this is Maria.", "Sorry, the line cut out"),
    ("Mm-hm, speaking.", ""), ("uh-huh", ""),
])
def test_identity_confirmation_is_cut_before_the_look_ahead(text: str, rest: str) -> None:
    assert identity_residue(text, "Maria Lopez") == rest


PAPERLESS = load_flows()["welcome_call"].steps["paperless"]
ALERTS = load_flows()["welcome_call"].steps["sms"]


@pytest.mark.parametrize(("clause", "expected"), [
    ("paperless yes", "yes"), ("paperless please", "yes"), ("go paperless", "yes"),
    ("you can put me on paperless", "yes"), ("no paper statements please", "yes"),
    ("I'd rather keep paper", "no"), ("I want paper statements", "no"),
    ("I'd like paperless statements please, I don't want paper", "yes"),
    ("I'd like paperless statements please, I don't want paper mail", "yes"),
    ("paperless, no wait, paper", None), ("I'd love paperless because my inbox is tidy", None),
])
def test_a_clause_naming_its_topic_gives_its_polarity(clause: str, expected: str | None) -> None:
    assert topic_polarity(clause, PAPERLESS) == expected


def test_a_topic_without_another_choice_keeps_its_polarity():
    assert topic_polarity("no texts please", ALERTS) == "no"
    assert topic_polarity("turn on the text alerts too", ALERTS) == "yes"


@pytest.mark.parametrize(("sentence", "asked"), [
    ("Is there parking?", True), ("hmm do i keep my no claims bonus if i renew", True),
    ("does it cover floods", True), ("how do I turn them off", True),
    ("do it", False), ("can you call me tomorrow", False), ("yes, I got it", False),
])
def test_a_question_is_known_by_its_mark_or_its_word_order(sentence: str, asked: bool) -> None:
    assert is_question(sentence) is asked


def test_a_clause_of_confirmation_words_confirms_who_is_speaking() -> None:
    assert confirms_identity("Yeah it's me, what do you lot want now?", "Gary Pearson")
    assert not confirms_identity("He's not here, I'm his wife.", "Rajesh Kumar")


@pytest.mark.parametrize(("text", "answer"), [
    ("Yeah, nah, paper's fine for me.", "no"), ("I'd rather keep getting paper", "no"),
    ("No, I don't want paper", "yes"), ("Yes please", None),  # no other choice named
    ("no i like paper", "no"),  # the "no" answers the question; the liking is of paper
    ("no paper please", "yes"), ("paper is not good for me", "yes"),
    ("no paperless please, i prefer paper", "no"), ("paperless yes", "yes"),  # the choice
    ("I haven't decided about paperless yet", None),  # named, but the words do not settle
    ("Hmm, paperless... not at the moment, no", "no"),  # the last clause that settles
    ("paperless no... actually wait yes do paperless", "yes"),  # corrected
    ("set up paperless while you're at it", "yes"), ("sign me up for paperless", "yes"),
])
def test_naming_a_choice_answers_the_question(text: str, answer: str | None) -> None:
    assert named_answer(text, PAPERLESS) == answer


def test_an_answer_and_a_question_in_one_sentence_are_two() -> None:
    assert sentences("Yeah it came, but how do I activate it?") == [
        "Yeah it came", "but how do I activate it?"]
    assert sentences("No, but I could do Friday.") == ["No, but I could do Friday."]


def test_a_no_that_starts_a_self_correction_is_no_answer() -> None:
    assert without_correcting_no("tuesday no wait wednesday") == "tuesday wait wednesday"
    assert without_correcting_no("No, wait, yes") == "No, wait, yes"  # the answer itself
    assert without_correcting_no("I said no, I mean it") == "I said no, I mean it"
    assert without_correcting_no("Tuesday — no, sorry, Wednesday") == "Tuesday sorry, Wednesday"
    # after fillers only, or with nothing after "sorry", the "no" answers
    assert without_correcting_no("Um, no, sorry, I can't") == "Um, no, sorry, I can't"
    assert without_correcting_no("Well, no, sorry.") == "Well, no, sorry."


@pytest.mark.parametrize(("said", "read"), [
    ("Before I say yes, is there somewhere to park?", "is there somewhere to park?"),
    ("um, before I answer that... why has it gone up?", "why has it gone up?"),
    ("before that wat is my sisters premium", "wat is my sisters premium"),
    ("Before I go, yes.", "Before I go, yes."),  # no answer put off
    ("before that i need to check", "before that i need to check"),
])
def test_words_that_put_the_answer_off_are_not_read(said: str, read: str) -> None:
    assert without_lead_in(said) == read



def test_a_yeah_that_opens_a_no_is_left_out() -> None:
    assert without_yeah_before_no("Hm. Yeah, no, I think I'll pass this year.") == \
        "Hm. no, I think I'll pass this year."
    assert without_yeah_before_no("Um, yeah no, not for me") == "Um, no, not for me"
    assert without_yeah_before_no("Yeah, I got it. No worries.") == \
        "Yeah, I got it. No worries."  # a yes, then another sentence


@pytest.mark.parametrize(("text", "answer"), [
    ("Um, no thanks then.", "no"), ("yeah whatever", "yes"), ("I didn't make any claims", None),
    ("Well... nope.", "no"), ("", None)])
def test_the_answer_a_turn_opens_with(text: str, answer: str | None) -> None:
    assert leading_answer(text) == answer

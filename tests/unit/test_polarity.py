import pytest

from dialog.lookahead import identity_residue, is_question, topic_polarity
from dialog.polarity import bare_answer


@pytest.mark.parametrize(("text", "expected"), [
    ("yes", "yes"), ("Yep.", "yes"), ("um, no", "no"), ("yeah no", "no"),
    ("no, wait, yes", "yes"), ("no thanks", "no"), ("sure, please", "yes"),
    ("No, I need to move it", None), ("okay", None), ("", None),
    ("yes yes yes yes yes yes yes", None),
])
def test_only_a_bare_polar_answer_is_read(text: str, expected: str | None) -> None:
    assert bare_answer(text) == expected


@pytest.mark.parametrize(("text", "rest"), [
    ("Yes, this is Maria.", ""), ("uh, yes, hi", ""), ("This is she.", ""),
    ("Speaking. I can't make it on Tuesday", "I can't make it on Tuesday"),
    ("Maria Lopez speaking, and I want to cancel", "I want to cancel"),
    ("Kia ora, yes, that's me.", ""),
    ("Sorry, the line cut out. Yes, this is Maria.", "Sorry, the line cut out"),
])
def test_identity_confirmation_is_cut_before_the_look_ahead(text: str, rest: str) -> None:
    assert identity_residue(text, "Maria Lopez") == rest


@pytest.mark.parametrize(("clause", "expected"), [
    ("paperless yes", "yes"), ("paperless please", "yes"), ("no paper statements", "no"),
    ("I'd love paperless", None),
])
def test_a_clause_naming_its_topic_gives_its_polarity(clause: str, expected: str | None) -> None:
    assert topic_polarity(clause, ["paper", "statement"]) == expected


@pytest.mark.parametrize(("sentence", "asked"), [
    ("Is there parking?", True), ("hmm do i keep my no claims bonus if i renew", True),
    ("does it cover floods", True), ("how do I turn them off", True),
    ("do it", False), ("can you call me tomorrow", False), ("yes, I got it", False),
])
def test_a_question_is_known_by_its_mark_or_its_word_order(sentence: str, asked: bool) -> None:
    assert is_question(sentence) is asked

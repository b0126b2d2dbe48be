"""The state tracker's training data: reproducible, balanced, and where the speech
recognizer's readings of the examples come in."""

from dialog.catalog import common_lines, load_flows
from dialog.polarity import NEGATION
from dialog.tracker_data import (
    HEARD_EXAMPLES,
    HEARD_SHARE,
    contexts,
    load_heard,
    spoken_examples,
    training_examples,
)
from dialog.tracker_training import data_fingerprint

FLOWS, LINES = load_flows(), common_lines()


def test_the_same_seed_writes_the_same_set():
    first = training_examples(FLOWS, LINES, per_label=4, seed=3)
    again = training_examples(FLOWS, LINES, per_label=4, seed=3)
    other = training_examples(FLOWS, LINES, per_label=4, seed=4)
    assert data_fingerprint(first) == data_fingerprint(again) != data_fingerprint(other)


def test_spoken_examples_are_what_callers_say_on_their_own():
    texts = spoken_examples(FLOWS, LINES)
    assert len(texts) == len(set(texts))
    assert {"this is she", "wrong number", "stop calling me"} <= set(texts)
    # The look-ahead contexts' joined turns ("it's March 12th, 1984 and ...") are not.
    assert not any(" and " in text and text.startswith("it's") for text in texts)


def test_readings_stand_in_for_a_share_of_the_steps_answers_only():
    heard = {text: [f"HEARD {index}" + (" not" if NEGATION.search(text.lower()) else "")]
             for index, text in enumerate(spoken_examples(FLOWS, LINES))}
    examples = training_examples(FLOWS, LINES, per_label=20, seed=5, heard=heard)
    readings = [e for e in examples if e.utterance.startswith("HEARD")]
    global_labels = {"stop", "person", "later", "question", "rude", "other"}
    assert not any(e.label in global_labels for e in readings)
    step_turns = [e for e in examples if e.label not in global_labels]
    assert 0.6 * HEARD_SHARE < len(readings) / len(step_turns) < 1.4 * HEARD_SHARE
    # A reading keeps the label of the example it was heard from.
    labels_of: dict[str, set[str]] = {}
    for context in contexts(FLOWS, LINES):
        for label, texts in context.examples.items():
            for text in texts:
                labels_of.setdefault(heard[text][0] if text in heard else text, set()).add(label)
    assert all(e.label in labels_of[e.utterance] for e in readings)


def test_a_reading_that_turns_the_answer_round_is_never_learnt():
    heard = {"yep, that works": ["Yeah, not works."], "just cancel it": ["Not cancelled"],
             "I won't be able to come": ["I will be able to come."],
             "yes, that works": ["Yes, that works."]}
    examples = training_examples(FLOWS, LINES, per_label=200, seed=2, heard=heard)
    said = {example.utterance for example in examples}
    assert not {"Yeah, not works.", "Not cancelled", "I will be able to come."} & said
    assert "Yes, that works." in said


def test_without_readings_the_set_is_the_text_one():
    plain = training_examples(FLOWS, LINES, per_label=4, seed=3)
    assert data_fingerprint(plain) == data_fingerprint(
        training_examples(FLOWS, LINES, per_label=4, seed=3, heard={}))


def test_the_shipped_readings_cover_every_example():
    heard = load_heard(HEARD_EXAMPLES)
    missing = [text for text in spoken_examples(FLOWS, LINES) if text not in heard]
    assert not missing, f"run `python -m app slm hear`: no readings of {missing[:5]}"
    assert sum(bool(readings) for readings in heard.values()) > 0.95 * len(heard)

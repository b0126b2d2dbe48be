"""Training data for the state tracker, written from the flow files.

Every place a caller answers (the opening, each flow step, the close, and the look-ahead
questions) becomes a *context*: the agent's question, filled with invented details, and
the labels allowed there, each with the flow's examples of how callers say it. Examples are
varied the way speech is (lower case without punctuation as a transcriber may write it,
hesitations, politeness, other names), balanced per label, and reproducible from a seed.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from dialog.dates import remove_birth_dates, speak_date, speak_full_date, speak_money, speak_time
from dialog.flow_spec import Flow, Intent, Lines
from dialog.polarity import NEGATION
from dialog.tracker import early_context, step_context, topic_context, tracker_prompt
from dialog.turn_reading import ANSWER, GLOBAL_LABELS

NAMES = ("Maria Lopez", "Tom Becker", "Aisha Khan", "James O'Connor", "Li Wei", "Sofia Rossi",
         "David Miller", "Priya Patel", "Ahmed Hassan", "Emma Johnson", "Carlos Diaz",
         "Hannah Schmidt", "Kwame Mensah", "Olivia Brown", "Yuki Tanaka")
ORGANIZATIONS = ("Riverside Clinic", "Northwind Bank", "Harbor Insurance", "Maple Dental",
                 "First Valley Credit Union", "Summit Health", "Evergreen Mutual")
PROVIDERS = ("Dr. Patel", "Dr. Nguyen", "Dr. Okafor", "Dr. Smith", "nurse Garcia")
LOCATIONS = ("the Main Street office", "the downtown clinic", "our Westside location",
             "Building B, second floor")
POLICY_TYPES = ("home", "auto", "renters", "life", "travel")
PRODUCTS = ("Everyday Checking account", "savings account", "Premier checking account",
            "student account")
FILLERS = ("uh", "um", "well", "oh", "hmm", "okay", "so", "right", "uh, well", "er")
SUFFIXES = ("thanks", "please", "thank you", "I think", "I guess")
DOB_PHRASES = ("it's March 12th, 1984", "sure, 3/12/1984", "my birthday is 12 March 84",
               "it's the 5th of June, 1990", "uh, July 4th, 1979", "1984-03-12")
CONNECTORS = (" and ", ", and ", ". Also, ", ", but ", " and, uh, ", ". ")
# How the speech recognizer heard each example over a phone line (``app slm hear``).
HEARD_EXAMPLES = Path(__file__).resolve().parent / "models" / "heard_examples.json"
# The share of training turns, among examples with readings, that are a reading instead.
HEARD_SHARE = 0.3
Heard = Mapping[str, Sequence[str]]


@dataclass(frozen=True)
class TrackingExample:
    question: str
    utterance: str
    labels: tuple[str, ...]
    label: str

    @property
    def prompt(self) -> str:
        return tracker_prompt(self.question, self.utterance)


@dataclass(frozen=True)
class Context:
    """Somewhere a caller answers: question templates and the examples of each label."""

    name: str
    questions: tuple[str, ...]
    examples: Mapping[str, Sequence[str]]
    with_globals: bool = True


def _fake_fields(rng: random.Random) -> dict[str, str]:
    start = datetime(2026, 1, 5, 9) + timedelta(days=rng.randrange(700),
                                                 minutes=30 * rng.randrange(18))
    return {
        "name": rng.choice(NAMES), "organization": rng.choice(ORGANIZATIONS),
        "provider": rng.choice(PROVIDERS), "location": rng.choice(LOCATIONS),
        "appointment_day": speak_date(start), "appointment_time": speak_time(start),
        "instructions": "", "policy_type": rng.choice(POLICY_TYPES),
        "policy_number": f"{rng.choice('HAPL')}{rng.choice('PRX')}-{rng.randrange(10**5, 10**6)}",
        "policy_expires": speak_full_date(start.date()),
        "renewal_premium": speak_money(rng.randrange(300, 3000) + rng.choice((0, 0.5))),
        "current_premium": speak_money(rng.randrange(300, 3000)),
        "product": rng.choice(PRODUCTS), "opened_date": speak_full_date(start.date()),
        "card_last4": f"{rng.randrange(10**4):04d}", "utterance": "", "when": "later",
        "new_appointment_day": speak_date(start), "new_appointment_time": speak_time(start),
    }


def _intent_examples(intents: Mapping[str, Intent]) -> dict[str, list[str]]:
    return {label: list(intent.examples) for label, intent in intents.items()}


def contexts(flows: Mapping[str, Flow], lines: Lines) -> list[Context]:
    """Every context a caller answers in, across the shared opening and every flow."""
    found = [
        Context("identify", (lines.lines["identify_question"], lines.lines["greeting"]),
                _intent_examples(lines.identify)),
        Context("verify", (lines.lines["verify"], lines.lines["verify_retry"]),
                _intent_examples(lines.verify)),
        Context("anything_else", (lines.lines["anything_else"],),
                _intent_examples(lines.anything_else)),
    ]
    for flow in flows.values():
        for name, step in flow.steps.items():
            question = step.ask or step.say
            if not question or not (step.intents or step.collect):
                continue
            examples = _intent_examples(step.intents)
            if step.collect:
                examples[ANSWER] = list(step.answers)
            questions = tuple(q for q in (step.say, step.ask) if q)
            found.append(Context(step_context(flow.agent, name), questions, examples))
        found += _look_ahead_contexts(flow, lines)
    return found


def spoken_examples(flows: Mapping[str, Flow], lines: Lines) -> list[str]:
    """Every example a caller might say on its own: each context's and the global intents'.
    The look-ahead contexts (the ones without globals) only join these into longer turns."""
    texts = [text for context in contexts(flows, lines) if context.with_globals
             for examples in context.examples.values() for text in examples]
    texts += [text for examples in _intent_examples(lines.global_intents).values()
              for text in examples]
    return list(dict.fromkeys(texts))


def _faithful(heard: Heard) -> dict[str, list[str]]:
    """The readings that still answer the same way: one that gained or lost a "not"
    ("yep that works" heard as "Yeah, not works.") says the opposite of its example, and
    learning it would teach the tracker that a no can be a yes."""
    return {text: [reading for reading in readings
                   if bool(NEGATION.search(text.lower())) == bool(NEGATION.search(reading.lower()))]
            for text, readings in heard.items()}


def load_heard(path: Path = HEARD_EXAMPLES) -> dict[str, list[str]]:
    """The readings ``app slm hear`` wrote: example -> what the recognizer heard."""
    table = json.loads(path.read_text())
    return {str(text): [str(r) for r in readings] for text, readings in table.items()}


def _look_ahead_contexts(flow: Flow, lines: Lines) -> list[Context]:
    start = flow.steps[flow.start]
    early = {label: [remove_birth_dates(dob + joint + text)
                     for dob in DOB_PHRASES[:3] for joint in CONNECTORS[:2] for text in examples]
             for label, examples in _intent_examples(start.intents).items()}
    # An answer to "May I speak with ...?" ("yes, who's this? oh sure, it's me") says nothing
    # of what the call is about.
    opening = [text for label in ("yes", "who") for text in lines.identify[label].examples]
    early["none"] = list(lines.early["none"].examples) + opening + \
        [remove_birth_dates(dob + ", " + text) for dob in DOB_PHRASES
         for text in ("that's right", "speaking", "yes", "okay")]
    found = [Context(early_context(flow.agent), (start.ask or start.say or "",), early, False)]
    steps_with_topics = [(n, s) for n, s in flow.steps.items() if s.slot and s.topic]
    for name, step in steps_with_topics:
        others = [s for n, s in steps_with_topics if n != name]
        combined: dict[str, list[str]] = {"yes": [], "no": [], "none": []}
        for other in others:
            for first in (e for i in other.intents.values() for e in i.examples[:6]):
                combined["none"].append(first)
                for label in ("yes", "no"):
                    combined[label] += [first + joint + text for joint in CONNECTORS[:3]
                                        for text in step.intents[label].examples]
        found.append(Context(topic_context(flow.agent, name), (step.say or "",), combined, False))
    return found


def vary(text: str, rng: random.Random, heard: Heard | None = None) -> str:
    """How the same words may reach the tracker: as typed, as a transcriber wrote them, or,
    now and then, as the speech recognizer heard them on a phone line (``heard``), errors
    and all, so that "No, this is in blood." still reads as the "No, this is his brother."
    it was."""
    readings = heard.get(text) if heard else None
    if readings and rng.random() < HEARD_SHARE:
        return rng.choice(readings)
    for placeholder in ("Maria", "Tom"):
        if placeholder in text:
            text = text.replace(placeholder, rng.choice(NAMES).split()[0])
    if rng.random() < 0.25:
        text = f"{rng.choice(FILLERS)}, {text[0].lower()}{text[1:]}"
    if rng.random() < 0.15:
        text = f"{text.rstrip('.?!')}, {rng.choice(SUFFIXES)}"
    if rng.random() < 0.45:
        text = re.sub(r"[^\w\s']", "", text).lower()
    return " ".join(text.split())


def training_examples(flows: Mapping[str, Flow], lines: Lines, *, per_label: int = 24,
                      seed: int = 7, heard: Heard | None = None) -> list[TrackingExample]:
    """A balanced, shuffled training set; the same seed (and ``heard``) gives the same set."""
    rng = random.Random(seed)
    heard = _faithful(heard) if heard else None
    globals_ = _intent_examples(lines.global_intents)
    examples: list[TrackingExample] = []
    for context in contexts(flows, lines):
        labels = tuple(context.examples) + (GLOBAL_LABELS if context.with_globals else ())
        pools = dict(context.examples) | (globals_ if context.with_globals else {})
        for label, pool in pools.items():
            is_global = label in globals_
            # Mishearings teach the step's own answers; a global label's (an opt-out, abuse)
            # must not be learnt from words that no longer say it.
            readings = None if is_global else heard
            for _ in range(per_label // 2 if is_global else per_label):
                question = rng.choice(context.questions).format(**_fake_fields(rng))
                examples.append(TrackingExample(question, vary(rng.choice(pool), rng, readings),
                                                labels, label))
    rng.shuffle(examples)
    return examples
